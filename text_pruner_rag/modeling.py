"""The pruner model: a transformers encoder with a ranking head and a token pruning head.

One forward pass over ``[CLS] query [SEP] context [SEP]`` windows gives

* ``ranking_logits`` of shape ``(batch_size, 1)``: the reranking logit of each window, and
* ``pruning_logits`` of shape ``(batch_size, sequence_length, 2)``: per-token logits whose softmax
  column 1 is the keep probability (column 0 = prune).

This is the Provence architecture (Chirkova et al., ICLR 2025, arXiv 2501.16214) as re-implemented
by OpenProvence (Y. Tateno, 2025). The ranking head is the backbone's own
sequence-classification head (``ranking_model``, any ``AutoModelForSequenceClassification``), or a
pooler + linear head for XProvence-style checkpoints; the pruning head is a dropout + ``Linear(H, 2)``
named ``pruning_head.classifier``. The tensor names match OpenProvence's release layout, so our
checkpoints keep the same keys.

The configuration records everything that decides inference (see :class:`TextPrunerConfig`).
"""

from __future__ import annotations

import copy
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import ModelOutput

from .policy import SENTENCE_ROUNDINGS, check_threshold

logger = logging.getLogger(__name__)

__all__ = ["TextPrunerConfig", "TextPrunerModel", "TextPrunerOutput", "PruningHead"]

RANKING_HEADS = ("sequence_classification", "pooler_linear")
RANKING_ACTIVATIONS = ("sigmoid", "none")
PRUNING_HEAD_INPUTS = ("hidden_states[-1]", "last_hidden_state")


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}, got {value!r}")


class TextPrunerConfig(PreTrainedConfig):
    """Configuration of a :class:`TextPrunerModel`.

    Args:
        base_model_config (dict): the backbone's full configuration (``PreTrainedConfig.to_dict()``,
            must contain ``model_type``), from which the backbone is rebuilt without network access.
        ranking_head (str, optional): ``"sequence_classification"`` (the backbone's own
            ``ForSequenceClassification`` head, as OpenProvence and naver Provence) or
            ``"pooler_linear"`` (backbone pooler output + ``Linear(H, 1)``, as XProvence).
            Defaults to ``"sequence_classification"``.
        ranking_activation (str, optional): how the ranking logit becomes the reranking score:
            ``"sigmoid"`` (OpenProvence and our checkpoints) or ``"none"`` (raw logit, naver Provence
            and XProvence). Defaults to ``"sigmoid"``.
        pruning_head_input (str, optional): which hidden state feeds the pruning head:
            ``"hidden_states[-1]"`` (last element of ``output_hidden_states``; for ModernBERT this is
            *before* the final norm, as OpenProvence) or ``"last_hidden_state"`` (the backbone's final
            output, as naver Provence). Identical for BERT, DeBERTa and XLM-R. Defaults to ``"hidden_states[-1]"``.
        sentence_rounding (str, optional): how token keep probabilities become a sentence decision:
            ``"token_mean"`` (keep iff the token-weighted mean keep probability > threshold; ours and
            OpenProvence) or ``"fraction_above_threshold"`` (keep iff the fraction of tokens with keep
            probability > threshold is itself > threshold; naver Provence). Defaults to ``"token_mean"``.
        max_length (int, optional): window size in tokens, query and special tokens included. Defaults to 512.
        default_threshold (float, optional): sentence keep threshold used when the caller gives none,
            a probability in ``[0, 1]``, normally calibrated on a dev set. Defaults to 0.1.
        pruning_dropout (float, optional): dropout before the pruning head (training only). Defaults to 0.0.
        source_format (str, optional): the checkpoint family this config was read from
            (``"text_pruner"``, ``"open_provence"``, ``"provence"``, ``"xprovence"``), informational.
        base_model_name_or_path (str, optional): where the backbone came from, informational.

    Raises:
        ValueError: an option outside its allowed values, or a ``base_model_config`` without ``model_type``.
    """

    model_type = "text_pruner"

    def __init__(
        self,
        base_model_config: Optional[dict] = None,
        ranking_head: str = "sequence_classification",
        ranking_activation: str = "sigmoid",
        pruning_head_input: str = "hidden_states[-1]",
        sentence_rounding: str = "token_mean",
        max_length: int = 512,
        default_threshold: float = 0.1,
        pruning_dropout: float = 0.0,
        source_format: str = "text_pruner",
        base_model_name_or_path: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        _check_choice("ranking_head", ranking_head, RANKING_HEADS)
        _check_choice("ranking_activation", ranking_activation, RANKING_ACTIVATIONS)
        _check_choice("pruning_head_input", pruning_head_input, PRUNING_HEAD_INPUTS)
        _check_choice("sentence_rounding", sentence_rounding, SENTENCE_ROUNDINGS)
        if base_model_config is not None and "model_type" not in base_model_config:
            raise ValueError("`base_model_config` must contain the backbone's `model_type`")
        default_threshold = check_threshold(default_threshold, "default_threshold")
        if int(max_length) < 8:
            raise ValueError(f"`max_length` must be at least 8 tokens, got {max_length}")
        self.base_model_config = dict(base_model_config) if base_model_config else None
        self.ranking_head = ranking_head
        self.ranking_activation = ranking_activation
        self.pruning_head_input = pruning_head_input
        self.sentence_rounding = sentence_rounding
        self.max_length = int(max_length)
        self.default_threshold = float(default_threshold)
        self.pruning_dropout = float(pruning_dropout)
        self.source_format = source_format
        self.base_model_name_or_path = base_model_name_or_path
        super().__init__(**kwargs)

    def _get_generation_parameters(self) -> dict[str, Any]:
        # `max_length` is our window size, not a generation setting: this model never generates.
        params = super()._get_generation_parameters()
        params.pop("max_length", None)
        return params

    def get_backbone_config(self) -> PreTrainedConfig:
        """Rebuild the backbone configuration (one ranking label) from ``base_model_config``.

        Raises:
            ValueError: ``base_model_config`` is missing or names an unknown ``model_type``.
        """
        if not self.base_model_config:
            raise ValueError("TextPrunerConfig has no `base_model_config`; cannot build the backbone")
        values = copy.deepcopy(self.base_model_config)
        model_type = values.pop("model_type")
        for key in ("id2label", "label2id", "num_labels", "architectures", "transformers_version",
                    "problem_type", "_name_or_path", "auto_map"):
            values.pop(key, None)
        try:
            config = AutoConfig.for_model(model_type, **values)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"unknown backbone model_type {model_type!r} in base_model_config") from exc
        config.num_labels = 1
        # transformers >= 5 overwrites `hidden_states[-1]` with `last_hidden_state` (for ModernBERT:
        # *after* the final norm) unless the config opts out. OpenProvence's pruning head was trained
        # on the last layer's output *before* the final norm (transformers 4.x behaviour); naver
        # Provence's on the final output. Either way the pruning head reads `hidden_states[-1]` of
        # the forward call itself (no state kept on the model, so concurrent calls are safe).
        config.tie_last_hidden_states = self.pruning_head_input == "last_hidden_state"
        return config


