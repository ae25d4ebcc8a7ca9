"""What a coder may ask of the study's own Label Studio: the whole list, in one place.

A coder is any logged-in member who is not a superuser (the study's admin is one). A coder's
request is let through only when its route (Django's URL name, or the view's dotted path for the
few unnamed static routes) and method are listed here; every other route answers 403, including
any that a later Label Studio adds. Format suffixes (`.json`) and trailing-slash variants resolve
to the same route, so to the same decision. `GET` includes `HEAD`.

`objects` says what each path argument names; ls_site.guard checks that it is the coder's own
(in their space; for `own_annotation`/`own_draft` also written by them; `self` is their account).
`check` names a further rule of the guard (see `guard.CHECKS`). Besides, wherever a request
names a project, task, view, annotation, draft, prediction, organisation or author (query,
JSON, form or multipart body, in any spelling of the number), the guard checks that too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """A route a coder may use: its name, methods, what its path arguments name, and why."""

    name: str
    methods: frozenset[str]
    why: str
    objects: dict[str, str] = field(default_factory=dict)
    check: str = ""


def _route(name: str, methods: str, why: str, objects: dict[str, str] | None = None,
           check: str = "") -> Route:
    verbs = set(methods.split())
    if "GET" in verbs:
        verbs.add("HEAD")
    return Route(name, frozenset(verbs), why, objects or {}, check)


PROJECT, TASK = {"pk": "project"}, {"pk": "task"}

CODER_ROUTES: tuple[Route, ...] = (
    # pages and the assets they load
    _route("main", "GET", "the start page"),
    _route("projects:project-index", "GET", "the list of the coder's projects"),
    _route("data_manager:project-data", "GET", "a project's task list, 'Label All Tasks'",
           PROJECT),
    _route("user-account", "GET", "the coder's account page"),
    _route("user-account-anything", "GET", "the account page's tabs"),
    _route("user-login", "GET POST", "logging in (a logged-in member is sent on)"),
    _route("coding-pipeline-signup", "GET POST", "the sign-up page (sent on when logged in)"),
    _route("logout", "GET POST", "logging out"),
    _route("core.utils.static_serve.serve", "GET", "the web app's scripts and styles"),
    _route("core.views.serve_file", "GET", "the service worker and fonts"),
    _route("django.views.generic.base.RedirectView", "GET", "the favicon"),
    _route("version", "GET", "the version the web app reads (/version/ and /api/version/)"),
    _route("health", "GET", "the health check"),
    # the coder's account
    _route("current-user-whoami", "GET", "who is logged in"),
    _route("current-user-token", "GET", "the coder's own legacy token (it is held to this list)"),
    _route("current-user-hotkeys", "GET", "the labeling screen's hotkeys"),
    _route("product-tour", "GET PATCH", "the web app's own tours, per user"),
    _route("user-list", "GET", "members of the coder's space (the coder and the admin)"),
    _route("user-detail", "GET", "a member of the coder's space", {"pk": "member"}),
    _route("user-detail", "PATCH", "the coder's own name", {"pk": "self"}, check="own_name"),
    _route("organizations:api:organization-list", "GET", "the coder's space"),
    _route("organizations:api:organization-detail", "GET", "the coder's space",
           {"pk": "organization"}),
    _route("organizations:api:organization-memberships-list", "GET",
           "the members of the coder's space", {"pk": "organization"}),
    # projects, tasks, the data manager
    _route("projects:api:project-list", "GET", "the coder's projects"),
    _route("projects:api:project-counts-list", "GET", "the coder's projects with counts"),
    _route("projects:api:project-detail", "GET", "one of the coder's projects", PROJECT),
    _route("projects:api:project-next", "GET", "the next task to rate", PROJECT),
    _route("projects:api:label-stream-history", "GET", "the coder's labeling history",
           PROJECT),
    _route("projects:api:project-tasks-list", "GET", "a project's tasks", PROJECT),
    _route("tasks:api:task-list", "GET", "the data manager's task list"),
    _route("tasks:api:task-detail", "GET", "one task of the coder's", TASK),
    _route("data_manager:api:view-list", "GET", "the data manager's tabs"),
    _route("data_manager:api:view-detail", "GET", "one data manager tab", {"pk": "view"}),
    _route("data_manager:dm-columns", "GET", "the data manager's columns"),
    _route("data_manager:dm-project", "GET", "the data manager's project"),
    _route("data_manager:dm-actions", "GET", "the data manager's action list"),
    _route("data_manager:dm-actions", "POST", "'Label All Tasks' (next_task only)",
           check="next_task"),
    _route("ml:api:ml-list", "GET", "the labeling screen asks for ML backends (none)"),
    _route("labels_manager:api-labels:label_link-list", "GET",
           "the labeling screen asks for the space's label links (none)"),
    # rating: the coder's own annotations and drafts only
    _route("tasks:api:task-annotations", "GET", "a task's annotations", TASK),
    _route("tasks:api:task-annotations", "POST", "submitting a rating", TASK),
    _route("tasks:api:task-drafts", "GET POST", "a task's drafts (kept while rating)", TASK),
    _route("tasks:api:task-annotations-drafts", "POST", "a draft of the coder's own rating",
           {"pk": "task", "annotation_id": "own_annotation"}),
    _route("tasks:api-annotations:annotation-detail", "GET", "an annotation",
           {"pk": "annotation"}),
    _route("tasks:api-annotations:annotation-detail", "PATCH", "changing the coder's own rating",
           {"pk": "own_annotation"}),
    _route("tasks:api-drafts:draft-detail", "GET PATCH DELETE", "the coder's own draft",
           {"pk": "own_draft"}),
    # clips: only files that the coder's own tasks show, as pushed
    _route("coding-pipeline-clip", "GET", "the study's clips (the view checks the task)"),
    _route("storages:localfiles_data", "GET", "clips by local-files URL (a server given a "
           "document root)", check="own_clip"),
    _route("data_import:data-upload", "GET", "uploaded clips", check="own_clip"),
    _route("storages:task-storage-data-resolve", "GET", "S3 clips of the task",
           {"task_id": "task"}, check="own_storage_uri"),
    _route("storages:task-storage-data-presign", "GET", "S3 clips of the task",
           {"task_id": "task"}, check="own_storage_uri"),
)

# routes no one is served, the admin included: Label Studio's "tips" fetch content from the
# internet at request time (a server of families' videos makes no outside calls); answered as
# Label Studio answers them when offline, so its pages show no error
NEVER_SERVED = {"heidi_tips": 404}

# names a request can use for an object, in the query or the body -> the kind of object
REFERENCE_KEYS = {
    "project": "project", "project_id": "project",
    "task": "task", "task_id": "task",
    "view": "view", "view_id": "view", "tabID": "view",
    "annotation": "annotation", "annotation_id": "annotation", "parent_annotation": "annotation",
    "draft": "draft", "draft_id": "draft",
    "prediction": "prediction", "parent_prediction": "prediction",
    "organization": "organization", "active_organization": "organization",
}
# names of an author or owner: in a write they can only be the coder
AUTHOR_KEYS = ("completed_by", "updated_by", "created_by", "user", "user_id", "owner")
NAME_FIELDS = frozenset({"first_name", "last_name"})  # what a coder may change of their account


def routes_by_name() -> dict[str, list[Route]]:
    """CODER_ROUTES grouped by route name."""
    grouped: dict[str, list[Route]] = {}
    for route in CODER_ROUTES:
        grouped.setdefault(route.name, []).append(route)
    return grouped


def find_route(name: str, method: str) -> Route | None:
    """The listed route for this name and method, or None (refused)."""
    return next((r for r in _BY_NAME.get(name, ()) if method in r.methods), None)


_BY_NAME = routes_by_name()
