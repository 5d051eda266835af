"""docs/report.md cites only tests, benchmark sections and files that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support import ROOT

REPORT = ROOT / "docs" / "report.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
#: A reader finishes the report in about ten minutes.
MAX_WORDS = 2500

#: ``tests/test_x.py::test_name``, as the report cites a test.
TEST_CITATION = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
#: ``*Section*`` (single asterisks, not bold), as the report cites benchmarks.md.
SECTION_CITATION = re.compile(r"(?<!\*)\*([^*\n]+)\*(?!\*)")
#: A file of this repository named in backquotes, such as ``chat/transport/admission.py``.
FILE_CITATION = re.compile(r"`((?:chat|nameserver|scripts|tests|docs)/[\w/.-]+\.\w+)`")


def functions_in(path: Path) -> set[str]:
    """Names of the module-level test functions in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def benchmark_headings() -> list[str]:
    """The ``##`` section headings of docs/benchmarks.md, without the hashes."""
    lines = BENCHMARKS.read_text(encoding="utf-8").splitlines()
    return [line[3:].strip() for line in lines if line.startswith("## ")]


def names_a_heading(cited: str, headings: list[str]) -> bool:
    """True when ``cited`` is a heading or its start up to a word's end.

    The report shortens headings: *Group chats* cites "Group chats (RabbitMQ)".
    """
    return any(
        heading == cited or (heading.startswith(cited) and not heading[len(cited)].isalnum())
        for heading in headings
    )


def test_every_cited_test_exists():
    text = REPORT.read_text(encoding="utf-8")
    citations = set(TEST_CITATION.findall(text))
    assert len(citations) >= 20, "the report should cite its tests as tests/x.py::test_name"
    missing = []
    for file, name in sorted(citations):
        path = ROOT / file
        if not path.is_file() or name not in functions_in(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/report.md cites tests that do not exist: {missing}"


def test_every_cited_benchmark_section_exists():
    text = REPORT.read_text(encoding="utf-8")
    cited = set(SECTION_CITATION.findall(text))
    assert len(cited) >= 5, "the report should cite benchmark sections as *Section*"
    headings = benchmark_headings()
    missing = sorted(name for name in cited if not names_a_heading(name, headings))
    assert not missing, f"docs/report.md cites sections benchmarks.md lacks: {missing}"


def test_every_cited_file_and_link_exists():
    text = REPORT.read_text(encoding="utf-8")
    files = set(FILE_CITATION.findall(text))
    links = {link for link in re.findall(r"\]\(([^)#]+)", text) if "://" not in link}
    missing = sorted(f for f in files if not (ROOT / f).exists())
    missing += sorted(link for link in links if not (REPORT.parent / link).exists())
    assert not missing, f"docs/report.md names files that do not exist: {missing}"


def test_the_report_reads_in_ten_minutes():
    words = len(REPORT.read_text(encoding="utf-8").split())
    assert words <= MAX_WORDS, f"docs/report.md has {words} words (at most {MAX_WORDS})"


def test_a_section_must_match_up_to_a_word_end():
    headings = ["Group chats (RabbitMQ)", "Cluster (three RabbitMQ nodes)"]
    assert names_a_heading("Group chats", headings)
    assert names_a_heading("Cluster", headings)
    assert not names_a_heading("Group chat", headings)
    assert not names_a_heading("Private chats", headings)
