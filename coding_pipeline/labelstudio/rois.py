"""ROIs drawn without code: one still per session in a Label Studio project only the admin sees
(`push_rois`), and the rectangles drawn there read back into rois.csv (`pull_rois`).

Where: the admin's own organisation of the study's own server, which no coder belongs to
(coders sign up into spaces of their own, `spaces.py`), so no coder can list the project or
fetch its frames. Every request names that organisation (the space header), so a coder's space
the admin's browser last looked into is never used. Any other server has one organisation:
every member could open the project, so `push_rois` asks for `allow_shared` (the CLI's --yes)
there.

Frames: written under STUDY/rois/frames/ (`motion.frames`), uploaded into the project (Label
Studio stores them in its media folder and serves them only to members who may open the
project). A task's data are the image's URL and the frame's opaque id; rois/frames.csv is the
key (`motion.roi_files`). Idempotent: frames already pushed are not pushed again.

Rectangles: Label Studio gives x, y, width and height in percent of the image (and a rotation
in degrees about the top-left corner); rois.csv takes fractions, so each is divided by 100, a
rotated box replaced by its upright bounding box, and clipped to the picture. Each frame's most
recently updated annotation counts. Every call to the server goes through `_request` (plain
HTTP with the connection's credentials).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection, connect
from coding_pipeline.labelstudio.http import refusal
from coding_pipeline.labelstudio.spaces import list_spaces
from coding_pipeline.motion.frames import session_still, write_jpeg
from coding_pipeline.motion.roi_files import (
    FRAME_KEY_COLUMNS,
    frames_dir,
    read_frame_key,
    rois_csv,
    rois_dir,
    write_frame_key,
    write_pulled_rois,
)
from coding_pipeline.motion.rois import COLUMNS, REQUIRED_ROLES, ROLES
from coding_pipeline.study import Study, read_sessions, write_json_atomic

PROJECT_RECORD = "labelstudio.json"
LABEL_CONFIG = """<View>
  <Header value="Draw one box around the space each person uses in this session (caregiver,
  child) and, if you can, one on a still part of the background no one passes through."/>
  <Image name="image" value="$image" zoom="true" zoomControl="true"/>
  <RectangleLabels name="roi" toName="image" strokeWidth="3">
    <Label value="caregiver" background="#0d6efd"/>
    <Label value="child" background="#fd7e14"/>
    <Label value="background" background="#6c757d"/>
  </RectangleLabels>
</View>"""
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{8}-(.+)$")
SHARED_SERVER = (
    "{url} is not the study's own server: it has no coder spaces, so every member of it "
    "(coders included) could open the ROI project and see one still of every session.")


@dataclass
class RoiPush:
    """What `push_rois` did."""

    project_id: int
    project_url: str
    frames_written: int = 0
    frames_uploaded: int = 0
    tasks_created: int = 0
    shared: bool = False  # on a server without coder spaces: every member can open it
    skipped: list[str] = field(default_factory=list)  # sessions without a still, and why


@dataclass
class RoiPull:
    """What `pull_rois` did."""

    path: Path
    sessions_written: int
    sessions_kept: int
    not_drawn: int
    warnings: list[str] = field(default_factory=list)


def _request(connection: Connection, method: str, path: str, what: str,
             allow: tuple[int, ...] = (), **kwargs) -> httpx.Response:
    """One HTTP call to the server with the connection's credentials (`path` below its URL);
    an error answer not in `allow` becomes a PipelineError saying what to do."""
    response = connection.http.request(method, path, what, check=False, **kwargs)
    if response.status_code >= 400 and response.status_code not in allow:
        try:
            body: object = response.json()
        except ValueError:
            body = response.text
        raise refusal(connection.url, what, response.status_code, body)
    return response


def _admin_only(connection: Connection) -> Connection:
    """The admin's connection acting in the admin's own organisation: of the organisations the
    admin belongs to, the first that is no coder's space."""
    organisations = _request(connection, "GET", "api/organizations/",
                             "finding the admin's own organisation").json()
    spaces = {space.id for space in list_spaces(connection).values()}
    own = sorted(int(o["id"]) for o in organisations if int(o["id"]) not in spaces)
    if not own:
        raise PipelineError(f"Label Studio at {connection.url} shows no organisation of the "
                            "admin's own (only coders' spaces): nothing was done. Restart it "
                            "with `coding-pipeline server stop STUDY` and `server start STUDY`.")
    return connection.in_space(own[0])


