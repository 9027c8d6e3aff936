"""Inference backends: how a batch of token windows becomes keep probabilities and reranking scores.

:class:`~text_pruner_rag.TextPruner` does everything else (sentence splitting, windows, scoring,
policy) itself; a backend only runs the model on padded batches. Two exist:

* ``"torch"`` (default): the :class:`~text_pruner_rag.modeling.TextPrunerModel` in PyTorch, on any device.
* ``"onnx"``: the same model exported with ``torch.onnx`` and run by ONNX Runtime on CPU, in float32
  or with int8 dynamic quantization (``quantize="int8"``); see :mod:`text_pruner_rag.backends.onnx`.
  Needs the ``onnx`` extra (``pip install "text-pruner-rag[onnx]"``).

The ONNX module is imported only when ``backend="onnx"`` is asked for.
"""

from __future__ import annotations

from typing import Optional, Protocol

import numpy as np

__all__ = ["BACKENDS", "QUANTIZATIONS", "BatchRunner", "check_backend"]

#: Values accepted by ``TextPruner.from_pretrained(backend=...)``.
BACKENDS: tuple[str, ...] = ("torch", "onnx")
#: Values accepted by ``TextPruner.from_pretrained(quantize=...)`` (only with ``backend="onnx"``).
QUANTIZATIONS: tuple[Optional[str], ...] = (None, "int8")


class BatchRunner(Protocol):
    """Runs the model on one padded batch of windows.

    Called with ``input_ids``, ``attention_mask`` (int64 arrays of shape ``(batch_size, sequence_length)``;
    mask 1 = real token, 0 = padding) and ``token_type_ids`` (same shape, or None when the tokenizer
    has none); returns ``(keep_probabilities, ranking_scores)``: float32 arrays of shapes
    ``(batch_size, sequence_length)`` and ``(batch_size,)``, the scores after the checkpoint's
    ranking activation.
    """

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: Optional[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]: ...


def check_backend(backend: object, quantize: object) -> None:
    """Validate a ``backend``/``quantize`` pair.

    Raises:
        ValueError: unknown backend or quantization, or ``quantize`` with the torch backend.
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {list(BACKENDS)}, got {backend!r}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of {list(QUANTIZATIONS)}, got {quantize!r}")
    if quantize is not None and backend != "onnx":
        raise ValueError(f"quantize={quantize!r} needs backend='onnx' (the torch backend runs the weights as loaded)")
