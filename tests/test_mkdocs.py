"""The documentation site builds with ``mkdocs build --strict`` (mkdocs.yml at the repository root, pages in
docs/), and the strict build is a real check: a broken link or anchor makes it fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install 'text-pruner-rag[docs]')")
pytest.importorskip("material", reason="mkdocs-material is not installed (pip install 'text-pruner-rag[docs]')")


def _build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(project / "mkdocs.yml"),
         "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copyfile(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    return project


def test_site_builds_strict(tmp_path):
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    for page in ("index.html", "models/index.html", "japanese/index.html", "token-budget/index.html",
                 "crossencoder/index.html", "onnx/index.html", "training/index.html", "configs/index.html",
                 "bad-input/index.html", "benchmarks/index.html"):  # fmt: skip
        assert page in pages, f"{page} missing from the site"
    models = (tmp_path / "site" / "models" / "index.html").read_text(encoding="utf-8")
    assert "default-model-figures: begin" in models and "0.904 / 0.642" in models  # the generated table


@pytest.mark.parametrize("broken", ["[missing page](no-such-page.md)", "[missing anchor](models.md#no-such-heading)"])
def test_a_broken_link_fails_the_strict_build(tmp_path, broken):
    project = _copy(tmp_path)
    assert _build(project, tmp_path / "site-ok").returncode == 0  # the copy builds before the change
    page = project / "docs" / "japanese.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\nSee {broken}.\n", encoding="utf-8")
    done = _build(project, tmp_path / "site")
    assert done.returncode != 0
    assert broken.split("(")[1].rstrip(")").split("#")[-1] in done.stdout + done.stderr
