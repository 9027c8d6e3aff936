"""Training in sittings: three sittings of two steps give the weights of one six-step run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from text_pruner_rag.records import Passage, Record, write_records
from text_pruner_rag.training.config import load_config
from text_pruner_rag.training.resume import SittingLog, last_checkpoint, recipe_fingerprint, resolve_checkpoint
from text_pruner_rag.training.run import train

TOPICS = [
    ("Where is the Eiffel Tower?", "The Eiffel Tower stands in Paris. ", "It was built for a world fair. "),
    ("Who wrote Hamlet?", "Hamlet was written by William Shakespeare. ", "The play is set in Denmark. "),
    ("What do bees make?", "Bees make honey from nectar. ", "Many bees live in large colonies. "),
    ("How high is Mount Fuji?", "Mount Fuji is 3,776 metres high. ", "It is a volcano in Japan. "),
    ("What is the capital of Italy?", "Rome is the capital of Italy. ", "Italy is shaped like a boot. "),
    ("When did the Titanic sink?", "The Titanic sank in April 1912. ", "It had four funnels. "),
]


def passage(first: str, second: str, relevant: bool, complete: bool = True) -> Passage:
    text = first + second
    return Passage(text=text, spans=[(0, len(first)), (len(first), len(text))],
                   relevance=[1 if relevant else 0, 0], label=int(relevant), complete=complete)


def records() -> list[Record]:
    out = []
    for i, (query, answer, other) in enumerate(TOPICS * 2):
        negatives = [passage(TOPICS[(i + k) % len(TOPICS)][1], TOPICS[(i + k) % len(TOPICS)][2], False)
                     for k in (1, 2)]
        out.append(Record(id=f"q{i}", query=query, language="en", source="toy", answers=[answer.split()[0]],
                          passages=[passage(answer, other, True, complete=i % 2 == 0)] + negatives))
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory, bert_tokenizer):
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("resume")
    torch.manual_seed(0)
    backbone = BertForSequenceClassification(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                         intermediate_size=37, num_labels=1,
                                                         vocab_size=bert_tokenizer.vocab_size))
    backbone.save_pretrained(str(folder / "backbone"))
    bert_tokenizer.save_pretrained(str(folder / "backbone"))
    write_records(records(), folder / "toy.jsonl")
    return folder


def write_recipe(folder: Path, name: str, **loss) -> Path:
    recipe = {
        "model": {"backbone": str(folder / "backbone"), "max_length": 48},
        "data": {"train": [{"format": "jsonl", "path": str(folder / "toy.jsonl")}],
                 "dev": [{"format": "jsonl", "path": str(folder / "toy.jsonl"), "limit": 3}],
                 "items": 3, "seed": 3},
        "negatives": {"method": "none"},
        "loss": {"sentence_ranking_weight": 0.5, **loss},
        "training": {"max_steps": 6, "per_device_train_batch_size": 2, "learning_rate": 1.0e-3,
                     "lr_scheduler_type": "linear", "warmup_steps": 2, "logging_steps": 1,
                     "save_strategy": "no", "use_cpu": True, "dataloader_num_workers": 0},
        "evaluation": {"max_queries": 3, "thresholds": [0.3, 0.5]},
        "output": {"dir": str(folder / name), "model_name": "resume-test"},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def write_finetune_recipe(folder: Path, init_from: Path, **sections) -> Path:
    """``folder/recipe.yaml``: continue ``init_from`` on the toy records (written to ``folder/toy.jsonl``),
    the first 4 of them as dev; ``sections`` add recipe sections (e.g. ``loss``, ``evaluation``)."""
    write_records(records(), folder / "toy.jsonl")
    recipe = {
        "model": {"backbone": "unused", "init_from": str(init_from), "max_length": 48},
        "data": {"train": [{"format": "jsonl", "path": str(folder / "toy.jsonl")}],
                 "dev": [{"format": "jsonl", "path": str(folder / "toy.jsonl"), "limit": 4}], "items": 3},
        "negatives": {"method": "none"},
        **sections,
        "output": {"dir": str(folder / "run")},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(setup):
    whole = train(load_config(write_recipe(setup, "whole")))
    path = write_recipe(setup, "sittings")
    ends = [train(load_config(path, ["resume.stop_after_steps=2"])) for _ in range(3)]
    return whole, ends, setup / "sittings"


def test_three_sittings_of_two_steps_equal_one_six_step_run(runs):
    whole, ends, _ = runs
    assert [p.name for p in ends] == ["checkpoint-2", "checkpoint-4", "final"]
    expected, got = load_file(str(whole / "model.safetensors")), load_file(str(ends[-1] / "model.safetensors"))
    assert expected.keys() == got.keys()
    start = load_file(str(ends[0] / "model.safetensors"))
    assert any(not torch.equal(start[k], got[k]) for k in got)  # training moved the weights
    worst = max(float((expected[k].float() - got[k].float()).abs().max()) for k in expected)
    assert worst <= 1e-6


def test_sittings_are_logged_and_summed_in_the_card(runs):
    _, ends, out = runs
    log = json.loads((out / "sittings.json").read_text())
    assert [(s["start_step"], s["end_step"], s["finished"]) for s in log["sittings"]] == [
        (0, 2, False), (2, 4, False), (4, 6, True)]
    assert log["sittings"][1]["resumed_from"].endswith("checkpoint-2")
    card = (ends[-1] / "README.md").read_text()
    assert "6 optimizer steps in 3 sitting(s)" in card
    assert "training_steps_all_sittings: 6" in card


def test_auto_refuses_checkpoints_of_a_changed_recipe(runs, setup):
    _, _, out = runs
    changed = load_config(write_recipe(setup, "sittings", sentence_ranking_weight=0.25))
    with pytest.raises(ValueError, match="written by a different recipe"):
        train(changed)


def test_resolve_checkpoint_settings(tmp_path):
    log = SittingLog(tmp_path / "sittings.json", "abc")
    assert resolve_checkpoint("auto", tmp_path / "checkpoints", log) is None
    assert resolve_checkpoint("never", tmp_path, log) is None
    with pytest.raises(FileNotFoundError, match="not a Trainer checkpoint folder"):
        resolve_checkpoint(str(tmp_path / "nowhere"), tmp_path, log)
    for step in (2, 10, 4):
        (tmp_path / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        (tmp_path / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path / "checkpoints").name == "checkpoint-10"
    assert resolve_checkpoint("auto", tmp_path / "checkpoints", log).name == "checkpoint-10"


def test_sitting_log_records_when_each_sitting_began(tmp_path):
    from datetime import datetime, timedelta, timezone

    log = SittingLog(tmp_path / "sittings.json", "abc")
    before = datetime.now(timezone.utc)
    log.record(start_step=0, end_step=30, minutes=90.0, resumed_from=None, finished=False)
    data = log.record(start_step=30, end_step=40, minutes=6.0, resumed_from=tmp_path / "checkpoint-30", finished=True)
    first, second = (datetime.fromisoformat(s["started_utc"]) for s in data["sittings"])
    assert abs((before - first) - timedelta(minutes=90)) < timedelta(seconds=5)
    assert abs((before - second) - timedelta(minutes=6)) < timedelta(seconds=5)
    assert log.totals() == {"sittings": 2, "steps": 40, "hours": 1.6}


def test_fingerprint_ignores_options_left_at_their_defaults(tmp_path):
    path = write_finetune_recipe(tmp_path, tmp_path / "base")
    plain = recipe_fingerprint(load_config(path))
    # an option a later version adds, at its default, must not stop an earlier run from resuming
    assert recipe_fingerprint(load_config(path, ["data.train.0.skip=0"])) == plain
    assert recipe_fingerprint(load_config(path, ["resume.stop_after_steps=2"])) == plain  # a free section
    assert recipe_fingerprint(load_config(path, ["data.train.0.skip=1"])) != plain
    assert recipe_fingerprint(load_config(path, ["loss.ranking_weight=0.25"])) != plain
