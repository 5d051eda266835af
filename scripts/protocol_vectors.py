#!/usr/bin/env python3
"""Test vectors for docs/protocol.md, computed by the client's own code.

Usage: ``python scripts/protocol_vectors.py`` prints the vectors;
``--write`` puts them into docs/protocol.md between the two marker lines;
``--check`` exits 1 when the document's vectors differ from what the code
computes now (``tests/test_protocol_vectors.py`` runs the same check).

Every input is fixed (an Ed25519 key from a 32-byte seed, a message, a
challenge, two certificate fingerprints), and Ed25519 signatures are
deterministic (RFC 8032), so the output never changes unless the wire
format does. A client written in another language reproduces these bytes
to know it signs and verifies as this one does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat.private.auth import CERT_CONTEXT, vouch  # noqa: E402
from chat.transport.wire import ChatMessage  # noqa: E402
from chat.trust import handshake, signing  # noqa: E402
from chat.trust.identity import Identity, fingerprint  # noqa: E402

DOC = ROOT / "docs" / "protocol.md"
BEGIN = "<!-- test vectors: begin (scripts/protocol_vectors.py --write) -->"
END = "<!-- test vectors: end -->"

#: The fixed inputs.
SEED = bytes(range(32))
CHALLENGE = bytes(range(32, 64))
CALLER_ID, CALLEE_ID = "k7m2x9qa", "p3hr8s2d"
CALLEE_CERT_FP = hashlib.sha256(b"callee certificate").hexdigest()
CALLER_CERT_FP = hashlib.sha256(b"caller certificate").hexdigest()
MESSAGE = ChatMessage(
    sender_id=CALLER_ID,
    sender_name="alice",
    chat="lobby",
    text="hi é",
    kind="text",
    id="6f1c0e7a9b2d4c3f8e5a1b0c9d8e7f60",
    ts=1795660800.512,
)


def wrapped_hex(data: bytes, width: int = 32) -> str:
    """Lowercase hex, ``width`` bytes a line, bytes separated by spaces."""
    return "\n".join(
        " ".join(f"{b:02x}" for b in data[i : i + width]) for i in range(0, len(data), width)
    )


def vectors() -> str:
    """The Markdown text that goes between the markers."""
    me = Identity(Ed25519PrivateKey.from_private_bytes(SEED))
    body = MESSAGE.encode(me)
    fields = json.loads(body)
    signed = signing.canonical(fields)
    statement = handshake.statement(CALLER_ID, CALLEE_ID, CHALLENGE, CALLEE_CERT_FP, CALLER_CERT_FP)
    proof = handshake.sign_proof(
        me, CALLER_ID, CALLEE_ID, CHALLENGE, CALLEE_CERT_FP, CALLER_CERT_FP
    )
    cert_sig = vouch(me, CALLER_CERT_FP)
    lines = [
        "**Key.** Ed25519 private key from the 32-byte seed (hex)",
        f"`{SEED.hex()}`:",
        "",
        f"- public key (`key`): `{me.public_key_b64}`",
        f"- fingerprint: `{fingerprint(me.public_key_b64)}`",
        "",
        "**Signed chat message.** The body as this client sends it (`ChatMessage.encode`):",
        "",
        "```",
        body.decode("utf-8"),
        "```",
        "",
        f"Canonical encoding, {len(signed)} bytes: the 20-byte prefix, then the sorted JSON"
        " (UTF-8; `é` is the two bytes `c3 a9`):",
        "",
        "```",
        wrapped_hex(signed),
        "```",
        "",
        f"`sig` (base64): `{fields['sig']}`",
        "",
        "**Handshake statement.** `cid` = `k7m2x9qa`, `eid` = `p3hr8s2d`, challenge ="
        f" `{CHALLENGE.hex()}`,",
        f"`efp` = `{CALLEE_CERT_FP}` (SHA-256 of the ASCII bytes `callee certificate`),",
        f"`cfp` = `{CALLER_CERT_FP}` (SHA-256 of `caller certificate`).",
        f"Statement, {len(statement)} bytes:",
        "",
        "```",
        wrapped_hex(statement),
        "```",
        "",
        f"`Proof.signature` (64 bytes, hex): `{proof.hex()}`",
        "",
        "**`cert_sig`** for the certificate fingerprint `cfp` above: the signed bytes are the"
        f" {len(CERT_CONTEXT)} bytes `{CERT_CONTEXT.decode('ascii')}` and the 64 hex digits,"
        f" {len(CERT_CONTEXT) + 64} bytes in all; `cert_sig` (base64):",
        f"`{cert_sig}`",
    ]
    return "\n".join(lines)


def current_block(text: str) -> str | None:
    """What the document holds between the markers, or None without them."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/protocol.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when the document differs")
    args = parser.parse_args()
    fresh = vectors()
    text = DOC.read_text(encoding="utf-8")
    if args.check:
        if current_block(text) != fresh:
            print("docs/protocol.md: the test vectors differ from the code; run --write")
            return 1
        return 0
    if args.write:
        if current_block(text) is None:
            print(f"docs/protocol.md lacks the marker lines {BEGIN!r} and {END!r}")
            return 1
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        DOC.write_text(f"{head}{BEGIN}\n{fresh}\n{END}{tail}", encoding="utf-8")
        return 0
    print(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
