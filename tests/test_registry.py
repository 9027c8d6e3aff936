"""The model registry: entry points of installed model distributions, the extras that bring them, the
language routes and the once-only warning. Fake distributions here; tests/test_release.py installs the
real wheels."""

from __future__ import annotations

import sys
import types
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from text_pruner_rag import registry

JA = "text-pruner-e5-small-ja-en"
DEFAULT = registry.DEFAULT_MODEL
JA_TEXT = "東京タワーの高さは333メートルです。"


def _checkpoint(folder: Path, languages: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "README.md").write_text(f"---\nlicense: mit\nlanguage:\n{languages}---\n# card\n", encoding="utf-8")
    return folder


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """Install fake model distributions: ``installed({name: folder})``; text-pruner-rag's metadata
    declares the default model as a dependency and the bilingual one under the ``ja`` extra."""
    monkeypatch.setattr(registry, "SOURCE_DIR", tmp_path / "no-source-checkout")
    monkeypatch.setattr(registry, "_WARNED", set())
    requires = ["torch>=2.1", f"{DEFAULT}<0.2,>=0.1.0", f'{JA}<0.2,>=0.1.0; extra == "ja"', 'pytest; extra == "dev"']
    monkeypatch.setattr(registry.metadata, "requires", lambda dist: requires if dist == "text-pruner-rag" else None)

    def install(models: dict[str, Path]) -> None:
        points = []
        for i, (name, folder) in enumerate(models.items()):
            module = types.ModuleType(f"fake_model_{i}")
            module.checkpoint_path = lambda folder=folder: folder
            monkeypatch.setitem(sys.modules, module.__name__, module)
            points.append(metadata.EntryPoint(name, f"{module.__name__}:checkpoint_path", registry.ENTRY_POINT_GROUP))
        monkeypatch.setattr(registry.metadata, "entry_points",
                            lambda group: [p for p in points if p.group == group])

    return install


@pytest.fixture
def en_folder(tmp_path):
    return _checkpoint(tmp_path / "en", "- en\n")


@pytest.fixture
def ja_folder(tmp_path):
    return _checkpoint(tmp_path / "ja", "- en\n- ja\n")


def test_entry_points_come_first_and_a_source_checkout_fills_in(installed, en_folder, ja_folder, tmp_path, monkeypatch):
    installed({DEFAULT: en_folder})
    source = tmp_path / "pretrained"
    _checkpoint(source / DEFAULT, "- en\n")
    _checkpoint(source / JA, "- ja\n")
    (source / "not-a-checkpoint").mkdir()
    monkeypatch.setattr(registry, "SOURCE_DIR", source)
    assert registry.installed_models() == {JA: source / JA, DEFAULT: en_folder}


def test_a_broken_model_distribution_is_skipped_with_a_warning(installed, en_folder, tmp_path, caplog):
    installed({DEFAULT: en_folder, "broken": tmp_path / "nothing-here"})
    with caplog.at_level("WARNING", logger="text_pruner_rag.registry"):
        assert registry.installed_models() == {DEFAULT: en_folder}
    assert "broken" in caplog.text and "no config.json" in caplog.text


def test_checkpoint_dir_names_the_pip_command_for_a_missing_model(installed, en_folder):
    installed({DEFAULT: en_folder})
    assert registry.checkpoint_dir() == en_folder
    with pytest.raises(registry.ModelNotInstalledError, match=r"pip install 'text-pruner-rag\[ja\]'"):
        registry.checkpoint_dir(JA)
    with pytest.raises(FileNotFoundError, match="not installed"):  # a FileNotFoundError, as for a missing folder
        registry.checkpoint_dir(JA)
    with pytest.raises(ValueError, match=r"'org/model' is not an embedded model; installed: \['text-pruner-minilm-l6-en'\]"):
        registry.checkpoint_dir("org/model")
    installed({})
    with pytest.raises(registry.ModelNotInstalledError, match="embedded default model is missing.*pip install"):
        registry.checkpoint_dir()


