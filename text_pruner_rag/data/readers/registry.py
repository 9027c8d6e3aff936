"""The reader registry: format name -> reader function, and the license note of each format.

A **reader** turns one raw data format into unified :class:`~text_pruner_rag.data.records.Record`
objects. Its contract (what :func:`~text_pruner_rag.data.preparation.iter_source` relies on):

* first positional parameter: the path(s) (file, glob, directory, or a list of those; a hub name
  where the format allows it);
* keyword parameters ``limit``, ``on_error`` (``"raise"`` | ``"skip"``) and ``stats``
  (:class:`~text_pruner_rag.data.records.ReadStats`), which the caller controls;
* optional keyword parameters ``source`` (the value of ``Record.source``), ``language`` (for formats
  that are not English-only; ``"en"``, ``"ja"`` or ``"auto"``) and ``seed`` (for formats that sample),
  filled from the source config; every other keyword parameter is a format option
  (``options:`` in YAML);
* it returns an iterator of records, built with :func:`~text_pruner_rag.data.records.convert_items`,
  so malformed units raise :class:`~text_pruner_rag.data.records.DataFormatError` located as
  ``"{file}:{line}: "`` or are skipped and counted.

**Adding a format**: write ``text_pruner_rag/data/readers/<family>.py`` with ``read_<format>``
(its docstring gives the labelling rule and the data's license), using the helpers of
:mod:`~text_pruner_rag.data.readers.common`; add one :func:`register_reader` line at the end
of this module (the format name becomes valid in ``sources: - format: <name>``), a lazy export in
``readers/__init__.py``, and tests in ``tests/training/test_readers.py``. Code outside the package can
call :func:`register_reader` too.
"""

from __future__ import annotations

from typing import Callable, Iterator

from ..records import Record, read_jsonl
from .multihop import read_hotpotqa, read_musique
from .nq_open import read_nq_open_oracle
from .openprovence import read_openprovence, read_openprovence_eval
from .qed import read_qed
from .cast import read_cast_answerability
from .eraser import read_fever_eraser, read_multirc_eraser
from .selqa import read_selqa
from .squad import read_squad, read_squad2
from .wikiqa import read_wikiqa

__all__ = ["LICENSE_NOTES", "PERMISSIVE_FORMATS", "READERS", "Reader", "register_reader"]

Reader = Callable[..., Iterator[Record]]

READERS: dict[str, Reader] = {}
"""Format name (``SourceConfig.format``) -> reader function."""

LICENSE_NOTES: dict[str, str] = {}
"""Format name -> license/attribution note, written by ``prepare`` next to its output."""


def register_reader(format: str, reader: Reader, license: str, *, replace: bool = False) -> None:
    """Make ``reader`` available as ``format`` in source configs, with its license note.

    Args:
        format (str): the name used in ``sources: - format: <name>``.
        reader (Callable): a reader following the contract in the module docstring.
        license (str): license/attribution of the data this format carries (shipped with derived files).
        replace (bool, optional): allow replacing an existing format. Defaults to False.

    Raises:
        ValueError: ``format`` is empty or already registered (without ``replace=True``), or
            ``license`` is empty.
    """
    if not isinstance(format, str) or not format.strip():
        raise ValueError(f"format must be a non-empty string, got {format!r}")
    if format in READERS and not replace:
        raise ValueError(f"format {format!r} is already registered; pass replace=True to replace it")
    if not isinstance(license, str) or not license.strip():
        raise ValueError(f"format {format!r}: a license note is required")
    READERS[format] = reader
    LICENSE_NOTES[format] = license


register_reader(
    "openprovence",
    read_openprovence,
    "OpenProvence context-relevance datasets (hotchpotch/*-context-relevance): license of the"
    " underlying corpus applies (see each dataset card); relevance flags from an LLM, teacher scores from a reranker.",
)
register_reader(
    "openprovence_eval",
    read_openprovence_eval,
    "Sentence-labelled {query, contexts, labels} rows (OpenProvence's eval/sample format): license of the file"
    " read (OpenProvence's sample files: Apache-2.0 repository, LLM-written texts).",
)
register_reader(
    "squad",
    read_squad,
    "SQuAD-format data. JaQuAD: CC BY-SA 3.0 (SkelterLabsInc/JaQuAD); XQuAD: CC BY-SA 4.0"
    " (google-deepmind/xquad); SQuAD: CC BY-SA 4.0; JSQuAD: CC BY-SA 4.0. Wikipedia-derived.",
)
register_reader(
    "qed",
    read_qed,
    "QED (google-research-datasets/QED) over Natural Questions: Wikipedia text, CC BY-SA 3.0 / GFDL;"
    " NQ is CC BY-SA 3.0.",
)
register_reader(
    "nq_open_oracle",
    read_nq_open_oracle,
    "NQ-open oracle passages from nelson-liu/lost-in-the-middle (code MIT): NQ questions and"
    " NQ-annotated Wikipedia passages, CC BY-SA 3.0.",
)
register_reader(
    "hotpotqa",
    read_hotpotqa,
    "HotpotQA (hotpotqa.github.io), CC BY-SA 4.0; subset file from OSU-NLP-Group/HippoRAG (MIT).",
)
register_reader(
    "musique",
    read_musique,
    "MuSiQue (StonyBrookNLP/musique), CC BY 4.0; subset file from OSU-NLP-Group/HippoRAG (MIT).",
)
register_reader(
    "jsonl",
    read_jsonl,
    "Unified JSONL written by text_pruner_rag.training.preparation.prepare: see its .meta.json for the sources.",
)
register_reader(
    "cast_answerability",
    read_cast_answerability,
    "CAsT answerability (iai-group/answerability-prediction; Lajewska & Balog, ECIR 2024; "
    "snippets from iai-group/CAsT-snippets): no license file; passages from the TREC CAsT 2020/2022 collections "
    "(MS MARCO, KILT Wikipedia, Washington Post). RESEARCH DATA: a model trained on it must say so.",
)
register_reader(
    "fever_eraser",
    read_fever_eraser,
    "FEVER (Thorne et al., 2018) in the ERASER format (DeYoung et al., 2020): Wikipedia, CC BY-SA 3.0.",
)
register_reader(
    "multirc_eraser",
    read_multirc_eraser,
    "MultiRC (Khashabi et al., NAACL 2018) in the ERASER format: research data, no license file. "
    "RESEARCH DATA: a model trained on it must say so.",
)
register_reader(
    "wikiqa",
    read_wikiqa,
    "WikiQA (Yang et al., EMNLP 2015): Microsoft Research Data License Agreement (non-commercial research). "
    "RESEARCH DATA: a model trained on it must say so.",
)
register_reader(
    "squad2",
    read_squad2,
    "SQuAD 2.0 (Rajpurkar et al., ACL 2018), CC BY-SA 4.0; Wikipedia-derived.",
)
register_reader(
    "selqa",
    read_selqa,
    "SelQA (emorynlp/selqa; Jurczyk et al., 2016), Apache-2.0; Wikipedia-derived sentences.",
)

#: Formats whose data license lets a shipped model be trained on them with attribution only (see each
#: reader's license note above); cast_answerability, multirc_eraser and wikiqa are research data.
PERMISSIVE_FORMATS = ("squad", "qed", "nq_open_oracle", "hotpotqa", "musique", "fever_eraser", "squad2", "selqa")
