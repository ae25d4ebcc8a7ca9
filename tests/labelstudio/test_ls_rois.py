"""ROIs drawn without code, through the study's OWN server (coder spaces): `rois push` puts one
still per session into a project of the admin's own organisation, a box drawn there (through
the API, as the admin's browser saves it) comes back into rois.csv as fractions, and a coder
can neither list that project nor fetch its stills."""

from __future__ import annotations

import json
import secrets
import stat
from contextlib import closing

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.client import Connection, connect
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.labelstudio.server import read_credentials, start_server, stop_server
from coding_pipeline.labelstudio.spaces import list_spaces
from coding_pipeline.motion.roi_files import read_rois
from coding_pipeline.study import init_study, load_study, write_text_atomic
from coding_pipeline.video.synth import write_sample_video

pytestmark = pytest.mark.labelstudio

TAG = secrets.token_hex(3)
CODER = f"roi-coder-{TAG}@example.org"
FAMILIES = ["FAMROIQ1", "FAMROIQ2"]


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A study with two sessions on its own server, and a signed-up coder's session."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LABEL_STUDIO_API_KEY", raising=False)
        patch.delenv("LABEL_STUDIO_URL", raising=False)
        study = init_study(tmp_path_factory.mktemp("rois") / "roistudyxq", name="roi test")
        lines = ["dyad_id,timepoint,arm,video,start,end"]
        for number, family in enumerate(FAMILIES):
            source = write_sample_video(study.root / f"{family}_TPROIQ.mp4", 4, fps=25,
                                        width=320, height=180, audio=False, seed=number)
            lines.append(f"{family},TPROIQ,ARMROIQ,{source.name},,")
        write_text_atomic(study.sessions_csv, "\n".join(lines) + "\n")
        study = load_study(study.root)
        start_server(study)
        try:
            credentials = read_credentials(study)
            invited = CliRunner().invoke(cli, ["coders", "invite", str(study.root), CODER])
            assert invited.exit_code == 0, invited.output
            coder = coder_session(credentials.url, CODER, "Pw-" + secrets.token_urlsafe(12),
                                  invite=invited.output.strip())
            yield study, credentials, coder
            coder.close()
        finally:
            stop_server(study)


def admin(credentials) -> httpx.Client:
    return httpx.Client(base_url=credentials.url, timeout=60,
                        headers={"Authorization": f"Token {credentials.token}"})


def rectangle(role: str, x: float, y: float, w: float, h: float) -> dict:
    """A box as Label Studio's editor saves it: percent of the image."""
    return {"id": secrets.token_hex(4), "type": "rectanglelabels", "from_name": "roi",
            "to_name": "image", "original_width": 320, "original_height": 180,
            "image_rotation": 0, "value": {"x": x, "y": y, "width": w, "height": h,
                                           "rotation": 0, "rectanglelabels": [role]}}


def test_push_draw_pull_round_trip(own):
    study, credentials, coder = own
    runner = CliRunner()
    # the admin's browser last looked into the coder's space: the push must not land there
    space = list_spaces(connect(study))[CODER]
    with closing(coder_session(credentials.url, credentials.email, credentials.password)) as lab:
        assert lab.get(f"/coding-pipeline/spaces/{space.id}/").status_code == 302
    pushed = runner.invoke(cli, ["rois", "push", str(study.root)])
    assert pushed.exit_code == 0, pushed.output
    assert "2 still(s) written, 2 uploaded, 2 added" in pushed.output
    assert "Warning" not in pushed.output  # the study's own server: admin only, no --yes
    key = pd.read_csv(study.root / "rois" / "frames.csv", dtype=str)
    assert key["dyad_id"].tolist() == FAMILIES
    assert int(key["project_id"].iloc[0]) not in list_spaces(connect(study))[CODER].projects
    assert coder.get("/api/projects/").json()["results"] == []
    for file in key["file"]:
        path = study.root / file
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not any(family in path.name for family in FAMILIES)
    project_id = int(key["project_id"].iloc[0])
    with admin(credentials) as lab:
        tasks = lab.get("/api/tasks/", params={"project": project_id, "fields": "all"}
                        ).json()["tasks"]
        assert len(tasks) == 2
        for task in tasks:
            assert set(task["data"]) == {"image", "frame_id"}
            assert task["data"]["image"].startswith(f"/data/upload/{project_id}/")
            assert not any(word in json.dumps(task["data"]) for word in
                           [*FAMILIES, "TPROIQ", "ARMROIQ", study.root.name])
            frame = lab.get(task["data"]["image"])
            assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"  # JPEG
        first = next(t for t in tasks if t["data"]["frame_id"] == key["frame_id"].iloc[0])
        drawn = lab.post(f"/api/tasks/{first['id']}/annotations/", json={"result": [
            rectangle("caregiver", 10, 20, 30, 50), rectangle("child", 50, 25, 40, 60),
            rectangle("background", 0, 0, 10, 10)]})
        assert drawn.status_code == 201, drawn.text

    pulled = runner.invoke(cli, ["rois", "pull", str(study.root)])
    assert pulled.exit_code == 0, pulled.output
    assert "1 session(s) drawn" in pulled.output and "1 still(s) not drawn" in pulled.output
    boxes = read_rois(study).by_session()[(FAMILIES[0], "TPROIQ")]
    assert boxes["caregiver"].box == pytest.approx((0.1, 0.2, 0.3, 0.5))
    assert boxes["child"].box == pytest.approx((0.5, 0.25, 0.4, 0.6))
    assert boxes["background"].box == pytest.approx((0.0, 0.0, 0.1, 0.1))

    again = runner.invoke(cli, ["rois", "push", str(study.root)])
    assert again.exit_code == 0 and "0 still(s) written, 0 uploaded, 0 added" in again.output


def test_a_coder_cannot_see_the_roi_project_or_its_stills(own):
    study, credentials, coder = own
    if not (study.root / "rois" / "frames.csv").is_file():
        assert CliRunner().invoke(cli, ["rois", "push", str(study.root)]).exit_code == 0
    key = pd.read_csv(study.root / "rois" / "frames.csv", dtype=str)
    project_id = int(key["project_id"].iloc[0])
    with admin(credentials) as lab:
        images = [t["data"]["image"] for t in lab.get(
            "/api/tasks/", params={"project": project_id, "fields": "all"}).json()["tasks"]]
    listed = coder.get("/api/projects/")
    assert listed.status_code == 200
    assert project_id not in [p["id"] for p in listed.json()["results"]]
    refused = {path: coder.get(path).status_code for path in [
        f"/api/projects/{project_id}/", f"/api/tasks/?project={project_id}",
        f"/api/projects/{project_id}/export?exportType=JSON",
        f"/api/projects/{project_id}/file-uploads?all=true", f"/projects/{project_id}/data",
        *images]}
    assert all(status in (403, 404) for status in refused.values()), refused
    anonymous = httpx.get(f"{credentials.url}{images[0]}", timeout=30)
    assert anonymous.status_code in (302, 401, 403, 404)


def test_a_server_without_coder_spaces_needs_yes(own, monkeypatch):
    study, _, _ = own
    monkeypatch.setattr(Connection, "has_spaces", property(lambda connection: False))
    runner = CliRunner()
    refused = runner.invoke(cli, ["rois", "push", str(study.root)])
    assert refused.exit_code == 1
    assert "every member of it" in refused.output and "--yes" in refused.output
    allowed = runner.invoke(cli, ["rois", "push", str(study.root), "--yes"])
    assert allowed.exit_code == 0, allowed.output
    assert "Warning: this server has no coder spaces" in allowed.output
