"""WikiQA (Yang et al., EMNLP 2015): every sentence of a Wikipedia summary labelled 0/1; questions
without a correct sentence. Microsoft Research Data License (non-commercial): RESEARCH DATA."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..records import Dropped, ReadStats, Record, convert_items, expand_paths
from .common import sentences_passage

__all__ = ["read_wikiqa"]


def _wikiqa_groups(file: Path) -> Iterator[tuple[str, Any]]:
    with open(file, encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    header = lines[0].split("\t")
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()
    if header[:2] == ["QuestionID", "Question"]:
        column = {name: i for i, name in enumerate(header)}
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            cells = line.split("\t")
            if len(cells) != len(header):
                yield f"{file}:{number}", ValueError(f"expected {len(header)} tab-separated columns, got {len(cells)}")
                continue
            group = groups.setdefault(cells[column["QuestionID"]], {
                "question": cells[column["Question"]], "title": cells[column["DocumentTitle"]],
                "sentences": [], "labels": [], "line": number})
            group["sentences"].append(cells[column["Sentence"]])
            group["labels"].append(cells[column["Label"]])
    else:  # tokenised train file: question<TAB>sentence<TAB>label, consecutive lines per question
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            cells = line.split("\t")
            if len(cells) != 3:
                yield f"{file}:{number}", ValueError(f"expected question<TAB>sentence<TAB>label, got {len(cells)} cells")
                continue
            key = f"q{len(groups)}" if not groups or list(groups.values())[-1]["question"] != cells[0] else next(
                reversed(groups))
            group = groups.setdefault(key, {"question": cells[0], "title": None, "sentences": [], "labels": [],
                                            "line": number})
            group["sentences"].append(cells[1])
            group["labels"].append(cells[2])
    for key, group in groups.items():
        yield f"{file}:{group['line']}", (key, group)


def read_wikiqa(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    unanswerable: bool = True,
    source: str = "wikiqa",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read WikiQA: ``WikiQA-{dev,test}.tsv`` (original columns) or the tokenised ``WikiQA-train.txt``.

    One record per question with one passage: the summary's sentences (every one labelled 0/1 by
    annotators) joined with spaces; labels complete. A question without a correct sentence (59% of train)
    gives a label-0 passage with every sentence 0 (``unanswerable=False`` drops them, counted as
    ``"no_correct_sentence"``). The train file has no ids: consecutive lines with the same question form a
    group (id ``q<n>`` in file order).

    License/attribution: WikiQA (Yang et al., EMNLP 2015), Microsoft Research Data License Agreement
    (non-commercial research): RESEARCH DATA; a model trained on it must say so.
    """

    def convert(item: tuple[str, dict[str, Any]]) -> Record:
        key, group = item
        labels = []
        for value in group["labels"]:
            if value.strip() not in ("0", "1"):
                raise ValueError(f"label must be 0 or 1, got {value!r}")
            labels.append(int(value))
        if not any(labels) and not unanswerable:
            raise Dropped("no_correct_sentence")
        passage = sentences_passage(group["sentences"], [i for i, v in enumerate(labels) if v],
                                     title=group["title"])
        if passage is None:
            raise ValueError("no sentence text")
        return Record(id=str(key), query=group["question"], language="en", source=source, answers=[],
                      passages=[passage], meta={"answerable": bool(any(labels))})

    items = (item for file in expand_paths(path) for item in _wikiqa_groups(file))
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)
