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
        "import text_pruner_rag.data",
        "from text_pruner_rag.data import READERS, load_eval_data, build_dev_sets",
        "import text_pruner_rag.metrics",
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


# --------------------------------------------------------------------------------------------------
# The import graph, read from the source with ast (every import, at module level or inside a function;
# those under `if TYPE_CHECKING:` are left out, since they never run).

PACKAGE = ROOT / "text_pruner_rag"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "pretrained" not in p.parts}


def _is_type_checking(node) -> bool:
    import ast

    test = node.test
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imported(name: str, path: Path, modules) -> set[str]:
    """The package modules that module ``name`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    import ast

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(node) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                targets.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {t for t in targets if t in modules and t != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or ``[]`` when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return []


def test_the_graph_reader_sees_imports_of_every_kind():
    graph = import_graph()
    assert "text_pruner_rag.data.records" in graph["text_pruner_rag.data.readers.squad"]  # from ..records import
    assert "text_pruner_rag.metrics" in graph["text_pruner_rag.training.card"]  # from ..metrics import
    assert "text_pruner_rag.pruner" in graph["text_pruner_rag.training.run"]  # inside a function
    assert "text_pruner_rag.policy" not in graph["text_pruner_rag.protocols"]  # under TYPE_CHECKING only
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert find_cycle(import_graph()) == []


@pytest.mark.parametrize("side, other", [("training", "evaluation"), ("evaluation", "training")])
def test_training_and_evaluation_never_import_each_other(side, other):
    prefix, forbidden = f"text_pruner_rag.{side}", f"text_pruner_rag.{other}"
    crossing = sorted(
        f"{name} -> {target}"
        for name, targets in import_graph().items() if name == prefix or name.startswith(prefix + ".")
        for target in targets if target == forbidden or target.startswith(forbidden + ".")
    )
    assert crossing == []


def test_data_and_metrics_import_neither_side():
    for name, targets in import_graph().items():
        if name.startswith("text_pruner_rag.data") or name == "text_pruner_rag.metrics":
            assert not [t for t in targets if t.startswith(("text_pruner_rag.training", "text_pruner_rag.evaluation"))]


@pytest.mark.parametrize(
    "old, new",
    [
        ("text_pruner_rag.records", "text_pruner_rag.data.records"),
        ("text_pruner_rag.training.readers.squad", "text_pruner_rag.data.readers.squad"),
        ("text_pruner_rag.training.readers.registry", "text_pruner_rag.data.readers.registry"),
        ("text_pruner_rag.training.preparation", "text_pruner_rag.data.preparation"),
        ("text_pruner_rag.training.devsets", "text_pruner_rag.data.devsets"),
        ("text_pruner_rag.evaluation.datasets", "text_pruner_rag.data.devsets"),
        ("text_pruner_rag.evaluation.metrics", "text_pruner_rag.metrics"),
    ],
)
def test_old_import_paths_are_the_new_modules(old, new):
    import importlib

    assert importlib.import_module(old) is importlib.import_module(new)


def test_old_package_indexes_give_the_same_objects():
    from text_pruner_rag.data import READERS, Record
    from text_pruner_rag.evaluation import DEV_SETS, f_beta
    from text_pruner_rag.training.readers import READERS as old_readers
    from text_pruner_rag.data.devsets import DEV_SETS as new_dev_sets
    from text_pruner_rag.metrics import f_beta as new_f_beta
    from text_pruner_rag.records import Record as old_record

    assert (old_readers, old_record, DEV_SETS, f_beta) == (READERS, Record, new_dev_sets, new_f_beta)
