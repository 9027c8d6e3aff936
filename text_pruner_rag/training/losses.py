"""Joint loss: ranking distillation + token cross-entropy (Provence, Chirkova et al. 2025, §3).

``total = ranking_weight * L_rank + pruning_weight * L_prune`` (Provence defaults 0.05 and 1.0).

* ``L_rank``: where a pair has a teacher score, MSE between the model's *activated* reranking score
  (``sigmoid(logit)`` for ``ranking_activation="sigmoid"``, the raw logit for ``"none"``) and the
  teacher score; pairs without a teacher use BCE-with-logits on the binary passage label. Regressing
  the activated score (not the raw logit, as OpenProvence does) keeps inference scores on the
  teacher's scale; see provence-reference §1.1.
* ``L_prune``: token cross-entropy over context tokens (labels -100 ignored), averaged over tokens.
  When the batch carries ``pruning_targets`` (keep probability per token) and ``pruning_weights``
  (see :mod:`.features`: soft targets and down-weighted tokens for sentences whose label is unknown),
  it is the weighted soft cross-entropy ``sum(w * CE(t)) / sum(w)``, ``CE(t) = -(t log p_keep +
  (1 - t) log p_drop)``; with hard targets and unit weights that is exactly the plain token CE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .features import IGNORE_INDEX

__all__ = ["PrunerLoss"]


@dataclass
class PrunerLoss:
    """Callable loss; returns ``(total, {"ranking_loss": ..., "pruning_loss": ...})``.

    Args:
        ranking_weight (float): weight of the ranking term. Defaults to 0.05.
        pruning_weight (float): weight of the token term. Defaults to 1.0.
        ranking_loss (str): ``"auto"`` (MSE with teacher, BCE without), ``"mse"`` (teacher required),
            or ``"bce"`` (binary labels only).
        ranking_activation (str): the model's ``config.ranking_activation``.
    """

    ranking_weight: float = 0.05
    pruning_weight: float = 1.0
    ranking_loss: str = "auto"
    ranking_activation: str = "sigmoid"

    def __call__(self, ranking_logits: torch.Tensor, pruning_logits: torch.Tensor, batch: dict[str, torch.Tensor]):
        logits = ranking_logits[..., 0].float()
        pruning = self._pruning(pruning_logits.float(), batch)
        ranking = self._ranking(logits, batch)
        total = self.ranking_weight * ranking + self.pruning_weight * pruning
        return total, {"ranking_loss": ranking.detach(), "pruning_loss": pruning.detach()}

    @staticmethod
    def _pruning(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if "pruning_weights" in batch and "pruning_targets" in batch:
            weights = batch["pruning_weights"].to(logits.dtype)
            total_weight = weights.sum()
            if not bool(total_weight > 0):
                return logits.sum() * 0.0
            log_probs = F.log_softmax(logits, dim=-1)
            targets = batch["pruning_targets"].to(logits.dtype)
            per_token = -(targets * log_probs[..., 1] + (1 - targets) * log_probs[..., 0])
            return (weights * per_token).sum() / total_weight
        labels = batch["pruning_labels"]
        valid = labels != IGNORE_INDEX
        if valid.any():
            return F.cross_entropy(logits[valid], labels[valid])
        return logits.sum() * 0.0

    def _ranking(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        teacher_mask = batch["teacher_mask"].to(logits.dtype)
        binary = batch["binary_labels"].to(logits.dtype)
        if self.ranking_loss == "mse" and not bool(teacher_mask.all()):
            raise ValueError("ranking_loss='mse' needs a teacher score for every pair; configure `teacher`")
        use_teacher = teacher_mask if self.ranking_loss != "bce" else torch.zeros_like(teacher_mask)
        scores = torch.sigmoid(logits) if self.ranking_activation == "sigmoid" else logits
        mse = (scores - batch["teacher_scores"].to(logits.dtype)) ** 2
        bce = F.binary_cross_entropy_with_logits(logits, binary, reduction="none")
        per_pair = use_teacher * mse + (1 - use_teacher) * bce
        return per_pair.mean()