@dataclass
class TextPrunerOutput(ModelOutput):
    """Output of :class:`TextPrunerModel`.

    Attributes:
        ranking_logits (`torch.FloatTensor` of shape `(batch_size, 1)`): reranking logit per window
            (before ``config.ranking_activation``).
        pruning_logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, 2)`): per-token
            logits; ``softmax(-1)[..., 1]`` is the keep probability.
    """

    ranking_logits: Optional[torch.FloatTensor] = None
    pruning_logits: Optional[torch.FloatTensor] = None


class PruningHead(nn.Module):
    """Dropout + ``Linear(hidden_size, 2)`` over every token state (OpenProvence/Provence layout)."""

    def __init__(self, hidden_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, 2)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(hidden_states))


class PoolerLinearRanker(nn.Module):
    """Backbone with its pooler (``pooler_output``) + dropout + ``Linear(H, 1)`` (XProvence layout).

    The backbone is stored under its own ``base_model_prefix`` (``roberta`` for XLM-R) so the state
    dict keys are ``<prefix>.*`` and ``classifier.*``, as in the public XProvence checkpoints.
    """

    def __init__(self, config: PreTrainedConfig) -> None:
        super().__init__()
        try:
            backbone = AutoModel.from_config(config, add_pooling_layer=True)
        except TypeError:
            backbone = AutoModel.from_config(config)
        self.prefix = backbone.base_model_prefix or "backbone"
        setattr(self, self.prefix, backbone)
        dropout = getattr(config, "classifier_dropout", None) or getattr(config, "hidden_dropout_prob", 0.0)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.config = config

    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.prefix)

    def forward(self, **inputs: Any) -> SequenceClassifierOutput:
        outputs = self.base_model(**inputs)
        pooled = outputs.pooler_output
        if pooled is None:
            pooled = outputs.last_hidden_state[:, 0]
        logits = self.classifier(self.dropout(pooled))
        return SequenceClassifierOutput(logits=logits, hidden_states=outputs.hidden_states)


