"""Query strategies: turn predicted probabilities into one score per candidate.

Every strategy is a pure function with the same signature and one direction,
cleanlab's: **lower score = label sooner**. Selection (turning scores into a
batch) lives in :mod:`autoal.select`, apart from scoring.

Which one to use:

- ``activelab`` (default): cleanlab's ActiveLab. Scores the unlabeled pool *and*
  the labeled pool on one scale, so it can ask for a second opinion on a doubtful
  label instead of a new example.
- ``least_confidence``, ``margin``, ``entropy``: classic uncertainty sampling over
  the unlabeled pool only.
- ``random``: the baseline every strategy should beat (new rows only);
  ``good_random``: random among the rows with the fewest annotations, so it also
  asks for second opinions once the pool is used up.

Signature::

    strategy(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng) -> Scores

``pred_probs_unlabeled`` has shape ``(n, K)``; ``labels`` is the wide annotation
matrix of the labeled pool, shape ``(m, A)`` with integer class codes as floats
and NaN where annotator ``a`` gave no label; ``pred_probs`` are out-of-sample
probabilities for the labeled pool, shape ``(m, K)``; ``rng`` is a
``numpy.random.Generator`` (used only by strategies that need randomness).
The result's ``unlabeled`` has shape ``(n,)``; ``labeled`` has shape ``(m,)``,
or is ``None`` for strategies that only rank new examples.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Callable, NamedTuple

import numpy as np
from cleanlab.multiannotator import get_active_learning_scores

logger = logging.getLogger(__name__)


class Scores(NamedTuple):
    """Scores for both pools; lower = label sooner."""

    unlabeled: np.ndarray
    labeled: np.ndarray | None = None


Strategy = Callable[..., Scores]


def activelab(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None) -> Scores:
    """ActiveLab (Goh & Mueller, 2023): how much another label of this row would help.

    Prefers unlabeled rows the model is unsure of and labeled rows whose current
    (consensus) label the model and annotators doubt. Scores of both pools are
    comparable, in [0, 1]. Uses ``cleanlab.multiannotator.get_active_learning_scores``.
    """
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # cleanlab prints notices
        scores = _activelab(pred_probs_unlabeled, labels, pred_probs)
    if printed.getvalue().strip():
        logger.debug("cleanlab: %s", printed.getvalue().strip())
    return scores


_CHUNK = 100_000


def _activelab(pred_probs_unlabeled, labels, pred_probs) -> Scores:
    probs_u = np.asarray(pred_probs_unlabeled, dtype=float)
    if labels is None or len(labels) == 0:
        _, scores_u = get_active_learning_scores(pred_probs_unlabeled=probs_u)
        return Scores(scores_u, None if labels is None else np.empty(0))
    if len(probs_u) == 0:
        scores_l, _ = get_active_learning_scores(
            np.asarray(labels, dtype=float), np.asarray(pred_probs, dtype=float)
        )
        return Scores(np.empty(0), scores_l)
    labels = np.asarray(labels, dtype=float)
    pred_probs = np.asarray(pred_probs, dtype=float)
    # cleanlab makes several (n, K) float64 temporaries: score a big pool in chunks
    # (same scores; the labeled part is recomputed per chunk).
    parts = [get_active_learning_scores(labels, pred_probs, probs_u[start : start + _CHUNK])
             for start in range(0, len(probs_u), _CHUNK)]
    return Scores(np.concatenate([u for _, u in parts]), parts[0][0])


def least_confidence(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None) -> Scores:
    """Least confidence (Lewis & Gale, 1994): the top class probability.

    Prefers rows whose most likely class is still unlikely.
    """
    probs = np.asarray(pred_probs_unlabeled, dtype=float)
    return Scores(probs.max(axis=1) if probs.size else np.empty(len(probs)))


def margin(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None) -> Scores:
    """Smallest margin (Scheffer et al., 2001): top-1 minus top-2 probability.

    Prefers rows where the model hesitates between two classes.
    """
    probs = np.asarray(pred_probs_unlabeled, dtype=float)
    if probs.size == 0:
        return Scores(np.empty(len(probs)))
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return Scores(top2[:, 1] - top2[:, 0])


def entropy(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None) -> Scores:
    """Maximum entropy (Shannon; Settles, 2009), as ``1 - H(p) / log K`` in [0, 1].

    Prefers rows whose whole predicted distribution is spread out.
    """
    probs = np.asarray(pred_probs_unlabeled, dtype=float)
    k = probs.shape[1] if probs.ndim == 2 else 0
    if probs.size == 0 or k < 2:
        return Scores(np.ones(len(probs)))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(probs > 0, probs * np.log(probs), 0.0), axis=1)
    return Scores(1.0 - h / np.log(k))


def random(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None) -> Scores:
    """Random sampling: uniform scores from ``rng``; ignores the model."""
    if rng is None:
        raise ValueError("The 'random' strategy needs a numpy Generator as 'rng'.")
    return Scores(rng.random(len(pred_probs_unlabeled)))


def good_random(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None) -> Scores:
    """Random among the rows with the fewest annotations (the ActiveLab paper's baseline).

    Unlabeled rows (no annotation) come first, in random order; then labeled rows
    with one annotation, and so on. Score = number of annotations + a uniform draw.
    """
    if rng is None:
        raise ValueError("The 'good_random' strategy needs a numpy Generator as 'rng'.")
    unlabeled = rng.random(len(pred_probs_unlabeled))
    if labels is None:
        return Scores(unlabeled)
    counts = np.sum(~np.isnan(np.asarray(labels, dtype=float)), axis=1)
    return Scores(unlabeled, counts + rng.random(len(counts)))


def strategy_inputs(strategy, *, model, features, unlabeled, labeled, classes, batch,
                    chunk_size=100_000, ray_address=None) -> dict:
    """Extra keyword arguments a strategy asks for by its ``needs`` attribute.

    A strategy with ``needs = ("batch",)`` gets ``batch=`` (the number of rows the
    loop is about to pick); strategies without ``needs`` get nothing extra.
    """
    needs = set(getattr(strategy, "needs", ()))
    extra = {}
    if "batch" in needs:
        extra["batch"] = batch
    return extra


STRATEGIES: dict[str, Strategy] = {
    "activelab": activelab,
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
    "random": random,
    "good_random": good_random,
}


def get_strategy(strategy: str | Strategy) -> tuple[str, Strategy]:
    """Return ``(name, function)`` for a registered name or a user function."""
    if callable(strategy):
        return getattr(strategy, "__name__", "custom"), strategy
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return strategy, STRATEGIES[strategy]
    raise ValueError(
        f"The 'strategy' parameter must be one of {sorted(STRATEGIES)} or a function. "
        f"Got {strategy!r}."
    )
