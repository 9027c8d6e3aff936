"""ONNX Runtime backend: fp32 agrees with torch, int8 runs and stays close, caching, errors."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from sample_texts import CONTEXTS, JAPANESE, long_document

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from text_pruner_rag import TextPruner  # noqa: E402
from text_pruner_rag.backends import onnx as onnx_backend  # noqa: E402

QUERY = "How tall is the Eiffel Tower?"
TEXTS = CONTEXTS + [JAPANESE, long_document(40)]


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path_factory, monkeypatch):
    """Exports go to a per-session temporary cache, never the user's."""
    folder = tmp_path_factory.getbasetemp() / "onnx-cache"
    monkeypatch.setenv("TEXT_PRUNER_RAG_CACHE", str(folder))
    return folder / "onnx"


def _probabilities(results):
    return np.array([s.probability for r in results for s in r.sentences])


def _scores(results):
    return np.array([r.score for r in results])


def _assert_same_as_torch(onnx_pruner, torch_pruner, texts=TEXTS, query=QUERY, atol=1e-3):
    want = torch_pruner.prune_many(query, texts)
    got = onnx_pruner.prune_many(query, texts)
    assert [[(s.start, s.end) for s in r.sentences] for r in got] == [[(s.start, s.end) for s in r.sentences] for r in want]
    np.testing.assert_allclose(_probabilities(got), _probabilities(want), atol=atol, rtol=0)
    np.testing.assert_allclose(_scores(got), _scores(want), atol=atol, rtol=0)
    return want, got


# -- tiny random models ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_onnx(tiny_model_dir, tmp_path_factory):
    import os

    os.environ["TEXT_PRUNER_RAG_CACHE"] = str(tmp_path_factory.getbasetemp() / "onnx-cache")
    try:
        return TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="onnx")
    finally:
        del os.environ["TEXT_PRUNER_RAG_CACHE"]


def test_backend_is_readable(tiny_onnx, tiny_pruner):
    assert tiny_onnx.backend == "onnx" and tiny_onnx.quantize is None
    assert tiny_pruner.backend == "torch" and tiny_pruner.quantize is None


def test_fp32_matches_torch_on_the_tiny_model(tiny_onnx, tiny_pruner):
    _assert_same_as_torch(tiny_onnx, tiny_pruner)


def test_fp32_matches_torch_for_every_batch_shape(tiny_onnx, tiny_pruner):
    # batch size 1 and 3: other batch and sequence sizes than at export, with and without padding
    for batch_size in (1, 3):
        want = tiny_pruner.prune_many(QUERY, TEXTS, batch_size=batch_size)
        got = tiny_onnx.prune_many(QUERY, TEXTS, batch_size=batch_size)
        np.testing.assert_allclose(_probabilities(got), _probabilities(want), atol=1e-3, rtol=0)


def test_export_leaves_the_torch_model_in_eval_mode(tiny_onnx):
    assert not tiny_onnx.model.training
    assert not any(module.training for module in tiny_onnx.model.modules())


def test_rerank_goes_through_the_onnx_graph(tiny_onnx, monkeypatch):
    calls = []
    runner = tiny_onnx._runner
    original = runner.session.run
    monkeypatch.setattr(runner.session, "run", lambda *a, **k: calls.append(1) or original(*a, **k), raising=False)
    monkeypatch.setattr(tiny_onnx.model, "forward", lambda *a, **k: pytest.fail("torch model called"))
    ranked = tiny_onnx.rerank(QUERY, CONTEXTS[:3])
    assert calls and len(ranked) == 3


def test_last_hidden_state_head_input(tiny_model_dir, tmp_path):
    """Provence-style heads (pruning head fed from the backbone's final output) export too."""
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["pruning_head_input"] = "last_hidden_state"
    folder = tmp_path / "lhs"
    folder.mkdir()
    for item in tiny_model_dir.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    (folder / "config.json").write_text(json.dumps(config))
    reference = TextPruner.from_pretrained(folder, device="cpu")
    assert reference.model.config.pruning_head_input == "last_hidden_state"
    _assert_same_as_torch(TextPruner.from_pretrained(folder, device="cpu", backend="onnx"), reference)