def _connect(study: Study, url: str | None, token: str | None) -> tuple[Connection, bool]:
    """The connection to use, and whether the server is shared (has no coder spaces)."""
    connection = connect(study, url, token)
    if connection.has_spaces:
        return _admin_only(connection), False
    return connection, True


def _project(study: Study, connection: Connection) -> tuple[int, bool]:
    """The ROI project on this server (from rois/labelstudio.json), made when missing; and
    whether it was made now."""
    record_path = rois_dir(study) / PROJECT_RECORD
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("url") == connection.url:
            found = _request(connection, "GET", f"api/projects/{record['project_id']}/",
                             "opening the ROI project", allow=(404,))
            if found.status_code == 200:
                return int(record["project_id"]), False
    made = _request(connection, "POST", "api/projects/", "creating the ROI project", json={
        "title": f"ROIs: {study.config.name}", "label_config": LABEL_CONFIG,
        "description": "Regions of interest for movement synchrony (coding-pipeline rois)."})
    project_id = int(made.json()["id"])
    write_json_atomic(record_path, {"url": connection.url, "project_id": project_id})
    return project_id, True


def _tasks(connection: Connection, project_id: int) -> list[dict]:
    """Every task of the project with its annotations (Label Studio's JSON export)."""
    return _request(connection, "GET", f"api/projects/{project_id}/export",
                    "reading the ROI project",
                    params={"exportType": "JSON", "download_all_tasks": "true"}).json()


def _uploaded(connection: Connection, project_id: int) -> dict[str, str]:
    """Files uploaded to the project, by the name they were uploaded under -> stored path."""
    files = _request(connection, "GET", f"api/projects/{project_id}/file-uploads",
                     "listing the ROI project's frames", params={"all": "true"}).json()
    found = {}
    for upload in sorted(files, key=lambda f: int(f.get("id") or 0)):
        match = _UPLOAD_NAME.match(Path(str(upload.get("file", ""))).name)
        if match:
            found[match.group(1)] = str(upload["file"])
    return found


def _upload(connection: Connection, project_id: int, paths: list[Path]) -> None:
    for start in range(0, len(paths), 50):
        group = paths[start:start + 50]
        handles = [path.open("rb") for path in group]
        try:
            _request(connection, "POST", f"api/projects/{project_id}/import",
                     f"uploading {len(group)} frame(s)", params={"commit_to_project": "false"},
                     files={p.name: (p.name, h, "image/jpeg")
                            for p, h in zip(group, handles, strict=True)})
        finally:
            for handle in handles:
                handle.close()


def _write_stills(study: Study, key: pd.DataFrame, report: RoiPush) -> pd.DataFrame:
    """A still for every session of sessions.csv not in the key yet; returns the key."""
    sessions, problems = read_sessions(study)
    report.skipped += problems
    have = set(zip(key["dyad_id"], key["timepoint"], strict=True))
    rows = []
    for session in sessions:
        if (session.dyad_id, session.timepoint) in have:
            continue
        try:
            still = session_still(study, session)
        except PipelineError as exc:
            report.skipped.append(str(exc))
            continue
        frame_id = secrets.token_hex(8)
        file = frames_dir(study) / f"{frame_id}.jpg"
        write_jpeg(file, still.image)
        width, height = still.size
        rows.append({"frame_id": frame_id, "dyad_id": session.dyad_id,
                     "timepoint": session.timepoint, "file": study.relative(file),
                     "time_s": f"{still.time_s:.3f}", "width": str(width),
                     "height": str(height), "project_id": "", "task_id": ""})
        report.frames_written += 1
    return pd.concat([key, pd.DataFrame(rows, columns=FRAME_KEY_COLUMNS)], ignore_index=True)


