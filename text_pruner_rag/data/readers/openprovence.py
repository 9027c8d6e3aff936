"""OpenProvence formats: context-relevance rows (parquet, JSONL, JSON, or a hub dataset through ``datasets``)
and the sentence-labelled ``{query, contexts, labels}`` eval rows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..records import (
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
from .common import join_sentences, json_list_items, positives_first, resolve_language

__all__ = ["read_openprovence", "read_openprovence_eval"]


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


# --------------------------------------------------------------------------------------------------
# OpenProvence's sentence-labelled eval rows {query, contexts, labels}

_JSON_SUFFIXES = (".json", ".jsonl", ".jsonl.gz", ".jsonlines")


def _glued(left: str, right: str, language: str) -> bool:
    """Whether two English sentences would touch without a space ("day.The") when concatenated."""
    return language != "ja" and bool(left) and bool(right) and not left[-1].isspace() and not right[0].isspace()


def _flags(labels: Any, n_sentences: int) -> list[int]:
    if not isinstance(labels, list) or len(labels) != n_sentences:
        raise ValueError(f"expected one label per sentence, got {n_sentences} sentences and labels {labels!r:.80}")
    if any(isinstance(v, bool) or v not in (0, 1) for v in labels):
        raise ValueError(f"labels must be 0 or 1, got {labels!r:.80}")
    return [int(v) for v in labels]


def read_openprovence_eval(
    path: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    language: str = "auto",
    source: str = "openprovence_eval",
    limit: int | None = None,
    on_error: str = "raise",
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Read OpenProvence's sentence-labelled eval format: ``{"query", "contexts": [sentence, ...], "labels": [0/1, ...]}``.

    One row = one query with **one** passage whose sentences are ``contexts`` (e.g. the
    ``pruning_data_easy_*.json`` files of OpenProvence's pruning config). The passage text is the
    sentences concatenated; in English, one space is appended to a sentence that would otherwise
    touch the next one ("day." + "The" -> "day. The"), so sentence boundaries stay readable (Japanese
    sentences are joined as they are). Leading whitespace of a sentence moves to the end of the
    previous one (trailing-whitespace convention); whitespace-only sentences are dropped with their
    label. The passage is a positive (``label`` 1) iff a sentence is labelled 1, so a row whose labels
    are all 0 is a passage with nothing to keep. Other keys (``reasoning``) are ignored; ``id`` is used
    when present, else the row's location (``"file:[index]"`` or ``"file:line"``).

    License/attribution: that of the file read (OpenProvence's sample files: Apache-2.0 repository,
    LLM-written texts).

    Args:
        path: JSON-list or JSONL file(s), glob(s), or a directory (its ``.json``/``.jsonl``/``.jsonl.gz``/
            ``.jsonlines`` files, sorted; other files such as a README are ignored).
        language: ``"en"``, ``"ja"`` or ``"auto"`` (detected from the query and sentences).
        source, limit, on_error, stats: see :func:`~text_pruner_rag.data.readers.squad.read_squad`.

    Raises:
        DataFormatError: a malformed row (``contexts`` and ``labels`` of different lengths, a label
            other than 0/1, no sentence with text), with ``on_error="raise"``.
    """

    def convert(row: dict[str, Any], location: str) -> Record:
        contexts = row["contexts"]
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise ValueError("contexts must be a list of sentence strings")
        flags = _flags(row["labels"], len(contexts))
        lang = resolve_language(language, row["query"] + "\n" + "".join(contexts))
        pieces = [c + " " if i + 1 < len(contexts) and _glued(c, contexts[i + 1], lang) else c
                  for i, c in enumerate(contexts)]  # fmt: skip
        text, spans, mapping = join_sentences(pieces)
        if not text.strip():
            raise ValueError("no sentence with text in contexts")
        relevance = [0] * len(spans)
        for piece_index, span_index in enumerate(mapping):
            if span_index is not None and flags[piece_index]:
                relevance[span_index] = 1
        return Record(
            id=str(row.get("id") or location),
            query=row["query"],
            language=lang,
            source=source,
            answers=[],
            passages=[Passage(text=text, spans=spans, relevance=relevance, label=int(any(relevance)))],
        )

    is_dir = isinstance(path, (str, os.PathLike)) and Path(os.fspath(path)).is_dir()
    files = [p for p in expand_paths(path) if p.name.endswith(_JSON_SUFFIXES)] if is_dir else path
    items = ((loc, row if isinstance(row, Exception) else (row, loc)) for loc, row in json_list_items(files))
    return convert_items(items, lambda item: convert(*item), limit=limit, on_error=on_error, stats=stats, what=source)
