"""A Label Studio refusal (an HTTP error answer) as one sentence saying what to change where.

Label Studio answers errors with JSON such as {"id": ..., "status_code": 400, "detail":
"Validation error", "validation_errors": {"non_field_errors": ["..."]}}. Users must never see
that: `refusal_sentence` recognises the refusals a push or pull can meet (local files not served,
a folder outside the served root or absent on the server's machine, S3 unreachable, uploads too
large, missing permissions, server errors) and names the side to change (the server, this
study's study.toml, the token, a reverse proxy); anything else is still one sentence, with the
server's own message cut to its first line. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

MESSAGE_LIMIT = 200


def server_messages(body: object) -> list[str]:
    """The human-readable messages in an error body (JSON, dict, list or text), in order."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            text = re.sub(r"<[^>]+>", " ", body)  # an HTML error page (a proxy's, Django's)
            return [" ".join(text.split())] if text.strip() else []
    found: list[str] = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                if name not in ("id", "status_code", "version", "exc_info", "type"):
                    walk(inner, str(name))
        elif isinstance(value, list):
            for inner in value:
                walk(inner, key)
        elif isinstance(value, str) and value.strip() and value != "Validation error":
            prefix = f"{key}: " if key and key not in ("detail", "non_field_errors") else ""
            found.append(prefix + value.strip())

    walk(body)
    return found


def _first_line(messages: Iterable[str]) -> str:
    text = " ".join(" ".join(m.split("\n\n")[0].split()) for m in messages)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT].rsplit(" ", 1)[0] + " ..."


Rule = tuple[Callable[[str, int | None], bool], str]
# (does it apply, given the server's messages in lower case and the HTTP status; the sentence,
# with {where}, {what} and {said} filled in), tried in order
RULES: tuple[Rule, ...] = (
    (lambda text, _: "local_files_serving_enabled" in text,
     "{where} does not serve local files (its default), so it refused {what}: in this "
     "study's study.toml set [label_studio] clips = \"upload\" (push then uploads the clips "
     "into the server), or on the server set LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true "
     "and restart it."),
    (lambda text, _: "cannot be the same as local_files_document_root" in text,
     "{where} refused {what} because the clips folder is its whole local-files root: in "
     "study.toml set [label_studio] document_root to the folder above the study's clips "
     "folder, or on the server set LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT to it."),
    (lambda text, _: "local_files_document_root" in text,
     "{where} refused {what} because the clips are outside the folder it serves local "
     "files from: on the server set LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT to a folder "
     "that holds the study (and restart it), or in study.toml set [label_studio] "
     "document_root to the server's folder, or clips = \"upload\"."),
    (lambda text, _: "absolute local path" in text and "does not exist" in text,
     "{where} cannot see the study's clips folder on its own machine, so it refused "
     "{what}: in study.toml set [label_studio] clips = \"upload\" (or \"s3\") for a server "
     "on another computer, or run push where the server can read the clips."),
    (lambda text, status: status == 413 or "maximum total size" in text or "too large" in text,
     "{where} (or a proxy in front of it) refused {what} as too large: on the server "
     "raise DATA_UPLOAD_MAX_MEMORY_SIZE (and a reverse proxy's limit, e.g. nginx "
     "client_max_body_size), or cut shorter clips (segment --epoch)."),
    (lambda text, _: "extension is not supported" in text,
     "{where} refused {what}: it does not accept that file type; on the server add "
     "the extension to its supported uploads, or in study.toml set [label_studio] clips "
     "= \"local\" or \"s3\"."),
    (lambda text, _: any(word in text for word in (
        "bucket", "s3", "endpoint", "boto", "access key", "credentials")),
     "{where} could not use the S3 store while {what} ({said}): check "
     "[label_studio.s3] in study.toml and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY on "
     "this side; a store on the lab's own network also needs private_network_storage = "
     "true (the study's own server) or SSRF_PROTECTION_ENABLED=false on the server."),
    (lambda _, status: status == 403,
     "{where} does not let this token's user do that (403 while {what}): set "
     "LABEL_STUDIO_API_KEY to the token of an administrator of the organisation that "
     "holds the study's projects."),
    (lambda _, status: status == 404,
     "{where} has no such object (404 while {what}): check that the URL is the server's "
     "address with no extra path, and that projects.csv belongs to this server."),
    (lambda _, status: status is not None and status >= 500,
     "{where} failed with an internal error ({status}) while {what}: see the server's "
     "log (the study's own: STUDY/.labelstudio/server.log), fix what it says on the "
     "server, then retry; work already done is kept."),
)


def refusal_sentence(url: str, what: str, status: int | None, body: object) -> str:
    """One sentence for Label Studio at `url` refusing `what` (HTTP `status`, error `body`)."""
    messages = server_messages(body)
    text = " ".join(messages).lower()
    where = f"Label Studio at {url}"
    for applies, sentence in RULES:
        if applies(text, status):
            return sentence.format(where=where, what=what, status=status,
                                   said=_first_line(messages))
    said = f": it says \"{_first_line(messages)}\"" if messages else ""
    return (
        f"{where} refused {what} ({status}){said}. Change that on the server, or the study's "
        "settings in study.toml, then retry; work already done is kept."
    )
