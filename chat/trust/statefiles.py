"""Private files in the state directory: created owner-only, written atomically.

Keys, known peers and private history must never be readable by other local
users, not even for an instant, so every file here is created with mode 0600
by ``os.open`` (never ``chmod`` afterwards) in a directory of mode 0700.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) with mode 0700 if missing; return it."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(path: Path, data: bytes) -> Path:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new file ``path`` (mode 0600) unless it already exists.

    The file appears complete or not at all, and when two processes race the
    first one wins: the temporary file is hard-linked into place, which fails
    if ``path`` exists.

    Returns:
        True if this call created the file, False if it existed already.
    """
    private_dir(path.parent)
    temp = _write_temp(path, data)
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


def replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600), replacing it atomically."""
    private_dir(path.parent)
    temp = _write_temp(path, data)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating with mode 0600) an SQLite database in WAL mode.

    The connection may be used from any thread, but only by one at a time:
    callers hold a lock around every use. SQLite gives its ``-wal`` and
    ``-shm`` files the database file's mode, so they are 0600 too.
    """
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    db = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def close_database(db: sqlite3.Connection, lock: threading.Lock, path: Path) -> None:
    """Close ``db`` (from :func:`open_database`) under its ``lock``; a failure is logged."""
    with lock:
        try:
            db.close()
        except sqlite3.Error:
            log.exception("closing %s failed", path)
