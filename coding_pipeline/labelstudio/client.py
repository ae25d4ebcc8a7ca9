"""Which Label Studio to talk to, with which token, and a connection that fails clearly.

URL: --url, else env LABEL_STUDIO_URL, else study.toml [label_studio] url, else the study's own
local server. Token: env LABEL_STUDIO_API_KEY (a legacy token or a personal access token), else
the local server's stored one. The token is passed to the SDK explicitly and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.refusals import refusal_sentence
from coding_pipeline.labelstudio.server import Credentials, credentials_path, read_credentials
from coding_pipeline.study import Study

URL_ENV = "LABEL_STUDIO_URL"
TOKEN_ENV = "LABEL_STUDIO_API_KEY"
DOCUMENT_ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
TIMEOUT_S = 600.0

T = TypeVar("T")


def resolve_url(study: Study, url: str | None = None) -> str:
    """The Label Studio URL to use for this study (see the module docstring for the order)."""
    chosen = url or os.environ.get(URL_ENV) or study.config.label_studio_url
    if not chosen and credentials_path(study).is_file():
        chosen = read_credentials(study).url
    if not chosen:
        raise PipelineError(
            f"No Label Studio for {study.root}: start the study's own with "
            f"`coding-pipeline server start {study.root}`, or give --url (or {URL_ENV})."
        )
    if not chosen.startswith(("http://", "https://")):
        raise PipelineError(f"Label Studio URL '{chosen}' must start with http:// or https://.")
    return chosen.rstrip("/")


def resolve_token(study: Study, url: str, token: str | None = None) -> str:
    """The API token: the one given, else env LABEL_STUDIO_API_KEY, else, for the study's own
    server only, its stored token (it is never sent to any other server)."""
    chosen = token or os.environ.get(TOKEN_ENV)
    if not chosen and (own := own_credentials(study, url)):
        chosen = own.token
    if not chosen:
        raise PipelineError(
            f"No Label Studio API token for {url}: set {TOKEN_ENV} to your token (Label Studio: "
            "Account & Settings > Personal Access Token), or use the study's own server."
        )
    return chosen


def own_credentials(study: Study, url: str) -> Credentials | None:
    """The study's own server's credentials if `url` is that server (its local address, or the
    public URL it was started with, `server start --public-url`, kept in study.toml)."""
    if not credentials_path(study).is_file():
        return None
    own = read_credentials(study)
    public = str(study.config.raw.get("label_studio", {}).get("public_url") or "")
    addresses = {own.url.rstrip("/"), public.rstrip("/")} - {""}
    return own if url.rstrip("/") in addresses else None


def own_clips_dir(study: Study, url: str) -> Path | None:
    """The clips folder the study's own server at `url` serves by itself (and keeps coder
    spaces for), or None for any other server (and for an own one given a document root)."""
    own = own_credentials(study, url)
    return Path(own.clips_dir) if own and own.clips_dir else None


def configured_document_root(study: Study, url: str) -> Path | None:
    """The folder the server at `url` serves local files from, when one is known.

    study.toml [label_studio] document_root if set; else, for the study's own server, the clips
    folder it serves (or the folder it was started with); else env
    LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; else None.
    """
    configured = study.config.raw.get("label_studio", {}).get("document_root")
    if configured:
        return study.absolute(configured).resolve()
    own = own_credentials(study, url)
    if own and (own.clips_dir or own.document_root):
        return Path(own.clips_dir or own.document_root)
    if os.environ.get(DOCUMENT_ROOT_ENV):
        return Path(os.environ[DOCUMENT_ROOT_ENV]).resolve()
    return None


def document_root(study: Study, url: str) -> Path:
    """The folder the server at `url` serves local files from (default: the study folder)."""
    return configured_document_root(study, url) or study.root.resolve()


@dataclass
class Connection:
    """A checked connection: the SDK client, the server's URL, and who we are on it."""

    url: str
    client: LabelStudio
    user_id: int
    email: str
    token: str = field(default="", repr=False)  # secret: never print or log it

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one SDK call, turning network and HTTP failures into a clear PipelineError."""
        return call_server(self.url, what, action)


def call_server(url: str, what: str, action: Callable[[], T]) -> T:
    """Run `action`; network and API failures become a PipelineError naming the URL."""
    try:
        return action()
    except httpx.TimeoutException:
        raise PipelineError(
            f"Label Studio at {url} did not answer in time while {what}: check it is running "
            "and retry (work already done is kept)."
        ) from None
    except httpx.HTTPError as exc:
        raise PipelineError(
            f"Cannot reach Label Studio at {url} while {what} ({exc.__class__.__name__}): "
            "check the URL and that the server is running "
            "(for the study's own: coding-pipeline server start STUDY)."
        ) from None
    except ApiError as exc:
        if exc.status_code == 401:
            raise PipelineError(
                f"Label Studio at {url} refused the API token while {what} (401): set "
                f"{TOKEN_ENV} to a valid, unexpired token (Account & Settings in Label Studio)."
            ) from None
        raise PipelineError(refusal_sentence(url, what, exc.status_code, exc.body)) from None


def connect(study: Study, url: str | None = None, token: str | None = None) -> Connection:
    """Connect to the study's Label Studio and check the token works."""
    base = resolve_url(study, url)
    key = resolve_token(study, base, token)
    client = LabelStudio(base_url=base, api_key=key, timeout=TIMEOUT_S)
    me = call_server(base, "checking the API token", client.users.whoami)
    return Connection(url=base, client=client, user_id=int(me.id), email=str(me.email), token=key)


def member_emails(connection: Connection) -> dict[int, str]:
    """The server's members: user id -> email (lower case)."""
    users = connection.call("listing members", connection.client.users.list)
    return {int(user.id): str(user.email or "").lower() for user in users}
