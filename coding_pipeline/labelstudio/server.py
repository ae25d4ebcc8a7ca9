"""The study's private local Label Studio: start, stop and status (credentials: credentials.py).

The server's data (SQLite database, media, exports) live in STUDY/.labelstudio/data. It listens on
127.0.0.1 only unless started with another address (kept for restarts, with a warning when it is
not a loopback address), with telemetry, error reporting and version checks off, and only on a
Label Studio version the pipeline was tested with (versions.py). It runs with the Django
settings of coding_pipeline.labelstudio.ls_site (DJANGO_SETTINGS_MODULE): only its own address is
an allowed Host, pages cannot be framed, and it serves the study's clips folder only (nothing else
of the study) and keeps one organisation per coder (coder spaces). On first start an admin
account is created with a generated password and API token (credentials.py, never printed or
logged except by `coding-pipeline server credentials`). The server runs detached and keeps
running after the command that started it returns; STUDY/.labelstudio/server.pid records its
process id. A restart keeps the port (coders' bookmarks and invite links name it); if another
program took it meanwhile, the server moves to a free port and says so.

study.toml [label_studio] private_network_storage = true lets the server reach an S3-compatible
store on this machine or the lab's network (read at start).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio import deploy
from coding_pipeline.labelstudio.addresses import (
    free_port,
    host_warning,
    port_is_free,
    served_hosts,
)
from coding_pipeline.labelstudio.credentials import (
    HOST,
    Credentials,
    credentials_path,
    new_credentials,
    read_credentials,
    server_url,
    upgraded,
    url_port,
    write_credentials,
)
from coding_pipeline.labelstudio.http import LabelStudioHTTP, healthy
from coding_pipeline.labelstudio.versions import installed_label_studio_version, unsupported_version
from coding_pipeline.study import Study

START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 20.0


def pid_path(study: Study) -> Path:
    return study.server_dir / "server.pid"


def log_path(study: Study) -> Path:
    return study.server_dir / "server.log"


SETTINGS_MODULE = "coding_pipeline.labelstudio.ls_site.settings"


def _read_pid(study: Study) -> int | None:
    """The pid in the study's pid file if that process runs Label Studio (not a reused pid)."""
    if (pid := _pid_file_number(study)) is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"label" in cmdline else None


def _pid_file_number(study: Study) -> int | None:
    try:
        return int(pid_path(study).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _executable() -> str:
    beside = Path(sys.executable).parent / "label-studio"
    if beside.is_file():
        return str(beside)
    found = shutil.which("label-studio")
    if not found:
        raise PipelineError(
            "The local Label Studio server is not installed: run "
            "`pip install 'coding-pipeline[server]'`, or point the study at an existing server "
            "with --url / LABEL_STUDIO_URL."
        )
    return found


def _server_environment(
    study: Study, credentials: Credentials, database: deploy.Database | None = None,
    site: deploy.PublicSite | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")
           and k not in deploy.inherited_database_keys(os.environ)}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str((study.server_dir / "data").resolve()),
        "LABEL_STUDIO_USERNAME": credentials.email,
        "LABEL_STUDIO_PASSWORD": credentials.password,
        "LABEL_STUDIO_USER_TOKEN": credentials.token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SECRET_KEY": credentials.secret_key,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "CODING_PIPELINE_LS_URL": credentials.url,
        "CODING_PIPELINE_LS_EXTRA_HOSTS": served_hosts(credentials.host),
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "PYTHONUNBUFFERED": "1",
    })
    if credentials.clips_dir:  # our own view serves the clips; Label Studio's local files are off
        env.update({"CODING_PIPELINE_LS_CLIPS_DIR": credentials.clips_dir,
                    "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "false",
                    "LABEL_STUDIO_ENABLE_LOCAL_FILES_STORAGE": "false"})
    else:
        env.pop("CODING_PIPELINE_LS_CLIPS_DIR", None)
        env.update({"LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
                    "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": credentials.document_root})
    if study.config.raw.get("label_studio", {}).get("private_network_storage") is True:
        # an S3-compatible store on this machine or the lab's network (Label Studio refuses
        # such addresses by default, as a guard against server-side request forgery)
        env["SSRF_PROTECTION_ENABLED"] = "false"
    env.update(database.environment() if database else {})
    env.pop("CODING_PIPELINE_LS_PUBLIC_URL", None)
    env.update(site.environment() if site else {})
    return env


