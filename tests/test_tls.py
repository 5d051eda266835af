"""Mutual TLS for private chats: a real gRPC server, pinned callers, the caller's certificate."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from cryptography import x509

from chat.trust import tls

METHOD = "/distchat.test.Echo/Echo"


class EchoServer:
    """A gRPC server with the private-chat credentials and one generic method."""

    def __init__(self, own: tls.TlsMaterial, callers: tls.TrustedCallers) -> None:
        self.seen: list[str | None] = []

        def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.seen.append(tls.peer_fingerprint(context))
            return request

        handler = grpc.method_handlers_generic_handler(
            "distchat.test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
        self.port = self.server.add_secure_port("127.0.0.1:0", tls.server_credentials(own, callers))
        self.server.start()

    def call(self, channel: grpc.Channel) -> bytes | grpc.StatusCode:
        try:
            return channel.unary_unary(METHOD)(b"ping", timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
        finally:
            channel.close()

    def call_pinned(self, expected: bytes, own: tls.TlsMaterial) -> bytes | grpc.StatusCode:
        credentials, options = tls.channel_credentials(expected, own)
        target = f"127.0.0.1:{self.port}"
        return self.call(grpc.secure_channel(target, credentials, options=options))


@pytest.fixture
def callee() -> tls.TlsMaterial:
    return tls.generate()


@pytest.fixture
def alice() -> tls.TlsMaterial:
    return tls.generate()


@pytest.fixture
def server(callee, alice) -> Iterator[EchoServer]:
    server = EchoServer(callee, tls.TrustedCallers([alice.cert_pem]))
    yield server
    server.server.stop(None)


def test_certificate_names_the_fixed_peer_name_and_has_a_fingerprint(callee):
    cert = x509.load_pem_x509_certificate(callee.cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [tls.PEER_NAME]
    assert len(callee.fingerprint) == 64 and int(callee.fingerprint, 16) >= 0
    assert tls.cert_fingerprint(callee.cert_pem) == callee.fingerprint
    assert tls.generate().fingerprint != callee.fingerprint
    assert b"PRIVATE" not in repr(callee).encode()


def test_pinned_caller_gets_through_and_the_server_sees_its_certificate(server, callee, alice):
    assert server.call_pinned(callee.cert_pem, alice) == b"ping"
    assert server.seen == [alice.fingerprint]


def test_caller_pinned_to_another_certificate_fails(server, alice):
    impostor_expected = tls.generate()
    assert server.call_pinned(impostor_expected.cert_pem, alice) == grpc.StatusCode.UNAVAILABLE
    assert server.seen == []


def test_plain_text_caller_fails(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    assert server.call(channel) == grpc.StatusCode.UNAVAILABLE
    assert server.seen == []


def test_tls_caller_without_a_client_certificate_fails(server, callee):
    credentials = grpc.ssl_channel_credentials(root_certificates=callee.cert_pem)
    channel = grpc.secure_channel(
        f"127.0.0.1:{server.port}",
        credentials,
        options=[("grpc.ssl_target_name_override", tls.PEER_NAME)],
    )
    assert server.call(channel) == grpc.StatusCode.UNAVAILABLE
    assert server.seen == []


def test_caller_certificates_trusted_by_the_server_can_change_while_it_runs(callee, alice):
    bob = tls.generate()
    callers = tls.TrustedCallers([alice.cert_pem])
    server = EchoServer(callee, callers)
    try:
        assert server.call_pinned(callee.cert_pem, bob) == grpc.StatusCode.UNAVAILABLE
        callers.set([alice.cert_pem, bob.cert_pem, b"not a certificate"])
        assert server.call_pinned(callee.cert_pem, bob) == b"ping"
        assert server.call_pinned(callee.cert_pem, alice) == b"ping"
        callers.set([bob.cert_pem])
        assert server.call_pinned(callee.cert_pem, alice) == grpc.StatusCode.UNAVAILABLE
        assert server.seen == [bob.fingerprint, alice.fingerprint]
    finally:
        server.server.stop(None)


def test_an_empty_trust_set_lets_no_caller_in(callee, alice):
    server = EchoServer(callee, tls.TrustedCallers())
    try:
        assert server.call_pinned(callee.cert_pem, alice) == grpc.StatusCode.UNAVAILABLE
    finally:
        server.server.stop(None)


def test_a_call_without_tls_has_no_caller_fingerprint():
    seen: list[str | None] = []

    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.append(tls.peer_fingerprint(context))
        return request

    handler = grpc.method_handlers_generic_handler(
        "distchat.test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert channel.unary_unary(METHOD)(b"ping", timeout=10) == b"ping"
        assert seen == [None]
    finally:
        server.stop(None)


@pytest.mark.parametrize("junk", [None, 5, b"", b"-----BEGIN CERTIFICATE-----\nxx", b"x" * 100_000])
def test_fingerprint_of_anything_else_is_none(junk):
    assert tls.cert_fingerprint(junk) is None
