"""Multi-hop QA with distractor paragraphs: HotpotQA and MuSiQue (JSON list or JSONL)."""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any, Iterable, Iterator

from ..records import Dropped, Passage, ReadStats, Record, convert_items
from .common import find_all, join_sentences, json_list_items, mark, positives_first, sentence_spans, unique

__all__ = ["read_hotpotqa", "read_musique"]


def _hotpot_record(row: dict[str, Any], source: str) -> Record:
    support: dict[str, set[int]] = {}
    for title, index in row["supporting_facts"]:
        support.setdefault(title, set()).add(index)
    passages = []
    for title, sentences in row["context"]:
        if not isinstance(sentences, list):
            raise TypeError(f"context sentences of {title!r} must be a list")
        text, spans, mapping = join_sentences(sentences)
        relevant = {mapping[i] for i in support.get(title, ()) if 0 <= i < len(mapping)} - {None}
        flags = [int(i in relevant) for i in range(len(spans))]
        passages.append(Passage(text, spans, flags, int(bool(relevant)), title))
    if not any(p.label for p in passages):
        raise Dropped("no_supporting_fact")
    return Record(
        id=str(row["_id"]),
        query=row["question"],
        language="en",
        source=source,
        answers=unique([row.get("answer", "")]),
        passages=positives_first(passages),
        meta={k: row[k] for k in ("type", "level") if k in row},
    )


def read_hotpotqa(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    source: str = "hotpotqa",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read HotpotQA (distractor format, JSON list or JSONL).

    Passage text = ``"".join(sentences)`` of each ``context`` entry (exact: no character added or
    removed); its spans are the given sentences, with the leading space of a sentence moved to the end
    of the previous one (trailing-whitespace convention), whitespace-only sentences merged away.
    Relevant = the ``supporting_facts`` ``(title, sentence index)`` pairs; paragraphs with a supporting
    fact are positives (in context order), the others hard negatives (label 0). Out-of-range sentence
    indices (a known HotpotQA quirk) are ignored; a question left without positives is dropped.

    License/attribution: HotpotQA, CC BY-SA 4.0 (subset file via OSU-NLP-Group/HippoRAG, MIT).
    """
    convert = lambda row: _hotpot_record(row, source)  # noqa: E731
    return convert_items(json_list_items(path), convert, limit=limit, on_error=on_error, stats=stats, what=source)


_HOP_REF = re.compile(r"#(\d+)")


def _musique_record(row: dict[str, Any], source: str) -> Record:
    if row.get("answerable") is False:
        raise Dropped("unanswerable")
    paragraphs = row["paragraphs"]
    hops = row.get("question_decomposition") or []
    needles: dict[int, list[str]] = {}  # paragraph position -> strings that mark a relevant sentence
    positions = {p.get("idx", i): i for i, p in enumerate(paragraphs)}
    for k, hop in enumerate(hops):
        position = positions[hop["paragraph_support_idx"]]
        strings = [hop["answer"]]
        strings += [hops[int(n) - 1]["answer"] for n in _HOP_REF.findall(hop["question"]) if 0 < int(n) <= k]
        if k == len(hops) - 1:
            strings += [row["answer"], *row.get("answer_aliases", [])]
        needles.setdefault(position, []).extend(strings)
    passages, rules = [], Counter()
    for i, paragraph in enumerate(paragraphs):
        text = paragraph["paragraph_text"]
        spans = sentence_spans(text, "en")
        supporting = bool(paragraph["is_supporting"])
        flags = [0] * len(spans)
        if supporting:
            ranges = [r for s in needles.get(i, []) for r in find_all(text, s, word_boundaries=True)]
            flags = mark(spans, ranges)
            rules["answer" if any(flags) else "whole_paragraph"] += 1
            flags = flags if any(flags) else [1] * len(spans)
        passages.append(Passage(text, spans, flags, int(supporting), paragraph.get("title"),
                                complete=not supporting or all(flags)))
    if not rules:
        raise Dropped("no_supporting_paragraph")
    return Record(
        id=str(row["id"]),
        query=row["question"],
        language="en",
        source=source,
        answers=unique([row.get("answer", ""), *row.get("answer_aliases", [])]),
        passages=positives_first(passages),
        meta={"hops": len(hops), "sentence_rule": dict(sorted(rules.items()))},
    )


def read_musique(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    source: str = "musique",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read MuSiQue (JSON list or JSONL): ``is_supporting`` paragraphs are positives, others hard negatives.

    MuSiQue labels paragraphs, not sentences. Sentence rule (``meta["sentence_rule"]`` counts which
    branch fired per positive): sentences come from :func:`~text_pruner_rag.chunking.split_sentences`;
    in the supporting paragraph of hop *k* of ``question_decomposition`` (``paragraph_support_idx``) a
    sentence is relevant when it mentions hop *k*'s answer, or the answer of a hop its question refers
    to (``#j``, the bridge entity that links the hop to the paragraph), or — for the last hop — the
    final answer or an alias (case-insensitive, whole words when possible). A supporting paragraph where
    nothing matches (or that no hop points to) is relevant as a whole (all sentences 1).
    ``answerable: false`` rows are dropped.

    License/attribution: MuSiQue, CC BY 4.0 (subset file via OSU-NLP-Group/HippoRAG, MIT).
    """
    convert = lambda row: _musique_record(row, source)  # noqa: E731
    return convert_items(json_list_items(path), convert, limit=limit, on_error=on_error, stats=stats, what=source)
