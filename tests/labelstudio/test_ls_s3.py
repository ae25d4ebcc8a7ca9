"""Clips in an S3-compatible bucket: push uploads them and registers the bucket; the server
presigns the task's URL and the clip comes back byte for byte. The bucket is a local S3 server
(moto) on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
from contextlib import closing

import httpx
import pytest
from label_studio_sdk import LabelStudio

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.addresses import free_port
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.labelstudio.push import push_study, read_projects
from coding_pipeline.study import load_study

pytestmark = pytest.mark.labelstudio
moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (test extra)")


@pytest.fixture
def s3_endpoint(monkeypatch):
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_push_uploads_clips_to_the_bucket_and_the_server_presigns_them(
        ls_study, label_studio, s3_endpoint):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lab-clips")
    with ls_study.toml_path.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[label_studio.s3]\nbucket = "lab-clips"\nprefix = "trial/clips"\n'
                     f'endpoint = "{s3_endpoint}"\nregion = "us-east-1"\n')
    study = load_study(ls_study.root)
    coder = f"s3-{secrets.token_hex(3)}@example.org"
    batches.create_batch(study, [coder], reliability_share=0.0, seed=1)

    report = push_study(study)
    assert report.clips_uploaded == 6 and report.tasks_imported == 6
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="lab-clips")["Contents"]}
    assert keys == {f"trial/clips/{p.name}" for p in study.clips_dir.glob("*.mp4")}
    again = push_study(study)
    assert (again.clips_uploaded, again.tasks_imported) == (0, 0)

    admin = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project_id = int(read_projects(study).iloc[0]["project_id"])
    storages = admin.import_storage.s3.list(project=project_id)
    assert [(s.bucket, s.prefix, s.presign) for s in storages] == [
        ("lab-clips", "trial/clips", True)]
    task = json.loads(b"".join(admin.projects.exports.download_sync(
        project_id, export_type="JSON", download_all_tasks=True)))[0]
    assert task["data"]["video"].startswith("s3://lab-clips/trial/clips/")
    clip = study.clips_dir / task["data"]["video"].rsplit("/", 1)[1]
    session = coder_session(label_studio.url, label_studio.email, label_studio.password)
    with closing(session):
        shown = session.get(f"/api/tasks/{task['id']}/").json()["data"]["video"]
        assert shown.startswith(f"/tasks/{task['id']}/resolve/")  # the server presigns it
        served = session.get(shown, follow_redirects=True)
    assert served.status_code == 200 and served.content == clip.read_bytes()
    assert httpx.get(str(served.url)).status_code == 200  # a presigned URL needs no login


def test_s3_settings_and_keys_are_checked_before_anything_is_sent(ls_study, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    text = ls_study.toml_path.read_text(encoding="utf-8")
    ls_study.toml_path.write_text(text + '\n[label_studio.s3]\nprefix = "x"\n', encoding="utf-8")
    batches.create_batch(ls_study, [f"k-{secrets.token_hex(3)}@example.org"],
                         reliability_share=0.0, seed=1)
    with pytest.raises(PipelineError, match=r"\[label_studio.s3\] needs bucket"):
        push_study(load_study(ls_study.root))
    ls_study.toml_path.write_text(text + '\n[label_studio.s3]\nbucket = "b"\n', encoding="utf-8")
    with pytest.raises(PipelineError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        push_study(load_study(ls_study.root))
    assert not (ls_study.root / "projects.csv").exists()
