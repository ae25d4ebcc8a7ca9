"""The guard of the study's own Label Studio: a coder acts in their own space only.

For every request of a logged-in member who is not a superuser (the study's admin is one), by
session, legacy token or personal access token:
- their active organisation must be one they are a member of (else it is set back to their
  first membership; with none, 403);
- an object named by the URL or the request (a project, task, annotation, draft, prediction or
  data manager view, by path, by `project`/`task`/`view` query parameter or JSON field) must be
  in that organisation, else 404;
- what a coder never needs is refused with 403: storages, imports, exports, changing ML
  backends, webhooks, organisation settings and invites, creating/changing/deleting projects
  and tasks, data manager actions (but "next task", which "Label All Tasks" runs), deleting
  annotations, changing another user or anyone's active organisation, and writing an
  annotation or draft on someone else's behalf.
Superusers and anonymous requests pass unchanged (Label Studio asks the latter to log in).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

SAFE = {"GET", "HEAD", "OPTIONS"}

# (method pattern, path pattern): refused to coders whatever the object
REFUSED = [
    (r".*", r"/api/(storages|webhooks|invite|import|labels|session-policy)(/.*)?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/ml(/.*)?"),
    (r".*", r"/(admin|django-rq)(/.*)?"),
    (r".*", r"/api/projects/\d+/(import|reimport|tasks/bulk|file-uploads|export|exports)(/.*)?"),
    (r".*", r"/api/auth/exports?(/.*)?"),
    (r".*", r"/projects/\d+/data/(import|export)/?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/organizations(/.*)?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/jwt/settings/?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/projects/?(\d+/?)?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/projects/\d+/(validate|settings)(/.*)?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/tasks/?(\d+/?)?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/predictions(/.*)?"),
    (r"POST|PUT|PATCH|DELETE", r"/api/dm/actions(/.*)?"),
    (r"DELETE", r"/api/annotations/.*"),
    (r"POST|DELETE", r"/api/users/?(\d+/?)?"),
]
REFUSED_RE = [(re.compile(m), re.compile(p)) for m, p in REFUSED]
ALLOWED_ACTIONS = {"next_task"}  # data manager actions a coder may run ("Label All Tasks")

OBJECT_PATHS = {
    "project": re.compile(r"/(?:api/)?projects/(\d+)(?:/.*)?"),
    "task": re.compile(r"/api/tasks/(\d+)(?:/.*)?"),
    "annotation": re.compile(r"/api/annotations/(\d+)(?:/.*)?"),
    "draft": re.compile(r"/api/drafts/(\d+)(?:/.*)?"),
    "prediction": re.compile(r"/api/predictions/(\d+)(?:/.*)?"),
    "view": re.compile(r"/api/dm/views/(\d+)(?:/.*)?"),
}
USER_PATH = re.compile(r"/api/users/(\d+)/?(?:avatar/?)?")


def _deny(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _member(request: HttpRequest):
    """The logged-in user of this request (session, personal access token or legacy token)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Token "):
        from rest_framework.authtoken.models import Token

        token = Token.objects.select_related("user").filter(key=header[6:].strip()).first()
        if token is not None and token.user.is_active:
            return token.user
    return None


def _body(request: HttpRequest) -> dict:
    if request.content_type != "application/json" or not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _organization_of(kind: str, pk: int) -> int | None:
    """The organisation id of the object, or None when there is no such object."""
    from data_manager.models import View
    from projects.models import Project
    from tasks.models import Annotation, AnnotationDraft, Prediction, Task

    lookups = {
        "project": (Project, "organization_id"),
        "task": (Task, "project__organization_id"),
        "annotation": (Annotation, "project__organization_id"),
        "draft": (AnnotationDraft, "task__project__organization_id"),
        "prediction": (Prediction, "project__organization_id"),
        "view": (View, "project__organization_id"),
    }
    model, field = lookups[kind]
    found = model.objects.filter(pk=pk).values_list(field, flat=True).first()
    return found


def _named_objects(request: HttpRequest, body: dict) -> list[tuple[str, int]]:
    named = []
    for kind, pattern in OBJECT_PATHS.items():
        found = pattern.fullmatch(request.path)
        if found:
            named.append((kind, int(found.group(1))))
    for kind in ("project", "task", "view"):
        for value in (request.GET.get(kind), body.get(kind)):
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                named.append((kind, int(value)))
    return named


def _on_behalf_of_another(request: HttpRequest, user, body: dict) -> bool:
    """True for an annotation or draft written for someone else, or someone else's edited."""
    from tasks.models import Annotation, AnnotationDraft

    if request.method in SAFE:
        return False
    author = body.get("completed_by", user.id)
    if isinstance(author, dict):
        author = author.get("id")
    if author not in (None, user.id, str(user.id)):
        return True
    if body.get("user") not in (None, user.id, str(user.id)):
        return True
    for kind, model, owner_field in (("annotation", Annotation, "completed_by_id"),
                                     ("draft", AnnotationDraft, "user_id")):
        found = OBJECT_PATHS[kind].fullmatch(request.path)
        if found:
            owner = model.objects.filter(pk=int(found.group(1))).values_list(
                owner_field, flat=True).first()
            if owner is not None and owner != user.id:
                return True
    return False


def _user_change_refused(request: HttpRequest, user, body: dict) -> bool:
    found = USER_PATH.fullmatch(request.path)
    if not found or request.method in SAFE:
        return False
    if int(found.group(1)) != user.id:
        return True
    wanted = body.get("active_organization")
    return wanted is not None and str(wanted) != str(user.active_organization_id)


def check(request: HttpRequest, user) -> HttpResponse | None:
    """None if a coder's request may go on, else the refusal (pure apart from lookups)."""
    from organizations.models import OrganizationMember

    memberships = list(
        OrganizationMember.objects.filter(user=user, deleted_at__isnull=True)
        .order_by("pk").values_list("organization_id", flat=True))
    if not memberships:
        return _deny(403, "You are not a member of any space on this server.")
    if user.active_organization_id not in memberships:
        user.active_organization_id = memberships[0]
        user.save(update_fields=["active_organization"])
    for method, path in REFUSED_RE:
        if method.fullmatch(request.method or "") and path.fullmatch(request.path):
            if request.path.startswith("/api/dm/actions") and \
                    request.GET.get("id") in ALLOWED_ACTIONS:
                continue
            return _deny(403, "Not allowed for coders on this server.")
    body = _body(request)
    for kind, pk in _named_objects(request, body):
        organization = _organization_of(kind, pk)
        if organization is not None and organization != user.active_organization_id:
            return _deny(404, "Not found.")
    if _on_behalf_of_another(request, user, body):
        return _deny(403, "You can only write your own annotations.")
    if _user_change_refused(request, user, body):
        return _deny(403, "You can only change your own account, and not its space.")
    return None


class SpaceGuardMiddleware:
    """Keeps every coder's request inside their own space (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = _member(request)
        if user is not None and not user.is_superuser:
            refusal = check(request, user)
            if refusal is not None:
                return refusal
        return self.get_response(request)
