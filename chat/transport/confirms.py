"""The shared channel: publisher confirms, each with a deadline.

pika's ``BlockingChannel.basic_publish`` in confirm mode waits for the
broker's confirm without a time limit, so a broker that takes the bytes but
never answers (a node frozen, a disk alarm, a queue without its quorum)
would hold the broker thread, and every "Sending…" in every window, for as
long as the TCP connection stays up. Every publish on a channel opened here
arms a timer on the connection's I/O loop first: if the confirm has not come
within :data:`CONFIRM_DEADLINE` seconds, the timer ends the connection's
stream with :class:`~chat.transport.brokererrors.ConfirmTimeout`. The publish
then raises that (a connection loss), its caller's future fails with
``BrokerUnavailable`` (the window marks the message not delivered), and the
broker thread reconnects as after any other loss.

Only the connection can be reset this way: a wedged broker would not answer
a channel close either, and a blocking channel cannot leave one confirm
behind and go on with the next.
"""

from __future__ import annotations

import logging
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport.brokererrors import ConfirmTimeout

log = logging.getLogger(__name__)

#: Seconds the broker has to confirm a publish before the connection is reset.
CONFIRM_DEADLINE = 5.0


def open_confirmed_channel(
    connection: pika.BlockingConnection, deadline: float = CONFIRM_DEADLINE
) -> BlockingChannel:
    """Broker thread: a new channel in confirm mode whose every publish has a deadline."""
    channel = connection.channel()
    channel.confirm_delivery()
    publish = channel.basic_publish
    # The I/O loop under the blocking facade: its timers run while a blocking
    # call waits, where BlockingConnection.call_later's would wait for it.
    impl = connection._impl

    def expire() -> None:
        if impl.is_open:
            log.warning("no publish confirm within %.1f s; resetting the connection", deadline)
            impl._terminate_stream(
                ConfirmTimeout(f"RabbitMQ did not confirm a publish within {deadline:g} s")
            )

    def basic_publish(
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: pika.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> Any:
        timer = impl._adapter_call_later(deadline, expire)
        try:
            return publish(exchange, routing_key, body, properties, mandatory)
        finally:
            impl._adapter_remove_timeout(timer)

    channel.basic_publish = basic_publish  # type: ignore[method-assign]
    return channel
