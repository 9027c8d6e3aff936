"""Unified records: the one schema of labelled query/passage data, and its JSONL form.

Training (``text_pruner_rag.training``) and evaluation (``text_pruner_rag.evaluation``) both read
and write data as :class:`Record` objects; the readers of public formats
(``text_pruner_rag.data.readers``) produce them. This module imports neither torch nor
transformers.

Unified record (``Record.to_dict()``; plain dataclasses with ``to_dict``/``from_dict``, validated on
construction)::

    {"id": str, "query": str, "language": "en" | "ja", "source": str, "answers": [str],
     "passages": [{"text": str, "title": str | None,
                   "spans": [[start, end], ...],   # character offsets into `text`, end exclusive
                   "relevance": [0 | 1, ...],       # one flag per span: 1 = relevant sentence
                   "label": 0 | 1,                  # 1 = the passage is relevant (a positive)
                   "teacher_score": float | None,
                   "sentence_teacher": [float, ...],  # only when set: a teacher score per span
                   "complete": false}],             # only when false: the 0 flags are unknown, not irrelevant
     "meta": {...}}                                 # optional, reader-specific (e.g. QED explanation type)

Invariants checked by :meth:`Passage.validate` / :meth:`Record.validate` (``ValueError`` otherwise):
``len(spans) == len(relevance) >= 1``; ``0 <= start < end <= len(text)``; spans sorted and
non-overlapping; positives come before negatives. Readers that split text themselves produce spans
that *tile* the text (contiguous, ``spans[0][0] == 0``, ``spans[-1][1] == len(text)``, trailing whitespace
attached to the sentence before it, as :func:`text_pruner_rag.chunking.split_sentences` does); only
the OpenProvence reader keeps upstream spans that may leave gaps (:attr:`Passage.is_tiling` tells).

A unified JSONL file holds one ``Record.to_dict()`` per line (UTF-8): :func:`write_records` writes it,
:func:`read_jsonl` / :func:`load_records` read it back, validating every record.

Malformed input (bad JSON, missing key, span/label count mismatch, ...) raises
:class:`DataFormatError` whose message starts with ``"{file}:{line}: "`` (JSONL and parquet: 1-based
line/row; single JSON documents: a JSON path such as ``data[3].paragraphs[0].qas[2]``). With
``on_error="skip"`` the bad unit is skipped, counted in :class:`ReadStats` and a warning gives the count.

The reading toolkit shared by every reader (:func:`expand_paths`, :func:`iter_jsonl`,
:func:`load_json`, :func:`convert_items`, :class:`Dropped`) lives here too, so that a reader is only
its format's conversion rule.
"""

from __future__ import annotations

import glob
import gzip
import json
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..chunking import SUPPORTED_LANGUAGES

logger = logging.getLogger(__name__)

__all__ = [
    "DataFormatError",
    "Dropped",
    "Passage",
    "ReadStats",
    "Record",
    "Span",
    "as_span",
    "check_on_error",
    "convert_items",
    "expand_paths",
    "iter_jsonl",
    "load_json",
    "load_records",
    "read_jsonl",
    "write_records",
]

Span = tuple[int, int]
"""A ``[start, end)`` range of character offsets (end exclusive)."""

class DataFormatError(ValueError):
    """A raw or unified data file is malformed. The message starts with ``"{file}:{line}: "``."""


