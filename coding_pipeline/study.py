"""The study folder: settings, the sessions sheet, the clip key, ratings, and safe writes.

A study folder holds everything one study's pipeline reads and writes::

    study.toml          settings (name, scheme, epoch length, Label Studio URL, thresholds)
    scheme.yaml         the coding scheme this study codes with (copied at init)
    sessions.csv        one row per recorded session: dyad_id,timepoint,arm,video,start,end
    clips/              the clips coders see, named by opaque random clip ids
    clips.csv           the clip key: which clip is which dyad, timepoint and stretch of video
    exports/            every raw Label Studio export, timestamped, never overwritten
    ratings.csv         one row per clip x coder x item
    reliability/        reliability.json and reliability.csv
    scores/             per-dyad scores by timepoint
    .labelstudio/       the study's private local Label Studio (database, credentials)

Every file is written to a temporary name and renamed into place, so a crash never leaves
a half-written file behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from coding_pipeline.errors import PipelineError

SESSION_COLUMNS = ["dyad_id", "timepoint", "arm", "video", "start", "end"]
REQUIRED_SESSION_COLUMNS = ["dyad_id", "timepoint", "video"]
CLIP_COLUMNS = [
    "clip_id", "dyad_id", "timepoint", "arm", "source", "start_s", "end_s",
    "file", "fps", "frames", "qc",
]
RATING_COLUMNS = ["clip_id", "coder", "item", "value", "annotation_id", "updated_at"]
DEFAULT_SCHEME = "sensitivity_involvement_reciprocity.yaml"
_KNOWN_COLUMNS = {*SESSION_COLUMNS, *CLIP_COLUMNS, *RATING_COLUMNS, "role", "batch", "status"}


def schemes_dir() -> Path:
    """The folder of coding schemes shipped with the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "coding_schemes", here.parent / "coding_schemes"):
        if candidate.is_dir():
            return candidate
    raise PipelineError("The shipped coding_schemes folder is missing: reinstall coding-pipeline.")


def resolve_scheme(name_or_path: str | Path) -> Path:
    """A scheme file by path, or by the name of a shipped scheme (with or without .yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = schemes_dir()
    for candidate in (shipped / str(name_or_path), shipped / f"{name_or_path}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in shipped.glob("*.yaml")))
    raise PipelineError(
        f"Coding scheme '{name_or_path}' not found: give a path to a YAML file "
        f"or one of the shipped schemes ({known})."
    )


# ---------------------------------------------------------------- settings


@dataclass
class StudyConfig:
    """The settings in study.toml, with their defaults."""

    name: str = "study"
    scheme: str = "scheme.yaml"
    epoch_seconds: float = 60.0
    min_last_epoch: float = 0.5
    max_height: int = 720
    workers: int = 0
    label_studio_url: str = ""
    alpha_min: float = 0.80
    within_one_min: float = 0.85
    reliability_share: float = 0.20
    bootstrap: int = 1000
    seed: int = 12345
    clip_policy: str = "primary"
    min_item_share: float = 0.75
    recalibration_clips: int = 10
    raw: dict[str, Any] = field(default_factory=dict)

    # (section, key, attribute, type)
    FIELDS = [
        ("study", "name", "name", str),
        ("study", "scheme", "scheme", str),
        ("segment", "epoch_seconds", "epoch_seconds", float),
        ("segment", "min_last_epoch", "min_last_epoch", float),
        ("segment", "max_height", "max_height", int),
        ("segment", "workers", "workers", int),
        ("label_studio", "url", "label_studio_url", str),
        ("reliability", "alpha_min", "alpha_min", float),
        ("reliability", "within_one_min", "within_one_min", float),
        ("reliability", "double_coded_share", "reliability_share", float),
        ("reliability", "bootstrap", "bootstrap", int),
        ("reliability", "seed", "seed", int),
        ("reliability", "recalibration_clips", "recalibration_clips", int),
        ("scores", "clip_policy", "clip_policy", str),
        ("scores", "min_item_share", "min_item_share", float),
    ]

    @classmethod
    def from_toml(cls, path: Path) -> StudyConfig:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PipelineError(f"{path}: not valid TOML ({exc}). Fix the line it names.") from None
        config = cls(raw=raw)
        for section, key, attribute, kind in cls.FIELDS:
            value = raw.get(section, {}).get(key)
            if value is None:
                continue
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise PipelineError(
                    f"{path}: [{section}] {key} = {value!r} should be a {kind.__name__}."
                )
            setattr(config, attribute, value)
        if config.recalibration_clips < 2:
            raise PipelineError(f"{path}: [reliability] recalibration_clips must be 2 or more.")
        if config.epoch_seconds <= 0:
            raise PipelineError(f"{path}: [segment] epoch_seconds must be more than 0.")
        if config.clip_policy not in {"primary", "mean", "consensus"}:
            raise PipelineError(
                f"{path}: [scores] clip_policy = {config.clip_policy!r}: "
                "use primary, mean or consensus."
            )
        return config


STUDY_TOML_TEMPLATE = """\
# Settings of one coding study, read by coding-pipeline. Paths are relative to this folder.

