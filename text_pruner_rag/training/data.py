"""Training and dev data: readers for public QA formats, one unified record type, and ``prepare``.

Every reader turns one raw format into :class:`Record` objects (one query each). :func:`prepare` writes
them once to a unified JSONL file (one record per line, deterministic order) that the rest of the
training pipeline reads with :func:`load_records` / :func:`read_jsonl`.

Unified record (``Record.to_dict()``; plain dataclasses with ``to_dict``/``from_dict``, validated on
construction)::

    {"id": str, "query": str, "language": "en" | "ja", "source": str, "answers": [str],
     "passages": [{"text": str, "title": str | None,
                   "spans": [[start, end], ...],   # character offsets into `text`, end exclusive
                   "relevance": [0 | 1, ...],       # one flag per span: 1 = relevant sentence
                   "label": 0 | 1,                  # 1 = the passage is relevant (a positive)
                   "teacher_score": float | None}],
     "meta": {...}}                                 # optional, reader-specific (e.g. QED explanation type)

Invariants checked by :meth:`Passage.validate` / :meth:`Record.validate` (``ValueError`` otherwise):
``len(spans) == len(relevance) >= 1``; ``0 <= start < end <= len(text)``; spans sorted and
non-overlapping; positives come before negatives. Readers that split text themselves produce spans
that *tile* the text (contiguous, ``spans[0][0] == 0``, ``spans[-1][1] == len(text)``, trailing whitespace
attached to the sentence before it, as :func:`text_pruner_rag.chunking.split_sentences` does); only
:func:`read_openprovence` keeps upstream spans that may leave gaps (:attr:`Passage.is_tiling` tells).

Malformed input (bad JSON, missing key, span/label count mismatch, ...) raises
:class:`DataFormatError` whose message starts with ``"{file}:{line}: "`` (JSONL and parquet: 1-based
line/row; single JSON documents: a JSON path such as ``data[3].paragraphs[0].qas[2]``). With
``on_error="skip"`` the bad unit is skipped, counted in :class:`ReadStats` and a warning gives the count.

Licenses: the public data these readers target is mostly Wikipedia-derived and CC BY-SA; each reader's
docstring names its data's license, and :func:`prepare` writes the notes next to its output
(``<output>.meta.json``). Anything shipped that is derived from that data must carry them.
"""

from __future__ import annotations

import glob
import gzip
import inspect
import json
import logging
import os
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

logger = logging.getLogger(__name__)

__all__ = [
    "DataFormatError",
    "Passage",
    "Record",
    "ReadStats",
    "SourceConfig",
    "READERS",
    "LICENSE_NOTES",
    "normalize_question",
    "read_openprovence",
    "read_squad",
    "read_qed",
    "read_nq_open_oracle",
    "read_hotpotqa",
    "read_musique",
    "read_jsonl",
    "iter_source",
    "prepare",
    "load_records",
    "write_records",
    "build_dev_sets",
]

LANGUAGES = ("en", "ja")
Span = tuple[int, int]

LICENSE_NOTES = {
    "openprovence": "OpenProvence context-relevance datasets (hotchpotch/*-context-relevance): license of the"
    " underlying corpus applies (see each dataset card); relevance flags from an LLM, teacher scores from a reranker.",
    "squad": "SQuAD-format data. JaQuAD: CC BY-SA 3.0 (SkelterLabsInc/JaQuAD); XQuAD: CC BY-SA 4.0"
    " (google-deepmind/xquad); SQuAD: CC BY-SA 4.0; JSQuAD: CC BY-SA 4.0. Wikipedia-derived.",
    "qed": "QED (google-research-datasets/QED) over Natural Questions: Wikipedia text, CC BY-SA 3.0 / GFDL;"
    " NQ is CC BY-SA 3.0.",
    "nq_open_oracle": "NQ-open oracle passages from nelson-liu/lost-in-the-middle (code MIT): NQ questions and"
    " NQ-annotated Wikipedia passages, CC BY-SA 3.0.",
    "hotpotqa": "HotpotQA (hotpotqa.github.io), CC BY-SA 4.0; subset file from OSU-NLP-Group/HippoRAG (MIT).",
    "musique": "MuSiQue (StonyBrookNLP/musique), CC BY 4.0; subset file from OSU-NLP-Group/HippoRAG (MIT).",
    "jsonl": "Unified JSONL written by text_pruner_rag.training.data.prepare: see its .meta.json for the sources.",
}


class DataFormatError(ValueError):
    """A raw or unified data file is malformed. The message starts with ``"{file}:{line}: "``."""