@pytest.mark.parametrize("fmt", ["open_provence", "provence", "xprovence"])
def test_foreign_formats_export_exactly_or_refuse_clearly(fmt, tmp_path, bert_tokenizer):
    """ModernBERT (OpenProvence), DeBERTa-v2 with a last_hidden_state head (Provence), XLM-R with a
    pooler ranking head (XProvence): either the graph reproduces torch or the error says to use torch."""
    import checkpoint_fixtures as fixtures

    writer = {"open_provence": fixtures.write_open_provence, "provence": fixtures.write_provence,
              "xprovence": fixtures.write_xprovence}[fmt]
    checkpoint = writer(tmp_path / fmt, bert_tokenizer)
    reference = TextPruner.from_pretrained(checkpoint.folder, device="cpu")
    try:
        exported = TextPruner.from_pretrained(checkpoint.folder, device="cpu", backend="onnx")
    except onnx_backend.OnnxExportError as exc:
        assert "backend='torch'" in str(exc)
        return
    _assert_same_as_torch(exported, reference, texts=CONTEXTS[:4])


def test_int8_runs_and_stays_close_on_the_tiny_model(tiny_model_dir, tiny_pruner):
    pruner = TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="onnx", quantize="int8")
    assert pruner.backend == "onnx" and pruner.quantize == "int8"
    results = pruner.prune_many(QUERY, TEXTS)
    want = tiny_pruner.prune_many(QUERY, TEXTS)
    for got, ref in zip(results, want):
        assert got.context == ref.context
        assert got.pruned_text == "".join(s.text for s in got.sentences if s.kept)
    probabilities = _probabilities(results)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    # int8 is an approximation, not a different model: probabilities within a few hundredths
    np.testing.assert_allclose(probabilities, _probabilities(want), atol=0.05, rtol=0)


def test_int8_keeps_narrowing_matmuls_float(tiny_pruner, tmp_path):
    import onnx

    fp32 = onnx_backend.export_onnx(tiny_pruner.model, tmp_path / "fp32.onnx")
    int8 = onnx_backend.export_onnx(tiny_pruner.model, tmp_path / "int8.onnx", quantize="int8")
    source = onnx.load(str(fp32))
    shapes = {i.name: tuple(i.dims) for i in source.graph.initializer}
    weighted = [n for n in source.graph.node if n.op_type in ("MatMul", "Gemm") and len(shapes.get(n.input[1], ())) == 2]
    # every layer's feed-forward down-projection and the pruning head; the Gemm classifiers are quantized
    narrowing = onnx_backend.narrowing_matmuls(source)
    layers = tiny_pruner.model.backbone_config.num_hidden_layers
    assert len(narrowing) == layers + 1
    assert sum("output/dense" in name and "attention" not in name for name in narrowing) == layers
    nodes = {n.name: n.op_type for n in onnx.load(str(int8)).graph.node}
    assert all(nodes.get(name) == "MatMul" for name in narrowing)  # still float
    assert sum(op == "MatMulInteger" for op in nodes.values()) == len(weighted) - len(narrowing)


def test_shipped_int8_of_another_recipe_is_not_used(tiny_pruner, tmp_path, onnx_cache, caplog):
    tiny_pruner.save_pretrained(tmp_path / "ckpt", backend="onnx", quantize="int8")
    meta_path = tmp_path / "ckpt" / "onnx" / "export.json"
    meta = json.loads(meta_path.read_text())
    meta["files"]["model_int8.onnx"]["recipe"] = "older"
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        loaded = TextPruner.from_pretrained(tmp_path / "ckpt", device="cpu", backend="onnx", quantize="int8")
    assert loaded._runner.path.parent.parent == onnx_cache and "another recipe" in caplog.text


