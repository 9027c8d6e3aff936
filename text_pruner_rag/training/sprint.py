"""GPU sprint: fine-tune an existing pruner for a few minutes on a borrowed GPU, moving little data.

Three commands (``python -m text_pruner_rag.training sprint-pack|sprint-train|sprint-unpack``):

1. ``sprint-pack RECIPE.yaml PACK.safetensors`` (CPU machine): prepares the recipe's data as usual
   (readers, mined negatives, teacher scores) and stores **pre-tokenized** training and dev windows,
   built by the inference encoder exactly as :mod:`.features` builds them, in one safetensors file of
   at most ``--max-mib`` MiB (default 64): per token the input id, token type, sentence id and the
   sentence's label code; per window its query group, passage label and teacher score. The recipe's
   ``loss`` section travels in the file's metadata, so the GPU side needs neither data nor readers.
   The recipe must start from a pruner checkpoint (``model.init_from``): the sprint fine-tunes it.
2. ``sprint-train PACK.safetensors OUT_DIR`` (GPU, or CPU for a check): loads the base checkpoint,
   freezes the embeddings, trains for at most ``--minutes`` (wall clock, checked after each step) or
   ``--max-steps`` with bf16 autocast on CUDA (float32 on CPU), evaluates on the dev windows before and
   after, and writes every trainable weight (encoder layers, pooler, heads) as float16 safetensors
   shards of at most 16 MiB each, with ``sprint.json`` holding their SHA-256 hashes, the base's hash and
   the dev figures. The whole output is refused above 64 MiB.
3. ``sprint-unpack OUT_DIR CHECKPOINT_DIR --base BASE`` (CPU machine): checks every hash, merges the
   shards into the base checkpoint (same key names and shapes, cast to the base's dtype) and writes a
   checkpoint that ``TextPruner.from_pretrained`` loads.

Dev figures (:func:`dev_figures`), over the dev windows: ``loss`` (the recipe's loss), ``passage_mrr``
(reranking within each query group), ``sentence_pair_accuracy`` (share of (relevant, other) sentence
pairs of one window that the sentence mean keep probabilities order correctly; unknown sentences
count as "other"), and at the model's default threshold ``sentence_recall`` (relevant sentences kept)
and ``sentences_removed`` (share of the positive windows' sentences removed), both fractions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Optional

import torch

from ..encoding import IGNORE_INDEX
from .features import GroupDataset, token_targets
from .losses import PrunerLoss, sentence_means

logger = logging.getLogger(__name__)

__all__ = ["pack", "train_sprint", "unpack", "dev_figures", "write_shards", "read_shards", "main"]

PACK_FORMAT = "text-pruner-sprint-pack/1"
MIB = 1024 * 1024
_TOKEN_FIELDS = {"input_ids": torch.int32, "token_type_ids": torch.int8, "sentence_ids": torch.int16,
                 "codes": torch.int8}
_BYTES_PER_TOKEN = 8


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _base_hash(base: str) -> Optional[str]:
    from .run import resolve_model_path

    weights = Path(resolve_model_path(base)) / "model.safetensors"
    return sha256(weights) if weights.is_file() else None


# ------------------------------------------------------------------------------------------------ pack


def _encode_split(dataset: GroupDataset, budget_bytes: int) -> tuple[dict[str, torch.Tensor], int]:
    """Flatten the dataset's groups into token arrays until ``budget_bytes`` is reached."""
    columns: dict[str, list] = {name: [] for name in _TOKEN_FIELDS}
    offsets, groups, binary, teacher = [0], [], [], []
    used, kept = 0, 0
    for index in range(len(dataset)):
        item = dataset[index]
        size = sum(len(p["input_ids"]) for p in item["passages"]) * _BYTES_PER_TOKEN + 16 * len(item["passages"])
        if used + size > budget_bytes:
            break
        used += size
        for passage, label, score in zip(item["passages"], item["binary_labels"], item["teacher_scores"]):
            length = len(passage["input_ids"])
            for name in _TOKEN_FIELDS:
                columns[name].extend(passage.get(name, [0] * length))
            offsets.append(offsets[-1] + length)
            groups.append(kept), binary.append(label), teacher.append(math.nan if score is None else score)
        kept += 1
    tensors = {name: torch.tensor(values, dtype=_TOKEN_FIELDS[name]) for name, values in columns.items()}
    tensors.update(offsets=torch.tensor(offsets, dtype=torch.int64), group=torch.tensor(groups, dtype=torch.int32),
                   binary=torch.tensor(binary, dtype=torch.float32), teacher=torch.tensor(teacher, dtype=torch.float32))
    return tensors, kept


