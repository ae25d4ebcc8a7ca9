"""Every piece of Label Studio's internals the study's site uses, named in one table.

The rest of ls_site reaches Label Studio only through this module (`ls.Project`,
`ls.user_signup`, ...), so a Label Studio upgrade that moves a model, a view or a form breaks
here, where tests/labelstudio/test_ls_guard_contract.py checks every name, and nowhere else.
Names are imported when first used: some (the models) exist only once Django has loaded its
apps, while `ProjectMixin` is needed while it loads them (settings.PROJECT_MIXIN).

The server also refuses to start with a Label Studio version it was not tested with
(`check_version`, run by ls_site.settings; the launcher checks the same list,
coding_pipeline.labelstudio.versions, before it starts a server).
"""

from __future__ import annotations

import importlib
from typing import Any

from coding_pipeline.labelstudio.versions import (
    installed_label_studio_version,
    unsupported_version,
)

# name used in ls_site -> (Label Studio module, attribute)
INTERNALS: dict[str, tuple[str, str]] = {
    "Project": ("projects.models", "Project"),
    "ProjectMixin": ("projects.mixins", "ProjectMixin"),
    "Task": ("tasks.models", "Task"),
    "Annotation": ("tasks.models", "Annotation"),
    "AnnotationDraft": ("tasks.models", "AnnotationDraft"),
    "Prediction": ("tasks.models", "Prediction"),
    "View": ("data_manager.models", "View"),
    "Organization": ("organizations.models", "Organization"),
    "OrganizationMember": ("organizations.models", "OrganizationMember"),
    "OrganizationSignupForm": ("organizations.forms", "OrganizationSignupForm"),
    "User": ("users.models", "User"),
    "user_forms": ("users", "forms"),
    "user_signup": ("users.views", "user_signup"),
    "login": ("users.functions", "login"),
    "enforce_csrf_checks": ("core.middleware", "enforce_csrf_checks"),
    "TokenAuthenticationPhaseout": ("jwt_auth.auth", "TokenAuthenticationPhaseout"),
}


def __getattr__(name: str) -> Any:
    """`ls.Project` etc.: the Label Studio object named in INTERNALS, imported on first use."""
    if name not in INTERNALS:
        raise AttributeError(f"{__name__} has no Label Studio name {name!r} (see INTERNALS)")
    module, attribute = INTERNALS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def check_version() -> None:
    """Refuse (RuntimeError, before any request is served) an untested Label Studio."""
    problem = unsupported_version(installed_label_studio_version())
    if problem is not None:
        raise RuntimeError(problem)
