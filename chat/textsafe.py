"""Strings from the network made safe to show: on a terminal, in a window title, in a window.

A name or text that another client sent may hold escape sequences (which a
terminal runs: clear the screen, retitle the window, fake a prompt),
bidirectional overrides (which reorder what follows so that ``exe.txt`` reads
as ``txt.exe``) and any length. These functions show such characters as
visible escapes (``\\x1b``, ``\\u202e``) and cap the length; ordinary text in
any script is left as it is. No imports beyond the standard library, so
anything may use this module.
"""

from __future__ import annotations

import re

#: Longest name (user, group, host) shown; longer ones end with an ellipsis.
NAME_CHARS = 64
#: Longest text shown on a terminal line.
TEXT_CHARS = 400
#: Longest window title.
TITLE_CHARS = 80

ELLIPSIS = "…"

# C0 controls, DEL and C1 controls (C1 includes the 8-bit CSI, U+009B).
_CONTROLS = "\x00-\x1f\x7f-\x9f"
# Bidirectional embeddings, overrides, isolates and marks; line and paragraph
# separators (which end a line in some terminals); the BOM/zero-width no-break.
_FORMAT = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff"
_UNSAFE = re.compile(f"[{_CONTROLS}{_FORMAT}]")
# The same, but newlines and tabs are fine inside a chat window's text.
_UNSAFE_IN_WINDOW = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}]")
# Lone surrogates cannot be encoded at all.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def for_terminal(text: object, limit: int = TEXT_CHARS) -> str:
    """``text`` for one terminal line: every control shown as an escape, at most ``limit``."""
    text = _SURROGATE.sub("\ufffd", str(text))
    return _UNSAFE.sub(_visible, _cap(text, limit))


def name(text: object) -> str:
    """A remote name (user, group, host, ID) for the terminal or a window."""
    return for_terminal(text, NAME_CHARS)


def for_title(text: object, limit: int = TITLE_CHARS) -> str:
    """A window title: one line, controls shown, at most ``limit`` characters."""
    return _cap(for_terminal(text, limit * 4), limit)


def for_window(text: object) -> str:
    """Text for the body of a window: lines and tabs kept, other controls shown."""
    return _UNSAFE_IN_WINDOW.sub(_visible, _SURROGATE.sub("\ufffd", str(text)))


def terminal_lines(text: str) -> str:
    """A whole block for the terminal: newlines kept, every other control shown.

    The last line of defence in :class:`chat.front.terminal.Terminal`: the fields
    in it were made safe already, and this makes sure no escape gets through.
    """
    return "\n".join(_UNSAFE.sub(_visible, line) for line in text.split("\n"))
