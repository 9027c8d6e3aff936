"""Language routing: a :class:`~text_pruner_rag.protocols.Pruner` that picks one model per call.

:class:`LanguageRouter` holds a default model and, per language, another model (loaded on first use).
For each call it picks ONE model with :meth:`LanguageRouter.model_for`, and everything in that call
uses that model: sentence splitting, windows, scores, the policy's default threshold and the tokenizer
that counts ``token_budget``. The embedded default pruner routes Japanese to the embedded bilingual
model this way (``TextPruner.from_pretrained()``; see :attr:`TextPruner.router
<text_pruner_rag.TextPruner.router>`).

Rule (:meth:`LanguageRouter.model_for`): with ``language="auto"`` the first routed language detected in
the query or any context (:func:`~text_pruner_rag.chunking.detect_language`) picks its model, else the
default model reads the call; a forced ``language`` picks that language's model (the default one for a
language without a route) and never loads another.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Union

from .chunking import detect_language
from .options import LANGUAGES, check_language

if TYPE_CHECKING:
    from .pruner import TextPruner

__all__ = ["LanguageRouter", "Route", "group_pairs", "group_queries"]


class Route:
    """A model for one language, loaded on first use (thread-safe: loaded once).

    Args:
        name (str): the model's name (shown in :attr:`LanguageRouter.routes`).
        load (Callable[[], TextPruner]): builds the model.
    """

    def __init__(self, name: str, load: Callable[[], "TextPruner"]) -> None:
        self.name = name
        self._load = load
        self._pruner: Optional["TextPruner"] = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model was loaded."""
        return self._pruner is not None

    def get(self) -> "TextPruner":
        """The model (loaded now if it was not)."""
        if self._pruner is None:
            with self._lock:
                if self._pruner is None:
                    self._pruner = self._load()
        return self._pruner


