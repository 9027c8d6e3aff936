"""Helpers shared by the readers: sentence spans, relevance marking, answer search, JSON-list files.

All offsets are characters (Python string indices); spans are ``[start, end)``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator, Sequence
import os

from ...chunking import SUPPORTED_LANGUAGES, detect_language, split_sentences
from ..records import DataFormatError, Passage, Span, expand_paths, iter_jsonl, load_json

__all__ = [
    "sentences_passage",
    "find_all",
    "join_sentences",
    "json_list_items",
    "mark",
    "positives_first",
    "resolve_language",
    "sentence_spans",
    "spans_from_starts",
    "unique",
]


def sentence_spans(text: str, language: str) -> list[Span]:
    """Sentence spans tiling ``text`` from :func:`text_pruner_rag.chunking.split_sentences`."""
    return [(s.start, s.end) for s in split_sentences(text, language)]


def resolve_language(language: str, text: str) -> str:
    """``language`` itself, or the :func:`~text_pruner_rag.chunking.detect_language` of ``text`` for ``"auto"``."""
    if language == "auto":
        return detect_language(text)
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"language must be 'en', 'ja' or 'auto', got {language!r}")
    return language


def mark(spans: list[Span], ranges: Iterable[Span]) -> list[int]:
    """0/1 per span: 1 if the span overlaps any character range (an empty range marks its span)."""
    flags = [0] * len(spans)
    for start, end in ranges:
        for i, (s, e) in enumerate(spans):
            if (s < end and start < e) or (start == end and s <= start < e):
                flags[i] = 1
    return flags


def find_all(text: str, needle: str, *, word_boundaries: bool) -> list[Span]:
    """Character ranges of every case-insensitive occurrence of ``needle``.

    With ``word_boundaries`` (English), an occurrence must not be glued to a letter or digit
    ("35" does not match "1935"); if that finds nothing, plain substring matches are returned.
    """
    needle = needle.strip()
    if not needle:
        return []
    pattern = re.escape(needle)
    plain = [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]
    if not word_boundaries or not plain:
        return plain
    bounded = rf"(?<!\w){pattern}(?!\w)"
    return [m.span() for m in re.finditer(bounded, text, re.IGNORECASE)] or plain


def spans_from_starts(starts: list[int], length: int) -> list[Span]:
    """Spans tiling ``range(length)`` cut at the given sentence starts (out-of-range starts ignored)."""
    cuts = sorted({s for s in starts if 0 < s < length})
    bounds = [0, *cuts, length]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def join_sentences(pieces: list[str]) -> tuple[str, list[Span], list[int | None]]:
    """Concatenate pre-split sentences exactly; move leading whitespace to the previous sentence.

    Returns ``(text, spans, piece_to_span)``: spans tile ``text``; whitespace-only pieces map to None.
    """
    text = "".join(pieces)
    offset, cuts, mapping, seen_content = 0, [], [], False
    for piece in pieces:
        if piece.strip():
            if seen_content:
                cuts.append(offset + len(piece) - len(piece.lstrip()))
            mapping.append(len(cuts))
            seen_content = True
        else:
            mapping.append(None)
        offset += len(piece)
    return text, spans_from_starts(cuts, len(text)), mapping


def unique(values: Iterable[str]) -> list[str]:
    """Non-empty values, first occurrence kept, in order."""
    return list(dict.fromkeys(v for v in values if v))


def positives_first(passages: list[Passage]) -> list[Passage]:
    """Passages reordered with every positive (label 1) first; stable within each group."""
    return [p for p in passages if p.label == 1] + [p for p in passages if p.label == 0]


def json_list_items(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Iterator[tuple[str, Any]]:
    """Items of JSON-list files (``[...]``) or JSONL files, located as ``file:[i]`` / ``file:line``."""
    for path in expand_paths(paths):
        if path.name.endswith((".jsonl", ".jsonl.gz", ".jsonlines")):
            yield from iter_jsonl(path)
            continue
        try:
            data = load_json(path)
        except DataFormatError as exc:
            yield str(path), exc
            continue
        if not isinstance(data, list):
            yield f"{path}:1", ValueError(f"expected a JSON list of examples, got {type(data).__name__}")
            continue
        for index, item in enumerate(data):
            yield f"{path}:[{index}]", item


def sentences_passage(sentences: Sequence[str], relevant: Iterable[int], label: int | None = None,
                       title: str | None = None, complete: bool = True) -> Passage | None:
    """A passage from pre-split sentences joined with single spaces (tiling spans); None if no text."""
    pieces = [s.strip() for s in sentences]
    kept = [i for i, s in enumerate(pieces) if s]
    if not kept:
        return None
    relevant = set(relevant)
    parts = [pieces[i] + (" " if n < len(kept) - 1 else "") for n, i in enumerate(kept)]
    text, spans, mapping = join_sentences(parts)
    flags = [0] * len(spans)
    for n, i in enumerate(kept):
        if i in relevant and mapping[n] is not None:
            flags[mapping[n]] = 1
    return Passage(text, spans, flags, int(any(flags)) if label is None else label, title, complete=complete)
