"""Weight-space interpolation of two checkpoints of one pruner (WiSE-FT), with a recalibrated threshold.

``python -m text_pruner_rag.training interpolate BASE TUNED OUT --weight W (--recipe RECIPE.yaml | --threshold T)``

Every weight of the result is ``(1 - W) * base + W * tuned``, computed in float32: ``W = 0`` gives
the base, ``W = 1`` the fine-tuned checkpoint (the result is stored in the base's stored dtype, e.g.
float16), values in between trade what fine-tuning gained for what it lost (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022, WiSE-FT). Both
checkpoints must be the same architecture (same keys and shapes, e.g. the tuned one trained from the
base with ``model.init_from``); the result takes the base's configuration and tokenizer.

Keep probabilities of the interpolated model are not those of either end, so the default threshold
is calibrated again, exactly as training calibrates it: on the recipe's dev records with its
``evaluation`` settings (``--recipe``, plus ``--set`` overrides), or given (``--threshold``).
``interpolation.json`` in ``OUT`` records both ends (with the SHA-256 of their weights), the weight,
the threshold and how it was chosen.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import torch

logger = logging.getLogger(__name__)

__all__ = ["interpolate_state", "interpolate", "main"]


def interpolate_state(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor],
                      weight: float) -> dict[str, torch.Tensor]:
    """``(1 - weight) * base + weight * tuned`` for every tensor, in float32, cast back to the base's dtype.

    Integer tensors (e.g. position-id buffers) are taken from the base unchanged.

    Raises:
        ValueError: ``weight`` outside [0, 1], or the two states differ in keys or shapes.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1] (0 = base, 1 = tuned), got {weight}")
    if base.keys() != tuned.keys():
        missing, extra = sorted(base.keys() - tuned.keys()), sorted(tuned.keys() - base.keys())
        raise ValueError(f"the checkpoints differ in weights: only in base {missing[:5]}, only in tuned {extra[:5]}")
    out = {}
    for key, value in base.items():
        other = tuned[key]
        if value.shape != other.shape:
            raise ValueError(f"weight {key!r} has shape {tuple(value.shape)} in base, {tuple(other.shape)} in tuned")
        if not value.is_floating_point():
            out[key] = value.clone()
            continue
        mixed = torch.lerp(value.float(), other.float(), weight)
        out[key] = mixed.to(value.dtype)
    return out


def _stored_dtype(folder: str) -> torch.dtype:
    """The dtype the checkpoint's weights are stored in (its ``config.json`` ``dtype``; float32 if unsaid)."""
    config = Path(folder) / "config.json"
    name = json.loads(config.read_text(encoding="utf-8")).get("dtype") if config.is_file() else None
    return {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(name, torch.float32)


def _weights_sha256(folder: str) -> Optional[str]:
    from .sprint import sha256

    path = Path(folder) / "model.safetensors"
    return sha256(path) if path.is_file() else None


def interpolate(base: str, tuned: str, out: Path, *, weight: float, recipe: Optional[str] = None,
                overrides: Sequence[str] = (), threshold: Optional[float] = None) -> Path:
    """Write the interpolated checkpoint to ``out`` (loadable by ``TextPruner.from_pretrained``).

    Args:
        base (str): the checkpoint fine-tuning started from (folder, or ``package:`` path).
        tuned (str): the fine-tuned checkpoint.
        out (Path): folder to write (created).
        weight (float): share of ``tuned``, in [0, 1].
        recipe (str, optional): training recipe whose dev records and ``evaluation`` settings calibrate
            the default threshold (:func:`text_pruner_rag.training.card.calibrate`).
        overrides (Sequence[str]): ``--set`` overrides for the recipe.
        threshold (float, optional): the default threshold to store instead of calibrating.

    Raises:
        ValueError: neither or both of ``recipe`` and ``threshold``; a recipe without dev records; the
            states do not match (:func:`interpolate_state`).
    """
    from ..pruner import TextPruner
    from .card import calibrate
    from .run import resolve_model_path

    if (recipe is None) == (threshold is None):
        raise ValueError("pass exactly one of recipe (calibrate the threshold on its dev records) and threshold")
    base_path, tuned_path = resolve_model_path(base), resolve_model_path(tuned)
    pruner = TextPruner.from_pretrained(base_path, device="cpu")
    other = TextPruner.from_pretrained(tuned_path, device="cpu")
    model = pruner.model.float()
    state = interpolate_state(model.state_dict(), other.model.float().state_dict(), weight)
    model.load_state_dict(state)
    del other
    stored = _stored_dtype(base_path)  # a float16 base gives a float16 result: the size it ships at
    model.to(stored).float()  # calibrate the weights as they will be stored (rounded), run in float32
    record = {"base": base, "base_sha256": _weights_sha256(base_path), "tuned": tuned,
              "tuned_sha256": _weights_sha256(tuned_path), "weight": weight}
    if recipe is not None:
        from .config import load_config
        from .run import prepare_data

        config = load_config(recipe, list(overrides))
        _, dev_records = prepare_data(config, splits=("dev",))  # calibration reads the dev split only
        if not dev_records:
            raise ValueError(f"recipe {recipe} has no dev records (data.dev) to calibrate the threshold on")
        ev = config.evaluation
        threshold, table, _ = calibrate(pruner, dev_records, beta=ev.beta, max_queries=ev.max_queries,
                                        thresholds=ev.thresholds, min_threshold=ev.min_threshold,
                                        min_recall=ev.min_recall)
        record.update(calibration={"recipe": recipe, "overrides": list(overrides), "dev_queries":
                                   min(len(dev_records), ev.max_queries or len(dev_records)),
                                   "min_recall": ev.min_recall, "beta": ev.beta, "table": table})
    model.config.default_threshold = float(threshold)
    record["default_threshold"] = float(threshold)
    out = Path(out)
    model.to(stored)
    pruner.save_pretrained(out)
    (out / "interpolation.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    logger.info("saved %s: %.2f x %s + %.2f x %s, default_threshold=%.3f", out, 1 - weight, base, weight, tuned,
                threshold)
    return out


def main(argv: list[str]) -> int:
    """``interpolate BASE TUNED OUT --weight W (--recipe RECIPE.yaml [--set K=V ...] | --threshold T)``."""
    parser = argparse.ArgumentParser(prog="python -m text_pruner_rag.training interpolate",
                                     description="Interpolate two checkpoints of one pruner in weight space "
                                                 "(WiSE-FT) and calibrate the result's default threshold.")
    parser.add_argument("base", help="the checkpoint fine-tuning started from")
    parser.add_argument("tuned", help="the fine-tuned checkpoint (same architecture)")
    parser.add_argument("out", type=Path, help="checkpoint folder to write")
    parser.add_argument("--weight", type=float, required=True, help="share of TUNED in [0, 1] (0 = BASE)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipe", help="recipe YAML: calibrate on its dev records with its evaluation settings")
    source.add_argument("--threshold", type=float, help="store this default threshold instead of calibrating")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (as in training); repeatable")
    options = parser.parse_args(argv)
    if options.overrides and not options.recipe:
        parser.error("--set needs --recipe")
    try:
        out = interpolate(options.base, options.tuned, options.out, weight=options.weight, recipe=options.recipe,
                          overrides=options.overrides, threshold=options.threshold)
    except ValueError as error:
        parser.error(str(error))
    print(f"saved {out}")
    return 0
