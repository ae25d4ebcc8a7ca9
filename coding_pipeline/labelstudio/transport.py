"""How clips reach Label Studio: uploaded into its own storage, served as local files, or in S3.

study.toml `[label_studio] clips = "upload" | "local" | "s3"` chooses; without it the choice is
made from what is configured: S3 when `[label_studio.s3]` names a bucket, local files when a
document root is known (`[label_studio] document_root`, LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, or
the study's own server, which serves the study's clips), else upload, which works with any Label
Studio 1.23 as it comes (no local-files serving, no S3).

Each way is a `ClipTransport`; push asks it for a clip's URL, lets it send the clips before any
project (S3), ready each project (a storage to register) and place the clips of the tasks it is
about to import (uploads), and never asks which way it is.

Uploads go through the import API (`POST /api/projects/{id}/import?commit_to_project=false`,
multipart), once per project: each coder's project holds its own copy, served by Label Studio
at /data/upload/... only to members who can open that project. The name uploaded is the opaque
clip id (Label Studio adds 8 random characters in front), so nothing names a family. Before
uploading, the project's uploads are listed and a clip already there with the same size is used
again, so a push interrupted between upload and import finds its uploads on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol
from urllib.parse import quote

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection
from coding_pipeline.labelstudio.s3 import (
    S3Settings,
    ensure_s3_storage,
    s3_settings,
    upload_missing,
)
from coding_pipeline.study import Study

CHOICES = ("upload", "local", "s3")
UPLOAD_GROUP_FILES = 50  # Label Studio takes up to 100 files per request by default
UPLOAD_GROUP_BYTES = 100 * 1024 * 1024  # and 250 MB in all
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{8}-(.+)$")


class ClipTransport(Protocol):
    """One way clips reach the server."""

    kind: ClassVar[str]  # "upload", "local" or "s3"
    chosen_by: str  # "study.toml" or what made the automatic choice

    def describe(self) -> str:
        """One line for push's output: which way, and why."""

    def video_url(self, path: Path) -> str:
        """The URL a task shows for the clip file `path` ("" until it is uploaded)."""

    def send(self, files: list[Path]) -> int:
        """Send the study's clip files before any project is made; return how many were sent."""

    def ready_project(self, connection: Connection, project_id: int) -> None:
        """Make the project able to show the clips (a storage registered, if one is needed)."""

    def place(self, connection: Connection, project_id: int, tasks: list[dict],
              files: dict[str, Path]) -> tuple[list[dict], int]:
        """The tasks about to be imported, with their clips in place (clip id -> file in
        `files`), and how many clips were uploaded for them."""


@dataclass(frozen=True)
class UploadTransport:
    """Clips uploaded into each project, in Label Studio's own storage."""

    chosen_by: str
    kind: ClassVar[str] = "upload"
    root: ClassVar[None] = None
    bucket: ClassVar[None] = None

    def describe(self) -> str:
        return f"clips: uploaded into Label Studio's own storage ({self.chosen_by})"

    def video_url(self, path: Path) -> str:
        return ""

    def send(self, files: list[Path]) -> int:
        return 0

    def ready_project(self, connection: Connection, project_id: int) -> None:
        return None

    def place(self, connection: Connection, project_id: int, tasks: list[dict],
              files: dict[str, Path]) -> tuple[list[dict], int]:
        if not tasks:
            return tasks, 0
        urls, uploaded = upload_clips(
            connection, project_id, {t["clip_id"]: files[t["clip_id"]] for t in tasks})
        return [{**task, "video": urls[task["clip_id"]]} for task in tasks], uploaded


@dataclass(frozen=True)
class LocalFilesTransport:
    """Clips served by Label Studio as local files from `root`."""

    chosen_by: str
    root: Path  # the folder the server serves local files from
    clips_dir: Path  # the study's clips folder, registered as each project's local storage
    kind: ClassVar[str] = "local"
    bucket: ClassVar[None] = None

    def describe(self) -> str:
        return f"clips: served by Label Studio as local files from {self.root} ({self.chosen_by})"

    def video_url(self, path: Path) -> str:
        return local_file_url(path, self.root)

    def send(self, files: list[Path]) -> int:
        return 0

    def ready_project(self, connection: Connection, project_id: int) -> None:
        if connection.clips_dir is None:  # the study's own server serves its clips itself
            ensure_local_storage(connection, project_id, self.clips_dir)

    def place(self, connection: Connection, project_id: int, tasks: list[dict],
              files: dict[str, Path]) -> tuple[list[dict], int]:
        return tasks, 0


@dataclass(frozen=True)
class S3Transport:
    """Clips in an S3 bucket, presigned for the coders' browsers (s3.py)."""

    chosen_by: str
    bucket: S3Settings
    kind: ClassVar[str] = "s3"
    root: ClassVar[None] = None

    def describe(self) -> str:
        return f"clips: in S3 bucket {self.bucket.bucket} ({self.chosen_by})"

    def video_url(self, path: Path) -> str:
        return self.bucket.url(path.name)

    def send(self, files: list[Path]) -> int:
        return upload_missing(self.bucket, files)

    def ready_project(self, connection: Connection, project_id: int) -> None:
        ensure_s3_storage(connection, project_id, self.bucket)

    def place(self, connection: Connection, project_id: int, tasks: list[dict],
              files: dict[str, Path]) -> tuple[list[dict], int]:
        return tasks, 0


