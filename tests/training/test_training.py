"""The training pipeline end to end on a tiny random backbone and a few real queries (offline).

One short real run (12 optimizer steps, ~20 queries from ../shared/data, a fake teacher) is shared by
the module; dry runs, LoRA, mining, the teacher cache, sampling and the loss are checked around it.
The 2-process torchrun test is marked slow (run it with ``pytest -m slow``).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from text_pruner_rag.encoding import WindowEncoder
from text_pruner_rag.training import run as run_module
from text_pruner_rag.training import teacher as teacher_module
from text_pruner_rag.training.__main__ import main
from text_pruner_rag.training.config import TeacherSettings, load_config
from text_pruner_rag.data.records import Passage, Record, load_records
from text_pruner_rag.data.readers import read_hotpotqa, read_qed
from text_pruner_rag.training.features import GroupCollator, GroupDataset, sample_group
from text_pruner_rag.training.losses import PrunerLoss
from text_pruner_rag.training.negatives import mine_negatives

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
QED_TRAIN = "qed_nq/early_shards_2020-08-26/nq-train-00-qed.jsonlines"
QED_DEV = "qed_nq/qed-dev.jsonlines"
HOTPOT = "hotpotqa_train_subset_hipporag/hotpotqa_train.json"
STEPS = 12


@pytest.fixture(scope="module")
def raw() -> Path:
    if not RAW.is_dir():
        pytest.skip(f"shared raw data not found at {RAW}")
    return RAW


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory, bert_tokenizer) -> Path:
    """A tiny random BERT reranker folder (MiniLM's vocabulary) to start training from."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                      intermediate_size=37, vocab_size=bert_tokenizer.vocab_size,
                                                      num_labels=1))
    folder = tmp_path_factory.mktemp("tiny_backbone")
    model.save_pretrained(str(folder))
    bert_tokenizer.save_pretrained(str(folder))
    return folder


def recipe(folder: Path, backbone: Path, raw: Path, **sections) -> Path:
    data = {
        "model": {"backbone": str(backbone), "max_length": 96},
        "data": {
            "data_dir": str(raw),
            "train": [{"format": "qed", "name": "qed_train", "path": QED_TRAIN, "limit": 12},
                      {"format": "hotpotqa", "path": HOTPOT, "limit": 8}],
            "dev": [{"format": "qed", "name": "qed_dev", "path": QED_DEV, "limit": 6,
                     "options": {"multi_sentence": "skip"}}],
            "items": 3,
            "seed": 7,
        },
        "negatives": {"method": "bm25", "num_negatives": 2},
        "loss": {"ranking_loss": "auto"},
        "training": {"max_steps": STEPS, "per_device_train_batch_size": 4, "learning_rate": 3.0e-3,
                     "lr_scheduler_type": "constant", "logging_steps": 1, "save_strategy": "steps",
                     "save_steps": STEPS, "use_cpu": True, "dataloader_num_workers": 0},
        "evaluation": {"max_queries": 6},
        "output": {"dir": str(folder / "run"), "model_name": "tiny-test-pruner"},
    }
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def fake_score(query: str, text: str) -> float:
    shared = set(query.lower().split()) & set(text.lower().split())
    return 0.9 if len(shared) >= 3 else 0.1


class FakeTeacher:
    """Stands in for ``load_teacher``: records every pair it is asked to score."""

    def __init__(self) -> None:
        self.loads = 0
        self.pairs: list[tuple[str, str]] = []

    def __call__(self, name_or_path: str, batch_size: int = 32):
        self.loads += 1

        def score(pairs):
            self.pairs.extend(pairs)
            return [fake_score(q, t) for q, t in pairs]

        return score


@pytest.fixture(scope="module")
def trained(tmp_path_factory, raw, tiny_backbone):
    """One real (non-dry) run through the command line: BM25 negatives, fake teacher, 12 steps."""
    folder = tmp_path_factory.mktemp("training")
    path = recipe(folder, tiny_backbone, raw, teacher={"model": "fake-teacher"})
    fake = FakeTeacher()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(teacher_module, "load_teacher", fake)
        assert main([str(path), "--log-level", "WARNING"]) == 0
    config = load_config(path)
    return SimpleNamespace(path=path, config=config, out=Path(config.output.dir), teacher=fake)