def pack(config, out: Path, *, max_mib: float = 64.0, dev_fraction: float = 0.1) -> dict[str, Any]:
    """Write the pre-tokenized training and dev windows of a recipe to one safetensors file.

    Args:
        config (TrainConfig): the recipe; ``model.init_from`` (the pruner to fine-tune) is required.
        out (Path): the pack file.
        max_mib (float): size limit of the file, in MiB. Defaults to 64.
        dev_fraction (float): share of the budget given to dev windows, in (0, 1). Defaults to 0.1.

    Returns:
        dict: the pack's metadata (groups and windows per split, size in bytes).

    Raises:
        ValueError: no ``model.init_from``, no training group fits, a bad ``dev_fraction``, or a recipe with
            a sentence teacher (not carried by a pack).
    """
    from safetensors.torch import save_file

    from ..encoding import WindowEncoder
    from .run import _load_tokenizer, _mined, prepare_data, resolve_model_path
    from .teacher import attach_teacher_scores

    if not config.model.init_from:
        raise ValueError("sprint-pack fine-tunes an existing pruner: set model.init_from in the recipe")
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
    if config.loss.sentence_teacher_weight > 0:
        raise ValueError("a sprint pack carries no sentence teacher scores: set loss.sentence_teacher_weight=0 "
                         "(and remove teacher.sentence_model) for the sprint, or train the recipe on this machine")
    train_records, dev_records = prepare_data(config)
    train_records = _mined(config, train_records, dry_run=False)
    if config.teacher.model:
        cache = config.teacher.cache_dir or Path(config.output.dir) / "teacher_cache"
        train_records = attach_teacher_scores(train_records, config.teacher.model, cache, config.teacher.batch_size,
                                              config.teacher.languages)
    tokenizer = _load_tokenizer(resolve_model_path(config.model.init_from))
    encoder = WindowEncoder(tokenizer, config.model.max_length)
    budget = int(max_mib * MIB) - 64 * 1024  # room for the header
    dev_budget = int(budget * dev_fraction) if dev_records else 0
    tensors, meta = {}, {}
    for split, records, room in (("dev", dev_records, dev_budget), ("train", train_records, None)):
        if not records:
            continue
        room = budget - sum(t.numel() * t.element_size() for t in tensors.values()) if room is None else room
        dataset = GroupDataset(records, encoder, config.data.items, config.data.max_positives, config.data.seed)
        columns, groups = _encode_split(dataset, room)
        tensors.update({f"{split}.{name}": value for name, value in columns.items()})
        meta[f"{split}_groups"], meta[f"{split}_windows"] = groups, int(columns["group"].numel())
    if not meta.get("train_groups"):
        raise ValueError("no training group fits in the pack: raise max_mib or lower model.max_length")
    meta.update(format=PACK_FORMAT, base=config.model.init_from, base_sha256=_base_hash(config.model.init_from),
                max_length=config.model.max_length, pad_token_id=int(tokenizer.pad_token_id or 0),
                has_token_types=encoder.template("q").prefix_type_ids is not None,
                loss=config.loss.model_dump(), seed=config.data.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"sprint": json.dumps(meta)})
    meta["bytes"] = out.stat().st_size
    if meta["bytes"] > max_mib * MIB:
        raise ValueError(f"{out} is {meta['bytes'] / MIB:.1f} MiB, over the {max_mib} MiB limit")
    return meta


