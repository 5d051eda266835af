"""The terminal side of the client: prompts on the menu thread, notices from any thread."""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
import threading
from typing import TextIO

from chat.textsafe import terminal_lines

try:  # line editing and history at the prompt where the platform has it
    import readline
except ImportError:  # pragma: no cover - Windows
    readline = None  # type: ignore[assignment]

#: Two spaces inside a line mark table columns: such lines are never wrapped.
_COLUMNS = re.compile(r"\S  +\S")


def wrap(text: str, width: int | None) -> str:
    """Wrap each long line of ``text`` at word boundaries to ``width`` columns.

    A wrapped line keeps its indentation; table rows (columns separated by
    two or more spaces) are left as they are. ``width`` None wraps nothing.
    """
    if width is None or width < 20:
        return text
    out = []
    for line in text.split("\n"):
        if len(line) <= width or _COLUMNS.search(line.strip()):
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(
            line.strip(),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [""]
    return "\n".join(out)


class Terminal:
    """Prompts and messages on one text terminal.

    :meth:`ask` is for the menu thread only. :meth:`say` and :meth:`notify`
    may be called from any thread; a notice that arrives while a prompt is
    waiting is printed on its own line and the prompt is shown again, so the
    user's half-typed input is not torn apart.

    Long lines are wrapped at word boundaries to the terminal's width (read
    again for every line, so a resized terminal is followed); output that
    is not a terminal is wrapped only when ``width`` is given. Once the
    terminal has gone (closed window: writes fail with EIO), output is
    dropped quietly, so the client can still shut down cleanly.
    """

    def __init__(
        self, out: TextIO | None = None, inp: TextIO | None = None, width: int | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self.width = width
        self._lock = threading.RLock()
        self._prompt: str | None = None
        #: True once writing to the terminal failed (it was closed).
        self.gone = False

    def columns(self) -> int | None:
        """Where to wrap: the given width, or the terminal's width when writing to one."""
        if self.width is not None:
            return self.width
        try:
            if not self.out.isatty():
                return None
        except (AttributeError, ValueError, OSError):
            return None
        return shutil.get_terminal_size().columns

    def table_width(self) -> int:
        """How wide a table may be: the terminal's width when known, else 80 columns."""
        return self.columns() or 80

    def ask(self, prompt: str) -> str:
        """Read one line; raises ``EOFError`` at end of input."""
        with self._lock:
            self._prompt = prompt
        try:
            if self.inp is sys.stdin and self.out is sys.stdout:
                return input(prompt)
            self._write(prompt)
            line = self.inp.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n")
        finally:
            with self._lock:
                self._prompt = None

    def say(self, text: str = "") -> None:
        """Print a line (from the thread that owns the prompt)."""
        with self._lock:
            self._write(wrap(terminal_lines(text), self.columns()) + "\n")

    def notify(self, text: str) -> None:
        """Print a notice from any thread without mangling a pending prompt."""
        text = terminal_lines(text)
        with self._lock:
            text = wrap(text, self.columns())
            if self._prompt is None:
                self._write(text + "\n")
            else:
                typed = readline.get_line_buffer() if readline is not None else ""
                self._write(f"\r\x1b[K{text}\n{self._prompt}{typed}")

    def end_line(self) -> None:
        """End the line a prompt is waiting on (before a last word when interrupted)."""
        with self._lock:
            if self._prompt is not None:
                self._prompt = None
                self._write("\n")

    def error(self, text: str) -> None:
        """A sentence on standard error (start-up failures)."""
        with self._lock:
            try:
                sys.stderr.write(wrap(terminal_lines(text), self.columns()) + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                self.gone = True

    def close(self) -> None:
        """After the last word: once the terminal is gone, send what is left nowhere,
        so the interpreter's own last flush at exit cannot fail."""
        if not self.gone:
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                os.dup2(null, fd)
            os.close(null)
        except OSError:
            pass

    def _write(self, text: str) -> None:
        if self.gone:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):  # EIO once the terminal has been closed
            self.gone = True
