"""TREC CAsT answerability (iai-group/answerability-prediction): multi-sentence crowd labels and
passages that answer nothing. RESEARCH DATA (no license file): a model trained on it must say so."""

from __future__ import annotations

import ast
import csv
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..records import Passage, ReadStats, Record, convert_items
from .common import sentence_spans, spans_from_starts

__all__ = ["read_cast_answerability"]


_PARTITIONS = ("train", "validation", "test")


def _as_set(value: str) -> set[str]:
    value = (value or "").strip()
    if not value or value == "set()":
        return set()
    parsed = ast.literal_eval(value)
    if not isinstance(parsed, (set, list, tuple)):
        raise ValueError(f"expected a Python set literal of sentences, got {value[:60]!r}")
    return {str(s) for s in parsed}


def _cast_snippet_passage(row: dict[str, str]) -> Passage:
    text = row["Input.passage"]
    answerable = _as_set(row["answerable_sentences"])
    others = _as_set(row["unanswerable_sentences"])
    starts: dict[int, int] = {}  # start offset -> 1 if an answerable sentence starts there
    for sentence in answerable | others:
        found = [m.start() for m in re.finditer(re.escape(sentence), text)] if sentence.strip() else []
        if not found:
            raise ValueError(f"sentence {sentence[:60]!r} not found in its passage")
        for start in found:
            starts[start] = max(starts.get(start, 0), int(sentence in answerable))
    spans = spans_from_starts(list(starts), len(text))
    flags = [starts.get(s, 0) for s, _ in spans]
    return Passage(text, spans, flags, int(any(flags)), complete=True)


def read_cast_answerability(
    path: str | os.PathLike,
    *,
    partitions: Sequence[str] = ("train",),
    unanswerable: bool = True,
    source: str = "cast_answerability",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read CAsT answerability (the ``cast_answerability/`` folder): one record per query turn.

    ``CAsT-snippets/snippets_data_sentence-answerability.csv`` gives, per (query, passage), the passage's
    sentences as two Python set literals: ``answerable_sentences`` (overlap a crowd-annotated answer
    nugget: relevant, often several) and ``unanswerable_sentences``. Each sentence is located in the
    passage (every occurrence); spans tile the passage from those starts. A passage with a relevant
    sentence is a positive, one without (``answerability`` 0) a label-0 passage with all sentences 0.
    ``CAsT-unanswerable/unanswerable.csv`` adds 5 judged-non-relevant passages per query (label 0, all
    sentences 0, split with :func:`~text_pruner_rag.chunking.split_sentences`) when ``unanswerable``.
    All labels are complete.

    License/attribution: no license file (iai-group/answerability-prediction; passages from TREC CAsT:
    MS MARCO, KILT Wikipedia, Washington Post): RESEARCH DATA; a model trained on it must say so.

    Args:
        path: the ``cast_answerability`` folder.
        partitions: which ``partition`` values to read: ``("train",)`` for training, ``("validation",
            "test")`` for dev (split by topic, so no query of one partition is in another).
        unanswerable: add the CAsT-unanswerable passages.
        source, limit, on_error, stats: see :func:`~text_pruner_rag.data.readers.squad.read_squad`.

    Raises:
        ValueError: an unknown partition. FileNotFoundError: the CSV files are missing.
    """
    unknown = sorted(set(partitions) - set(_PARTITIONS))
    if unknown:
        raise ValueError(f"unknown partition(s) {unknown}; expected some of {_PARTITIONS}")
    folder = Path(path)
    snippets = folder / "CAsT-snippets" / "snippets_data_sentence-answerability.csv"
    negatives = folder / "CAsT-unanswerable" / "unanswerable.csv"
    for file in (snippets, negatives) if unanswerable else (snippets,):
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found (expected the cast_answerability folder)")
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def rows(file: Path) -> Iterator[tuple[int, dict[str, str]]]:
        with open(file, encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                yield line, row

    for line, row in rows(snippets):
        if row.get("partition") not in partitions:
            continue
        group = groups.setdefault(row["Input.turn_id"], {"query": row["Input.query"], "rows": [], "negatives": [],
                                                         "partition": row["partition"]})
        group["rows"].append((f"{snippets}:{line}", row))
    if unanswerable:
        for line, row in rows(negatives):
            if row.get("partition") in partitions and row["turn_id"] in groups:
                groups[row["turn_id"]]["negatives"].append((f"{negatives}:{line}", row))

    def convert(item: tuple[str, dict[str, Any]]) -> Record:
        turn, group = item
        passages, ids = [], []
        for location, row in group["rows"]:
            try:
                passages.append(_cast_snippet_passage(row))
            except (KeyError, ValueError, SyntaxError) as exc:
                raise ValueError(f"{location}: {exc}") from exc
            ids.append(row["Input.passage_id"])
        for _, row in group["negatives"]:
            text = row["passage"]
            if not text.strip():
                continue
            spans = sentence_spans(text, "en")
            passages.append(Passage(text, spans, [0] * len(spans), 0, complete=True))
            ids.append(row["passage_id"])
        pairs = list(zip(passages, ids))
        order = [x for x in pairs if x[0].label == 1] + [x for x in pairs if x[0].label == 0]
        return Record(id=str(turn), query=group["query"], language="en", source=source, answers=[],
                      passages=[p for p, _ in order],
                      meta={"partition": group["partition"], "passage_ids": [i for _, i in order]})

    items = ((f"{snippets}:turn {turn}", (turn, group)) for turn, group in groups.items())
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)