class LanguageRouter:
    """A pruner that sends each call whole to the model of its language (implements ``Pruner``).

    Args:
        default (TextPruner): the model for calls no route claims.
        routes (Mapping[str, Route | TextPruner]): language (``"en"`` or ``"ja"``) -> its model, a
            loaded pruner or a :class:`Route` that loads it on first use.
        language (str, optional): the language of calls that pass none; defaults to ``default.language``.

    Raises:
        ValueError: a route for a language other than ``"en"``/``"ja"``.
    """

    def __init__(self, default: "TextPruner", routes: Mapping[str, Union[Route, "TextPruner"]],
                 language: Optional[str] = None) -> None:
        self.default = default
        self._routes: dict[str, Route] = {}
        for lang, target in routes.items():
            if lang not in LANGUAGES or lang == "auto":
                raise ValueError(f"a route needs a language 'en' or 'ja', got {lang!r}")
            if isinstance(target, Route):
                self._routes[lang] = target
            else:
                route = Route(str(getattr(target, "name_or_path", None) or lang), lambda t=target: t)
                route.get()
                self._routes[lang] = route
        self.language = check_language(language or getattr(default, "language", "auto"))

    # -- the Pruner protocol: attributes of the default model -------------------------------------
    @property
    def default_threshold(self) -> float:
        """The default model's default threshold (a routed call uses its own model's)."""
        return self.default.default_threshold

    @property
    def name_or_path(self) -> Optional[str]:
        """The default model's source."""
        return self.default.name_or_path

    @property
    def sentence_rounding(self) -> str:
        """The default model's sentence rounding rule (a routed call uses its own model's)."""
        return self.default.sentence_rounding

    @property
    def routes(self) -> dict[str, str]:
        """Languages sent to another model: ``{language: model name}``."""
        return {lang: route.name for lang, route in self._routes.items()}

    def route(self, language: str) -> Route:
        """The :class:`Route` of ``language``.

        Raises:
            KeyError: no route for that language.
        """
        return self._routes[language]

    # -- the choice ------------------------------------------------------------------------------
    def model_for(self, query: Any = None, contexts: Sequence[Any] = (), language: Optional[str] = None) -> "TextPruner":
        """The one model that reads a call: the default model or a routed one (loaded on first use).

        Args:
            query (str, optional): the call's query.
            contexts (Sequence[str | list[str]]): the call's contexts.
            language (str, optional): ``"auto"``, ``"en"`` or ``"ja"``; None = the router's language.

        Returns:
            TextPruner: the model; with a forced language, that language's model (no other is loaded).

        Raises:
            ValueError: an unknown ``language``.
        """
        language = check_language(language or self.language)
        if not self._routes:
            return self.default
        if language == "auto":  # the first routed language found; wrong types are left to the checks
            texts = [query, *contexts] if not isinstance(contexts, str) else [query, contexts]
            parts = (p for t in texts for p in (t if isinstance(t, (list, tuple)) else [t]) if isinstance(p, str))
            language = next((lang for lang in map(detect_language, parts) if lang in self._routes), "en")
        route = self._routes.get(language)
        return self.default if route is None else route.get()

    def model_for_language(self, language: Optional[str]) -> "TextPruner":
        """The model of a forced language (None: the default model).

        Raises:
            ValueError: ``language`` is not ``"en"``/``"ja"``/None.
        """
        if language is None:
            return self.default
        if language not in ("en", "ja"):
            raise ValueError(f"`language` must be 'en', 'ja' or None here, got {language!r}")
        return self.model_for(None, (), language)

    # -- calls: picked once, run whole by the picked model ----------------------------------------
    def prune(self, query: str, context: Any, **options: Any):
        """:meth:`TextPruner.prune <text_pruner_rag.TextPruner.prune>` by the model of the call."""
        return self.model_for(query, [context], options.get("language")).prune(query, context, **options)

    def prune_many(self, query: str, contexts: Sequence[Any], **options: Any):
        """:meth:`TextPruner.prune_many <text_pruner_rag.TextPruner.prune_many>` by the model of the call."""
        contexts = list(contexts) if not isinstance(contexts, (str, bytes)) and contexts is not None else contexts
        return self.model_for(query, contexts or (), options.get("language")).prune_many(query, contexts, **options)

    def prune_batch(self, queries: Sequence[str], contexts_per_query: Sequence[Sequence[Any]], **options: Any):
        """:meth:`TextPruner.prune_batch <text_pruner_rag.TextPruner.prune_batch>`, each query read by the
        model of its own query and contexts (:meth:`model_for`); the queries of one model run in one call.

        Raises:
            TypeError, ValueError: as ``TextPruner.prune_batch`` (``title`` given per query is split with
                the queries).
        """
        from .options import context_list

        queries = context_list(queries, "queries", one="a list of str")
        groups = context_list(contexts_per_query, "contexts_per_query", one="a list of context lists")
        if len(queries) != len(groups):
            raise ValueError(f"`queries` has {len(queries)} entries but `contexts_per_query` has {len(groups)}: "
                             "give one list of contexts per query")
        title = options.pop("title", None)
        per_query = isinstance(title, (list, tuple))
        if per_query and len(title) != len(queries):
            raise ValueError(f"`title` has {len(title)} entries for {len(queries)} queries: give one entry per query")
        results: list[Any] = [None] * len(queries)
        for model, indices in group_queries(self.model_for, queries, groups, options.get("language")):
            part = model.prune_batch([queries[i] for i in indices], [groups[i] for i in indices],
                                     title=[title[i] for i in indices] if per_query else title, **options)
            for i, query_results in zip(indices, part):
                results[i] = query_results
        return results

    def rerank(self, query: str, contexts: Sequence[Any], top_n: Optional[int] = None, **options: Any):
        """:meth:`TextPruner.rerank <text_pruner_rag.TextPruner.rerank>` by the model of the call."""
        contexts = list(contexts) if not isinstance(contexts, (str, bytes)) and contexts is not None else contexts
        return self.model_for(query, contexts or (), options.get("language")).rerank(query, contexts, top_n, **options)

    def rank(self, query: str, documents: Sequence[Any], top_k: Optional[int] = None, **options: Any):
        """:meth:`TextPruner.rank <text_pruner_rag.TextPruner.rank>` by the model of the call."""
        documents = list(documents) if not isinstance(documents, (str, bytes)) and documents is not None else documents
        return self.model_for(query, documents or (), options.get("language")).rank(query, documents, top_k, **options)

    def predict(self, inputs: Any, batch_size: Optional[int] = None, show_progress_bar: Optional[bool] = None,
                convert_to_numpy: bool = True, convert_to_tensor: bool = False, *, language: Optional[str] = None):
        """:meth:`TextPruner.predict <text_pruner_rag.TextPruner.predict>`, each pair read by the model of
        its own query and context (:meth:`model_for`); same return types."""
        import numpy as np

        from .options import pairs_of
        from .results import format_scores

        pairs, single = pairs_of(inputs)
        scores = np.full(len(pairs), float("-inf"), dtype=np.float32)
        for model, indices in group_pairs(self.model_for, [q for q, _ in pairs], [c for _, c in pairs], language):
            scores[indices] = model.predict([pairs[i] for i in indices], batch_size, show_progress_bar,
                                            language=language)
        return format_scores(scores.tolist(), single, convert_to_numpy, convert_to_tensor, self.default.device)

    def count_tokens(self, texts: Sequence[str], *, language: Optional[str] = None) -> list[int]:
        """Tokens of each text with the default model's tokenizer, or with ``language``'s routed model's
        (``"en"``/``"ja"``); no special tokens. See :meth:`TextPruner.count_tokens
        <text_pruner_rag.TextPruner.count_tokens>`."""
        return self.model_for_language(language).count_tokens(texts)


def group_pairs(pick: Callable[..., "TextPruner"], queries: Sequence[str], contexts: Sequence[Any],
                language: Optional[str]) -> list[tuple["TextPruner", list[int]]]:
    """Pairs grouped by the model ``pick(query, [context], language)`` gives each: ``[(model, indices)]``,
    in order of first appearance."""
    groups: dict[int, tuple["TextPruner", list[int]]] = {}
    for i, (query, context) in enumerate(zip(queries, contexts)):
        model = pick(query, [context], language)
        groups.setdefault(id(model), (model, []))[1].append(i)
    return list(groups.values())


def group_queries(pick: Callable[..., "TextPruner"], queries: Sequence[Any], contexts_per_query: Sequence[Any],
                  language: Optional[str]) -> list[tuple["TextPruner", list[int]]]:
    """Queries grouped by the model ``pick(query, contexts, language)`` gives each (the model of a
    ``prune_many`` call with that query): ``[(model, indices)]``, in order of first appearance."""
    groups: dict[int, tuple["TextPruner", list[int]]] = {}
    for i, (query, contexts) in enumerate(zip(queries, contexts_per_query)):
        model = pick(query, contexts, language)
        groups.setdefault(id(model), (model, []))[1].append(i)
    return list(groups.values())