class Dropped(Exception):
    """Raised by a reader's conversion rule for a well-formed unit that a documented rule leaves out.

    :func:`convert_items` counts it in ``ReadStats.dropped[reason]``; it is never an error.
    """

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
        sentence_teacher (list[float], optional): one teacher score per span (e.g. the cosine
            similarity of the query and the sentence under an embedding model), used to order the
            sentences that the labels leave tied. Defaults to None.
        complete (bool, optional): True (default) when every flag is known: a 0 sentence was judged
            (or is known to be) irrelevant — multi-sentence human labels, all-zero negatives and
            passages that answer nothing. False when only the 1 flags are known (single-answer sources:
            the sentence holding the answer is relevant, the others were never judged); training then
            treats the 0 sentences as unknown (``loss.unknown``). Evaluation reads the flags as given.

    Raises:
        ValueError: on any invariant violation (see the module docstring).
    """

    text: str
    spans: list[Span]
    relevance: list[int]
    label: int
    title: str | None = None
    teacher_score: float | None = None
    complete: bool = True
    sentence_teacher: list[float] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ValueError(f"passage text must be a non-empty string, got {self.text!r:.60}")
        if self.title is not None and not isinstance(self.title, str):
            raise ValueError(f"title must be a string or None, got {self.title!r}")
        self.spans = [as_span(s) for s in self.spans]
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
        if not isinstance(self.complete, bool):
            raise ValueError(f"complete must be true or false, got {self.complete!r}")
        if self.sentence_teacher is not None:
            values = self.sentence_teacher
            if not isinstance(values, (list, tuple)) or len(values) != len(self.spans):
                raise ValueError(f"sentence_teacher must hold one number per span ({len(self.spans)}), "
                                 f"got {values!r:.80}")
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in values):
                raise ValueError(f"sentence_teacher values must be finite numbers, got {values!r:.80}")
            self.sentence_teacher = [float(v) for v in values]

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
        out = {
            "text": self.text,
            "title": self.title,
            "spans": [[s, e] for s, e in self.spans],
            "relevance": list(self.relevance),
            "label": self.label,
            "teacher_score": self.teacher_score,
        }
        if not self.complete:
            out["complete"] = False
        if self.sentence_teacher is not None:
            out["sentence_teacher"] = list(self.sentence_teacher)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(
            text=data["text"],
            spans=data["spans"],
            relevance=data["relevance"],
            label=data["label"],
            title=data.get("title"),
            teacher_score=data.get("teacher_score"),
            complete=data.get("complete", True),
            sentence_teacher=data.get("sentence_teacher"),
        )


def as_span(span: Any) -> Span:
    """``(start, end)`` from a two-integer list or tuple. Raises ``ValueError`` otherwise."""
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
        if self.language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"language must be one of {SUPPORTED_LANGUAGES}, got {self.language!r}")
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
# Reading toolkit: files, error handling (shared by every reader)
# --------------------------------------------------------------------------------------------------


def expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
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


def iter_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``("file:line", object)``; a line that is not JSON yields the decoding error instead."""
    with _open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{lineno}", json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"{path}:{lineno}", ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})")


def load_json(path: Path) -> Any:
    """The JSON document in ``path`` (``.gz`` read transparently). Raises :class:`DataFormatError`."""
    with _open_text(path) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)


def check_on_error(on_error: str) -> None:
    """Raise ``ValueError`` unless ``on_error`` is ``"raise"`` or ``"skip"``."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def convert_items(
    items: Iterable[tuple[str, Any]],
    convert: Callable[[Any], Record],
    *,
    limit: int | None,
    on_error: str,
    stats: ReadStats | None,
    what: str,
) -> Iterator[Record]:
    """Convert ``(location, raw)`` items to records with the shared error, skip and limit handling.

    Every reader ends with this. ``convert(raw)`` returns a :class:`Record`; it raises :class:`Dropped`
    for a unit a documented rule leaves out (counted in ``stats.dropped``), and ``KeyError``,
    ``IndexError``, ``TypeError``, ``ValueError`` or ``AttributeError`` for a malformed one, which becomes
    a :class:`DataFormatError` prefixed with ``location`` (raised, or skipped and counted with
    ``on_error="skip"``). A ``raw`` that is an exception (e.g. a line that is not JSON) is treated
    as malformed.

    Args:
        items: ``(location, raw)`` pairs, location as ``"file:line"`` or a JSON path.
        convert: the format's conversion rule.
        limit: stop after this many records (None: no limit).
        on_error: ``"raise"`` or ``"skip"``.
        stats: a :class:`ReadStats` to fill (None: a private one).
        what: name used in the skip warning (the source name).

    Yields:
        Record: converted records, in item order.
    """
    check_on_error(on_error)
    stats = stats if stats is not None else ReadStats()
    produced = 0
    for location, raw in items:
        if limit is not None and produced >= limit:
            break
        try:
            if isinstance(raw, Exception):
                raise raw
            record = convert(raw)
        except Dropped as drop:
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
    """Read unified JSONL (as written by :func:`write_records` or ``data.preparation.prepare``).

    Every record is validated (:meth:`Record.from_dict`); ``limit``, ``on_error`` and ``stats`` as in
    :func:`convert_items`.

    License/attribution: that of the sources listed in the file's ``.meta.json``.
    """
    items = (item for p in expand_paths(path) for item in iter_jsonl(p))
    return convert_items(items, Record.from_dict, limit=limit, on_error=on_error, stats=stats, what=os.fspath(path))


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
