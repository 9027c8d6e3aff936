"""SQuAD-format JSON: JaQuAD, XQuAD, SQuAD v1/v2, JSQuAD."""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..records import (
    DataFormatError,
    Dropped,
    Passage,
    ReadStats,
    Record,
    Span,
    convert_items,
    expand_paths,
    load_json,
)
from .common import mark, resolve_language, sentence_spans, unique

__all__ = ["read_squad", "read_squad2"]


_SEP = " [SEP] "


@dataclass
class _Paragraph:
    text: str
    title: str | None
    offset: int  # characters removed from the raw context (JSQuAD "title [SEP] " prefix)
    language: str
    spans: list[Span] | None = None

    def sentence_spans(self) -> list[Span]:
        if self.spans is None:
            self.spans = sentence_spans(self.text, self.language)
        return self.spans


def _squad_paragraph(raw: dict[str, Any], title: str | None, language: str) -> _Paragraph:
    context = raw["context"]
    if not isinstance(context, str):
        raise TypeError(f"context must be a string, got {type(context).__name__}")
    offset = 0
    head, sep, rest = context.partition(_SEP)
    if sep and len(head) <= 200 and "\n" not in head:  # JSQuAD: "title [SEP] context", offsets count the prefix
        offset, title = len(head) + len(sep), head.strip() or title
        context = rest
    return _Paragraph(context, title, offset, resolve_language(language, context))


def _answer_range(paragraph: _Paragraph, answer: dict[str, Any]) -> Span:
    text, start = answer["text"], answer["answer_start"] - paragraph.offset
    if paragraph.text[start : start + len(text)] == text:
        return (start, start + len(text))
    occurrences = [m.start() for m in re.finditer(re.escape(text), paragraph.text)] if text else []
    if not occurrences:
        raise ValueError(f"answer {text!r} not found in its context (answer_start={answer['answer_start']})")
    nearest = min(occurrences, key=lambda s: abs(s - start))  # SQuAD has a few off-by-n offsets
    return (nearest, nearest + len(text))


def _squad_items(paths: list[Path], language: str, max_negatives: int | None, seed: int):
    for path in paths:
        try:
            document = load_json(path)
        except DataFormatError as exc:
            yield str(path), exc
            continue
        articles = document.get("data") if isinstance(document, dict) else None
        if not isinstance(articles, list):
            yield f"{path}:data", ValueError("expected a SQuAD document {'data': [articles]}")
            continue
        for i, article in enumerate(articles):
            location = f"{path}:data[{i}]"
            try:
                title = article.get("title")
                title = title.replace("_", " ") if isinstance(title, str) else None
                paragraphs = [_squad_paragraph(p, title, language) for p in article["paragraphs"]]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield location, exc
                continue
            for j, raw in enumerate(article["paragraphs"]):
                for k, qa in enumerate(raw.get("qas", [])):
                    yield f"{location}.paragraphs[{j}].qas[{k}]", (paragraphs, j, qa, max_negatives, seed)


def _squad_record(item: tuple, source: str) -> Record:
    paragraphs, j, qa, max_negatives, seed = item
    qid = str(qa["id"])
    answers = qa.get("answers") or []
    if qa.get("is_impossible") or not answers:
        raise Dropped("unanswerable")
    positive = paragraphs[j]
    ranges = [_answer_range(positive, a) for a in answers]
    spans = positive.sentence_spans()
    passages = [Passage(positive.text, spans, mark(spans, ranges), 1, positive.title, complete=False)]
    others = [n for n in range(len(paragraphs)) if n != j]
    if max_negatives is not None and len(others) > max_negatives:
        others = sorted(random.Random(f"{seed}|{qid}").sample(others, max_negatives))
    for n in others:
        other = paragraphs[n]
        spans = other.sentence_spans()
        passages.append(Passage(other.text, spans, [0] * len(spans), 0, other.title))
    return Record(
        id=qid,
        query=qa["question"],
        language=positive.language,
        source=source,
        answers=unique(a["text"] for a in answers),
        passages=passages,
        meta={"title": positive.title} if positive.title else {},
    )


