"""Dev sets: files in any format the readers know, the named dev sets, and the calibration sets.

Used by both ``text_pruner_rag.evaluation`` and ``text_pruner_rag.training``. The library has no
default data folder: a dev set name is read from a **data root** given by the caller (an argument,
``--data-dir`` on the command line) or the environment variable :data:`DATA_ENV`
(``TEXT_PRUNER_RAG_DATA``); :func:`data_root` resolves it.

``text-pruner-rag eval --data SPEC`` accepts, for each ``SPEC``:

* a **named dev set** from :data:`DEV_SETS` (``qed_dev``, ``xquad_en``, ``cast_dev``, ...), read from
  the data root;
* a **folder of the raw data** (e.g. ``<data root>/xquad_en``): with ``--format auto`` it is read as
  the dev set of that folder (:data:`DEV_FOLDERS`);
* any **file, folder or glob** in a format of the training readers
  (:data:`text_pruner_rag.data.readers.READERS`: ``openprovence``, ``openprovence_eval`` (the
  ``{query, contexts, labels}`` rows), ``squad``, ``squad2``, ``qed``, ``nq_open_oracle``, ``hotpotqa``,
  ``musique``, ``cast_answerability``, ``fever_eraser``, ``multirc_eraser``, ``wikiqa``, ``selqa``,
  ``jsonl`` (unified records)). ``--format auto`` detects each of them from the first item or the
  folder layout (:func:`detect_format`). :data:`EVAL_OPTIONS` holds the reader options eval uses
  (CAsT: its validation + test partitions, not the reader's default training partition).

:data:`SUITES` names groups of dev sets evaluated one after the other (``--suite dev``: the dev suite
of the English models). A dev set whose reader is not registered fails with a message naming the reader.
:func:`build_dev_sets` builds the sets training calibrates its threshold on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence, Union

__all__ = [
    "DATA_ENV",
    "DEV_FOLDERS",
    "DEV_SETS",
    "DevSet",
    "EVAL_OPTIONS",
    "SUITES",
    "build_dev_sets",
    "data_root",
    "default_data_dir",
    "detect_format",
    "load_eval_data",
]

_DATA_SUFFIXES = (".json", ".jsonl", ".jsonl.gz", ".jsonlines", ".jsonlines.gz", ".parquet", ".tsv", ".csv")


@dataclass(frozen=True)
class DevSet:
    """A named evaluation set inside the raw data folder.

    Attributes:
        name (str): the name given to ``--data``.
        format (str): the reader (a key of ``data.readers.READERS``).
        paths (tuple[str, ...]): files or folders relative to the raw data folder.
        options (dict): keyword arguments for the reader.
        language (str | None): language for readers that take one.
        description (str): what the set is, for reports.
    """

    name: str
    format: str
    paths: tuple[str, ...]
    options: dict = field(default_factory=dict)
    language: Optional[str] = None
    description: str = ""


DEV_SETS: dict[str, DevSet] = {
    s.name: s
    for s in (
        DevSet("qed_dev", "qed", ("qed_nq/qed-dev.jsonlines",), {"multi_sentence": "skip"}, None,
               "QED dev, examples whose explanation is one human-selected sentence (1,021 questions, one "
               "passage each)"),
        DevSet("xquad_en", "squad", ("xquad_en/xquad.en.json",), {"max_negatives": None}, "en",
               "XQuAD English (1,190 SQuAD v1.1 dev questions); passages = every paragraph of the article, "
               "the answer paragraph first"),
        DevSet("jaquad_dev", "squad", ("jaquad/dev",), {"max_negatives": 4}, "ja",
               "JaQuAD dev (3,939 questions); the answer paragraph + up to 4 other paragraphs of the same "
               "article (answer retention, compression, emptied, gold-paragraph MRR)"),
        DevSet("cast_dev", "cast_answerability", ("cast_answerability",), {"partitions": ["validation", "test"]},
               None, "TREC CAsT answerability, validation + test partitions (multi-sentence human labels, "
               "unanswerable passages)"),
        DevSet("wikiqa_dev", "wikiqa", ("wikiqa/WikiQA-dev.tsv", "wikiqa/WikiQA-test.tsv"), {}, None,
               "WikiQA dev + test (every sentence of a Wikipedia summary labelled; questions without a "
               "correct sentence = unanswerable passages)"),
    )
}  # fmt: skip
"""Named dev sets, by ``--data`` name."""

DEV_FOLDERS: dict[str, str] = {
    "qed_nq": "qed_dev",
    "xquad_en": "xquad_en",
    "jaquad": "jaquad_dev",
    "cast_answerability": "cast_dev",
    "wikiqa": "wikiqa_dev",
}
"""Shared raw data folder name -> the dev set read from it with ``--format auto``."""

SUITES: dict[str, tuple[str, ...]] = {
    "dev": ("cast_dev", "wikiqa_dev", "qed_dev", "xquad_en"),
    "dev-ja": ("jaquad_dev",),
}
"""Named groups of dev sets (``--suite NAME``)."""


EVAL_OPTIONS: dict[str, dict] = {"cast_answerability": {"partitions": ["validation", "test"]}}
"""Reader options that ``eval`` uses for a path given with that format: CAsT answerability is read from
its validation + test partitions (the reader's own default, ``train``, is the training partition)."""


DATA_ENV = "TEXT_PRUNER_RAG_DATA"
"""Environment variable naming the raw data folder when no folder is passed."""


def default_data_dir() -> Optional[Path]:
    """The raw data folder named by ``$TEXT_PRUNER_RAG_DATA``, or None when it is unset or empty.

    The library never guesses a folder: callers pass one, or set the variable."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value) if value else None


def data_root(data_dir: Union[str, os.PathLike, None] = None) -> Path:
    """The raw data folder: ``data_dir`` when given, else ``$TEXT_PRUNER_RAG_DATA``.

    Raises:
        FileNotFoundError: neither is given, or the folder does not exist.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if root is None:
        raise FileNotFoundError(f"no data folder: pass one (--data-dir DIR) or set ${DATA_ENV}.")
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist.")
    return root


def _readers() -> dict:
    from text_pruner_rag.data.readers import READERS

    return READERS


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(_DATA_SUFFIXES))


