"""The terminal side of the client: prompts on the menu thread, notices from any thread."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from chat.textsafe import terminal_lines

try:  # line editing and history at the prompt where the platform has it
    import readline
except ImportError:  # pragma: no cover - Windows
    readline = None  # type: ignore[assignment]


class Terminal:
    """Prompts and messages on one text terminal.

    :meth:`ask` is for the menu thread only. :meth:`say` and :meth:`notify`
    may be called from any thread; a notice that arrives while a prompt is
    waiting is printed on its own line and the prompt is shown again, so the
    user's half-typed input is not torn apart.
    """

    def __init__(self, out: TextIO | None = None, inp: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self._lock = threading.RLock()
        self._prompt: str | None = None

    def ask(self, prompt: str) -> str:
        """Read one line; raises ``EOFError`` at end of input."""
        with self._lock:
            self._prompt = prompt
        try:
            if self.inp is sys.stdin and self.out is sys.stdout:
                return input(prompt)
            self.out.write(prompt)
            self.out.flush()
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
            self.out.write(terminal_lines(text) + "\n")
            self.out.flush()

    def notify(self, text: str) -> None:
        """Print a notice from any thread without mangling a pending prompt."""
        text = terminal_lines(text)
        with self._lock:
            if self._prompt is None:
                self.out.write(text + "\n")
            else:
                typed = readline.get_line_buffer() if readline is not None else ""
                self.out.write(f"\r\x1b[K{text}\n{self._prompt}{typed}")
            self.out.flush()
