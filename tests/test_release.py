"""Release check: build every wheel as a release would, check it, install it where the source is not.

From a clean copy of the release files (``pyproject.toml``, ``README.md``, ``text_pruner_rag/``,
``models/``) this builds the code wheel and one wheel per model distribution with ``pip wheel``, then
checks sizes (code < 5 MB, each model < 100 MB, PyPI's default file limit), contents and metadata, and
installs them into a fresh virtual environment. There, run from an empty folder with ``python -I``, the
README's Python quickstart runs offline on the installed default model, and nothing is imported from
this source tree. Removing the bilingual model then gives the once-only warning for Japanese input and
an error naming the ``ja`` extra for ``from_pretrained("text-pruner-e5-small-ja-en")``.

The fresh environment takes torch from ``TORCH_SPEC`` (default: the version running these tests, which
pip takes from a local wheelhouse when there is one) and the other dependencies from the package index.
A few minutes in all, most of them installing the dependencies into the fresh environment.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(p.parent for p in (ROOT / "models").glob("*/pyproject.toml"))
CODE_LIMIT = 5 * 1024 * 1024
MODEL_LIMIT = 100 * 1024 * 1024
JA_MODEL = "text-pruner-e5-small-ja-en"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
ENV.pop("PYTHONPATH", None)

pytestmark = pytest.mark.skipif(not MODELS, reason="no models/*/pyproject.toml: not a source checkout")


def _run(args, *, cwd=None, timeout=600) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[:4]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _copy_release_files(dest: Path) -> Path:
    """A clean copy of what the wheels are built from: no build/, egg-info or caches; the checkpoints
    are linked, not copied (the model folders reach them through their relative symlinks)."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", "pretrained")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "text_pruner_rag", dest / "text_pruner_rag", ignore=junk)
    shutil.copytree(ROOT / "models", dest / "models", ignore=junk, symlinks=True)
    (dest / "text_pruner_rag" / "pretrained").symlink_to(ROOT / "text_pruner_rag" / "pretrained")
    return dest


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """``{distribution name: wheel}`` for the code and every model, built from a clean copy."""
    tree = _copy_release_files(tmp_path_factory.mktemp("release"))
    dist = tree / "dist"
    folders = [tree, *(tree / "models" / m.name for m in MODELS)]
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, *folders])
    built = {_metadata(w)["Name"]: w for w in dist.glob("*.whl")}
    assert sorted(built) == sorted(["text-pruner-rag", *(m.name for m in MODELS)]), built
    return built


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(name).decode("utf-8"))


def _entry_points(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        return zf.read(names[0]).decode("utf-8") if names else ""


def test_code_wheel_is_small_typed_and_holds_no_weights(wheels):
    wheel = wheels["text-pruner-rag"]
    assert wheel.stat().st_size < CODE_LIMIT, f"{wheel.name}: {wheel.stat().st_size} bytes"
    names = zipfile.ZipFile(wheel).namelist()
    assert "text_pruner_rag/py.typed" in names and "text_pruner_rag/registry.py" in names
    heavy = [n for n in names if "pretrained/" in n or n.endswith((".safetensors", ".bin", ".onnx", "tokenizer.json"))]
    assert heavy == [], heavy
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0" and meta["Version"]
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("text-pruner-minilm-l6-en") and "extra" not in r for r in requires), requires
    assert any(r.startswith(JA_MODEL) and 'extra == "ja"' in r for r in requires), requires
    assert "ja" in meta.get_all("Provides-Extra") and "all" in meta.get_all("Provides-Extra")
    assert "text_pruner_rag.models" not in _entry_points(wheel)


@pytest.mark.parametrize("model", [m.name for m in MODELS])
def test_model_wheel_holds_checkpoint_card_licence_and_entry_point(wheels, model):
    wheel = wheels[model]
    assert wheel.stat().st_size < MODEL_LIMIT, f"{wheel.name}: {wheel.stat().st_size} bytes"
    package = model.replace("-", "_")
    source = ROOT / "text_pruner_rag" / "pretrained" / model
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for file in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"):
            info = zf.getinfo(f"{package}/checkpoint/{file}")  # KeyError names a missing file
            assert info.CRC == zlib.crc32((source / file).read_bytes()), f"{file} differs from {source}"
        card = zf.read(f"{package}/checkpoint/README.md").decode("utf-8")
    assert card.startswith("---\n") and "license:" in card.split("---")[1]  # the model card, with its metadata
    assert f"{package}/__init__.py" in names and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = _metadata(wheel)
    assert meta["Name"] == model and meta["License-Expression"] and meta["Version"]
    points = _entry_points(wheel)
    assert re.search(rf"^\[text_pruner_rag\.models\]\s*\n{re.escape(model)} = {package}:checkpoint_path$", points, re.M), points


