"""One way to open the name server's Redis connection: a plain URL or a Sentinel URL.

``redis://``, ``rediss://`` and ``unix://`` URLs go to :meth:`redis.Redis.from_url`.
A Sentinel URL names the Sentinels and the monitored primary::

    redis+sentinel://[:password@]host1:26379,host2:26379/mymaster[/db]

The password, when given, is the Redis servers' (the Sentinels are asked
without one). The connection then asks the Sentinels where the primary is
(redis-py's :class:`redis.sentinel.Sentinel` and ``master_for``), and after a
failover it asks again: commands that fail while the old primary is gone or
has just become a read-only replica are retried with a capped backoff
(redis-py's :class:`~redis.retry.Retry`), so callers see at most a slower
command, not an error, as long as the switch takes less than
:data:`RETRY_BUDGET` seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import redis
import redis.sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

SENTINEL_SCHEME = "redis+sentinel"
PLAIN_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_SENTINEL_PORT = 26379
#: Retries of one command during a failover: backoff doubling from 0.1 s, capped at 1 s.
RETRIES = 15
#: About how long a command keeps retrying (seconds), for the documentation.
RETRY_BUDGET = 12


@dataclass(frozen=True)
class SentinelTarget:
    """What a ``redis+sentinel://`` URL says."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    password: str | None = None


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Read a ``redis+sentinel://`` URL.

    Raises:
        ValueError: with a sentence saying what is wrong.
    """
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"a Sentinel URL starts with {SENTINEL_SCHEME}://")
    netloc = parts.netloc
    password = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        password = unquote(credentials.split(":", 1)[1] if ":" in credentials else credentials)
    sentinels = tuple(_host_port(item) for item in netloc.split(",") if item.strip())
    if not sentinels:
        raise ValueError("a Sentinel URL names at least one host:port")
    path = [part for part in parts.path.split("/") if part]
    if not path or len(path) > 2:
        raise ValueError("a Sentinel URL ends with /SERVICE or /SERVICE/DB, e.g. /mymaster/0")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise ValueError(f"the database number {path[1]!r} is not a number")
        db = int(path[1])
    return SentinelTarget(sentinels, unquote(path[0]), db, password or None)


def _host_port(item: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif item.count(":") == 1:
        host, port_text = item.split(":")
    else:
        host, port_text = item, ""
    if not host:
        raise ValueError(f"{item!r} names no host")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{item!r} has no valid port")
    return host, int(port_text)


def check_url(url: str) -> None:
    """Raise ValueError with a sentence if ``url`` is not a name server URL we can use."""
    scheme = urlsplit(url).scheme
    if scheme == SENTINEL_SCHEME:
        parse_sentinel_url(url)
    elif scheme not in PLAIN_SCHEMES:
        raise ValueError("it must start with redis://, rediss://, unix:// or redis+sentinel://")


def first_address(url: str) -> tuple[str, int]:
    """The first server a URL names (a Sentinel for a Sentinel URL): for route detection."""
    if urlsplit(url).scheme == SENTINEL_SCHEME:
        return parse_sentinel_url(url).sentinels[0]
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def connect(
    url: str,
    socket_connect_timeout: float = 2.0,
    socket_timeout: float = 5.0,
    health_check_interval: int = 30,
) -> redis.Redis:
    """A ``redis.Redis`` for ``url``; no command is sent yet.

    For a Sentinel URL the client follows the primary through failovers.
    """
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.1), RETRIES)
    errors = [RedisConnectionError, RedisTimeoutError, ReadOnlyError]
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=socket_connect_timeout,
            socket_timeout=socket_timeout,
            health_check_interval=health_check_interval,
            retry_on_timeout=True,
        )
    target = parse_sentinel_url(url)
    sentinel = redis.sentinel.Sentinel(
        list(target.sentinels),
        socket_connect_timeout=socket_connect_timeout,
        socket_timeout=socket_timeout,
        sentinel_kwargs={
            "socket_connect_timeout": socket_connect_timeout,
            "socket_timeout": socket_timeout,
        },
    )
    return sentinel.master_for(
        target.service,
        db=target.db,
        password=target.password,
        socket_connect_timeout=socket_connect_timeout,
        socket_timeout=socket_timeout,
        health_check_interval=health_check_interval,
        retry=retry,
        retry_on_error=errors,
    )


#: ``scheme://user:password@``: everything between the user and the last ``@`` of a word.
_USERINFO = re.compile(r"(://[^:/@\s]*):\S*@")


def redact(text: str) -> str:
    """A URL (or any text with URLs in it) with every password replaced by ``***``.

    The one rule for Redis, Sentinel and AMQP URLs alike, for messages and
    logs: the user and the hosts stay, so the user can tell which is meant.
    """
    return _USERINFO.sub(r"\1:***@", text)