def _first_item(path: Path) -> Any:
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        if path.name.endswith((".jsonl", ".jsonl.gz", ".jsonlines", ".jsonlines.gz")):
            line = next((line for line in handle if line.strip()), "{}")
            return json.loads(line)
        data = json.load(handle)
    if isinstance(data, list):
        return data[0] if data else {}
    return data


_FEVER_CLASSES = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")


def _tsv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return handle.readline().rstrip("\r\n").split("\t")


def detect_format(path) -> str:
    """The reader format of a file or folder, from its first item.

    Rules: a folder with a ``CAsT-snippets`` subfolder -> ``cast_answerability``; ``.parquet`` ->
    ``openprovence``; a ``.tsv``/``.csv`` whose header has ``QuestionID``, ``Question``, ``Sentence``
    and ``Label`` -> ``wikiqa``; a JSON document with ``data[].paragraphs`` -> ``squad2`` when its
    first article's questions carry ``is_impossible`` (SQuAD 2.0), else ``squad``; otherwise the keys
    of the first item (JSON list element or JSONL line): ``query`` + ``passages`` -> ``jsonl``;
    ``contexts`` + ``labels`` -> ``openprovence_eval``; ``texts`` + ``context_spans`` ->
    ``openprovence``; ``ctxs`` -> ``nq_open_oracle``; ``supporting_facts`` -> ``hotpotqa``;
    ``paragraphs`` + ``question`` -> ``musique``; ``question_text`` + ``paragraph_text`` -> ``qed``;
    ``annotation_id`` + ``evidences`` + ``classification`` (ERASER) -> ``fever_eraser`` when the class
    is SUPPORTS/REFUTES/NOT ENOUGH INFO, else ``multirc_eraser``; ``question`` + ``candidates`` +
    ``answers`` -> ``selqa``.

    Raises:
        FileNotFoundError: no such path, or a folder without data files.
        ValueError: the format cannot be told (pass it explicitly).
    """
    path = Path(path)
    if path.is_dir() and (path / "CAsT-snippets").is_dir():
        return "cast_answerability"
    if path.is_dir():
        files = _data_files(path)
        if not files:
            raise FileNotFoundError(f"{path} holds no data file ({', '.join(_DATA_SUFFIXES)}).")
        path = files[0]
    if not path.is_file():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.name.endswith(".parquet"):
        return "openprovence"
    if path.name.endswith((".tsv", ".csv")):
        header = set(_tsv_header(path))
        if {"QuestionID", "Question", "Sentence", "Label"} <= header:
            return "wikiqa"
        raise ValueError(f"cannot tell the format of {path} (header {sorted(header)[:12]}); pass --format.")
    try:
        item = _first_item(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot tell the format of {path}: not JSON/JSONL ({exc}); pass --format.") from exc
    keys = set(item) if isinstance(item, dict) else set()
    rules = [
        ({"data"}, "squad"),
        ({"query", "passages"}, "jsonl"),
        ({"contexts", "labels"}, "openprovence_eval"),
        ({"texts", "context_spans"}, "openprovence"),
        ({"ctxs"}, "nq_open_oracle"),
        ({"supporting_facts"}, "hotpotqa"),
        ({"paragraphs", "question"}, "musique"),
        ({"question_text", "paragraph_text"}, "qed"),
        ({"annotation_id", "evidences", "classification"}, "eraser"),
        ({"question", "candidates", "answers"}, "selqa"),
    ]
    for required, name in rules:
        if not required <= keys or (name == "squad" and not _is_squad(item)):
            continue
        if name == "squad" and _is_squad2(item):
            return "squad2"
        if name == "eraser":
            return "fever_eraser" if item.get("classification") in _FEVER_CLASSES else "multirc_eraser"
        return name
    raise ValueError(
        f"cannot tell the format of {path} (first item keys: {sorted(keys)[:12]}); pass --format, one of "
        f"{sorted(_readers())}."
    )


def _is_squad2(item: dict) -> bool:
    """SQuAD 2.0: the first article's questions carry ``is_impossible``."""
    paragraphs = item["data"][0].get("paragraphs") or []
    return any("is_impossible" in qa for p in paragraphs[:5] if isinstance(p, dict) for qa in p.get("qas") or [])


def _is_squad(item: dict) -> bool:
    articles = item.get("data")
    return isinstance(articles, list) and bool(articles) and isinstance(articles[0], dict) and "paragraphs" in articles[0]


def _dev_set_source(dev: DevSet, raw_dir: Optional[Path], limit: Optional[int]) -> tuple[dict, dict]:
    if dev.format not in _readers():
        raise ValueError(
            f"dev set {dev.name!r} needs the {dev.format!r} reader, which this version does not have yet "
            f"(readers: {sorted(_readers())})."
        )
    if raw_dir is None:
        raise FileNotFoundError(f"dev set {dev.name!r}: no data folder; pass --data-dir DIR or set ${DATA_ENV}.")
    paths = [str(raw_dir / p) for p in dev.paths]
    config = {"format": dev.format, "path": paths if len(paths) > 1 else paths[0], "name": dev.name,
              "language": dev.language, "limit": limit, "options": dict(dev.options)}  # fmt: skip
    return config, {"name": dev.name, "description": dev.description}


def _path_source(spec: str, fmt: str, language: Optional[str], limit: Optional[int]) -> dict:
    path = Path(spec)
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in _readers():
        raise ValueError(f"unknown format {fmt!r}; expected 'auto' or one of {sorted(_readers())}.")
    target: Any = spec
    if path.is_dir() and fmt != "openprovence_eval":
        files = _data_files(path)
        if fmt == "openprovence":
            suffix = "".join(files[0].suffixes) if files else ".parquet"
            target = str(path / f"*{suffix}")
        elif files:
            target = [str(f) for f in files]
    return {"format": fmt, "path": target, "name": path.stem or fmt, "language": language, "limit": limit,
            "options": dict(EVAL_OPTIONS.get(fmt, {}))}  # fmt: skip


def _resolve(spec: str, fmt: str, raw_dir: Optional[Path], language: Optional[str], limit: Optional[int]):
    """``(SourceConfig dict, description dict)`` of one ``--data`` value."""
    path = Path(spec)
    exists = path.exists() or any(ch in spec for ch in "*?[")
    if not exists and spec in DEV_SETS:
        return _dev_set_source(DEV_SETS[spec], raw_dir, limit)
    if path.is_dir() and fmt == "auto" and path.name in DEV_FOLDERS:
        return _dev_set_source(DEV_SETS[DEV_FOLDERS[path.name]], path.parent, limit)
    if not exists:
        raise FileNotFoundError(f"--data {spec}: no such file or folder, and not a dev set name "
                                f"({', '.join(DEV_SETS)}).")  # fmt: skip
    return _path_source(spec, fmt, language, limit), {"name": spec}


def load_eval_data(
    specs: Sequence[str],
    format: str = "auto",
    *,
    data_dir=None,
    language: Optional[str] = None,
    limit: Optional[int] = None,
    seed: int = 0,
    skip: int = 0,
) -> tuple[list, list[dict]]:
    """Read every ``--data`` value into unified records (pooled, in order).

    Args:
        specs (Sequence[str]): dev set names, raw data folders, or files/folders/globs.
        format (str, optional): a reader name, or ``"auto"`` (detected per spec). Defaults to ``"auto"``.
        data_dir (str | Path, optional): the raw data folder for dev set names. Defaults to
            ``$TEXT_PRUNER_RAG_DATA`` (:func:`default_data_dir`); a dev set name without either raises.
        language (str, optional): ``"en"``, ``"ja"`` or ``"auto"`` for readers that take one.
        limit (int, optional): at most this many records (queries) **per spec**, the first ones
            after ``skip``.
        seed (int, optional): seed of readers that sample negatives. Defaults to 0.
        skip (int, optional): leave out the first ``skip`` records of each spec (e.g. the questions a
            model's threshold was calibrated on). Defaults to 0.

    Returns:
        tuple[list[Record], list[dict]]: the records, and one description per spec (``name``,
        ``path``, ``format``, ``options``, ``n_records``, ``license``, ``description``).

    Raises:
        FileNotFoundError: a spec that is neither a path nor a dev set name.
        ValueError: an unknown format, a format that cannot be detected, a missing reader.
        DataFormatError: malformed data.
    """
    from text_pruner_rag.data.preparation import SourceConfig, iter_source
    from text_pruner_rag.data.readers import LICENSE_NOTES

    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise ValueError(f"`skip` must be an int >= 0, got {skip!r}")
    raw_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    records, described = [], []
    for spec in specs:
        config, info = _resolve(str(spec), format, raw_dir, language, limit)
        source = SourceConfig.model_validate({**config, "skip": skip})
        read = list(iter_source(source, seed=seed))
        records.extend(read)
        described.append({**info, "path": config["path"], "format": source.format, "options": source.options,
                          "skipped_records": skip, "n_records": len(read),
                          "license": LICENSE_NOTES.get(source.format)})  # fmt: skip
    return records, described


def _calibration_root(data_dir: Union[str, os.PathLike]) -> Path:
    base = Path(data_dir)
    for candidate in (base, base / "raw", base / "data" / "raw"):
        if (candidate / "qed_nq").is_dir():
            return candidate
    raise FileNotFoundError(f"no raw data (qed_nq/, xquad_en/, jaquad/) under {base}")


def build_dev_sets(
    data_dir: Union[str, os.PathLike],
    *,
    qed_multi_sentence: Literal["answer", "skip", "all"] = "answer",
    jaquad_max_negatives: Optional[int] = 5,
    limit: Optional[int] = None,
) -> dict[str, list]:
    """The dev sets training calibrates its default threshold on and reports numbers for.

    Returns ``{"qed_dev": ..., "xquad_en": ..., "jaquad_dev": ...}`` (lists of
    :class:`~text_pruner_rag.data.records.Record`):

    * ``qed_dev``: ``qed_nq/qed-dev.jsonlines`` via :func:`~text_pruner_rag.data.readers.qed.read_qed`
      (one positive per record; filter on ``meta["explanation_type"] == "single_sentence"`` for the
      cleanest sentence labels);
    * ``xquad_en``: every paragraph of the article as passages (positive first, then the rest in
      article order), so gold-paragraph MRR can be computed;
    * ``jaquad_dev``: the question's paragraph plus up to ``jaquad_max_negatives`` other paragraphs of
      the article (seed 0).

    Args:
        data_dir: the raw data folder (holding ``qed_nq/``, ``xquad_en/``, ``jaquad/``), or a folder
            with it at ``raw/`` or ``data/raw/``.
        qed_multi_sentence: see :func:`~text_pruner_rag.data.readers.qed.read_qed`.
        jaquad_max_negatives: None keeps every paragraph of the article.
        limit: records per set (for quick tests).

    Raises:
        FileNotFoundError: no ``qed_nq/`` folder under ``data_dir``.
    """
    from .readers.qed import read_qed
    from .readers.squad import read_squad

    raw = _calibration_root(data_dir)
    return {
        "qed_dev": list(read_qed(raw / "qed_nq" / "qed-dev.jsonlines", multi_sentence=qed_multi_sentence,
                                 source="qed_dev", limit=limit)),
        "xquad_en": list(read_squad(raw / "xquad_en" / "xquad.en.json", "en", max_negatives=None,
                                    source="xquad_en", limit=limit)),
        "jaquad_dev": list(read_squad(raw / "jaquad" / "dev", "ja", max_negatives=jaquad_max_negatives,
                                      source="jaquad_dev", limit=limit)),
    }
