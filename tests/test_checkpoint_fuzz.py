"""Checkpoint fuzzing: every corruption of every file of every layout we read is a CheckpointError.

Tiny checkpoints of each on-disk layout (ours, OpenProvence release and Trainer, naver Provence and
XProvence; see ``checkpoint_fixtures.py``) are copied, one file is corrupted (cut short, emptied,
replaced by a folder, a symlink loop, a dangling symlink, a FIFO, bytes that are not UTF-8, random
bytes, or, in ``config.json``, a value of the wrong JSON type for one key), and loading must raise
:class:`CheckpointError` whose message holds the corrupted path. The hub is never asked about a local
path (``snapshot_download`` is replaced by a function that fails the test). A sample goes through the
command line, in-process, which must print one line and exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from checkpoint_fixtures import write_open_provence, write_provence, write_xprovence
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from text_pruner_rag import TextPruner, cli
from text_pruner_rag.checkpoints import CheckpointError

LAYOUTS = ("ours", "open_provence", "open_provence_flat", "provence", "xprovence")
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
FILE_CORRUPTIONS = ("half", "empty", "folder", "symlink_loop", "dangling_symlink", "fifo", "not_utf8")
# Keys of config.json that no loader reads (informational in the public formats): any type loads.
IGNORED_KEYS = {
    "architectures", "auto_map", "transformers_version", "_name_or_path", "mode", "tokenizer_name_or_path",
    "num_pruning_labels", "encoder_architecture", "vocab_size", "hidden_size", "splitter_default_language",
    "classifier_dropout",  # Trainer checkpoints' top-level copy; training only, the head reads pruning_config's
}
IGNORED_TOP_LEVEL = {"open_provence": IGNORED_KEYS, "open_provence_flat": IGNORED_KEYS,
                     "ours": {"architectures", "transformers_version"},
                     "provence": {"architectures", "auto_map", "transformers_version", "_name_or_path"},
                     "xprovence": {"architectures", "auto_map", "transformers_version", "_name_or_path"}}
# A value of each JSON type that no key of that other type accepts.
WRONG_VALUES = {
    str: [7, ["x"]],
    bool: ["true", 1],
    int: ["8", 2.5],
    float: ["0.5", [0.5]],
    dict: [["x"], "x"],
    list: [{"x": 1}, 7],  # not a string: transformers accepts "p2c|c2p" for DeBERTa's `pos_att_type`
}


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """A local path, however broken, must never be looked up on the hub."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"hub lookup for {args} {kwargs}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, bert_tokenizer, tiny_model_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz-pristine")
    folders = {"ours": tiny_model_dir}
    write_open_provence(root / "open_provence", bert_tokenizer)
    write_open_provence(root / "open_provence_flat", bert_tokenizer, flat=True)
    write_provence(root / "provence", bert_tokenizer)
    write_xprovence(root / "xprovence", bert_tokenizer)
    folders.update({name: root / name for name in LAYOUTS[1:]})
    return folders


def _copy(pristine: dict[str, Path], layout: str, where: Path) -> Path:
    folder = where / f"ckpt-{layout}"
    shutil.copytree(pristine[layout], folder)
    return folder


def _corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "folder":
        path.unlink()
        path.mkdir()
        (path / "inside.txt").write_text("x")
    elif how == "symlink_loop":
        path.unlink()
        path.symlink_to(path.name)
    elif how == "dangling_symlink":
        path.unlink()
        path.symlink_to(path.parent / "no-such-file")
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "not_utf8":  # a byte that is never UTF-8 inside the first JSON string
        start = data.index(b'"', 8 if path.suffix == ".safetensors" else 0) + 1
        path.write_bytes(data[:start] + b"\xff\xfe" + data[start:])
    else:  # pragma: no cover
        raise AssertionError(how)


def _assert_refused(folder, named) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        TextPruner.from_pretrained(folder, device="cpu")
    assert str(named) in str(info.value), f"{named} not named in: {info.value}"
    return info.value


# -- the pristine checkpoints load: each corruption below is what makes loading fail -------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pristine_layouts_load(pristine, layout):
    assert sorted(p.name for p in pristine[layout].iterdir() if p.suffix != ".py") == sorted(FILES)
    TextPruner.from_pretrained(pristine[layout], device="cpu")


# -- each file of each layout, corrupted -------------------------------------------------------------
@pytest.mark.parametrize("how", FILE_CORRUPTIONS)
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_corrupted_file_is_a_checkpoint_error_naming_it(pristine, layout, name, how, tmp_path):
    folder = _copy(pristine, layout, tmp_path)
    _corrupt(folder / name, how)
    _assert_refused(folder, folder / name)


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("layout", ["ours", "provence"])
def test_random_bytes_are_a_checkpoint_error_naming_the_file(pristine, layout, name, data):
    if name.endswith(".json"):
        try:
            json.loads(data)
            assume(False)  # a valid JSON document is not a corruption of the bytes
        except ValueError:
            pass
    with tempfile.TemporaryDirectory() as where:
        folder = _copy(pristine, layout, Path(where))
        (folder / name).write_bytes(data)
        _assert_refused(folder, folder / name)


# -- config.json: a value of the wrong JSON type for every key ---------------------------------------
def _wrong_type_cases(raw: dict, layout: str):
    """Yield (keys, value, refused) for each typed key of ``raw`` (and of its backbone config)."""
    for key, value in raw.items():
        if key == "base_model_config" and isinstance(value, dict):
            for sub, sub_value in value.items():
                if sub == "model_type" or type(sub_value) not in WRONG_VALUES:
                    continue
                refused = sub not in {"architectures", "transformers_version", "_name_or_path"}
                for wrong in WRONG_VALUES[type(sub_value)]:
                    yield (key, sub), wrong, refused
            continue
        if key == "model_type" or type(value) not in WRONG_VALUES:
            continue
        refused = key not in IGNORED_TOP_LEVEL[layout]
        for wrong in WRONG_VALUES[type(value)]:
            yield (key,), wrong, refused


