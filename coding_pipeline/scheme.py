"""Coding schemes kept as data: load a YAML scheme and validate it (pure, no I/O but reading).

Format (coding_schemes/*.yaml)::

    name: sensitivity-involvement-reciprocity
    version: 1
    kind: video                        # optional: video (default) | transcript (interviews,
                                       # see coding_pipeline.transcripts.scheme)
    instructions: |                    # optional: shown to coders before and while rating
      What to watch for ...
    scale: {min: 1, max: 5}            # default scale of every item
    items:
      - id: acknowledging              # also the control's name in Label Studio
        label: Acknowledging the child
        description: ...               # optional
        owner: parent                  # optional: parent | child | dyad
        reverse: false                 # optional: reverse-keyed item
        scale: {min: 1, max: 5}        # optional: overrides the default scale
        anchors: {1: "...", 3: "...", 5: "..."}   # optional: scale point -> text
    composites:
      - {id: sensitivity, label: Maternal sensitivity, items: [acknowledging, ...]}
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coding_pipeline.errors import PipelineError

OWNERS = ("parent", "child", "dyad")
VIDEO, TRANSCRIPT = "video", "transcript"
KINDS = (VIDEO, TRANSCRIPT)
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Scale:
    min: int
    max: int

    @property
    def points(self) -> list[int]:
        return list(range(self.min, self.max + 1))


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    scale: Scale
    description: str = ""
    owner: str = ""
    reverse: bool = False
    anchors: dict[int, str] = field(default_factory=dict)

    def keyed(self, value: float) -> float:
        """The value after reverse-keying: max + min - value for reverse items."""
        return self.scale.max + self.scale.min - value if self.reverse else value


@dataclass(frozen=True)
class Composite:
    id: str
    label: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Scheme:
    name: str
    version: int | str
    scale: Scale
    items: tuple[Item, ...]
    composites: tuple[Composite, ...]
    content_hash: str = ""
    instructions: str = ""
    kind: str = VIDEO  # video: clips are rated; transcript: interviews (see [interviews])

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def item_ids(self) -> list[str]:
        return [item.id for item in self.items]


MAX_SCHEME_BYTES = 1_000_000  # a scheme of 200 items with long anchors is under 200 KB


def load_scheme(path: Path) -> Scheme:
    """Read and validate a scheme file; errors name the file, the item and the problem."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(
            f"Coding scheme {path} not found: check the path (or study.toml's scheme)."
        )
    size = path.stat().st_size
    if size > MAX_SCHEME_BYTES:
        raise PipelineError(
            f"{path} is {size:,} bytes; a coding scheme is at most {MAX_SCHEME_BYTES:,}: "
            "check that study.toml's scheme names the scheme file.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8."
                            ) from None
    except PermissionError:
        raise PipelineError(f"{path}: permission denied: this user cannot read it.") from None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise PipelineError(
                    f"{path}: YAML anchors and aliases (&name, *name) are not allowed in a "
                    "coding scheme: write each item out in full.")
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({exc}).") from None
    return parse_scheme(data, source=str(path))


def load_video_scheme(path: Path) -> Scheme:
    """A scheme for rating video clips: `load_scheme`, refusing a transcript scheme."""
    scheme = load_scheme(path)
    if scheme.kind != VIDEO:
        raise PipelineError(
            f"{path} is a transcript scheme (kind: {scheme.kind}): it rates interview "
            "transcripts, not video clips. Use it under [interviews] in study.toml "
            "(scheme = \"pdi-rf.yaml\"), and give the study a video scheme for its clips "
            "(`coding-pipeline init --scheme sensitivity_involvement_reciprocity`, or copy a "
            "video scheme to the study's scheme.yaml).")
    return scheme


def parse_scheme(data: Any, source: str = "scheme") -> Scheme:
    """Validate scheme data (as loaded from YAML) into a `Scheme`."""

    def fail(problem: str) -> PipelineError:
        return PipelineError(f"{source}: {problem}")

    if not isinstance(data, dict):
        raise fail("the scheme must be a mapping with name, version, scale, items and composites.")
    for key in ("name", "version", "items"):
        if key not in data or data[key] in (None, ""):
            raise fail(f"'{key}' is missing.")
    instructions = data.get("instructions")
    if instructions is None:
        instructions = ""
    if not isinstance(instructions, str):
        raise fail(
            "'instructions' must be text (a YAML string, for example a block after "
            "'instructions: |'), or left out."
        )
    kind = data.get("kind", VIDEO)
    if kind not in KINDS:
        raise fail(f"kind '{kind}' should be one of {', '.join(KINDS)} (left out: video).")
    default_scale = _parse_scale(data.get("scale", {"min": 1, "max": 5}), "scale", fail)
    raw_items = data["items"]
    if not isinstance(raw_items, list) or not raw_items:
        raise fail("'items' must be a non-empty list.")
    seen: set[str] = set()  # the ids of items and composites so far
    items = [_parse_item(raw, index, default_scale, seen, fail)
             for index, raw in enumerate(raw_items, start=1)]
    composites = [_parse_composite(raw, index, items, seen, fail)
                  for index, raw in enumerate(data.get("composites") or [], start=1)]
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return Scheme(
        name=str(data["name"]), version=data["version"], scale=default_scale,
        items=tuple(items), composites=tuple(composites), instructions=instructions.strip(),
        kind=kind,
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16],
    )


