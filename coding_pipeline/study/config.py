"""The study's settings: study.toml read and checked, its defaults, and the shipped schemes."""

from __future__ import annotations

import math
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coding_pipeline.errors import PipelineError
from coding_pipeline.study.permissions import read_bytes

DEFAULT_SCHEME = "sensitivity_involvement_reciprocity.yaml"
DEFAULT_INTERVIEW_SCHEME = "pdi-rf.yaml"
# [interviews] labels: a transcript's speaker label (case ignored) -> the speaker's role
DEFAULT_SPEAKER_LABELS = {"I": "interviewer", "Interviewer": "interviewer",
                          "P": "parent", "Parent": "parent", "Mother": "parent"}
DEFAULT_SEED = 12345  # [reliability] seed: the bootstrap's random seed when study.toml sets none
RANDOM_SEED_LIMIT = 2**31  # a batch planned without --seed draws its seed below this


def seed_or_random(seed: int | None) -> int:
    """`seed`, or a fresh random seed when none is given (the batch's JSON records it)."""
    return secrets.randbelow(RANDOM_SEED_LIMIT) if seed is None else seed


def schemes_dir() -> Path:
    """The folder of coding schemes shipped with the package."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "coding_schemes", package.parent / "coding_schemes"):
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
    seed: int = DEFAULT_SEED
    clip_policy: str = "primary"
    min_item_share: float = 0.75
    ac2_weights: str = "quadratic"
    certify_item_within_one_min: float = 0.80
    certify_items_share_min: float = 0.80
    certify_composite_alpha_min: float = 0.70
    certify_min_clips: int = 5
    certify_interview_icc_overall_min: float = 0.80
    certify_interview_demand_within_one_min: float = 0.80
    certify_min_interviews: int = 10
    recalibration_clips: int = 10
    group_access: bool = False
    motion_blur_kernel: int = 5
    motion_downscale: float = 0.5
    motion_threshold: int | None = None  # None: estimated from the background ROI
    motion_default_threshold: int = 10
    motion_background_moved_share: float = 0.05
    motion_smoothing_s: float = 0.5
    motion_outlier_sd: float = 10.0
    motion_window_s: float = 30.0
    motion_step_s: float = 15.0
    motion_max_lag_s: float = 5.0
    motion_surrogates: int = 1000
    interview_scheme: str = DEFAULT_INTERVIEW_SCHEME
    speaker_labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SPEAKER_LABELS))
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
        ("certification.interviews", "icc_overall_min", "certify_interview_icc_overall_min",
         float, (-1.0, 1.0)),
        ("certification.interviews", "demand_within_one_min",
         "certify_interview_demand_within_one_min", float, (0.0, 1.0)),
        ("certification.interviews", "min_interviews", "certify_min_interviews", int,
         (1, 1_000_000)),
        ("scores", "clip_policy", "clip_policy", str, {"primary", "mean", "consensus"}),
        ("scores", "min_item_share", "min_item_share", float, (0.0, 1.0)),
        ("motion", "blur_kernel", "motion_blur_kernel", int, (0, 51)),
        ("motion", "downscale", "motion_downscale", float, (0.05, 1.0)),
        ("motion", "threshold", "motion_threshold", int, (0, 63)),
        ("motion", "default_threshold", "motion_default_threshold", int, (0, 63)),
        ("motion", "background_moved_share", "motion_background_moved_share", float,
         (0.0, 1.0)),
        ("motion", "smoothing_s", "motion_smoothing_s", float, (0.0, 10.0)),
        ("motion", "outlier_sd", "motion_outlier_sd", float, (1.0, 1000.0)),
        ("motion", "window_s", "motion_window_s", float, (1.0, 3600.0)),
        ("motion", "step_s", "motion_step_s", float, (0.1, 3600.0)),
        ("motion", "max_lag_s", "motion_max_lag_s", float, (0.0, 600.0)),
        ("motion", "surrogates", "motion_surrogates", int, (0, 1_000_000)),
        ("interviews", "scheme", "interview_scheme", str, None),
        ("interviews", "labels", "speaker_labels", dict, None),
    ]
    # settings that decide which clips are cut: never defaulted once clips exist
    CLIP_SHAPING = [("segment", "epoch_seconds"), ("segment", "min_last_epoch")]

    @classmethod
    def from_toml(cls, path: Path) -> StudyConfig:
        """Read study.toml, checking every setting's type and allowed range."""
        raw = _read_toml(path)
        config = cls(raw=raw)
        for section, key, attribute, kind, allowed in cls.FIELDS:
            table = section_of(raw, section)
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
        table = section_of(self.raw, section)
        return not isinstance(table, dict) or key not in table


