"""`text-pruner-rag` command line, called in-process through `main([...])`."""

from __future__ import annotations

import io
import json

import pytest
from sample_texts import CONTEXTS, JAPANESE

from text_pruner_rag import cli

QUERY = "How tall is the Eiffel Tower?"


@pytest.fixture()
def context_file(tmp_path):
    path = tmp_path / "context.txt"
    path.write_text(CONTEXTS[0], encoding="utf-8")
    return path


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prune_prints_the_pruned_text(tiny_model_dir, tiny_pruner, context_file, capsys):
    code, out, err = run(["prune", "--query", QUERY, context_file, "--model", tiny_model_dir, "--device", "cpu",
                          "--threshold", "0.5"], capsys)
    assert code == 0, err
    expected = tiny_pruner.prune(QUERY, CONTEXTS[0], threshold=0.5).pruned_text
    assert out == (expected if expected.endswith("\n") else expected + "\n")


def test_prune_json(tiny_model_dir, tiny_pruner, context_file, capsys):
    code, out, err = run(["prune", "-q", QUERY, context_file, "-m", tiny_model_dir, "--device", "cpu",
                          "--threshold", "0.4", "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    reference = tiny_pruner.prune(QUERY, CONTEXTS[0], threshold=0.4)
    assert set(payload) >= {"score", "compression_rate", "pruned_text", "sentences"}
    assert payload["pruned_text"] == reference.pruned_text
    assert payload["score"] == pytest.approx(reference.score)
    assert payload["compression_rate"] == pytest.approx(reference.compression_rate)
    assert payload["threshold"] == 0.4
    assert [(s["text"], s["start"], s["end"], s["kept"]) for s in payload["sentences"]] == [
        (s.text, s.start, s.end, s.kept) for s in reference.sentences]
    assert [s["probability"] for s in payload["sentences"]] == pytest.approx(
        [s.probability for s in reference.sentences])
    for s in payload["sentences"]:
        assert CONTEXTS[0][s["start"]:s["end"]] == s["text"]


def test_default_threshold_comes_from_the_model(tiny_model_dir, context_file, capsys):
    code, out, _ = run(["prune", "-q", QUERY, context_file, "-m", tiny_model_dir, "--device", "cpu", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["threshold"] == 0.5
    assert [s["kept"] for s in payload["sentences"]] == [s["probability"] > 0.5 for s in payload["sentences"]]


def test_threshold_extremes(tiny_model_dir, context_file, capsys):
    code, out, _ = run(["prune", "-q", QUERY, context_file, "-m", tiny_model_dir, "--device", "cpu", "-t", "0"], capsys)
    assert code == 0 and out == CONTEXTS[0] + "\n"
    code, out, _ = run(["prune", "-q", QUERY, context_file, "-m", tiny_model_dir, "--device", "cpu", "-t", "1"], capsys)
    assert code == 0 and out == "\n"


def test_stdin_and_japanese(tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(JAPANESE))
    code, out, err = run(["prune", "-q", "東京タワーの高さは？", "-", "-m", tiny_model_dir, "--device", "cpu",
                          "--language", "ja", "--json", "-t", "0"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["pruned_text"] == JAPANESE
    assert payload["sentences"][0]["text"] == "東京タワーは東京都港区にある電波塔です。"
    assert "東京" in out  # not \u-escaped


def test_stdin_is_the_default(tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Only one sentence here."))
    code, out, _ = run(["prune", "-q", QUERY, "-m", tiny_model_dir, "--device", "cpu", "-t", "0"], capsys)
    assert code == 0 and out == "Only one sentence here.\n"


def test_min_sentences_and_keep_first(tiny_model_dir, context_file, capsys):
    code, out, _ = run(["prune", "-q", QUERY, context_file, "-m", tiny_model_dir, "--device", "cpu", "-t", "1",
                        "--min-sentences", "1", "--json"], capsys)
    assert code == 0
    assert sum(s["kept"] for s in json.loads(out)["sentences"]) == 1


def test_every_policy_option_reaches_the_pruner(tiny_model_dir, tiny_pruner, context_file, capsys):
    from text_pruner_rag import PruningPolicy

    options = ["--threshold", "0.3", "--min-sentences", "2", "--keep-first", "--keep-ratio", "0.5",
               "--context-token-budget", "40", "--token-budget", "30"]
    code, out, err = run(["prune", "-q", QUERY, context_file, "-m", tiny_model_dir, "--device", "cpu", *options,
                          "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    policy = PruningPolicy(threshold=0.3, min_sentences=2, keep_first=True, keep_ratio=0.5,
                           context_token_budget=40, token_budget=30)
    assert payload["policy"] == {"threshold": 0.3, "min_sentences": 2, "keep_first": True, "keep_ratio": 0.5,
                                 "context_token_budget": 40, "token_budget": 30, "always_select_title": None}
    expected = tiny_pruner.prune(QUERY, CONTEXTS[0], policy=policy)
    assert payload["pruned_text"] == expected.pruned_text
    assert [s["kept"] for s in payload["sentences"]] == [s.kept for s in expected.sentences]
    assert sum(tiny_pruner.count_tokens([payload["pruned_text"]])) <= 30


def test_empty_file(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    code, out, _ = run(["prune", "-q", QUERY, tmp_path / "empty.txt", "-m", tiny_model_dir, "--device", "cpu",
                        "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["pruned_text"] == "" and payload["score"] is None and payload["sentences"] == []


def test_rerank(tiny_model_dir, tiny_pruner, tmp_path, capsys):
    files = []
    for i, text in enumerate(CONTEXTS[:4]):
        files.append(tmp_path / f"doc{i}.txt")
        files[-1].write_text(text, encoding="utf-8")
    code, out, err = run(["rerank", "-q", QUERY, *files, "-m", tiny_model_dir, "--device", "cpu"], capsys)
    assert code == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    expected = tiny_pruner.rerank(QUERY, CONTEXTS[:4])
    assert [name for _, name in lines] == [str(files[r.index]) for r in expected]
    assert [float(score) for score, _ in lines] == pytest.approx([r.score for r in expected], abs=1e-5)
    code, out, _ = run(["rerank", "-q", QUERY, *files, "-m", tiny_model_dir, "--device", "cpu", "--top-n", "2",
                        "--json"], capsys)
    assert code == 0
    assert [row["file"] for row in json.loads(out)] == [str(files[r.index]) for r in expected[:2]]


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prune", "FILE"], "--query"),
        (["prune", "-q", QUERY, "FILE", "--threshold", "1.5"], "must be in [0, 1]"),
        (["prune", "-q", QUERY, "FILE", "--threshold", "high"], "not a number"),
        (["prune", "-q", QUERY, "FILE", "--language", "fr"], "invalid choice"),
        (["prune", "-q", QUERY, "FILE", "--min-sentences", "-1"], "--min-sentences: `min_sentences` must be an integer >= 0"),
        (["prune", "-q", QUERY, "FILE", "--keep-ratio", "0"], "--keep-ratio: `keep_ratio` must be in (0, 1]"),
        (["prune", "-q", QUERY, "FILE", "--token-budget", "-3"], "--token-budget: `token_budget` must be an integer"),
        (["prune", "-q", QUERY, "FILE", "--context-token-budget", "x"], "not an integer"),
        (["prune", "-q", QUERY, "FILE", "--no-such-option"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        ([], "a command is required"),
        (["prune", "-q", "  ", "FILE"], "--query must not be empty"),
        (["prune", "-q", QUERY, "MISSING"], "no such file"),
        (["prune", "-q", QUERY, "DIR"], "is a directory"),
        (["prune", "-q", QUERY, "BINARY"], "not UTF-8"),
        (["prune", "-q", QUERY, "FILE", "--device", "quantum"], "invalid device"),
        (["prune", "-q", QUERY, "FILE", "--batch-size", "0"], "--batch-size"),
    ],
)
def test_bad_usage_exits_2(argv, message, tiny_model_dir, context_file, tmp_path, capsys):
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00bad")
    replace = {"FILE": context_file, "MISSING": tmp_path / "missing.txt", "DIR": tmp_path,
               "BINARY": tmp_path / "binary.bin"}
    argv = [replace.get(a, a) for a in argv]
    if argv and argv[0] == "prune" and "--query" not in message:
        argv += ["--model", tiny_model_dir]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert out == ""


def test_bad_model_folder_exits_2(tmp_path, context_file, capsys):
    code, out, err = run(["prune", "-q", QUERY, context_file, "--model", tmp_path / "nowhere"], capsys)
    assert code == 2 and "no such folder" in err and out == ""
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json", encoding="utf-8")
    code, out, err = run(["prune", "-q", QUERY, context_file, "--model", tmp_path / "broken"], capsys)
    assert code == 2 and "malformed JSON" in err and "cannot load model" in err


def test_missing_default_model_is_reported(monkeypatch, context_file, capsys, tmp_path):
    from text_pruner_rag import registry

    monkeypatch.setattr(registry, "installed_models", dict)  # no model distribution installed
    code, out, err = run(["prune", "-q", QUERY, context_file], capsys)
    assert code == 1
    assert "embedded default model is missing" in err and "--model" in err
    assert out == ""


def test_a_library_failure_is_not_a_usage_error(tiny_model_dir, context_file, monkeypatch, capsys):
    from text_pruner_rag.pruner import TextPruner

    def broken(self, *args, **kwargs):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(TextPruner, "prune", broken)
    code, out, err = run(["prune", "-q", QUERY, context_file, "--model", tiny_model_dir], capsys)
    assert code == 1 and out == ""
    assert "Traceback" in err and "ValueError: an internal invariant broke" in err


def test_checkpoint_and_usage_errors_are_exit_2_and_one_line(tiny_model_dir, context_file, monkeypatch, capsys):
    from text_pruner_rag.checkpoints import CheckpointError
    from text_pruner_rag.pruner import TextPruner

    def unreadable(*args, **kwargs):
        raise CheckpointError("weights/model.safetensors: truncated file")

    monkeypatch.setattr(TextPruner, "from_pretrained", unreadable)
    code, _, err = run(["prune", "-q", QUERY, context_file, "--model", tiny_model_dir], capsys)
    assert code == 2 and err == "text-pruner-rag prune: error: cannot load model: weights/model.safetensors: truncated file\n"
    assert issubclass(cli.UsageError, Exception) and not issubclass(cli.UsageError, ValueError)


@pytest.mark.parametrize("option", ["--batch-size", "--top-n"])
def test_count_options_take_integers_only(option, tiny_model_dir, context_file, capsys):
    code, out, err = run(["rerank", "-q", QUERY, context_file, "--model", tiny_model_dir, option, "2.5"], capsys)
    assert code == 2 and out == "" and f"argument {option}: not an integer" in err


def test_help_and_version(capsys):
    assert cli.main(["--help"]) == 0
    assert "prune" in capsys.readouterr().out
    assert cli.main(["prune", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--threshold" in out and "--json" in out
    assert cli.main(["--version"]) == 0
    assert "text-pruner-rag" in capsys.readouterr().out


def test_console_script_is_declared():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["text-pruner-rag"] == "text_pruner_rag.cli:main"


# -- crafted checkpoints and bad text: one line on stderr, exit 2, no traceback (issue 11) ----------
def _crafted(kind, tiny_model_dir, tmp_path):
    import shutil

    folder = tmp_path / f"crafted-{kind}"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    config = json.loads((folder / "config.json").read_text())
    if kind == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif kind == "random":
        weights.write_bytes(bytes(range(256)) * 16)
    elif kind == "list-weight-map":
        weights.rename(folder / "model-1.safetensors")
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": ["model-1.safetensors"]}))
    elif kind == "outside-shard":
        weights.rename(folder / "model-1.safetensors")
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../model-1.safetensors"}}))
    elif kind == "empty-vocab":
        for path in folder.iterdir():
            if path.name.startswith(("tokenizer", "special_tokens")):
                path.unlink()
        (folder / "vocab.txt").write_text("")
    elif kind == "unknown-backbone":
        config["base_model_config"]["model_type"] = "no-such-backbone"
    elif kind == "huge":
        config["base_model_config"].update(hidden_size=2 ** 20, intermediate_size=2 ** 20)
    elif kind == "nan":
        import torch
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(weights))
        tensors["pruning_head.classifier.bias"][0] = float("nan")
        save_file(tensors, str(weights))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("kind", ["truncated", "random", "list-weight-map", "outside-shard", "empty-vocab",
                                  "unknown-backbone", "huge", "nan"])
def test_crafted_checkpoints_exit_2_with_one_line(kind, tiny_model_dir, context_file, tmp_path, capsys):
    folder = _crafted(kind, tiny_model_dir, tmp_path)
    code, out, err = run(["prune", "-q", QUERY, context_file, "--model", folder, "--device", "cpu"], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("text-pruner-rag prune: error: cannot load model")
    assert folder.name in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["prune", "rerank"])
def test_query_with_lone_surrogates_exits_2(command, tiny_model_dir, context_file, capsys):
    # what Python makes of a command-line argument that is not valid UTF-8 (surrogateescape)
    code, out, err = run([command, "-q", "caf\udce9?", context_file, "-m", tiny_model_dir], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--query" in err and "not valid UTF-8" in err


@pytest.mark.parametrize("data", [b"caf\xe9 au lait.", b"\xff\xfe\x00bad", b"ok \xed\xa0\x80 surrogate."])
def test_undecodable_stdin_exits_2(data, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code, out, err = run(["prune", "-q", QUERY, "-", "-m", tiny_model_dir], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "stdin is not UTF-8 text" in err


def test_stdin_decoded_with_surrogateescape_exits_2(tiny_model_dir, monkeypatch, capsys):
    """Under a C/POSIX locale Python reads stdin with errors="surrogateescape"."""
    stream = io.TextIOWrapper(io.BytesIO(b"caf\xe9."), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr("sys.stdin", stream)
    code, out, err = run(["prune", "-q", QUERY, "-", "-m", tiny_model_dir], capsys)
    assert code == 2 and "stdin is not UTF-8 text" in err


def test_undecodable_bytes_from_a_real_shell(tiny_model_dir, tmp_path):
    """The real process: argv and stdin bytes as a shell passes them, no traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), HF_HUB_OFFLINE="1", LC_ALL="C.UTF-8")
    cmd = [sys.executable.encode(), b"-m", b"text_pruner_rag.cli", b"prune", b"-m", bytes(tiny_model_dir)]
    argv = subprocess.run(cmd + [b"-q", b"caf\xe9?", b"-"], input=b"Fine text.", env=env, capture_output=True,
                          timeout=300)
    stdin = subprocess.run(cmd + [b"-q", b"Where?", b"-"], input=b"caf\xe9.", env=env, capture_output=True,
                           timeout=300)
    for proc, what in ((argv, b"--query"), (stdin, b"stdin")):
        assert proc.returncode == 2, proc.stderr
        assert what in proc.stderr and b"Traceback" not in proc.stderr and proc.stderr.count(b"\n") == 1