def clips_setting(study: Study) -> str | None:
    """study.toml [label_studio] clips, checked; None when not set."""
    value = study.config.raw.get("label_studio", {}).get("clips")
    if value in (None, ""):
        return None
    if value not in CHOICES:
        raise PipelineError(
            f"{study.toml_path}: [label_studio] clips = {value!r} is not one of "
            f"{', '.join(repr(c) for c in CHOICES)} (or leave it out to choose automatically)."
        )
    return str(value)


def choose_transport(study: Study, document_root: Path | None) -> ClipTransport:
    """The way the study's clips reach a server that serves local files from `document_root`
    (None: no such folder known; client.local_files_root). See the module docstring."""
    setting = clips_setting(study)
    bucket = s3_settings(study)
    if setting == "s3" or (setting is None and bucket is not None):
        if bucket is None:
            raise PipelineError(
                f"{study.toml_path} says clips = \"s3\" but has no [label_studio.s3] bucket: "
                "add one (bucket, prefix, endpoint, region), or choose \"upload\" or \"local\"."
            )
        return S3Transport("study.toml" if setting else "[label_studio.s3] is set", bucket)
    clips = study.clips_dir.resolve()
    if setting == "local":
        return LocalFilesTransport("study.toml", document_root or study.root.resolve(), clips)
    if setting is None and document_root is not None:
        return LocalFilesTransport("a local-files folder is configured", document_root, clips)
    return UploadTransport("study.toml" if setting else "no local-files folder or S3 configured")


# ---------------------------------------------------------------- local files


def local_file_url(path: Path, root: Path) -> str:
    """The URL Label Studio serves a local file at, for a file under the document root."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        raise PipelineError(
            f"{path} is outside the folder Label Studio serves local files from ({root}): "
            "keep the clips inside the study folder, or set [label_studio] document_root in "
            "study.toml to a folder that holds them."
        ) from None
    return "/data/local-files/?d=" + quote(relative.as_posix(), safe="/")


def ensure_local_storage(connection: Connection, project_id: int, folder: Path) -> None:
    """Register a local-files storage covering the clips folder (Label Studio serves only those)."""
    local = connection.client.import_storage.local
    storages = connection.call("listing storages", lambda: local.list(project=project_id))
    if any(str(s.path) == str(folder) for s in storages):
        return
    connection.call(
        f"registering {folder} as local storage (the server must be able to read it; for a "
        "server on another machine use its own storage)",
        lambda: local.create(
            project=project_id, path=str(folder), title="Study clips", use_blob_urls=False,
        ),
    )


# ---------------------------------------------------------------- uploads


def upload_name(clip_id: str, path: Path) -> str:
    """The file name a clip is uploaded under: its opaque clip id and the file's extension."""
    return f"{clip_id}{path.suffix.lower() or '.mp4'}"


def _uploads(connection: Connection, project_id: int) -> dict[str, tuple[int, str, int | None]]:
    """The project's uploads by clip file name: (upload id, stored name, size); newest wins."""
    files = connection.call(
        f"listing the clips uploaded to project {project_id}",
        lambda: connection.client.files.list(id=project_id, all_=True))
    found: dict[str, tuple[int, str, int | None]] = {}
    for upload in sorted(files, key=lambda f: int(f.id or 0)):
        match = _UPLOAD_NAME.match(Path(str(upload.file)).name)
        if match:
            found[match.group(1)] = (int(upload.id or 0), str(upload.file), upload.size)
    return found


def _groups(files: list[tuple[str, Path]]) -> Iterable[list[tuple[str, Path]]]:
    group: list[tuple[str, Path]] = []
    size = 0
    for name, path in files:
        length = path.stat().st_size
        if group and (len(group) >= UPLOAD_GROUP_FILES or size + length > UPLOAD_GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append((name, path))
        size += length
    if group:
        yield group


def _post_files(connection: Connection, project_id: int, group: list[tuple[str, Path]]) -> None:
    """Upload one group of clip files into the project (multipart: not an SDK call)."""
    with ExitStack() as stack:
        files = {name: (name, stack.enter_context(path.open("rb")), "video/mp4")
                 for name, path in group}
        connection.http.request(
            "POST", f"api/projects/{project_id}/import",
            f"uploading {len(group)} clip(s) into project {project_id}",
            params={"commit_to_project": "false"}, files=files)


def upload_clips(
    connection: Connection, project_id: int, files: dict[str, Path],
) -> tuple[dict[str, str], int]:
    """Make sure the project holds every clip of `files` (clip id -> file): returns each clip's
    URL on the server (/data/upload/...) and how many were uploaded now."""
    wanted = {clip_id: upload_name(clip_id, path) for clip_id, path in files.items()}
    present = _uploads(connection, project_id)
    todo = [
        (wanted[clip_id], path) for clip_id, path in files.items()
        if wanted[clip_id] not in present or present[wanted[clip_id]][2] != path.stat().st_size
    ]
    for group in _groups(todo):
        _post_files(connection, project_id, group)
    if todo:
        present = _uploads(connection, project_id)
    missing = [name for name in wanted.values() if name not in present]
    if missing:
        raise PipelineError(
            f"Label Studio at {connection.url} accepted the upload of {missing[0]} into project "
            f"{project_id} but does not list it: check the server's media folder is writable "
            "on its side, then push again."
        )
    return {clip_id: f"/data/{present[name][1]}" for clip_id, name in wanted.items()}, len(todo)
