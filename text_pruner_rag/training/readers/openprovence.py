"""OpenProvence context-relevance rows (parquet, JSONL, JSON, or a hub dataset through ``datasets``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from ...records import (
    DataFormatError,
    Passage,
    ReadStats,
    Record,
    as_span,
    convert_items,
    expand_paths,
    iter_jsonl,
    load_json,
)
from .common import positives_first, resolve_language

__all__ = ["read_openprovence"]


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
    for path in expand_paths(text):
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
                data = load_json(path)
            except DataFormatError as exc:
                yield str(path), exc
                continue
            rows = data.get("data", data) if isinstance(data, dict) else data
            for index, row in enumerate(rows):
                yield f"{path}:[{index}]", row
        else:
            yield from iter_jsonl(path)


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
            spans = [as_span(s) for s in all_spans[i]]
            flags = _relevance_flags(all_relevance[i], len(spans))
            label = labels[i] if labels is not None else int(any(flags))
            score = teacher[i] if teacher is not None else None
            passages.append(Passage(text=text, spans=spans, relevance=flags, label=label, teacher_score=score))
        query = row["query"]
        return Record(
            id=str(row["id"]),
            query=query,
            language=resolve_language(language, query + "\n" + (texts[0] if texts else "")),
            source=source,
            answers=[],
            passages=positives_first(passages),
        )

    items = _iter_table_rows(path_or_name, split, subset)
    return convert_items(items, convert, limit=limit, on_error=on_error, stats=stats, what=source)