class _Dropped(Exception):
    """Internal: a well-formed unit that a documented rule leaves out (counted, never an error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ReadStats:
    """Counts kept while reading one source.

    Attributes:
        records (int): records yielded.
        skipped (int): malformed units skipped with ``on_error="skip"``.
        dropped (Counter): well-formed units left out by a documented rule, by reason
            (e.g. ``"excluded_question"``, ``"qed_none"``, ``"unanswerable"``).
        errors (list[str]): the first few skip messages, for the log.
    """

    records: int = 0
    skipped: int = 0
    dropped: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "skipped": self.skipped, "dropped": dict(sorted(self.dropped.items()))}


# --------------------------------------------------------------------------------------------------
# Record types
# --------------------------------------------------------------------------------------------------


def _check_flag(value: Any, what: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    raise ValueError(f"{what} must be 0 or 1, got {value!r}")


@dataclass
class Passage:
    """One passage of a record, with sentence spans and per-sentence relevance.

    Args:
        text (str): the passage text (title not included).
        spans (list[tuple[int, int]]): character spans ``[start, end)`` of its sentences.
        relevance (list[int]): 0/1 per span; 1 = the sentence is relevant to the query.
        label (int): 1 if the passage is relevant to the query (a positive), else 0.
        title (str, optional): title shown with the passage. Defaults to None.
        teacher_score (float, optional): teacher reranking score. Defaults to None.

    Raises:
        ValueError: on any invariant violation (see the module docstring).
    """

    text: str
    spans: list[Span]
    relevance: list[int]
    label: int
    title: str | None = None
    teacher_score: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ValueError(f"passage text must be a non-empty string, got {self.text!r:.60}")
        if self.title is not None and not isinstance(self.title, str):
            raise ValueError(f"title must be a string or None, got {self.title!r}")
        self.spans = [_as_span(s) for s in self.spans]
        if len(self.spans) != len(self.relevance):
            raise ValueError(f"{len(self.spans)} spans but {len(self.relevance)} relevance flags")
        if not self.spans:
            raise ValueError("a passage needs at least one sentence span")
        self.relevance = [_check_flag(r, "relevance") for r in self.relevance]
        self.label = _check_flag(self.label, "label")
        previous_end = 0
        for start, end in self.spans:
            if not 0 <= start < end <= len(self.text):
                raise ValueError(f"span [{start}, {end}) out of bounds for a text of {len(self.text)} characters")
            if start < previous_end:
                raise ValueError(f"spans not sorted or overlapping at [{start}, {end})")
            previous_end = end
        if self.teacher_score is not None:
            if isinstance(self.teacher_score, bool) or not isinstance(self.teacher_score, (int, float)):
                raise ValueError(f"teacher_score must be a number or None, got {self.teacher_score!r}")
            self.teacher_score = float(self.teacher_score)

    @property
    def is_tiling(self) -> bool:
        """True if the spans cover the text exactly, without gaps."""
        bounds = [0] + [b for s in self.spans for b in s] + [len(self.text)]
        return all(bounds[i] == bounds[i + 1] for i in range(0, len(bounds), 2))

    @property
    def sentences(self) -> list[str]:
        """The sentence texts cut by ``spans``."""
        return [self.text[s:e] for s, e in self.spans]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "title": self.title,
            "spans": [[s, e] for s, e in self.spans],
            "relevance": list(self.relevance),
            "label": self.label,
            "teacher_score": self.teacher_score,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(
            text=data["text"],
            spans=data["spans"],
            relevance=data["relevance"],
            label=data["label"],
            title=data.get("title"),
            teacher_score=data.get("teacher_score"),
        )


def _as_span(span: Any) -> Span:
    if not isinstance(span, (list, tuple)) or len(span) != 2:
        raise ValueError(f"a span must be [start, end], got {span!r}")
    start, end = span
    if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise ValueError(f"span offsets must be integers, got {span!r}")
    return (start, end)


@dataclass
class Record:
    """One query with its passages (positives first). See the module docstring for the JSON form.

    Args:
        id (str): unique within its source.
        query (str): the question.
        language (str): ``"en"`` or ``"ja"``.
        source (str): name of the source it was read from (e.g. ``"jaquad"``).
        answers (list[str]): gold answer strings (may be empty).
        passages (list[Passage]): at least one; every positive before every negative.
        meta (dict): reader-specific extras (JSON-serialisable). Defaults to ``{}``.

    Raises:
        ValueError: on any invariant violation.
    """

    id: str
    query: str
    language: str
    source: str
    answers: list[str]
    passages: list[Passage]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("id", "query", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        if not isinstance(self.answers, list) or not all(isinstance(a, str) for a in self.answers):
            raise ValueError(f"answers must be a list of strings, got {self.answers!r:.80}")
        if not self.passages:
            raise ValueError("a record needs at least one passage")
        labels = [p.label for p in self.passages]
        if labels != sorted(labels, reverse=True):
            raise ValueError(f"positives must come first, got labels {labels}")
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta must be a dict, got {type(self.meta).__name__}")

    @property
    def positives(self) -> list[Passage]:
        return [p for p in self.passages if p.label == 1]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "query": self.query,
            "language": self.language,
            "source": self.source,
            "answers": list(self.answers),
            "passages": [p.to_dict() for p in self.passages],
        }
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        if not isinstance(data, dict):
            raise ValueError(f"a record must be a JSON object, got {type(data).__name__}")
        passages = data["passages"]
        if not isinstance(passages, list):
            raise ValueError("passages must be a list")
        return cls(
            id=data["id"],
            query=data["query"],
            language=data["language"],
            source=data["source"],
            answers=data.get("answers", []),
            passages=[Passage.from_dict(p) for p in passages],
            meta=data.get("meta") or {},
        )


# --------------------------------------------------------------------------------------------------
# Shared helpers: files, error handling, sentences, labels
# --------------------------------------------------------------------------------------------------


def _expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Files named by a path, a glob, a directory (its files, sorted) or a list of those."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise FileNotFoundError(f"no file matches {text!r}")
            out.extend(Path(m) for m in matches)
        elif Path(text).is_dir():
            out.extend(sorted(p for p in Path(text).iterdir() if p.is_file() and not p.name.startswith(".")))
        elif Path(text).is_file():
            out.append(Path(text))
        else:
            raise FileNotFoundError(f"no such file or directory: {text!r}")
    return out


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _iter_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``("file:line", object)``; a line that is not JSON yields the decoding error instead."""
    with _open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{lineno}", json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"{path}:{lineno}", ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})")


