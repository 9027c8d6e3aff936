"""Embedded models: found through installed model distributions, never through a list in the code.

Each embedded model is its own distribution (``text-pruner-minilm-l6-en``,
``text-pruner-e5-small-ja-en``, ...) whose package exposes ``checkpoint_path()`` and registers it under
the entry-point group :data:`ENTRY_POINT_GROUP`::

    [project.entry-points."text_pruner_rag.models"]
    text-pruner-minilm-l6-en = "text_pruner_minilm_l6_en:checkpoint_path"

``pip install text-pruner-rag`` brings the default model (a dependency); an extra named after a
language code brings the model for that language (``pip install 'text-pruner-rag[ja]'``: the
bilingual English + Japanese model). The only name written here is :data:`DEFAULT_MODEL`. Which
extra brings which model is read from text-pruner-rag's own installed metadata (its ``Requires-Dist``
lines), and which languages a model reads from the ``language:`` list of its model card.

In a source checkout the checkpoints also sit in ``text_pruner_rag/pretrained/<name>/``
(:data:`SOURCE_DIR`; the code wheel leaves that folder out); they are used for the names that no
installed distribution registers, so the tests run from a plain checkout too. See docs/packaging.md.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from ._warnings import warn_caller

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MODEL",
    "DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "SOURCE_DIR",
    "ModelNotInstalledError",
    "checkpoint_dir",
    "extra_for",
    "installed_models",
    "is_model_name",
    "model_languages",
    "routes_for",
    "warn_unread_languages",
]

ENTRY_POINT_GROUP = "text_pruner_rag.models"
"""Entry-point group of the model distributions: ``name = "package:checkpoint_path"``."""
DEFAULT_MODEL = "text-pruner-minilm-l6-en"
"""The model ``TextPruner.from_pretrained()`` loads with no argument (a dependency of text-pruner-rag)."""
DISTRIBUTION = "text-pruner-rag"
"""The code distribution, whose metadata says which extra brings which model."""
SOURCE_DIR = Path(__file__).resolve().parent / "pretrained"
"""Checkpoints of a source checkout (absent from an installed code wheel)."""

_LANGUAGE_NAMES = {"en": "English", "ja": "Japanese"}
_WARNED: set[str] = set()
_WARN_LOCK = threading.Lock()


class ModelNotInstalledError(FileNotFoundError):
    """An embedded model was asked for by name, but its distribution is not installed.

    A ``FileNotFoundError``, as for a checkpoint folder that does not exist. The message names the
    pip command that installs the model (e.g. ``pip install 'text-pruner-rag[ja]'``).
    """


def installed_models() -> dict[str, Path]:
    """Every embedded model available here: ``{name: checkpoint folder}``.

    Read from the :data:`ENTRY_POINT_GROUP` entry points of the installed distributions, then from
    :data:`SOURCE_DIR` (a source checkout) for names no distribution registers. Read again on every
    call, so a model installed or removed while Python runs is seen.

    Returns:
        dict[str, Path]: sorted by name; each folder holds ``config.json``.

    Raises:
        Nothing for a broken distribution: an entry point that fails to load or points to a folder
        without ``config.json`` is skipped with a logged warning.
    """
    found: dict[str, Path] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found:
            continue
        try:
            path = Path(entry.load()())
        except Exception as exc:  # a broken model distribution must not break the others
            logger.warning("model entry point %s = %s failed: %s", entry.name, entry.value, exc)
            continue
        if (path / "config.json").is_file():
            found[entry.name] = path
        else:
            logger.warning("model entry point %s gives %s, which has no config.json", entry.name, path)
    if SOURCE_DIR.is_dir():
        for folder in SOURCE_DIR.iterdir():
            if folder.name not in found and (folder / "config.json").is_file():
                found[folder.name] = folder
    return dict(sorted(found.items()))


def _requirements() -> list[tuple[str, Optional[str]]]:
    """``(distribution name, extra or None)`` for each requirement of the installed text-pruner-rag."""
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # a source checkout run without installing
        return []
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", str(requirement.marker or ""))
        out.append((_canonical(requirement.name), extra.group(1) if extra else None))
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_for(name: str) -> Optional[str]:
    """How text-pruner-rag's metadata brings the distribution ``name``.

    Args:
        name (str): a distribution name, e.g. ``"text-pruner-e5-small-ja-en"``.

    Returns:
        str | None: the extra (``"ja"``), ``""`` for a plain dependency (the default model), or None
        when text-pruner-rag does not require it (or is not installed as a distribution).
    """
    wanted = _canonical(name)
    extras = [extra for requirement, extra in _requirements() if requirement == wanted]
    if not extras:
        return None
    return "" if None in extras else sorted(e for e in extras if e)[0]


def is_model_name(name: str) -> bool:
    """True when ``name`` is an embedded model: installed, or one that an extra of text-pruner-rag brings."""
    return name in installed_models() or extra_for(name) is not None


def _install_hint(name: str) -> str:
    extra = extra_for(name)
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {name}"


def checkpoint_dir(name: str = DEFAULT_MODEL) -> Path:
    """Checkpoint folder of an embedded model.

    Args:
        name (str): the model's name; defaults to :data:`DEFAULT_MODEL`.

    Returns:
        Path: a folder holding ``config.json``, ``model.safetensors``, the tokenizer and ``README.md``.

    Raises:
        ModelNotInstalledError: ``name`` is the default model, or a model an extra of text-pruner-rag
            brings, and it is not installed; the message names the pip command.
        ValueError: ``name`` is no embedded model (the message lists the installed ones).
    """
    models = installed_models()
    if name in models:
        return models[name]
    if name == DEFAULT_MODEL:
        raise ModelNotInstalledError(
            f"the embedded default model is missing (no installed distribution registers {name!r} under "
            f"the {ENTRY_POINT_GROUP!r} entry points); install it with `{_install_hint(name)}` or pass a "
            "model path to TextPruner.from_pretrained"
        )
    if extra_for(name) is not None:
        raise ModelNotInstalledError(
            f"the embedded model {name!r} is not installed; install it with `{_install_hint(name)}`"
        )
    raise ValueError(f"{name!r} is not an embedded model; installed: {list(models)}")


def model_languages(folder: Path) -> tuple[str, ...]:
    """The languages a checkpoint reads: the ``language:`` list of its model card's front matter.

    Args:
        folder (Path): a checkpoint folder.

    Returns:
        tuple[str, ...]: language codes as written in ``README.md`` (``("en", "ja")``); empty when
        the folder has no card or the card names no language.
    """
    card = Path(folder) / "README.md"
    if not card.is_file():
        return ()
    lines = card.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        return ()
    languages: list[str] = []
    in_list = False
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key = re.match(r"^language:\s*(.*)$", line)
        if key:
            inline = key.group(1).strip().strip("[]")
            languages += [x.strip().strip("'\"") for x in inline.split(",") if x.strip()]
            in_list = not inline
        elif in_list and re.match(r"^\s*-\s+\S", line):
            languages.append(line.split("-", 1)[1].strip().strip("'\""))
        else:
            in_list = False
    return tuple(languages)


def routes_for(name: str, languages: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Which installed model reads each language the model ``name`` does not.

    Args:
        name (str): the embedded model that reads every other call (the default model).
        languages (Iterable[str]): the languages inputs can be in (``chunking.SUPPORTED_LANGUAGES``).

    Returns:
        tuple[dict[str, str], dict[str, str]]: ``(routes, unread)``. ``routes`` maps a language to
        the first installed model (by name) whose card lists it; ``unread`` maps each language no
        installed model reads to the pip command that would bring one (the extra named by the
        language code when text-pruner-rag declares it).
    """
    models = installed_models()
    own = set(model_languages(models[name])) if name in models else set()
    routes: dict[str, str] = {}
    unread: dict[str, str] = {}
    for language in languages:
        if language in own:
            continue
        reader = next((m for m, folder in models.items() if m != name and language in model_languages(folder)), None)
        if reader is not None:
            routes[language] = reader
        else:
            declared = {extra for _, extra in _requirements()}
            unread[language] = (f"pip install '{DISTRIBUTION}[{language}]'" if language in declared
                                else f"install a {DISTRIBUTION} model distribution for {language!r}")
    return routes, unread


