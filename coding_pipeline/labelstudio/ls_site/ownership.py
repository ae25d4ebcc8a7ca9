"""Whose is it: the objects a coder's request names, read from everywhere it can name them.

A request names objects in its path (ls_site.allow: Route.objects), its query string and its
body: JSON, a urlencoded form or a multipart form, whatever the method. Each value under a name
of allow.REFERENCE_KEYS (at any depth of a JSON body) must be the coder's own; in a write, each
value under allow.AUTHOR_KEYS must be the coder. A number may come as 7, 7.0, "7", " 7 ",
"7.00", "+7" or 7e0: every spelling Label Studio's serializers read is read here the same way;
a value that is not a whole number is refused, as is a body that cannot be read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from io import BytesIO
from urllib.parse import quote

from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from coding_pipeline.labelstudio.ls_site import allow
from coding_pipeline.labelstudio.ls_site import label_studio as ls

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_DEPTH = 32
_DECIMAL_ZEROS = re.compile(r"\.0*\s*$")  # as Django REST framework's IntegerField strips
VIDEO_KEY = "video"  # the task data key of the clip (labelstudio.config.VIDEO_NAME)


class Refusal(Exception):
    """A coder's request that must not go on: the HTTP status and the reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


NOT_YOURS = Refusal(404, "Not found.")


def as_ids(value: object) -> list[int]:
    """The object ids a request value names (none for null or ""); Refusal if unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, bool):
        raise Refusal(400, "An object reference must be a whole number.")
    if isinstance(value, int):
        return [value]
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return [int(value)]
        raise Refusal(400, "An object reference must be a whole number.")
    if isinstance(value, str):
        return [_int_text(value)]
    if isinstance(value, dict):
        return as_ids(value.get("id", value.get("pk")))
    if isinstance(value, list | tuple):
        return [number for item in value for number in as_ids(item)]
    raise Refusal(400, "An object reference must be a whole number.")


def _int_text(text: str) -> int:
    for candidate in (text.strip(), _DECIMAL_ZEROS.sub("", text.strip())):
        try:
            return int(candidate)
        except ValueError:
            pass
    try:
        number = float(text)
    except ValueError:
        raise Refusal(400, "An object reference must be a whole number.") from None
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise Refusal(400, "An object reference must be a whole number.")


def request_body(request: HttpRequest) -> object:
    """The request's body as Label Studio's parsers would read it (None when empty)."""
    body = request.body
    if not body:
        return None
    content_type = (request.content_type or "").lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refusal(400, "The request body is not valid JSON.") from None
    if content_type == "application/x-www-form-urlencoded":
        return QueryDict(body, encoding=request.encoding)
    if content_type == "multipart/form-data":
        try:
            data, _files = MultiPartParser(request.META, BytesIO(body), request.upload_handlers,
                                           request.encoding).parse()
        except MultiPartParserError:
            raise Refusal(400, "The request body is not a valid form.") from None
        return data
    raise Refusal(415, "Send JSON or a form.")


def named_values(data: object, depth: int = 0):
    """(key, value) of every reference or author name in a query, form or JSON body."""
    if depth > MAX_DEPTH:
        raise Refusal(400, "The request body is nested too deeply.")
    watched = allow.REFERENCE_KEYS.keys() | set(allow.AUTHOR_KEYS)
    if isinstance(data, QueryDict):
        for key in data:
            for value in data.getlist(key):
                if key in watched:
                    yield key, value
    elif isinstance(data, dict):
        for key, value in data.items():
            if key in watched:
                yield key, value
            elif isinstance(value, dict | list):
                yield from named_values(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from named_values(item, depth + 1)


def organization_of(kind: str, pk: int) -> int | None:
    """The organisation an object is in (None: no such object)."""
    lookups = {
        "project": (ls.Project, "organization_id"),
        "task": (ls.Task, "project__organization_id"),
        "annotation": (ls.Annotation, "project__organization_id"),
        "draft": (ls.AnnotationDraft, "task__project__organization_id"),
        "prediction": (ls.Prediction, "project__organization_id"),
        "view": (ls.View, "project__organization_id"),
    }
    model, field = lookups[kind]
    return model.objects.filter(pk=pk).values_list(field, flat=True).first()


def owns(user, kind: str, pk: int) -> bool:
    """True if the object is the coder's (a missing one is left to Label Studio's 404)."""
    org = user.active_organization_id
    if kind == "self":
        return pk == user.id
    if kind == "organization":
        return pk == org
    if kind == "member":
        return pk == user.id or ls.OrganizationMember.objects.filter(
            user_id=pk, organization_id=org, deleted_at__isnull=True).exists()
    if kind in ("own_annotation", "own_draft"):
        model, author = ((ls.Annotation, "completed_by_id") if kind == "own_annotation"
                         else (ls.AnnotationDraft, "user_id"))
        found = model.objects.filter(pk=pk).values_list(author, flat=True).first()
        if found is not None and found != user.id:
            return False
        kind = kind.removeprefix("own_")
    found_org = organization_of(kind, pk)
    return found_org is None or found_org == org


def check_request(request: HttpRequest, user, route: allow.Route) -> None:
    """Raise Refusal unless every object the request names is the coder's own."""
    kwargs = request.resolver_match.kwargs
    for argument, kind in route.objects.items():
        for pk in as_ids(kwargs.get(argument)):
            if not owns(user, kind, pk):
                raise NOT_YOURS
    body = request_body(request)
    writing = request.method not in SAFE_METHODS
    for source in (request.GET, body):
        for key, value in named_values(source):
            kind = allow.REFERENCE_KEYS.get(key, "self")
            if kind == "self" and not writing:
                continue
            for pk in as_ids(value):
                if not owns(user, kind, pk):
                    raise (NOT_YOURS if kind != "self" else
                           Refusal(403, "You can only write your own ratings and account."))
    if route.check:
        CHECKS[route.check](request, user, body)