def _load_json(path: Path) -> Any:
    with _open_text(path) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _emit(
    items: Iterable[tuple[str, Any]],
    convert: Callable[[Any], Record],
    *,
    limit: int | None,
    on_error: str,
    stats: ReadStats | None,
    what: str,
) -> Iterator[Record]:
    """Convert ``(location, raw)`` items to records with the shared error, skip and limit handling."""
    _check_on_error(on_error)
    stats = stats if stats is not None else ReadStats()
    produced = 0
    for location, raw in items:
        if limit is not None and produced >= limit:
            break
        try:
            if isinstance(raw, Exception):
                raise raw
            record = convert(raw)
        except _Dropped as drop:
            stats.dropped[drop.reason] += 1
            continue
        except DataFormatError:
            if on_error == "raise":
                raise
            stats.skipped += 1
            continue
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            error = DataFormatError(f"{location}: {_describe(exc)}")
            if on_error == "raise":
                raise error from exc
            stats.skipped += 1
            if len(stats.errors) < 5:
                stats.errors.append(str(error))
            continue
        produced += 1
        stats.records += 1
        yield record
    if stats.skipped:
        logger.warning(
            "%s: skipped %d malformed item(s) (on_error='skip'); first: %s", what, stats.skipped, stats.errors[:1]
        )


def _chunking():
    # Imported lazily so this module (and its record types) load without the tokenizer stack.
    from text_pruner_rag import chunking

    return chunking


def _sentence_spans(text: str, language: str) -> list[Span]:
    """Sentence spans tiling ``text`` from :func:`text_pruner_rag.chunking.split_sentences`."""
    return [(s.start, s.end) for s in _chunking().split_sentences(text, language)]


def _resolve_language(language: str, text: str) -> str:
    if language == "auto":
        return _chunking().detect_language(text)
    if language not in LANGUAGES:
        raise ValueError(f"language must be 'en', 'ja' or 'auto', got {language!r}")
    return language


def _mark(spans: list[Span], ranges: Iterable[Span]) -> list[int]:
    """0/1 per span: 1 if the span overlaps any character range (an empty range marks its span)."""
    flags = [0] * len(spans)
    for start, end in ranges:
        for i, (s, e) in enumerate(spans):
            if (s < end and start < e) or (start == end and s <= start < e):
                flags[i] = 1
    return flags


def _find_all(text: str, needle: str, *, word_boundaries: bool) -> list[Span]:
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


