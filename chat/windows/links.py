"""Links in chat messages: found in the text, drawn as links, opened in the browser on click.

Only ``http`` and ``https`` addresses become links; anything else (``file:``,
``javascript:``, a scheme a desktop may hand to some program) stays plain
text. Opening runs :func:`webbrowser.open` on a thread of its own, since it
may start a browser and wait for it. Binding is main thread only.
"""

from __future__ import annotations

import logging
import re
import threading
import tkinter as tk
import webbrowser
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TAG = "link"
#: Longest address made a link; a longer run of characters stays plain text.
MAX_URL = 2000
_URL = re.compile(r"https?://[^\s<>\"'\\`{}|^]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the address.
_TRAILING = ".,;:!?)]}'\""


def is_link(url: str) -> bool:
    """True for an http(s) address with a host, of a sane length, with nothing odd in it."""
    if len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def split(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_link) pairs, in order; their joined pieces are ``text``."""
    pieces: list[tuple[str, bool]] = []
    done = 0
    for match in _URL.finditer(text):
        url = match.group()
        end = match.end()
        while url and url[-1] in _TRAILING:
            # A closing bracket that has its opening one inside belongs to the address.
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
            end -= 1
        if not is_link(url):
            continue
        if match.start() > done:
            pieces.append((text[done : match.start()], False))
        pieces.append((url, True))
        done = end
    if done < len(text):
        pieces.append((text[done:], False))
    return pieces


def open_link(url: str) -> bool:
    """Open ``url`` in the browser, off the calling thread; False when it is not a link."""
    if not is_link(url):
        return False

    def run() -> None:
        try:
            webbrowser.open(url)
        except Exception:
            log.exception("could not open %s", url[:200])

    threading.Thread(target=run, name="open-link", daemon=True).start()
    return True


def bind(text: tk.Text) -> None:
    """Make the ``link`` ranges of ``text`` clickable (hand cursor, open on click)."""
    normal = text.cget("cursor")
    text.tag_bind(TAG, "<Enter>", lambda _e: text.configure(cursor="hand2"))
    text.tag_bind(TAG, "<Leave>", lambda _e: text.configure(cursor=normal))
    text.tag_bind(TAG, "<ButtonRelease-1>", lambda e: _on_click(text, e))


def _on_click(text: tk.Text, event: Any) -> None:
    if text.tag_ranges("sel"):  # the user was selecting, not clicking
        return
    index = text.index(f"@{event.x},{event.y}")
    found = text.tag_prevrange(TAG, f"{index} + 1c")
    if found:
        open_link(text.get(found[0], found[1]))
