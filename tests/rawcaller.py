"""Hand-driven private-chat streams for tests and benchmarks: records that vouch
for a certificate, and a raw caller that does the handshake and then sends
whatever frames it is given (hostile ones included)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import grpc

from chat.private.auth import Prover, pinned_channel, vouch, vouched_fingerprint
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc
from chat.transport.rpc import message_options
from chat.trust.identity import Identity
from chat.trust.tls import TlsMaterial, generate
from nameserver.registry import ClientRecord

_END = object()


def signed_record(
    client_id: str,
    name: str,
    port: int,
    identity: Identity | None = None,
    tls: TlsMaterial | None = None,
    host: str = "127.0.0.1",
) -> tuple[ClientRecord, Identity, TlsMaterial]:
    """A record whose key vouches for its certificate, as a real client publishes."""
    identity = identity or Identity.generate()
    tls = tls or generate()
    record = ClientRecord(
        client_id,
        name,
        host,
        port,
        time.time(),
        identity.public_key_b64,
        tls.cert_pem.decode("ascii"),
        vouch(identity, tls.fingerprint),
    )
    return record, identity, tls


class RawCall:
    """One stream to ``callee``'s chat server over pinned TLS, driven by hand.

    Args:
        callee: the record to call.
        timeout: deadline of the whole call, seconds.
        channel: a channel to use instead of a pinned TLS one.
    """

    def __init__(
        self, callee: ClientRecord, timeout: float = 30, channel: grpc.Channel | None = None
    ) -> None:
        self.callee = callee
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.channel = channel or pinned_channel(callee, message_options(4096))
        self.call = pb_grpc.PrivateChatStub(self.channel).Chat(self._frames(), timeout=timeout)

    def _frames(self) -> Iterator[pb.Frame]:
        while (frame := self._outbox.get()) is not _END:
            yield frame

    def send(self, *frames: pb.Frame) -> None:
        for frame in frames:
            self._outbox.put(frame)

    def end(self) -> None:
        """End our half of the stream."""
        self._outbox.put(_END)

    def hello(self, me: ClientRecord) -> pb.Frame:
        """Send our Hello as ``me``; returns the first frame back (the Challenge)."""
        self.send(pb.Frame(hello=pb.Hello(version=1, peer=pb.Peer(id=me.id, name=me.name))))
        return next(self.call)

    def handshake(self, identity: Identity, me: ClientRecord) -> pb.Frame:
        """Hello, Challenge, Proof as ``me``; returns the callee's Hello."""
        challenge = self.hello(me)
        self.send(self.proof(identity, me, challenge))
        return next(self.call)

    def proof(self, identity: Identity, me: ClientRecord, challenge: pb.Frame) -> pb.Frame:
        """The Proof frame that answers ``challenge`` as ``me``."""
        callee_fp = vouched_fingerprint(self.callee) or ""
        return Prover(identity, me, self.callee, callee_fp).answer(challenge.challenge)

    def close(self) -> None:
        self.end()
        self.call.cancel()
        self.channel.close()