def push_rois(study: Study, url: str | None = None, token: str | None = None,
              allow_shared: bool = False) -> RoiPush:
    """Put one still per session into the admin's ROI project (see the module docstring)."""
    connection, shared = _connect(study, url, token)
    if shared and not allow_shared:
        raise PipelineError(SHARED_SERVER.format(url=connection.url) + " Nothing was pushed. "
                            "Push anyway with --yes, or write rois.csv by hand.")
    project_id, made = _project(study, connection)
    report = RoiPush(project_id, f"{connection.url}/projects/{project_id}/data", shared=shared)
    key = _write_stills(study, read_frame_key(study), report)
    write_frame_key(study, key)
    on_server = {str(t.get("data", {}).get("frame_id")): int(t["id"])
                 for t in ([] if made else _tasks(connection, project_id))}
    todo = key[[frame_id not in on_server for frame_id in key["frame_id"]]]
    uploaded = _uploaded(connection, project_id) if len(todo) else {}
    missing = [study.absolute(f) for f in todo["file"] if Path(f).name not in uploaded]
    _upload(connection, project_id, missing)
    report.frames_uploaded = len(missing)
    if missing:
        uploaded = _uploaded(connection, project_id)
    tasks = [{"image": f"/data/{uploaded[Path(f).name]}", "frame_id": frame_id}
             for frame_id, f in zip(todo["frame_id"], todo["file"], strict=True)]
    if tasks:
        made_tasks = _request(connection, "POST", f"api/projects/{project_id}/import",
                              f"adding {len(tasks)} frame(s) to the ROI project",
                              params={"return_task_ids": "true"}, json=tasks).json()
        on_server |= dict(zip(todo["frame_id"], made_tasks["task_ids"], strict=True))
        report.tasks_created = len(tasks)
    key["project_id"] = str(project_id)
    key["task_id"] = [str(on_server.get(frame_id, "")) for frame_id in key["frame_id"]]
    write_frame_key(study, key)
    return report


def rectangle_box(value: dict, width: float | None = None, height: float | None = None
                  ) -> tuple[float, float, float, float]:
    """A Label Studio rectangle (percent of the image; rotation in degrees clockwise about its
    top-left corner) as (x, y, w, h) fractions of the picture: a rotated box by its upright
    bounding box (in pixels when the image's size is known), clipped to the picture.

    >>> rectangle_box({"x": 10, "y": 20, "width": 30, "height": 50, "rotation": 0})
    (0.1, 0.2, 0.3, 0.5)
    >>> [round(v, 3) for v in rectangle_box({"x": 50, "y": 0, "width": 20, "height": 10,
    ...                                      "rotation": 90}, 100, 100)]
    [0.4, 0.0, 0.1, 0.2]
    """
    x, y, w, h = (float(value[k]) / 100 for k in ("x", "y", "width", "height"))
    angle = math.radians(float(value.get("rotation") or 0))
    x0, y0, x1, y1 = x, y, x + w, y + h
    if angle:
        px, py = float(width or 1), float(height or 1)
        corners = [(0.0, 0.0), (w * px, 0.0), (w * px, h * py), (0.0, h * py)]
        xs = [x * px + cx * math.cos(angle) - cy * math.sin(angle) for cx, cy in corners]
        ys = [y * py + cx * math.sin(angle) + cy * math.cos(angle) for cx, cy in corners]
        x0, x1, y0, y1 = min(xs) / px, max(xs) / px, min(ys) / py, max(ys) / py
    x0, y0 = min(max(x0, 0.0), 1.0), min(max(y0, 0.0), 1.0)
    x1, y1 = min(max(x1, x0), 1.0), min(max(y1, y0), 1.0)
    return round(x0, 9), round(y0, 9), round(x1 - x0, 9), round(y1 - y0, 9)