def test_model_names_are_the_installed_ones_and_those_an_extra_brings(installed, en_folder):
    installed({DEFAULT: en_folder})
    assert registry.is_model_name(DEFAULT) and registry.is_model_name(JA)
    assert not registry.is_model_name("org/model") and not registry.is_model_name("torch-nightly")
    assert registry.extra_for(JA) == "ja" and registry.extra_for(DEFAULT) == "" and registry.extra_for("x") is None


def test_languages_come_from_the_model_card(tmp_path):
    assert registry.model_languages(_checkpoint(tmp_path / "a", "- en\n- ja\n")) == ("en", "ja")
    inline = tmp_path / "b"
    inline.mkdir()
    (inline / "README.md").write_text("---\nlanguage: [en, 'ja']\nlicense: mit\n---\n", encoding="utf-8")
    assert registry.model_languages(inline) == ("en", "ja")
    (inline / "README.md").write_text("# no front matter\nlanguage: en\n", encoding="utf-8")
    assert registry.model_languages(inline) == ()
    assert registry.model_languages(tmp_path / "missing") == ()


def test_routes_go_to_an_installed_reader_else_name_the_extra(installed, en_folder, ja_folder):
    installed({DEFAULT: en_folder, JA: ja_folder})
    assert registry.routes_for(DEFAULT, ("en", "ja")) == ({"ja": JA}, {})
    installed({DEFAULT: en_folder})
    assert registry.routes_for(DEFAULT, ("en", "ja")) == ({}, {"ja": "pip install 'text-pruner-rag[ja]'"})


def test_the_unread_language_warning_comes_once_per_process(installed):
    unread = {"ja": "pip install 'text-pruner-rag[ja]'"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.warn_unread_languages(unread, ["What is it?", ["An English sentence."]], "auto", DEFAULT)
        assert caught == []
        registry.warn_unread_languages(unread, ["高さは？", [JA_TEXT]], "auto", DEFAULT)
        registry.warn_unread_languages(unread, ["高さは？", [JA_TEXT]], "auto", DEFAULT)
        registry.warn_unread_languages(unread, ["What?"], "ja", DEFAULT)
    [warning] = caught
    assert warning.category is UserWarning
    assert str(warning.message) == (
        f"Japanese input, but no installed model reads Japanese: {DEFAULT} reads it instead, with poor "
        "results. For the model that reads it: pip install 'text-pruner-rag[ja]'")


def test_forced_language_warns_without_detection(installed):
    with pytest.warns(UserWarning, match=r"text-pruner-rag\[ja\]"):
        registry.warn_unread_languages({"ja": "pip install 'text-pruner-rag[ja]'"}, ["an English query"], "ja", DEFAULT)


def test_default_pruner_without_the_bilingual_model_warns_once_and_reads_japanese(installed, monkeypatch):
    from text_pruner_rag import TextPruner

    real = Path(registry.__file__).parent / "pretrained" / DEFAULT
    if not (real / "config.json").is_file():
        pytest.skip("no embedded default model in this checkout")
    installed({DEFAULT: real})
    pruner = TextPruner.from_pretrained()
    assert pruner.routes == {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = pruner.prune("東京タワーの高さは？", JA_TEXT)
        pruner.prune_many("東京タワーの高さは？", [JA_TEXT, JA_TEXT])
    ours = [w for w in caught if "installed model" in str(w.message)]
    assert len(ours) == 1 and "pip install 'text-pruner-rag[ja]'" in str(ours[0].message)
    assert first.pruned_text in ("", JA_TEXT) and isinstance(first.score, float)
    with pytest.raises(registry.ModelNotInstalledError, match=r"pip install 'text-pruner-rag\[ja\]'"):
        TextPruner.from_pretrained(JA)
    monkeypatch.setattr(registry, "_WARNED", set())
    quiet = TextPruner.from_pretrained(language_routing=False)  # "the English model reads everything"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.prune("東京タワーの高さは？", JA_TEXT)
    assert not [w for w in caught if "installed model" in str(w.message)]