def read_pack(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The pack's metadata and tensors.

    Raises:
        ValueError: not a sprint pack.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        raw = (handle.metadata() or {}).get("sprint")
    if raw is None or json.loads(raw).get("format") != PACK_FORMAT:
        raise ValueError(f"{path} is not a sprint pack ({PACK_FORMAT})")
    return json.loads(raw), load_file(str(path))


# ------------------------------------------------------------------------------------------------ batches


def _windows(tensors: dict[str, torch.Tensor], split: str, loss_settings: dict[str, Any]) -> list[list[dict]]:
    """The split's query groups: lists of window dicts (token lists), targets from the recipe's loss settings."""
    offsets = tensors[f"{split}.offsets"].tolist()
    groups: dict[int, list[dict]] = {}
    columns = {name: tensors[f"{split}.{name}"].tolist() for name in _TOKEN_FIELDS}
    for row, group in enumerate(tensors[f"{split}.group"].tolist()):
        start, end = offsets[row], offsets[row + 1]
        window = {name: columns[name][start:end] for name in _TOKEN_FIELDS}
        window["labels"], window["targets"], window["weights"] = token_targets(
            window["codes"], loss_settings["unknown"], loss_settings["unknown_target"], loss_settings["unknown_weight"])
        teacher = float(tensors[f"{split}.teacher"][row])
        window["binary"] = float(tensors[f"{split}.binary"][row])
        window["teacher"] = None if math.isnan(teacher) else teacher
        groups.setdefault(group, []).append(window)
    return [groups[key] for key in sorted(groups)]


def _collate(groups: list[list[dict]], pad_token_id: int, token_types: bool, device) -> dict[str, torch.Tensor]:
    from .features import GroupCollator

    skip = {"binary", "teacher"} | (set() if token_types else {"token_type_ids"})
    items = [{"passages": [{k: v for k, v in w.items() if k not in skip} for w in g],
              "binary_labels": [w["binary"] for w in g], "teacher_scores": [w["teacher"] for w in g]}
             for g in groups]
    batch = GroupCollator(pad_token_id)(items)
    return {k: v.to(device) for k, v in batch.items()}


def _model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}


# ------------------------------------------------------------------------------------------------ evaluation


