"""`PrunerTrainer`: the transformers ``Trainer`` with our joint loss (only ``compute_loss`` changes).

bf16/fp16, gradient accumulation, gradient checkpointing, checkpoint resume and multi-GPU
(``torchrun`` / ``accelerate launch``) all come from ``Trainer``. Loss components are averaged over
each logging interval and logged as ``ranking_loss`` and ``pruning_loss``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from transformers import Trainer

from .losses import PrunerLoss

__all__ = ["PrunerTrainer"]

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class PrunerTrainer(Trainer):
    """``Trainer`` whose loss is :class:`~text_pruner_rag.training.losses.PrunerLoss`.

    Args:
        loss (PrunerLoss): the joint loss.
        *args, **kwargs: passed to ``transformers.Trainer`` (use ``remove_unused_columns=False``).
    """

    def __init__(self, *args: Any, loss: PrunerLoss, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss = loss
        self._components: dict[str, list[float]] = {}

    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch: Optional[int] = None):
        model_inputs = {k: inputs[k] for k in _MODEL_INPUTS if k in inputs}
        outputs = model(**model_inputs)
        total, parts = self.loss(outputs.ranking_logits, outputs.pruning_logits, inputs)
        if model.training:
            for name, value in parts.items():
                self._components.setdefault(name, []).append(float(value))
        return (total, outputs) if return_outputs else total

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self._components:
            for name, values in self._components.items():
                logs[name] = round(sum(values) / max(1, len(values)), 5)
            self._components = {}
        super().log(logs, *args, **kwargs)
