#!/usr/bin/env python3
"""Generate the Python stubs of proto/ into chat/proto/, or check they are current.

Usage: ``python scripts/gen_proto.py`` regenerates; ``--check`` exits 1 when a
committed stub differs from what the .proto files generate now.

The .proto files live at ``proto/chat/proto/*.proto`` so that the generated
modules import each other as ``chat.proto.x_pb2`` without any rewriting.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE = Path("chat") / "proto"


def generate(out: Path) -> list[Path]:
    """Run protoc over every .proto file; returns the generated paths relative to out."""
    sources = sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(s.relative_to(PROTO_ROOT)) for s in sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out) for p in (out / PACKAGE).glob("*_pb2*.py*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args()
    if not args.check:
        for old in (ROOT / PACKAGE).glob("*_pb2*.py*"):
            old.unlink()
        made = generate(ROOT)
        print("generated", ", ".join(str(p) for p in made))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        made = generate(Path(tmp))
        committed = sorted(p.relative_to(ROOT) for p in (ROOT / PACKAGE).glob("*_pb2*.py*"))
        stale = [str(p) for p in made if not (ROOT / p).exists()]
        stale += [str(p) for p in committed if p not in made]
        stale += [
            str(p)
            for p in made
            if (ROOT / p).exists() and not filecmp.cmp(Path(tmp) / p, ROOT / p, shallow=False)
        ]
    if stale:
        print("proto stubs are out of date:", ", ".join(sorted(set(stale))), file=sys.stderr)
        print("run: python scripts/gen_proto.py", file=sys.stderr)
        return 1
    print("proto stubs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
