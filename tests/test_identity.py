"""Identities: one Ed25519 key per username, private on disk, reused, checked on load."""

from __future__ import annotations

import base64
import os
import stat
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from chat import config
from chat.trust.identity import Identity, IdentityError, fingerprint, key_file_name, verify


def _write(path, data: bytes, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def test_first_run_creates_a_private_key_and_later_runs_reuse_it(tmp_path):
    first = Identity.load_or_create(tmp_path, "bob")
    path = tmp_path / "identities" / "bob.key"
    assert first.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = Identity.load_or_create(tmp_path, "bob")
    assert again.public_key_b64 == first.public_key_b64
    other = Identity.load_or_create(tmp_path, "alice")
    assert other.public_key_b64 != first.public_key_b64
    assert len(base64.b64decode(first.public_key_b64)) == 32
    assert not list((tmp_path / "identities").glob(".*"))  # no temporary files left


def test_key_is_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        ident = Identity.load_or_create(tmp_path, "carol")
    finally:
        os.umask(old)
    assert stat.S_IMODE(ident.path.stat().st_mode) == 0o600


def test_racing_starts_with_one_username_agree_on_one_key(tmp_path):
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(Identity.load_or_create(tmp_path, "dave").public_key_b64)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


@pytest.mark.parametrize("name", ["../evil", "a/b", "a b", ".hidden", "zoë", "x" * 32])
def test_any_username_maps_to_a_plain_file_inside_the_directory(tmp_path, name):
    file_name = key_file_name(name)
    assert "/" not in file_name and not file_name.startswith(".")
    ident = Identity.load_or_create(tmp_path, name)
    assert ident.path.parent == tmp_path / "identities"
    assert Identity.load_or_create(tmp_path, name).public_key_b64 == ident.public_key_b64


def test_a_state_directory_that_cannot_hold_the_key_gives_a_sentence(tmp_path):
    (tmp_path / "identities").write_text("a file where the folder should be")
    with pytest.raises(IdentityError, match="Cannot create the identity file"):
        Identity.load_or_create(tmp_path, "gina")


def test_from_file_loads_an_explicit_key(tmp_path):
    made = Identity.load_or_create(tmp_path, "erin")
    assert Identity.from_file(made.path).public_key_b64 == made.public_key_b64


def test_a_key_readable_by_others_is_refused_with_a_sentence(tmp_path):
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "open.key"
    _write(path, pem, 0o644)
    os.chmod(path, 0o644)  # whatever the umask was
    with pytest.raises(IdentityError, match=r"can be read by other users .*chmod 600"):
        Identity.from_file(path)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "not an Ed25519 key",
        ),
        (
            ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
            "encrypted key",
        ),
        (b"hello, not a key\n", "does not hold a PEM private key"),
        (b"x" * 20_000, "too large"),
    ],
    ids=["ec-key", "encrypted", "garbage", "huge"],
)
def test_a_file_that_is_not_an_ed25519_key_is_refused(tmp_path, data, match):
    path = tmp_path / "bad.key"
    _write(path, data)
    with pytest.raises(IdentityError, match=match):
        Identity.from_file(path)


def test_a_missing_file_or_a_directory_is_refused(tmp_path):
    with pytest.raises(IdentityError, match="does not exist"):
        Identity.from_file(tmp_path / "nope.key")
    with pytest.raises(IdentityError):
        Identity.from_file(tmp_path)


def test_a_damaged_key_in_the_state_directory_is_refused_not_replaced(tmp_path):
    (tmp_path / "identities").mkdir(mode=0o700)
    _write(tmp_path / "identities" / "frank.key", b"garbage")
    with pytest.raises(IdentityError):
        Identity.load_or_create(tmp_path, "frank")
    assert (tmp_path / "identities" / "frank.key").read_bytes() == b"garbage"


def test_signatures_verify_and_anything_else_is_false_never_an_exception():
    ident = Identity.generate()
    sig = ident.sign(b"hello")
    assert verify(ident.public_key_b64, sig, b"hello")
    assert not verify(ident.public_key_b64, sig, b"hellO")
    assert not verify(Identity.generate().public_key_b64, sig, b"hello")
    assert not verify(ident.public_key_b64, sig[:-1] + bytes([sig[-1] ^ 1]), b"hello")
    hostile = [
        None,
        42,
        "",
        "not base64!!",
        "A" * 44,
        base64.b64encode(b"\x00" * 31).decode(),
        base64.b64encode(b"\x00" * 33).decode(),
        ident.public_key_b64 + "=",
        ident.public_key_b64.encode(),
        "é" * 44,
    ]
    for key in hostile:
        assert not verify(key, sig, b"hello")
    for bad_sig in [None, b"", sig[:63], sig + b"\x00", "x" * 64, 5]:
        assert not verify(ident.public_key_b64, bad_sig, b"hello")
    assert not verify(ident.public_key_b64, sig, "hello")


def test_fingerprint_is_short_and_comparable():
    ident = Identity.generate()
    fp = ident.fingerprint
    groups = fp.split(" ")
    assert len(groups) == 5 and all(len(g) == 4 and g.isalnum() and g.isupper() for g in groups)
    assert fp == fingerprint(ident.public_key_b64)
    assert fp != Identity.generate().fingerprint
    assert fingerprint("garbage") == "(invalid key)"


def test_state_dir_setting_defaults_beside_the_logs():
    cfg = config.load(file=None, env={}, overrides=None)
    assert cfg.state_path.name == "distchat"
    assert cfg.log_path.parent == cfg.state_path
    assert config.load(env={"CHAT_STATE_DIR": "/tmp/x"}).state_path.as_posix() == "/tmp/x"
