"""The gRPC server every client hosts, and the channel options both sides use."""

from __future__ import annotations

from concurrent import futures

import grpc


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
    address: str, keepalive_seconds: float = 1.0, workers: int = 32
) -> tuple[grpc.Server, int]:
    """An unstarted server listening on ``address`` (``host:0`` picks a free port).

    Returns the server and the port it is bound to, read back from the bind,
    so there is no window in which another process could take the port.
    """
    options = keepalive_options(keepalive_seconds) + [
        # Accept the client's keepalive pings however often they come.
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 100),
        ("grpc.http2.max_ping_strikes", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"), options=options
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    return server, port
