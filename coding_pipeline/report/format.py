"""HTML text for the report: escaping, number formats (as in the text table, with an en dash
for undefined values), embedded images and the labels of items and composites."""

from __future__ import annotations

import html
from functools import partial

from coding_pipeline.reliability.tables import interval_text, number_text, percent_text
from coding_pipeline.scheme import Scheme

DASH = "&ndash;"
number = partial(number_text, missing=DASH)
percent = partial(percent_text, missing=DASH)
interval = partial(interval_text, missing=DASH)


def esc(value) -> str:
    """Text made safe for HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def image(uri: str, alt: str) -> str:
    """An embedded figure."""
    return f'<img src="{uri}" alt="{esc(alt)}">'


def variable_labels(scheme: Scheme) -> dict[str, str]:
    """Item labels, and composite labels marked (composite)."""
    return {i.id: i.label for i in scheme.items} | {
        c.id: f"{c.label} (composite)" for c in scheme.composites}
