"""Data preparation: source configs, reading a source with its reader, and ``prepare``.

:func:`prepare` reads every source of a config once with its reader
(:data:`~text_pruner_rag.data.readers.READERS`) and writes one unified JSONL file (one record per
line, deterministic order) that the rest of the training pipeline reads with
:func:`~text_pruner_rag.data.records.load_records`.

Licenses: the public data the readers target is mostly Wikipedia-derived and CC BY-SA; each reader's
docstring names its data's license, and :func:`prepare` writes the notes next to its output
(``<output>.meta.json``). Anything shipped that is derived from that data must carry them.
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..chunking import LANGUAGES
from .records import ReadStats, Record, check_on_error
from .readers.registry import LICENSE_NOTES, READERS

logger = logging.getLogger(__name__)

__all__ = ["SourceConfig", "iter_source", "prepare"]


class SourceConfig(BaseModel):
    """One data source of a training/dev config (YAML ``sources:`` list entry).

    Example (YAML)::

        - format: squad
          name: jaquad
          path: DATA/jaquad/train/*.json   # DATA: your raw data folder
          language: ja
          options: {max_negatives: 5}
    """

    model_config = ConfigDict(extra="forbid")

    format: str = Field(description="reader name: a key of text_pruner_rag.data.readers.READERS")
    path: str | list[str] = Field(description="file, directory, glob or hub name; or a list of those")
    name: str | None = Field(default=None, description="Record.source for this source; defaults to `format`")
    language: str | None = Field(
        default=None,
        description="language for readers that take one (squad, openprovence): one of "
        "text_pruner_rag.chunking.LANGUAGES ('auto', 'en', 'ja'); other readers are English-only",
    )
    skip: int = Field(default=0, ge=0, description="leave out the first `skip` records (before `limit` applies), "
                      "e.g. to train on questions an earlier stage did not use")
    limit: int | None = Field(default=None, ge=0, description="stop after this many records (after `skip`)")
    options: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments for the reader")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in READERS:
            raise ValueError(f"unknown format {value!r}; expected one of {sorted(READERS)}")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        if value is not None and value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; expected one of {list(LANGUAGES)}")
        return value

    @property
    def source_name(self) -> str:
        return self.name or self.format


def iter_source(
    config: SourceConfig, *, seed: int = 0, on_error: str = "raise", stats: ReadStats | None = None
) -> Iterator[Record]:
    """Records of one :class:`SourceConfig`, read with its reader, language, skip, limit and options.

    ``skip`` leaves out the reader's first records and ``limit`` counts after them: the records are
    exactly those at positions ``skip`` to ``skip + limit`` of the unskipped read (same seed).

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
    limit = None if config.limit is None else config.skip + config.limit
    records = reader(config.path, limit=limit, on_error=on_error, stats=stats, **kwargs)
    return itertools.islice(records, config.skip, None) if config.skip else records


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
        dict: ``{"output": str, "records": int, "sources": {name: {"records", "left_out", "passages",
        "positives", "skipped", "dropped"}}, "duplicate_ids": int}``: ``records`` counts the records
        written, ``left_out`` the source's ``skip``, ``skipped`` the malformed units.

    Raises:
        DataFormatError: a malformed unit with ``on_error="raise"``.
        ValueError: duplicate source names, bad options.
    """
    check_on_error(on_error)
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
                stats, written, passages, positives = ReadStats(), 0, 0, 0
                for record in iter_source(config, seed=seed, on_error=on_error, stats=stats):
                    handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
                    written += 1
                    passages += len(record.passages)
                    positives += len(record.positives)
                    key = (record.source, record.id)
                    summary["duplicate_ids"] += key in seen
                    seen.add(key)
                # `records` counts what was written: the reader also read the `skip` records left out
                counts = {**stats.to_dict(), "records": written, "left_out": config.skip,
                          "passages": passages, "positives": positives}
                summary["sources"][config.source_name] = counts
                summary["records"] += written
                logger.info("%s: %d records, %d passages", config.source_name, written, passages)
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
