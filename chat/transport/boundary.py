"""The boundary around every handler of input from the network.

One message must never kill the thread that reads it. :func:`consumer`
wraps a pika consumer callback, :func:`guarded` any other handler (a gRPC
frame, a batch drawn in a window): whatever one message raises is caught,
logged as one line with the body cut short, and the message is dropped
(acknowledged first where the delivery needs an ack, so a work queue with a
prefetch of one does not stall on it).

Broker and connection errors are not input errors: they go on up, so that the
broker thread reopens its channel or reconnects as it always does.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import pika.exceptions

log = logging.getLogger(__name__)

#: Most bytes of a dropped body written to the log.
PREVIEW_BYTES = 300

T = TypeVar("T")
Callback = Callable[[Any, Any, Any, bytes], None]


def preview(body: object, limit: int = PREVIEW_BYTES) -> str:
    """A short, one-line ``repr`` of ``body`` for the log, with its full size."""
    if isinstance(body, bytes | bytearray | memoryview):
        data = bytes(body)
        head = repr(data[:limit])
        return head if len(data) <= limit else f"{head}… ({len(data)} bytes)"
    text = str(body)
    head = repr(text[:limit])
    return head if len(text) <= limit else f"{head}… ({len(text)} characters)"


def describe(exc: BaseException) -> str:
    """``Type: message (file:line)``, one line and short, for the log."""
    where = ""
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        frame = tb[-1]
        where = f" ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})"
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}{where}"


def consumer(what: str, ack: bool = False) -> Callable[[Callback], Callback]:
    """Wrap a pika ``on_message(channel, method, properties, body)`` as a boundary.

    Args:
        what: names the consumer in the log line (``"group lobby"``).
        ack: acknowledge a delivery whose handler raised (for manual-ack
            consumers; the handler must not have acked it already).
    """

    def wrap(handler: Callback) -> Callback:
        @functools.wraps(handler)
        def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            try:
                handler(channel, method, properties, body)
            except (pika.exceptions.AMQPError, OSError):
                raise
            except Exception as exc:
                log.warning(
                    "%s: dropped a message: %s; body %s", what, describe(exc), preview(body)
                )
                if ack and getattr(channel, "is_open", False):
                    channel.basic_ack(method.delivery_tag)

        return on_message

    return wrap


def guarded(what: str, handler: Callable[..., T], *args: Any, body: object = None) -> T | None:
    """Call ``handler(*args)``; on any exception log one line and return None."""
    try:
        return handler(*args)
    except Exception as exc:
        log.warning(
            "%s: dropped: %s%s",
            what,
            describe(exc),
            "" if body is None else f"; body {preview(body)}",
        )
        return None
