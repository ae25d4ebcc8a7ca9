"""Coders' spaces in the study's own Label Studio: one organisation per coder, made with Label
Studio's own models inside the server's process.

A space is an Organization whose contact_info is the coder's email. Its members are that coder
(once signed up, through the space's own invite link) and every superuser (the study's admin).
Its created_by, which Label Studio's code reads in many places, is a login-less owner account
made for that space alone (Label Studio allows one organisation per creator).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.shortcuts import render, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from coding_pipeline.labelstudio.ls_site import label_studio as ls

TITLE = "Coder space: {email}"
OWNER_DOMAIN = "owner.coding-pipeline.invalid"


def first_organization() -> ls.Organization:
    """The admin's own organisation, made at the server's first start."""
    return ls.Organization.objects.order_by("pk").first()


def all_spaces() -> list[ls.Organization]:
    """Every coder's space, oldest first."""
    return list(ls.Organization.objects.exclude(contact_info__isnull=True)
                .exclude(contact_info="").filter(title__startswith="Coder space: ")
                .order_by("pk"))


def space_of(email: str) -> ls.Organization | None:
    """The space of the coder with this email, if there is one."""
    return next((org for org in all_spaces() if org.contact_info.lower() == email.lower()), None)


def space_by_token(token: str) -> ls.Organization | None:
    """The space whose invite token this is (not the admin's own organisation)."""
    return next((org for org in all_spaces() if org.token == token), None)


def describe(org: ls.Organization) -> dict:
    """A space as the admin's tools read it."""
    members = ls.OrganizationMember.objects.filter(
        organization=org, deleted_at__isnull=True).select_related("user")
    return {
        "id": org.id, "title": org.title, "coder": org.contact_info.lower(), "token": org.token,
        "members": sorted(({"id": m.user.id, "email": m.user.email.lower()} for m in members),
                          key=lambda member: member["email"]),
        "projects": [{"id": p.id, "title": p.title}
                     for p in ls.Project.objects.filter(organization=org).order_by("pk")],
    }


def _owner() -> ls.User:
    owner = ls.User.objects.create_user(
        email=f"space-{secrets.token_hex(8)}@{OWNER_DOMAIN}", password=None)
    owner.set_unusable_password()
    owner.is_active = False
    owner.save()
    return owner


def _jwt_like_first(org: ls.Organization) -> None:
    """Token settings as in the admin's organisation (legacy tokens on, as the admin uses one)."""
    first = first_organization()
    if hasattr(first, "jwt") and hasattr(org, "jwt"):
        org.jwt.api_tokens_enabled = first.jwt.api_tokens_enabled
        org.jwt.legacy_api_tokens_enabled = first.jwt.legacy_api_tokens_enabled
        org.jwt.save()


def _join_only(user: ls.User, org: ls.Organization) -> None:
    """Make a coder a member of their own space only, and active there."""
    ls.OrganizationMember.objects.filter(user=user).exclude(organization=org).delete()
    org.add_user(user)
    ls.OrganizationMember.objects.filter(user=user, organization=org).update(deleted_at=None)
    user.active_organization = org
    user.save(update_fields=["active_organization"])


def ensure_space(email: str, project_ids: list[int]) -> ls.Organization:
    """The coder's space (made if needed), with every superuser a member, the coder (if signed
    up) a member of it only, and the projects given moved into it."""
    with transaction.atomic():
        org = space_of(email)
        if org is None:
            org = ls.Organization.objects.create(
                title=TITLE.format(email=email), created_by=_owner(), contact_info=email)
            _jwt_like_first(org)
        for admin in ls.User.objects.filter(is_superuser=True):
            org.add_user(admin)
        coder = ls.User.objects.filter(email__iexact=email).first()
        if coder is not None and not coder.is_superuser:
            _join_only(coder, org)
        if project_ids:
            ls.Project.objects.filter(pk__in=project_ids).update(organization=org)
    return org


def sign_up(request, space: ls.Organization):
    """Label Studio's sign-up, landing the new coder in their own space only."""
    next_page = request.GET.get("next")
    if not next_page or not url_has_allowed_host_and_scheme(
            url=next_page, allowed_hosts=request.get_host()):
        next_page = reverse("projects:project-index")
    user_form = ls.user_forms.UserSignupForm(request.POST)
    if not user_form.is_valid():
        return render(request, "users/new-ui/user_signup.html", {
            "user_form": user_form, "organization_form": ls.OrganizationSignupForm(),
            "next": next_page, "token": space.token,
            "found_us_options": ls.user_forms.FOUND_US_OPTIONS,
            "elaborate": ls.user_forms.FOUND_US_ELABORATE,
        }, status=400)
    with transaction.atomic():
        user = user_form.save()
        user.username = user.email.split("@")[0]
        user.save()
        _join_only(user, space)
    ls.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    from django.shortcuts import redirect

    return redirect(next_page)
