"""Joint loss: ranking distillation + token cross-entropy (Provence, Chirkova et al. 2025, §3).

``total = ranking_weight * L_rank + pruning_weight * L_prune`` (Provence defaults 0.05 and 1.0).

* ``L_rank``: where a pair has a teacher score, MSE between the model's *activated* reranking score
  (``sigmoid(logit)`` for ``ranking_activation="sigmoid"``, the raw logit for ``"none"``) and the
  teacher score; pairs without a teacher use BCE-with-logits on the binary passage label. Regressing
  the activated score (not the raw logit, as OpenProvence does) keeps inference scores on the
  teacher's scale; see provence-reference §1.1.
* ``L_prune``: token cross-entropy over context tokens (labels -100 ignored), averaged over tokens.
  When the batch carries ``pruning_targets`` (keep probability per token) and ``pruning_weights``
  (see :mod:`.features`: soft targets and down-weighted tokens for sentences whose label is unknown),
  it is the weighted soft cross-entropy ``sum(w * CE(t)) / sum(w)``, ``CE(t) = -(t log p_keep +
  (1 - t) log p_drop)``; with hard targets and unit weights that is exactly the plain token CE.

Two sentence-level signals (both need the batch's ``sentence_ids``/``sentence_codes``, see
:class:`~.features.GroupCollator`), each a switch of the recipe's ``loss`` section:

* ``pruning_unit="sentence"``: the keep target is applied to each sentence's **mean keep probability**
  ``m_s`` (the quantity inference thresholds, ``sentence_rounding="token_mean"``) instead of to each
  token: ``sum_s(w_s * BCE(m_s, t_s)) / sum_s(w_s)`` with the sentence's target ``t_s`` and weight ``w_s``
  (the same for all its tokens). Tokens of weight-0 sentences get no gradient.
* ``sentence_ranking_weight > 0``: a within-window pairwise ranking loss (RankNet, Burges et al. 2005)
  on the same ``m_s``: for every pair (relevant sentence ``a``, other sentence ``b``) of one window,
  ``softplus(-(m_a - m_b) / temperature)``; ``b`` ranges over the irrelevant sentences (code 0, passages
  with complete labels) and, with ``sentence_ranking_unknown="below"``, the unknown sentences of
  single-answer data (``"exclude"`` leaves them out). Averaged over the pairs of a window, then over
  the windows that have a pair. Added as ``sentence_ranking_weight * L_sent_rank``.

A third signal distils a sentence teacher (needs the batch's ``sentence_teacher``, filled from
:attr:`Passage.sentence_teacher`, e.g. cosine similarity under the backbone's own embedding model):

* ``sentence_teacher_weight > 0``: the same RankNet loss over the pairs the labels leave **tied**: two
  sentences of one window with the same label code (both relevant, both irrelevant or both unknown)
  whose teacher scores differ by more than ``sentence_teacher_margin``, the one the teacher scores
  higher above the other. Labels decide across codes; the teacher only orders within a code. Added as
  ``sentence_teacher_weight * L_sent_teacher``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .features import IGNORE_INDEX, UNKNOWN_CODE

__all__ = ["PrunerLoss", "sentence_means", "sentence_ranking_loss", "sentence_teacher_loss", "sentence_unit_loss",
           "PRUNING_UNITS", "RANKING_UNKNOWN"]

PRUNING_UNITS = ("token", "sentence")
RANKING_UNKNOWN = ("below", "exclude")
_EPS = 1e-6


def sentence_means(values: torch.Tensor, sentence_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of a per-token value over each sentence of each window.

    Args:
        values (torch.Tensor): `(n_pairs, seq_len)` float, e.g. keep probabilities.
        sentence_ids (torch.Tensor): `(n_pairs, seq_len)` long; -1 for tokens in no sentence.

    Returns:
        tuple: ``(means, present)``, both `(n_pairs, n_sentences)` with ``n_sentences = max id + 1``
        (at least 1): the mean over the sentence's tokens (0 where the sentence has no token in the
        window) and a bool mask of the sentences that have tokens.
    """
    count = max(int(sentence_ids.max()) + 1, 1) if sentence_ids.numel() else 1
    one_hot = (sentence_ids.unsqueeze(-1) == torch.arange(count, device=sentence_ids.device)).to(values.dtype)
    tokens = one_hot.sum(dim=1)
    sums = torch.einsum("nl,nls->ns", values, one_hot)
    return sums / tokens.clamp(min=1), tokens > 0


