"""Rebuild wiki_paragraphs.jsonl and queries.jsonl from XQuAD's English file.

Usage:
    python examples/data/build_corpus.py path/to/xquad.en.json

xquad.en.json is in https://github.com/google-deepmind/xquad (CC BY-SA 4.0); see ATTRIBUTION.md.
The output is deterministic: the same articles, all their paragraphs, and the questions listed below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ARTICLES = [
    "Nikola_Tesla",
    "Oxygen",
    "Apollo_program",
    "Black_Death",
    "Amazon_rainforest",
    "Steam_engine",
    "Rhine",
    "Prime_number",
]
QUESTIONS = [
    "Who did Tesla partner with in 1886?",
    "In what year did Joseph Priestley recognize oxygen?",
    "What was the first problem astronauts encountered during the plugs-out test?",
    "How many people died of plague in Paris in 1466?",
    "What is most of the cleared land in the Amazon region used for?",
    "Where is Energiprojekt AB based?",
]
HERE = Path(__file__).resolve().parent


def main(xquad_path: str) -> None:
    data = json.loads(Path(xquad_path).read_text(encoding="utf-8"))["data"]
    articles = {article["title"]: article for article in data}
    paragraphs, queries = [], {}
    for name in ARTICLES:
        for number, paragraph in enumerate(articles[name]["paragraphs"]):
            paragraphs.append(
                {
                    "id": f"{name}-{number}",
                    "title": name.replace("_", " "),
                    "text": paragraph["context"].strip(),
                    "source": f"https://en.wikipedia.org/wiki/{name}",
                }
            )
            for qa in paragraph["qas"]:
                if qa["question"] in QUESTIONS:
                    queries[qa["question"]] = {
                        "query": qa["question"],
                        "answer": qa["answers"][0]["text"],
                        "paragraph_id": f"{name}-{number}",
                    }
    missing = set(QUESTIONS) - set(queries)
    if missing:
        raise SystemExit(f"questions not found in {xquad_path}: {sorted(missing)}")
    write_jsonl(HERE / "wiki_paragraphs.jsonl", paragraphs)
    write_jsonl(HERE / "queries.jsonl", [queries[question] for question in QUESTIONS])
    print(f"wrote {len(paragraphs)} paragraphs and {len(queries)} queries to {HERE}")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as file:
        for row in rows:
            file.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
