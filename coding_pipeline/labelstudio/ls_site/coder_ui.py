"""The coder's screen in the study's own Label Studio: one frame per step.

Label Studio 1.23.2 steps a video by its "Video hop size" (default 10 frames). That setting is
not part of a labeling config, a project or a user: the labeling screen reads it from the
browser's localStorage key `labelStudio:settings` (editor SettingsStore, key `videoHopSize`)
when it opens. `CoderPageMiddleware` adds a small script to every HTML page the server sends
that sets it to 1 before the labeling screen starts, so the step buttons and Alt+Left/Right move
exactly one frame. A coder may change it in Settings -> Video; the next page load sets it back.

Label Studio's dialogs (the labeling instructions that open before the first task, Settings)
leave the keyboard focus behind them, on the page: a coder who tabs to a dialog's close button
passes every scale point and the notes box of the rating panel on the way, and the panel is left
scrolled to its end when the dialog closes. The script moves the focus to a dialog's close
button when the dialog opens (as an accessible dialog does), so Space or Enter closes it at once
and the rating panel stays at its first item.

The script carries the page's CSP nonce when Label Studio's CSP middleware made one (this
middleware must come after it in MIDDLEWARE, so the nonce is read before the header is written).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any

SETTINGS_KEY = "labelStudio:settings"
CODER_SETTINGS = {"videoHopSize": 1}

DIALOG_SELECTOR = ".lsf-modal-ls"
CLOSE_SELECTOR = '[aria-label="Close modal"]'

SCRIPT = (
    "(function () {"
    f" var key = {SETTINGS_KEY!r}, wanted = {{videoHopSize: {CODER_SETTINGS['videoHopSize']}}};"
    " try {"
    " var stored = JSON.parse(window.localStorage.getItem(key) || '{}');"
    " if (!stored || typeof stored !== 'object' || Array.isArray(stored)) stored = {};"
    " Object.keys(wanted).forEach(function (name) { stored[name] = wanted[name]; });"
    " window.localStorage.setItem(key, JSON.stringify(stored));"
    " } catch (error) { /* no localStorage: Label Studio keeps its defaults */ }"
    " var focused = new WeakSet();"
    " function focusDialogs() {"
    f" document.querySelectorAll({DIALOG_SELECTOR!r}).forEach(function (dialog) {{"
    f" var close = dialog.querySelector({CLOSE_SELECTOR!r});"
    " if (!close || focused.has(dialog)) return;"
    " focused.add(dialog);"
    " close.focus({preventScroll: true});"
    " });"
    " }"
    " new MutationObserver(focusDialogs).observe(document.documentElement,"
    " {childList: true, subtree: true});"
    " })();"
)
_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)


def inject_script(page: bytes, nonce: str | None = None) -> bytes:
    """`page` with the coder script just before its </head>; unchanged if it has none."""
    match = _HEAD_END.search(page)
    if match is None:
        return page
    nonce_attr = f' nonce="{escape(nonce, quote=True)}"' if nonce else ""
    tag = f'<script id="coding-pipeline-coder-ui"{nonce_attr}>{SCRIPT}</script>'.encode()
    return page[:match.start()] + tag + page[match.start():]


class CoderPageMiddleware:
    """Django middleware: add the coder script to Label Studio's HTML pages."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if (
            getattr(response, "streaming", False)
            or response.status_code != 200
            or not content_type.startswith("text/html")
        ):
            return response
        nonce = getattr(request, "csp_nonce", None)
        page = inject_script(response.content, str(nonce) if nonce else None)
        if page is not response.content:
            response.content = page
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(page))
        return response
