"""The display the chat windows need: the hidden Tk root, opened before anything else."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def open_display() -> Any:
    """The hidden Tk root, or a sentence saying why there is no display."""
    import tkinter

    try:
        root = tkinter.Tk(className="distchat")
    except tkinter.TclError as exc:
        raise RuntimeError(
            f"Chat windows need a graphical display, and none could be opened ({exc}). "
            "Run the client from a desktop session, or start a virtual display first: "
            "Xvfb :99 & export DISPLAY=:99"
        ) from None
    root.withdraw()
    _drop_tk_input_hook()
    return root


def _drop_tk_input_hook() -> None:
    """Stop Tk from running inside the menu thread's ``input()``.

    Creating a Tk root installs ``PyOS_InputHook`` so that an interactive
    prompt keeps windows alive. Here the main thread runs the real main loop,
    and the hook would make the menu thread spin in Tcl at 50 Hz while it
    waits at a prompt, with the main thread's state, from the wrong thread.
    """
    import ctypes

    try:
        ctypes.c_void_p.in_dll(ctypes.pythonapi, "PyOS_InputHook").value = None
    except (AttributeError, ValueError, OSError):
        log.warning("could not remove Tk's input hook; the prompt may cost some CPU")
