"""What can go wrong between a client and RabbitMQ, named once for the broker and the features.

No pika connection here: the exceptions the features catch, the groups of
pika's exceptions the broker thread tells apart, and :func:`redact` for
URLs shown to people.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pika.exceptions

#: The broker answered and refused the login.
REFUSED = (
    pika.exceptions.ProbableAuthenticationError,
    pika.exceptions.AuthenticationError,
)
#: The connection (not just a channel) is gone, or could not be made.
CONNECTION_LOST = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.ConnectionClosed,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


class RetryLater(Exception):
    """Raised by a setup when the broker cannot serve it yet, e.g. a durable queue
    whose replica is still starting after a broker restart. The broker runs the
    setup again after a back-off, for as long as it stays registered."""


class BrokerUnavailable(ConnectionError):
    """The broker cannot be reached (at start) or the connection is down right now."""


class BrokerRefused(BrokerUnavailable):
    """The broker answered but refused the user name or password (at start)."""


class ConfirmTimeout(pika.exceptions.AMQPConnectionError):
    """The broker took a publish but did not confirm it in time: the connection
    is taken as wedged and reset, and the publish fails as a lost connection."""


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