@torch.no_grad()
def dev_figures(model, groups: list[list[dict]], loss: PrunerLoss, *, pad_token_id: int, token_types: bool,
                threshold: float, batch_groups: int = 8, autocast: bool = False) -> dict[str, float]:
    """Dev figures of ``model`` over pre-tokenized query groups (see the module docstring).

    Returns:
        dict: ``loss``, ``passage_mrr``, ``sentence_pair_accuracy``, ``sentence_recall`` and
        ``sentences_removed`` (fractions in [0, 1]); NaN where a figure has nothing to count.
    """
    model.eval()
    device = next(model.parameters()).device
    losses, reciprocal, pairs_right, pairs, kept, relevant, removed, sentences = [], [], 0, 0, 0, 0, 0, 0
    for start in range(0, len(groups), batch_groups):
        chunk = groups[start:start + batch_groups]
        batch = _collate(chunk, pad_token_id, token_types, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(**_model_inputs(batch))
        total, _ = loss(out.ranking_logits.float(), out.pruning_logits.float(), batch)
        losses.append(float(total))
        scores = out.ranking_logits[..., 0].float().tolist()
        row = 0
        for group in chunk:
            ranked = sorted(range(len(group)), key=lambda i: -scores[row + i])
            positions = [rank for rank, i in enumerate(ranked, 1) if group[i]["binary"] == 1]
            if positions:
                reciprocal.append(1.0 / positions[0])
            row += len(group)
        probabilities = torch.softmax(out.pruning_logits.float(), dim=-1)[..., 1]
        means, present = sentence_means(probabilities, batch["sentence_ids"])
        ids, codes = batch["sentence_ids"], batch["sentence_codes"]
        for r in range(means.shape[0]):
            code_of = {int(s): int(c) for s, c in zip(ids[r].tolist(), codes[r].tolist()) if s >= 0}
            good = [float(means[r, s]) for s, c in code_of.items() if c == 1 and present[r, s]]
            other = [float(means[r, s]) for s, c in code_of.items() if c != 1 and present[r, s]]
            pairs += len(good) * len(other)
            pairs_right += sum(g > o for g in good for o in other)
            if float(batch["binary_labels"][r]) == 1:
                relevant += len(good)
                kept += sum(g > threshold for g in good)
                sentences += len(good) + len(other)
                removed += sum(m <= threshold for m in good + other)
    nan = float("nan")
    return {"loss": sum(losses) / len(losses) if losses else nan,
            "passage_mrr": sum(reciprocal) / len(reciprocal) if reciprocal else nan,
            "sentence_pair_accuracy": pairs_right / pairs if pairs else nan,
            "sentence_recall": kept / relevant if relevant else nan,
            "sentences_removed": removed / sentences if sentences else nan}


# ------------------------------------------------------------------------------------------------ shards


def write_shards(tensors: dict[str, torch.Tensor], folder: Path, *, shard_mib: float = 16.0,
                 total_mib: float = 64.0) -> dict[str, str]:
    """Write float16 safetensors shards of at most ``shard_mib`` MiB each; returns ``{file: sha256}``.

    Raises:
        ValueError: the tensors exceed ``total_mib`` MiB in float16, or one tensor exceeds a shard.
    """
    from safetensors.torch import save_file

    half = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in tensors.items()}
    total = sum(t.numel() * 2 for t in half.values())
    if total > total_mib * MIB:
        raise ValueError(f"the trained weights take {total / MIB:.1f} MiB in float16, over the {total_mib} MiB "
                         "limit: freeze more of the model")
    limit = int(shard_mib * MIB) - 64 * 1024  # room for each file's header
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key in sorted(half):
        nbytes = half[key].numel() * 2
        if nbytes > limit:
            raise ValueError(f"{key} takes {nbytes / MIB:.1f} MiB, more than one {shard_mib} MiB shard")
        if size + nbytes > limit and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][key] = half[key]
        size += nbytes
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for index, shard in enumerate(shards, 1):
        name = f"sprint-{index:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / name))
        hashes[name] = sha256(folder / name)
    return hashes


def read_shards(folder: Path, hashes: dict[str, str]) -> dict[str, torch.Tensor]:
    """Load shards after checking each file's SHA-256.

    Raises:
        FileNotFoundError: a shard is missing. ValueError: a hash differs.
    """
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for name, expected in hashes.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"sprint shard {path} is missing")
        found = sha256(path)
        if found != expected:
            raise ValueError(f"{path}: SHA-256 {found} differs from {expected} in sprint.json (damaged copy?)")
        tensors.update(load_file(str(path)))
    return tensors


# ------------------------------------------------------------------------------------------------ train


def _load_base(base: str, device: str):
    from ..pruner import TextPruner
    from .run import resolve_model_path

    pruner = TextPruner.from_pretrained(resolve_model_path(base), device="cpu")
    return pruner, pruner.model.float().to(device)