class TextPrunerModel(PreTrainedModel):
    """Cross-encoder with a ranking head and a token pruning head (Provence architecture).

    Example:
        >>> config = TextPrunerConfig(base_model_config=bert_config.to_dict())
        >>> model = TextPrunerModel(config)
        >>> out = model(input_ids=ids, attention_mask=mask)
        >>> out.ranking_logits.shape, out.pruning_logits.shape
        (torch.Size([2, 1]), torch.Size([2, 7, 2]))
    """

    config_class = TextPrunerConfig
    base_model_prefix = "ranking_model"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: TextPrunerConfig) -> None:
        super().__init__(config)
        backbone_config = config.get_backbone_config()
        if config.ranking_head == "pooler_linear":
            self.ranking_model = PoolerLinearRanker(backbone_config)
        else:
            self.ranking_model = AutoModelForSequenceClassification.from_config(backbone_config)
        self.pruning_head = PruningHead(backbone_config.hidden_size, config.pruning_dropout)
        forward_params = inspect.signature(self.ranking_model.forward).parameters
        self._accepts_token_type_ids = "token_type_ids" in forward_params or "kwargs" in forward_params
        self.post_init()

    @property
    def backbone_config(self) -> PreTrainedConfig:
        return self.ranking_model.config

    def _init_weights(self, module: nn.Module) -> None:
        if module is self.__dict__.get("_modules", {}).get("pruning_head"):
            return
        if isinstance(module, PruningHead):
            nn.init.xavier_uniform_(module.classifier.weight)
            nn.init.zeros_(module.classifier.bias)
            return
        ranking_model = self.__dict__.get("_modules", {}).get("ranking_model")
        if isinstance(ranking_model, PreTrainedModel):
            ranking_model._init_weights(module)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        **kwargs: Any,
    ) -> TextPrunerOutput:
        """Run the backbone once and both heads.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): window token ids.
            attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, optional).
            token_type_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, optional):
                passed on only to backbones that take them (not ModernBERT).

        Returns:
            TextPrunerOutput: ``ranking_logits`` `(batch_size, 1)` and ``pruning_logits``
            `(batch_size, sequence_length, 2)`.
        """
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self._accepts_token_type_ids:
            inputs["token_type_ids"] = token_type_ids
        outputs = self.ranking_model(**inputs, output_hidden_states=True, return_dict=True)
        # `hidden_states[-1]` is the state `config.pruning_head_input` names: the backbone config ties
        # it to `last_hidden_state` or not (see TextPrunerConfig.get_backbone_config). It belongs to
        # this call only, so one model can serve many threads at once.
        hidden = outputs.hidden_states[-1]
        head_dtype = self.pruning_head.classifier.weight.dtype
        pruning_logits = self.pruning_head(hidden.to(head_dtype))
        return TextPrunerOutput(ranking_logits=outputs.logits, pruning_logits=pruning_logits)

    def ranking_scores(self, ranking_logits: torch.Tensor) -> torch.Tensor:
        """Reranking scores `(batch_size,)` in float32 from ``ranking_logits`` `(batch_size, 1)`."""
        logits = ranking_logits[..., 0].float()
        return torch.sigmoid(logits) if self.config.ranking_activation == "sigmoid" else logits

    @staticmethod
    def keep_probabilities(pruning_logits: torch.Tensor) -> torch.Tensor:
        """Keep probabilities `(batch_size, sequence_length)` in float32 from ``pruning_logits``."""
        return torch.softmax(pruning_logits.float(), dim=-1)[..., 1]

    @classmethod
    def from_backbone(
        cls,
        backbone_name_or_path: str,
        *,
        max_length: int = 512,
        default_threshold: float = 0.1,
        pruning_dropout: float = 0.0,
        **backbone_kwargs: Any,
    ) -> "TextPrunerModel":
        """Start a pruner from a pretrained encoder or reranker (new heads initialised at random).

        Args:
            backbone_name_or_path (str): a local folder or hub id of any encoder
                (BERT, XLM-RoBERTa, ModernBERT, DeBERTa-v2, ...) or sequence-classification reranker.
            max_length (int): window size in tokens. Defaults to 512.
            default_threshold (float): initial sentence keep threshold. Defaults to 0.1.
            pruning_dropout (float): dropout before the pruning head. Defaults to 0.0.
            **backbone_kwargs: passed to ``AutoModelForSequenceClassification.from_pretrained``
                (for example ``attention_probs_dropout_prob=0.0``).
        """
        pretrained = AutoModelForSequenceClassification.from_pretrained(
            backbone_name_or_path, num_labels=1, **backbone_kwargs
        )
        config = TextPrunerConfig(
            base_model_config=pretrained.config.to_dict(),
            max_length=max_length,
            default_threshold=default_threshold,
            pruning_dropout=pruning_dropout,
            base_model_name_or_path=str(backbone_name_or_path),
        )
        model = cls(config)
        model.ranking_model.load_state_dict(pretrained.state_dict())
        return model


AutoConfig.register(TextPrunerConfig.model_type, TextPrunerConfig, exist_ok=True)
AutoModel.register(TextPrunerConfig, TextPrunerModel, exist_ok=True)