def _spans_from_starts(starts: list[int], length: int) -> list[Span]:
    cuts = sorted({s for s in starts if 0 < s < length})
    bounds = [0, *cuts, length]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _join_sentences(pieces: list[str]) -> tuple[str, list[Span], list[int | None]]:
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
    return text, _spans_from_starts(cuts, len(text)), mapping


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _positives_first(passages: list[Passage]) -> list[Passage]:
    return [p for p in passages if p.label == 1] + [p for p in passages if p.label == 0]


# --------------------------------------------------------------------------------------------------
# OpenProvence context-relevance rows
# --------------------------------------------------------------------------------------------------


def _iter_table_rows(path_or_name: str | os.PathLike, split: str, subset: str | None) -> Iterator[tuple[str, Any]]:
    text = os.fspath(path_or_name)
    local = any(ch in text for ch in "*?[") or Path(text).exists()
    if not local:
        try:
            import datasets
        except ImportError as exc:
            raise ImportError(
                f"reading the hub dataset {text!r} needs the `datasets` package: pip install datasets"
            ) from exc
        dataset = datasets.load_dataset(text, subset, split=split)
        for index, row in enumerate(dataset):
            yield f"{text}[{split}]:{index}", row
        return
    for path in _expand_paths(text):
        if path.suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise ImportError(f"reading {path} needs pyarrow: pip install pyarrow") from exc
            row_number = 0
            for batch in pq.ParquetFile(path).iter_batches():
                for row in batch.to_pylist():
                    row_number += 1
                    yield f"{path}:{row_number}", row
        elif path.suffix == ".json":
            try:
                data = _load_json(path)
            except DataFormatError as exc:
                yield str(path), exc
                continue
            rows = data.get("data", data) if isinstance(data, dict) else data
            for index, row in enumerate(rows):
                yield f"{path}:[{index}]", row
        else:
            yield from _iter_jsonl(path)


def _teacher_columns(row: dict[str, Any]) -> dict[str, Any]:
    columns = {k: v for k, v in row.items() if k.startswith("teacher_scores.") or k == "teacher_score"}
    nested = row.get("teacher_scores")
    if isinstance(nested, dict):
        columns.update({f"teacher_scores.{k}": v for k, v in nested.items()})
    return columns


def _pick_teacher(row: dict[str, Any], teacher_column: str | None) -> list[Any] | None:
    columns = _teacher_columns(row)
    if teacher_column is None:
        if len(columns) > 1:
            raise ValueError(f"several teacher columns {sorted(columns)}: pass teacher_column=")
        return next(iter(columns.values()), None)
    for key in (teacher_column, f"teacher_scores.{teacher_column}"):
        if key in columns:
            return columns[key]
    raise KeyError(teacher_column)


def _relevance_flags(value: list[Any], n_spans: int) -> list[int]:
    """Accept 0/1 flags aligned with the spans, or a list of relevant span indices."""
    value = list(value)
    if len(value) == n_spans and all(v in (0, 1) for v in value):
        return [int(v) for v in value]
    flags = [0] * n_spans
    for index in value:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_spans:
            raise ValueError(f"relevance {value!r} is neither {n_spans} flags nor indices into {n_spans} spans")
        flags[index] = 1
    return flags


