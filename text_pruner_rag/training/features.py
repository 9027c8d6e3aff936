"""From unified records to model inputs: query groups, token labels, padding.

Training windows are built by the inference encoder itself (:meth:`text_pruner_rag.encoding.WindowEncoder.encode`,
the code path :class:`~text_pruner_rag.pruner.TextPruner` runs), with the passage's sentence spans as the
sentences: same template (``[CLS] query [SEP] context [SEP]``), same token-to-sentence map, same packing of
whole sentences into windows. A training pair is the **first window** of the passage (the sentences that
fit whole in ``max_length``; a first sentence longer than a window is cut as at inference).

Token labels come from sentence labels through that map: a context token gets the label of the sentence
holding its first character; query, special and padding tokens, and context tokens outside every span
(gaps in OpenProvence spans), get -100 (ignored by the loss).

What a 0 means depends on :attr:`Passage.complete`: a *complete* passage (multi-sentence human labels,
all-zero negatives and unanswerable passages) says its 0 sentences are irrelevant; an *incomplete* one
(single-answer sources: only the answer sentence is known) says nothing about them. ``unknown`` picks how
the loss treats those unknown sentences (see :class:`GroupDataset`):

* ``"ignore"``: label -100, no loss;
* ``"soft"``: soft target ``unknown_target`` (probability of keep) with full weight;
* ``"downweight"``: target 0 with weight ``unknown_weight`` (1 = the old "everything else is irrelevant").

Each pair carries ``labels`` (hard: 1/0, -100 for ignored and unknown tokens), ``targets`` (keep
probability, float) and ``weights`` (loss weight per token, 0 where ignored); :class:`~.losses.PrunerLoss`
uses ``targets``/``weights``. For the sentence-level signals (``loss.pruning_unit: sentence`` and
``loss.sentence_ranking``) each pair also carries ``sentence_ids`` (the passage sentence of each token,
-1 for query, special tokens and tokens outside every span) and ``codes`` (the label code of each token's
sentence: 1 relevant, 0 irrelevant, 2 unknown, -100 outside); :func:`token_targets` turns codes into
``labels``/``targets``/``weights``. A passage with :attr:`Passage.sentence_teacher` scores also gives
``sentence_teacher`` (its sentence's teacher score per token, NaN outside every sentence), for
``loss.sentence_teacher_weight``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

from ..chunking import Sentence
from ..encoding import IGNORE_INDEX, QueryTemplate, WindowEncoder
from ..data.records import Passage, Record

__all__ = ["passage_sentences", "encode_passage", "token_targets", "sample_group", "GroupDataset",
           "GroupCollator", "IGNORE_INDEX", "UNKNOWN_TREATMENTS", "UNKNOWN_CODE"]

UNKNOWN_TREATMENTS = ("ignore", "soft", "downweight")
UNKNOWN_CODE = 2
"""Sentence-label code of an *unknown* sentence (incomplete passage, not marked relevant)."""
_UNKNOWN = UNKNOWN_CODE


def passage_sentences(passage: Passage) -> list[Sentence]:
    """The passage's spans as :class:`~text_pruner_rag.chunking.Sentence` objects (exact text slices)."""
    return [Sentence(passage.text[s:e], s, e) for s, e in passage.spans]


def encode_passage(
    encoder: WindowEncoder,
    template: QueryTemplate,
    passage: Passage,
    language: str = "en",
    *,
    unknown: Literal["ignore", "soft", "downweight"] = "ignore",
    unknown_target: float = 0.3,
    unknown_weight: float = 0.3,
) -> dict[str, list]:
    """The first inference window of one (query, passage) pair, with token labels.

    Args:
        encoder, template: the inference encoder and the query's template.
        passage: the passage; its spans are the sentences.
        language: ``"en"``/``"ja"`` (where an over-long sentence may be cut).
        unknown, unknown_target, unknown_weight: the treatment of unknown sentences (module docstring).

    Returns:
        dict: ``input_ids``, ``token_type_ids`` (when the tokenizer has them), ``labels`` (int, -100
        ignored), ``targets`` (float keep-probability targets), ``weights`` (float; 0 where ignored),
        ``sentence_ids``, ``codes`` and, when the passage has sentence teacher scores, ``sentence_teacher``
        (float, NaN outside every sentence), all of the window's length.

    Raises:
        ValueError: an unknown treatment.
    """
    if unknown not in UNKNOWN_TREATMENTS:
        raise ValueError(f"unknown must be one of {UNKNOWN_TREATMENTS}, got {unknown!r}")
    codes = [int(r) if passage.complete or r == 1 else _UNKNOWN for r in passage.relevance]
    window = encoder.encode(template, passage.text, passage_sentences(passage), language, sentence_labels=codes)[0]
    token_codes = [int(code) for code in window.labels]
    labels, targets, weights = token_targets(token_codes, unknown, unknown_target, unknown_weight)
    sentence_ids = [sid if code != IGNORE_INDEX else -1 for sid, code in zip(window.sentence_ids, token_codes)]
    features: dict[str, list] = {"input_ids": window.input_ids, "labels": labels, "targets": targets,
                                 "weights": weights, "sentence_ids": sentence_ids, "codes": token_codes}
    if passage.sentence_teacher is not None:
        features["sentence_teacher"] = [passage.sentence_teacher[sid] if sid >= 0 else math.nan for sid in sentence_ids]
    if window.token_type_ids is not None:
        features["token_type_ids"] = window.token_type_ids
    return features


