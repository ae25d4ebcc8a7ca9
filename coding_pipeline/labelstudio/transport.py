"""How clips reach Label Studio: uploaded into its own storage, served as local files, or in S3.

study.toml `[label_studio] clips = "upload" | "local" | "s3"` chooses; without it the choice is
made from what is configured: S3 when `[label_studio.s3]` names a bucket, local files when a
document root is known (`[label_studio] document_root`, LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, or
the study's own server, which serves the study folder), else upload, which works with any Label
Studio 1.23 as it comes (no local-files serving, no S3).

Uploads go through the import API (`POST /api/projects/{id}/import?commit_to_project=false`,
multipart), once per project: each coder's project holds its own copy, served by Label Studio
at /data/upload/... only to members who can open that project. The name uploaded is the opaque
clip id (Label Studio adds 8 random characters in front), so nothing names a family. Before
uploading, the project's uploads are listed and a clip already there with the same size is used
again, so a push interrupted between upload and import finds its uploads on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from label_studio_sdk.core.api_error import ApiError

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection, configured_document_root
from coding_pipeline.labelstudio.s3 import S3Settings, s3_settings
from coding_pipeline.study import Study

CHOICES = ("upload", "local", "s3")
UPLOAD_GROUP_FILES = 50  # Label Studio takes up to 100 files per request by default
UPLOAD_GROUP_BYTES = 100 * 1024 * 1024  # and 250 MB in all
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{8}-(.+)$")


@dataclass(frozen=True)
class ClipTransport:
    """The way clips reach the server, and why it was chosen."""

    kind: str  # "upload", "local" or "s3"
    chosen_by: str  # "study.toml" or what made the automatic choice
    root: Path | None = None  # local: the folder the server serves local files from
    bucket: S3Settings | None = None  # s3: where the clips are

    def describe(self) -> str:
        """One line for push's output: which way, and why."""
        if self.kind == "upload":
            way = "uploaded into Label Studio's own storage"
        elif self.kind == "local":
            way = f"served by Label Studio as local files from {self.root}"
        else:
            way = f"in S3 bucket {self.bucket.bucket if self.bucket else ''}"
        return f"clips: {way} ({self.chosen_by})"


def clips_setting(study: Study) -> str | None:
    """study.toml [label_studio] clips, checked; None when not set."""
    value = study.config.raw.get("label_studio", {}).get("clips")
    if value in (None, ""):
        return None
    if value not in CHOICES:
        raise PipelineError(
            f"{study.toml_path}: [label_studio] clips = {value!r} is not one of "
            f"{', '.join(repr(c) for c in CHOICES)} (or leave it out to choose automatically)."
        )
    return str(value)


def choose_transport(study: Study, url: str) -> ClipTransport:
    """The way the study's clips reach the server at `url` (see the module docstring)."""
    setting = clips_setting(study)
    bucket = s3_settings(study)
    if setting == "s3" or (setting is None and bucket is not None):
        if bucket is None:
            raise PipelineError(
                f"{study.toml_path} says clips = \"s3\" but has no [label_studio.s3] bucket: "
                "add one (bucket, prefix, endpoint, region), or choose \"upload\" or \"local\"."
            )
        return ClipTransport("s3", "study.toml" if setting else "[label_studio.s3] is set",
                             bucket=bucket)
    root = configured_document_root(study, url)
    if setting == "local":
        return ClipTransport("local", "study.toml", root=root or study.root.resolve())
    if setting is None and root is not None:
        return ClipTransport("local", "a local-files folder is configured", root=root)
    return ClipTransport("upload", "study.toml" if setting else
                         "no local-files folder or S3 configured")


def upload_name(clip_id: str, path: Path) -> str:
    """The file name a clip is uploaded under: its opaque clip id and the file's extension."""
    return f"{clip_id}{path.suffix.lower() or '.mp4'}"


def _uploads(connection: Connection, project_id: int) -> dict[str, tuple[int, str, int | None]]:
    """The project's uploads by clip file name: (upload id, stored name, size); newest wins."""
    files = connection.call(
        f"listing the clips uploaded to project {project_id}",
        lambda: connection.client.files.list(id=project_id, all_=True))
    found: dict[str, tuple[int, str, int | None]] = {}
    for upload in sorted(files, key=lambda f: int(f.id or 0)):
        match = _UPLOAD_NAME.match(Path(str(upload.file)).name)
        if match:
            found[match.group(1)] = (int(upload.id or 0), str(upload.file), upload.size)
    return found


def _groups(files: list[tuple[str, Path]]) -> Iterable[list[tuple[str, Path]]]:
    group: list[tuple[str, Path]] = []
    size = 0
    for name, path in files:
        length = path.stat().st_size
        if group and (len(group) >= UPLOAD_GROUP_FILES or size + length > UPLOAD_GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append((name, path))
        size += length
    if group:
        yield group


def _post_files(connection: Connection, project_id: int, group: list[tuple[str, Path]]) -> None:
    http = connection.client._client_wrapper.httpx_client  # the SDK sends JSON tasks only
    what = f"uploading {len(group)} clip(s) into project {project_id}"

    def post() -> None:
        with ExitStack() as stack:
            files = {name: (name, stack.enter_context(path.open("rb")), "video/mp4")
                     for name, path in group}
            response = http.request(
                f"api/projects/{project_id}/import", method="POST",
                params={"commit_to_project": "false"}, files=files,
                request_options={"max_retries": 0})
        if response.status_code >= 400:
            try:
                body: object = response.json()
            except ValueError:
                body = response.text
            raise ApiError(status_code=response.status_code, body=body)

    connection.call(what, post)


def upload_clips(
    connection: Connection, project_id: int, files: dict[str, Path],
) -> tuple[dict[str, str], int]:
    """Make sure the project holds every clip of `files` (clip id -> file): returns each clip's
    URL on the server (/data/upload/...) and how many were uploaded now."""
    wanted = {clip_id: upload_name(clip_id, path) for clip_id, path in files.items()}
    present = _uploads(connection, project_id)
    todo = [
        (wanted[clip_id], path) for clip_id, path in files.items()
        if wanted[clip_id] not in present or present[wanted[clip_id]][2] != path.stat().st_size
    ]
    for group in _groups(todo):
        _post_files(connection, project_id, group)
    if todo:
        present = _uploads(connection, project_id)
    missing = [name for name in wanted.values() if name not in present]
    if missing:
        raise PipelineError(
            f"Label Studio at {connection.url} accepted the upload of {missing[0]} into project "
            f"{project_id} but does not list it: check the server's media folder is writable "
            "on its side, then push again."
        )
    return {clip_id: f"/data/{present[name][1]}" for clip_id, name in wanted.items()}, len(todo)