def warn_unread_languages(unread: Mapping[str, str], texts: Iterable[Any], language: str, reader: str) -> None:
    """Warn once per process for each language in ``unread`` that ``texts`` are in.

    Called before a call runs on a model that cannot read every language (the default model when
    the bilingual model is not installed); the call then goes on with that model.

    Args:
        unread (Mapping[str, str]): ``{language: pip command}``, from :func:`routes_for`.
        texts (Iterable): the query and contexts of the call (str, or lists of str); other values
            are ignored (the call's own checks report them).
        language (str): the call's ``language`` option: ``"auto"`` detects each text's language.
        reader (str): name of the model that reads the call, for the message.

    Warns:
        UserWarning: ``"Japanese input, but no installed model reads Japanese ..."``, naming the pip
            command; at most once per language and process.
    """
    pending = [lang for lang in unread if lang not in _WARNED]
    if not pending:
        return
    if language == "auto":
        from .chunking import detect_language

        parts = (p for t in texts for p in (t if isinstance(t, (list, tuple)) else [t]) if isinstance(p, str))
        seen = {lang for lang in map(detect_language, parts)}
    else:
        seen = {language}
    for lang in pending:
        if lang not in seen:
            continue
        with _WARN_LOCK:
            if lang in _WARNED:
                continue
            _WARNED.add(lang)
        label = _LANGUAGE_NAMES.get(lang, repr(lang))
        warn_caller(
            f"{label} input, but no installed model reads {label}: {reader} reads it instead, with poor "
            f"results. For the model that reads it: {unread[lang]}"
        )
