"""The pipeline's one HTTP client for Label Studio, for everything the SDK's public methods do not
cover (coder spaces, clip uploads, the quick export, looking a project up by its id, the server's
health and token checks), and a coder's logged-in session.

`LabelStudioHTTP` holds the base URL, the API token, an optional coder space (header
X-Coding-Pipeline-Space) and a timeout; failures become a PipelineError naming the URL and what
was being done (`failure`, `refusal`: the SDK's calls get the same sentences, client.call_server).
The token goes only into the Authorization header, never into a URL, message or log: a legacy
token as `Token KEY`; a personal access token (a JWT refresh token) is exchanged at
/api/token/refresh/ for a short-lived access token sent as `Bearer`, renewed before it runs out,
as the SDK does.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Generator

import httpx

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.refusals import refusal_sentence

TOKEN_ENV = "LABEL_STUDIO_API_KEY"
SPACE_HEADER = "X-Coding-Pipeline-Space"
TIMEOUT_S = 600.0
REFRESH_PATH = "/api/token/refresh/"
RENEW_BEFORE_S = 30.0  # renew an access token this long before it expires


def failure(url: str, what: str, exc: httpx.HTTPError) -> PipelineError:
    """A network failure (no answer, or none in time) while doing `what`, as one sentence."""
    if isinstance(exc, httpx.TimeoutException):
        return PipelineError(
            f"Label Studio at {url} did not answer in time while {what}: check it is running "
            "and retry (work already done is kept)."
        )
    return PipelineError(
        f"Cannot reach Label Studio at {url} while {what} ({exc.__class__.__name__}): "
        "check the URL and that the server is running "
        "(for the study's own: coding-pipeline server start STUDY)."
    )


def refusal(url: str, what: str, status: int | None, body: object) -> PipelineError:
    """An HTTP error answer to `what`, as one sentence saying what to change where."""
    if status == 401:
        return PipelineError(
            f"Label Studio at {url} refused the API token while {what} (401): set "
            f"{TOKEN_ENV} to a valid, unexpired token (Account & Settings in Label Studio)."
        )
    return PipelineError(refusal_sentence(url, what, status, body))


def _body(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def jwt_expiry(token: str) -> float | None:
    """The expiry (Unix time) of a JWT such as a personal access token; None for anything else
    (a legacy token). Read without checking the signature: the server checks it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    return float(expiry) if isinstance(expiry, int | float) else None


class TokenRefused(Exception):
    """The server refused to exchange a personal access token for an access token."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__(status)
        self.status, self.body = status, body


class TokenAuth(httpx.Auth):
    """Label Studio's API token on each request (see the module docstring)."""

    requires_response_body = True

    def __init__(self, token: str) -> None:
        self._token = token
        self._personal = jwt_expiry(token) is not None
        self._access = ""
        self._access_expiry = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # keep the token out of tracebacks and debug prints
        return "TokenAuth(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._personal:
            request.headers["Authorization"] = f"Token {self._token}"
            yield request
            return
        with self._lock:
            if time.time() > self._access_expiry - RENEW_BEFORE_S:
                answer = yield httpx.Request(
                    "POST", request.url.join(REFRESH_PATH), json={"refresh": self._token})
                if answer.status_code != 200:
                    raise TokenRefused(answer.status_code, _body(answer))
                self._access = str(answer.json()["access"])
                self._access_expiry = jwt_expiry(self._access) or time.time() + 60
            access = self._access
        request.headers["Authorization"] = f"Bearer {access}"
        yield request


class LabelStudioHTTP:
    """Requests to one Label Studio as the token's user (in one coder space, if given)."""

    def __init__(self, url: str, token: str, space: int | str = "",
                 timeout: float = TIMEOUT_S, auth: TokenAuth | None = None) -> None:
        self.url = url.rstrip("/")
        self.space = space
        self._auth = auth or TokenAuth(token)
        self._token = token
        self._timeout = timeout
        headers = {SPACE_HEADER: str(space)} if space not in ("", None) else {}
        self._client = httpx.Client(base_url=self.url, auth=self._auth, headers=headers,
                                    timeout=timeout, follow_redirects=False)

    def __repr__(self) -> str:
        return f"LabelStudioHTTP({self.url!r}, space={self.space!r})"

    def in_space(self, space: int | str) -> LabelStudioHTTP:
        """The same user acting in one coder's space ("" = the user's own organisation)."""
        if str(space) == str(self.space):
            return self
        return LabelStudioHTTP(self.url, self._token, space, self._timeout, self._auth)

    def request(self, method: str, path: str, what: str, *, check: bool = True,
                **options: object) -> httpx.Response:
        """Send one request (`path` relative to the server's root); with `check`, an error
        answer raises a PipelineError saying what to change, otherwise it is returned."""
        try:
            response = self._client.request(method, path.lstrip("/"), **options)
        except httpx.HTTPError as exc:
            raise failure(self.url, what, exc) from None
        except TokenRefused as exc:
            raise refusal(self.url, what, 401 if exc.status in (400, 401) else exc.status,
                          exc.body) from None
        if check and response.status_code >= 400:
            raise refusal(self.url, what, response.status_code, _body(response))
        return response

    def close(self) -> None:
        self._client.close()


def healthy(url: str) -> bool:
    """True if a Label Studio answers at `url` (its health page, no login)."""
    try:
        return httpx.get(f"{url}/health/", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


# ---------------------------------------------------------------- a coder's own session


def _form_post(session: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    page = session.get(path)
    page.raise_for_status()
    csrf = session.cookies.get("csrftoken", "")
    return session.post(
        path, data={**fields, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{session.base_url}{path}"},
    )


def coder_session(url: str, email: str, password: str, invite: str | None = None) -> httpx.Client:
    """A logged-in browser-like session of one coder; signs up first through `invite` if given.

    API calls made with it are that coder's own (annotations are `completed_by` the coder).
    """
    session = httpx.Client(base_url=url, follow_redirects=False, timeout=120)
    if invite is not None:
        path = invite[len(url):] if invite.startswith(url) else invite
        response = _form_post(session, path, {"email": email, "password": password})
        if response.status_code != 302:
            session.close()
            raise PipelineError(
                f"Could not sign up {email} at {url} through the invite link "
                f"(HTTP {response.status_code}): is the email already taken?"
            )
    else:
        response = _form_post(session, "/user/login/", {"email": email, "password": password})
        if response.status_code != 302:
            session.close()
            raise PipelineError(f"Could not log in to {url} as {email}: wrong password?")
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    session.headers["Referer"] = url
    return session
