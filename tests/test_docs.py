"""The documentation runs as written: the README's Python section and the TextPruner docstring example
(both on the embedded default model, offline)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(markdown: str, section: str) -> list[str]:
    """The ```python blocks of one ``## section`` of a markdown file (its ### subsections included)."""
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", markdown, flags=re.S | re.M)
    assert match, f"no '## {section}' section"
    return re.findall(r"```python\n(.*?)```", match.group(1), flags=re.S)


def test_readme_python_section_runs_as_written():
    blocks = _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"), "Python")
    assert blocks, "the README's Python section has no code"
    namespace: dict = {"__name__": "readme"}
    for block in blocks:  # in order, in one namespace: later blocks use names the first one defines
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["r"].pruned_text and 0.0 <= namespace["r"].compression_rate <= 1.0
    # the Japanese example's comments (issue #9): routed, ranked, emptied at 0.1
    ja, pruner = namespace["ja"], namespace["pruner"]
    assert pruner.routes == {"ja": "text-pruner-e5-small-ja-en"}
    assert [round(x.score, 3) for x in ja] == [0.797, 0.078]
    assert [round(s.probability, 3) for s in ja[1].sentences] == [0.053, 0.052] and ja[1].compression_rate == 0.0
    assert pruner.prune_many(namespace["ja_query"], namespace["ja_contexts"], threshold=0.1)[1].pruned_text == ""


def test_textpruner_docstring_example_prints_what_the_model_does():
    from text_pruner_rag.pruner import TextPruner

    finder = doctest.DocTestFinder(recurse=False)
    [test] = finder.find(TextPruner, "TextPruner", globs={"TextPruner": TextPruner})
    assert test.examples, "TextPruner has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=lambda text: pytest.fail(text, pytrace=False))
    assert result.failed == 0 and result.attempted >= 5
