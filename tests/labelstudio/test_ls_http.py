"""Our one HTTP client for Label Studio (no server needed): how it sends either kind of token,
and how failures read; and the launcher's refusal of an untested Label Studio version."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio import server as ls_server
from coding_pipeline.labelstudio.credentials import credentials_path
from coding_pipeline.labelstudio.http import LabelStudioHTTP, TokenAuth, TokenRefused, jwt_expiry
from coding_pipeline.labelstudio.versions import (
    SUPPORTED_LABEL_STUDIO_VERSIONS,
    installed_label_studio_version,
    unsupported_version,
)
from coding_pipeline.study import init_study


def jwt(expires_in: float, kind: str = "refresh") -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return ".".join([part({"alg": "HS256"}),
                     part({"exp": int(time.time() + expires_in), "token_type": kind}), "sig"])


def recording_client(auth: TokenAuth, refresh_status: int = 200):
    seen: list[tuple[str, str]] = []
    access = jwt(300, "access")

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Authorization", "")))
        if request.url.path == "/api/token/refresh/":
            assert json.loads(request.content)["refresh"]  # the personal token, in the body only
            return httpx.Response(refresh_status, json={"access": access}
                                  if refresh_status == 200 else {"detail": "Token is invalid"})
        return httpx.Response(200, json={"ok": True})

    client = httpx.Client(base_url="http://ls.test", auth=auth,
                          transport=httpx.MockTransport(answer))
    return client, seen, access


def test_a_legacy_token_is_sent_as_token():
    client, seen, _ = recording_client(TokenAuth("abc123"))
    client.get("/api/projects/")
    assert seen == [("/api/projects/", "Token abc123")]
    assert "abc123" not in repr(TokenAuth("abc123"))


def test_a_personal_access_token_is_exchanged_once_for_a_bearer_token():
    personal = jwt(3600)
    assert jwt_expiry(personal) is not None and jwt_expiry("abc123") is None
    client, seen, access = recording_client(TokenAuth(personal))
    client.get("/api/projects/")
    client.get("/api/tasks/")
    assert seen == [("/api/token/refresh/", ""), ("/api/projects/", f"Bearer {access}"),
                    ("/api/tasks/", f"Bearer {access}")]
    assert all(personal not in header for _, header in seen)


def test_a_refused_personal_access_token_stops_the_request():
    client, seen, _ = recording_client(TokenAuth(jwt(3600)), refresh_status=401)
    with pytest.raises(TokenRefused):
        client.get("/api/projects/")
    assert [path for path, _ in seen] == ["/api/token/refresh/"]


def test_an_unreachable_server_is_one_clear_sentence():
    http = LabelStudioHTTP("http://127.0.0.1:9", "secret-token", timeout=5)
    with pytest.raises(PipelineError, match="Cannot reach Label Studio at http://127.0.0.1:9 "
                                            "while listing") as raised:
        http.request("GET", "api/projects/", "listing projects")
    assert "secret-token" not in str(raised.value) and "secret-token" not in repr(http)


def test_the_supported_versions_are_named_in_one_place():
    assert SUPPORTED_LABEL_STUDIO_VERSIONS == ("1.23.2",)
    assert installed_label_studio_version() in SUPPORTED_LABEL_STUDIO_VERSIONS
    assert unsupported_version("1.23.2") is None and unsupported_version(None) is None
    assert "tested only with 1.23.2" in unsupported_version("1.24.0")


def test_the_launcher_refuses_a_label_studio_it_was_not_tested_with(tmp_path, monkeypatch):
    study = init_study(tmp_path / "s")
    monkeypatch.setattr(ls_server, "installed_label_studio_version", lambda: "1.22.0")
    with pytest.raises(PipelineError, match=r"Label Studio 1\.22\.0 is installed.*1\.23\.2"):
        ls_server.start_server(study)
    assert not credentials_path(study).exists() and not ls_server.pid_path(study).exists()
    result = CliRunner().invoke(cli, ["server", "start", str(study.root)])
    assert result.exit_code != 0 and "tested only with 1.23.2" in result.output
