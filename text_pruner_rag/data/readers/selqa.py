"""SelQA answer-sentence selection (emorynlp/selqa, Apache-2.0)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator

from ..records import Dropped, ReadStats, Record, convert_items, expand_paths, load_json
from .common import sentences_passage

__all__ = ["read_selqa"]


def read_selqa(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    unanswerable: bool = True,
    source: str = "selqa",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read SelQA answer-sentence selection (``selqa/ass/selqa-ass-{dev,test}.json``).

    Each item: ``question``, ``candidates`` (the sentences of one Wikipedia section) and ``answers``
    (indices of the answer sentences). One record per item, one passage: the candidates joined with
    spaces, titled ``"<article>: <section>"``; relevant = the answer indices (labels complete: every
    sentence of the section was a candidate). An item without answers gives a label-0 passage with every
    sentence 0 (``unanswerable=False`` drops it).

    License/attribution: SelQA (emorynlp/selqa), Apache-2.0; Wikipedia-derived sentences.
    """

    def items() -> Iterator[tuple[str, Any]]:
        for file in expand_paths(path):
            document = load_json(file)
            if not isinstance(document, list):
                yield str(file), ValueError("expected a JSON list of SelQA items")
                continue
            for i, item in enumerate(document):
                yield f"{file}:[{i}]", (f"{file.stem}:{i}", item)

    def convert(pair: tuple[str, dict[str, Any]]) -> Record:
        key, item = pair
        candidates, answers = item["candidates"], item.get("answers") or []
        if any(not isinstance(a, int) or not 0 <= a < len(candidates) for a in answers):
            raise ValueError(f"answer indices {answers} out of range for {len(candidates)} candidates")
        if not answers and not unanswerable:
            raise Dropped("no_answer")
        title = ": ".join(x for x in (item.get("article"), item.get("section")) if x) or None
        passage = sentences_passage(candidates, answers, title=title)
        if passage is None:
            raise ValueError("no candidate text")
        return Record(id=key, query=item["question"], language="en", source=source, answers=[], passages=[passage],
                      meta={k: item[k] for k in ("topic", "is_paraphrase") if k in item})

    return convert_items(items(), convert, limit=limit, on_error=on_error, stats=stats, what=source)