def _latest(annotations: list[dict]) -> dict | None:
    done = [a for a in annotations if not a.get("was_cancelled")]
    return max(done, key=lambda a: (str(a.get("updated_at") or ""), int(a.get("id") or 0)),
               default=None)


def _boxes(annotation: dict, width: float, height: float) -> tuple[dict, str]:
    """Role -> box of one annotation, and what is wrong with it ("" if nothing)."""
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for result in annotation.get("result", []):
        labels = result.get("value", {}).get("rectanglelabels") or []
        role = str(labels[0]).lower() if labels else ""
        if result.get("type") != "rectanglelabels" or role not in ROLES:
            continue
        if role in boxes:
            return boxes, f"two {role} boxes: delete one"
        boxes[role] = rectangle_box(result["value"], result.get("original_width") or width,
                                    result.get("original_height") or height)
    absent = [role for role in REQUIRED_ROLES if role not in boxes]
    return boxes, (f"no {' and no '.join(absent)} box: draw one" if absent else "")


def drawn_rois(tasks: list[dict], key: pd.DataFrame) -> tuple[pd.DataFrame, list[str], int]:
    """rois.csv rows from each task's most recent annotation, the problems of the sessions left
    out, and how many frames have no annotation yet."""
    frames = key.set_index("frame_id")
    rows, warnings, not_drawn = [], [], 0
    for task in tasks:
        frame_id = str(task.get("data", {}).get("frame_id", ""))
        if frame_id not in frames.index:
            warnings.append(f"task {task.get('id')} shows no frame of rois/frames.csv: left out.")
            continue
        annotation = _latest(task.get("annotations", []))
        if annotation is None:
            not_drawn += 1
            continue
        frame = frames.loc[frame_id]
        boxes, problem = _boxes(annotation, float(frame["width"] or 0) or None,
                                float(frame["height"] or 0) or None)
        session = f"dyad_id={frame['dyad_id']} timepoint={frame['timepoint']}"
        if problem:
            warnings.append(f"{session} (task {task.get('id')}): {problem} in Label Studio and "
                            "pull again; its rows were not written.")
            continue
        rows += [{"dyad_id": frame["dyad_id"], "timepoint": frame["timepoint"], "role": role,
                  **dict(zip("xywh", boxes[role], strict=True))}
                 for role in ROLES if role in boxes]
    return pd.DataFrame(rows, columns=list(COLUMNS)), warnings, not_drawn


def pull_rois(study: Study, url: str | None = None, token: str | None = None,
              replace: bool = False) -> RoiPull:
    """Read the rectangles drawn in the ROI project into rois.csv (see `roi_files` for what
    happens to rows already there)."""
    record_path = rois_dir(study) / PROJECT_RECORD
    if not record_path.is_file():
        raise PipelineError(f"No ROI project for {study.root} yet: run `coding-pipeline rois "
                            "push STUDY` first (or write rois.csv by hand).")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    connection, _ = _connect(study, url, token)
    if record.get("url") != connection.url:
        raise PipelineError(f"The ROI project is on {record.get('url')}, not {connection.url}: "
                            f"pull with --url {record.get('url')}.")
    tasks = _tasks(connection, int(record["project_id"]))
    pulled, warnings, not_drawn = drawn_rois(tasks, read_frame_key(study))
    path = rois_csv(study)
    if pulled.empty:
        return RoiPull(path, 0, 0, not_drawn, warnings)
    path, checked, kept = write_pulled_rois(study, pulled, replace)
    drawn = len({(r.dyad_id, r.timepoint) for r in pulled.itertuples(index=False)})
    return RoiPull(path, drawn, kept, not_drawn, warnings + checked.warnings)
