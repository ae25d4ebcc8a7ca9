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
import errno
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from coding_pipeline.errors import PipelineError

SESSION_COLUMNS = ["dyad_id", "timepoint", "arm", "video", "start", "end"]
REQUIRED_SESSION_COLUMNS = ["dyad_id", "timepoint", "video"]
IDENTIFIERS = ["dyad_id", "timepoint", "arm"]  # never begin as a spreadsheet formula
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
    ac2_weights: str = "quadratic"
    certify_item_within_one_min: float = 0.80
    certify_items_share_min: float = 0.80
    certify_composite_alpha_min: float = 0.70
    certify_min_clips: int = 5
    recalibration_clips: int = 10
    group_access: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    # (section, key, attribute, type, allowed values: (low, high) or a set, as told to users)
    FIELDS = [
        ("study", "name", "name", str, None),
        ("study", "scheme", "scheme", str, None),
        ("study", "group_access", "group_access", bool, None),
        ("segment", "epoch_seconds", "epoch_seconds", float, (0.01, 86400.0)),
        ("segment", "min_last_epoch", "min_last_epoch", float, (0.0, 1.0)),
        ("segment", "max_height", "max_height", int, (144, 4320)),
        ("segment", "workers", "workers", int, (0, 256)),
        ("label_studio", "url", "label_studio_url", str, None),
        ("reliability", "alpha_min", "alpha_min", float, (0.0, 1.0)),
        ("reliability", "within_one_min", "within_one_min", float, (0.0, 1.0)),
        ("reliability", "double_coded_share", "reliability_share", float, (0.0, 1.0)),
        ("reliability", "bootstrap", "bootstrap", int, (0, 1_000_000)),
        ("reliability", "seed", "seed", int, (0, 2**32 - 1)),
        ("reliability", "recalibration_clips", "recalibration_clips", int, (2, 100_000)),
        ("reliability", "ac2_weights", "ac2_weights", str, {"quadratic", "linear", "ordinal"}),
        ("certification", "item_within_one_min", "certify_item_within_one_min", float,
         (0.0, 1.0)),
        ("certification", "items_share_min", "certify_items_share_min", float, (0.0, 1.0)),
        ("certification", "composite_alpha_min", "certify_composite_alpha_min", float,
         (-1.0, 1.0)),
        ("certification", "min_clips", "certify_min_clips", int, (1, 1_000_000)),
        ("scores", "clip_policy", "clip_policy", str, {"primary", "mean", "consensus"}),
        ("scores", "min_item_share", "min_item_share", float, (0.0, 1.0)),
    ]
    # settings that decide which clips are cut: never defaulted once clips exist
    CLIP_SHAPING = [("segment", "epoch_seconds"), ("segment", "min_last_epoch")]

    @classmethod
    def from_toml(cls, path: Path) -> StudyConfig:
        """Read study.toml, checking every setting's type and allowed range."""
        data = read_bytes(path)
        if b"\x00" in data:
            raise PipelineError(
                f"{path} is not a text file (it holds binary data): restore study.toml from a "
                "backup, or move it aside and run `coding-pipeline init` to write a fresh one, "
                "then set epoch_seconds to the value the clips were cut with.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PipelineError(
                f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8, or restore it "
                "from a backup.") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PipelineError(f"{path}: not valid TOML ({exc}). Fix the line it names.") from None
        config = cls(raw=raw)
        for section, key, attribute, kind, allowed in cls.FIELDS:
            table = raw.get(section, {})
            if not isinstance(table, dict):
                raise PipelineError(
                    f"{path}: {section} = {table!r} should be a table: write [{section}] on a "
                    f"line of its own with its settings below it.")
            value = table.get(key)
            if value is None:
                continue
            setattr(config, attribute, _checked_setting(path, section, key, value, kind, allowed))
        return config

    def missing(self, section: str, key: str) -> bool:
        """True when study.toml does not set [section] key (the default is in use)."""
        table = self.raw.get(section, {})
        return not isinstance(table, dict) or key not in table