def _log_tail(study: Study, credentials: Credentials, lines: int = 5) -> str:
    try:
        text = log_path(study).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for secret in (credentials.token, credentials.password, credentials.secret_key):
        text = text.replace(secret, "***")
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def start_server(
    study: Study, port: int | None = None, document_root: Path | None = None,
    progress: Callable[[str], None] | None = None, host: str | None = None,
    database: str | None = None, public_url: str | None = None,
) -> str:
    """Start the study's private Label Studio (or find it running) and return its URL.

    Idempotent: a server already running for this study is left alone and its URL returned. By
    default the server serves only the study's clips folder, by a view of its own, and keeps one
    organisation per coder; with `document_root` (fixed by the first start) Label Studio's own
    local-files serving serves that folder instead, as for a shared server. `host` is the
    address to listen on (default: the one stored, else 127.0.0.1); a port or address given is
    kept for later starts. A restart keeps the stored port unless another program took it: then
    a free one is used and `progress` is told. `progress` also receives a line now and then
    while the server boots. `database` (a PostgreSQL URL) and `public_url` are kept in
    study.toml for later starts (see deploy.py).
    """
    say = progress or (lambda _line: None)
    study.server_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(study.server_dir, 0o700)
    existing = read_credentials(study) if credentials_path(study).is_file() else None
    listen = host or (existing.host if existing else HOST)
    port_is_free(0, listen)  # a clear error for an address this machine does not have
    pid = _read_pid(study)
    if pid is not None and existing is not None:
        _refuse_change_while_running(study, existing, port, listen)
        deploy.refuse_change_while_running(study, database, public_url)
        _warn_if_exposed(listen, say)
        _wait_until_healthy(study, existing, pid, say)
        return existing.url
    refusal = unsupported_version(installed_label_studio_version())
    if refusal:
        raise PipelineError(refusal)
    chosen_database = deploy.resolve_database(study, database, has_server=existing is not None)
    site = deploy.resolve_public_url(study, public_url)
    if chosen_database:
        deploy.check_database(chosen_database)
    if port is not None and not port_is_free(port, listen):
        raise PipelineError(
            f"Port {port} on {listen} is in use by another program: choose another with --port, "
            "or leave --port out."
        )
    credentials = _credentials_to_start(study, existing, port, listen, document_root, say)
    _warn_if_exposed(listen, say)
    write_credentials(study, credentials)
    process = _launch(study, credentials, chosen_database, site)
    say(f"Label Studio starting at {credentials.url} (log: {log_path(study)})")
    _wait_until_healthy(study, credentials, process.pid, say)
    _check_token(study, credentials)
    return credentials.url


def _credentials_to_start(
    study: Study, existing: Credentials | None, port: int | None, listen: str,
    document_root: Path | None, say: Callable[[str], None],
) -> Credentials:
    """New credentials for a first start; the stored ones, on the port to use now, for a
    restart (a port another program took meanwhile is given up for a free one)."""
    if existing is None:
        chosen = port or free_port(listen)
        return new_credentials(
            study, chosen, Path(document_root).resolve() if document_root else None, listen)
    chosen = port or url_port(existing.url)
    if not port_is_free(chosen, listen):
        chosen = free_port(listen)
        say(f"Port {url_port(existing.url)} is in use by another program, so Label Studio "
            f"moves to port {chosen}: links to {existing.url} (coders' bookmarks, invite "
            "links) no longer work; send coders the new address.")
    return Credentials(**{**asdict(upgraded(study, existing)),
                          "url": server_url(listen, chosen), "host": listen})


