"""Pages of a persistent group's older history, read on demand from its stream.

A member consumes its group's stream live from the end (offset ``next``);
what lies below the first live offset is history. :func:`read_page` reads one
page of it, offsets ``[start, end)``, with a short-lived consumer on a channel
of its own, and closes that channel as soon as the page is complete, so the
cost of a page never depends on how long the history is.

A page reader acknowledges nothing (its credit covers the page): its channel
is closed when the page is complete or after :data:`PAGE_TIMEOUT`, far below
RabbitMQ's ``consumer_timeout``, and the broker forgets the deliveries with it.

Runs on the broker thread (see :meth:`chat.transport.broker.Broker.submit`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from chat.groups import amqp
from chat.transport.boundary import consumer

log = logging.getLogger(__name__)

#: Messages per page: more than a window shows at once, few enough to read in
#: a few milliseconds.
PAGE = 100
#: Joining reads pages until at least this many messages are shown (or the
#: first one is): a window's worth, however many notices lie in between.
FIRST_SCREEN = 50
#: A page that is not complete by then is handed over as it is.
PAGE_TIMEOUT = 10.0


@dataclass
class Page:
    """What one read found: the bodies at offsets ``start`` .. ``end - 1``, oldest first.

    ``at_start`` is True when nothing lies below ``start`` (the stream's first
    message is in this page, or the stream kept nothing older).
    """

    start: int
    end: int
    bodies: list[bytes] = field(default_factory=list)
    at_start: bool = False


OnPage = Callable[[Page], None]


def page_start(end: int, size: int = PAGE) -> int:
    return max(0, end - size)


def read_page(
    channel: BlockingChannel, queue: str, end: int, on_page: OnPage, size: int = PAGE
) -> None:
    """Start reading the page just below offset ``end``; ``on_page`` gets it
    (on the broker thread) once complete. Nothing is read when ``end`` is 0."""
    start = page_start(end, size)
    if end <= 0:
        on_page(Page(0, 0, at_start=True))
        return
    _PageReader(channel.connection, queue, start, end, on_page)


class _PageReader:
    """One short-lived consumer from ``start``, cancelled at ``end``."""

    def __init__(self, connection: Any, queue: str, start: int, end: int, on_page: OnPage) -> None:
        self.page = Page(start, end, at_start=start == 0)
        self.on_page = on_page
        self.first_seen: int | None = None
        self.done = False
        self.connection = connection
        self.channel = connection.channel()
        # Credit for the whole page: no acknowledgements are needed to finish it.
        self.channel.basic_qos(prefetch_count=end - start + 10)
        on_message = consumer(f"history page of {queue}")(self.on_message)
        self.channel.basic_consume(
            queue, on_message, auto_ack=False, arguments={"x-stream-offset": start}
        )
        self.timer = connection.call_later(PAGE_TIMEOUT, self.on_timeout)

    def on_message(
        self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes
    ) -> None:
        if self.done:
            return
        offset = amqp.stream_offset(properties)
        if offset is None:
            return
        page = self.page
        if self.first_seen is None:
            self.first_seen = offset
            if offset > page.start:
                page.at_start = True  # the stream keeps nothing older than this
        if page.start <= offset < page.end:
            page.bodies.append(body)
        if offset >= page.end - 1:
            self.finish()

    def on_timeout(self) -> None:
        if not self.done:
            log.warning(
                "history page %d-%d incomplete after %.0f s (%d messages); showing it as it is",
                self.page.start,
                self.page.end,
                PAGE_TIMEOUT,
                len(self.page.bodies),
            )
            if not self.page.bodies:
                self.page.at_start = True
            self.finish()

    def finish(self) -> None:
        self.done = True
        self.connection.remove_timeout(self.timer)
        amqp.close_without_rejects(self.channel)
        try:
            self.on_page(self.page)
        except Exception:
            log.exception("handling a history page failed")
