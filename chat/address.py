"""Which host a client advertises to others, and which interface it listens on."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from nameserver.connect import first_address


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def detect_advertise_host(redis_url: str) -> str:
    """The local address this machine uses to reach the name server.

    Whoever can reach the shared Redis can most likely reach us at the address
    our packets to it leave from; with Redis on this machine that is loopback.
    A UDP ``connect`` only picks a route: it sends nothing.
    """
    if urlsplit(redis_url).scheme == "unix":
        return "127.0.0.1"
    host, port = first_address(redis_url)
    if _is_loopback(host):
        return "127.0.0.1"
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(sockaddr)
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()


def resolve_hosts(advertise_host: str, bind_host: str, redis_url: str) -> tuple[str, str]:
    """(advertised host, bind host) from the config's ``auto`` or explicit values."""
    advertise = detect_advertise_host(redis_url) if advertise_host == "auto" else advertise_host
    if bind_host != "auto":
        return advertise, bind_host
    if _is_loopback(advertise):
        return advertise, "[::1]" if advertise == "::1" else "127.0.0.1"
    return advertise, "[::]" if ":" in advertise else "0.0.0.0"
