"""Contexts shared by the engine, encoding and CLI tests (plain data, no model)."""

from __future__ import annotations

import random

CONTEXTS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by Gustave Eiffel's company. "
    "Bananas are yellow. The tower is 330 metres tall.",
    "Single sentence without final punctuation",
    "Dr. Smith went to Washington. He arrived at 3 p.m. on Monday.\n\nA new paragraph starts here.\n",
    "- first bullet\n- second bullet\n- third bullet",
    "  Leading spaces and trailing newline. Another one?  \n",
    "Numbers like 3.14 and $1.5 million do not split. Then a second sentence! And a third...",
    "寿司が好きです。ラーメンも好きです。東京は日本の首都です。",
    "Mixed text: 東京タワーは1958年に完成した。 It is 333 m tall.",
    "x" * 700,
    "Word " * 300,
]

JAPANESE = (
    "東京タワーは東京都港区にある電波塔です。1958年に完成しました。"
    "高さは333メートルです。\n寿司は日本の代表的な料理です。"
)

_SUBJECTS = ["The committee", "A small river", "Our new algorithm", "The old library", "Every student",
             "The mountain village", "This protein", "The orchestra"]
_VERBS = ["described", "measured", "ignored", "celebrated", "rebuilt", "analysed", "protected", "visited"]
_OBJECTS = ["the northern bridge", "a forgotten manuscript", "several hundred samples", "the annual budget",
            "an unusual pattern of behaviour", "the quiet harbour", "its first public concert", "the results"]


def long_document(n_sentences: int = 2000, seed: int = 0) -> str:
    """An English document of roughly ``10 * n_sentences`` BERT tokens (default about 20,000)."""
    rng = random.Random(seed)
    parts = []
    for i in range(n_sentences):
        sentence = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} in {1800 + i % 200}."
        parts.append(sentence + ("\n\n" if i % 25 == 24 else " "))
    return "".join(parts)
