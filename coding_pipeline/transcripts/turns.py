"""Speaker turns: what every transcript format is read into (pure data)."""

from __future__ import annotations

from dataclasses import dataclass

INTERVIEWER = "interviewer"
PARENT = "parent"


@dataclass(frozen=True)
class Turn:
    """One speaker's uninterrupted words."""

    speaker: str      # the role: "interviewer", "parent", or another role the labels name
    text: str
    line: int         # the line, paragraph or cue where the turn starts (1-based)
    label: str = ""   # the label as written ("I", "Mother", a voice name)
    marker: str = ""  # question number marked at the turn ("3", "4b"), else ""
    time: str = ""    # the time stamp written at the turn, else ""
