"""A user's identity: an Ed25519 key pair kept in the state directory.

On first use for a username, :meth:`Identity.load_or_create` makes a key pair
and stores it as ``<state_dir>/identities/<username>.key`` (PEM, PKCS #8,
unencrypted, mode 0600); later runs with the same username load it again.
:meth:`Identity.from_file` loads an explicit file (``--identity FILE``).

Public keys travel as base64 of their raw 32 bytes; people compare keys by
their :func:`fingerprint` ("ABCD EFGH IJKL MNOP QRST").
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import os
import re
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chat.trust import statefiles

log = logging.getLogger(__name__)

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
#: Length of a base64 public key (32 bytes, padded).
PUBLIC_KEY_B64_CHARS = 44
#: A key file larger than this is not one of ours; it is refused unread.
MAX_KEY_FILE_BYTES = 16 * 1024
IDENTITIES_DIR = "identities"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


class IdentityError(Exception):
    """A key file that cannot be used; the message is a sentence for the user."""


def key_file_name(username: str) -> str:
    """The file name of ``username``'s key in the identities directory.

    A username of letters, digits, ``.``, ``_`` and ``-`` (not starting with a
    dot) is used as it is; any other username (spaces, slashes, non-ASCII) is
    named by a hash of it, so no username can point outside the directory.
    """
    if _SAFE_NAME.fullmatch(username):
        return f"{username}.key"
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()[:32]
    return f"user-{digest}.key"


def fingerprint(public_key_b64: str) -> str:
    """A short, human-comparable fingerprint of a base64 public key.

    The first 100 bits of SHA-256 of the raw key, in base32, as five groups of
    four characters: ``"ABCD EFGH IJKL MNOP QRST"``. Anything that is not a
    valid public key gives ``"(invalid key)"``.
    """
    raw = decode_public_key(public_key_b64)
    if raw is None:
        return "(invalid key)"
    text = base64.b32encode(hashlib.sha256(raw).digest()).decode("ascii")[:20]
    return " ".join(text[i : i + 4] for i in range(0, 20, 4))


def decode_public_key(public_key_b64: object) -> bytes | None:
    """The raw 32 bytes of a base64 public key, or None if it is not one."""
    if not isinstance(public_key_b64, str) or len(public_key_b64) != PUBLIC_KEY_B64_CHARS:
        return None
    try:
        raw = base64.b64decode(public_key_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == PUBLIC_KEY_BYTES else None


@functools.lru_cache(maxsize=1024)
def _public_key(raw: bytes) -> Ed25519PublicKey | None:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def verify(public_key_b64: object, signature: object, data: object) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data`` by the key.

    Never raises: a key that is not base64 of 32 bytes, a signature that is
    not 64 bytes, or data that is not bytes all give False.
    """
    raw = decode_public_key(public_key_b64)
    if raw is None or not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        return False
    if not isinstance(data, bytes):
        return False
    key = _public_key(raw)
    if key is None:
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


class Identity:
    """One Ed25519 key pair: signs for its owner.

    Attributes:
        path: the key file, or None for a key kept only in memory.
    """

    def __init__(self, private_key: Ed25519PrivateKey, path: Path | None = None) -> None:
        self._key = private_key
        self.path = path
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._public_b64 = base64.b64encode(raw).decode("ascii")

    @classmethod
    def generate(cls) -> Identity:
        """A new key pair kept only in memory (tests, benchmarks)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, state_dir: Path, username: str) -> Identity:
        """Load ``username``'s key from ``state_dir``, creating it on first use.

        Two clients starting at once with the same username end up with the
        same key: the file is created atomically and the loser loads it.

        Raises:
            IdentityError: the file cannot be created, or the existing one is
                not a usable key or is readable by other users.
        """
        path = Path(state_dir) / IDENTITIES_DIR / key_file_name(username)
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                created = statefiles.create_exclusive(path, pem)
            except OSError as exc:
                raise IdentityError(
                    f"Cannot create the identity file {path}: {exc.strerror}."
                ) from None
            if created:
                log.info("created a new identity for %r in %s", username, path)
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: str | Path) -> Identity:
        """Load an unencrypted PEM Ed25519 private key.

        Raises:
            IdentityError: the file cannot be read, is readable or writable by
                other users, or does not hold an unencrypted Ed25519 key.
        """
        path = Path(path)
        try:
            # Non-blocking, so that a FIFO given by mistake is refused, not waited on.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise IdentityError(f"The identity file {path} does not exist.") from None
        except OSError as exc:
            raise IdentityError(
                f"The identity file {path} cannot be read: {exc.strerror}."
            ) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise IdentityError(f"The identity file {path} is not a regular file.")
        with os.fdopen(fd, "rb") as file:
            if os.name == "posix" and info.st_mode & 0o077:
                raise IdentityError(
                    f"The identity file {path} can be read by other users "
                    f"(mode {stat.S_IMODE(info.st_mode):o}); make it private with "
                    f"'chmod 600 {path}' and start again."
                )
            data = file.read(MAX_KEY_FILE_BYTES + 1)
        if len(data) > MAX_KEY_FILE_BYTES:
            raise IdentityError(f"The identity file {path} is too large to be a key.")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise IdentityError(
                f"The identity file {path} holds an encrypted key; use an unencrypted one."
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise IdentityError(
                f"The identity file {path} does not hold a PEM private key."
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError(
                f"The identity file {path} holds a key of another kind "
                f"({type(key).__name__.removeprefix('_')}), not an Ed25519 key."
            )
        return cls(key, path)

    @property
    def public_key_b64(self) -> str:
        """The public key: base64 of its raw 32 bytes."""
        return self._public_b64

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint, e.g. ``"ABCD EFGH IJKL MNOP QRST"``."""
        return fingerprint(self._public_b64)

    @property
    def file_stem(self) -> str:
        """The fingerprint without spaces: names this identity's files in the state directory."""
        return self.fingerprint.replace(" ", "")

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"Identity({self.fingerprint!r}, path={self.path!r})"
