"""Server refusals as one sentence (pure), and which way clips reach a server."""

from __future__ import annotations

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import configured_document_root
from coding_pipeline.labelstudio.refusals import refusal_sentence, server_messages
from coding_pipeline.labelstudio.transport import choose_transport as choose_for_root
from coding_pipeline.labelstudio.transport import upload_name
from coding_pipeline.study import init_study, load_study, write_text_atomic

URL = "http://ls.example.org"


def choose_transport(study, url):
    """The transport push chooses for a server at `url` (no connection needed here)."""
    return choose_for_root(study, configured_document_root(study, url))


def test_server_messages_are_read_from_label_studio_error_bodies():
    body = {"id": "abc", "status_code": 400, "version": "1.23.2", "detail": "Validation error",
            "validation_errors": {"non_field_errors": ["First.\n\nMore text."],
                                  "path": ["Bad path"]}}
    assert server_messages(body) == ["First.\n\nMore text.", "path: Bad path"]
    assert server_messages('{"detail": "Not found."}') == ["Not found."]
    assert server_messages("<html><h1>413 Request Entity Too Large</h1></html>") == [
        "413 Request Entity Too Large"]


@pytest.mark.parametrize(("status", "body", "says"), [
    (400, {"validation_errors": {"non_field_errors": [
        "Serving local files ... LOCAL_FILES_SERVING_ENABLED is disabled by default. ..."]}},
     'clips = "upload"'),
    (400, {"detail": 'Absolute local path "/x" does not exist'}, "on its own machine"),
    (400, {"detail": "/a is not under LOCAL_FILES_DOCUMENT_ROOT /b"}, "document_root"),
    (413, "<html>Request Entity Too Large</html>", "client_max_body_size"),
    (403, {"detail": "You do not have permission to perform this action."}, "administrator"),
    (404, {"detail": "Not found."}, "no extra path"),
    (500, {"detail": "Unknown error", "exc_info": "Traceback ..."}, "server.log"),
    (400, {"detail": "Something new went wrong.\n\nDetails here"}, "Something new went wrong."),
])
def test_each_refusal_is_one_sentence_saying_what_to_change(status, body, says):
    sentence = refusal_sentence(URL, "registering storage", status, body)
    assert says in sentence and URL in sentence
    assert "\n" not in sentence and "{" not in sentence and "Traceback" not in sentence


def test_clips_go_by_upload_unless_local_files_or_s3_are_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", raising=False)
    study = init_study(tmp_path / "s")
    chosen = choose_transport(study, URL)
    assert (chosen.kind, chosen.root, chosen.bucket) == ("upload", None, None)
    assert "uploaded into Label Studio's own storage" in chosen.describe()

    monkeypatch.setenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", str(tmp_path))
    assert choose_transport(study, URL).kind == "local"
    text = study.toml_path.read_text()
    write_text_atomic(study.toml_path, text.replace("[label_studio]\n",
                                                    '[label_studio]\nclips = "upload"\n'))
    assert choose_transport(load_study(study.root), URL).chosen_by == "study.toml"
    assert choose_transport(load_study(study.root), URL).kind == "upload"
    write_text_atomic(study.toml_path, text + '\n[label_studio.s3]\nbucket = "b"\n')
    assert choose_transport(load_study(study.root), URL).kind == "s3"
    write_text_atomic(study.toml_path, text.replace("[label_studio]\n",
                                                    '[label_studio]\nclips = "s3"\n'))
    with pytest.raises(PipelineError, match="no \\[label_studio.s3\\] bucket"):
        choose_transport(load_study(study.root), URL)


def test_an_upload_is_named_by_the_clip_id_only(tmp_path):
    assert upload_name("a1b2c3", tmp_path / "FAM001_baseline.MP4") == "a1b2c3.mp4"