def token_targets(
    codes: list[int],
    unknown: str = "ignore",
    unknown_target: float = 0.3,
    unknown_weight: float = 0.3,
) -> tuple[list[int], list[float], list[float]]:
    """Token labels, keep targets and weights from the label code of each token's sentence.

    Args:
        codes (list[int]): per token: 1 relevant, 0 irrelevant, :data:`UNKNOWN_CODE` unknown, -100 ignored.
        unknown, unknown_target, unknown_weight: the treatment of unknown sentences (module docstring).

    Returns:
        tuple: ``(labels, targets, weights)``, each as long as ``codes``: hard labels (-100 for ignored
        and unknown tokens), keep-probability targets in [0, 1], loss weights (0 where ignored).

    Raises:
        ValueError: an unknown treatment or a code outside {1, 0, 2, -100}.
    """
    if unknown not in UNKNOWN_TREATMENTS:
        raise ValueError(f"unknown must be one of {UNKNOWN_TREATMENTS}, got {unknown!r}")
    labels, targets, weights = [], [], []
    for code in codes:
        if code == _UNKNOWN:
            labels.append(IGNORE_INDEX)
            if unknown == "soft":
                targets.append(float(unknown_target)), weights.append(1.0)
            elif unknown == "downweight":
                targets.append(0.0), weights.append(float(unknown_weight))
            else:
                targets.append(0.0), weights.append(0.0)
        elif code == IGNORE_INDEX:
            labels.append(IGNORE_INDEX), targets.append(0.0), weights.append(0.0)
        elif code in (0, 1):
            labels.append(code), targets.append(float(code)), weights.append(1.0)
        else:
            raise ValueError(f"a token's sentence code must be 1, 0, {_UNKNOWN} or {IGNORE_INDEX}, got {code}")
    return labels, targets, weights


def sample_group(record: Record, items: int, max_positives: int, rng: random.Random) -> list[Passage]:
    """Positives first (at most ``max_positives``), then negatives sampled without replacement.

    Deterministic for a given ``rng`` state. Returns fewer than ``items`` passages when the record
    has fewer.
    """
    positives = [p for p in record.passages if p.label == 1]
    negatives = [p for p in record.passages if p.label == 0]
    chosen = positives[:max_positives] if len(positives) <= max_positives else rng.sample(positives, max_positives)
    room = max(0, items - len(chosen))
    chosen += negatives if len(negatives) <= room else rng.sample(negatives, room)
    return chosen[:items]


class GroupDataset(Dataset):
    """One item = one query group, tokenised on the fly.

    Args:
        records (list[Record]): unified records (negatives already mined).
        encoder (WindowEncoder): the inference encoder (same template and window size).
        items (int): passages per group. max_positives (int): positives per group.
        seed (int): sampling seed; group ``i`` uses ``Random(seed + i)`` (deterministic per seed).
        unknown (str): ``"ignore"``, ``"soft"`` or ``"downweight"``: the loss on sentences of incomplete
            passages that are not marked relevant (see the module docstring). Defaults to ``"ignore"``.
        unknown_target (float): soft keep target for ``"soft"``. unknown_weight (float): weight for
            ``"downweight"``.
    """

    def __init__(self, records: list[Record], encoder: WindowEncoder, items: int, max_positives: int = 1,
                 seed: int = 42, unknown: str = "ignore", unknown_target: float = 0.3,
                 unknown_weight: float = 0.3) -> None:
        if unknown not in UNKNOWN_TREATMENTS:
            raise ValueError(f"unknown must be one of {UNKNOWN_TREATMENTS}, got {unknown!r}")
        self.unknown, self.unknown_target, self.unknown_weight = unknown, unknown_target, unknown_weight
        self.records = records
        self.encoder = encoder
        self.items = items
        self.max_positives = max_positives
        self.seed = seed
        self._templates: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.records)

    def _template(self, query: str):
        if query not in self._templates:
            if len(self._templates) > 10000:
                self._templates.clear()
            self._templates[query] = self.encoder.template(query)
        return self._templates[query]

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        group = sample_group(record, self.items, self.max_positives, random.Random(self.seed + index))
        template = self._template(record.query)
        passages = [encode_passage(self.encoder, template, p, record.language, unknown=self.unknown,
                                   unknown_target=self.unknown_target, unknown_weight=self.unknown_weight)
                    for p in group]
        return {
            "passages": passages,
            "binary_labels": [float(p.label) for p in group],
            "teacher_scores": [p.teacher_score for p in group],
        }