def _sentence_codes(batch: dict[str, torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """`(n_pairs, n_sentences)` code of each sentence (-100 where absent): max over its tokens."""
    ids, codes = batch["sentence_ids"], batch["sentence_codes"]
    one_hot = ids.unsqueeze(-1) == torch.arange(like.shape[1], device=ids.device)
    filled = torch.where(one_hot, codes.unsqueeze(-1), torch.full_like(codes.unsqueeze(-1), IGNORE_INDEX))
    return filled.max(dim=1).values


def sentence_ranking_loss(probabilities: torch.Tensor, batch: dict[str, torch.Tensor], *,
                          unknown: str = "below", temperature: float = 0.1) -> torch.Tensor:
    """Within-window pairwise ranking loss on sentence mean keep probabilities (module docstring).

    Args:
        probabilities (torch.Tensor): `(n_pairs, seq_len)` keep probability per token, in [0, 1].
        batch (dict): needs ``sentence_ids`` and ``sentence_codes``, `(n_pairs, seq_len)` long.
        unknown (str): ``"below"`` ranks unknown sentences under the relevant ones; ``"exclude"`` skips them.
        temperature (float): scale of the probability difference, > 0. Defaults to 0.1.

    Returns:
        torch.Tensor: scalar; 0 (still attached to the graph) when no window has a pair.

    Raises:
        ValueError: bad ``unknown`` or ``temperature``, or the batch lacks the sentence fields.
    """
    _check_sentence_batch(batch, "sentence_ranking_weight > 0")
    if unknown not in RANKING_UNKNOWN:
        raise ValueError(f"sentence ranking `unknown` must be one of {RANKING_UNKNOWN}, got {unknown!r}")
    if not temperature > 0:
        raise ValueError(f"sentence ranking temperature must be > 0, got {temperature}")
    means, present = sentence_means(probabilities, batch["sentence_ids"])
    codes = _sentence_codes(batch, means)
    above = present & (codes == 1)
    below = present & ((codes == 0) | ((codes == UNKNOWN_CODE) if unknown == "below" else torch.zeros_like(above)))
    pairs = above.unsqueeze(2) & below.unsqueeze(1)  # (n, a, b)
    per_window = pairs.sum(dim=(1, 2))
    windows = per_window > 0
    if not bool(windows.any()):
        return probabilities.sum() * 0.0
    margins = (means.unsqueeze(2) - means.unsqueeze(1)) / temperature
    losses = torch.where(pairs, F.softplus(-margins), torch.zeros_like(margins))
    per_window_loss = losses.sum(dim=(1, 2))[windows] / per_window[windows]
    return per_window_loss.mean()


def sentence_teacher_loss(probabilities: torch.Tensor, batch: dict[str, torch.Tensor], *,
                          margin: float = 0.05, temperature: float = 0.1) -> torch.Tensor:
    """Within-window pairwise loss that orders equally labelled sentences as a teacher does (module docstring).

    Args:
        probabilities (torch.Tensor): `(n_pairs, seq_len)` keep probability per token, in [0, 1].
        batch (dict): ``sentence_ids``, ``sentence_codes`` `(n_pairs, seq_len)` long and
            ``sentence_teacher`` `(n_pairs, seq_len)` float (the token's sentence's teacher score, NaN
            where none).
        margin (float): teacher-score gap a pair needs, >= 0 (cosine units). Defaults to 0.05.
        temperature (float): scale of the probability difference, > 0. Defaults to 0.1.

    Returns:
        torch.Tensor: scalar; 0 (still attached to the graph) when no window has a pair.

    Raises:
        ValueError: a negative margin, a temperature <= 0, or the batch lacks the fields.
    """
    _check_sentence_batch(batch, "sentence_teacher_weight > 0")
    if "sentence_teacher" not in batch:
        raise ValueError("sentence_teacher_weight > 0 needs `sentence_teacher` in the batch: set "
                         "teacher.sentence_model so that passages carry sentence teacher scores")
    if not margin >= 0:
        raise ValueError(f"sentence teacher margin must be >= 0, got {margin}")
    if not temperature > 0:
        raise ValueError(f"sentence teacher temperature must be > 0, got {temperature}")
    ids = batch["sentence_ids"]
    means, present = sentence_means(probabilities, ids)
    codes = _sentence_codes(batch, means)
    raw = batch["sentence_teacher"].to(means.dtype)
    known = ~torch.isnan(raw)
    # Every token of a sentence carries the sentence's score (or NaN), so the means are the scores.
    teacher, _ = sentence_means(torch.where(known, raw, torch.zeros_like(raw)), ids)
    has_teacher = sentence_means(known.to(means.dtype), ids)[0] > 0
    usable = present & has_teacher & (codes != IGNORE_INDEX)
    pairs = (usable.unsqueeze(2) & usable.unsqueeze(1) & (codes.unsqueeze(2) == codes.unsqueeze(1))
             & ((teacher.unsqueeze(2) - teacher.unsqueeze(1)) > margin))
    per_window = pairs.sum(dim=(1, 2))
    windows = per_window > 0
    if not bool(windows.any()):
        return probabilities.sum() * 0.0
    margins = (means.unsqueeze(2) - means.unsqueeze(1)) / temperature
    losses = torch.where(pairs, F.softplus(-margins), torch.zeros_like(margins))
    return (losses.sum(dim=(1, 2))[windows] / per_window[windows]).mean()


def sentence_unit_loss(probabilities: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Binary cross-entropy of each sentence's mean keep probability against its keep target.

    Args:
        probabilities (torch.Tensor): `(n_pairs, seq_len)` keep probability per token, in [0, 1].
        batch (dict): ``sentence_ids``, ``pruning_targets`` and ``pruning_weights`` `(n_pairs, seq_len)`;
            a sentence's target and weight are those of its tokens (the same for all of them).

    Returns:
        torch.Tensor: scalar ``sum_s(w_s * BCE(m_s, t_s)) / sum_s(w_s)``; 0 (attached) when every weight is 0.

    Raises:
        ValueError: the batch lacks the sentence fields or the soft targets.
    """
    _check_sentence_batch(batch, "pruning_unit='sentence'")
    if "pruning_targets" not in batch or "pruning_weights" not in batch:
        raise ValueError("pruning_unit='sentence' needs pruning_targets and pruning_weights in the batch")
    ids = batch["sentence_ids"]
    means, present = sentence_means(probabilities, ids)
    targets, _ = sentence_means(batch["pruning_targets"].to(means.dtype), ids)
    weights, _ = sentence_means(batch["pruning_weights"].to(means.dtype), ids)
    used = present & (weights > 0)
    if not bool(used.any()):
        return probabilities.sum() * 0.0
    m, t, w = means[used].clamp(_EPS, 1 - _EPS), targets[used], weights[used]
    bce = -(t * torch.log(m) + (1 - t) * torch.log(1 - m))
    return (w * bce).sum() / w.sum()


def _check_sentence_batch(batch: dict[str, torch.Tensor], what: str) -> None:
    if "sentence_ids" not in batch or "sentence_codes" not in batch:
        raise ValueError(f"{what} needs `sentence_ids` and `sentence_codes` in the batch "
                         "(built by text_pruner_rag.training.features.GroupCollator)")


@dataclass
class PrunerLoss:
    """Callable loss; returns ``(total, {"ranking_loss": ..., "pruning_loss": ...})``.

    Args:
        ranking_weight (float): weight of the ranking term. Defaults to 0.05.
        pruning_weight (float): weight of the token term. Defaults to 1.0.
        ranking_loss (str): ``"auto"`` (MSE with teacher, BCE without), ``"mse"`` (teacher required),
            or ``"bce"`` (binary labels only).
        ranking_activation (str): the model's ``config.ranking_activation``.
        pruning_unit (str): ``"token"`` (token cross-entropy) or ``"sentence"`` (the target on each
            sentence's mean keep probability). Defaults to ``"token"``.
        sentence_ranking_weight (float): weight of the within-window sentence ranking loss; 0 turns it
            off. Defaults to 0.
        sentence_ranking_unknown (str): ``"below"`` or ``"exclude"`` unknown sentences. Defaults to ``"below"``.
        sentence_ranking_temperature (float): > 0. Defaults to 0.1.
        sentence_teacher_weight (float): weight of the sentence-teacher loss; 0 turns it off. Defaults to 0.
        sentence_teacher_margin (float): teacher-score gap a pair needs, >= 0. Defaults to 0.05.

    Raises:
        ValueError: (on construction) an unknown ``pruning_unit``, ``sentence_ranking_unknown``, a
            negative weight or a temperature <= 0.
    """

    ranking_weight: float = 0.05
    pruning_weight: float = 1.0
    ranking_loss: str = "auto"
    ranking_activation: str = "sigmoid"
    pruning_unit: str = "token"
    sentence_ranking_weight: float = 0.0
    sentence_ranking_unknown: str = "below"
    sentence_ranking_temperature: float = 0.1
    sentence_teacher_weight: float = 0.0
    sentence_teacher_margin: float = 0.05

    def __post_init__(self) -> None:
        if self.sentence_teacher_weight < 0:
            raise ValueError(f"sentence_teacher_weight must be >= 0, got {self.sentence_teacher_weight}")
        if not self.sentence_teacher_margin >= 0:
            raise ValueError(f"sentence_teacher_margin must be >= 0, got {self.sentence_teacher_margin}")
        if self.pruning_unit not in PRUNING_UNITS:
            raise ValueError(f"pruning_unit must be one of {PRUNING_UNITS}, got {self.pruning_unit!r}")
        if self.sentence_ranking_unknown not in RANKING_UNKNOWN:
            raise ValueError(f"sentence_ranking_unknown must be one of {RANKING_UNKNOWN}, "
                             f"got {self.sentence_ranking_unknown!r}")
        if self.sentence_ranking_weight < 0:
            raise ValueError(f"sentence_ranking_weight must be >= 0, got {self.sentence_ranking_weight}")
        if not self.sentence_ranking_temperature > 0:
            raise ValueError(f"sentence_ranking_temperature must be > 0, got {self.sentence_ranking_temperature}")

    def __call__(self, ranking_logits: torch.Tensor, pruning_logits: torch.Tensor, batch: dict[str, torch.Tensor]):
        logits = ranking_logits[..., 0].float()
        pruning_logits = pruning_logits.float()
        if self.pruning_unit == "sentence":
            pruning = sentence_unit_loss(torch.softmax(pruning_logits, dim=-1)[..., 1], batch)
        else:
            pruning = self._pruning(pruning_logits, batch)
        ranking = self._ranking(logits, batch)
        total = self.ranking_weight * ranking + self.pruning_weight * pruning
        parts = {"ranking_loss": ranking.detach(), "pruning_loss": pruning.detach()}
        if self.sentence_ranking_weight > 0:
            sentences = sentence_ranking_loss(torch.softmax(pruning_logits, dim=-1)[..., 1], batch,
                                              unknown=self.sentence_ranking_unknown,
                                              temperature=self.sentence_ranking_temperature)
            total = total + self.sentence_ranking_weight * sentences
            parts["sentence_ranking_loss"] = sentences.detach()
        if self.sentence_teacher_weight > 0:
            distilled = sentence_teacher_loss(torch.softmax(pruning_logits, dim=-1)[..., 1], batch,
                                              margin=self.sentence_teacher_margin)
            total = total + self.sentence_teacher_weight * distilled
            parts["sentence_teacher_loss"] = distilled.detach()
        return total, parts

    @staticmethod
    def _pruning(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if "pruning_weights" in batch and "pruning_targets" in batch:
            weights = batch["pruning_weights"].to(logits.dtype)
            total_weight = weights.sum()
            if not bool(total_weight > 0):
                return logits.sum() * 0.0
            log_probs = F.log_softmax(logits, dim=-1)
            targets = batch["pruning_targets"].to(logits.dtype)
            per_token = -(targets * log_probs[..., 1] + (1 - targets) * log_probs[..., 0])
            return (weights * per_token).sum() / total_weight
        labels = batch["pruning_labels"]
        valid = labels != IGNORE_INDEX
        if valid.any():
            return F.cross_entropy(logits[valid], labels[valid])
        return logits.sum() * 0.0

    def _ranking(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        teacher_mask = batch["teacher_mask"].to(logits.dtype)
        binary = batch["binary_labels"].to(logits.dtype)
        if self.ranking_loss == "mse" and not bool(teacher_mask.all()):
            raise ValueError("ranking_loss='mse' needs a teacher score for every pair; configure `teacher`")
        use_teacher = teacher_mask if self.ranking_loss != "bce" else torch.zeros_like(teacher_mask)
        scores = torch.sigmoid(logits) if self.ranking_activation == "sigmoid" else logits
        mse = (scores - batch["teacher_scores"].to(logits.dtype)) ** 2
        bce = F.binary_cross_entropy_with_logits(logits, binary, reduction="none")
        per_pair = use_teacher * mse + (1 - use_teacher) * bce
        return per_pair.mean()
