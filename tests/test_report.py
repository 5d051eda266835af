"""docs/report.md cites only tests, benchmark sections and files that exist, and its
figures (and the README's) come from benchmark sections that name the commit and
date they were measured at, never from figures marked as earlier."""

from __future__ import annotations

import ast
import datetime
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

REPORT = ROOT / "docs" / "report.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
#: Documents whose figures must come from current benchmark sections.
FIGURE_DOCUMENTS = [README, ROOT / "docs" / "usage.md", ROOT / "docs" / "several-machines.md"]
#: A reader finishes the report's body (before the evidence appendix) in about ten minutes.
MAX_WORDS = 2500
APPENDIX = "## Appendix"

#: How a benchmarks.md section names the source of its figures.
MEASURED = re.compile(r"Measured\s+at\s+commit\s+`([0-9a-f]{7,40})`\s+on\s+(\d{4}-\d{2}-\d{2})")
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_DECIMAL = r"\d+\.\d+"
#: A measured figure: a number or range with a unit (seconds only with a decimal
#: point, so settings such as "15 s" are not taken for measurements).
FIGURE = re.compile(
    rf"(?<![\w.])(?:{_NUMBER}(?:\s*(?:-|to)\s*{_NUMBER})?\s*(?:ms|MB|msgs?/s|insults/s)"
    rf"|{_DECIMAL}(?:\s*(?:-|to)\s*{_DECIMAL})?\s*s)(?![\w/])"
)

#: ``tests/test_x.py::test_name``, as the report cites a test.
TEST_CITATION = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
#: ``*Section*`` (single asterisks, not bold; it may be wrapped), as the report cites
#: benchmarks.md.
SECTION_CITATION = re.compile(r"(?<!\*)\*([^*]+)\*(?!\*)")
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
    return list(sections(BENCHMARKS.read_text(encoding="utf-8")))


def is_earlier(heading: str) -> bool:
    """Headings of figures kept for history say so: "Earlier figures (...)"."""
    return "earlier" in heading.lower()


def sections(text: str) -> dict[str, str]:
    """Each ``##`` section's current text: without its "### Earlier ..." subsections.

    A ``##`` section whose own heading is marked earlier maps to "".
    """
    found: dict[str, list[str]] = {}
    heading, skipping = None, False
    for line in text.splitlines():
        if line.startswith("## "):
            heading, skipping = line[3:].strip(), is_earlier(line)
            found[heading] = []
        elif line.startswith("### "):
            skipping = is_earlier(line) or (heading is not None and is_earlier(heading))
        if heading is not None and not skipping:
            found[heading].append(line)
    return {h: "\n".join(lines) for h, lines in found.items()}


#: Code blocks and spans: samples of output, not claims.
CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


def figures(text: str) -> set[str]:
    """The measured figures a text states in its prose, spaces normalised."""
    return {" ".join(m.split()) for m in FIGURE.findall(CODE.sub(" ", text))}


def figures_missing(document: str, benchmarks: str) -> list[str]:
    """Figures of ``document`` that no current benchmark section states."""
    current = " ".join(" ".join(sections(benchmarks).values()).split())
    return sorted(f for f in figures(document) if f not in current)


def report_body() -> str:
    return REPORT.read_text(encoding="utf-8").split(APPENDIX, 1)[0]


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
    cited = {" ".join(c.split()) for c in SECTION_CITATION.findall(text)}
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
    words = len(report_body().split())
    assert words <= MAX_WORDS, f"docs/report.md's body has {words} words (at most {MAX_WORDS})"


def test_test_paths_live_in_the_evidence_appendix():
    text = REPORT.read_text(encoding="utf-8")
    assert APPENDIX in text, "docs/report.md should end with an evidence appendix"
    assert TEST_CITATION.findall(report_body()) == [], "move test paths to the appendix"


def test_every_benchmark_section_names_its_commit_and_date():
    unnamed = []
    for heading, current in sections(BENCHMARKS.read_text(encoding="utf-8")).items():
        if is_earlier(heading):
            continue
        found = MEASURED.findall(current)
        if not found:
            unnamed.append(heading)
        for _commit, day in found:
            datetime.date.fromisoformat(day)
    assert not unnamed, f"benchmarks.md sections without 'Measured at commit ... on ...': {unnamed}"


def test_the_commits_benchmarks_name_exist():
    in_git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--git-dir"], capture_output=True, check=False
    )
    if in_git.returncode != 0:
        pytest.skip("not a git checkout")
    commits = {c for c, _ in MEASURED.findall(BENCHMARKS.read_text(encoding="utf-8"))}
    unknown = [
        c
        for c in sorted(commits)
        if subprocess.run(
            ["git", "-C", str(ROOT), "cat-file", "-e", f"{c}^{{commit}}"],
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ]
    assert not unknown, f"benchmarks.md names commits this repository lacks: {unknown}"


def test_the_report_cites_no_section_marked_earlier():
    cited = {
        " ".join(c.split()) for c in SECTION_CITATION.findall(REPORT.read_text(encoding="utf-8"))
    }
    current = [h for h, text in sections(BENCHMARKS.read_text(encoding="utf-8")).items() if text]
    earlier = sorted(name for name in cited if not names_a_heading(name, current))
    assert not earlier, f"docs/report.md cites sections with only earlier figures: {earlier}"


def test_every_figure_in_the_report_and_readme_is_a_current_one():
    benchmarks = BENCHMARKS.read_text(encoding="utf-8")
    assert len(figures(report_body())) >= 15, "the report should state its figures"
    missing = {"docs/report.md": figures_missing(report_body(), benchmarks)}
    for path in FIGURE_DOCUMENTS:
        missing[str(path.relative_to(ROOT))] = figures_missing(
            path.read_text(encoding="utf-8"), benchmarks
        )
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"figures not found in a current section of benchmarks.md: {missing}"


def test_a_figure_only_among_earlier_ones_is_refused():
    benchmarks = (
        "## Insults\n\nMeasured at commit `abc1234` on 2026-12-05.\n\n| rate | 1,024 insults/s |\n"
        "### Earlier figures (before the quorum queue)\n\n| rate | 540 insults/s |\n"
        "## Old things (earlier)\n\n| idle | 58 MB |\n"
    )
    report = "Five senders reached 1,024 insults/s; one managed 540 insults/s in 58 MB, 2.96 s."
    assert figures(report) == {"1,024 insults/s", "540 insults/s", "58 MB", "2.96 s"}
    assert figures_missing(report, benchmarks) == ["2.96 s", "540 insults/s", "58 MB"]
    assert figures("kept 15 s, then 30 days") == set()
    assert figures("p50 0.44-0.56 ms") == {"0.44-0.56 ms"}
    assert figures("in 0.44-0.56\n  ms, wrapped") == {"0.44-0.56 ms"}
    assert figures("prints `answer from bob after 4.1 ms`") == set()


def test_a_section_must_match_up_to_a_word_end():
    headings = ["Group chats (RabbitMQ)", "Cluster (three RabbitMQ nodes)"]
    assert names_a_heading("Group chats", headings)
    assert names_a_heading("Cluster", headings)
    assert not names_a_heading("Group chat", headings)
    assert not names_a_heading("Private chats", headings)
