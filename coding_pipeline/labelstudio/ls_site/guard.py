"""The coder guard of the study's own Label Studio: allow what a coder needs, refuse the rest.

`CoderGuardMiddleware.process_view` runs after Django has resolved the URL and before the view:
1. Who is calling is decided as the view itself will decide it: a Django REST framework view's
   own authenticators (Label Studio's legacy token in any spelling it accepts, its personal
   access tokens, the session) run on the request; other views see the session's user (or the
   personal-access-token user Label Studio's middleware set). A request carrying credentials
   that fail is refused (401).
2. A route of ls_site.allow.NEVER_SERVED answers as listed there, to everyone. A superuser
   (the study's admin) and an anonymous visitor go on unchanged (Label Studio asks
   the latter to log in). Everyone else is a coder: their active organisation is kept to one
   they are a member of, and their request goes on only if its route and method are in
   ls_site.allow.CODER_ROUTES and every object it names is theirs (`ownership.check_request`).
   Anything else answers 403 (a route or method not listed) or 404 (someone else's object).
3. As a last line, while a coder's request runs, Label Studio cannot save an annotation or draft
   that is not the coder's own in their own space, nor delete an annotation
   (`ownership.guard_rating`, on Django's pre_save and pre_delete signals).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db.models.signals import pre_delete, pre_save
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from coding_pipeline.labelstudio.ls_site import allow, ownership
from coding_pipeline.labelstudio.ls_site import label_studio as ls
from coding_pipeline.labelstudio.ls_site.ownership import Refusal

LOG = logging.getLogger("coding_pipeline.coder_guard")
CURRENT_CODER: contextvars.ContextVar = contextvars.ContextVar("coding_pipeline_coder",
                                                               default=None)


def route_name(request: HttpRequest) -> str:
    """The allow-list's name of the route a request resolved to: its URL name with namespaces,
    or the view's dotted path where it has no name (Django's own `view_name`)."""
    return request.resolver_match.view_name


def _api_view_class(view_func: Callable) -> type[APIView] | None:
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return view_class if isinstance(view_class, type) and issubclass(view_class, APIView) else None


def identify(request: HttpRequest, view_func: Callable):
    """The user this request acts as, decided as the view will decide it (see the module
    docstring); raises APIException when the credentials it carries fail."""
    view_class = _api_view_class(view_func)
    if view_class is None and "HTTP_AUTHORIZATION" not in request.META:
        return request.user
    session_user = request.user  # the session's, or a personal access token's (middleware)
    if view_class is not None:
        view = view_class(**getattr(view_func, "initkwargs", {}))
        authenticators = view.get_authenticators()
    else:
        authenticators = [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    user = Request(request, authenticators=authenticators).user  # sets request.user too
    if user is not None and user.is_authenticated:
        return user
    request.user = session_user  # a view that authenticates nobody still serves a coder
    return session_user


def keep_in_own_space(user) -> None:
    """Set the coder's active organisation back to a membership of theirs; none: refused."""
    memberships = list(
        ls.OrganizationMember.objects.filter(user=user, deleted_at__isnull=True)
        .order_by("pk").values_list("organization_id", flat=True))
    if not memberships:
        raise Refusal(403, "You are not a member of any space on this server.")
    if user.active_organization_id not in memberships:
        user.active_organization_id = memberships[0]
        user.save(update_fields=["active_organization"])


def check_coder(request: HttpRequest, user) -> None:
    """Raise Refusal unless this coder's request is listed and names only their objects."""
    keep_in_own_space(user)
    route = allow.find_route(route_name(request), request.method or "")
    if route is None:
        raise Refusal(403, "Not allowed for coders on this server.")
    ownership.check_request(request, user, route)


def _refusal(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


class CoderGuardMiddleware:
    """Django middleware: every coder's request passes the allow-list (module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        for model in (ls.Annotation, ls.AnnotationDraft):
            pre_save.connect(_guard_save, sender=model, dispatch_uid=f"coder-guard-{model}")
        pre_delete.connect(_guard_delete, sender=ls.Annotation, dispatch_uid="coder-guard-del")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = CURRENT_CODER.set(None)
        try:
            return self.get_response(request)
        finally:
            CURRENT_CODER.reset(token)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: tuple,
                     view_kwargs: dict) -> HttpResponse | None:
        if route_name(request) in allow.NEVER_SERVED:
            return _refusal(allow.NEVER_SERVED[route_name(request)], "Not available.")
        try:
            user = identify(request, view_func)
        except APIException as exc:
            return _refusal(401 if exc.status_code == 401 else exc.status_code,
                            str(exc.detail))
        if user is None or not user.is_authenticated or user.is_superuser:
            return None
        try:
            check_coder(request, user)
        except Refusal as refusal:
            LOG.warning("refused %s %s (route %s) to user %s: %s", request.method, request.path,
                        route_name(request), user.id, refusal.detail)
            return _refusal(refusal.status, refusal.detail)
        CURRENT_CODER.set(user)
        return None


def _guard_save(sender, instance, **kwargs) -> None:
    coder = CURRENT_CODER.get()
    if coder is not None and not ownership.own_rating(instance, coder):
        raise PermissionDenied("You can only write your own ratings.")


def _guard_delete(sender, instance, **kwargs) -> None:
    if CURRENT_CODER.get() is not None:
        raise PermissionDenied("Coders cannot delete ratings.")
