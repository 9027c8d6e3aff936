"""The library's code and docstrings name no data folder of this checkout and no work-item number.

Data folders are the caller's: dev sets take a root from an argument or ``$TEXT_PRUNER_RAG_DATA``.
Work-item numbers (``#21``, ``issue 12``) mean nothing to a user reading the installed package.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "text_pruner_rag"

DATA_PATH = re.compile(r"shared[/\\]data")
ISSUE_NUMBER = re.compile(r"(?<![\w&/])#\d+\b|\bissues?\s*(?:no\.?\s*)?#?\d+\b", re.IGNORECASE)


def library_files() -> list[Path]:
    """Every Python source file of the package (the embedded model folders hold no code)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "pretrained" not in p.relative_to(PACKAGE).parts)


def offending_lines(pattern: re.Pattern, files) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]


@pytest.mark.parametrize(
    "text, data_path, issue",
    [
        ("root = '../shared/data/raw'", True, False),
        ("folder shared\\data\\raw", True, False),
        ('"""The dev suite of issue #8."""', False, True),
        ("# see #21 for the plan", False, True),
        ("targets of Issue 12", False, True),
        ("issues 3", False, True),
        ("color = '#1f77b4'  # a hex colour, not an item", False, False),
        ("shared data folder, issued tokens, top-3 items", False, False),
    ],
)
def test_the_patterns_tell_offending_text(text, data_path, issue):
    assert bool(DATA_PATH.search(text)) is data_path
    assert bool(ISSUE_NUMBER.search(text)) is issue


def test_the_scan_reads_every_module():
    names = {p.relative_to(PACKAGE).as_posix() for p in library_files()}
    assert {"pruner.py", "cli.py", "data/devsets.py", "evaluation/harness.py", "training/run.py"} <= names


def test_no_data_folder_of_this_checkout_in_the_library():
    assert offending_lines(DATA_PATH, library_files()) == []


def test_no_work_item_number_in_the_library():
    assert offending_lines(ISSUE_NUMBER, library_files()) == []
