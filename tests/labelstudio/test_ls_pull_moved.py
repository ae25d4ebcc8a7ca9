"""Pull never skips a project silently (the study's own server, with coder spaces).

A project that someone moved into another coder's space or renamed, or whose coder's space was
renamed (so the server no longer lists it where push made it), is still pulled, by its id, and
reported as moved; only a project the server says is deleted is reported as gone, and the
ratings pulled from it before are kept.
"""

from __future__ import annotations

import secrets

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from test_ls_coder_spaces import rate_all, write_clips

from coding_pipeline import batches
from coding_pipeline.cli import cli
from coding_pipeline.labelstudio.client import connect
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.labelstudio.http import SPACE_HEADER
from coding_pipeline.labelstudio.projects import read_projects
from coding_pipeline.labelstudio.pull import GONE_KIND, MOVED_KIND, pull_study
from coding_pipeline.labelstudio.push import push_study
from coding_pipeline.labelstudio.server import read_credentials, start_server, stop_server
from coding_pipeline.labelstudio.spaces import ensure_space, list_spaces
from coding_pipeline.labelstudio.tamper import FOREIGN_KIND

pytestmark = pytest.mark.labelstudio

TAG = secrets.token_hex(3)
RENAMED, MOVED, DELETED = (f"{who}-{TAG}@example.org" for who in ("renamed", "moved", "deleted"))
CODERS = [RENAMED, MOVED, DELETED]


@pytest.fixture(scope="module")
def rated(tmp_path_factory, clip_bank):
    """The study on its own server: three coders, each with a project they rated."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LABEL_STUDIO_API_KEY", raising=False)
        patch.delenv("LABEL_STUDIO_URL", raising=False)
        study = write_clips(tmp_path_factory.mktemp("moved") / "study", clip_bank, n_clips=6)
        start_server(study)
        sessions = {}
        try:
            credentials = read_credentials(study)
            for coder in CODERS:
                invited = CliRunner().invoke(cli, ["coders", "invite", str(study.root), coder])
                assert invited.exit_code == 0, invited.output
                sessions[coder] = coder_session(
                    credentials.url, coder, "Pw-" + secrets.token_urlsafe(12),
                    invite=invited.output.strip())
            batches.create_batch(study, CODERS, reliability_share=0.0, seed=7)
            push_study(study)
            for coder, session in sessions.items():
                rate_all(study, session, coder)
            yield study, credentials
        finally:
            for session in sessions.values():
                session.close()
            stop_server(study)


def as_admin(credentials, space: int) -> httpx.Client:
    """The admin's own requests, acting in one coder's space."""
    return httpx.Client(base_url=credentials.url, timeout=60, headers={
        "Authorization": f"Token {credentials.token}", SPACE_HEADER: str(space)})


def test_moved_renamed_and_deleted_projects_are_pulled_or_reported_never_skipped(rated):
    study, credentials = rated
    first = pull_study(study)
    assert not [p for p in first.problems if p.kind in (MOVED_KIND, GONE_KIND, FOREIGN_KIND)]
    before = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    assert set(before["coder"]) == set(CODERS)
    gone = before.loc[before["coder"] == DELETED, "annotation_id"].nunique()

    projects = read_projects(study).set_index("coder")
    spaces = list_spaces(connect(study))
    with as_admin(credentials, spaces[RENAMED].id) as admin:  # the coder's space renamed
        renamed = admin.patch(f"/api/organizations/{spaces[RENAMED].id}",
                              json={"title": "Renamed by someone"})
        assert renamed.status_code == 200, renamed.text
    moved_id = int(projects.loc[MOVED, "project_id"])
    ensure_space(connect(study), DELETED, [moved_id])  # moved into another coder's space
    with as_admin(credentials, spaces[DELETED].id) as admin:
        retitled = admin.patch(f"/api/projects/{moved_id}/", json={"title": "Another title"})
        assert retitled.status_code == 200, retitled.text
        deleted = admin.delete(f"/api/projects/{projects.loc[DELETED, 'project_id']}/")
        assert deleted.status_code == 204, deleted.text
    assert RENAMED not in list_spaces(connect(study))  # its projects are not listed any more

    pulled = CliRunner().invoke(cli, ["pull", str(study.root)])
    assert pulled.exit_code == 0, pulled.output
    problems = sorted(study.exports_dir.glob("*_problems.txt"))[-1].read_text()
    renamed_id = projects.loc[RENAMED, "project_id"]
    assert (f"project {renamed_id} ('{projects.loc[RENAMED, 'title']}') is no longer listed in "
            f"coder space {spaces[RENAMED].id}") in problems
    assert "the server still has it" in problems and "found by its id" in problems
    assert (f"project {moved_id} ('{projects.loc[MOVED, 'title']}') is now in coder space "
            f"{spaces[DELETED].id}") in problems
    assert "is now titled 'Another title'" in problems and "someone renamed it" in problems
    assert (f"project {projects.loc[DELETED, 'project_id']} "
            f"('{projects.loc[DELETED, 'title']}') is not on {credentials.url} any more (looked "
            "up by its id, the server says it does not exist)") in problems
    assert "3 x project moved or renamed" in pulled.output  # moved, retitled, space renamed
    assert "1 x project not on the server any more" in pulled.output
    assert "CHANGED BY SOMEONE ELSE" not in pulled.output  # every coder is still known

    after = pd.read_csv(study.ratings_csv, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(after.sort_values(list(after.columns)).reset_index(drop=True),
                                  before.sort_values(list(before.columns)).reset_index(drop=True))
    assert f"0 new, 0 updated, {gone} removed on the server" in pulled.output  # and kept
