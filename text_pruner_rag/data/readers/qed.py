"""QED over Natural Questions (final ``qed-*.jsonlines`` format and the early train shards)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, Literal

from ..records import Dropped, Passage, ReadStats, Record, Span, convert_items, expand_paths, iter_jsonl
from .common import mark, sentence_spans, spans_from_starts, unique

__all__ = ["read_qed"]


def _qed_spans(row: dict[str, Any], text: str) -> tuple[list[Span], str]:
    starts = row.get("sentence_starts") or []
    if starts and starts[0] == 0:
        return spans_from_starts(starts, len(text)), "qed"
    # Early shards: 321 table-like rows have no sentence_starts or ones not starting at 0.
    return sentence_spans(text, "en"), "resplit"


def _qed_record(row: dict[str, Any], source: str, multi_sentence: str) -> Record:
    text = row["paragraph_text"]
    annotation = row["annotation"]
    if isinstance(annotation, dict):  # final format (qed-dev / qed-train)
        kind = annotation["explanation_type"]
        answer_ranges = [(a["start"], a["end"]) for group in row["original_nq_answers"] for a in group]
        answers = unique(a["string"] for group in row["original_nq_answers"] for a in group)
        if kind == "single_sentence":
            selected = annotation["selected_sentence"]
            relevant = [(selected["start"], selected["end"])]
        elif kind == "none":
            raise Dropped("qed_none")
        else:
            relevant = answer_ranges
    else:  # early shards (2020-08-26): answer_spans, optional answer_bridge_span
        kind = row["answer_type"]
        answer_ranges = [(s, e) for s, e in row["answer_spans"] if 0 <= s < e]
        if not answer_ranges:  # [[-1, -1]]: no short answer in the passage
            raise Dropped("qed_no_answer_span")
        answers = unique(text[s:e].strip() for s, e in answer_ranges)
        bridge = row.get("answer_bridge_span") or [-1, -1]
        relevant = answer_ranges + ([tuple(bridge)] if bridge[0] >= 0 else [])
    if kind == "multi_sentence" and multi_sentence == "skip":
        raise Dropped("qed_multi_sentence")
    spans, segmentation = _qed_spans(row, text)
    flags = [1] * len(spans) if kind == "multi_sentence" and multi_sentence == "all" else mark(spans, relevant)
    if not any(flags):
        raise ValueError("no sentence holds the annotated answer/selected sentence")
    title = row.get("title_text")
    return Record(
        id=str(row["example_id"]),
        query=row["question_text"],
        language="en",
        source=source,
        answers=answers,
        passages=[Passage(text, spans, flags, 1, title, complete=False)],
        meta={"explanation_type": kind, "sentences": segmentation},
    )


def read_qed(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    multi_sentence: Literal["answer", "skip", "all"] = "answer",
    source: str = "qed",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read QED over Natural Questions (final ``qed-dev.jsonlines`` format and the early train shards).

    One record per example, one positive passage (QED has no negatives: mine them downstream).
    Sentences come from the data's ``sentence_starts`` (NQ-tokenised text, trailing space attached);
    rows without usable starts (missing, or not starting at 0: early-shard tables) are re-split with
    :func:`~text_pruner_rag.chunking.split_sentences`. ``meta`` holds ``explanation_type`` and which
    segmentation was used.

    Relevant sentences:

    * final format, ``single_sentence``: the ``annotation.selected_sentence``;
    * final format, ``multi_sentence`` (no sentence annotation given): per ``multi_sentence`` —
      ``"answer"`` the sentence(s) holding an ``original_nq_answers`` span (the explanation needs
      further, unannotated sentences, so these labels are incomplete), ``"all"`` every sentence,
      ``"skip"`` drop the example;
    * final format, ``none`` (QED annotators found no correct answer in the passage): dropped;
    * early shards (``answer_type`` single or multi): the sentence(s) holding ``answer_spans`` plus the
      sentence holding ``answer_bridge_span`` (where a bridged answer is referred to, e.g. "its");
      rows whose only answer span is ``[-1, -1]`` are dropped.
      ``multi_sentence="skip"``/``"all"`` apply to their multi_sentence rows too.

    License/attribution: QED (google-research-datasets/QED) over Natural Questions; Wikipedia text,
    CC BY-SA 3.0 / GFDL.

    Args:
        path: file(s), glob(s) or directories of QED jsonlines.
        multi_sentence: how to label multi-sentence explanations (see above).
        source, limit, on_error, stats: see :func:`read_squad`.
    """
    if multi_sentence not in ("answer", "skip", "all"):
        raise ValueError(f"multi_sentence must be 'answer', 'skip' or 'all', got {multi_sentence!r}")
    items = (item for p in expand_paths(path) for item in iter_jsonl(p))
    convert = lambda row: _qed_record(row, source, multi_sentence)  # noqa: E731
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)
