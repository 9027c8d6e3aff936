"""Training in sittings: resume from the transformers ``Trainer``'s own checkpoints, stop on a step or
time budget with the full state saved, and keep a log of every sitting.

A *sitting* is one run of ``python -m text_pruner_rag.training RECIPE.yaml``. With
``resume.stop_after_steps`` or ``resume.stop_after_minutes`` set, the sitting ends early and saves a
``Trainer`` checkpoint (weights, optimizer, scheduler, RNG states and the data position, all written by
transformers); the next sitting of the same recipe picks it up (``resume.checkpoint: auto``) and
continues as if it had never stopped: the learning-rate schedule runs over ``training.max_steps`` of
the whole recipe, and the ``Trainer`` skips the batches already seen (its data sampler is seeded, so the
order is the same). Three sittings of two steps give the weights of one six-step run.

``<output.dir>/sittings.json`` records each sitting (first and last step, minutes, whether it
finished) and a fingerprint of the recipe; ``auto`` refuses to resume checkpoints written by a
different recipe (pass the checkpoint folder explicitly to override). The model card sums the sittings.
Checkpoints live under ``<output.dir>/checkpoints`` and stay out of git (keep ``output.dir`` under an
ignored folder such as ``runs/``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from transformers import TrainerCallback

logger = logging.getLogger(__name__)

__all__ = ["SittingStop", "SittingLog", "recipe_fingerprint", "resolve_checkpoint", "last_checkpoint",
           "sittings_section"]

# Sections that do not change what is trained: they may differ between sittings.
_FREE_SECTIONS = ("resume", "evaluation", "output", "dry_run")


def recipe_fingerprint(config) -> str:
    """SHA-256 (first 16 hex digits) of the recipe without the sections that may change between sittings
    (``resume``, ``evaluation``, ``output``, ``dry_run``). Keys left at their defaults are not hashed, so
    a later version that adds an option (at a default that changes nothing) still resumes the run."""
    data = config.model_dump(mode="json", exclude=set(_FREE_SECTIONS), exclude_defaults=True)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def last_checkpoint(folder: Path) -> Optional[Path]:
    """The ``checkpoint-<step>`` folder with the highest step under ``folder`` (None when there is none)."""
    if not folder.is_dir():
        return None
    found = [(int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*")
             if p.is_dir() and p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(found)[1] if found else None


def resolve_checkpoint(setting: str, checkpoints: Path, log: "SittingLog") -> Optional[Path]:
    """The checkpoint a sitting starts from.

    Args:
        setting (str): ``"auto"``, ``"never"`` or a checkpoint folder (``resume.checkpoint``).
        checkpoints (Path): the Trainer's output folder (``<output.dir>/checkpoints``).
        log (SittingLog): the recipe's sitting log (its fingerprint guards ``auto``).

    Returns:
        Path | None: the folder to resume from, or None to start from step 0.

    Raises:
        FileNotFoundError: an explicit folder without ``trainer_state.json``.
        ValueError: ``auto`` found checkpoints written by a different recipe.
    """
    if setting == "never":
        return None
    if setting != "auto":
        folder = Path(setting)
        if not (folder / "trainer_state.json").is_file():
            raise FileNotFoundError(f"resume.checkpoint={setting!r} is not a Trainer checkpoint folder "
                                    "(no trainer_state.json in it)")
        return folder
    found = last_checkpoint(checkpoints)
    if found is None:
        return None
    previous = log.fingerprint_on_disk()
    if previous is not None and previous != log.fingerprint:
        raise ValueError(f"{found} was written by a different recipe (fingerprint {previous}, now {log.fingerprint}): "
                         "use a new output.dir, set resume.checkpoint=never to start again, or pass the "
                         "checkpoint folder as resume.checkpoint to continue anyway")
    return found


class SittingStop(TrainerCallback):
    """End the sitting after ``steps`` optimizer steps or ``minutes`` of training, saving a checkpoint.

    Args:
        steps (int, optional): steps in this sitting (counted from the step it started at).
        minutes (float, optional): wall-clock minutes; checked after each optimizer step.
    """

    def __init__(self, steps: Optional[int] = None, minutes: Optional[float] = None) -> None:
        self.steps, self.minutes = steps, minutes
        self.start_step = 0
        self.started = time.monotonic()
        self.stopped = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_step = state.global_step
        self.started = time.monotonic()
        return control

    def on_step_end(self, args, state, control, **kwargs):
        done_steps = self.steps is not None and state.global_step - self.start_step >= self.steps
        done_time = self.minutes is not None and (time.monotonic() - self.started) / 60 >= self.minutes
        if (done_steps or done_time) and state.global_step < state.max_steps:
            control.should_save = True
            control.should_training_stop = True
            self.stopped = True
        return control


class SittingLog:
    """``sittings.json``: one entry per sitting and the recipe's fingerprint.

    Args:
        path (Path): the JSON file (``<output.dir>/sittings.json``).
        fingerprint (str): :func:`recipe_fingerprint` of the running recipe.
    """

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path, self.fingerprint = Path(path), fingerprint

    def read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {"recipe_fingerprint": None, "sittings": []}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def fingerprint_on_disk(self) -> Optional[str]:
        return self.read().get("recipe_fingerprint")

    def reset(self) -> None:
        """Forget earlier sittings (a run that starts from step 0)."""
        if self.path.is_file():
            self.path.unlink()

    def record(self, *, start_step: int, end_step: int, minutes: float, resumed_from: Optional[Path],
               finished: bool) -> dict[str, Any]:
        """Append one sitting (it began ``minutes`` before this call) and return the whole log."""
        data = self.read()
        started = datetime.now(timezone.utc) - timedelta(minutes=minutes)
        data["recipe_fingerprint"] = self.fingerprint
        data["sittings"].append({
            "started_utc": started.isoformat(timespec="seconds"),
            "start_step": start_step, "end_step": end_step, "steps": end_step - start_step,
            "minutes": round(minutes, 2), "resumed_from": str(resumed_from) if resumed_from else None,
            "finished": finished,
        })
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return data

    def totals(self) -> dict[str, float]:
        """``sittings``, ``steps`` and ``hours`` summed over the log."""
        sittings = self.read()["sittings"]
        return {"sittings": len(sittings), "steps": sum(s["steps"] for s in sittings),
                "hours": round(sum(s["minutes"] for s in sittings) / 60, 3)}


def sittings_section(log: SittingLog) -> str:
    """A model-card section (Markdown) with one row per sitting and the totals."""
    rows = "\n".join(f"| {i} | {s['start_step']} | {s['end_step']} | {s['minutes']} |"
                     for i, s in enumerate(log.read()["sittings"], 1))
    total = log.totals()
    return (f"## Training sittings\n\n{total['steps']} optimizer steps in {total['sittings']} sitting(s), "
            f"{total['hours']} hours of training in all (wall clock, data preparation excluded).\n\n"
            "| sitting | from step | to step | minutes |\n|---|---|---|---|\n" + rows + "\n")
