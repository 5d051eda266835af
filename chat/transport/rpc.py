"""The gRPC server every client hosts, and the channel options both sides use."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent import futures

import grpc

from chat.transport.admission import POOL_THREADS
from chat.trust.tls import TlsMaterial, server_only_credentials

#: Room for a full Batch of maximal Texts (see chat/private/session.py), nothing more.
FRAME_OVERHEAD = 64
#: Most Texts in one Batch frame (docs/protocol.md).
BATCH_TEXTS = 256


def message_options(max_message_bytes: int = 4096) -> list[tuple[str, int]]:
    """The largest frame either side takes: a full Batch of the longest Texts."""
    limit = BATCH_TEXTS * (max_message_bytes + FRAME_OVERHEAD) + 1024
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
    ]


def keepalive_options(seconds: float) -> list[tuple[str, int]]:
    """Channel options that ping an idle peer every ``seconds`` and give up soon after."""
    ms = max(int(seconds * 1000), 200)
    return [
        ("grpc.keepalive_time_ms", ms),
        ("grpc.keepalive_timeout_ms", ms * 2),
        # A keepalive ping that goes out while another ping (e.g. a BDP probe)
        # is unanswered is timed by this instead (60 s by default), so a peer
        # that froze right after sending would go unnoticed for a minute.
        ("grpc.http2.ping_timeout_ms", ms * 2),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_ping_interval_without_data_ms", ms),
    ]


def create_server(
    address: str,
    keepalive_seconds: float = 1.0,
    workers: int = POOL_THREADS,
    max_message_bytes: int = 4096,
    tls: TlsMaterial | None = None,
) -> tuple[grpc.Server, int]:
    """An unstarted server listening on ``address`` (``host:0`` picks a free port).

    Returns the server and the port it is bound to, read back from the bind,
    so there is no window in which another process could take the port. The
    server takes at most ``workers`` calls at once (one thread each; see
    :mod:`chat.transport.admission`): a call beyond that is refused at once
    rather than queued behind the others. With ``tls`` the port speaks TLS
    only, presenting that certificate (:func:`chat.trust.tls.server_only_credentials`);
    there is no plain-text port then.
    """
    options = (
        keepalive_options(keepalive_seconds)
        + message_options(max_message_bytes)
        + [
            # Accept the client's keepalive pings however often they come.
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 100),
            ("grpc.http2.max_ping_strikes", 0),
        ]
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=options,
        maximum_concurrent_rpcs=workers,
    )
    try:
        with _quiet_stderr():  # gRPC's C core logs a failed bind there; the caller says it better
            if tls is not None:
                port = server.add_secure_port(address, server_only_credentials(tls))
            else:
                port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise OSError("the address is in use or not available here")
    return server, port


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (C code writes there directly)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
