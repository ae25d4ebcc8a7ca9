"""The guard's contract with Label Studio: every route it allows and every internal it uses
still exists in the installed Label Studio, and only tested versions run.

Read from the server's own URL configuration and Django apps (in a process of their own, as the
server loads them): a Label Studio upgrade that renames a route, moves a path argument, or moves
a model, form or view fails here before it can make the guard refuse coders' screens or miss a
check.
"""

from __future__ import annotations

import pytest
from guard_replay import dump_server

from coding_pipeline.labelstudio.ls_site import allow, ownership
from coding_pipeline.labelstudio.versions import (
    SUPPORTED_LABEL_STUDIO_VERSIONS,
    installed_label_studio_version,
    unsupported_version,
)

pytestmark = pytest.mark.labelstudio


@pytest.fixture(scope="module")
def server():
    return dump_server()


def test_every_allowed_route_exists_with_the_arguments_the_guard_checks(server):
    arguments: dict[str, set[str]] = {}
    for route in server["routes"] + dump_server(coder_spaces=False)["routes"]:
        arguments.setdefault(route["name"], set()).update(route["kwargs"])
    for route in allow.CODER_ROUTES:
        assert route.name in arguments, f"{route.name} is not a route of this Label Studio"
        missing = set(route.objects) - arguments[route.name]
        assert not missing, f"{route.name} has no path argument {missing}"
        assert not route.check or route.check in ownership.CHECKS, route.check
        assert route.methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
    for name in allow.NEVER_SERVED:
        assert name in arguments, f"{name} is not a route of this Label Studio"


def test_every_label_studio_internal_the_site_uses_resolves(server):
    broken = {name: error for name, error in server["internals"].items() if error}
    assert broken == {}
    assert set(server["internals"]) >= {"Project", "Task", "Annotation", "AnnotationDraft"}


def test_only_tested_label_studio_versions_run():
    assert installed_label_studio_version() in SUPPORTED_LABEL_STUDIO_VERSIONS
    assert unsupported_version(installed_label_studio_version()) is None
    refused = unsupported_version("1.24.0")
    assert refused is not None and "1.24.0" in refused and "1.23.2" in refused