def read_openprovence(
    path_or_name: str | os.PathLike,
    split: str = "train",
    teacher_column: str | None = None,
    *,
    subset: str | None = None,
    language: str = "auto",
    source: str = "openprovence",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read OpenProvence context-relevance rows (provence-reference §3.1).

    Row columns: ``id``, ``query``, ``texts`` (passages), ``context_spans`` (per passage, ``[start, end)``
    sentence offsets), ``context_spans_relevance`` (per passage, 0/1 flags aligned with its spans *or* a
    list of relevant span indices; a list of 0/1 values as long as the spans is read as flags),
    ``labels`` (1 = positive; if absent, a passage is positive when any span is relevant) and
    ``teacher_scores.<model>`` (one float per passage; flat column or nested dict).

    Spans are kept as given: unlike the other readers they may leave gaps (upstream locates stripped
    punkt/bunkai sentences in the text), but must be in bounds, sorted and non-overlapping. Passages
    are reordered positives first (stable).

    License/attribution: that of the dataset read (e.g. ``hotchpotch/msmarco-context-relevance``; see
    its card); relevance flags are LLM-made, teacher scores come from a reranker.

    Args:
        path_or_name: a local ``.parquet``/``.jsonl``/``.jsonl.gz``/``.json`` file, glob or directory,
            or a hub dataset name (loaded with ``datasets.load_dataset(name, subset, split=split)``).
        split: hub split. Defaults to ``"train"``.
        teacher_column: ``"teacher_scores.<model>"`` or just ``"<model>"``. None picks the only teacher
            column if there is exactly one (none → ``teacher_score=None``; several → error).
        subset: hub configuration name (e.g. ``"freq2"``).
        language: ``"en"``, ``"ja"`` or ``"auto"`` (detected from the query and first passage).
        source, limit, on_error, stats: see :func:`read_squad`.

    Raises:
        ImportError: a hub name without ``datasets`` installed, or parquet without ``pyarrow``.
        DataFormatError: a malformed row (with ``on_error="raise"``).
    """

    def convert(row: dict[str, Any]) -> Record:
        texts, all_spans = row["texts"], row["context_spans"]
        all_relevance, labels = row["context_spans_relevance"], row.get("labels")
        teacher = _pick_teacher(row, teacher_column)
        sizes = {"texts": len(texts), "context_spans": len(all_spans), "context_spans_relevance": len(all_relevance)}
        if labels is not None:
            sizes["labels"] = len(labels)
        if teacher is not None:
            sizes["teacher_scores"] = len(teacher)
        if len(set(sizes.values())) != 1:
            raise ValueError(f"per-passage columns differ in length: {sizes}")
        passages = []
        for i, text in enumerate(texts):
            spans = [_as_span(s) for s in all_spans[i]]
            flags = _relevance_flags(all_relevance[i], len(spans))
            label = labels[i] if labels is not None else int(any(flags))
            score = teacher[i] if teacher is not None else None
            passages.append(Passage(text=text, spans=spans, relevance=flags, label=label, teacher_score=score))
        query = row["query"]
        return Record(
            id=str(row["id"]),
            query=query,
            language=_resolve_language(language, query + "\n" + (texts[0] if texts else "")),
            source=source,
            answers=[],
            passages=_positives_first(passages),
        )

    items = _iter_table_rows(path_or_name, split, subset)
    return _emit(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)


# --------------------------------------------------------------------------------------------------
# SQuAD format (JaQuAD, XQuAD, SQuAD, JSQuAD)
# --------------------------------------------------------------------------------------------------

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
            self.spans = _sentence_spans(self.text, self.language)
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
    return _Paragraph(context, title, offset, _resolve_language(language, context))


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
            document = _load_json(path)
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
        raise _Dropped("unanswerable")
    positive = paragraphs[j]
    ranges = [_answer_range(positive, a) for a in answers]
    spans = positive.sentence_spans()
    passages = [Passage(positive.text, spans, _mark(spans, ranges), 1, positive.title)]
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
        answers=_unique(a["text"] for a in answers),
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
    items = _squad_items(_expand_paths(paths), language, max_negatives, seed)
    convert = lambda item: _squad_record(item, source)  # noqa: E731
    return _emit(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)


# --------------------------------------------------------------------------------------------------
# QED over Natural Questions
# --------------------------------------------------------------------------------------------------


def _qed_spans(row: dict[str, Any], text: str) -> tuple[list[Span], str]:
    starts = row.get("sentence_starts") or []
    if starts and starts[0] == 0:
        return _spans_from_starts(starts, len(text)), "qed"
    # Early shards: 321 table-like rows have no sentence_starts or ones not starting at 0.
    return _sentence_spans(text, "en"), "resplit"


def _qed_record(row: dict[str, Any], source: str, multi_sentence: str) -> Record:
    text = row["paragraph_text"]
    annotation = row["annotation"]
    if isinstance(annotation, dict):  # final format (qed-dev / qed-train)
        kind = annotation["explanation_type"]
        answer_ranges = [(a["start"], a["end"]) for group in row["original_nq_answers"] for a in group]
        answers = _unique(a["string"] for group in row["original_nq_answers"] for a in group)
        if kind == "single_sentence":
            selected = annotation["selected_sentence"]
            relevant = [(selected["start"], selected["end"])]
        elif kind == "none":
            raise _Dropped("qed_none")
        else:
            relevant = answer_ranges
    else:  # early shards (2020-08-26): answer_spans, optional answer_bridge_span
        kind = row["answer_type"]
        answer_ranges = [(s, e) for s, e in row["answer_spans"] if 0 <= s < e]
        if not answer_ranges:  # [[-1, -1]]: no short answer in the passage
            raise _Dropped("qed_no_answer_span")
        answers = _unique(text[s:e].strip() for s, e in answer_ranges)
        bridge = row.get("answer_bridge_span") or [-1, -1]
        relevant = answer_ranges + ([tuple(bridge)] if bridge[0] >= 0 else [])
    if kind == "multi_sentence" and multi_sentence == "skip":
        raise _Dropped("qed_multi_sentence")
    spans, segmentation = _qed_spans(row, text)
    flags = [1] * len(spans) if kind == "multi_sentence" and multi_sentence == "all" else _mark(spans, relevant)
    if not any(flags):
        raise ValueError("no sentence holds the annotated answer/selected sentence")
    title = row.get("title_text")
    return Record(
        id=str(row["example_id"]),
        query=row["question_text"],
        language="en",
        source=source,
        answers=answers,
        passages=[Passage(text, spans, flags, 1, title)],
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
    items = (item for p in _expand_paths(path) for item in _iter_jsonl(p))
    convert = lambda row: _qed_record(row, source, multi_sentence)  # noqa: E731
    return _emit(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)


# --------------------------------------------------------------------------------------------------
# NQ-open oracle (lost in the middle)
# --------------------------------------------------------------------------------------------------


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
    for path in _expand_paths(paths):
        for location, row in _iter_jsonl(path):
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
            raise _Dropped("excluded_question")
        passages = []
        for ctx in row["ctxs"]:
            text = ctx["text"]
            spans = _sentence_spans(text, "en")
            ranges = [r for a in answers for r in _find_all(text, a, word_boundaries=True)]
            label = int(bool(ctx.get("isgold") or ctx.get("hasanswer")))
            flags = _mark(spans, ranges) if label else [0] * len(spans)
            passages.append(Passage(text, spans, flags, label, ctx.get("title")))
        if not any(any(p.relevance) for p in passages if p.label):
            raise _Dropped("no_answer_in_passage")
        return Record(
            id=f"nq_open:{location.rsplit(':', 1)[1]}",
            query=question,
            language="en",
            source=source,
            answers=_unique(answers),
            passages=_positives_first(passages),
        )

    items = (
        (loc, row if isinstance(row, Exception) else (row, loc))
        for p in _expand_paths(path)
        for loc, row in _iter_jsonl(p)
    )
    return _emit(items, lambda item: convert(*item), limit=limit, on_error=on_error, stats=stats, what=source)


# --------------------------------------------------------------------------------------------------
# HotpotQA and MuSiQue (multi-hop, with distractor paragraphs)
# --------------------------------------------------------------------------------------------------


def _json_list_items(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Iterator[tuple[str, Any]]:
    """Items of JSON-list files (``[...]``) or JSONL files, located as ``file:[i]`` / ``file:line``."""
    for path in _expand_paths(paths):
        if path.name.endswith((".jsonl", ".jsonl.gz", ".jsonlines")):
            yield from _iter_jsonl(path)
            continue
        try:
            data = _load_json(path)
        except DataFormatError as exc:
            yield str(path), exc
            continue
        if not isinstance(data, list):
            yield f"{path}:1", ValueError(f"expected a JSON list of examples, got {type(data).__name__}")
            continue
        for index, item in enumerate(data):
            yield f"{path}:[{index}]", item


def _hotpot_record(row: dict[str, Any], source: str) -> Record:
    support: dict[str, set[int]] = {}
    for title, index in row["supporting_facts"]:
        support.setdefault(title, set()).add(index)
    passages = []
    for title, sentences in row["context"]:
        if not isinstance(sentences, list):
            raise TypeError(f"context sentences of {title!r} must be a list")
        text, spans, mapping = _join_sentences(sentences)
        relevant = {mapping[i] for i in support.get(title, ()) if 0 <= i < len(mapping)} - {None}
        flags = [int(i in relevant) for i in range(len(spans))]
        passages.append(Passage(text, spans, flags, int(bool(relevant)), title))
    if not any(p.label for p in passages):
        raise _Dropped("no_supporting_fact")
    return Record(
        id=str(row["_id"]),
        query=row["question"],
        language="en",
        source=source,
        answers=_unique([row.get("answer", "")]),
        passages=_positives_first(passages),
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
    return _emit(_json_list_items(path), convert, limit=limit, on_error=on_error, stats=stats, what=source)


_HOP_REF = re.compile(r"#(\d+)")


def _musique_record(row: dict[str, Any], source: str) -> Record:
    if row.get("answerable") is False:
        raise _Dropped("unanswerable")
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
        spans = _sentence_spans(text, "en")
        supporting = bool(paragraph["is_supporting"])
        flags = [0] * len(spans)
        if supporting:
            ranges = [r for s in needles.get(i, []) for r in _find_all(text, s, word_boundaries=True)]
            flags = _mark(spans, ranges)
            rules["answer" if any(flags) else "whole_paragraph"] += 1
            flags = flags if any(flags) else [1] * len(spans)
        passages.append(Passage(text, spans, flags, int(supporting), paragraph.get("title")))
    if not rules:
        raise _Dropped("no_supporting_paragraph")
    return Record(
        id=str(row["id"]),
        query=row["question"],
        language="en",
        source=source,
        answers=_unique([row.get("answer", ""), *row.get("answer_aliases", [])]),
        passages=_positives_first(passages),
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
    return _emit(_json_list_items(path), convert, limit=limit, on_error=on_error, stats=stats, what=source)


# --------------------------------------------------------------------------------------------------
# Unified JSONL
# --------------------------------------------------------------------------------------------------


def read_jsonl(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read unified JSONL (as written by :func:`prepare`), validating every record.

    License/attribution: that of the sources listed in the file's ``.meta.json``.
    """
    items = (item for p in _expand_paths(path) for item in _iter_jsonl(p))
    return _emit(items, Record.from_dict, limit=limit, on_error=on_error, stats=stats, what=os.fspath(path))


def load_records(path: str | os.PathLike, *, on_error: str = "raise") -> list[Record]:
    """All records of a unified JSONL file (see :func:`read_jsonl`)."""
    return list(read_jsonl(path, on_error=on_error))


def write_records(records: Iterable[Record], path: str | os.PathLike) -> int:
    """Write records as unified JSONL (UTF-8, one per line); returns how many were written."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


# --------------------------------------------------------------------------------------------------
# Registry, source configs, prepare
# --------------------------------------------------------------------------------------------------

READERS: dict[str, Callable[..., Iterator[Record]]] = {
    "openprovence": read_openprovence,
    "squad": read_squad,
    "qed": read_qed,
    "nq_open_oracle": read_nq_open_oracle,
    "hotpotqa": read_hotpotqa,
    "musique": read_musique,
    "jsonl": read_jsonl,
}


class SourceConfig(BaseModel):
    """One data source of a training/dev config (YAML ``sources:`` list entry).

    Example (YAML)::

        - format: squad
          name: jaquad
          path: ../shared/data/raw/jaquad/train/*.json
          language: ja
          options: {max_negatives: 5}
    """

    model_config = ConfigDict(extra="forbid")

    format: str = Field(description=f"reader name: one of {sorted(READERS)}")
    path: str | list[str] = Field(description="file, directory, glob or hub name; or a list of those")
    name: str | None = Field(default=None, description="Record.source for this source; defaults to `format`")
    language: Literal["en", "ja", "auto"] | None = Field(
        default=None, description="language for readers that take one (squad, openprovence); others are English"
    )
    limit: int | None = Field(default=None, ge=0, description="stop after this many records")
    options: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments for the reader")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in READERS:
            raise ValueError(f"unknown format {value!r}; expected one of {sorted(READERS)}")
        return value

    @property
    def source_name(self) -> str:
        return self.name or self.format


def iter_source(
    config: SourceConfig, *, seed: int = 0, on_error: str = "raise", stats: ReadStats | None = None
) -> Iterator[Record]:
    """Records of one :class:`SourceConfig`, read with its reader, language, limit and options.

    Raises:
        ValueError: an option the reader does not accept, or a language for an English-only reader.
    """
    reader = READERS[config.format]
    accepted = dict(inspect.signature(reader).parameters)
    reserved = {next(iter(accepted)), "limit", "on_error", "stats"}  # path, and what prepare controls
    kwargs: dict[str, Any] = dict(config.options)
    unknown = sorted((set(kwargs) - set(accepted)) | (reserved & set(kwargs)))
    if unknown:
        options = sorted(set(accepted) - reserved)
        raise ValueError(
            f"source {config.source_name!r}: unknown option(s) {unknown} for {config.format}; accepted: {options}"
        )
    if config.language is not None:
        if "language" in accepted:
            kwargs["language"] = config.language
        elif config.language != "en":
            raise ValueError(f"source {config.source_name!r}: format {config.format} is English-only")
    if "language" in accepted and accepted["language"].default is inspect.Parameter.empty:
        kwargs.setdefault("language", "auto")
    if "source" in accepted:
        kwargs["source"] = config.source_name
    if "seed" in accepted:
        kwargs.setdefault("seed", seed)
    return reader(config.path, limit=config.limit, on_error=on_error, stats=stats, **kwargs)


def prepare(
    sources: list[SourceConfig | dict[str, Any]],
    output: str | os.PathLike,
    *,
    seed: int = 0,
    on_error: str = "raise",
) -> dict[str, Any]:
    """Read every source once and write one unified JSONL file, in source order then file order.

    The output is written to ``<output>.<pid>.tmp`` and renamed at the end, so a failed run leaves no partial
    file. ``<output>.meta.json`` records the sources, counts and license notes (ship it with any model
    or file derived from the data).

    Args:
        sources: :class:`SourceConfig` objects or dicts (validated). Source names must be unique.
        output: path of the JSONL file (parent directories are created).
        seed: passed to readers that sample (negatives of ``squad``).
        on_error: ``"raise"`` on the first malformed unit or ``"skip"`` and count.

    Returns:
        dict: ``{"output": str, "records": int, "sources": {name: {"records", "passages", "positives",
        "skipped", "dropped"}}, "duplicate_ids": int}``.

    Raises:
        DataFormatError: a malformed unit with ``on_error="raise"``.
        ValueError: duplicate source names, bad options.
    """
    _check_on_error(on_error)
    configs = [s if isinstance(s, SourceConfig) else SourceConfig.model_validate(s) for s in sources]
    names = [c.source_name for c in configs]
    duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
    if duplicates:
        raise ValueError(f"source names must be unique, got duplicates {duplicates}: set `name:` per source")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # One temporary file per process: under torchrun every rank prepares the same file at once.
    temporary = output.with_name(f"{output.name}.{os.getpid()}.tmp")
    summary: dict[str, Any] = {"output": str(output), "records": 0, "sources": {}, "duplicate_ids": 0}
    seen: set[tuple[str, str]] = set()
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            for config in configs:
                stats, passages, positives = ReadStats(), 0, 0
                for record in iter_source(config, seed=seed, on_error=on_error, stats=stats):
                    handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
                    passages += len(record.passages)
                    positives += len(record.positives)
                    key = (record.source, record.id)
                    summary["duplicate_ids"] += key in seen
                    seen.add(key)
                counts = {**stats.to_dict(), "passages": passages, "positives": positives}
                summary["sources"][config.source_name] = counts
                summary["records"] += stats.records
                logger.info("%s: %d records, %d passages", config.source_name, stats.records, passages)
        os.replace(temporary, output)
    finally:
        if temporary.exists():
            temporary.unlink()
    if summary["duplicate_ids"]:
        logger.warning("%d duplicate (source, id) pairs in %s", summary["duplicate_ids"], output)
    meta = {
        **summary,
        "seed": seed,
        "config": [c.model_dump() for c in configs],
        "licenses": {c.format: LICENSE_NOTES[c.format] for c in configs},
    }
    Path(f"{output}.meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary


def _raw_dir(shared_data_dir: str | os.PathLike) -> Path:
    base = Path(shared_data_dir)
    for candidate in (base, base / "raw", base / "data" / "raw"):
        if (candidate / "qed_nq").is_dir():
            return candidate
    raise FileNotFoundError(f"no raw data (qed_nq/, xquad_en/, jaquad/) under {base}")


def build_dev_sets(
    shared_data_dir: str | os.PathLike,
    *,
    qed_multi_sentence: Literal["answer", "skip", "all"] = "answer",
    jaquad_max_negatives: int | None = 5,
    limit: int | None = None,
) -> dict[str, list[Record]]:
    """The dev sets used for threshold calibration and reported numbers.

    Returns ``{"qed_dev": ..., "xquad_en": ..., "jaquad_dev": ...}``:

    * ``qed_dev``: ``qed_nq/qed-dev.jsonlines`` via :func:`read_qed` (one positive per record; filter
      on ``meta["explanation_type"] == "single_sentence"`` for the cleanest sentence labels);
    * ``xquad_en``: every paragraph of the article as passages (positive first, then the rest in
      article order), so gold-paragraph MRR can be computed;
    * ``jaquad_dev``: the question's paragraph plus up to ``jaquad_max_negatives`` other paragraphs of
      the article (seed 0).

    Args:
        shared_data_dir: ``../shared``, ``../shared/data`` or ``../shared/data/raw``.
        qed_multi_sentence: see :func:`read_qed`.
        jaquad_max_negatives: None keeps every paragraph of the article.
        limit: records per set (for quick tests).
    """
    raw = _raw_dir(shared_data_dir)
    return {
        "qed_dev": list(read_qed(raw / "qed_nq" / "qed-dev.jsonlines", multi_sentence=qed_multi_sentence,
                                 source="qed_dev", limit=limit)),
        "xquad_en": list(read_squad(raw / "xquad_en" / "xquad.en.json", "en", max_negatives=None,
                                    source="xquad_en", limit=limit)),
        "jaquad_dev": list(read_squad(raw / "jaquad" / "dev", "ja", max_negatives=jaquad_max_negatives,
                                      source="jaquad_dev", limit=limit)),
    }
