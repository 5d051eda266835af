"""Chat windows. :mod:`chat.windows.api` (no tkinter) is what features use; the
other modules are Tk, imported and used on the main thread only."""