def _checked_setting(path: Path, section: str, key: str, value: Any, kind: type,
                     allowed: Any) -> Any:
    """One study.toml value, of the right type and in its allowed range, else a clear error."""
    where = f"{path}: [{section}] {key} = {value!r}"
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = {float: "a number", int: "a whole number", str: "text in quotes",
                 bool: "true or false"}
        raise PipelineError(f"{where} should be {names[kind]}"
                            + (f" from {_range(allowed)}." if isinstance(allowed, tuple) else "."))
    if kind is float and not math.isfinite(value):
        raise PipelineError(f"{where} is not a number: use a number from {_range(allowed)}.")
    if isinstance(allowed, tuple) and not allowed[0] <= value <= allowed[1]:
        raise PipelineError(f"{where} is out of range: use a value from {_range(allowed)}.")
    if isinstance(allowed, set) and value not in allowed:
        raise PipelineError(f"{where}: use one of {', '.join(sorted(allowed))}.")
    if key == "max_height" and value % 2:
        raise PipelineError(f"{where}: H.264 needs an even height; use {value - 1} or {value + 1}.")
    if kind is str and key in ("name", "scheme") and not value.strip():
        raise PipelineError(f"{where} is empty: give the study's {key}.")
    return value


def _range(allowed: tuple[float, float]) -> str:
    low, high = allowed
    if isinstance(low, int) and isinstance(high, int):
        return f"{low:,} to {high:,}"
    return f"{low:g} to {high:g}"


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
ac2_weights = "quadratic"       # Gwet's AC2 weights: quadratic | linear | ordinal

[certification]                 # a trainee against the master coder, on the training clips
item_within_one_min = 0.80      # an item passes with within-one agreement >= this ...
items_share_min = 0.80          # ... and the trainee needs this share of items passing
composite_alpha_min = 0.70      # every composite needs interval alpha >= this
min_clips = 5                   # training clips rated by both, at least

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
    """Create a study folder (mode 0700) with study.toml, the scheme and a sessions.csv
    template (files 0600). Files that already exist are left as they are.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise PipelineError(f"{root} exists and is not a folder: choose another study folder.")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    toml_path = root / "study.toml"
    group = toml_path.is_file() and StudyConfig.from_toml(toml_path).group_access
    if os.name == "posix":
        os.chmod(root, 0o750 if group else 0o700)
    name = name or root.resolve().name
    with private_files(group):
        if not toml_path.exists():
            safe_name = name.replace("\\", "\\\\").replace('"', '\\"')
            text = STUDY_TOML_TEMPLATE.format(name=safe_name, epoch=epoch_seconds)
            write_text_atomic(toml_path, text)
        scheme_file = root / "scheme.yaml"
        if not scheme_file.exists():
            write_bytes_atomic(scheme_file, read_bytes(resolve_scheme(scheme)))
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
    os.umask(0o027 if config.group_access else 0o077)
    _warn_if_readable(root, config.group_access)
    return Study(root=root, config=config)


_WARNED: set[Path] = set()


def _warn_if_readable(root: Path, group_access: bool) -> None:
    """One warning per process when users other than the owner (and the lab's group, when
    study.toml allows it) can read the study folder."""
    if os.name != "posix" or root.resolve() in _WARNED:
        return
    mode = stat.S_IMODE(root.stat().st_mode)
    open_to = mode & (0o007 if group_access else 0o077)
    if not open_to:
        return
    _WARNED.add(root.resolve())
    who = "other users" if group_access or not mode & 0o070 else "its group and other users"
    fix = "chmod -R o-rwx" if group_access else "chmod -R go-rwx"
    print(
        f"Warning: {root} (mode {mode:04o}) can be read by {who}, and clips.csv and "
        f"sessions.csv link clips to families: run `{fix} {root}`. To share the study with a lab "
        "group, set group_access = true under [study] in study.toml, then "
        f"`chgrp -R GROUP {root} && chmod -R g+rX,o-rwx {root}`.", file=sys.stderr)


@contextmanager
def private_files(group_access: bool = False) -> Iterator[None]:
    """New files 0600 and folders 0700 (0640/0750 for a lab group) inside the block."""
    previous = os.umask(0o027 if group_access else 0o077)
    try:
        yield
    finally:
        os.umask(previous)


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a folder or file this user may not read is a clear error."""
    try:
        return Path(path).read_bytes()
    except PermissionError:
        raise PipelineError(permission_message(Path(path), "read")) from None