def _new_id(raw: dict, kind: str, index: int, seen: set[str], fail) -> tuple[str, str]:
    """The id of an item or composite (`kind`) and how messages name it; checked to be a
    name of letters, digits and _ starting with a letter that no item or composite has yet."""
    given = raw.get("id")
    where = f"{kind} '{given}'" if given else f"{kind} {index}"
    if not given or not isinstance(given, str) or not _ID.match(given):
        raise fail(f"{where}: 'id' must be letters, digits and _, starting with a letter.")
    if given in seen:
        raise fail(f"{where}: duplicate id (an item or composite already has it).")
    seen.add(given)
    return given, where


def _parse_item(raw: Any, index: int, default_scale: Scale, seen: set[str], fail) -> Item:
    if not isinstance(raw, dict):
        raise fail(f"item {index} must be a mapping with id and label.")
    item_id, where = _new_id(raw, "item", index, seen, fail)
    label = raw.get("label")
    if not label or not isinstance(label, str):
        raise fail(f"{where}: 'label' is missing.")
    scale = (
        _parse_scale(raw["scale"], f"{where} scale", fail) if "scale" in raw else default_scale
    )
    owner = raw.get("owner", "") or ""
    if owner and owner not in OWNERS:
        raise fail(f"{where}: owner '{owner}' should be one of {', '.join(OWNERS)}.")
    reverse = raw.get("reverse", False)
    if not isinstance(reverse, bool):
        raise fail(f"{where}: 'reverse' should be true or false.")
    return Item(
        id=item_id, label=label.strip(), scale=scale,
        description=str(raw.get("description") or "").strip(), owner=owner,
        reverse=reverse, anchors=_parse_anchors(raw.get("anchors") or {}, scale, where, fail),
    )


def _parse_anchors(raw: Any, scale: Scale, where: str, fail) -> dict[int, str]:
    if not isinstance(raw, dict):
        raise fail(f"{where}: 'anchors' should map scale points to text.")
    anchors: dict[int, str] = {}
    for point, text in raw.items():
        try:
            point_int = int(point)
        except (TypeError, ValueError):
            raise fail(f"{where}: anchor '{point}' is not a scale point.") from None
        if not scale.min <= point_int <= scale.max:
            raise fail(
                f"{where}: anchor {point_int} is outside the scale {scale.min}-{scale.max}."
            )
        if not isinstance(text, str) or not text.strip():
            raise fail(f"{where}: anchor {point_int} has no text.")
        anchors[point_int] = text.strip()
    return dict(sorted(anchors.items()))


def _parse_composite(raw: Any, index: int, items: list[Item], seen: set[str],
                     fail) -> Composite:
    if not isinstance(raw, dict):
        raise fail(f"composite {index} must be a mapping with id, label and items.")
    comp_id, where = _new_id(raw, "composite", index, seen, fail)
    if not raw.get("label"):
        raise fail(f"{where}: 'label' is missing.")
    members = raw.get("items")
    if not isinstance(members, list) or not members:
        raise fail(f"{where}: 'items' must list at least one item id.")
    for member in members:
        if member not in {item.id for item in items}:
            raise fail(f"{where}: unknown item '{member}'.")
    if len(set(members)) != len(members):
        raise fail(f"{where}: an item is listed twice.")
    return Composite(id=comp_id, label=str(raw["label"]), items=tuple(members))


def _parse_scale(raw: Any, where: str, fail) -> Scale:
    if not isinstance(raw, dict) or "min" not in raw or "max" not in raw:
        raise fail(f"{where} must be {{min: ..., max: ...}}.")
    low, high = raw["min"], raw["max"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        raise fail(f"{where}: min and max must be whole numbers.")
    if low >= high:
        raise fail(f"{where}: min ({low}) must be below max ({high}).")
    return Scale(min=low, max=high)
