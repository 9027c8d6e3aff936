"""The dev sets used for threshold calibration and reported numbers, built from the shared raw data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ..records import Record
from .readers.qed import read_qed
from .readers.squad import read_squad

__all__ = ["build_dev_sets"]


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

    * ``qed_dev``: ``qed_nq/qed-dev.jsonlines`` via :func:`~text_pruner_rag.training.readers.qed.read_qed` (one positive per record; filter
      on ``meta["explanation_type"] == "single_sentence"`` for the cleanest sentence labels);
    * ``xquad_en``: every paragraph of the article as passages (positive first, then the rest in
      article order), so gold-paragraph MRR can be computed;
    * ``jaquad_dev``: the question's paragraph plus up to ``jaquad_max_negatives`` other paragraphs of
      the article (seed 0).

    Args:
        shared_data_dir: ``../shared``, ``../shared/data`` or ``../shared/data/raw``.
        qed_multi_sentence: see :func:`~text_pruner_rag.training.readers.qed.read_qed`.
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