[study]
name = "{name}"
scheme = "scheme.yaml"          # the coding scheme coders rate with

[segment]
epoch_seconds = {epoch}         # length of each clip coders rate
min_last_epoch = 0.5            # a shorter last remainder (share of an epoch) joins the clip before
max_height = 720                # clips are scaled down to this height, never up
workers = 0                     # sessions encoded in parallel; 0 = one per core

[label_studio]
url = ""                        # empty: the study's own private server (`server start`)

[reliability]
double_coded_share = 0.20       # share of clips a second coder rates
alpha_min = 0.80                # Krippendorff's alpha to rely on a variable
within_one_min = 0.85           # within-one-point agreement to certify a coder
bootstrap = 1000                # resamples for confidence intervals
seed = 12345
recalibration_clips = 10        # flag a coder whose last N double-coded clips miss certification

[scores]
clip_policy = "primary"         # double-coded clips: primary | mean | consensus
min_item_share = 0.75           # a composite needs at least this share of its items rated
"""

SESSIONS_TEMPLATE = "dyad_id,timepoint,arm,video,start,end\n"


# ---------------------------------------------------------------- the study


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
    """Create a study folder with study.toml, the scheme and a sessions.csv template.

    Files that already exist are left as they are.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise PipelineError(f"{root} exists and is not a folder: choose another study folder.")
    root.mkdir(parents=True, exist_ok=True)
    name = name or root.resolve().name
    toml_path = root / "study.toml"
    if not toml_path.exists():
        safe_name = name.replace("\\", "\\\\").replace('"', '\\"')
        text = STUDY_TOML_TEMPLATE.format(name=safe_name, epoch=epoch_seconds)
        write_text_atomic(toml_path, text)
    scheme_file = root / "scheme.yaml"
    if not scheme_file.exists():
        shutil.copyfile(resolve_scheme(scheme), scheme_file)
    sessions = root / "sessions.csv"
    if not sessions.exists():
        write_text_atomic(sessions, SESSIONS_TEMPLATE)
    return load_study(root)


def load_study(root: Path) -> Study:
    """Open a study folder made by `init_study`."""
    root = Path(root)
    toml_path = root / "study.toml"
    if not toml_path.is_file():
        raise PipelineError(
            f"{root} is not a study folder (no study.toml): "
            f"run `coding-pipeline init {root}` first."
        )
    return Study(root=root, config=StudyConfig.from_toml(toml_path))


