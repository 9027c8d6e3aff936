"""The package __init__ files are lazy indexes: pure-Python modules load without torch or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers")
OTHERS = ("langchain_core", "llama_index", "text_pruner_rag.evaluation")


def loaded_after(statement: str, modules: tuple[str, ...] = HEAVY) -> dict[str, bool]:
    """Which of ``modules`` ``statement`` loads, in a fresh interpreter running this checkout."""
    code = f"import sys, json\n{statement}\nprint(json.dumps({{m: m in sys.modules for m in {modules!r}}}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import text_pruner_rag",
        "import text_pruner_rag.chunking",
        "from text_pruner_rag.chunking import split_sentences; split_sentences('One. Two.', 'auto')",
        "import text_pruner_rag.records",
        "import text_pruner_rag.results",
        "from text_pruner_rag.training.readers import READERS",
        "import text_pruner_rag.training.preparation",
        "import text_pruner_rag.policy",
        "import text_pruner_rag.protocols",
        "from text_pruner_rag import Pruner, PruningPolicy",
        "import text_pruner_rag.integrations",
        "import text_pruner_rag.backends",
    ],
)
def test_light_modules_load_neither_torch_nor_transformers(statement):
    assert loaded_after(statement) == {"torch": False, "transformers": False}


@pytest.mark.parametrize("statement", ["import text_pruner_rag.policy", "import text_pruner_rag.integrations"])
def test_core_and_adapter_index_load_no_framework_and_no_evaluation(statement):
    assert not any(loaded_after(statement, OTHERS).values())


def test_the_check_sees_heavy_imports():
    # The same probe reports torch when it is loaded, so the test above can fail.
    assert loaded_after("from text_pruner_rag import TextPruner") == {"torch": True, "transformers": True}
    assert loaded_after("import text_pruner_rag.integrations.langchain", OTHERS)["langchain_core"]


def test_index_names_resolve_lazily():
    import text_pruner_rag
    from text_pruner_rag.pruner import TextPruner

    assert text_pruner_rag.TextPruner is TextPruner
    assert set(text_pruner_rag.__all__) <= set(dir(text_pruner_rag))
    for name in text_pruner_rag.__all__:
        assert getattr(text_pruner_rag, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        text_pruner_rag.Nope  # noqa: B018
