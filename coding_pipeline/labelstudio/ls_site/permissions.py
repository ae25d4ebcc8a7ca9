"""Object permissions of the study's own Label Studio: a project belongs to one coder's space.

Label Studio Community's ProjectMixin.has_permission lets every member reach every project
("LSO always runs a single organization"). Here a project, and through it its tasks,
annotations, drafts, predictions, comments and storages, is reachable only from the
organisation it is in (the requester's active organisation, which the guard middleware keeps to
one they are a member of), or by a superuser (the study's admin account).
"""

from __future__ import annotations

from coding_pipeline.labelstudio.ls_site import label_studio as ls


class SpaceProjectMixin(ls.ProjectMixin):
    """ProjectMixin whose has_permission also requires the requester's own organisation."""

    def has_permission(self, user) -> bool:
        if not super().has_permission(user):
            return False
        return bool(user.is_superuser) or self.organization_id == user.active_organization_id
