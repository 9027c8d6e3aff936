"""The documentation runs as written: every ```python block of README.md and of the docs/ pages, and the
TextPruner docstring example, on the embedded models, offline.

The blocks of one page run in order in one namespace (later blocks use names the first ones define). A
block that needs something only the reader has (their own vector store, a data folder, a running
server) is preceded by the line ``<!-- docs-test: skip (why) -->``: it is compiled, not run. After a
page runs, the values its comments quote (the measured outputs of the embedded models) are checked.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = re.compile(r"^<!-- docs-test: skip \((?P<why>[^)]+)\) -->$")


class Block(NamedTuple):
    line: int  # 1-based line of the opening fence
    code: str
    skip: Optional[str]  # the reason given in the skip marker, or None: the block runs


def python_blocks(markdown: str) -> list[Block]:
    """The ```python blocks of a markdown text, in order, each with its skip reason (if any).

    Raises:
        ValueError: if a block is not closed, or a skip marker is not directly followed by a python block.
    """
    lines = markdown.splitlines()
    blocks, i, pending = [], 0, None
    while i < len(lines):
        line = lines[i].strip()
        marker = SKIP.match(line)
        if marker:
            pending = (i + 1, marker.group("why"))
        elif line.startswith("```"):  # a fenced block: python ones are collected, others passed over
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
            if end is None:
                raise ValueError(f"line {i + 1}: {line} block not closed")
            if line == "```python":
                why = pending[1] if pending and pending[0] == i else None
                blocks.append(Block(i + 1, "\n".join(lines[i + 1: end]) + "\n", why))
            elif pending:
                raise ValueError(f"line {pending[0]}: a docs-test skip marker must come right before a ```python block")
            pending, i = None, end
        elif pending and line:
            raise ValueError(f"line {pending[0]}: a docs-test skip marker must come right before a ```python block")
        i += 1
    return blocks


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# --- the values quoted in the comments of each page (rounded as the comments show them) -------------------

EIFFEL_AT_03 = "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by Gustave Eiffel's company " \
               "and built from 1887 to 1889. "  # fmt: skip


def _check_readme(ns: dict) -> None:
    r = ns["r"]
    assert r.pruned_text == EIFFEL_AT_03
    assert round(r.score, 3) == 0.789 and r.compression_rate == 0.3125
    assert [(x.index, round(x.score, 3)) for x in ns["ranked"]] == [(0, 0.789)]


def _check_index(ns: dict) -> None:
    pruner, query, context = ns["pruner"], ns["query"], ns["context"]
    assert pruner.prune(query, context).pruned_text == context  # the default threshold keeps everything
    r = ns["r"]
    assert r.pruned_text == EIFFEL_AT_03 and r.compression_rate == 0.3125 and round(r.score, 3) == 0.789
    bananas = r.sentences[2]
    assert (bananas.text, bananas.start, bananas.end, bananas.kept) == ("Bananas are rich in potassium. ", 132, 163, False)
    assert repr(bananas.probability).startswith("0.1309")  # quoted as 0.1309...
    results = ns["results"]
    assert results[1].pruned_text == "" and [round(s.probability, 3) for s in results[1].sentences] == [0.015, 0.012]
    assert [(x.index, round(x.score, 3)) for x in ns["ranked"]] == [(0, 0.789), (2, 0.495)]
    assert pruner.default_threshold == 0.03


def _check_japanese(ns: dict) -> None:
    ja, pruner = ns["ja"], ns["pruner"]
    assert pruner.routes == {"ja": "text-pruner-e5-small-ja-en"}
    assert [round(x.score, 3) for x in ja] == [0.924, 0.05]
    assert [round(s.probability, 3) for s in ja[0].sentences] == [0.547, 0.427, 0.598] and ja[0].compression_rate == 0
    assert ja[1].pruned_text == "" and ja[1].compression_rate == 1.0
    stricter = pruner.prune(ns["ja_query"], ns["ja_contexts"][0], threshold=0.5)
    assert stricter.compression_rate == 0.25 and "1958" not in stricter.pruned_text


def _check_token_budget(ns: dict) -> None:
    assert ns["policy"].keep_first and ns["context_for_llm"]
    assert sum(ns["pruner"].count_tokens([r.pruned_text for r in ns["results"]])) <= 800


def _check_crossencoder(ns: dict) -> None:
    assert ns["scores"].dtype.name == "float32" and ns["scores"].shape == (3,)
    assert [d.page_content for d in ns["best"]] == [ns["docs"][0], ns["docs"][2]]  # reranked, texts whole
    assert [n.node.get_content() for n in ns["nodes"]] == [ns["docs"][0], ns["docs"][2]]


def _check_integrations(ns: dict) -> None:
    pruned = ns["pruned"]
    assert len(pruned) == 1 and "1886" in pruned[0].page_content  # the bananas document is emptied and dropped
    assert pruned[0].metadata["relevance_score"] > 0.5


