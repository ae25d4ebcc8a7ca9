"""Views of the study's own Label Studio that come before Label Studio's own URLs.

- `clip`: the study's clips at /data/local-files/?d=<file name>, to a logged-in member of the
  organisation of a project with a task showing that clip, with HTTP Range. Only a regular file
  (not a symlink) directly in CODING_PIPELINE_LS_CLIPS_DIR; anything else is a bare 404.
- `spaces`: the admin's way to list and make coders' spaces (one organisation each);
  `open_space`: the admin's browser looks into one of them.
- `export`: the admin's quick export of one project, for `pull`: the tasks and every field of
  their annotations as Label Studio's JSON export gives them, in four queries (Label Studio's
  own export makes a few per task, about 4 ms each, so a lab server's pull took minutes).
- `signup`: Label Studio's sign-up page, where a coder's own invite link lands them in their
  own space (and only the email that space is for can use it).
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import stat
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from ranged_fileresponse import RangedFileResponse
from rest_framework.decorators import api_view, permission_classes
from rest_framework.fields import DateTimeField
from rest_framework.permissions import IsAuthenticated

from coding_pipeline.labelstudio.ls_site import label_studio as ls

CLIP_NAME = re.compile(r"(?:clips/)?([A-Za-z0-9][A-Za-z0-9_.-]{0,200})")
LOCAL_FILES_PREFIX = "/data/local-files/?d="
EXPORT_HEADER = "X-Coding-Pipeline-Export"  # says the answer is this view's, not a stock page
TASK_FIELDS = ("id", "data", "meta", "created_at", "updated_at", "inner_id", "project")


def clip_urls(name: str) -> list[str]:
    """The task URLs that show clip file `name` (as pushed now, and as pushed before spaces)."""
    return [f"{LOCAL_FILES_PREFIX}{name}", f"{LOCAL_FILES_PREFIX}clips/{name}"]


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def clip(request) -> HttpResponse:
    """Serve one clip of the requester's own projects, with HTTP Range; plain 404 otherwise."""
    found = CLIP_NAME.fullmatch(request.GET.get("d", ""))
    user = request.user
    if found is None or ".." in found.group(1) or not settings.CLIPS_DIR:
        raise Http404()
    name = found.group(1)
    tasks = ls.Task.objects.filter(data__video__in=clip_urls(name))
    if not user.is_superuser:
        tasks = tasks.filter(project__organization_id=user.active_organization_id)
    if not tasks.exists():
        raise Http404()
    path = Path(settings.CLIPS_DIR) / name
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise Http404() from None
    handle = os.fdopen(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise Http404()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return RangedFileResponse(request, handle, content_type=content_type)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def export(request, project_id: int) -> HttpResponse:
    """A project's tasks, each with its annotations (every field, as in Label Studio's JSON
    export: foreign keys as ids, times as its API writes them), its drafts (but their
    "created ago" texts) and its predictions' ids; in task id order. For the admin account
    only (anyone else gets 404)."""
    if not request.user.is_superuser or not ls.Project.objects.filter(id=project_id).exists():
        raise Http404()
    tasks = {row["id"]: {**_plain(row), "annotations": [], "drafts": [], "predictions": []}
             for row in ls.Task.objects.filter(project_id=project_id).order_by("id")
             .values(*TASK_FIELDS)}
    annotations = ls.Annotation.objects.filter(project_id=project_id)
    drafts = ls.AnnotationDraft.objects.filter(task__project_id=project_id)
    by_email = {"user_id": "user__email"}  # the export names a draft's author by email
    for key, queryset, fields in (("annotations", annotations, _fields(ls.Annotation)),
                                  ("drafts", drafts, _fields(ls.AnnotationDraft, by_email))):
        for row in queryset.order_by("id").values(*fields):
            record = {fields[column]: value for column, value in _plain(row).items()}
            if record["task"] in tasks:
                tasks[record["task"]][key].append(record)
    for task_id, item_id in (ls.Prediction.objects.filter(task__project_id=project_id)
                             .order_by("id").values_list("task_id", "id")):
        if task_id in tasks:
            tasks[task_id]["predictions"].append(item_id)
    response = HttpResponse(json.dumps(list(tasks.values()), ensure_ascii=False),
                            content_type="application/json")
    response[EXPORT_HEADER] = "1"
    return response


_TIME = DateTimeField()


def _fields(model, replaced: dict[str, str] | None = None) -> dict[str, str]:
    """values() column -> export name for every concrete field of `model` (foreign keys as
    their ids under the field's name); `replaced` swaps a column for another (same name)."""
    columns = {f.attname: f.name for f in model._meta.concrete_fields}
    for column, other in (replaced or {}).items():
        columns[other] = columns.pop(column)
    return columns


def _plain(row: dict) -> dict:
    """A row of values() as JSON-ready as Label Studio's serializers make it."""
    return {key: _TIME.to_representation(value) if isinstance(value, datetime)
            else str(value) if isinstance(value, uuid.UUID) else value
            for key, value in row.items()}


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def spaces(request) -> HttpResponse:
    """GET: every coder's space. POST {"coder": email, "projects": [ids]}: make sure that coder
    has a space (and is a member of it only), move the projects given into it; return it.
    For the admin account only (anyone else gets 404)."""
    from coding_pipeline.labelstudio.ls_site import space_models

    if not (request.user.is_superuser and settings.CODER_SPACES):
        raise Http404()
    if request.method == "GET":
        return JsonResponse({"spaces": [space_models.describe(org)
                                        for org in space_models.all_spaces()]})
    coder = str(request.data.get("coder", "")).strip().lower()
    if "@" not in coder:
        return JsonResponse({"detail": "coder must be an email address"}, status=400)
    projects = [int(p) for p in request.data.get("projects", []) if str(p).isdigit()]
    org = space_models.ensure_space(coder, projects)
    return JsonResponse(space_models.describe(org))


def open_space(request: HttpRequest, space_id: int) -> HttpResponse:
    """The admin's browser switches to one coder's space (to look at its projects); 404 for
    anyone else, or for a space the admin is not a member of."""
    from django.shortcuts import redirect

    user = request.user
    if not (user.is_authenticated and user.is_superuser and settings.CODER_SPACES):
        raise Http404()
    member = ls.OrganizationMember.objects.filter(
        user=user, organization_id=space_id, deleted_at__isnull=True).first()
    if member is None:
        raise Http404()
    user.active_organization_id = space_id
    user.save(update_fields=["active_organization"])
    return redirect("/projects/")


@ls.enforce_csrf_checks
def signup(request: HttpRequest) -> HttpResponse:
    """Label Studio's sign-up page; a coder space's link signs that space's coder up into it.

    In a server with coder spaces, only a space's link signs anyone up, and only with the email
    that space is for; elsewhere Label Studio's own rules apply (its one invite link).
    """
    from coding_pipeline.labelstudio.ls_site import space_models

    token = request.GET.get("token", "")
    space = space_models.space_by_token(token) if token else None
    if request.method != "POST" or (space is None and not settings.CODER_SPACES):
        return ls.user_signup(request)
    if space is None:
        return HttpResponseForbidden("This sign-up link is not valid: ask for a new one.")
    if request.user.is_authenticated:
        return ls.user_signup(request)  # Label Studio sends a logged-in user on
    email = request.POST.get("email", "").strip().lower()
    if email != (space.contact_info or "").lower():
        return HttpResponseForbidden(
            "This sign-up link is for another email address: ask for your own link.")
    return space_models.sign_up(request, space)
