"""The Label Studio versions the pipeline was tested with, in one place.

The launcher (server.start_server) and the server's own settings (ls_site.settings) refuse any
other: the study's server reaches into Label Studio's internals, which change between versions.
Reads only package metadata (no Label Studio import), so the server's settings can use it.
"""

from __future__ import annotations

from importlib import metadata

SUPPORTED_LABEL_STUDIO_VERSIONS = ("1.23.2",)


def installed_label_studio_version() -> str | None:
    """The version of the installed `label-studio` package, or None when it is not installed."""
    try:
        return metadata.version("label-studio")
    except metadata.PackageNotFoundError:
        return None


def unsupported_version(version: str | None) -> str | None:
    """Why the study's server must not run on Label Studio `version`, or None when it may."""
    if version is None or version in SUPPORTED_LABEL_STUDIO_VERSIONS:
        return None
    supported = ", ".join(SUPPORTED_LABEL_STUDIO_VERSIONS)
    return (
        f"Label Studio {version} is installed, but the study's server was tested only with "
        f"{supported}: its guard and coder spaces reach into Label Studio's internals, which "
        f"change between versions. Install a supported one (`pip install label-studio=="
        f"{SUPPORTED_LABEL_STUDIO_VERSIONS[-1]}`), or point the study at an existing server "
        "with --url / LABEL_STUDIO_URL."
    )