@dataclass
class GroupCollator:
    """Flatten query groups into one padded batch of (query, passage) windows.

    Produces ``input_ids``/``attention_mask``/(``token_type_ids``) `(n_pairs, max_len)`,
    ``pruning_labels`` `(n_pairs, max_len)` with -100 ignored, ``pruning_targets`` and ``pruning_weights``
    `(n_pairs, max_len)` float (when the pairs carry ``targets``/``weights``; padding weight 0),
    ``sentence_ids`` `(n_pairs, max_len)` long (-1 outside every sentence and on padding) and
    ``sentence_codes`` `(n_pairs, max_len)` long (-100 outside and on padding) when the pairs carry
    ``sentence_ids``/``codes``, ``sentence_teacher`` `(n_pairs, max_len)` float (NaN where a token has
    no teacher score, on padding and for pairs without one) when any pair carries ``sentence_teacher``,
    ``binary_labels`` `(n_pairs,)`,
    ``teacher_scores`` `(n_pairs,)` and ``teacher_mask`` `(n_pairs,)` (1 where a teacher score exists).
    """

    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.pad_token_id is None:
            self.pad_token_id = 0

    def __call__(self, groups: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        pairs = [p for g in groups for p in g["passages"]]
        if not pairs:
            raise ValueError("a training batch holds no (query, passage) pair")
        width = max(len(p["input_ids"]) for p in pairs)
        n = len(pairs)
        batch = {
            "input_ids": torch.full((n, width), self.pad_token_id, dtype=torch.long),
            "attention_mask": torch.zeros((n, width), dtype=torch.long),
            "pruning_labels": torch.full((n, width), IGNORE_INDEX, dtype=torch.long),
        }
        has_soft = all("targets" in p and "weights" in p for p in pairs)
        if has_soft:
            batch["pruning_targets"] = torch.zeros((n, width), dtype=torch.float)
            batch["pruning_weights"] = torch.zeros((n, width), dtype=torch.float)
        has_sentences = all("sentence_ids" in p and "codes" in p for p in pairs)
        if has_sentences:
            batch["sentence_ids"] = torch.full((n, width), -1, dtype=torch.long)
            batch["sentence_codes"] = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
        has_teacher = any("sentence_teacher" in p for p in pairs)
        if has_teacher:
            batch["sentence_teacher"] = torch.full((n, width), math.nan, dtype=torch.float)
        has_types = "token_type_ids" in pairs[0]
        if has_types:
            batch["token_type_ids"] = torch.zeros((n, width), dtype=torch.long)
        for row, p in enumerate(pairs):
            length = len(p["input_ids"])
            batch["input_ids"][row, :length] = torch.tensor(p["input_ids"])
            batch["attention_mask"][row, :length] = 1
            batch["pruning_labels"][row, :length] = torch.tensor(p["labels"])
            if has_soft:
                batch["pruning_targets"][row, :length] = torch.tensor(p["targets"], dtype=torch.float)
                batch["pruning_weights"][row, :length] = torch.tensor(p["weights"], dtype=torch.float)
            if has_sentences:
                batch["sentence_ids"][row, :length] = torch.tensor(p["sentence_ids"])
                batch["sentence_codes"][row, :length] = torch.tensor(p["codes"])
            if has_teacher and "sentence_teacher" in p:
                batch["sentence_teacher"][row, :length] = torch.tensor(p["sentence_teacher"], dtype=torch.float)
            if has_types:
                batch["token_type_ids"][row, :length] = torch.tensor(p["token_type_ids"])
        teacher = [t for g in groups for t in g["teacher_scores"]]
        batch["binary_labels"] = torch.tensor([b for g in groups for b in g["binary_labels"]], dtype=torch.float)
        batch["teacher_scores"] = torch.tensor([0.0 if t is None else float(t) for t in teacher], dtype=torch.float)
        batch["teacher_mask"] = torch.tensor([0.0 if t is None else 1.0 for t in teacher], dtype=torch.float)
        return batch
