"""TLS material for private chats: a certificate per run, pinned by callers.

Each client makes a fresh self-signed certificate (EC P-256) every run, in
memory only (grpcio's BoringSSL refuses Ed25519 certificates: its TLS
handshake fails with ``NO_COMMON_SIGNATURE_ALGORITHMS``), with the fixed DNS
name :data:`PEER_NAME`. Its fingerprint (hex SHA-256 of the DER encoding)
is for the client's name-server record, and a caller trusts exactly that
certificate (:func:`channel_credentials`).

Private chats use server-only TLS (:func:`server_only_credentials`): the
callee presents its certificate, the caller pins it, and the caller proves
who it is inside the stream, with a signature bound to the callee's
certificate fingerprint and a fresh challenge (``chat/private/auth.py``,
docs/protocol.md "Trust" says why this is enough). Mutual TLS
(:func:`server_credentials`, the caller presenting its own certificate from
a live trusted set) is kept for a deployment that wants it.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

#: The DNS name in every peer certificate; callers ask for it (target name override).
PEER_NAME = "distchat-peer"
#: Key of the caller's certificate in a call's auth context.
AUTH_CERT_KEY = "x509_pem_cert"
#: Longest certificate PEM accepted from elsewhere (ours are under 1 KB).
MAX_CERT_PEM_BYTES = 8 * 1024
_VALID_FOR = datetime.timedelta(days=30)
_CLOCK_SKEW = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class TlsMaterial:
    """One certificate and its private key.

    Attributes:
        cert_pem: the certificate, PEM.
        key_pem: its private key, PEM (PKCS #8, unencrypted; never written to disk).
        fingerprint: hex SHA-256 of the certificate's DER encoding.
    """

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str

    def __repr__(self) -> str:  # never print the key
        return f"TlsMaterial(fingerprint={self.fingerprint!r})"


def generate() -> TlsMaterial:
    """A new self-signed P-256 certificate for :data:`PEER_NAME`, valid 30 days."""
    key = ec.generate_private_key(ec.SECP256R1())
    # A subject of its own per certificate: a server that trusts several
    # self-signed certificates finds each one's issuer by subject name.
    subject = f"{PEER_NAME} {secrets.token_hex(8)}"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(PEER_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_id, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return TlsMaterial(cert_pem, key_pem, cert_fingerprint(cert_pem) or "")


def cert_fingerprint(cert_pem: object) -> str | None:
    """Hex SHA-256 of a PEM certificate's DER encoding, or None if it is not one.

    Never raises, whatever it is given.
    """
    if isinstance(cert_pem, str):
        cert_pem = cert_pem.encode("ascii", "replace")
    if not isinstance(cert_pem, bytes) or len(cert_pem) > MAX_CERT_PEM_BYTES:
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def channel_credentials(
    expected_cert_pem: bytes, own: TlsMaterial | None = None
) -> tuple[grpc.ChannelCredentials, list[tuple[str, str]]]:
    """Credentials for calling the owner of ``expected_cert_pem``, and only them.

    The callee's certificate must be exactly the expected one (it is the only
    trusted root, and it is self-signed); the caller presents ``own`` when
    given (mutual TLS), else no certificate.

    Returns:
        The credentials and the channel options to pass with them to
        ``grpc.secure_channel`` (the target name override for :data:`PEER_NAME`).
    """
    credentials = grpc.ssl_channel_credentials(
        root_certificates=expected_cert_pem,
        private_key=own.key_pem if own is not None else None,
        certificate_chain=own.cert_pem if own is not None else None,
    )
    return credentials, [("grpc.ssl_target_name_override", PEER_NAME)]


class TrustedCallers:
    """The client certificates a server accepts; may change while it runs.

    Thread-safe. gRPC asks for the current set before every new connection's
    TLS handshake, on one of its own threads, so :meth:`set` does the work and
    the lookup is only a comparison.
    """

    def __init__(self, certs: Iterable[bytes] = ()) -> None:
        self._lock = threading.Lock()
        self._bundle = b""
        self._version = 0
        self.set(certs)

    def set(self, certs: Iterable[bytes]) -> None:
        """Trust exactly ``certs`` (PEM) from the next connection on.

        Anything that is not a certificate is left out, with a line in the log.
        """
        good: dict[str, bytes] = {}
        for pem in certs:
            fp = cert_fingerprint(pem)
            if fp is None:
                log.warning("left out a caller certificate that does not parse")
                continue
            good[fp] = pem.strip() + b"\n"
        bundle = b"".join(good[fp] for fp in sorted(good))
        with self._lock:
            if bundle != self._bundle:
                self._bundle = bundle
                self._version += 1

    def snapshot(self) -> tuple[int, bytes]:
        """The current (version, PEM bundle)."""
        with self._lock:
            return self._version, self._bundle


def server_credentials(own: TlsMaterial, callers: TrustedCallers) -> grpc.ServerCredentials:
    """Mutual-TLS credentials (the chat server uses :func:`server_only_credentials`).

    The server presents ``own`` and requires every caller to present a
    certificate from ``callers``; a caller without one (plain text, or
    another certificate) fails its TLS handshake and never reaches the
    servicer.
    """

    def configuration(bundle: bytes) -> grpc.ServerCertificateConfiguration:
        # An empty root set would make gRPC refuse the configuration; our own
        # certificate stands in, and nobody else holds its key.
        return grpc.ssl_server_certificate_configuration(
            [(own.key_pem, own.cert_pem)], root_certificates=bundle or own.cert_pem
        )

    version, bundle = callers.snapshot()
    current = [version]

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        version, bundle = callers.snapshot()
        if version == current[0]:
            return None
        current[0] = version
        return configuration(bundle)

    return grpc.dynamic_ssl_server_credentials(
        configuration(bundle), fetch, require_client_authentication=True
    )


def server_only_credentials(own: TlsMaterial) -> grpc.ServerCredentials:
    """Server-only TLS credentials: the server presents ``own`` and asks callers for none.

    A plain-text caller fails its TLS handshake and never reaches the servicer.
    """
    return grpc.ssl_server_credentials([(own.key_pem, own.cert_pem)])


def peer_fingerprint(context: grpc.ServicerContext) -> str | None:
    """The fingerprint of the certificate the caller presented on this call, if any."""
    try:
        certs = context.auth_context().get(AUTH_CERT_KEY) or []
    except (AttributeError, ValueError):
        return None
    return cert_fingerprint(certs[0]) if len(certs) == 1 else None
