"""ERASER-format rationale data (DeYoung et al., ACL 2020): FEVER (CC BY-SA 3.0) and MultiRC
(research data): evidence sentences, often several, over documents stored one sentence per line."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..records import Dropped, ReadStats, Record, convert_items, expand_paths, iter_jsonl
from .common import sentences_passage

__all__ = ["read_fever_eraser", "read_multirc_eraser"]


def _eraser_doc(docs: Path, docid: str, cache: dict[str, list[str] | None]) -> list[str] | None:
    if docid not in cache:
        file = docs / docid
        if not file.is_file() and (docs / f"{docid}.txt").is_file():
            file = docs / f"{docid}.txt"
        cache[docid] = file.read_text(encoding="utf-8").split("\n") if file.is_file() else None
        if cache[docid] is not None:
            while cache[docid] and not cache[docid][-1].strip():
                cache[docid].pop()
        if len(cache) > 2000:
            cache.pop(next(iter(cache)))
    return cache[docid]


def _eraser_window(n: int, evidence: set[int], max_sentences: int | None) -> tuple[int, int]:
    """A block of at most ``max_sentences`` sentences holding all the evidence (two before it when possible)."""
    if max_sentences is None or n <= max_sentences:
        return 0, n
    first, last = min(evidence), max(evidence)
    if last - first + 1 >= max_sentences:
        return first, last + 1
    start = min(max(0, first - 2, last + 1 - max_sentences), n - max_sentences)
    return start, start + max_sentences


def _eraser_records(path, source: str, docs_dir, max_sentences, question_key, dedupe: bool):
    files = expand_paths(path)
    docs = Path(docs_dir) if docs_dir else files[0].parent / "docs"
    cache: dict[str, list[str] | None] = {}
    seen: set[str] = set()
    rows: OrderedDict[str, list[tuple[str, dict]]] = OrderedDict()
    for file in files:
        for location, row in iter_jsonl(file):
            if isinstance(row, Exception):
                rows.setdefault(f"!{location}", []).append((location, row))
                continue
            key = question_key(row) if dedupe else f"{location}"
            rows.setdefault(key, []).append((location, row))

    def convert(group: list[tuple[str, Any]]) -> Record:
        location, first = group[0]
        if isinstance(first, Exception):
            raise first
        evidence: OrderedDict[str, set[int]] = OrderedDict()
        for _, row in group:
            for evidence_set in row["evidences"]:
                for item in evidence_set:
                    sentences = range(int(item["start_sentence"]), int(item["end_sentence"]))
                    evidence.setdefault(item["docid"], set()).update(sentences)
        if not evidence:
            raise Dropped("no_evidence")
        passages = []
        for docid, relevant in evidence.items():
            lines = _eraser_doc(docs, docid, cache)
            if lines is None:
                raise Dropped("missing_document")
            if not relevant or max(relevant) >= len(lines):
                raise ValueError(f"evidence sentence {max(relevant)} outside {docid} ({len(lines)} sentences)")
            start, end = _eraser_window(len(lines), relevant, max_sentences)
            passage = sentences_passage(lines[start:end], [i - start for i in relevant], 1,
                                         docid.replace("_", " "))
            if passage is None or not any(passage.relevance):
                raise Dropped("empty_evidence")
            passages.append(passage)
        query = question_key(first)
        identifier = str(first.get("annotation_id", location))
        if identifier in seen:
            raise Dropped("duplicate")
        seen.add(identifier)
        return Record(id=identifier, query=query, language="en", source=source, answers=[], passages=passages,
                      meta={"classification": first.get("classification"), "n_rows": len(group)})

    return ((group[0][0], group) for group in rows.values()), convert


def read_fever_eraser(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    docs_dir: str | os.PathLike | None = None,
    max_sentences: int | None = 8,
    source: str = "fever_eraser",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read FEVER in the ERASER format (``fever_eraser/{val,test}.jsonl`` + ``docs/``).

    One record per claim (the query is the claim, not a question); one positive passage per evidence
    document: its tokenised sentences (one per line of ``docs/<docid>``) joined with spaces, cut to a
    block of at most ``max_sentences`` sentences that holds every evidence sentence (starting two
    sentences before the first when possible; None keeps the whole intro). Relevant = the union of the
    evidence sentence ranges (``start_sentence``..``end_sentence`` exclusive) of every evidence set;
    labels are complete. Claims whose document is missing from ``docs/`` are dropped
    (``"missing_document"``).

    License/attribution: FEVER, Wikipedia, CC BY-SA 3.0 (ERASER copy, see ``license.html``).
    """
    items, convert = _eraser_records(path, source, docs_dir, max_sentences, lambda row: row["query"], False)
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)


def read_multirc_eraser(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    docs_dir: str | os.PathLike | None = None,
    max_sentences: int | None = 10,
    source: str = "multirc_eraser",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read MultiRC in the ERASER format (``multirc_eraser/{val,test}.jsonl`` + ``docs/``).

    ERASER rows are ``"question || candidate answer"``, one per candidate: rows are grouped by question
    (text before ``" || "``) and the query is the question alone; relevant = the union of the evidence
    sentences of the question's rows (at least two per question), labels complete. The passage is the
    document's sentences joined with spaces, cut to at most ``max_sentences`` sentences holding every
    evidence sentence (see :func:`read_fever_eraser`).

    License/attribution: MultiRC (Khashabi et al., NAACL 2018), research data without a license file:
    RESEARCH DATA; a model trained on it must say so.
    """
    key = lambda row: row["query"].split(" || ")[0].strip()  # noqa: E731
    items, convert = _eraser_records(path, source, docs_dir, max_sentences, key, True)
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)