PROBE = r'''
import json, sys, warnings
source = sys.argv[1]
out = {"path": [p for p in sys.path if p.startswith(source)]}
import text_pruner_rag
from text_pruner_rag import TextPruner, registry
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    exec(compile(sys.argv[2], "README.md", "exec"), {"__name__": "readme"})
    pruner = TextPruner.from_pretrained()
    out["routes"] = pruner.routes
    out["default"] = str(registry.checkpoint_dir())
    ja = ["東京タワーは東京都港区にある電波塔です。高さは333メートルです。", "バナナは黄色い果物です。"]
    out["ja"] = [[r.pruned_text, r.score] for r in pruner.prune_many("東京タワーの高さは？", ja)]
    pruner.prune_many("東京タワーは何色ですか？", ja)
    pruner.prune("東京タワーは何色ですか？", ja[0])
out["warnings"] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
                   and "installed model" in str(w.message)]
try:
    TextPruner.from_pretrained("text-pruner-e5-small-ja-en")
    out["ja_model"] = "loaded"
except FileNotFoundError as exc:
    out["ja_model"] = f"{type(exc).__name__}: {exc}"
out["files"] = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())
                       if (getattr(m, "__file__", None) or "").startswith(source)})
out["package"] = text_pruner_rag.__file__
print("PROBE " + json.dumps(out))
'''


def _readme_quickstart() -> str:
    """The first python block of the README's "## Quickstart" section: load, prune, rerank."""
    section = re.search(r"^## Quickstart\n(.*?)(?=^## |\Z)", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M)
    assert section, "README.md has no '## Quickstart' section"
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block and "TextPruner.from_pretrained()" in block.group(1)
    return block.group(1)


@pytest.fixture(scope="module")
def fresh_venv(wheels, tmp_path_factory) -> Path:
    """A new virtual environment with the built wheels (``text-pruner-rag[ja]``) and nothing of this tree."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", venv], timeout=300)
    python = venv / "bin" / "python"
    import torch

    torch_spec = os.environ.get("TORCH_SPEC") or f"torch=={torch.__version__.split('+')[0]}"
    models = [wheel for name, wheel in wheels.items() if name != "text-pruner-rag"]
    _run([python, "-m", "pip", "install", "-q", "--no-compile", torch_spec, f"{wheels['text-pruner-rag']}[ja]", *models], timeout=600)
    return python


def _probe(python: Path, tmp_path: Path) -> dict:
    empty = tmp_path / "empty"
    empty.mkdir()
    stdout = _run([python, "-I", "-c", PROBE, str(ROOT), _readme_quickstart()], cwd=empty, timeout=600)
    [line] = [x for x in stdout.splitlines() if x.startswith("PROBE ")]
    return json.loads(line[len("PROBE "):])


def test_installed_wheels_run_the_readme_quickstart_offline(fresh_venv, tmp_path):
    out = _probe(fresh_venv, tmp_path)
    assert out["path"] == [] and out["files"] == [], out  # nothing from the source tree
    site = str(fresh_venv.parent.parent)
    assert out["package"].startswith(site) and out["default"].startswith(site), out
    assert out["default"].endswith("text_pruner_minilm_l6_en/checkpoint")
    assert out["routes"] == {"ja": JA_MODEL} and out["warnings"] == [] and out["ja_model"] == "loaded"
    assert out["ja"][0][1] > out["ja"][1][1]  # the bilingual model ranks the tower paragraph first


def test_without_the_ja_extra_japanese_warns_once_and_the_model_name_names_the_extra(fresh_venv, tmp_path):
    _run([fresh_venv, "-m", "pip", "uninstall", "-y", "-q", JA_MODEL])
    out = _probe(fresh_venv, tmp_path)
    assert out["routes"] == {} and out["files"] == [], out
    [warning] = out["warnings"]  # three Japanese calls, one warning
    assert "Japanese input" in warning and "pip install 'text-pruner-rag[ja]'" in warning, warning
    assert all(isinstance(score, float) for _, score in out["ja"])  # the English model read it
    assert out["ja_model"].startswith("ModelNotInstalledError") and "text-pruner-rag[ja]" in out["ja_model"], out