def read_squad(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    language: str,
    *,
    max_negatives: int | None = 5,
    seed: int = 0,
    source: str = "squad",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read SQuAD-format JSON (JaQuAD, XQuAD, SQuAD v1/v2, JSQuAD): one record per question.

    Positive = the question's paragraph; relevant sentences = those overlapping an answer span
    (``answer_start``; an offset that does not match the answer text is moved to the nearest exact
    occurrence, none → error). Negatives = other paragraphs of the same article (label 0, all
    sentences 0), at most ``max_negatives`` of them chosen with ``Random(f"{seed}|{question id}")`` and
    kept in article order. JSQuAD contexts ``"title [SEP] text"`` are stripped to ``text`` (offsets
    shifted) and the prefix becomes the passage title; otherwise the article title is used, with
    ``_`` shown as spaces. Unanswerable (SQuAD v2 ``is_impossible``) questions are dropped (counted).

    License/attribution: JaQuAD CC BY-SA 3.0, XQuAD CC BY-SA 4.0, SQuAD CC BY-SA 4.0, JSQuAD
    CC BY-SA 4.0 (all Wikipedia-derived).

    Args:
        paths: file(s), glob(s) or directories of SQuAD JSON.
        language: ``"en"``, ``"ja"`` or ``"auto"`` (detected per paragraph); also picks the splitter.
        max_negatives: negatives per question; None keeps every other paragraph of the article.
        seed: seed of the negative sampling.
        source: value of ``Record.source``. Defaults to ``"squad"``.
        limit: stop after this many records.
        on_error: ``"raise"`` or ``"skip"`` malformed questions/articles (counted in ``stats``).
        stats: a :class:`ReadStats` to fill.

    Yields:
        Record: one per answerable question, in file order.
    """
    items = _squad_items(expand_paths(paths), language, max_negatives, seed)
    convert = lambda item: _squad_record(item, source)  # noqa: E731
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)


def read_squad2(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    max_negatives: int | None = 3,
    unanswerable: bool = True,
    seed: int = 0,
    source: str = "squad2",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read SQuAD 2.0 (``squad2_dev_half/dev-v2.0-half.json``), keeping the unanswerable questions.

    Answerable question: positive = its paragraph, the sentence(s) holding an answer relevant and the
    others *unknown* (``complete=False``: one answer sentence is known, not what else a reader needs).
    ``is_impossible`` question (adversarially written against the paragraph): the paragraph becomes a
    label-0 passage with every sentence 0 (complete: it holds no answer). Both get up to ``max_negatives``
    other paragraphs of the same article (label 0, complete; ``Random(f"{seed}|{id}")``, article order).
    ``unanswerable=False`` drops the impossible questions (``"unanswerable"``).

    License/attribution: SQuAD 2.0, CC BY-SA 4.0 (Wikipedia-derived).
    """
    import random

    def items() -> Iterator[tuple[str, Any]]:
        for file in expand_paths(path):
            document = load_json(file)
            for i, article in enumerate(document["data"]):
                title = (article.get("title") or "").replace("_", " ") or None
                paragraphs = [_squad_paragraph(p, title, "en") for p in article["paragraphs"]]
                for j, raw in enumerate(article["paragraphs"]):
                    for k, qa in enumerate(raw.get("qas", [])):
                        yield f"{file}:data[{i}].paragraphs[{j}].qas[{k}]", (paragraphs, j, qa)

    def convert(item: tuple) -> Record:
        paragraphs, j, qa = item
        impossible = bool(qa.get("is_impossible")) or not qa.get("answers")
        if impossible and not unanswerable:
            raise Dropped("unanswerable")
        own = paragraphs[j]
        spans = own.sentence_spans()
        if impossible:
            passages = [Passage(own.text, spans, [0] * len(spans), 0, own.title, complete=True)]
            answers: list[str] = []
        else:
            ranges = [_answer_range(own, a) for a in qa["answers"]]
            passages = [Passage(own.text, spans, mark(spans, ranges), 1, own.title, complete=False)]
            answers = unique(a["text"] for a in qa["answers"])
        others = [n for n in range(len(paragraphs)) if n != j]
        if max_negatives is not None and len(others) > max_negatives:
            others = sorted(random.Random(f"{seed}|{qa['id']}").sample(others, max_negatives))
        for n in others:
            other = paragraphs[n]
            other_spans = other.sentence_spans()
            passages.append(Passage(other.text, other_spans, [0] * len(other_spans), 0, other.title))
        return Record(id=str(qa["id"]), query=qa["question"], language="en", source=source, answers=answers,
                      passages=passages, meta={"is_impossible": impossible, "title": own.title})

    return convert_items(items(), convert, limit=limit, on_error=on_error, stats=stats, what=source)
