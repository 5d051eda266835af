"""Logging: one file per client run, so log lines never tear the menu apart."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(threadName)-10s %(name)s: %(message)s"


def setup_logging(log_dir: Path, verbose: bool = False) -> Path:
    """Send every log record to a new file in ``log_dir``; returns its path.

    With ``verbose`` the records are also shown on standard error.
    """
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = log_dir / f"client-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    # Readable by its owner only: it holds names, group names and texts.
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(handler)
    if verbose:
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("[log] %(levelname)s %(name)s: %(message)s"))
        root.addHandler(console)
    # pika is chatty at INFO about every connection step.
    logging.getLogger("pika").setLevel(logging.WARNING)
    return path
