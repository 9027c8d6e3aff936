"""NQ-open oracle passages (lost in the middle), and the question key used to exclude dev questions."""

from __future__ import annotations

import os
import unicodedata
from typing import Any, Iterable, Iterator

from ..records import (
    DataFormatError,
    Dropped,
    Passage,
    ReadStats,
    Record,
    convert_items,
    expand_paths,
    iter_jsonl,
)
from .common import find_all, mark, positives_first, sentence_spans, unique

__all__ = ["normalize_question", "read_nq_open_oracle"]


def normalize_question(question: str) -> str:
    """Key for matching questions across datasets: NFKC, lowercase, no punctuation, no whitespace.

    Removing whitespace entirely makes NQ-tokenised text (``"what 's"``) and plain text (``"what's"``)
    meet. Example: ``normalize_question("Who's the  President?") == "whosthepresident"``.
    """
    text = unicodedata.normalize("NFKC", question).lower()
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def _questions_from_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Questions of QED/NQ/unified JSONL files (``question_text``, ``question`` or ``query`` field)."""
    out = []
    for path in expand_paths(paths):
        for location, row in iter_jsonl(path):
            if isinstance(row, Exception):
                raise DataFormatError(f"{location}: {row}")
            question = row.get("question_text") or row.get("question") or row.get("query")
            if question:
                out.append(question)
    return out


def read_nq_open_oracle(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    exclude_questions: Iterable[str] = (),
    *,
    exclude_questions_from: str | os.PathLike | list | None = None,
    source: str = "nq_open_oracle",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read the lost-in-the-middle NQ-open oracle file (``nq-open-oracle.jsonl.gz``).

    Each row has ``question``, ``answers`` and ``ctxs`` (one gold passage ``{title, text, hasanswer,
    isgold}``). Every ctx becomes a passage (label = ``isgold`` or ``hasanswer``); sentences come from
    :func:`~text_pruner_rag.chunking.split_sentences` and a sentence is relevant when it holds an
    occurrence of an answer string (case-insensitive, whole words when possible). A record whose
    positives hold no answer occurrence is dropped (``"no_answer_in_passage"``).

    ``exclude_questions`` (and the questions read from ``exclude_questions_from`` jsonl files, e.g.
    ``qed-dev.jsonlines``) are matched with :func:`normalize_question` and dropped
    (``"excluded_question"``): NQ-open shares 1,020 questions with QED dev.

    License/attribution: nelson-liu/lost-in-the-middle (MIT); NQ questions and Wikipedia passages,
    CC BY-SA 3.0.
    """
    excluded = {normalize_question(q) for q in exclude_questions}
    if exclude_questions_from is not None:
        excluded |= {normalize_question(q) for q in _questions_from_files(exclude_questions_from)}

    def convert(row: dict[str, Any], location: str) -> Record:
        question, answers = row["question"], row["answers"]
        if normalize_question(question) in excluded:
            raise Dropped("excluded_question")
        passages = []
        for ctx in row["ctxs"]:
            text = ctx["text"]
            spans = sentence_spans(text, "en")
            ranges = [r for a in answers for r in find_all(text, a, word_boundaries=True)]
            label = int(bool(ctx.get("isgold") or ctx.get("hasanswer")))
            flags = mark(spans, ranges) if label else [0] * len(spans)
            passages.append(Passage(text, spans, flags, label, ctx.get("title"), complete=not label))
        if not any(any(p.relevance) for p in passages if p.label):
            raise Dropped("no_answer_in_passage")
        return Record(
            id=f"nq_open:{location.rsplit(':', 1)[1]}",
            query=question,
            language="en",
            source=source,
            answers=unique(answers),
            passages=positives_first(passages),
        )

    items = (
        (loc, row if isinstance(row, Exception) else (row, loc))
        for p in expand_paths(path)
        for loc, row in iter_jsonl(p)
    )
    return convert_items(items, lambda item: convert(*item), limit=limit, on_error=on_error, stats=stats, what=source)