def train_sprint(pack_path: Path, out: Path, *, base: Optional[str] = None, minutes: float = 9.0,
                 max_steps: Optional[int] = None, batch_groups: int = 8, learning_rate: float = 3e-5,
                 warmup_steps: int = 10, device: str = "auto", seed: int = 0) -> dict[str, Any]:
    """Fine-tune the pack's base checkpoint on its windows; write shards and ``sprint.json`` to ``out``.

    Args:
        pack_path (Path): a file written by :func:`pack`.
        out (Path): output folder (shards + ``sprint.json``).
        base (str, optional): the base checkpoint; defaults to the one named in the pack.
        minutes (float): wall-clock training limit in minutes (evaluation excluded). Defaults to 9.
        max_steps (int, optional): step limit; also the length of the linear decay (constant LR without it).
        batch_groups (int): query groups per step. learning_rate (float): AdamW peak LR.
        warmup_steps (int): linear warm-up steps. device (str): ``"auto"`` (CUDA when present), ``"cuda"``, ``"cpu"``.
        seed (int): shuffling and dropout seed.

    Returns:
        dict: the contents of ``sprint.json``.

    Raises:
        ValueError: the base's weights differ from those the pack names.
    """
    import random

    meta, tensors = read_pack(pack_path)
    base = base or meta["base"]
    found = _base_hash(base)
    if meta.get("base_sha256") and found and found != meta["base_sha256"]:
        raise ValueError(f"base {base} has SHA-256 {found}, the pack was made for {meta['base_sha256']}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    autocast = device.startswith("cuda")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    pruner, model = _load_base(base, device)
    frozen = [n for n, p in model.named_parameters() if "embeddings" in n]
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in frozen)
    settings = meta["loss"]
    loss = PrunerLoss(settings["ranking_weight"], settings["pruning_weight"], settings["ranking_loss"],
                      model.config.ranking_activation, settings["pruning_unit"], settings["sentence_ranking_weight"],
                      settings["sentence_ranking_unknown"], settings["sentence_ranking_temperature"])
    train_groups = _windows(tensors, "train", settings)
    dev_groups = _windows(tensors, "dev", settings) if "dev.group" in tensors else []
    shared = dict(pad_token_id=meta["pad_token_id"], token_types=meta["has_token_types"],
                  threshold=float(model.config.default_threshold), autocast=autocast)
    before = dev_figures(model, dev_groups, loss, **shared) if dev_groups else {}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, warmup_steps))
        return warm if max_steps is None else warm * max(0.0, 1 - step / max_steps)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    order: list[int] = []
    step, started, running = 0, time.monotonic(), []
    model.train()
    while (max_steps is None or step < max_steps) and (time.monotonic() - started) / 60 < minutes:
        if len(order) < batch_groups:
            order += rng.sample(range(len(train_groups)), len(train_groups))
        chosen, order = order[:batch_groups], order[batch_groups:]
        batch = _collate([train_groups[i] for i in chosen], meta["pad_token_id"], meta["has_token_types"], device)
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=autocast):
            outputs = model(**_model_inputs(batch))
        total, _ = loss(outputs.ranking_logits.float(), outputs.pruning_logits.float(), batch)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        running.append(float(total.detach()))
        if step % 20 == 0:
            logger.info("step %d loss %.4f (%.1f min)", step, sum(running) / len(running),
                        (time.monotonic() - started) / 60)
            running = []
    train_minutes = (time.monotonic() - started) / 60
    after = dev_figures(model, dev_groups, loss, **shared) if dev_groups else {}
    weights = {n: p for n, p in model.named_parameters() if n not in frozen}
    hashes = write_shards(weights, out)
    report = {"format": "text-pruner-sprint/1", "base": base, "base_sha256": found, "files": hashes,
              "steps": step, "train_minutes": round(train_minutes, 2), "device": _device_name(device),
              "bf16_autocast": autocast, "batch_groups": batch_groups, "learning_rate": learning_rate,
              "frozen": "embeddings", "train_groups": len(train_groups), "dev_groups": len(dev_groups),
              "loss": settings, "dev_before": before, "dev_after": after}
    (out / "sprint.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


# ------------------------------------------------------------------------------------------------ unpack


def unpack(sprint_dir: Path, out: Path, *, base: Optional[str] = None) -> Path:
    """Merge a sprint's shards into its base checkpoint and save a loadable checkpoint to ``out``.

    Raises:
        FileNotFoundError: no ``sprint.json`` or a missing shard.
        ValueError: a hash differs, the base differs from the sprint's, or a key/shape is not the base's.
    """
    manifest = sprint_dir / "sprint.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: pass the folder sprint-train wrote")
    report = json.loads(manifest.read_text(encoding="utf-8"))
    tensors = read_shards(sprint_dir, report["files"])
    base = base or report["base"]
    found = _base_hash(base)
    if report.get("base_sha256") and found and found != report["base_sha256"]:
        raise ValueError(f"base {base} has SHA-256 {found}, the sprint trained {report['base_sha256']}")
    pruner, model = _load_base(base, "cpu")
    state = model.state_dict()
    for key, value in tensors.items():
        if key not in state:
            raise ValueError(f"sprint weight {key!r} is not in the base checkpoint {base}")
        if tuple(value.shape) != tuple(state[key].shape):
            raise ValueError(f"sprint weight {key!r} has shape {tuple(value.shape)}, the base {tuple(state[key].shape)}")
        state[key] = value.to(state[key].dtype)
    model.load_state_dict(state)
    pruner.save_pretrained(out)
    (out / "sprint.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------------------ command line


def main(command: str, argv: list[str]) -> int:
    """``sprint-pack``, ``sprint-train`` or ``sprint-unpack`` with its arguments (``--help`` lists them)."""
    parser = argparse.ArgumentParser(prog=f"python -m text_pruner_rag.training {command}")
    if command == "sprint-pack":
        parser.add_argument("config", help="recipe YAML (model.init_from required)")
        parser.add_argument("out", type=Path, help="pack file to write (.safetensors)")
        parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--max-mib", type=float, default=64.0, help="size limit in MiB (default 64)")
        parser.add_argument("--dev-fraction", type=float, default=0.1, help="share of the size for dev windows")
        options = parser.parse_args(argv)
        from .config import load_config

        meta = pack(load_config(options.config, options.overrides), options.out, max_mib=options.max_mib,
                    dev_fraction=options.dev_fraction)
        print(json.dumps({k: v for k, v in meta.items() if k != "loss"}))
    elif command == "sprint-train":
        parser.add_argument("pack", type=Path)
        parser.add_argument("out", type=Path, help="folder for the shards and sprint.json")
        parser.add_argument("--base", help="base checkpoint (default: the one the pack names)")
        parser.add_argument("--minutes", type=float, default=9.0, help="training time limit (default 9)")
        parser.add_argument("--max-steps", type=int, default=None)
        parser.add_argument("--batch-groups", type=int, default=8, help="query groups per step (default 8)")
        parser.add_argument("--learning-rate", type=float, default=3e-5)
        parser.add_argument("--warmup-steps", type=int, default=10)
        parser.add_argument("--device", default="auto")
        parser.add_argument("--seed", type=int, default=0)
        options = parser.parse_args(argv)
        report = train_sprint(options.pack, options.out, base=options.base, minutes=options.minutes,
                              max_steps=options.max_steps, batch_groups=options.batch_groups,
                              learning_rate=options.learning_rate, warmup_steps=options.warmup_steps,
                              device=options.device, seed=options.seed)
        print(json.dumps({k: report[k] for k in ("steps", "train_minutes", "device", "dev_before", "dev_after")}))
    elif command == "sprint-unpack":
        parser.add_argument("sprint_dir", type=Path, help="the folder sprint-train wrote")
        parser.add_argument("out", type=Path, help="checkpoint folder to write")
        parser.add_argument("--base", help="base checkpoint (default: the one sprint.json names)")
        options = parser.parse_args(argv)
        print(f"saved {unpack(options.sprint_dir, options.out, base=options.base)}")
    else:
        raise ValueError(f"unknown sprint command {command!r}")
    return 0
