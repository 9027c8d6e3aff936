"""The training recipe: YAML + pydantic validation, --set overrides, --help, and the shipped recipes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from text_pruner_rag.training.__main__ import main
from text_pruner_rag.training.config import TrainConfig, apply_overrides, describe_config, load_config

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "configs").glob("*.yaml"))

MINIMAL = {"model": {"backbone": "some/backbone"}, "output": {"dir": "runs/x"}}


def write_yaml(folder: Path, data: dict, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def config_keys(model: type[BaseModel] = TrainConfig, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += config_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_help_lists_every_key(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    keys = config_keys()
    assert len(keys) > 30 and "model.lora.enabled" in keys and "dry_run.steps" in keys
    for key in keys:
        assert f"  {key} (default" in out, key
    assert "--set" in out and "--dry-run" in out
    described = describe_config()
    assert all(f"  {key} (default" in described for key in keys)


def test_minimal_config_defaults(tmp_path):
    config = load_config(write_yaml(tmp_path, MINIMAL))
    assert config.loss.ranking_weight == 0.05 and config.loss.pruning_weight == 1.0
    assert config.negatives.method == "bm25" and config.data.items == 4
    assert config.model.lora.enabled is False and config.training == {}


def test_set_overrides_are_typed_and_nested(tmp_path):
    path = write_yaml(tmp_path, {**MINIMAL, "training": {"learning_rate": 1.0e-4}})
    config = load_config(path, ["training.learning_rate=3e-3", "data.items=6", "model.lora.enabled=true",
                                "model.lora.target_modules=[query, key]", "output.dir=/tmp/elsewhere",
                                "training.bf16=false", "evaluation.thresholds=[0.1, 0.2]"])
    assert config.training["learning_rate"] == pytest.approx(3e-3)
    assert config.training["bf16"] is False
    assert config.data.items == 6
    assert config.model.lora.enabled is True and config.model.lora.target_modules == ["query", "key"]
    assert config.output.dir == "/tmp/elsewhere"
    assert config.evaluation.thresholds == [0.1, 0.2]


def test_set_without_equals_or_into_a_value():
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides({}, ["data.items"])
    with pytest.raises(ValueError, match="not a section"):
        apply_overrides({"data": {"items": 3}}, ["data.items.sub=1"])


@pytest.mark.parametrize("bad", [
    {"data": {"itemz": 3}},                           # unknown key in a section
    {"modle": {"backbone": "x"}},                     # unknown section
    {"data": {"items": 0}},                           # out of range
    {"negatives": {"method": "random"}},              # not a choice
    {"data": {"train": [{"format": "nope", "path": "x"}]}},  # unknown reader
    {"data": {"train": [{"format": "qed", "path": "x", "langauge": "en"}]}},  # typo in a source
])
def test_bad_config_gives_pydantic_error(tmp_path, bad):
    data = {**MINIMAL, **bad}
    if "modle" in bad:
        data.pop("model")
    path = write_yaml(tmp_path, data)
    with pytest.raises(ValidationError):
        load_config(path)


def test_bad_override_through_the_command_line(tmp_path):
    path = write_yaml(tmp_path, MINIMAL)
    with pytest.raises(ValidationError, match="rank"):
        main([str(path), "--set", "model.lora.rank=8"])


def test_missing_required_and_missing_file(tmp_path):
    with pytest.raises(ValidationError, match="output"):
        load_config(write_yaml(tmp_path, {"model": {"backbone": "x"}}))
    with pytest.raises(SystemExit):
        main([str(tmp_path / "absent.yaml")])
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        load_config(tmp_path / "list.yaml")


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.name for p in RECIPES])
def test_shipped_recipes_validate_and_build_training_arguments(recipe, tmp_path):
    from text_pruner_rag.training.run import _training_arguments

    config = load_config(recipe, [f"output.dir={tmp_path}"])
    assert config.dry_run.steps >= 1
    # bf16 recipes are meant for machines that support it; build the arguments on this CPU anyway
    args = _training_arguments(config, dry_run=False) if not config.training.get("bf16") else None
    if args is None:
        config = load_config(recipe, [f"output.dir={tmp_path}", "training.use_cpu=true"])
        args = _training_arguments(config, dry_run=False)
    assert args.remove_unused_columns is False
    dry = _training_arguments(config, dry_run=True)
    assert dry.max_steps == config.dry_run.steps and not dry.bf16


def test_openprovence_xsmall_recipe_mirrors_the_release():
    config = load_config(REPO / "configs" / "openprovence-xsmall-gpu.yaml")
    assert config.model.backbone == "hotchpotch/japanese-reranker-xsmall-v2"
    assert config.model.max_length == 512 and config.data.items == 6
    training = config.training
    assert training["per_device_train_batch_size"] * training["gradient_accumulation_steps"] == 256
    assert training["optim"] == "adafactor" and training["learning_rate"] == pytest.approx(5e-5)
    assert training["lr_scheduler_type"] == "cosine" and training["warmup_steps"] == pytest.approx(0.1)
    assert training["weight_decay"] == pytest.approx(0.01) and training["bf16"] is True
    assert training["num_train_epochs"] == 1 and training["dataloader_num_workers"] > 0
    teacher = "teacher_scores.japanese-reranker-xsmall-v2"
    assert config.teacher.column == teacher
    subsets = set()
    for source in config.data.train + config.data.dev:
        assert source.format == "openprovence" and source.options["teacher_column"] == teacher
        subsets.add((source.path, source.options["subset"]))
    assert ("hotchpotch/msmarco-context-relevance", "freq2") in subsets
    assert ("hotchpotch/japanese-context-relevance", "jaquad-freq2") in subsets
    assert all(s.language in ("en", "ja") for s in config.data.train)
    assert config.dry_run.sources and all(s.limit for s in config.dry_run.sources)


def test_recipe_readme_names_every_recipe():
    readme = (REPO / "configs" / "README.md").read_text(encoding="utf-8")
    for recipe in RECIPES:
        assert f"configs/{recipe.name}" in readme


@pytest.mark.parametrize(
    "override, message",
    [("evaluation.min_threshold=1.5", "`min_threshold` must be in \\[0, 1\\]"),
     ("evaluation.min_recall=2", "`min_recall` must be in \\[0, 1\\]"),
     ("evaluation.thresholds=[0.1, -0.2]", r"`thresholds` must be in \[0, 1\], got \[-0.2\]"),
     ("evaluation.thresholds=[]", "at least one threshold")],
)
def test_calibration_thresholds_are_checked_by_the_policy_check(tmp_path, override, message):
    path = write_yaml(tmp_path, MINIMAL)
    with pytest.raises(ValueError, match=message):
        load_config(path, [override])
    assert load_config(path, ["evaluation.min_threshold=1", "evaluation.thresholds=[0, 1]"]).evaluation.min_threshold == 1.0


def test_stage3_recipes_permissive_twin_drops_only_the_research_sources():
    from text_pruner_rag.data.readers import PERMISSIVE_FORMATS

    research = load_config(REPO / "configs" / "minilm-en-default-stage3.yaml")
    permissive = load_config(REPO / "configs" / "minilm-en-permissive-stage3.yaml")
    assert {s.format for s in permissive.data.train} <= set(PERMISSIVE_FORMATS)
    dropped = [s for s in research.data.train if s not in permissive.data.train]
    assert {s.format for s in dropped} == {"cast_answerability", "multirc_eraser", "wikiqa"}
    # the CAsT partitions used for dev (validation, test) are never trained on
    cast = [s for s in research.data.train if s.format == "cast_answerability"]
    assert [s.options["partitions"] for s in cast] == [["train"]]
    assert not any("WikiQA-dev" in str(s.path) or "WikiQA-test" in str(s.path) for s in research.data.train)
    assert research.loss == permissive.loss and research.training == permissive.training
    assert research.loss.unknown == "soft"
    assert research.evaluation.min_recall == permissive.evaluation.min_recall == 0.85


def test_set_indexes_lists():
    raw = {"data": {"train": [{"name": "a", "limit": 10}, {"name": "b"}]}}
    apply_overrides(raw, ["data.train.1.limit=4000", "data.train.0.name=first"])
    assert raw["data"]["train"] == [{"name": "first", "limit": 10}, {"name": "b", "limit": 4000}]
    apply_overrides(raw, ["data.train.0={name: z}"])
    assert raw["data"]["train"][0] == {"name": "z"}
    with pytest.raises(ValueError, match="out of range"):
        apply_overrides(raw, ["data.train.2.limit=1"])
    with pytest.raises(ValueError, match="index it with a number"):
        apply_overrides(raw, ["data.train.first.limit=1"])