def section_of(raw: dict[str, Any], section: str) -> Any:
    """A study.toml table by its dotted name ("certification.interviews"); {} when absent."""
    table: Any = raw
    for part in section.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else table
    return table


def _read_toml(path: Path) -> dict[str, Any]:
    """study.toml as a dictionary; binary data, another encoding or bad TOML is a clear error."""
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
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"{path}: not valid TOML ({exc}). Fix the line it names.") from None


def _checked_setting(path: Path, section: str, key: str, value: Any, kind: type,
                     allowed: Any) -> Any:
    """One study.toml value, of the right type and in its allowed range, else a clear error."""
    where = f"{path}: [{section}] {key} = {value!r}"
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = {float: "a number", int: "a whole number", str: "text in quotes",
                 bool: "true or false",
                 dict: 'a table of label = "role", e.g. { I = "interviewer", P = "parent" }'}
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
    if kind is dict:
        return _speaker_labels(where, value)
    return value


def _speaker_labels(where: str, value: dict) -> dict[str, str]:
    """[interviews] labels: non-empty labels without ':' mapped to non-empty role names."""
    if not value:
        raise PipelineError(f'{where} is empty: map each speaker label to its role, e.g. '
                            '{ I = "interviewer", P = "parent" }.')
    for label, role in value.items():
        if not label.strip() or ":" in label or not isinstance(role, str) or not role.strip():
            raise PipelineError(
                f'{where}: label {label!r} = {role!r} should be a label as written before the '
                'colon (without it) = a role in quotes, e.g. Mother = "parent".')
    return {label.strip(): role.strip() for label, role in value.items()}


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
seed = {seed}
recalibration_clips = 10        # flag a coder whose last N double-coded clips miss certification
ac2_weights = "quadratic"       # Gwet's AC2 weights: quadratic | linear | ordinal

[certification]                 # a trainee against the master coder, on the training clips
item_within_one_min = 0.80      # an item passes with within-one agreement >= this ...
items_share_min = 0.80          # ... and the trainee needs this share of items passing
composite_alpha_min = 0.70      # every composite needs interval alpha >= this
min_clips = 5                   # training clips rated by both, at least

[certification.interviews]      # a trainee against the master coder, on training interviews
icc_overall_min = 0.80          # ICC(A,1) of the overall RF score >= this ...
demand_within_one_min = 0.80    # ... and this share of demand-question ratings within one point
min_interviews = 10             # training interviews rated by both, at least

[scores]
clip_policy = "primary"         # double-coded clips: primary | mean | consensus
min_item_share = 0.75           # a composite needs at least this share of its items rated

[motion]                        # movement synchrony (`coding-pipeline motion`), see the README
blur_kernel = 5                 # Gaussian blur before differencing, odd pixels; 0 = none
downscale = 0.5                 # frames shrunk to this share of their side before differencing
# threshold = 12                # grey levels a pixel must change by; unset: from the background
default_threshold = 10          # ... used when a session has no background ROI
background_moved_share = 0.05   # background pixels changed above this share: frame left out
smoothing_s = 0.5               # centred moving average of each motion series
outlier_sd = 10.0               # values above this many SDs are capped
window_s = 30.0                 # cross-correlation windows ...
step_s = 15.0                   # ... moved on by this much ...
max_lag_s = 5.0                 # ... with lags up to this far either way
surrogates = 1000               # pseudo-synchrony: caregivers paired with other children

[interviews]                    # interview transcripts (`coding-pipeline transcripts`), see README
scheme = "pdi-rf.yaml"          # transcript scheme: a file in this folder or a shipped scheme

[interviews.labels]             # a speaker label as transcripts write it (case ignored) = role
I = "interviewer"
Interviewer = "interviewer"
P = "parent"
Parent = "parent"
Mother = "parent"
"""


def study_toml_text(name: str, epoch_seconds: float) -> str:
    """A new study.toml: the template with the study's name (quoted for TOML) and epoch."""
    safe_name = name.replace("\\", "\\\\").replace('"', '\\"')
    return STUDY_TOML_TEMPLATE.format(name=safe_name, epoch=epoch_seconds, seed=DEFAULT_SEED)