def _own_name(request: HttpRequest, user, body: object) -> None:
    """A coder's account change may set their first and last name; any other field sent
    (the account page sends the whole form) must keep its current value."""
    if body is None:
        return
    if not isinstance(body, dict | QueryDict):
        raise Refusal(400, "Send your name as an object.")
    for key in body:
        if key in allow.NAME_FIELDS:
            continue
        values = body.getlist(key) if isinstance(body, QueryDict) else [body[key]]
        current = getattr(user, f"{key}_id", getattr(user, key, _MISSING))
        if current is _MISSING or any(_as_text(v) != _as_text(current) for v in values):
            raise Refusal(403, "You can change your first and last name only.")


_MISSING = object()


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def _next_task(request: HttpRequest, user, body: object) -> None:
    actions = request.GET.getlist("id")
    if not actions or any(action != "next_task" for action in actions):
        raise Refusal(403, "Not allowed for coders on this server.")


def _own_clip(request: HttpRequest, user, body: object) -> None:
    """The file asked for must be the clip of one of the coder's own tasks, as pushed."""
    path = request.path
    if "d" in request.GET:
        names = request.GET.getlist("d")
        if len(names) != 1:
            raise NOT_YOURS
        urls = [f"{path}?d={quote(names[0], safe='/')}", f"{path}?d={names[0]}"]
    else:
        urls = [path, quote(path, safe="/")]
    if not _tasks_showing(user, urls):
        raise NOT_YOURS


def _own_storage_uri(request: HttpRequest, user, body: object) -> None:
    """The storage file asked for must be the clip of that task of the coder's."""
    encoded = request.GET.getlist("fileuri")
    try:
        uris = [base64.urlsafe_b64decode(value.encode()).decode() for value in encoded]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise NOT_YOURS from None
    task_ids = as_ids(request.resolver_match.kwargs.get("task_id"))
    shown = ls.Task.objects.filter(pk__in=task_ids).values_list(f"data__{VIDEO_KEY}", flat=True)
    if len(uris) != 1 or uris[0] not in set(shown):
        raise NOT_YOURS


def _tasks_showing(user, urls: list[str]) -> bool:
    return ls.Task.objects.filter(
        project__organization_id=user.active_organization_id,
        **{f"data__{VIDEO_KEY}__in": list(dict.fromkeys(urls))}).exists()


CHECKS = {"own_name": _own_name, "next_task": _next_task, "own_clip": _own_clip,
          "own_storage_uri": _own_storage_uri}


def own_rating(instance, coder) -> bool:
    """True if an annotation or draft about to be saved is the coder's, in their space."""
    if isinstance(instance, ls.Annotation):
        author, task_id = instance.completed_by_id, instance.task_id
    else:
        author, task_id = instance.user_id, instance.task_id
    return author == coder.id and organization_of("task", task_id) == \
        coder.active_organization_id
