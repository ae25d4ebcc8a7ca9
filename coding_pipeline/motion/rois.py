"""Validate the rows of rois.csv: where each person is in each session's picture.

One row per box: `dyad_id`, `timepoint`, `role` (caregiver | child | background) and `x`, `y`,
`w`, `h`, the box's left edge, top edge, width and height as fractions (0 to 1) of the displayed
picture, i.e. after the source's rotation. Every session needs a caregiver and a child box; a
background box (a still part of the picture, no person passing) is optional and gives the noise
threshold and the camera-shake check. Pure: a DataFrame in, validated records and warnings out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from coding_pipeline.errors import PipelineError

COLUMNS = ("dyad_id", "timepoint", "role", "x", "y", "w", "h")
ROLES = ("caregiver", "child", "background")
REQUIRED_ROLES = ("caregiver", "child")
_EDGE_TOLERANCE = 1e-9  # boxes drawn to the edge may sum to 1.0000000001


@dataclass(frozen=True)
class Roi:
    dyad_id: str
    timepoint: str
    role: str
    x: float
    y: float
    w: float
    h: float
    line: int  # line of the file (the header is line 1)

    @property
    def session(self) -> tuple[str, str]:
        return self.dyad_id, self.timepoint

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h


@dataclass(frozen=True)
class ValidatedRois:
    rois: list[Roi]
    warnings: list[str]

    def by_session(self) -> dict[tuple[str, str], dict[str, Roi]]:
        """{(dyad_id, timepoint): {role: Roi}}, in the order of the file."""
        sessions: dict[tuple[str, str], dict[str, Roi]] = {}
        for roi in self.rois:
            sessions.setdefault(roi.session, {})[roi.role] = roi
        return sessions


def validate_rois(table: pd.DataFrame, source: str = "rois.csv") -> ValidatedRois:
    """Check every row and every session of rois.csv; raise PipelineError on the first problem
    (naming the line and field and what to do), warn about overlapping boxes.

    >>> table = pd.DataFrame({"dyad_id": ["D01", "D01"], "timepoint": ["T1", "T1"],
    ...                       "role": ["caregiver", "child"], "x": [0.1, 0.5], "y": [0.2, 0.2],
    ...                       "w": [0.3, 0.4], "h": [0.6, 0.6]})
    >>> result = validate_rois(table)
    >>> list(result.by_session()), result.warnings
    ([('D01', 'T1')], [])
    """
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise PipelineError(
            f"{source}: missing column(s) {', '.join(missing)}: the first line must name the "
            f"columns {','.join(COLUMNS)}.")
    if table.empty:
        raise PipelineError(
            f"{source} has no rows: add a caregiver and a child box for every session.")
    rois = [_validated_row(row, position + 2, source)
            for position, row in enumerate(table.loc[:, list(COLUMNS)].itertuples(index=False))]
    sessions = ValidatedRois(rois, []).by_session()
    _check_duplicates(rois, source)
    warnings = []
    for (dyad_id, timepoint), boxes in sessions.items():
        absent = [role for role in REQUIRED_ROLES if role not in boxes]
        if absent:
            present = ", ".join(f"{role} on line {roi.line}" for role, roi in boxes.items())
            raise PipelineError(
                f"{source}: session dyad_id={dyad_id} timepoint={timepoint} has no "
                f"{' and no '.join(absent)} box (it has {present}): add a row for each person.")
        warnings.extend(_overlap_warnings(boxes, source))
    return ValidatedRois(rois, warnings)


def _validated_row(row: tuple, line: int, source: str) -> Roi:
    values = dict(zip(COLUMNS, row, strict=True))
    where = f"{source} line {line}"
    dyad_id, timepoint = _text(values["dyad_id"]), _text(values["timepoint"])
    for field, text in (("dyad_id", dyad_id), ("timepoint", timepoint)):
        if not text:
            raise PipelineError(f"{where}: {field} is empty: write the session's {field} as in "
                                "sessions.csv.")
    role = _text(values["role"]).lower()
    if role not in ROLES:
        raise PipelineError(f"{where}: role {values['role']!r} is not one of "
                            f"{', '.join(ROLES)}: write one of these.")
    box = {field: _fraction(values[field], field, where) for field in "xywh"}
    for start, size, edge in (("x", "w", "right"), ("y", "h", "bottom")):
        if box[size] <= 0:
            raise PipelineError(f"{where}: {size} = {box[size]:g} must be above 0: the box needs "
                                "a width and a height.")
        if box[start] >= 1 or box[start] + box[size] > 1 + _EDGE_TOLERANCE:
            raise PipelineError(
                f"{where}: {start} + {size} = {box[start] + box[size]:g} reaches past the "
                f"{edge} edge of the picture: {start} and {size} are fractions of the displayed "
                f"picture, so {start} + {size} must be at most 1; shrink or move the box.")
    return Roi(dyad_id, timepoint, role, box["x"], box["y"], box["w"], box["h"], line)


def _fraction(value: object, field: str, where: str) -> float:
    text = _text(value)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        shown = f"{text!r} is not a number" if text else "is empty"
        raise PipelineError(f"{where}: {field} {shown}: write a fraction of the picture from 0 "
                            "to 1 (e.g. 0.25).")
    if not 0 <= number <= 1:
        raise PipelineError(
            f"{where}: {field} = {number:g} is outside 0..1: x, y, w and h are fractions of the "
            "displayed picture, not pixels; divide pixels by the picture's width (x, w) or "
            "height (y, h).")
    return number


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a timepoint read as 1.0 means "1"
    return str(value).strip()


def _check_duplicates(rois: list[Roi], source: str) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for roi in rois:
        key = (roi.dyad_id, roi.timepoint, roi.role)
        if key in seen:
            raise PipelineError(
                f"{source} line {roi.line}: a second {roi.role} box for dyad_id={roi.dyad_id} "
                f"timepoint={roi.timepoint} (the first is on line {seen[key]}): keep one row.")
        seen[key] = roi.line


def _overlap_warnings(boxes: dict[str, Roi], source: str) -> list[str]:
    warnings = []
    pairs = [("caregiver", "child", "each person's motion also counts for the other")]
    pairs += [(person, "background", "that person's motion will look like camera shake and "
               "raise the noise threshold") for person in REQUIRED_ROLES]
    for first, second, consequence in pairs:
        if first not in boxes or second not in boxes:
            continue
        a, b = boxes[first], boxes[second]
        shared = overlap_area(a.box, b.box)
        if shared > 0:
            share = shared / min(a.w * a.h, b.w * b.h)
            warnings.append(
                f"{source} lines {a.line} and {b.line}: the {first} and {second} boxes of "
                f"dyad_id={a.dyad_id} timepoint={a.timepoint} overlap ({share:.0%} of the "
                f"smaller): {consequence}. Redraw them apart if the picture allows.")
    return warnings


def overlap_area(a: tuple[float, float, float, float],
                 b: tuple[float, float, float, float]) -> float:
    """Area shared by two (x, y, w, h) boxes, in the same units.

    >>> overlap_area((0, 0, 0.5, 0.5), (0.25, 0.25, 0.5, 0.5))
    0.0625
    """
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(width, 0.0) * max(height, 0.0)
