"""Weight-space interpolation of two checkpoints (``python -m text_pruner_rag.training interpolate``)."""

from __future__ import annotations

import json

import pytest
import torch

from text_pruner_rag.training.__main__ import main
from text_pruner_rag.training.interpolate import interpolate_state

from .test_resume import write_finetune_recipe


def test_interpolate_state_mixes_float_weights_and_keeps_integer_buffers():
    base = {"w": torch.tensor([0.0, 2.0]), "ids": torch.tensor([0, 1])}
    tuned = {"w": torch.tensor([4.0, 6.0]), "ids": torch.tensor([5, 5])}
    assert torch.equal(interpolate_state(base, tuned, 0.0)["w"], base["w"])
    assert torch.equal(interpolate_state(base, tuned, 1.0)["w"], tuned["w"])
    mixed = interpolate_state(base, tuned, 0.25)
    assert torch.allclose(mixed["w"], torch.tensor([1.0, 3.0]))
    assert torch.equal(mixed["ids"], base["ids"])


def test_interpolate_state_keeps_the_base_dtype():
    base = {"w": torch.tensor([1.0, 3.0], dtype=torch.float16)}
    tuned = {"w": torch.tensor([3.0, 5.0])}
    mixed = interpolate_state(base, tuned, 0.5)["w"]
    assert mixed.dtype == torch.float16 and mixed.tolist() == [2.0, 4.0]


@pytest.mark.parametrize("tuned, weight, message", [
    ({"w": torch.zeros(2)}, 1.5, "weight must be in"),
    ({"v": torch.zeros(2)}, 0.5, "differ in weights"),
    ({"w": torch.zeros(3)}, 0.5, "has shape"),
])
def test_interpolate_state_refuses_mismatches(tuned, weight, message):
    with pytest.raises(ValueError, match=message):
        interpolate_state({"w": torch.zeros(2)}, tuned, weight)


def _perturbed_copy(source, folder):
    from text_pruner_rag import TextPruner

    pruner = TextPruner.from_pretrained(str(source), device="cpu")
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in pruner.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    pruner.save_pretrained(folder)
    return pruner


def test_interpolate_command_writes_the_mixed_checkpoint(tmp_path, tiny_model_dir):
    from text_pruner_rag import TextPruner

    tuned = _perturbed_copy(tiny_model_dir, tmp_path / "tuned")
    out = tmp_path / "mixed"
    assert main(["interpolate", str(tiny_model_dir), str(tmp_path / "tuned"), str(out), "--weight", "0.5",
                 "--threshold", "0.3"]) == 0
    mixed = TextPruner.from_pretrained(str(out), device="cpu")
    base = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    base_state, tuned_state, mixed_state = (p.model.state_dict() for p in (base, tuned, mixed))
    floats = [k for k, v in base_state.items() if v.is_floating_point()]
    assert any(k.startswith("pruning_head") for k in floats)
    for key in floats:
        assert torch.allclose(mixed_state[key], (base_state[key] + tuned_state[key]) / 2, atol=1e-6), key
    assert not torch.allclose(mixed_state[floats[-1]], base_state[floats[-1]])
    assert mixed.default_threshold == pytest.approx(0.3)
    record = json.loads((out / "interpolation.json").read_text())
    assert record["weight"] == 0.5 and record["default_threshold"] == pytest.approx(0.3)
    assert len(record["base_sha256"]) == 64 and record["base_sha256"] != record["tuned_sha256"]


def test_interpolate_calibrates_on_the_recipe_dev_records(tmp_path, tiny_model_dir):
    from text_pruner_rag import TextPruner

    _perturbed_copy(tiny_model_dir, tmp_path / "tuned")
    write_finetune_recipe(tmp_path, tiny_model_dir, evaluation={"thresholds": [0.01, 0.99], "min_recall": 0.95})
    out = tmp_path / "mixed"
    assert main(["interpolate", str(tiny_model_dir), str(tmp_path / "tuned"), str(out), "--weight", "1.0",
                 "--recipe", str(tmp_path / "recipe.yaml")]) == 0
    # Threshold 0.01 keeps (nearly) every sentence, 0.99 none: only 0.01 reaches recall 0.95.
    assert TextPruner.from_pretrained(str(out), device="cpu").default_threshold == pytest.approx(0.01)
    record = json.loads((out / "interpolation.json").read_text())
    assert record["calibration"]["min_recall"] == 0.95 and record["calibration"]["dev_queries"] == 4
    assert [row["threshold"] for row in record["calibration"]["table"]] == [0.01, 0.99]
    prepared = tmp_path / "run" / "data"  # calibration prepares the dev split only
    assert (prepared / "dev.jsonl").is_file() and not (prepared / "train.jsonl").exists()


def test_interpolate_command_needs_a_threshold_source(tmp_path, tiny_model_dir, capsys):
    with pytest.raises(SystemExit):
        main(["interpolate", str(tiny_model_dir), str(tiny_model_dir), str(tmp_path / "out"), "--weight", "0.5"])
    assert "--recipe" in capsys.readouterr().err


def test_a_float16_base_gives_a_float16_checkpoint(tmp_path, tiny_model_dir):
    from safetensors import safe_open

    from text_pruner_rag import TextPruner

    half = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    half.model.half()
    half.save_pretrained(tmp_path / "half")
    _perturbed_copy(tiny_model_dir, tmp_path / "tuned")
    out = tmp_path / "mixed"
    assert main(["interpolate", str(tmp_path / "half"), str(tmp_path / "tuned"), str(out), "--weight", "0.5",
                 "--threshold", "0.3"]) == 0
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        dtypes = {weights.get_tensor(k).dtype for k in weights.keys()}
    assert torch.float16 in dtypes and torch.float32 not in dtypes
    assert json.loads((out / "config.json").read_text())["dtype"] == "float16"
