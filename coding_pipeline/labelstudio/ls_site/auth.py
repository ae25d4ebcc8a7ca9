"""API authentication of the study's own Label Studio: the admin's token, one space at a time.

The admin account (a superuser, member of every coder's organisation) may send the header
X-Coding-Pipeline-Space: <organisation id> with its API token; that request then acts in that
organisation (as its active organisation, in memory only: nothing is saved, so concurrent
commands and the admin's browser do not disturb each other). Anyone else's header is ignored.
"""

from __future__ import annotations

from coding_pipeline.labelstudio.ls_site import label_studio as ls

SPACE_HEADER = "HTTP_X_CODING_PIPELINE_SPACE"


def act_in_space(user, request) -> None:
    """Switch a superuser's active organisation for this request if the header asks for one."""
    wanted = request.META.get(SPACE_HEADER, "")
    if not (wanted.isdigit() and user.is_superuser):
        return
    member = ls.OrganizationMember.objects.filter(
        user=user, organization_id=int(wanted), deleted_at__isnull=True,
    ).select_related("organization").first()
    if member is not None:
        user.active_organization = member.organization


class SpaceTokenAuthentication(ls.TokenAuthenticationPhaseout):
    """Label Studio's token authentication, plus the admin's X-Coding-Pipeline-Space header."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            act_in_space(result[0], request)
        return result