# -- caching and saved graphs ------------------------------------------------------------------------
def test_second_load_reuses_the_cache(tiny_model_dir, onnx_cache, monkeypatch):
    TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="onnx")
    files = sorted(onnx_cache.glob("*/model.onnx"))
    assert files
    monkeypatch.setattr(onnx_backend, "export_onnx", lambda *a, **k: pytest.fail("exported again"))
    again = TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="onnx")
    assert again._runner.path in files


def test_save_pretrained_with_onnx_is_loaded_without_export(tiny_pruner, tmp_path, monkeypatch, onnx_cache):
    tiny_pruner.save_pretrained(tmp_path / "ckpt", backend="onnx")
    tiny_pruner.save_pretrained(tmp_path / "ckpt", backend="onnx", quantize="int8")
    assert (tmp_path / "ckpt" / "onnx" / "model.onnx").is_file()
    assert (tmp_path / "ckpt" / "onnx" / "model_int8.onnx").is_file()
    meta = json.loads((tmp_path / "ckpt" / "onnx" / "export.json").read_text())
    assert set(meta["files"]) == {"model.onnx", "model_int8.onnx"}
    monkeypatch.setattr(onnx_backend, "export_onnx", lambda *a, **k: pytest.fail("exported again"))
    loaded = TextPruner.from_pretrained(tmp_path / "ckpt", device="cpu", backend="onnx")
    assert loaded._runner.path == tmp_path / "ckpt" / "onnx" / "model.onnx"
    loaded8 = TextPruner.from_pretrained(tmp_path / "ckpt", device="cpu", backend="onnx", quantize="int8")
    assert loaded8._runner.path == tmp_path / "ckpt" / "onnx" / "model_int8.onnx"
    _assert_same_as_torch(loaded, tiny_pruner, texts=CONTEXTS[:3])


def test_stale_saved_graph_is_ignored(tiny_pruner, tmp_path, caplog):
    tiny_pruner.save_pretrained(tmp_path / "ckpt", backend="onnx")
    other = TextPruner.from_pretrained(tmp_path / "ckpt", device="cpu")
    with torch.no_grad():
        other.model.pruning_head.classifier.bias.add_(1.0)
    other.save_pretrained(tmp_path / "changed")  # torch files only
    (tmp_path / "changed" / "onnx").mkdir()
    for name in ("model.onnx", "export.json"):  # the old graph next to new weights
        (tmp_path / "changed" / "onnx" / name).write_bytes((tmp_path / "ckpt" / "onnx" / name).read_bytes())
    with caplog.at_level(logging.WARNING, logger="text_pruner_rag.backends.onnx"):
        loaded = TextPruner.from_pretrained(tmp_path / "changed", device="cpu", backend="onnx")
    assert "not exported from these weights" in caplog.text
    assert loaded._runner.path != tmp_path / "changed" / "onnx" / "model.onnx"
    _assert_same_as_torch(loaded, TextPruner.from_pretrained(tmp_path / "changed", device="cpu"), texts=CONTEXTS[:3])


def test_constructor_backend(tiny_model_dir):
    from text_pruner_rag.checkpoints import load_pruner_model, load_tokenizer

    model = load_pruner_model(tiny_model_dir)
    pruner = TextPruner(model, load_tokenizer(tiny_model_dir, model.backbone_config), device="cpu", backend="onnx")
    assert pruner.backend == "onnx"


