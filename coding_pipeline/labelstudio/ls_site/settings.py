"""Django settings of the study's own Label Studio: Label Studio's own, then hardened.

Read from the environment the launcher (coding_pipeline.labelstudio.server) sets:
- CODING_PIPELINE_LS_URL: the address served, e.g. http://127.0.0.1:48333. Only its host name is
  an allowed Host header (a forged one gets 400) and only its origin a trusted CSRF origin.
- CODING_PIPELINE_LS_EXTRA_HOSTS: more host names it answers to (comma-separated), for a server
  listening on every address.
- CODING_PIPELINE_LS_PUBLIC_URL: the https:// address remote coders open (a TLS reverse proxy in
  front): its host is allowed, its origin trusted for CSRF, and cookies are sent over HTTPS only.
- CODING_PIPELINE_LS_CLIPS_DIR: the study's clips folder. When set, Label Studio's local-files
  storage and serving are off (nobody can add a storage on any folder) and
  ls_site.views.clip serves the clips of the requester's own projects at /data/local-files/?d=.
  Then the server also keeps one organisation per coder ("coder spaces", ls_site.space_models)
  and signs coders up only through their own space's link. When unset (a server started with an
  explicit document root, as the test suite's shared server is), local files are served by
  Label Studio as configured, in its one organisation.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from urllib.parse import urlsplit

# a Label Studio version the guard was not tested with does not start (its routes may differ)
from coding_pipeline.labelstudio.ls_site.label_studio import check_version  # noqa: E402

check_version()

# Label Studio imports its own modules as top-level packages (core, users, ...), as
# label_studio.server does for `label-studio start`; do the same for any other launcher (WSGI).
_LS_PATH = os.path.dirname(importlib.util.find_spec("label_studio").origin)
if _LS_PATH not in sys.path:
    sys.path.insert(0, _LS_PATH)

# Label Studio's own settings, run in this module's namespace rather than imported: they read
# django.conf.settings while they load (error reporting's set-up), which must then find this
# very module, part-filled, as it would find Label Studio's own.
_LS_SETTINGS = importlib.util.find_spec("label_studio.core.settings.label_studio").origin
with open(_LS_SETTINGS, encoding="utf-8") as _source:
    exec(compile(_source.read(), _LS_SETTINGS, "exec"))  # noqa: S102

SERVED_URL = os.environ.get("CODING_PIPELINE_LS_URL", "").rstrip("/")
CLIPS_DIR = os.environ.get("CODING_PIPELINE_LS_CLIPS_DIR", "")
CODER_SPACES = bool(CLIPS_DIR)  # one organisation per coder (see ls_site.space_models)


def _hosts(url: str, extra: str) -> list[str]:
    """Host names the server answers to: the served URL's, localhost for a loopback one, extras."""
    hosts = []
    if url:
        name = urlsplit(url).hostname or ""
        hosts.append(f"[{name}]" if ":" in name else name)
        if name in ("127.0.0.1", "::1", "localhost"):
            hosts.append("localhost")
    hosts += [h.strip() for h in extra.split(",") if h.strip()]
    return list(dict.fromkeys(hosts))


def _origins(url: str, hosts: list[str]) -> list[str]:
    if not url:
        return []
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return [f"{parts.scheme}://{host}{port}" for host in hosts]


if SERVED_URL:
    ALLOWED_HOSTS = _hosts(SERVED_URL, os.environ.get("CODING_PIPELINE_LS_EXTRA_HOSTS", ""))
    CSRF_TRUSTED_ORIGINS = _origins(SERVED_URL, ALLOWED_HOSTS)
    CORS_ALLOW_ALL_ORIGINS = False
    CORS_ALLOWED_ORIGINS = CSRF_TRUSTED_ORIGINS
    _secure = SERVED_URL.startswith("https://")
    SESSION_COOKIE_SECURE = _secure
    CSRF_COOKIE_SECURE = _secure

# remote coders reach the server at a public https:// address, through a TLS reverse proxy
# (coding_pipeline.labelstudio.deploy); gunicorn trusts X-Forwarded-Proto from FORWARDED_ALLOW_IPS
PUBLIC_URL = os.environ.get("CODING_PIPELINE_LS_PUBLIC_URL", "").rstrip("/")
if PUBLIC_URL:
    ALLOWED_HOSTS = list(dict.fromkeys([*ALLOWED_HOSTS, urlsplit(PUBLIC_URL).hostname]))  # noqa: F821
    CSRF_TRUSTED_ORIGINS = list(dict.fromkeys([*CSRF_TRUSTED_ORIGINS, PUBLIC_URL]))  # noqa: F821
    CORS_ALLOW_ALL_ORIGINS = False
    CORS_ALLOWED_ORIGINS = CSRF_TRUSTED_ORIGINS
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

# pages cannot be framed by another site (clickjacking)
X_FRAME_OPTIONS = "DENY"
CSP_FRAME_ANCESTORS = ("'none'",)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# telemetry, version checks and extra organisations over the API: off whatever the environment says
COLLECT_ANALYTICS = False
LATEST_VERSION_CHECK = False
ALLOW_ORGANIZATION_CREATION = False
DISABLE_SIGNUP_WITHOUT_LINK = True

if CLIPS_DIR:
    ENABLE_LOCAL_FILES_STORAGE = False
    LOCAL_FILES_SERVING_ENABLED = False

MIDDLEWARE = [
    *MIDDLEWARE,  # noqa: F821 (set by Label Studio's settings above)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "coding_pipeline.labelstudio.ls_site.guard.CoderGuardMiddleware",
]
if importlib.util.find_spec("coding_pipeline.labelstudio.ls_site.coder_ui") is not None:
    MIDDLEWARE.append("coding_pipeline.labelstudio.ls_site.coder_ui.CoderPageMiddleware")

# a project (and all in it) is reachable from its own organisation only; the admin's token may
# act in one coder's space per request (ls_site.auth)
PROJECT_MIXIN = "coding_pipeline.labelstudio.ls_site.permissions.SpaceProjectMixin"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F821
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "coding_pipeline.labelstudio.ls_site.auth.SpaceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ),
}

ROOT_URLCONF = "coding_pipeline.labelstudio.ls_site.urls"
