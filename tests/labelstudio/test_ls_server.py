"""The study's private local server: loopback only, secrets kept, start/stop, file serving."""

from __future__ import annotations

import socket
import stat
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from coding_pipeline.cli import cli
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio import server as ls_server
from coding_pipeline.labelstudio.addresses import host_warning
from coding_pipeline.labelstudio.coders import coder_session
from coding_pipeline.study import init_study

pytestmark = pytest.mark.labelstudio


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in list(handle)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:
                    found.add(address)
    return found


def test_the_server_listens_on_loopback_only_and_keeps_its_secrets(label_studio):
    port = int(label_studio.url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::
    host = label_studio.host
    credentials = ls_server.credentials_path(host)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(host.server_dir.stat().st_mode) == 0o700
    log = ls_server.log_path(host).read_text(errors="replace")
    assert "Starting development server" in log
    assert label_studio.token not in log and label_studio.password not in log
    pid = int(ls_server.pid_path(host).read_text())
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    environ = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    assert environ["SENTRY_DSN"] == "" and environ["FRONTEND_SENTRY_DSN"] == ""
    assert environ["LATEST_VERSION_CHECK"] == "false" and environ["COLLECT_ANALYTICS"] == "false"
    version = httpx.get(f"{label_studio.url}/api/version", timeout=30).json()
    assert version["edition"] == "Community" and version["label-studio-os-package"]["version"] \
        == "1.23.2"


def test_start_is_idempotent_and_status_says_where(label_studio):
    assert ls_server.start_server(label_studio.host) == label_studio.url
    status = ls_server.server_status(label_studio.host)
    assert status.startswith(f"Running at {label_studio.url}")
    with pytest.raises(PipelineError, match="is in use"):
        other = init_study(label_studio.document_root / "port-clash")
        ls_server.start_server(other, port=int(label_studio.url.rsplit(":", 1)[1]))


def test_clips_are_served_to_logged_in_members_only_with_range_requests(ls_study, label_studio):
    clip = next(ls_study.clips_dir.glob("*.mp4"))
    relative = clip.resolve().relative_to(label_studio.document_root).as_posix()
    url = f"{label_studio.url}/data/local-files/?d={relative}"
    from label_studio_sdk import LabelStudio

    admin = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project = admin.projects.create(title="serving check", label_config=(
        '<View><Video name="video" value="$video"/></View>'))
    admin.import_storage.local.create(project=project.id, path=str(ls_study.clips_dir.resolve()))
    anonymous = httpx.get(url, timeout=30)
    assert anonymous.status_code != 200 or anonymous.content != clip.read_bytes()
    session = coder_session(label_studio.url, label_studio.email, label_studio.password)
    with closing(session):
        whole = session.get(url)
        assert whole.status_code == 200 and whole.content == clip.read_bytes()
        part = session.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == clip.read_bytes()[100:200]


def test_cli_start_status_credentials_stop_of_a_study_server(tmp_path):
    study = init_study(tmp_path / "own")
    runner = CliRunner()
    started = runner.invoke(cli, ["server", "start", str(study.root)])
    try:
        assert started.exit_code == 0, started.output
        credentials = ls_server.read_credentials(study)
        assert credentials.host == "127.0.0.1" and credentials.url.startswith("http://127.0.0.1:")
        assert listening_addresses(ls_server.url_port(credentials.url)) == {"0100007F"}
        assert f"running at {credentials.url}" in started.output
        assert credentials.token not in started.output
        assert credentials.password not in started.output
        status = runner.invoke(cli, ["server", "status", str(study.root)])
        assert status.output.startswith(f"Running at {credentials.url}")
        shown = runner.invoke(cli, ["server", "credentials", str(study.root)])
        assert shown.output.splitlines() == [
            f"url: {credentials.url}", f"login: {credentials.email}",
            f"password: {credentials.password}", f"api token: {credentials.token}",
        ]
        token_ok = httpx.get(f"{credentials.url}/api/projects",
                             headers={"Authorization": f"Token {credentials.token}"}, timeout=30)
        assert token_ok.status_code == 200
    finally:
        stopped = runner.invoke(cli, ["server", "stop", str(study.root)])
    assert stopped.output.strip() == "Label Studio stopped."
    port = int(credentials.url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert runner.invoke(cli, ["server", "status", str(study.root)]).output.startswith("Stopped")
    again = runner.invoke(cli, ["server", "stop", str(study.root)])
    assert again.output.strip() == "Label Studio was not running."
    log = ls_server.log_path(study).read_text(errors="replace")
    assert credentials.token not in log and credentials.password not in log


def test_credentials_before_any_start_say_what_to_do(tmp_path):
    study = init_study(tmp_path / "fresh")
    result = CliRunner().invoke(cli, ["server", "credentials", str(study.root)])
    assert result.exit_code == 1
    assert "server start" in result.output and "Traceback" not in result.output


def can_bind(address: str) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
        return True


@pytest.mark.skipif(not can_bind("127.0.0.2"), reason="no 127.0.0.2 loopback alias here")
def test_host_is_kept_and_a_taken_port_is_said_or_refused(tmp_path):
    study = init_study(tmp_path / "aliased")
    root = str(study.root)
    runner = CliRunner()
    try:
        started = runner.invoke(cli, ["server", "start", root, "--host", "127.0.0.2"])
        assert started.exit_code == 0, started.output
        assert "WARNING" not in started.output  # 127.0.0.2 is loopback too
        credentials = ls_server.read_credentials(study)
        port = ls_server.url_port(credentials.url)
        assert credentials.host == "127.0.0.2" and credentials.url.startswith("http://127.0.0.2:")
        assert listening_addresses(port) == {"0200007F"}
        runner.invoke(cli, ["server", "stop", root])
        with socket.socket() as squatter:  # another program takes the port meanwhile
            squatter.bind(("127.0.0.2", port))
            squatter.listen()
            busy = runner.invoke(cli, ["server", "start", root, "--port", str(port)])
            assert busy.exit_code == 1 and "Traceback" not in busy.output
            assert f"Port {port} on 127.0.0.2 is in use by another program" in busy.output
            moved = runner.invoke(cli, ["server", "start", root])
            assert moved.exit_code == 0, moved.output
            said = [line for line in moved.output.splitlines() if f"Port {port} is in use" in line]
            assert len(said) == 1 and "no longer work" in said[0]
            now = ls_server.read_credentials(study)
            assert now.host == "127.0.0.2" and ls_server.url_port(now.url) != port
            assert f"moves to port {ls_server.url_port(now.url)}" in said[0]
            assert listening_addresses(ls_server.url_port(now.url)) == {"0200007F"}
        changing = runner.invoke(cli, ["server", "start", root, "--host", "127.0.0.1"])
        assert changing.exit_code == 1 and "already running" in changing.output
    finally:
        runner.invoke(cli, ["server", "stop", root])


def test_a_non_loopback_address_is_warned_about_and_a_foreign_one_refused(tmp_path):
    assert host_warning("127.0.0.1") is None
    assert host_warning("127.0.0.2") is None and host_warning("::1") is None
    warning = host_warning("192.168.1.20")
    assert "not a loopback address" in warning and "families' videos" in warning
    assert "HTTPS" in warning and "firewall" in warning
    study = init_study(tmp_path / "foreign")
    result = CliRunner().invoke(cli, ["server", "start", str(study.root), "--host", "192.0.2.77"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "192.0.2.77 is not an address of this machine" in result.output
    assert not ls_server.credentials_path(study).exists()


def test_waiting_for_a_start_follows_the_launched_process_not_its_command_line(
        tmp_path, monkeypatch):
    """Right after launch, a process in the middle of exec shows an empty command line: the
    wait must follow the process it launched (alive, still named by the pid file), and stop
    with a clear error once that process has ended."""
    import subprocess
    import sys

    study = init_study(tmp_path / "study")
    study.server_dir.mkdir(parents=True, exist_ok=True)
    credentials = ls_server.Credentials(url="http://127.0.0.1:9", email="", password="",
                                        token="")
    answers = iter([False, False, True])
    monkeypatch.setattr(ls_server, "healthy", lambda _url: next(answers))
    starting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:  # its command line names no Label Studio, as an empty one does not
        ls_server.pid_path(study).write_text(f"{starting.pid}\n")
        ls_server._wait_until_healthy(study, credentials, starting.pid, lambda _line: None)
    finally:
        starting.kill()
        starting.wait()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    ls_server.pid_path(study).write_text(f"{ended.pid}\n")
    monkeypatch.setattr(ls_server, "healthy", lambda _url: False)
    with pytest.raises(PipelineError, match="Label Studio stopped while starting"):
        ls_server._wait_until_healthy(study, credentials, ended.pid, lambda _line: None)
    assert not ls_server.pid_path(study).exists()