def permission_message(path: Path, action: str = "write") -> str:
    """What to say when this user may not read or write `path`."""
    return (f"{path}: permission denied: this user cannot {action} it. Run the command as the "
            f"study folder's owner, or give this user access (`ls -ld {Path(path).parent}` shows "
            "the owner); if the folder is read-only (a backup, a mounted copy), copy the study "
            "folder somewhere writable and run the command there.")


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
        formula = next((c for c in IDENTIFIERS if formula_start(row.get(c, ""))), None)
        if formula:
            problems.append(
                f"{where}: {formula} '{row[formula]}' begins with "
                f"'{formula_start(row[formula])}', which a spreadsheet runs as a formula; "
                "rename it so it begins with a letter or digit.")
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

    UTF-8 (with or without Excel's byte-order mark), UTF-16 with a byte-order mark (Excel's
    "Unicode text"), else Windows-1252 / Latin-1 (Excel's "CSV (Comma delimited)" on
    Windows); comma, semicolon (Excel in many European locales) or tab. Anything else (UTF-16
    without a byte-order mark, binary data) is an error naming the file and what to do.
    """
    data = read_bytes(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise PipelineError(
                f"{path} starts as UTF-16 text but is damaged or cut short: save it again as "
                "CSV UTF-8 (Excel: File > Save As > CSV UTF-8).") from None
    elif b"\x00" in data:
        raise PipelineError(
            f"{path} is not a CSV text file (it holds zero bytes: binary data, or UTF-16 "
            "without a byte-order mark): save it as CSV UTF-8 (Excel: File > Save As > "
            "CSV UTF-8).")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    if not text.strip():
        raise PipelineError(f"{path} is empty: it needs a header row and one row per entry.")
    header = text.lstrip().splitlines()[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    return text, delimiter


def read_table(path: Path, required: list[str], what: str, written: bool = False) -> pd.DataFrame:
    """Read a CSV with all columns as text, checking the required columns are there.

    Column names are normalised ('Clip ID' -> 'clip_id'); encoding and delimiter as
    `read_spreadsheet_text` finds them; cells our CSV writer protected from spreadsheets
    ('=...' written as "'=...") are read back as they were. A file the pipeline wrote
    (`written`, or one with a row count recorded beside it) must be complete: every row as
    many fields as the header, the last line ended, and no fewer rows than were written.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} not found: {what}.")
    text, delimiter = read_spreadsheet_text(path)
    recorded = recorded_rows(path)
    if written or recorded is not None:
        check_complete(path, text, delimiter, recorded)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PipelineError(f"{path}: cannot be read as CSV ({exc}).") from None
    table.columns = [column_name(str(c)) for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise PipelineError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(table.columns) or 'none'})."
        )
    return restore_table(table)


def check_complete(path: Path, text: str, delimiter: str = ",",
                   recorded: int | None = None) -> int:
    """The number of data rows of a CSV the pipeline wrote; a file cut short is an error."""
    damaged = f"{path} is damaged (cut short or edited)"
    advice = restore_advice(path)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise PipelineError(f"{damaged}: {exc}. {advice}") from None
    rows = [row for row in rows if row]
    if not rows:
        raise PipelineError(f"{damaged}: it has no header row. {advice}")
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise PipelineError(
                f"{damaged}: row {number} has {len(row)} of the header's {width} fields. {advice}")
    if not text.endswith(("\n", "\r")):
        raise PipelineError(f"{damaged}: its last line ends in the middle. {advice}")
    count = len(rows) - 1
    if recorded is not None and count < recorded:
        raise PipelineError(
            f"{damaged}: it has {count} rows but {recorded} were written. {advice}")
    return count


_RESTORE = {
    "ratings.csv": "Rerun `coding-pipeline pull` to rebuild it from the server (the raw exports "
                   "in exports/ keep every rating), or restore it from a backup.",
    "projects.csv": "Restore it from a backup; nothing was changed.",
}


def restore_advice(path: Path) -> str:
    """How to restore a damaged pipeline file (one sentence)."""
    if path.name == "clips.csv":
        latest = _latest_copy(path.parent)
        command = _restore_command(path, latest[0] if latest else None)
        return (f"{command[:1].upper()}{command[1:]}. "
                "Nothing was changed, no clip was deleted.")
    if path.parent.name == "batches":
        return ("Restore it from a backup; nothing was changed (a batch file is written once, "
                "by `batch create`).")
    return _RESTORE.get(path.name, "Restore it from a backup; nothing was changed.")


def _rows_record(path: Path) -> Path:
    return Path(path).with_name(f".{Path(path).name}.rows")