# -- errors ------------------------------------------------------------------------------------------
def test_onnx_needs_cpu_and_float32(tiny_model_dir):
    with pytest.raises(ValueError, match="float32"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", dtype="bfloat16", backend="onnx")


def test_missing_onnxruntime_is_a_clear_error(tiny_model_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"text-pruner-rag\[onnx\]"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="onnx")


def test_export_that_does_not_reproduce_torch_is_refused(tiny_pruner, tmp_path, monkeypatch):
    real = onnx_backend._export_fp32

    def broken(model, path):  # export a model whose pruning head differs from the one checked
        import copy

        other = copy.deepcopy(model)
        with torch.no_grad():
            other.pruning_head.classifier.bias.add_(torch.tensor([-3.0, 3.0]))
        real(other, path)

    monkeypatch.setattr(onnx_backend, "_export_fp32", broken)
    with pytest.raises(onnx_backend.OnnxExportError, match="does not reproduce"):
        onnx_backend.export_onnx(tiny_pruner.model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# -- the embedded model ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded():
    return TextPruner.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def embedded_texts():
    from sample_texts import CONTEXTS as texts

    return [t for t in texts if t.strip()][:8] + [long_document(30)]


def test_embedded_model_fp32_matches_torch(embedded, embedded_texts):
    exported = TextPruner.from_pretrained(device="cpu", backend="onnx")
    _assert_same_as_torch(exported, embedded, texts=embedded_texts)
    _assert_same_as_torch(exported, embedded, texts=embedded_texts, query="東京タワーの高さは？")


def test_embedded_model_int8_keeps_almost_every_decision(embedded, embedded_texts):
    quantized = TextPruner.from_pretrained(device="cpu", backend="onnx", quantize="int8")
    want = embedded.prune_many(QUERY, embedded_texts)
    got = quantized.prune_many(QUERY, embedded_texts)
    decisions = [(a.kept, b.kept) for r, q in zip(want, got) for a, b in zip(r.sentences, q.sentences)]
    changed = sum(a != b for a, b in decisions)
    assert changed <= max(1, len(decisions) // 20), f"{changed} of {len(decisions)} decisions changed"
    np.testing.assert_allclose(_probabilities(got), _probabilities(want), atol=0.1, rtol=0)


def test_docs_onnx_page_runs_as_written():
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "onnx.md").read_text(encoding="utf-8")
    block = re.findall(r"```python\n(.*?)```", page, flags=re.S)[0]
    namespace: dict = {}
    exec(compile(block, "docs/onnx.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert (namespace["fast"].backend, namespace["fast"].quantize) == ("onnx", "int8")


# -- a broken exported graph in a checkpoint is a CheckpointError naming the file -------------------
@pytest.fixture(scope="module")
def saved_onnx(tiny_pruner, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved-onnx") / "ckpt"
    tiny_pruner.save_pretrained(folder, backend="onnx")
    return folder


@pytest.mark.parametrize("name,how", [
    ("model.onnx", "half"), ("model.onnx", "random"), ("model.onnx", "empty"), ("model.onnx", "folder"),
    ("model.onnx", "fifo"), ("model.onnx", "symlink_loop"), ("export.json", "not_utf8"), ("export.json", "folder"),
])
def test_corrupt_saved_graph_is_a_checkpoint_error(saved_onnx, tmp_path, name, how, monkeypatch):
    import os
    import shutil

    from text_pruner_rag.checkpoints import CheckpointError

    folder = tmp_path / "ckpt"
    shutil.copytree(saved_onnx, folder)
    path = folder / "onnx" / name
    data = path.read_bytes()
    if how in ("folder", "fifo", "symlink_loop"):
        path.unlink()
        {"folder": path.mkdir, "fifo": lambda: os.mkfifo(path), "symlink_loop": lambda: path.symlink_to(name)}[how]()
    else:
        path.write_bytes({"half": data[: len(data) // 2], "random": bytes(range(256)) * 8, "empty": b"",
                          "not_utf8": b'{"fingerprint": "\xff"}'}[how])
    monkeypatch.setattr(onnx_backend, "export_onnx", lambda *a, **k: pytest.fail("exported instead of refusing"))
    with pytest.raises(CheckpointError, match=str(path)):
        TextPruner.from_pretrained(folder, device="cpu", backend="onnx")
