"""Which server and token a study uses (no server needed)."""

from __future__ import annotations

import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import document_root, resolve_token, resolve_url
from coding_pipeline.labelstudio.credentials import Credentials, write_credentials
from coding_pipeline.study import init_study, load_study


@pytest.fixture
def study(tmp_path, monkeypatch):
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY",
                 "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return init_study(tmp_path / "s")


def with_own_server(study, tmp_path):
    write_credentials(study, Credentials(
        url="http://127.0.0.1:8123", email="admin@x.org", password="pw", token="own-token",
        document_root=str(tmp_path)))


def test_url_order_is_option_env_toml_then_own_server(study, tmp_path, monkeypatch):
    with pytest.raises(PipelineError, match="server start"):
        resolve_url(study)
    with_own_server(study, tmp_path)
    assert resolve_url(study) == "http://127.0.0.1:8123"
    text = study.toml_path.read_text().replace('url = ""', 'url = "http://toml.example:1/"', 1)
    study.toml_path.write_text(text)
    study = load_study(study.root)
    assert resolve_url(study) == "http://toml.example:1"
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://env.example:2")
    assert resolve_url(study) == "http://env.example:2"
    assert resolve_url(study, "https://option.example") == "https://option.example"
    with pytest.raises(PipelineError, match="must start with http"):
        resolve_url(study, "ls.example.org")


def test_the_own_token_is_never_sent_to_another_server(study, tmp_path, monkeypatch):
    with_own_server(study, tmp_path)
    assert resolve_token(study, "http://127.0.0.1:8123/") == "own-token"
    with pytest.raises(PipelineError, match="LABEL_STUDIO_API_KEY"):
        resolve_token(study, "https://ls.other.org")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "env-token")
    assert resolve_token(study, "https://ls.other.org") == "env-token"
    assert resolve_token(study, "https://ls.other.org", "given") == "given"


def test_document_root_order(study, tmp_path, monkeypatch):
    assert document_root(study, "http://any:1") == study.root.resolve()
    monkeypatch.setenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", "/srv/media")
    assert str(document_root(study, "http://any:1")) == "/srv/media"
    with_own_server(study, tmp_path)
    assert document_root(study, "http://127.0.0.1:8123") == tmp_path
    text = study.toml_path.read_text().replace('url = ""', 'url = ""\ndocument_root = "/data"', 1)
    study.toml_path.write_text(text)
    assert str(document_root(load_study(study.root), "http://127.0.0.1:8123")) == "/data"