def logged_losses(out: Path) -> list[float]:
    state = json.loads((out / "checkpoints" / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def whole_training_set(trained, tokenizer):
    """Every training group as one batch, built exactly as the run built them (mined, teacher-scored)."""
    config = trained.config
    records = load_records(trained.out / "data" / "train.jsonl")
    records = mine_negatives(records, method="bm25", num_negatives=config.negatives.num_negatives)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(teacher_module, "load_teacher", FakeTeacher())
        records = teacher_module.attach_teacher_scores(records, "fake-teacher", trained.out / "teacher_cache")
    dataset = GroupDataset(records, WindowEncoder(tokenizer, config.model.max_length), config.data.items,
                           seed=config.data.seed)
    return GroupCollator(tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))])


def batch_loss(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
        out = model(**inputs)
        total, _ = PrunerLoss(ranking_loss="auto")(out.ranking_logits, out.pruning_logits, batch)
    return float(total)


def test_training_loss_goes_down(trained):
    losses = logged_losses(trained.out)
    assert len(losses) == STEPS
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    # and on a fixed batch (all training groups): the starting model (same seed) against the final one
    from transformers import set_seed

    from text_pruner_rag import TextPruner

    set_seed(trained.config.data.seed)
    initial, tokenizer = run_module.build_model(trained.config)
    final = TextPruner.from_pretrained(str(trained.out / "final"), device="cpu")
    batch = whole_training_set(trained, tokenizer)
    assert batch["teacher_mask"].all() and len(batch["input_ids"]) >= 50
    assert batch_loss(final.model, batch) < batch_loss(initial, batch)


def test_final_model_loads_prunes_and_has_a_card(trained):
    from text_pruner_rag import TextPruner

    final = trained.out / "final"
    pruner = TextPruner.from_pretrained(str(final), device="cpu")
    context = "The Eiffel Tower is in Paris. It was completed in 1889. Bananas are yellow."
    result = pruner.prune("When was the Eiffel Tower completed?", context)
    assert result.score is not None and 0.0 <= result.score <= 1.0
    assert result.pruned_text == "".join(s.text for s in result.sentences if s.kept)
    assert len(result.sentences) == 3
    threshold = json.loads((final / "config.json").read_text())["default_threshold"]
    assert pruner.default_threshold == pytest.approx(threshold)
    readme = (final / "README.md").read_text(encoding="utf-8")
    assert f"default_threshold`: **{threshold:.2f}**" in readme
    assert (final / "threshold_sweep.png").stat().st_size > 1000
    assert "tiny-test-pruner" in readme and "qed" in readme and "CC BY-SA" in readme
    assert "max_steps" in readme  # the recipe is embedded
    from huggingface_hub import ModelCard

    data = ModelCard.load(final / "README.md").data
    assert (data.license, data.pipeline_tag, data.language) == ("cc-by-sa-4.0", "text-ranking", ["en"])
    assert data.library_name == "text-pruner-rag" and "context-pruning" in data.tags


def test_teacher_scored_once_and_cached(trained):
    cache_files = list((trained.out / "teacher_cache").glob("*.jsonl"))
    assert len(cache_files) == 1
    lines = [json.loads(line) for line in cache_files[0].read_text().splitlines()]
    assert trained.teacher.loads == 1
    assert len(lines) == len(trained.teacher.pairs) == len(set(trained.teacher.pairs)) > 20


def test_dry_run_through_main_with_overrides(tmp_path, raw, tiny_backbone):
    path = recipe(tmp_path, tiny_backbone, raw)
    out = tmp_path / "elsewhere"
    assert main([str(path), "--dry-run", "--set", f"output.dir={out}", "--set", "dry_run.steps=1",
                 "--log-level", "WARNING"]) == 0
    assert not (tmp_path / "run").exists()  # --set output.dir took effect
    final = out / "dry_run_final"
    assert (final / "config.json").is_file() and (final / "README.md").is_file()
    train_records = load_records(out / "dry_run_data" / "train.jsonl")
    assert 0 < len(train_records) <= 16  # the first 8 records of each source

    from text_pruner_rag import TextPruner

    assert TextPruner.from_pretrained(str(final), device="cpu").prune("q", "One. Two.").sentences


def test_lora_dry_run_saves_a_merged_model(tmp_path, raw, tiny_backbone, monkeypatch):
    pytest.importorskip("peft")
    from peft import PeftModel
    from safetensors import safe_open

    from text_pruner_rag import TextPruner

    wrapped = []
    original = run_module._wrap_lora

    def spy(model, settings):
        peft_model = original(model, settings)
        wrapped.append(peft_model)
        return peft_model

    monkeypatch.setattr(run_module, "_wrap_lora", spy)
    path = recipe(tmp_path, tiny_backbone, raw)
    out = tmp_path / "lora"
    assert main([str(path), "--dry-run", "--set", f"output.dir={out}", "--set", "model.lora.enabled=true",
                 "--set", "model.lora.r=4", "--log-level", "WARNING"]) == 0
    assert len(wrapped) == 1 and isinstance(wrapped[0], PeftModel)
    final = out / "dry_run_final"
    with safe_open(str(final / "model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert keys and not [k for k in keys if "lora_" in k or "base_model.model" in k or "modules_to_save" in k]
    pruner = TextPruner.from_pretrained(str(final), device="cpu")
    assert pruner.prune("a question", "First sentence. Second sentence.").score is not None


# --------------------------------------------------------------------------------------------------
# Pieces: sampling, mining, teacher cache, losses
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def records(raw) -> list[Record]:
    return (list(read_qed(raw / QED_TRAIN, limit=14, source="qed_train"))
            + list(read_hotpotqa(raw / HOTPOT, limit=8)))


def test_group_sampling_is_deterministic_per_seed(records, bert_tokenizer):
    hotpot = [r for r in records if r.source == "hotpotqa"]
    assert hotpot and all(len(r.passages) >= 6 for r in hotpot)

    def groups(seed):
        return [[p.text for p in sample_group(r, 3, 1, random.Random(seed + i))] for i, r in enumerate(hotpot)]

    assert groups(1) == groups(1)
    assert groups(1) != groups(2)
    for group, record in zip(groups(1), hotpot):
        labels = {p.text: p.label for p in record.passages}
        assert len(group) == 3 and labels[group[0]] == 1 and [labels[t] for t in group[1:]] == [0, 0]

    encoder = WindowEncoder(bert_tokenizer, 96)
    first = GroupDataset(hotpot, encoder, items=3, seed=5)
    again = GroupDataset(hotpot, encoder, items=3, seed=5)
    other = GroupDataset(hotpot, encoder, items=3, seed=6)
    ids = lambda ds: [[p["input_ids"] for p in ds[i]["passages"]] for i in range(len(ds))]  # noqa: E731
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)
    assert all(ds[0]["binary_labels"][0] == 1.0 for ds in (first, other))


def test_bm25_negatives_skip_answers_and_own_passages(records):
    mined = mine_negatives(records, method="bm25", num_negatives=3)
    added = 0
    for before, after in zip(records, mined):
        assert after.passages[:len(before.passages)] == before.passages
        own = {p.text for p in before.passages}
        new = after.passages[len(before.passages):]
        assert len(new) <= 3 and len({p.text for p in new}) == len(new)
        for passage in new:
            added += 1
            assert passage.text not in own
            assert passage.label == 0 and not any(passage.relevance)
            assert not any(a.lower() in passage.text.lower() for a in before.answers if a)
    assert added >= 2 * len(records)
    assert mine_negatives(records, method="bm25", num_negatives=3) == mined  # deterministic


def test_bm25_ranks_by_shared_terms_then_pool_order():
    from types import SimpleNamespace

    from text_pruner_rag.training.negatives import _bm25_rankings

    pool = [SimpleNamespace(text=t) for t in (
        "the cat sat on the mat", "dogs bark loudly at night", "a cat and a dog met", "quantum physics lecture")]
    queries = [SimpleNamespace(query=q) for q in ("cat dog", "zzz unseen", "quantum physics")]
    ranked = _bm25_rankings(queries, pool, "en", None, 64, depth=3)
    assert ranked[0] == [2, 0, 1]  # both terms, then one term, then no shared term (pool order)
    assert ranked[1] == [0, 1, 2]  # no query term in the pool: pool order
    assert ranked[2] == [3, 0, 1]


def test_bm25_excludes_a_passage_holding_the_answer():
    def record(rid, query, answer, text):
        return Record(id=rid, query=query, language="en", source="t", answers=[answer],
                      passages=[Passage(text=text, spans=[(0, len(text))], relevance=[1], label=1)])

    records = [
        record("a", "capital city of france", "Paris", "France is a country in western Europe."),
        record("b", "where is the louvre", "Paris", "The Louvre in Paris is the capital city of france museum."),
        record("c", "tallest mountain", "Everest", "Mount Everest is the tallest mountain on Earth."),
        record("d", "largest ocean", "Pacific", "The Pacific is the largest ocean."),
        record("e", "fastest animal", "cheetah", "The cheetah is the fastest land animal."),
        record("f", "longest river", "Nile", "The Nile is often called the longest river."),
    ]
    texts = lambda rec: [p.text for p in rec.passages[1:]]  # noqa: E731
    with_answers = mine_negatives(records, method="bm25", num_negatives=2, exclude_answers=False)
    assert records[1].passages[0].text in texts(with_answers[0])  # the best BM25 hit holds "Paris"
    mined = mine_negatives(records, method="bm25", num_negatives=2)
    assert records[1].passages[0].text not in texts(mined[0])
    for rec, out in zip(records, mined):
        assert rec.passages[0].text not in texts(out)


def test_teacher_cache_scores_each_pair_once(tmp_path, monkeypatch):
    fake = FakeTeacher()
    monkeypatch.setattr(teacher_module, "load_teacher", fake)

    def rec(rid, query, texts):
        passages = [Passage(text=t, spans=[(0, len(t))], relevance=[int(i == 0)], label=int(i == 0))
                    for i, t in enumerate(texts)]
        return Record(id=rid, query=query, language="en", source="t", answers=[], passages=passages)

    first = [rec("1", "a b c", ["a b c d", "x y z"]), rec("2", "d e f", ["d e f g", "x y z"])]
    scored = teacher_module.attach_teacher_scores(first, "teacher-x", tmp_path)
    assert fake.loads == 1 and len(fake.pairs) == 4
    assert [p.teacher_score for p in scored[0].passages] == [0.9, 0.1]
    again = teacher_module.attach_teacher_scores(first, "teacher-x", tmp_path)
    assert fake.loads == 1 and len(fake.pairs) == 4  # all cached: the teacher is not even loaded
    assert [[p.teacher_score for p in r.passages] for r in again] == [[p.teacher_score for p in r.passages]
                                                                       for r in scored]
    more = first + [rec("3", "g h i", ["g h i j", "a b c d"])]
    teacher_module.attach_teacher_scores(more, "teacher-x", tmp_path)
    assert fake.loads == 2 and len(fake.pairs) == 6 and len(set(fake.pairs)) == 6
    assert all(p.teacher_score is None for r in first for p in r.passages)  # inputs untouched


def test_teacher_scores_only_the_chosen_languages(tmp_path, monkeypatch):
    fake = FakeTeacher()
    monkeypatch.setattr(teacher_module, "load_teacher", fake)

    def rec(rid, query, language):
        passages = [Passage(text=t, spans=[(0, len(t))], relevance=[int(i == 0)], label=int(i == 0))
                    for i, t in enumerate([query + " yes", "other"])]
        return Record(id=rid, query=query, language=language, source="t", answers=[], passages=passages)

    records = [rec("1", "a b c", "en"), rec("2", "東京 タワー 高さ", "ja")]
    scored = teacher_module.attach_teacher_scores(records, "teacher-x", tmp_path, languages=["ja"])
    assert fake.pairs == [("東京 タワー 高さ", "東京 タワー 高さ yes"), ("東京 タワー 高さ", "other")]
    assert [p.teacher_score for p in scored[0].passages] == [None, None]  # English keeps its labels only
    assert [p.teacher_score for p in scored[1].passages] == [0.9, 0.1]
    with pytest.raises(ValueError, match="teacher.languages has no effect"):
        TeacherSettings(languages=["ja"])


def loss_batch(teacher_mask):
    return {
        "pruning_labels": torch.tensor([[-100, 1, 0, -100], [-100, 0, 0, -100], [-100, -100, -100, -100]]),
        "binary_labels": torch.tensor([1.0, 0.0, 1.0]),
        "teacher_scores": torch.tensor([0.9, 0.1, 0.5]),
        "teacher_mask": torch.tensor(teacher_mask, dtype=torch.float),
    }


def test_ranking_loss_modes():
    import torch.nn.functional as F

    torch.manual_seed(0)
    logits = torch.tensor([[0.5], [-1.0], [2.0]])
    pruning_logits = torch.randn(3, 4, 2)
    batch = loss_batch([1, 1, 1])
    teacher = batch["teacher_scores"]
    expected_mse = ((torch.sigmoid(logits[:, 0]) - teacher) ** 2).mean()
    expected_bce = F.binary_cross_entropy_with_logits(logits[:, 0], batch["binary_labels"])
    valid = batch["pruning_labels"] != -100
    expected_prune = F.cross_entropy(pruning_logits[valid], batch["pruning_labels"][valid])

    total, parts = PrunerLoss(ranking_loss="mse")(logits, pruning_logits, batch)
    assert parts["ranking_loss"] == pytest.approx(float(expected_mse))
    assert parts["pruning_loss"] == pytest.approx(float(expected_prune))
    assert total == pytest.approx(0.05 * float(expected_mse) + float(expected_prune))
    _, auto = PrunerLoss(ranking_loss="auto")(logits, pruning_logits, batch)
    assert auto["ranking_loss"] == pytest.approx(float(expected_mse))
    _, bce = PrunerLoss(ranking_loss="bce")(logits, pruning_logits, batch)  # ignores the teacher
    assert bce["ranking_loss"] == pytest.approx(float(expected_bce))
    _, raw_mse = PrunerLoss(ranking_loss="mse", ranking_activation="none")(logits, pruning_logits, batch)
    assert raw_mse["ranking_loss"] == pytest.approx(float(((logits[:, 0] - teacher) ** 2).mean()))

    partial = loss_batch([1, 0, 1])
    with pytest.raises(ValueError, match="teacher"):
        PrunerLoss(ranking_loss="mse")(logits, pruning_logits, partial)
    with pytest.raises(ValueError, match="teacher"):
        PrunerLoss(ranking_loss="mse")(logits, pruning_logits, loss_batch([0, 0, 0]))
    _, mixed = PrunerLoss(ranking_loss="auto")(logits, pruning_logits, partial)
    per_pair = torch.stack([(torch.sigmoid(logits[0, 0]) - 0.9) ** 2,
                            F.binary_cross_entropy_with_logits(logits[1, 0], torch.tensor(0.0)),
                            (torch.sigmoid(logits[2, 0]) - 0.5) ** 2])
    assert mixed["ranking_loss"] == pytest.approx(float(per_pair.mean()))
    _, no_teacher = PrunerLoss(ranking_loss="auto")(logits, pruning_logits, loss_batch([0, 0, 0]))
    assert no_teacher["ranking_loss"] == pytest.approx(float(expected_bce))

    ignored = dict(batch, pruning_labels=torch.full((3, 4), -100))
    total, parts = PrunerLoss(ranking_loss="bce")(logits, pruning_logits.requires_grad_(), ignored)
    assert parts["pruning_loss"] == 0.0 and total.requires_grad


# --------------------------------------------------------------------------------------------------
# Multi-process (slow)
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_dry_run(tmp_path, raw):
    """The GPU recipe's dry run under ``torchrun --nproc_per_node 2`` on CPU (gloo)."""
    out = tmp_path / "ddp"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
               TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="info")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
               "-m", "text_pruner_rag.training", "configs/openprovence-xsmall-gpu.yaml", "--dry-run",
               "--set", f"output.dir={out}", "--set", f"data.data_dir={raw}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    # 2 processes x 2 query groups per device: the Trainer saw a world size of 2
    assert "Total train batch size (w. parallel, distributed & accumulation) = 4" in log, log[-4000:]
    assert done.stdout.count("saved ") == 2
    from text_pruner_rag import TextPruner

    pruner = TextPruner.from_pretrained(str(out / "dry_run_final"), device="cpu")
    assert pruner.prune("質問", "最初の文です。二番目の文です。").sentences
