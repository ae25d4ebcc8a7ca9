"""The study folder: where each file lives, making one (`init_study`) and opening it
(`load_study`) with the private file modes its settings ask for."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import load_video_scheme
from coding_pipeline.study.config import (
    DEFAULT_SCHEME,
    StudyConfig,
    resolve_scheme,
    study_toml_text,
)
from coding_pipeline.study.permissions import (
    private_files,
    private_umask,
    read_bytes,
    warn_if_readable,
)
from coding_pipeline.study.safe_write import write_bytes_atomic, write_text_atomic

SESSIONS_TEMPLATE = "dyad_id,timepoint,arm,video,start,end\n"


@dataclass
class Study:
    """A study folder and its settings."""

    root: Path
    config: StudyConfig

    @property
    def toml_path(self) -> Path:
        return self.root / "study.toml"

    @property
    def scheme_path(self) -> Path:
        path = Path(self.config.scheme)
        return path if path.is_absolute() else self.root / path

    @property
    def sessions_csv(self) -> Path:
        return self.root / "sessions.csv"

    @property
    def clips_dir(self) -> Path:
        return self.root / "clips"

    @property
    def clips_csv(self) -> Path:
        return self.root / "clips.csv"

    @property
    def interviews_csv(self) -> Path:
        """The interviews sheet: one row per interview transcript (see study.interviews)."""
        return self.root / "interviews.csv"

    @property
    def redact_csv(self) -> Path:
        """De-identification rules for transcripts: dyad_id (or *), term, replacement."""
        return self.root / "redact.csv"

    @property
    def transcript_corrections_csv(self) -> Path:
        """The lab manager's question starts: transcript_id, question, first_turn."""
        return self.root / "transcript_corrections.csv"

    @property
    def transcripts_csv(self) -> Path:
        """The transcript key: which opaque transcript id is which interview."""
        return self.root / "transcripts.csv"

    @property
    def transcripts_dir(self) -> Path:
        """The de-identified passages, transcripts/<transcript_id>.json."""
        return self.root / "transcripts"

    @property
    def batches_dir(self) -> Path:
        """The coders' batches: NAME.csv (assignments) and NAME.json (settings) each."""
        return self.root / "batches"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def ratings_csv(self) -> Path:
        return self.root / "ratings.csv"

    @property
    def reliability_dir(self) -> Path:
        return self.root / "reliability"

    @property
    def scores_dir(self) -> Path:
        return self.root / "scores"

    @property
    def server_dir(self) -> Path:
        """The private local Label Studio's data folder."""
        return self.root / ".labelstudio"

    def relative(self, path: Path) -> str:
        """A path as written into study files: relative to the study folder when inside it."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(Path(path).resolve())

    def absolute(self, path: str | Path) -> Path:
        """A path from a study file, resolved against the study folder."""
        path = Path(path)
        return path if path.is_absolute() else self.root / path


def init_study(
    root: Path, name: str | None = None, scheme: str | Path = DEFAULT_SCHEME,
    epoch_seconds: float = 60.0,
) -> Study:
    """Create a study folder (mode 0700) with study.toml, the scheme and a sessions.csv
    template (files 0600). Files that already exist are left as they are. The scheme rates
    video clips: a transcript scheme is refused (it belongs under [interviews]).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise PipelineError(f"{root} exists and is not a folder: choose another study folder.")
    source = resolve_scheme(scheme)
    if not (root / "scheme.yaml").exists():
        load_video_scheme(source)  # a broken or transcript scheme is refused before any write
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    toml_path = root / "study.toml"
    group = toml_path.is_file() and StudyConfig.from_toml(toml_path).group_access
    if os.name == "posix":
        os.chmod(root, 0o750 if group else 0o700)
    name = name or root.resolve().name
    with private_files(group):
        if not toml_path.exists():
            write_text_atomic(toml_path, study_toml_text(name, epoch_seconds))
        scheme_file = root / "scheme.yaml"
        if not scheme_file.exists():
            write_bytes_atomic(scheme_file, read_bytes(source))
        sessions = root / "sessions.csv"
        if not sessions.exists():
            write_text_atomic(sessions, SESSIONS_TEMPLATE)
    return load_study(root)


def load_study(root: Path) -> Study:
    """Open a study folder made by `init_study`.

    From here on this process creates files 0600 and folders 0700 (0640/0750 with
    `group_access = true` in study.toml), whichever library writes them; a study folder that
    other users can read gets one warning per process.
    """
    root = Path(root)
    toml_path = root / "study.toml"
    if root.exists() and not os.access(root, os.R_OK | os.X_OK):
        raise PipelineError(
            f"{root}: permission denied: this user cannot open the study folder. Run the "
            f"command as the folder's owner, or ask them to give you access.")
    if not toml_path.is_file():
        raise PipelineError(
            f"{root} is not a study folder (no study.toml): "
            f"run `coding-pipeline init {root}` first."
        )
    config = StudyConfig.from_toml(toml_path)
    os.umask(private_umask(config.group_access))
    warn_if_readable(root, config.group_access)
    return Study(root=root, config=config)
