"""From unified records to model inputs: query groups, token labels, padding.

Token labels come from sentence labels through the tokenizer's offset mapping, exactly: a context
token gets the relevance (0/1) of the sentence span holding its first character; query, special and
padding tokens, and context tokens outside every span (gaps in OpenProvence spans), get -100 (ignored
by the loss). Training inputs are the first window of each passage, built by the same
:class:`~text_pruner_rag.encoding.WindowEncoder` template as inference (``[CLS] query [SEP] context
[SEP]``); context tokens beyond the window are truncated (as in Provence and OpenProvence training).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from torch.utils.data import Dataset

from ..encoding import WindowEncoder
from ..records import Passage, Record

__all__ = ["token_labels", "encode_passage", "sample_group", "GroupDataset", "GroupCollator", "IGNORE_INDEX"]

IGNORE_INDEX = -100


def token_labels(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]],
                 relevance: Sequence[int]) -> list[int]:
    """Label each context token with its sentence's relevance.

    Args:
        offsets: character ``(start, end)`` of each context token (tokenizer offset mapping).
        spans: character ``[start, end)`` of each sentence, sorted, non-overlapping.
        relevance: 0/1 per span.

    Returns:
        list[int]: one label per token: the relevance of the span holding the token's first
        character, or -100 when no span holds it.
    """
    starts = [s for s, _ in spans]
    labels = []
    for token_start, token_end in offsets:
        i = bisect.bisect_right(starts, token_start) - 1
        inside = i >= 0 and token_start < spans[i][1] and token_end > token_start
        labels.append(int(relevance[i]) if inside else IGNORE_INDEX)
    return labels


def encode_passage(encoder: WindowEncoder, template, passage: Passage) -> dict[str, list[int]]:
    """Tokenise one passage after the query template; first window only.

    Returns:
        dict: ``input_ids``, ``token_type_ids`` (or absent), ``labels`` (same length; -100 outside context).
    """
    enc = encoder.tokenizer(passage.text, add_special_tokens=False, return_offsets_mapping=True,
                            truncation=False, verbose=False)
    capacity = encoder.capacity(template)
    ids = list(enc["input_ids"])[:capacity]
    offsets = list(enc["offset_mapping"])[:capacity]
    labels = token_labels(offsets, passage.spans, passage.relevance)
    features = {
        "input_ids": template.prefix_ids + ids + template.suffix_ids,
        "labels": [IGNORE_INDEX] * len(template.prefix_ids) + labels + [IGNORE_INDEX] * len(template.suffix_ids),
    }
    if template.prefix_type_ids is not None:
        features["token_type_ids"] = (template.prefix_type_ids + [template.context_type_id] * len(ids)
                                      + (template.suffix_type_ids or []))
    return features


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
    """

    def __init__(self, records: list[Record], encoder: WindowEncoder, items: int, max_positives: int = 1,
                 seed: int = 42) -> None:
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
        passages = [encode_passage(self.encoder, template, p) for p in group]
        return {
            "passages": passages,
            "binary_labels": [float(p.label) for p in group],
            "teacher_scores": [p.teacher_score for p in group],
        }


@dataclass
class GroupCollator:
    """Flatten query groups into one padded batch of (query, passage) windows.

    Produces ``input_ids``/``attention_mask``/(``token_type_ids``) `(n_pairs, max_len)`,
    ``pruning_labels`` `(n_pairs, max_len)` with -100 ignored, ``binary_labels`` `(n_pairs,)`,
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
        has_types = "token_type_ids" in pairs[0]
        if has_types:
            batch["token_type_ids"] = torch.zeros((n, width), dtype=torch.long)
        for row, p in enumerate(pairs):
            length = len(p["input_ids"])
            batch["input_ids"][row, :length] = torch.tensor(p["input_ids"])
            batch["attention_mask"][row, :length] = 1
            batch["pruning_labels"][row, :length] = torch.tensor(p["labels"])
            if has_types:
                batch["token_type_ids"][row, :length] = torch.tensor(p["token_type_ids"])
        teacher = [t for g in groups for t in g["teacher_scores"]]
        batch["binary_labels"] = torch.tensor([b for g in groups for b in g["binary_labels"]], dtype=torch.float)
        batch["teacher_scores"] = torch.tensor([0.0 if t is None else float(t) for t in teacher], dtype=torch.float)
        batch["teacher_mask"] = torch.tensor([0.0 if t is None else 1.0 for t in teacher], dtype=torch.float)
        return batch
