"""The study's own server's credentials: STUDY/.labelstudio/credentials.json (mode 0600).

They hold the server's URL, the admin's login and API token, Django's secret key and what the
server serves; secret: never printed or logged except by `coding-pipeline server credentials`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import Study, write_json_atomic

HOST = "127.0.0.1"
ADMIN_EMAIL = "admin@coding-pipeline.local"


@dataclass(frozen=True)
class Credentials:
    """How to reach and log in to a study's local server. Secret: never print or log it."""

    url: str
    email: str
    password: str
    token: str
    secret_key: str = ""
    document_root: str = ""
    host: str = HOST  # the address the server listens on
    clips_dir: str = ""  # set: the server serves only these clips and keeps coder spaces

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug prints
        return f"Credentials(url={self.url!r}, email={self.email!r}, password=***, token=***)"


def credentials_path(study: Study) -> Path:
    return study.server_dir / "credentials.json"


def read_credentials(study: Study) -> Credentials:
    """The local server's URL, admin login and API token (from credentials.json)."""
    path = credentials_path(study)
    if not path.is_file():
        raise PipelineError(
            f"{study.root} has no local Label Studio yet: run "
            f"`coding-pipeline server start {study.root}` first."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(**data)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise PipelineError(
            f"{path} is damaged ({exc.__class__.__name__}); the server's database in "
            f"{study.server_dir} is separate and keeps every project and annotation: do not "
            "delete that folder. Restore credentials.json from a backup; without one, reset the "
            "admin's password with `label-studio reset_password` (run with "
            f"LABEL_STUDIO_BASE_DATA_DIR={study.server_dir / 'data'}), read the token in the web "
            "page (Account & Settings) and give them with --url and LABEL_STUDIO_API_KEY."
        ) from None


def write_credentials(study: Study, credentials: Credentials) -> None:
    write_json_atomic(credentials_path(study), asdict(credentials), mode=0o600)


def server_url(host: str, port: int) -> str:
    """The URL this machine reaches a server listening on host:port at."""
    if host in ("0.0.0.0", "::"):
        host = HOST
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def url_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def new_credentials(
    study: Study, port: int, document_root: Path | None, host: str,
) -> Credentials:
    """Fresh credentials for a study's first server start (generated password and token)."""
    return Credentials(
        url=server_url(host, port),
        email=ADMIN_EMAIL,
        password=secrets.token_urlsafe(18),
        token=secrets.token_hex(20),  # 40 characters: the longest legacy token Label Studio takes
        secret_key=secrets.token_urlsafe(48),
        document_root=str(document_root) if document_root else "",
        host=host,
        clips_dir="" if document_root else str(study.clips_dir.resolve()),
    )


def upgraded(study: Study, credentials: Credentials) -> Credentials:
    """Credentials of a server first started before it served clips itself: a server that
    served the whole study folder now serves only the clips folder (and keeps coder spaces)."""
    if credentials.clips_dir or Path(credentials.document_root) != study.root.resolve():
        return credentials
    return Credentials(**{**asdict(credentials), "document_root": "",
                          "clips_dir": str(study.clips_dir.resolve())})
