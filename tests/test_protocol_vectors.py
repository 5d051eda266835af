"""docs/protocol.md's test vectors are what the code computes, and each signature holds."""

from __future__ import annotations

import base64
import importlib.util
import json
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.support import ROOT

DOC = ROOT / "docs" / "protocol.md"


def _script():
    spec = importlib.util.spec_from_file_location(
        "protocol_vectors", ROOT / "scripts" / "protocol_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hex_block(text: str, after: str) -> bytes:
    """The first fenced block of hex bytes after the line containing ``after``."""
    rest = text.split(after, 1)[1]
    block = rest.split("```\n", 2)[1]
    return bytes.fromhex(block.replace("\n", " "))


def _verify(public_b64: str, signature: bytes, data: bytes) -> bool:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def test_the_documented_vectors_are_what_the_code_computes():
    vectors = _script()
    block = vectors.current_block(DOC.read_text(encoding="utf-8"))
    assert block is not None, "docs/protocol.md lost its test-vector markers"
    assert block == vectors.vectors(), "run: python scripts/protocol_vectors.py --write"


def test_each_documented_signature_holds_with_a_bare_ed25519_library():
    text = _script().current_block(DOC.read_text(encoding="utf-8"))
    assert text is not None
    public = re.search(r"public key \(`key`\): `([^`]+)`", text).group(1)
    body = json.loads(text.split("```\n", 2)[1])
    assert body["key"] == public

    canonical = _hex_block(text, "Canonical encoding")
    assert canonical.startswith(b"distchat message v1\n") and len(b"distchat message v1\n") == 20
    assert json.loads(canonical[20:]) == {k: v for k, v in body.items() if k != "sig"}
    assert _verify(public, base64.b64decode(body["sig"]), canonical)
    assert not _verify(public, base64.b64decode(body["sig"]), canonical + b" ")

    statement = _hex_block(text, "Statement,")
    proof = bytes.fromhex(re.search(r"`Proof.signature` \(64 bytes, hex\): `(\w+)`", text).group(1))
    assert statement.startswith(b"distchat private chat v1\x00\x00\x00\x08k7m2x9qa")
    assert _verify(public, proof, statement)

    cfp = re.search(r"`cfp` = `(\w{64})`", text).group(1)
    cert_sig = re.search(r"`cert_sig` \(base64\):\n`([^`]+)`", text).group(1)
    assert _verify(
        public, base64.b64decode(cert_sig), b"distchat chat certificate v1" + cfp.encode()
    )