@pytest.mark.parametrize("layout", LAYOUTS)
def test_wrong_json_type_for_every_config_key(pristine, layout, tmp_path):
    source = json.loads((pristine[layout] / "config.json").read_text())
    failures = []
    cases = list(_wrong_type_cases(source, layout))
    assert len(cases) > 20
    for index, (keys, wrong, refused) in enumerate(cases):
        folder = tmp_path / str(index)
        shutil.copytree(pristine[layout], folder)
        raw = json.loads(json.dumps(source))
        target = raw
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = wrong
        (folder / "config.json").write_text(json.dumps(raw))
        try:
            TextPruner.from_pretrained(folder, device="cpu")
            outcome = "loaded"
        except CheckpointError as exc:
            outcome = "named" if str(folder / "config.json") in str(exc) and keys[-1] in str(exc) else f"vague: {exc}"
        except Exception as exc:  # noqa: BLE001 (any other exception is the defect being recorded)
            outcome = f"{type(exc).__name__}: {exc}"
        expected = "named" if refused else "loaded"
        if outcome != expected:
            failures.append(f"{'.'.join(keys)}={wrong!r}: expected {expected}, got {outcome[:160]}")
        shutil.rmtree(folder)
    assert not failures, f"{len(failures)}/{len(cases)} cases:\n" + "\n".join(failures)


# -- the checkpoint path itself ----------------------------------------------------------------------
def test_empty_path_is_not_the_current_folder(tmp_path, monkeypatch, tiny_model_dir):
    # even where the current folder is a valid checkpoint, "" is a mistake, not a name for it
    monkeypatch.chdir(tiny_model_dir)
    with pytest.raises(CheckpointError, match="''"):
        TextPruner.from_pretrained("", device="cpu")


@pytest.mark.parametrize("how", ["symlink_loop", "dangling_symlink", "fifo", "file"])
def test_broken_checkpoint_path_is_named_without_a_hub_lookup(tmp_path, how):
    path = tmp_path / "model"
    if how == "symlink_loop":
        path.symlink_to("model")
    elif how == "dangling_symlink":
        path.symlink_to(tmp_path / "gone")
    elif how == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("{}")
    _assert_refused(path, path)


def test_folder_behind_a_symlink_loads(pristine, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(pristine["ours"], target_is_directory=True)
    TextPruner.from_pretrained(link, device="cpu")


def test_token_type_ids_past_the_embeddings(pristine, tmp_path):
    """BERT tokenizers give pair ids 0/1: one token type in the config cannot embed the second."""
    folder = _copy(pristine, "ours", tmp_path)
    raw = json.loads((folder / "config.json").read_text())
    raw["base_model_config"]["type_vocab_size"] = 1
    (folder / "config.json").write_text(json.dumps(raw))
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    key = "ranking_model.bert.embeddings.token_type_embeddings.weight"
    tensors[key] = tensors[key][:1].clone()
    save_file(tensors, str(folder / "model.safetensors"))
    error = _assert_refused(folder, folder / "config.json")
    assert "type_vocab_size" in str(error)


def test_pad_token_past_the_embeddings(pristine, tmp_path):
    folder = _copy(pristine, "ours", tmp_path)
    raw = json.loads((folder / "config.json").read_text())
    raw["base_model_config"]["pad_token_id"] = 10 ** 6
    (folder / "config.json").write_text(json.dumps(raw))
    _assert_refused(folder, folder / "config.json")


# -- the command line: one line, exit 2 ----------------------------------------------------------------
@pytest.mark.parametrize("layout,name,how", [
    ("ours", "config.json", "folder"),
    ("ours", "config.json", "not_utf8"),
    ("ours", "config.json", "symlink_loop"),
    ("open_provence", "config.json", "fifo"),
    ("provence", "model.safetensors", "half"),
    ("xprovence", "tokenizer.json", "not_utf8"),
    ("open_provence_flat", "tokenizer_config.json", "dangling_symlink"),
    ("ours", "tokenizer.json", "empty"),
])
def test_cli_prints_one_line_and_exits_2(pristine, layout, name, how, tmp_path, capsys):
    folder = _copy(pristine, layout, tmp_path)
    _corrupt(folder / name, how)
    context = tmp_path / "context.txt"
    context.write_text("The Eiffel Tower is in Paris. Bananas are yellow.", encoding="utf-8")
    code = cli.main(["prune", "-q", "Where is the tower?", str(context), "--model", str(folder), "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("text-pruner-rag prune: error: cannot load model") and str(folder / name) in err, err


@pytest.mark.parametrize("argument", ["", "loop"])
def test_cli_bad_model_path_one_line_exit_2(argument, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("loop").symlink_to("loop")
    context = tmp_path / "context.txt"
    context.write_text("Some text.", encoding="utf-8")
    code = cli.main(["prune", "-q", "q?", str(context), "--model", argument, "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert repr(argument) in err or argument in err.split("error:", 1)[1]


def test_window_longer_than_the_position_embeddings(pristine, tmp_path):
    folder = _copy(pristine, "ours", tmp_path)
    raw = json.loads((folder / "config.json").read_text())
    raw["max_length"] = raw["base_model_config"]["max_position_embeddings"] + 1
    (folder / "config.json").write_text(json.dumps(raw))
    error = _assert_refused(folder, folder / "config.json")
    assert "max_position_embeddings" in str(error)