def _check_onnx(ns: dict) -> None:
    assert (ns["fast"].backend, ns["fast"].quantize) == ("onnx", "int8")


CHECKS: dict[str, Callable[[dict], None]] = {
    "README.md": _check_readme,
    "docs/index.md": _check_index,
    "docs/japanese.md": _check_japanese,
    "docs/token-budget.md": _check_token_budget,
    "docs/crossencoder.md": _check_crossencoder,
    "docs/integrations.md": _check_integrations,
    "docs/onnx.md": _check_onnx,
}
QUOTED = {  # the figures each page's comments quote: the checks above test these very values
    "README.md": ("0.789", "0.3125", "1889. \"", "index=0, score=0.789"),
    "docs/index.md": ("0.789", "0.3125", "start=132, end=163, probability=0.1309...", "(0.015, 0.012)", "score=0.495",
                      "# 0.03:"),
    "docs/japanese.md": ("[0.924, 0.05]", "[0.547, 0.427, 0.598]", "'': the off-topic", "0.25: the completion"),
}
NEEDS = {  # optional extras a page's examples import
    "docs/crossencoder.md": ("langchain_classic", "llama_index.core"),
    "docs/integrations.md": ("langchain_core",),
    "docs/onnx.md": ("onnxruntime", "onnx"),
}


@pytest.mark.parametrize("page", [_rel(p) for p in _pages() if any(b.skip is None for b in python_blocks(
    p.read_text(encoding="utf-8")))])  # fmt: skip
def test_page_examples_run_as_written(page, tmp_path, monkeypatch):
    for module in NEEDS.get(page, ()):
        pytest.importorskip(module)
    monkeypatch.setenv("TEXT_PRUNER_RAG_CACHE", str(tmp_path / "cache"))  # ONNX exports go here, not ~/.cache
    namespace: dict = {"__name__": "docs"}
    for block in python_blocks((ROOT / page).read_text(encoding="utf-8")):
        code = compile(block.code, f"{page}:{block.line}", "exec")
        if block.skip is None:
            exec(code, namespace)  # noqa: S102 - our own documentation
    if page in CHECKS:
        CHECKS[page](namespace)
    text = (ROOT / page).read_text(encoding="utf-8")
    assert [q for q in QUOTED.get(page, ()) if q not in text] == [], "a quoted figure changed: update the check"


def test_every_page_with_quoted_outputs_is_checked():
    """The pages whose comments quote model outputs all have runnable examples and a check above."""
    runnable = {_rel(p) for p in _pages() if any(b.skip is None for b in python_blocks(p.read_text(encoding="utf-8")))}
    assert set(CHECKS) <= runnable, set(CHECKS) - runnable


def test_skipped_blocks_compile_and_say_why():
    skipped = 0
    for page in _pages():
        for block in python_blocks(page.read_text(encoding="utf-8")):
            if block.skip is not None:
                skipped += 1
                assert block.skip.startswith("needs "), f"{_rel(page)}:{block.line}: say what the block needs"
                compile(block.code, f"{_rel(page)}:{block.line}", "exec")  # a syntax error still fails
    assert skipped >= 1  # the README's adapter snippet needs the reader's vector store


def test_block_parser_honours_the_skip_marker():
    text = ("intro\n<!-- docs-test: skip (needs your vector store) -->\n```python\nx = store\n```\n\n"
            "```python\ny = 1\n```\n```bash\nls\n```\n")  # fmt: skip
    assert python_blocks(text) == [Block(3, "x = store\n", "needs your vector store"), Block(7, "y = 1\n", None)]
    with pytest.raises(ValueError, match="right before"):
        python_blocks("<!-- docs-test: skip (needs x) -->\ntext\n```python\nz = 1\n```\n")
    with pytest.raises(ValueError, match="not closed"):
        python_blocks("```python\nz = 1\n")
    # a marker shown inside another fenced block (as docs/index.md does) is text, not a marker
    assert python_blocks("```text\n<!-- docs-test: skip (needs x) -->\n```\n```python\nz = 1\n```\n") == [
        Block(4, "z = 1\n", None)]


def test_textpruner_docstring_example_prints_what_the_model_does():
    from text_pruner_rag.pruner import TextPruner

    finder = doctest.DocTestFinder(recurse=False)
    [test] = finder.find(TextPruner, "TextPruner", globs={"TextPruner": TextPruner})
    assert test.examples, "TextPruner has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=lambda text: pytest.fail(text, pytrace=False))
    assert result.failed == 0 and result.attempted >= 5


def test_readme_links_point_at_files_that_exist():
    """The README is not part of the mkdocs site, so its relative links are checked here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert "docs/models.md" in targets
    assert [t for t in targets if "://" not in t and not (ROOT / t).exists()] == []