# ---------------------------------------------------------------- sessions.csv

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_time(text: str | float | int | None) -> float | None:
    """Seconds from text: '95', '95.5', '1:35', '01:35.500' or '0:01:35'. Blank gives None."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        if text != text:  # NaN from pandas
            return None
        return float(text)
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        match = _CLOCK.match(text)
        if not match:
            raise ValueError(
                f"'{text}' is not a time: use seconds (95.5) or [hh:]mm:ss[.fff] (1:35.5)"
            ) from None
        hours, minutes, seconds = match.groups()
        if int(minutes) >= 60 or float(seconds) >= 60:
            raise ValueError(f"'{text}' has minutes or seconds of 60 or more") from None
        value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"'{text}' is not a time of 0 seconds or more")
    return value


@dataclass
class Session:
    """One row of sessions.csv: a recorded session of one dyad at one timepoint."""

    row: int  # line number in sessions.csv (the header is line 1)
    dyad_id: str
    timepoint: str
    arm: str
    video: Path
    start_s: float | None
    end_s: float | None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"sessions.csv row {self.row} ({self.video.name})"


def read_sessions(study: Study) -> tuple[list[Session], list[str]]:
    """Parse sessions.csv into sessions and a list of problems, one line per bad row.

    A bad row (missing field, unparseable time, start >= end, duplicated dyad and timepoint,
    footage already listed on another row) is reported and left out; the other rows are
    returned. A missing file or column is an error.
    """
    path = study.sessions_csv
    if not path.is_file():
        raise PipelineError(f"{path} not found: run `coding-pipeline init {study.root}`.")
    text, delimiter = read_spreadsheet_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [column_name(c) for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_SESSION_COLUMNS if c not in columns]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must be "
            f"{','.join(SESSION_COLUMNS)} (arm, start and end may be left empty)."
        )
    reader.fieldnames = columns
    sessions: list[Session] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    footage: dict[Path, list[tuple[float, float, int]]] = {}
    for number, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        video_text = row.get("video", "")
        where = f"sessions.csv row {number}" + (f" ({video_text})" if video_text else "")
        empty = [c for c in REQUIRED_SESSION_COLUMNS if not row.get(c)]
        if empty:
            problems.append(f"{where}: {', '.join(empty)} is empty; fill it in.")
            continue
        try:
            start = parse_time(row.get("start"))
            end = parse_time(row.get("end"))
        except ValueError as exc:
            problems.append(f"{where}: start/end {exc}.")
            continue
        if start is not None and end is not None and start >= end:
            problems.append(
                f"{where}: start ({start:g} s) is not before end ({end:g} s); fix the times."
            )
            continue
        key = (row["dyad_id"], row["timepoint"])
        if key in seen:
            problems.append(
                f"{where}: dyad {key[0]} at timepoint {key[1]} is also on row {seen[key]}; "
                "keep one row per dyad and timepoint."
            )
            continue
        video = study.absolute(video_text)
        span = (start or 0.0, end if end is not None else float("inf"))
        overlap = next((row_number for first, last, row_number in footage.get(video, [])
                        if span[0] < last and first < span[1]), None)
        if overlap is not None:
            problems.append(
                f"{where}: the same stretch of {video_text} is also listed on row {overlap}; "
                "give each session its own video, or start/end times that do not overlap."
            )
            continue
        footage.setdefault(video, []).append((*span, number))
        seen[key] = number
        extra = {k: v for k, v in row.items() if k not in SESSION_COLUMNS}
        sessions.append(Session(
            row=number, dyad_id=row["dyad_id"], timepoint=row["timepoint"],
            arm=row.get("arm", ""), video=video,
            start_s=start, end_s=end, extra=extra,
        ))
    return sessions, problems


def read_session_covariates(study: Study) -> pd.DataFrame:
    """sessions.csv as a table of dyad_id, timepoint, arm and any further columns (no video)."""
    table = read_table(study.sessions_csv, REQUIRED_SESSION_COLUMNS, "see `coding-pipeline init`")
    return table.drop(columns=[c for c in ("video", "start", "end") if c in table.columns])


# ---------------------------------------------------------------- tables


def column_name(header: str) -> str:
    """A header cell as a column name: one of ours however it is spelled ('Dyad ID ' ->
    'dyad_id'), any other column as written, without surrounding spaces."""
    canonical = re.sub(r"\s+", "_", header.strip()).lower()
    return canonical if canonical in _KNOWN_COLUMNS else header.strip()


def read_spreadsheet_text(path: Path) -> tuple[str, str]:
    """A CSV file's text and delimiter, as spreadsheets save them.

    UTF-8 (with or without Excel's byte-order mark), else Windows-1252 (Excel's "CSV (Comma
    delimited)" on Windows); comma, semicolon (Excel in many European locales) or tab.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if not text.strip():
        raise PipelineError(f"{path} is empty: it needs a header row and one row per entry.")
    header = text.lstrip().splitlines()[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    return text, delimiter


def read_table(path: Path, required: list[str], what: str) -> pd.DataFrame:
    """Read a CSV with all columns as text, checking the required columns are there.

    Column names are normalised ('Clip ID' -> 'clip_id'); encoding and delimiter as
    `read_spreadsheet_text` finds them.
    """
    if not path.is_file():
        raise PipelineError(f"{path} not found: {what}.")
    text, delimiter = read_spreadsheet_text(path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter)
    except pd.errors.ParserError as exc:
        raise PipelineError(f"{path}: cannot be read as CSV ({exc}).") from None
    table.columns = [column_name(str(c)) for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(table.columns) or 'none'})."
        )
    return table


def read_clips(study: Study) -> pd.DataFrame:
    """The clip key, clips.csv."""
    return read_table(
        study.clips_csv, ["clip_id", "dyad_id", "timepoint", "file"],
        f"run `coding-pipeline segment {study.root}` first",
    )


# ---------------------------------------------------------------- atomic writes


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    os.chmod(temp_path, 0o666 & ~_current_umask())  # as an ordinary new file, not mkstemp's 0600
    try:
        yield temp_path
        os.replace(temp_path, path)
    finally:
        if temp_path.exists():
            temp_path.unlink()


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write text to `path` atomically, with permissions `mode` (e.g. 0o600) or the umask's."""
    with atomic_path(path) as temp:
        if mode is not None:
            os.chmod(temp, mode)
        temp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, data: Any, mode: int | None = None) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode=mode)


def write_csv_atomic(path: Path, table: pd.DataFrame) -> None:
    """Write a table as UTF-8 CSV without the index, atomically."""
    with atomic_path(path) as temp:
        table.to_csv(temp, index=False)