def recorded_rows(path: Path) -> int | None:
    """The number of rows last written to `path` with `write_csv_atomic(..., record=True)`."""
    record = _rows_record(path)
    try:
        return int(record.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def read_clips(study: Study) -> pd.DataFrame:
    """The clip key, clips.csv, checked against its history (see `check_clip_key`)."""
    if not study.clips_csv.is_file() and (problem := missing_clip_key(study)):
        raise PipelineError(problem)
    table = read_table(
        study.clips_csv, ["clip_id", "dyad_id", "timepoint", "file"],
        f"run `coding-pipeline segment {study.root}` first", written=True,
    )
    check_clip_key(study, table)
    return table


# ---------------------------------------------------------------- the clip key

KEY_HISTORY = 20  # copies of clips.csv kept in STUDY/.segment/keys/
CLIP_ID = re.compile(r"^[0-9a-f]{12}$")  # secrets.token_hex(6), as `segment` names clips


def clip_key_history(study: Study) -> list[Path]:
    """The saved copies of clips.csv, oldest first (STUDY/.segment/keys/clips-<time>.csv)."""
    return sorted((study.root / ".segment" / "keys").glob("clips-*.csv"))


def write_clip_key(study: Study, table: pd.DataFrame) -> None:
    """Write clips.csv, keeping a copy in STUDY/.segment/keys/ (the newest KEY_HISTORY).

    The copy is written first, so a run killed in between leaves a copy at least as new as
    clips.csv.
    """
    data = _to_csv(neutralise_table(table)).encode("utf-8")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    write_bytes_atomic(study.root / ".segment" / "keys" / f"clips-{stamp}.csv", data)
    write_bytes_atomic(study.clips_csv, data)
    for old in clip_key_history(study)[:-KEY_HISTORY]:
        old.unlink(missing_ok=True)


def _latest_copy(root: Path) -> tuple[Path, set[str]] | None:
    """The newest copy of clips.csv (of the study at `root`) that is whole, and its clip ids."""
    for copy in reversed(sorted((root / ".segment" / "keys").glob("clips-*.csv"))):
        try:
            text, delimiter = read_spreadsheet_text(copy)
            check_complete(copy, text, delimiter)
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (PipelineError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        if "clip_id" in table.columns:
            return copy, set(table["clip_id"])
    return None


def _restore_command(clips_csv: Path, copy: Path | None) -> str:
    if copy is None:
        return "restore clips.csv from a backup"
    return f"restore it with `cp {copy} {clips_csv}`"


def missing_clip_key(study: Study) -> str | None:
    """What to say when clips.csv is gone but its copies say clips were cut."""
    latest = _latest_copy(study.root)
    if latest is None or not latest[1]:
        return None
    return (f"{study.clips_csv} is missing, but its last copy lists {len(latest[1])} clips: "
            f"{_restore_command(study.clips_csv, latest[0])}. Nothing was changed. (To start "
            "the study's clips over on purpose, move clips/, clips.csv and .segment/ out of "
            "the study.)")


def check_clip_key(study: Study, table: pd.DataFrame) -> None:
    """Stop when clips.csv lists fewer clips than its last copy, a finished session's manifest
    or the coders' batches say exist: the clip key is the only link from clips to families."""
    ids = set(table["clip_id"])
    latest = _latest_copy(study.root)
    copy = latest[0] if latest else None
    duplicated = table["clip_id"][table["clip_id"].duplicated()].tolist()
    if duplicated:
        raise PipelineError(
            f"{study.clips_csv} lists clip {duplicated[0]} twice: it was edited or damaged; "
            f"{_restore_command(study.clips_csv, copy)}. Nothing was changed.")
    sources: list[tuple[str, set[str]]] = []
    if latest is not None:
        sources.append((f"its last copy {copy.name}", latest[1]))
    for manifest in sorted((study.root / ".segment").glob("*.json")):
        try:
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            dyad, timepoint = saved["key"]
            done = set(saved["rows"]) if saved.get("complete") is True else set()
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a session not finished, or a manifest of an older version
        sources.append((f"the manifest of {dyad}/{timepoint} ({manifest.name})", done))
    for batch in sorted((study.root / "batches").glob("*.csv")):
        try:
            given = pd.read_csv(batch, dtype=str, keep_default_na=False, usecols=["clip_id"])
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError):
            continue
        sources.append((f"batch {batch.name} (clips given to coders)", set(given["clip_id"])))
    for name, expected in sources:
        lost = sorted(expected - ids)
        if lost:
            raise PipelineError(
                f"{study.clips_csv} lists {len(ids)} clips but {len(lost)} more are in {name} "
                f"(e.g. {', '.join(lost[:3])}): clips.csv was damaged or cut short; "
                f"{_restore_command(study.clips_csv, copy)}. Nothing was changed, no clip was "
                "deleted.")


def remove_clip_file(study: Study, clip_id: str, name: str) -> str | None:
    """Delete a clip file the pipeline wrote: clips/<clip_id>.mp4 inside the study (or its
    unfinished .part file). Anything else is left alone; the reason is returned."""
    target = study.absolute(name)
    clips = study.clips_dir.resolve()
    expected = {f"{clip_id}.mp4", f".{clip_id}.part.mp4"}
    if (not CLIP_ID.match(str(clip_id)) or target.name not in expected
            or target.resolve().parent != clips or target.is_symlink()):
        return (f"clip {clip_id}: {name} is not a clip file segment wrote in {study.clips_dir}; "
                "left in place")
    target.unlink(missing_ok=True)
    return None


# ---------------------------------------------------------------- spreadsheet formulas

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PROTECTED = re.compile(r"^'*[=+\-@\t\r]")


def formula_start(value: str) -> str | None:
    """The character that would make a spreadsheet read `value` as a formula, if any."""
    return value[0] if value.startswith(FORMULA_START) else None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, with the usual leading apostrophe.

    Numbers ('-1.5', '+3') are untouched; text already starting with apostrophes before such
    a character gets one more, so `restore` gives back exactly what was written.
    """
    if isinstance(value, str) and _PROTECTED.match(value) and not _is_number(value):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """The text `neutralise` was given."""
    if isinstance(value, str) and value.startswith("'") and _PROTECTED.match(value):
        return value[1:]
    return value


def _text_cells_matching(values: pd.Series, pattern: str) -> pd.Series:
    """Which cells are text with a match of the regular expression `pattern`."""
    try:
        return values.str.contains(pattern, regex=True, na=False).astype(bool)
    except AttributeError:  # no text in the column at all
        return pd.Series(False, index=values.index)


def _map_text(table: pd.DataFrame, function) -> pd.DataFrame:
    """`function` (neutralise or restore) applied to the text cells and column names."""
    columns = [c for c in table.columns
               if table[c].dtype == object or pd.api.types.is_string_dtype(table[c])]
    if not columns:
        return table
    table = table.copy()
    for column in columns:
        cells = _text_cells_matching(table[column], _PROTECTED.pattern)  # all they change
        if cells.any():
            table[column] = table[column].where(~cells, table[column][cells].map(function))
    table.columns = [function(c) if isinstance(c, str) else c for c in table.columns]
    return table


def neutralise_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` whose text cells cannot run as spreadsheet formulas (for CSV only)."""
    return _map_text(table, neutralise)


def restore_table(table: pd.DataFrame) -> pd.DataFrame:
    return _map_text(table, restore)


# ---------------------------------------------------------------- atomic writes


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` when the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                        dir=path.parent)
    except PermissionError:
        raise PipelineError(permission_message(path.parent, "write in")) from None
    except OSError as exc:
        if exc.errno != errno.EROFS:
            raise
        raise PipelineError(permission_message(path.parent, "write in")) from None
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


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_json_atomic(path: Path, data: Any, mode: int | None = None) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode=mode)


def _to_csv(table: pd.DataFrame, path: Path | None = None) -> str | None:
    """CSV text of `table`; lines end in CRLF when a cell holds a CR, so that the cell is
    quoted (Python's csv module quotes only the line terminator's characters)."""
    has_cr = any(_text_cells_matching(table[column], "\r").any()
                 for column in table.select_dtypes(include=["object", "string"]).columns)
    return table.to_csv(path, index=False, lineterminator="\r\n" if has_cr else "\n")


def write_csv_atomic(path: Path, table: pd.DataFrame, record: bool = False) -> None:
    """Write a table as UTF-8 CSV without the index, atomically.

    Text that a spreadsheet would run as a formula is written with a leading apostrophe (see
    `neutralise`; `read_table` reads it back as it was). `record` keeps the row count in a
    hidden file beside it (`.NAME.rows`), so a copy cut short at a line end is still noticed.
    """
    with atomic_path(path) as temp:
        _to_csv(neutralise_table(table), temp)
    if record:
        write_text_atomic(_rows_record(path), f"{len(table)}\n")
