"""Which Label Studio to talk to, with which token, and a connection that fails clearly.

URL: --url, else env LABEL_STUDIO_URL, else study.toml [label_studio] url, else the study's own
local server. Token: env LABEL_STUDIO_API_KEY (a legacy token or a personal access token), else
the local server's stored one. The token is passed to the SDK and to our HTTP client (http.py)
explicitly and never printed.

`connect` reads the study's server credentials once and returns a `Connection`: the SDK client
(for its public methods), our HTTP client (for everything else), who we are on the server, and
whether it is the study's own server (which serves the clips itself and keeps coder spaces).
Commands connect once and pass the connection down.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.credentials import Credentials, credentials_path, read_credentials
from coding_pipeline.labelstudio.http import (
    SPACE_HEADER,
    TIMEOUT_S,
    TOKEN_ENV,
    LabelStudioHTTP,
    failure,
    refusal,
)
from coding_pipeline.study import Study

URL_ENV = "LABEL_STUDIO_URL"
DOCUMENT_ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"

T = TypeVar("T")


def _stored(study: Study) -> Credentials | None:
    """The study's own server's credentials, if it has one."""
    return read_credentials(study) if credentials_path(study).is_file() else None


def _chosen_url(study: Study, url: str | None, stored: Credentials | None) -> str:
    chosen = url or os.environ.get(URL_ENV) or study.config.label_studio_url
    if not chosen and stored is not None:
        chosen = stored.url
    if not chosen:
        raise PipelineError(
            f"No Label Studio for {study.root}: start the study's own with "
            f"`coding-pipeline server start {study.root}`, or give --url (or {URL_ENV})."
        )
    if not chosen.startswith(("http://", "https://")):
        raise PipelineError(f"Label Studio URL '{chosen}' must start with http:// or https://.")
    return chosen.rstrip("/")


def _own(study: Study, url: str, stored: Credentials | None) -> Credentials | None:
    """`stored` if `url` is the study's own server (its local address, or the public URL it was
    started with, `server start --public-url`, kept in study.toml)."""
    if stored is None:
        return None
    public = str(study.config.raw.get("label_studio", {}).get("public_url") or "")
    addresses = {stored.url.rstrip("/"), public.rstrip("/")} - {""}
    return stored if url.rstrip("/") in addresses else None


def _chosen_token(url: str, token: str | None, own: Credentials | None) -> str:
    chosen = token or os.environ.get(TOKEN_ENV) or (own.token if own else "")
    if not chosen:
        raise PipelineError(
            f"No Label Studio API token for {url}: set {TOKEN_ENV} to your token (Label Studio: "
            "Account & Settings > Personal Access Token), or use the study's own server."
        )
    return chosen


def resolve_url(study: Study, url: str | None = None) -> str:
    """The Label Studio URL to use for this study (see the module docstring for the order)."""
    return _chosen_url(study, url, _stored(study))


def own_credentials(study: Study, url: str) -> Credentials | None:
    """The study's own server's credentials if `url` is that server."""
    return _own(study, url, _stored(study))


def resolve_token(study: Study, url: str, token: str | None = None) -> str:
    """The API token: the one given, else env LABEL_STUDIO_API_KEY, else, for the study's own
    server only, its stored token (it is never sent to any other server)."""
    return _chosen_token(url, token, own_credentials(study, url))


def own_clips_dir(study: Study, url: str) -> Path | None:
    """The clips folder the study's own server at `url` serves by itself (and keeps coder
    spaces for), or None for any other server (and for an own one given a document root)."""
    own = own_credentials(study, url)
    return Path(own.clips_dir) if own and own.clips_dir else None


def local_files_root(study: Study, own: Credentials | None) -> Path | None:
    """The folder a server serves local files from, when one is known (`own`: the study's own
    server's credentials when the server is that one).

    study.toml [label_studio] document_root if set; else, for the study's own server, the clips
    folder it serves (or the folder it was started with); else env
    LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; else None.
    """
    configured = study.config.raw.get("label_studio", {}).get("document_root")
    if configured:
        return study.absolute(configured).resolve()
    if own and (own.clips_dir or own.document_root):
        return Path(own.clips_dir or own.document_root)
    if os.environ.get(DOCUMENT_ROOT_ENV):
        return Path(os.environ[DOCUMENT_ROOT_ENV]).resolve()
    return None


def configured_document_root(study: Study, url: str) -> Path | None:
    """The folder the server at `url` serves local files from, when one is known."""
    return local_files_root(study, own_credentials(study, url))


def document_root(study: Study, url: str) -> Path:
    """The folder the server at `url` serves local files from (default: the study folder)."""
    return configured_document_root(study, url) or study.root.resolve()


def call_server(url: str, what: str, action: Callable[[], T]) -> T:
    """Run `action` (an SDK call); network and API failures become a PipelineError."""
    try:
        return action()
    except httpx.HTTPError as exc:
        raise failure(url, what, exc) from None
    except ApiError as exc:
        raise refusal(url, what, exc.status_code, exc.body) from None


@dataclass
class Connection:
    """A checked connection: the server's URL, the SDK client (public methods only), our HTTP
    client, who we are on the server, and the study's own server's credentials if it is that."""

    url: str
    client: LabelStudio
    http: LabelStudioHTTP
    user_id: int
    email: str
    own: Credentials | None = field(default=None, repr=False)
    space: int | str = ""  # the coder space acted in ("" = the user's own organisation)
    token: str = field(default="", repr=False)  # secret: never print or log it

    @property
    def clips_dir(self) -> Path | None:
        """The clips folder the study's own server serves by itself, else None."""
        return Path(self.own.clips_dir) if self.own and self.own.clips_dir else None

    @property
    def has_spaces(self) -> bool:
        """True for the study's own server serving its clips itself (it keeps coder spaces)."""
        return self.clips_dir is not None

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one SDK call, turning network and HTTP failures into a clear PipelineError."""
        return call_server(self.url, what, action)

    def in_space(self, space_id: int | str | None) -> Connection:
        """The same connection acting in one coder's space ("" = the user's own organisation)."""
        space = "" if space_id in ("", None) else space_id
        if str(space) == str(self.space):
            return self
        headers = {SPACE_HEADER: str(space)} if space != "" else None
        client = LabelStudio(base_url=self.url, api_key=self.token, timeout=TIMEOUT_S,
                             headers=headers)
        return replace(self, client=client, http=self.http.in_space(space), space=space)


def connect(study: Study, url: str | None = None, token: str | None = None) -> Connection:
    """Connect to the study's Label Studio (credentials read once) and check the token works."""
    stored = _stored(study)
    base = _chosen_url(study, url, stored)
    own = _own(study, base, stored)
    key = _chosen_token(base, token, own)
    client = LabelStudio(base_url=base, api_key=key, timeout=TIMEOUT_S)
    me = call_server(base, "checking the API token", client.users.whoami)
    return Connection(url=base, client=client, http=LabelStudioHTTP(base, key), user_id=int(me.id),
                      email=str(me.email), own=own, token=key)


def member_emails(connection: Connection) -> dict[int, str]:
    """The members of the organisation (or space) acted in: user id -> email (lower case)."""
    users = connection.call("listing members", connection.client.users.list)
    return {int(user.id): str(user.email or "").lower() for user in users}