def _launch(
    study: Study, credentials: Credentials, database: deploy.Database | None,
    site: deploy.PublicSite | None,
) -> subprocess.Popen:
    """Start the server process, detached, logging to STUDY/.labelstudio/server.log."""
    listen, port = credentials.host, url_port(credentials.url)
    with log_path(study).open("ab") as log:
        process = subprocess.Popen(
            deploy.wsgi_command(listen, port) if site else
            [_executable(), "start", "--no-browser", "--internal-host", listen,
             "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_server_environment(study, credentials, database, site),
            cwd=study.server_dir,
            start_new_session=True,
        )
    pid_path(study).write_text(f"{process.pid}\n")
    return process


def _refuse_change_while_running(
    study: Study, running: Credentials, port: int | None, host: str,
) -> None:
    if (port is not None and port != url_port(running.url)) or host != running.host:
        raise PipelineError(
            f"Label Studio is already running at {running.url} (listening on {running.host}): "
            f"stop it first (`coding-pipeline server stop {study.root}`) to change its port or "
            "address."
        )


def _warn_if_exposed(host: str, say: Callable[[str], None]) -> None:
    warning = host_warning(host)
    if warning:
        say(warning)


def _wait_until_healthy(
    study: Study, credentials: Credentials, pid: int, say: Callable[[str], None],
) -> None:
    started = time.monotonic()
    last_note = started
    while not healthy(credentials.url):  # (not _read_pid: mid-exec, a cmdline reads empty)
        if _pid_file_number(study) != pid or _has_exited(pid):
            pid_path(study).unlink(missing_ok=True)
            raise PipelineError(
                f"Label Studio stopped while starting; see {log_path(study)}. "
                f"Last lines: {_log_tail(study, credentials)}"
            )
        elapsed = time.monotonic() - started
        if elapsed > START_TIMEOUT_S:
            raise PipelineError(
                f"Label Studio did not answer at {credentials.url} within {START_TIMEOUT_S:.0f} s; "
                f"see {log_path(study)}, then `coding-pipeline server stop {study.root}` and retry."
            )
        if time.monotonic() - last_note >= 10:
            say(f"  still starting ({elapsed:.0f} s; the first start sets up the database)")
            last_note = time.monotonic()
        time.sleep(0.5)


def _check_token(study: Study, credentials: Credentials) -> None:
    """Make sure the server answering is ours and accepts the stored token."""
    server = LabelStudioHTTP(credentials.url, credentials.token, timeout=30)
    try:
        response = server.request("GET", "api/current-user/whoami", "checking the API token",
                                  check=False)
    finally:
        server.close()
    if response.status_code != 200 or response.json().get("email") != credentials.email:
        stop_server(study)
        raise PipelineError(
            f"The Label Studio at {credentials.url} refused the token in "
            f"{credentials_path(study)}: the file does not belong to the database in "
            f"{study.server_dir / 'data'}. Restore the matching file, or delete "
            f"{study.server_dir} to start afresh."
        )


def stop_server(study: Study) -> bool:
    """Stop the study's local server; True if it was running. Returns once its port is free."""
    pid = _read_pid(study)
    pid_path(study).unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    credentials = read_credentials(study)
    port = url_port(credentials.url)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if _has_exited(pid) and port_is_free(port, credentials.host):
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def _has_exited(pid: int) -> bool:
    """True once every thread of `pid` has ended (reaping it if it is our own child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status and len(threads) <= 1


def server_status(study: Study) -> str:
    """One line: whether the study's local server runs, and where."""
    if not credentials_path(study).is_file():
        return f"No local Label Studio yet (start one: coding-pipeline server start {study.root})"
    url = read_credentials(study).url
    pid = _read_pid(study)
    if pid is None:
        return f"Stopped (last at {url}; data in {study.server_dir})"
    if healthy(url):
        return f"Running at {url} (pid {pid}; data in {study.server_dir})"
    return f"Starting or not answering at {url} (pid {pid}; log {log_path(study)})"
