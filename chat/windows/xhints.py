"""The X11 urgency hint (``WM_HINTS`` ``UrgencyHint``), which Tk 8.6 has no command for.

Set through Xlib with ctypes on the window the window manager sees: the
wrapper Tk puts around a toplevel (the X parent of ``winfo id``). Where the
display is not X11, or Xlib cannot be loaded, every call does nothing and
says so once in the log. One Xlib connection per display, opened on first
use and kept; main thread only.

An X error on our own connection (a window gone between the check and the
call) must not end the process, as Xlib's default handler would: an error
handler is chained in front of the one Tk installed, takes the errors of
our connection (logged) and passes every other one on to Tk's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import tkinter as tk

log = logging.getLogger(__name__)

URGENCY_HINT = 1 << 8

_ErrorHandler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class _WMHints(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_long),
        ("input", ctypes.c_int),
        ("initial_state", ctypes.c_int),
        ("icon_pixmap", ctypes.c_ulong),
        ("icon_window", ctypes.c_ulong),
        ("icon_x", ctypes.c_int),
        ("icon_y", ctypes.c_int),
        ("icon_mask", ctypes.c_ulong),
        ("window_group", ctypes.c_ulong),
    ]


class _Xlib:
    """The few Xlib calls used here, with their C signatures."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("X11") or "libX11.so.6"
        x = ctypes.CDLL(path)
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XGetWMHints.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x.XGetWMHints.restype = ctypes.POINTER(_WMHints)
        x.XSetWMHints.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_WMHints)]
        x.XAllocWMHints.restype = ctypes.POINTER(_WMHints)
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XFlush.argtypes = [ctypes.c_void_p]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XSetErrorHandler.argtypes = [_ErrorHandler]
        x.XSetErrorHandler.restype = ctypes.c_void_p
        ulong_p = ctypes.POINTER(ctypes.c_ulong)
        x.XQueryTree.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ulong_p,
            ulong_p,
            ctypes.POINTER(ulong_p),
            ctypes.POINTER(ctypes.c_uint),
        ]
        self.x = x
        self.displays: dict[str, int] = {}
        self.errors = 0
        self._handler = _ErrorHandler(self._on_error)  # kept: Xlib holds a raw pointer
        previous = x.XSetErrorHandler(self._handler)
        self._previous = _ErrorHandler(previous) if previous else None

    def _on_error(self, display: int, event: int) -> int:
        if display in self.displays.values():
            self.errors += 1
            log.info("X error on the urgency-hint connection (a window gone?)")
            return 0
        if self._previous is not None:
            return int(self._previous(display, event))
        return 0

    def display(self, name: str) -> int | None:
        if name not in self.displays:
            self.displays[name] = self.x.XOpenDisplay(name.encode()) or 0
        return self.displays[name] or None

    def parent(self, display: int, window: int) -> int:
        """The X parent of ``window``; 0 for the root (no wrapper yet: never hint the root)."""
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children = ctypes.POINTER(ctypes.c_ulong)()
        count = ctypes.c_uint()
        if not self.x.XQueryTree(
            display,
            window,
            ctypes.byref(root),
            ctypes.byref(parent),
            ctypes.byref(children),
            ctypes.byref(count),
        ):
            return 0
        if children:
            self.x.XFree(children)
        return 0 if parent.value == root.value else parent.value


_xlib: _Xlib | None = None
_unavailable = False


def _lib(widget: tk.Misc) -> _Xlib | None:
    global _xlib, _unavailable
    if _xlib is None and not _unavailable:
        try:
            if str(widget.tk.call("tk", "windowingsystem")) != "x11":
                raise OSError("the display is not X11")
            _xlib = _Xlib()
        except (OSError, AttributeError, tk.TclError) as exc:
            _unavailable = True
            log.info("no urgency hints: %s", exc)
    return _xlib


def wrapper_of(top: tk.Misc) -> tuple[_Xlib, int, int] | None:
    """(Xlib, display, wrapper window) of a mapped toplevel, or None where there is none."""
    lib = _lib(top)
    # Mapped once (or iconified): Tk's wrapper exists on the server.
    if lib is None or not top.winfo_exists():
        return None
    if not top.winfo_ismapped() and str(top.wm_state()) != "iconic":
        return None
    display = lib.display(str(top.winfo_screen()))
    if display is None:
        return None
    wrapper = lib.parent(display, top.winfo_id())
    return (lib, display, wrapper) if wrapper else None


def set_urgent(top: tk.Misc, urgent: bool) -> bool:
    """Set or clear the urgency hint of ``top``; False where that cannot be done."""
    found = wrapper_of(top)
    if found is None:
        return False
    lib, display, window = found
    hints = lib.x.XGetWMHints(display, window)
    own = not hints
    if own:  # Tk has set no hints yet: start from empty ones
        hints = lib.x.XAllocWMHints()
        if not hints:
            return False
    try:
        flags = hints.contents.flags
        hints.contents.flags = flags | URGENCY_HINT if urgent else flags & ~URGENCY_HINT
        lib.x.XSetWMHints(display, window, hints)
        lib.x.XSync(display, 0)  # any error comes now, to our handler
    finally:
        lib.x.XFree(hints)
    return True


def is_urgent(top: tk.Misc) -> bool | None:
    """Whether ``top``'s urgency hint is set, as the X server has it (None: no X11)."""
    found = wrapper_of(top)
    if found is None:
        return None
    lib, display, window = found
    hints = lib.x.XGetWMHints(display, window)
    if not hints:
        return False
    try:
        return bool(hints.contents.flags & URGENCY_HINT)
    finally:
        lib.x.XFree(hints)
