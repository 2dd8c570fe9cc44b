"""Query strategies: turn predicted probabilities into one score per candidate.

Every strategy is a pure function with the same signature and one direction,
cleanlab's: **lower score = label sooner**. Selection (turning scores into a
batch) lives in :mod:`autoal.select`, apart from scoring.

Which one to use:

- ``auto`` (default): ActiveLab judges second opinions against new rows; new rows
  by typical picks while the model is weak, then smallest margin, one per cluster of
  near-duplicates (:func:`auto`). Chosen by ``benchmarks/default_strategy.py``.
- ``activelab``: cleanlab's ActiveLab. Scores the unlabeled pool *and*
  the labeled pool on one scale, so it can ask for a second opinion on a doubtful
  label instead of a new example.
- ``least_confidence``, ``margin``, ``entropy``: classic uncertainty sampling over
  the unlabeled pool only.
- ``random``: the baseline every strategy should beat (new rows only);
  ``good_random``: random among the rows with the fewest annotations, so it also
  asks for second opinions once the pool is used up.
- ``vote_entropy``, ``variation_ratio``, ``kl_divergence``: query by committee, the
  committee being the models AutoGluon trained this round; rows they disagree on
  (votes split, few with the majority, distributions far from the consensus).
- ``activelab_ensemble``: ActiveLab over that committee; like ``activelab`` it also
  asks for second opinions.
- ``bald``: rows whose label the bagged fold models are each sure of but disagree on
  (mutual information), rather than rows that are merely ambiguous.
- ``information_density``: uncertain rows in dense parts of the pool, not outliers.
- ``coreset``: rows far from everything labeled (greedy k-center); ignores the model.
- ``cluster``: the most uncertain row of each of ``batch`` k-means clusters.
- ``expected_model_change``: rows whose label would move a softmax layer on the row
  features most (expected gradient length).
- ``margin_diverse``: ``margin``, one row per cluster of near-duplicates; wrap any
  strategy the same way with :func:`diverse`.
- ``activelab_margin``: ActiveLab's split between second opinions and new rows, new
  rows by smallest margin; :func:`with_activelab` does the same for any strategy.
- ``typical``: TypiClust, the most typical row of each big cluster no label is in yet
  (for a cold start).
- ``activelab_margin_diverse_warm``: ActiveLab's split; new rows at random while fewer
  than 3 rows per class are labeled, then ``margin_diverse`` (:func:`warm_up`);
  ``activelab_margin_diverse_warm_typical`` warms up with ``typical`` instead.
  ``benchmarks/default_strategy.py`` compares them for the default (``auto``).

Strategies that need more than probabilities say so in a ``needs`` attribute
(``"committee"``, ``"committee_labeled"``, ``"samples"``, ``"features"``,
``"batch"``; :data:`NEEDS` lists them); the engine computes those inputs with
:func:`autoal.predict.strategy_inputs` and passes them as keyword arguments. They
work with the tabular and embedding learners. This module turns arrays into scores
and nothing else: it knows no learner, model or DataFrame.

Signature::

    strategy(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng) -> Scores

``pred_probs_unlabeled`` has shape ``(n, K)``; ``labels`` is the wide annotation
matrix of the labeled pool, shape ``(m, A)`` with integer class codes as floats
and NaN where annotator ``a`` gave no label; ``pred_probs`` are out-of-sample
probabilities for the labeled pool, shape ``(m, K)``; ``rng`` is a
``numpy.random.Generator`` (used by strategies that need randomness or break ties).
The result's ``unlabeled`` has shape ``(n,)``; ``labeled`` has shape ``(m,)``,
or is ``None`` for strategies that only rank new examples.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from typing import Callable, NamedTuple

import numpy as np

from ._checks import check_int
from .select import lowest

logger = logging.getLogger(__name__)


def _multiannotator():
    """cleanlab's ``multiannotator`` module, imported on first use.

    Importing cleanlab takes seconds (it brings scikit-learn, SciPy and ``datasets``),
    which the project commands that score nothing (``import``, ``export``, ``status``)
    would otherwise pay. It also turns every warning off for the whole process (its
    datalab package calls ``warnings.filterwarnings("ignore")`` on import), autoal's own
    included: the filters are put back as they were. :mod:`autoal.annotations` imports
    it likewise.
    """
    with warnings.catch_warnings():
        import cleanlab.multiannotator
    return cleanlab.multiannotator


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
    get_active_learning_scores = _multiannotator().get_active_learning_scores
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


def activelab_margin(pred_probs_unlabeled, *, labels=None, pred_probs=None,
                     rng=None) -> Scores:
    """ActiveLab's split between second opinions and new rows; new rows ranked by margin.

    Both pools are scored by :func:`activelab`, so how many of a batch's lowest scores
    fall in the labeled pool (relabel requests) is ActiveLab's. The unlabeled pool's
    ActiveLab values are then handed out again in :func:`margin` order: the row with
    the smallest top-1 minus top-2 gap gets the lowest value, and so on (ties in
    margin go to the lower ActiveLab score; rows tied on both share the mean of their
    values). The scale against the labeled pool is unchanged, but among new rows it
    prefers those the model hesitates between two classes on, where ActiveLab with one
    annotator ranks like least confidence, a weak choice with many classes.
    References: Goh & Mueller (2023), ActiveLab; Scheffer et al. (2001), margin.
    """
    scores = activelab(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng)
    ranked = _rank_match(margin(pred_probs_unlabeled).unlabeled, scores.unlabeled)
    return Scores(ranked, scores.labeled)


def _rank_match(order_by, values) -> np.ndarray:
    """``values`` handed out again so that their order follows ``order_by``.

    The row with the smallest ``order_by`` gets the smallest value; ties in
    ``order_by`` are broken by ``values`` themselves, and rows tied on both share the
    mean of the values they would get, so the result does not depend on row order.
    Rows that differ in ``order_by`` or ``values`` get different results, in that
    order, however close (:func:`_strictly_increasing`): where ``values`` repeat (a
    forest's probabilities often do, or differ in the last bit), the rows' order would
    otherwise be lost to the random tie-break of the selection.
    """
    order_by = np.asarray(order_by, dtype=float)
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return values.copy()
    order = np.lexsort((values, order_by))
    first, second = order_by[order], values[order]
    starts = np.flatnonzero(np.r_[True, (first[1:] != first[:-1]) | (second[1:] != second[:-1])])
    sizes = np.diff(np.r_[starts, n])
    shared = _strictly_increasing(np.add.reduceat(np.sort(values), starts) / sizes)
    result = np.empty(n)
    result[order] = np.repeat(shared, sizes)
    return result


def _strictly_increasing(ascending: np.ndarray) -> np.ndarray:
    """Non-decreasing ``ascending`` made strictly increasing by the fewest steps of
    floating-point precision: each finite value at least one representable number above
    the one before it (a run of k equal values ends k - 1 such steps up, and the values
    after it as far as they must). Values that already increase stay as they are."""
    finite = np.isfinite(ascending)  # a sorted run: -inf first, then inf and NaN last
    values = ascending[finite]
    if len(values) < 2 or np.all(np.diff(values) > 0):
        return ascending
    # Floats as integers in the same order (negative ones mirrored), one per step.
    bits = values.view(np.int64)
    key = np.where(bits < 0, -(bits & np.int64(0x7FFF_FFFF_FFFF_FFFF)), bits)
    step = np.arange(len(key), dtype=np.int64)
    key = np.maximum.accumulate(key - step) + step
    bits = np.where(key < 0, (-key) | np.int64(-0x8000_0000_0000_0000), key)
    out = ascending.copy()
    out[finite] = bits.view(np.float64)
    return out


def warm_up(strategy, per_class: float = 3, first=random) -> Strategy:
    """``first``'s new rows while the labeled pool is small, then ``strategy`` (a cold start).

    While the labeled pool holds fewer than ``per_class`` rows per class on average
    (``len(labels) < per_class * K``, ``K`` the columns of ``pred_probs_unlabeled``),
    the model is too weak for its uncertainty to mean much, so the unlabeled rows are
    ranked by ``first`` (default :func:`random`: a uniform draw from ``rng``, made before
    anything else, so the new rows are those ``random`` would pick; ``"typical"`` picks
    representative rows). Where ``strategy`` scores the labeled pool too, the unlabeled
    rows get ``strategy``'s own unlabeled values in ``first``'s order (as in
    :func:`activelab_margin`), so second opinions keep their place against new rows.
    After the warm-up, ``strategy``'s scores unchanged. Uncertainty sampling from a
    near-empty start does worse than random or typical picks (Hacohen, Dekel &
    Weinshall, 2022, "Active learning on a budget: opposite strategies suit high and
    low budgets").

    ``strategy`` and ``first`` are names from :data:`STRATEGIES` or functions; the result
    is named ``"<name>_warm"`` (``"<name>_warm_<first>"`` for another ``first``), needs
    what both need, and needs ``rng``.
    """
    name, base = ((getattr(strategy, "__name__", "custom"), strategy) if callable(strategy)
                  else get_strategy(strategy))
    first_name, head = ((getattr(first, "__name__", "custom"), first) if callable(first)
                        else get_strategy(first))
    if isinstance(per_class, bool) or not isinstance(per_class, (int, float, np.integer,
                                                                 np.floating)) or per_class < 0:
        raise ValueError(f"The 'per_class' parameter of warm_up must be a number >= 0. "
                         f"Got {per_class!r}.")

    def warmed(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None, **extra):
        n, k = _shape(pred_probs_unlabeled)
        if labels is not None and len(labels) >= per_class * k:
            return base(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng,
                        **_given(base, extra))
        if rng is None:
            raise ValueError(f"The {warmed.__name__!r} strategy needs a numpy Generator as "
                             f"'rng' (its warm-up picks at random).")
        order = head(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng,
                     **_given(head, extra)).unlabeled
        scores = base(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng,
                      **_given(base, extra))
        if scores.labeled is None:
            return Scores(order)
        return Scores(_rank_match(order, scores.unlabeled), scores.labeled)

    suffix = "_warm" if first_name == "random" else f"_warm_{first_name}"
    warmed.__name__ = warmed.__qualname__ = f"{name}{suffix}"
    warmed.__doc__ = (
        f"{name!r} after a warm-up (see autoal.strategies.warm_up, per_class={per_class}): "
        f"what {first_name!r} prefers while fewer than {per_class} rows per class are "
        f"labeled, then what {name!r} prefers.")
    warmed.needs = tuple(dict.fromkeys((*getattr(head, "needs", ()),
                                        *getattr(base, "needs", ()))))
    return warmed


def with_activelab(strategy) -> Strategy:
    """ActiveLab judges second opinions against new rows; ``strategy`` orders the new rows.

    Both pools are scored by :func:`activelab`, so how many of a batch's lowest scores
    fall in the labeled pool (relabel requests) is ActiveLab's, whatever ``strategy``
    is. The unlabeled pool's ActiveLab values are then handed out again in the order of
    ``strategy``'s unlabeled scores, as in :func:`activelab_margin` (which is
    ``with_activelab(margin)``). ``strategy`` is called first, with the same arguments
    (its scores of the labeled pool, if any, are not used), so its draws from ``rng``
    are those it would make alone.

    ``strategy`` is a name from :data:`STRATEGIES` or a function; the result is named
    ``"activelab_<name>"`` and needs what ``strategy`` needs.
    """
    name, base = ((getattr(strategy, "__name__", "custom"), strategy) if callable(strategy)
                  else get_strategy(strategy))

    def judged(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None, **extra):
        order = base(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng,
                     **_given(base, extra)).unlabeled
        scores = activelab(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs)
        return Scores(_rank_match(order, scores.unlabeled), scores.labeled)

    judged.__name__ = judged.__qualname__ = f"activelab_{name}"
    judged.__doc__ = (
        f"ActiveLab's split between second opinions and new rows, new rows in {name!r}'s "
        f"order (see autoal.strategies.with_activelab).")
    judged.needs = tuple(getattr(base, "needs", ()))
    return judged


def _given(strategy, extra) -> dict:
    """The keyword arguments in ``extra`` that ``strategy``'s ``needs`` ask for."""
    wanted = {kw for need in getattr(strategy, "needs", ()) for kw in NEEDS.get(need, ())}
    return {kw: value for kw, value in extra.items() if kw in wanted}


# Committee strategies: the members are the models AutoGluon trained this round
# (``committee``, shape ``(M, n, K)``; see :func:`autoal.predict.strategy_inputs`).


def _stack(strategy, name, values, n, k, what) -> np.ndarray:
    """``values`` checked to be an ``(M, n, K)`` array with ``M >= 1``."""
    if values is None:
        raise ValueError(f"The {strategy!r} strategy needs {name!r}: {what}, an array of shape "
                         f"(M, {n}, {k}). Got None (see autoal.predict.strategy_inputs).")
    values = np.asarray(values)
    if values.ndim != 3 or values.shape[1:] != (n, k) or len(values) == 0:
        raise ValueError(f"The {name!r} argument of the {strategy!r} strategy must have shape "
                         f"(M, {n}, {k}) with M >= 1. Got shape {values.shape}.")
    return values


def _shape(pred_probs_unlabeled) -> tuple[int, int]:
    probs = np.asarray(pred_probs_unlabeled)
    return len(probs), (probs.shape[1] if probs.ndim == 2 else 0)


def _by_rows(n, score_rows) -> np.ndarray:
    """``score_rows(slice)`` over row chunks of ``_CHUNK``, concatenated (bounds temporaries)."""
    if n == 0:
        return np.empty(0)
    return np.concatenate([score_rows(slice(s, s + _CHUNK)) for s in range(0, n, _CHUNK)])


def _entropy(probs, axis=-1) -> np.ndarray:
    """Shannon entropy in nats, with ``0 log 0 = 0``."""
    probs = np.asarray(probs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(probs > 0, probs * np.log(probs), 0.0), axis=axis)


def _votes(committee, rows) -> np.ndarray:
    """Votes per class, shape ``(rows, K)``: each member votes for its top class."""
    chunk = committee[:, rows]
    top = chunk.argmax(axis=2)
    return (top[:, :, None] == np.arange(chunk.shape[2])).sum(axis=0)


_COMMITTEE = "each committee member's probabilities for the unlabeled rows"


def vote_entropy(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                 committee=None, **extra) -> Scores:
    """Vote entropy (Dagan & Engelson, 1995; Settles, 2009, sec. 3.2): how evenly the
    committee's votes split, as ``1 - VE / log(min(M, K))`` in [0, 1].

    Each of the ``M`` members of ``committee`` (shape ``(M, n, K)``: the models AutoGluon
    trained this round) votes for its top class; ``VE = -sum_k (V_k / M) log(V_k / M)``
    with ``V_k`` the votes for class ``k``. Prefers rows the models disagree on.
    """
    n, k = _shape(pred_probs_unlabeled)
    if n == 0:
        return Scores(np.empty(0))
    committee = _stack("vote_entropy", "committee", committee, n, k, _COMMITTEE)
    top = np.log(min(len(committee), k))
    if top <= 0:
        return Scores(np.ones(n))
    return Scores(_by_rows(n, lambda rows: 1.0 - _entropy(
        _votes(committee, rows) / len(committee)) / top))


vote_entropy.needs = ("committee",)


def variation_ratio(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                    committee=None, **extra) -> Scores:
    """Variation ratio (Freeman, 1965; as a committee measure, Beluch et al., 2018): the
    share of the ``M`` committee members voting for the most voted class, in [1/M, 1].

    Prefers rows where the fewest models agree with the majority. ``committee`` has shape
    ``(M, n, K)``: the models AutoGluon trained this round.
    """
    n, k = _shape(pred_probs_unlabeled)
    if n == 0:
        return Scores(np.empty(0))
    committee = _stack("variation_ratio", "committee", committee, n, k, _COMMITTEE)
    return Scores(_by_rows(n, lambda rows: _votes(committee, rows).max(axis=1) / len(committee)))


variation_ratio.needs = ("committee",)


def kl_divergence(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                  committee=None, **extra) -> Scores:
    """Mean Kullback-Leibler divergence to the consensus (McCallum & Nigam, 1998), as
    ``1 - D / log M`` in [0, 1].

    ``D = (1/M) sum_m KL(P_m || P_mean)``, where ``P_m`` are the rows of member ``m`` of
    ``committee`` (shape ``(M, n, K)``: the models AutoGluon trained this round) and
    ``P_mean`` their average; ``D <= log M`` always. Prefers rows where the members'
    whole distributions (not only their votes) depart from the consensus.
    """
    n, k = _shape(pred_probs_unlabeled)
    if n == 0:
        return Scores(np.empty(0))
    committee = _stack("kl_divergence", "committee", committee, n, k, _COMMITTEE)
    if len(committee) < 2:
        return Scores(np.ones(n))

    def rows_score(rows):
        members = np.asarray(committee[:, rows], dtype=float)
        consensus = members.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(members > 0, members * np.log(members / consensus), 0.0)
        divergence = np.clip(terms.sum(axis=2).mean(axis=0), 0.0, None)
        return 1.0 - np.minimum(divergence / np.log(len(members)), 1.0)

    return Scores(_by_rows(n, rows_score))


kl_divergence.needs = ("committee",)


def bald(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None, samples=None,
         **extra) -> Scores:
    """BALD (Houlsby et al., 2011; Gal, Islam & Ghahramani, 2017): the mutual information
    between a row's label and the model, as ``1 - I / log(min(S, K))`` in [0, 1].

    ``I = H(mean_s P_s) - mean_s H(P_s)`` over ``samples`` (shape ``(S, n, K)``), which
    stand in for draws from the posterior: on AutoGluon, every bagged fold model of every
    model trained this round (a bootstrap-like ensemble, as in Beluch et al., 2018, not a
    Bayesian posterior). Prefers rows the samples are each confident about but disagree
    on, over rows that are merely ambiguous.
    """
    n, k = _shape(pred_probs_unlabeled)
    if n == 0:
        return Scores(np.empty(0))
    samples = _stack("bald", "samples", samples, n, k,
                     "several stochastic (e.g. bagged) models' probabilities for the unlabeled rows")
    top = np.log(min(len(samples), k))
    if top <= 0:
        return Scores(np.ones(n))

    def rows_score(rows):
        chunk = np.asarray(samples[:, rows], dtype=float)
        information = _entropy(chunk.mean(axis=0)) - _entropy(chunk).mean(axis=0)
        return 1.0 - np.clip(information / top, 0.0, 1.0)

    return Scores(_by_rows(n, rows_score))


bald.needs = ("samples",)


def activelab_ensemble(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                       committee=None, committee_labeled=None, **extra) -> Scores:
    """ActiveLab over a committee (Goh & Mueller, 2023):
    ``cleanlab.multiannotator.get_active_learning_scores_ensemble``.

    Like :func:`activelab`, scores the unlabeled pool and the labeled pool on one scale in
    [0, 1], so it can ask for a second opinion; each member of ``committee`` (shape
    ``(M, n, K)``) and of ``committee_labeled`` (out-of-sample, shape ``(M, m, K)``, same
    members) is weighted by how well it agrees with the annotators. Prefers what
    ``activelab`` prefers, with the models' disagreement counted in. The inputs are left
    as they are (cleanlab rescales its arrays in place; it gets copies). Where the
    members' votes and mean probabilities tie exactly, the consensus is the later class
    (cleanlab would draw it from NumPy's global generator).
    """
    n, k = _shape(pred_probs_unlabeled)
    has_labels = labels is not None and len(labels) > 0
    unlabeled = (_stack("activelab_ensemble", "committee", committee, n, k, _COMMITTEE)
                 if n else None)
    labeled = (_stack("activelab_ensemble", "committee_labeled", committee_labeled,
                      len(labels), k, "each committee member's out-of-sample probabilities "
                      "for the labeled rows") if has_labels else None)
    if unlabeled is not None and labeled is not None and len(unlabeled) != len(labeled):
        raise ValueError(f"The 'committee' and 'committee_labeled' arguments of the "
                         f"'activelab_ensemble' strategy must have the same members. Got "
                         f"{len(unlabeled)} and {len(labeled)}.")
    if unlabeled is None and labeled is None:
        return Scores(np.empty(0), None if labels is None else np.empty(0))
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # cleanlab prints notices
        scores = _activelab_ensemble(n, labels if has_labels else None, labeled, unlabeled)
    if printed.getvalue().strip():
        logger.debug("cleanlab: %s", printed.getvalue().strip())
    return scores if labels is not None else Scores(scores.unlabeled)


activelab_ensemble.needs = ("committee", "committee_labeled")


_TIE_NUDGE = 1e-9


def _activelab_ensemble(n, labels, labeled, unlabeled) -> Scores:
    def copy(values):
        """A float64 copy (cleanlab rescales the arrays it is given in place), nudged by
        ``_TIE_NUDGE * k`` for class ``k``: cleanlab breaks ties in the consensus that its
        other rules leave with NumPy's global generator (and fails when every row ties),
        so exact ties go to the later class instead."""
        if values is None:
            return None
        values = np.array(values, dtype=float, copy=True)
        values += _TIE_NUDGE * np.arange(values.shape[-1])
        return values / values.sum(axis=-1, keepdims=True)

    get_scores = _multiannotator().get_active_learning_scores_ensemble
    labels = None if labels is None else np.asarray(labels, dtype=float)
    if unlabeled is None:
        scores_l, _ = get_scores(labels, copy(labeled))
        return Scores(np.empty(0), scores_l)
    parts = [get_scores(labels, copy(labeled), copy(unlabeled[:, start : start + _CHUNK]))
             for start in range(0, n, _CHUNK)]
    scores_l = parts[0][0] if labels is not None else np.empty(0)
    return Scores(np.concatenate([u for _, u in parts]), scores_l)


# Strategies over the rows' features (``features_unlabeled``, shape ``(n, d)``, and
# ``features_labeled``, shape ``(m, d)``: numbers the learner makes of each row).


def _features(strategy, features, n, name="features_unlabeled") -> np.ndarray:
    """``features`` checked to be a finite ``(n, d)`` array, as float."""
    if features is None:
        raise ValueError(f"The {strategy!r} strategy needs {name!r}: an array of shape "
                         f"({n}, d) of the rows' features. Got None (see "
                         f"autoal.predict.strategy_inputs).")
    features = np.asarray(features, dtype=float)
    if features.ndim != 2 or len(features) != n:
        raise ValueError(f"The {name!r} argument of the {strategy!r} strategy must have shape "
                         f"({n}, d). Got shape {features.shape}.")
    if features.shape[1] == 0 and n:
        raise ValueError(no_features_message(strategy))
    if not np.isfinite(features).all():
        raise ValueError(f"The {name!r} argument of the {strategy!r} strategy must be finite. "
                         f"Got {int((~np.isfinite(features)).sum())} NaN or infinite values.")
    return features


def no_features_message(strategy) -> str:
    """Why a strategy over row features cannot run when the rows have no feature columns."""
    return (f"The {strategy!r} strategy needs row features, and the model gives 0 feature "
            f"columns for these rows: the tabular learner's features leave out free text and "
            f"file paths (their values are all distinct). Use learner='embedding' for text or "
            f"images, or a strategy without row features ('auto', 'margin', 'activelab').")


def has_features(extra: dict) -> bool:
    """Whether ``extra`` holds row features with at least one column."""
    shapes = [np.shape(extra[k]) for k in ("features_unlabeled", "features_labeled")
              if extra.get(k) is not None]
    return any(len(shape) == 2 and shape[1] > 0 for shape in shapes)


def _feature_pair(strategy, features_unlabeled, features_labeled, n):
    """Both pools' features as float arrays with the same columns (none labeled: ``(0, d)``)."""
    x = _features(strategy, features_unlabeled, n)
    if features_labeled is None or len(features_labeled) == 0:
        return x, np.empty((0, x.shape[1]))
    labeled = _features(strategy, features_labeled, len(features_labeled), "features_labeled")
    if labeled.shape[1] != x.shape[1]:
        raise ValueError(f"The 'features_labeled' argument of the {strategy!r} strategy must "
                         f"have {x.shape[1]} columns, as 'features_unlabeled'. Got "
                         f"{labeled.shape[1]}.")
    return x, labeled


def _sq_distances(a, b) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and ``b``, shape ``(len(a), len(b))``."""
    d = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


_BLOCK = 2048  # rows per block of a distance matrix


def _min_sq_distance(a, b) -> np.ndarray:
    """For each row of ``a``, the squared distance to the nearest row of ``b`` (inf if none)."""
    out = np.full(len(a), np.inf)
    if len(b) == 0:
        return out
    for i in range(0, len(a), _BLOCK):
        for j in range(0, len(b), _BLOCK):
            block = _sq_distances(a[i : i + _BLOCK], b[j : j + _BLOCK]).min(axis=1)
            out[i : i + _BLOCK] = np.minimum(out[i : i + _BLOCK], block)
    return out


def _uncertainty(probs) -> np.ndarray:
    """Normalised entropy ``H(p) / log K`` in [0, 1] (1 = no idea)."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[1] < 2:
        return np.zeros(len(probs))
    return np.clip(_entropy(probs) / np.log(probs.shape[1]), 0.0, 1.0)


def _argbest(values, tiebreak) -> int:
    """Position of the largest value; ties go to the largest ``tiebreak`` draw."""
    tied = np.flatnonzero(values == values.max())
    return int(tied[np.argmax(tiebreak[tied])])


def _draws(rng, n) -> np.ndarray:
    return rng.random(n) if rng is not None else np.zeros(n)


#: Reference rows for :func:`information_density` on a big pool.
DENSITY_SAMPLE = 2000


def information_density(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                        features_unlabeled=None, beta: float = 1.0, **extra) -> Scores:
    """Information density (Settles & Craven, 2008): uncertainty weighted by how typical
    the row is of the pool, as ``1 - u(x) * s(x) ** beta`` in [0, 1].

    ``u`` is the entropy of the row's probabilities over ``log K``; ``s`` is the row's mean
    similarity to the pool, with a Gaussian kernel ``exp(-|x - x'|^2 / (2 sigma^2))`` on
    ``features_unlabeled`` (``sigma``: the median distance between pool rows) instead of
    the paper's cosine, which says little about density on centred features. On a pool of
    more than :data:`DENSITY_SAMPLE` rows the mean is taken over that many rows drawn with
    ``rng``. Prefers uncertain rows in dense regions over uncertain outliers.
    """
    n, _ = _shape(pred_probs_unlabeled)
    if n == 0:
        return Scores(np.empty(0))
    x = _features("information_density", features_unlabeled, n)
    reference = x
    if n > DENSITY_SAMPLE:
        reference = x[np.sort((rng or np.random.default_rng(0)).choice(
            n, DENSITY_SAMPLE, replace=False))]
    pairs = _sq_distances(reference, reference)
    positive = pairs[pairs > 0]
    sigma2 = float(np.median(positive)) if positive.size else 1.0
    density = np.concatenate([
        np.exp(-_sq_distances(x[i : i + _BLOCK], reference) / (2.0 * sigma2)).mean(axis=1)
        for i in range(0, n, _BLOCK)])
    return Scores(1.0 - _uncertainty(pred_probs_unlabeled) * density ** beta)


information_density.needs = ("features",)


def coreset(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
            features_unlabeled=None, features_labeled=None, batch=None, **extra) -> Scores:
    """Core-set by greedy k-center (Sener & Savarese, 2018): each pick is the unlabeled
    row farthest from the labeled rows and the rows picked before it.

    Ignores the probabilities. The ``b = min(batch, n)`` greedy picks score ``0.5 * j / b``
    for the ``j``-th pick, in [0, 0.5); every other row scores in [0.5, 1], lower the farther
    it stays from everything labeled or picked. Distances are Euclidean on
    ``features_unlabeled`` (``(n, d)``) and ``features_labeled`` (``(m, d)``); ties (and
    the first pick when nothing is labeled) go by ``rng``. Cost: ``O(n (m + batch) d)``.
    Prefers rows that cover the parts of the pool nothing labeled is near.
    """
    n, _ = _shape(pred_probs_unlabeled)
    batch = check_int("batch", batch, minimum=1, owner="the 'coreset' strategy")
    if n == 0:
        return Scores(np.empty(0))
    x, labeled = _feature_pair("coreset", features_unlabeled, features_labeled, n)
    distance = _min_sq_distance(x, labeled)
    tiebreak = _draws(rng, n)
    picked = np.zeros(n, dtype=bool)
    order = []
    for _ in range(min(batch, n)):
        best = _argbest(np.where(picked, -np.inf, distance), tiebreak)
        order.append(best)
        picked[best] = True
        distance = np.minimum(distance, _sq_distances(x, x[best : best + 1])[:, 0])
    scores = np.empty(n)
    scores[order] = 0.5 * np.arange(len(order)) / len(order)
    rest = ~picked
    if rest.any():
        far = np.sqrt(distance[rest])
        scores[rest] = 1.0 - 0.5 * (far / far.max() if far.max() > 0 else np.zeros(rest.sum()))
    return Scores(scores)


coreset.needs = ("features", "batch")


def _kmeans(x, k, rng) -> np.ndarray:
    """Cluster of each row of ``x`` by k-means (``k`` clusters, k-means++ seeded by ``rng``).

    Rows are clustered in a canonical order (sorted by their features), so the clusters do
    not depend on the row order.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    k = min(k, len(x))
    if k <= 1 or x.shape[1] == 0:
        return np.zeros(len(x), dtype=int)
    canonical = np.lexsort(x.T[::-1])
    seed = int((rng or np.random.default_rng(0)).integers(2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct rows than k
        found = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(x[canonical])
    clusters = np.empty(len(x), dtype=int)
    clusters[canonical] = found
    return clusters


def _representatives_first(scores, clusters, rng) -> np.ndarray:
    """Scores moved so the best row of each cluster comes first (order kept within groups).

    ``scores`` (lower = sooner) are rescaled to [0, 1]; each cluster's best row (ties by
    ``rng``) then scores in [0, 1/3] and every other row in [2/3, 1]. Rows in cluster -1
    are in none: never moved up.
    """
    scores = np.asarray(scores, dtype=float)
    low, high = scores.min(), scores.max()
    scaled = (scores - low) / (high - low) if high > low else np.zeros(len(scores))
    order = np.lexsort((_draws(rng, len(scores)), scores))
    order = order[clusters[order] >= 0]
    first = np.zeros(len(scores), dtype=bool)
    _, where = np.unique(clusters[order], return_index=True)
    first[order[where]] = True
    return np.where(first, scaled / 3.0, 2.0 / 3.0 + scaled / 3.0)


#: Rows k-means is fitted on in :func:`cluster`; the rest join their nearest centroid.
CLUSTER_SAMPLE = 20_000


def cluster(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
            features_unlabeled=None, batch=None, **extra) -> Scores:
    """Cluster-based sampling: k-means over the pool into ``batch`` clusters, the most
    uncertain row (highest entropy) of each cluster first, in the spirit of Nguyen &
    Smeulders (2004) and Zhdanov (2019).

    The ``batch`` cluster representatives score in [0, 1/3], every other row in [2/3, 1];
    within each group, lower = higher entropy. k-means (k-means++, seeded by ``rng``) runs
    on ``features_unlabeled`` (``(n, d)``); on a pool of more than :data:`CLUSTER_SAMPLE`
    rows it is fitted on that many rows drawn with ``rng`` and every row joins its nearest
    centroid. Prefers uncertain rows that are unlike each other.
    """
    n, _ = _shape(pred_probs_unlabeled)
    batch = check_int("batch", batch, minimum=1, owner="the 'cluster' strategy")
    if n == 0:
        return Scores(np.empty(0))
    x = _features("cluster", features_unlabeled, n)
    if n <= CLUSTER_SAMPLE:
        clusters = _kmeans(x, batch, rng)
    else:
        fitted = np.sort((rng or np.random.default_rng(0)).choice(n, CLUSTER_SAMPLE, replace=False))
        sample = x[fitted]
        found = _kmeans(sample, batch, rng)
        centroids = np.stack([sample[found == c].mean(axis=0) for c in np.unique(found)])
        clusters = np.concatenate([_sq_distances(x[i : i + _BLOCK], centroids).argmin(axis=1)
                                   for i in range(0, n, _BLOCK)])
    return Scores(_representatives_first(1.0 - _uncertainty(pred_probs_unlabeled), clusters, rng))


cluster.needs = ("features", "batch")


#: Neighbours that define a row's typicality in :func:`typical`.
TYPICAL_NEIGHBOURS = 20


def typical(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
            features_unlabeled=None, features_labeled=None, batch=None, **extra) -> Scores:
    """TypiClust (Hacohen, Dekel & Weinshall, 2022): the most typical row of each of the
    biggest clusters that nothing labeled is in. Meant for a cold start.

    Ignores the probabilities. k-means (k-means++, seeded by ``rng``) clusters the
    labeled and unlabeled rows together (``features_labeled``, ``features_unlabeled``)
    into ``m + batch`` clusters, ``m`` the labeled rows; clusters are taken fewest
    labeled rows first, then biggest first, and from each of the first ``batch`` the
    unlabeled row with the highest typicality, the inverse of its mean distance to its
    :data:`TYPICAL_NEIGHBOURS` nearest neighbours in its cluster. Those picks score in
    [0, 1/3] in that order; every other row in [2/3, 1], lower the more typical. On a
    pool of more than :data:`CLUSTER_SAMPLE` rows only that many unlabeled rows, drawn
    with ``rng``, are candidates (the rest score 1). Prefers rows that stand for a dense
    region no label covers yet. Ties go by the rows' features, so
    permuting rows permutes scores. Cost: k-means with ``m + batch`` clusters, then
    distances within each cluster, so it suits a small labeled pool.
    """
    n, _ = _shape(pred_probs_unlabeled)
    batch = check_int("batch", batch, minimum=1, owner="the 'typical' strategy")
    if n == 0:
        return Scores(np.empty(0))
    x, labeled = _feature_pair("typical", features_unlabeled, features_labeled, n)
    candidates = np.arange(n)
    if n > CLUSTER_SAMPLE:
        candidates = np.sort((rng or np.random.default_rng(0)).choice(n, CLUSTER_SAMPLE,
                                                                      replace=False))
    both = np.concatenate([x[candidates], labeled])
    clusters = _kmeans(both, len(labeled) + batch, rng)
    of_unlabeled, of_labeled = clusters[: len(candidates)], clusters[len(candidates):]
    typicality = np.zeros(len(candidates))
    for c in np.unique(of_unlabeled):
        members = np.flatnonzero(of_unlabeled == c)
        points = np.concatenate([x[candidates[members]], labeled[of_labeled == c]])
        if len(points) < 2:
            typicality[members] = 0.0
            continue
        near = min(TYPICAL_NEIGHBOURS, len(points) - 1)
        for start in range(0, len(members), _BLOCK):  # bounded (block x cluster) distances
            rows = members[start : start + _BLOCK]
            distances = np.sqrt(_sq_distances(x[candidates[rows]], points))
            # the near + 1 smallest hold the row itself (distance 0) and its neighbours
            closest = np.sort(np.partition(distances, near, axis=1)[:, : near + 1], axis=1)
            typicality[rows] = 1.0 / (closest[:, 1:].mean(axis=1) + 1e-12)
    # Ties go by the rows' features (not their positions), so the order follows the rows.
    canonical = np.empty(len(candidates), dtype=int)
    canonical[np.lexsort(x[candidates].T[::-1])] = np.arange(len(candidates))
    order = np.lexsort((canonical, -typicality))  # most typical first
    covered = np.bincount(of_labeled, minlength=clusters.max() + 1)
    size = np.bincount(of_unlabeled, minlength=clusters.max() + 1)
    best = {}
    for i in order:
        best.setdefault(of_unlabeled[i], i)
    ranked = sorted(best, key=lambda c: (covered[c], -size[c], -typicality[best[c]],
                                         canonical[best[c]]))[:batch]
    picks = [best[c] for c in ranked]
    scores = np.ones(n)
    scores[candidates[order]] = 2.0 / 3.0 + np.arange(len(order)) / (3.0 * len(order))
    scores[candidates[picks]] = np.arange(len(picks)) / (3.0 * len(picks))
    return Scores(scores)


typical.needs = ("features", "batch")


def expected_model_change(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                          features_unlabeled=None, **extra) -> Scores:
    """Expected gradient length (Settles, Craven & Ray, 2008) of a softmax (multinomial
    logistic) layer on the row's features, as ``1 / (1 + EGL)`` in (0, 1].

    What it approximates: the expected norm of the log-loss gradient with respect to the
    weights ``W`` (``K x (d + 1)``) of a linear softmax classifier over
    ``x~ = (features_unlabeled row, 1)``, if the row were labeled ``k`` with probability
    ``p_k`` (the learner's probabilities): ``sum_k p_k ||(e_k - p) x~^T|| =
    ||x~|| * sum_k p_k ||e_k - p||``. The gradient is evaluated at the learner's ``p``,
    not at any fitted softmax weights (AutoGluon's trees have no gradient), so this
    measures how much a label would move such a layer, not AutoGluon's models. Prefers
    uncertain rows with large feature vectors.
    """
    n, _ = _shape(pred_probs_unlabeled)
    if n == 0:
        return Scores(np.empty(0))
    x = _features("expected_model_change", features_unlabeled, n)
    probs = np.asarray(pred_probs_unlabeled, dtype=float)
    length = np.sqrt((x * x).sum(axis=1) + 1.0)
    squared = np.sum(probs * probs, axis=1, keepdims=True)
    # ||e_k - p||^2 = 1 - 2 p_k + ||p||^2
    spread = np.sum(probs * np.sqrt(np.clip(1.0 - 2.0 * probs + squared, 0.0, None)), axis=1)
    return Scores(1.0 / (1.0 + length * spread))


expected_model_change.needs = ("features",)


def diverse(strategy, beta: int = 10) -> Strategy:
    """Batch diversity on top of any strategy (in the spirit of Zhdanov, 2019).

    The returned strategy takes the ``beta * batch`` best rows by ``strategy``'s scores
    (both pools, where it scores the labeled pool too), clusters them by k-means into
    ``batch`` clusters over their features, and moves the best row of each cluster to the
    front. Scores are transformed monotonically within two groups: the representatives
    score in [0, 1/3], every other row in [2/3, 1], each group in ``strategy``'s order; so
    the batch from :func:`autoal.select.select_batch` is one row per cluster where it can
    be, and unpicked rows keep their relative order.

    ``strategy`` is a name from :data:`STRATEGIES` or a function; the result is named
    ``"<name>_diverse"`` and needs what ``strategy`` needs plus ``"features"`` and
    ``"batch"``.
    """
    name, base = ((getattr(strategy, "__name__", "custom"), strategy) if callable(strategy)
                  else get_strategy(strategy))
    beta = check_int("beta", beta, minimum=1, owner="diverse")
    base_needs = tuple(getattr(base, "needs", ()))
    passed = [kw for need in base_needs for kw in NEEDS.get(need, ())]

    def diversified(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None,
                    features_unlabeled=None, features_labeled=None, batch=None, **extra):
        given = dict(extra, features_unlabeled=features_unlabeled,
                     features_labeled=features_labeled, batch=batch)
        scores = base(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng,
                      **{kw: given[kw] for kw in passed if kw in given})
        size = check_int("batch", batch, minimum=1, owner=f"the {diversified.__name__!r} strategy")
        n_u = len(scores.unlabeled)
        combined = np.asarray(scores.unlabeled, dtype=float)
        blocks = [_features(diversified.__name__, features_unlabeled, n_u)] if n_u else []
        if scores.labeled is not None and len(scores.labeled):
            combined = np.concatenate([combined, np.asarray(scores.labeled, dtype=float)])
            blocks.append(_features(diversified.__name__, features_labeled,
                                    len(scores.labeled), "features_labeled"))
        if len(combined) == 0:
            return scores
        if len({block.shape[1] for block in blocks}) > 1:
            raise ValueError(f"The 'features_labeled' argument of the {diversified.__name__!r} "
                             f"strategy must have as many columns as 'features_unlabeled'. Got "
                             f"{blocks[1].shape[1]} and {blocks[0].shape[1]}.")
        x = np.concatenate(blocks)
        candidates = lowest(combined, beta * size, rng or np.random.default_rng(0))
        clusters = np.full(len(combined), -1)
        clusters[candidates] = _kmeans(x[candidates], size, rng)
        moved = _representatives_first(combined, clusters, rng)
        return Scores(moved[:n_u], moved[n_u:] if scores.labeled is not None else None)

    diversified.__name__ = diversified.__qualname__ = f"{name}_diverse"
    diversified.__doc__ = (
        f"{name!r} with batch diversity (Zhdanov, 2019; see autoal.strategies.diverse, "
        f"beta={beta}): prefers what {name!r} prefers, but one row per k-means cluster of "
        f"its {beta} * batch best rows, so a batch holds no near-duplicates.")
    diversified.needs = tuple(dict.fromkeys((*base_needs, "features", "batch")))
    return diversified


#: What a strategy may list in its ``needs`` attribute, and the keyword arguments each adds.
NEEDS = {
    "batch": ("batch",),
    "committee": ("committee",),
    "committee_labeled": ("committee_labeled",),
    "samples": ("samples",),
    "features": ("features_unlabeled", "features_labeled"),
}


#: How many of margin's best rows per batch slot ``auto``'s diversity step clusters.
AUTO_BETA = 3
_WITH_FEATURES = with_activelab(warm_up(diverse(margin, beta=AUTO_BETA), first=typical))
_WITHOUT_FEATURES = with_activelab(warm_up(margin))


def auto(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None, **extra) -> Scores:
    """autoal's default, chosen by measurement (``benchmarks/default_strategy.py``).

    ActiveLab decides how many second opinions a batch asks for against new rows
    (:func:`with_activelab`). New rows: while fewer than 3 rows per class are labeled,
    the most typical row of each big cluster (:func:`typical`, a cold-start warm-up,
    :func:`warm_up`); after that, the smallest margins, one per cluster of
    near-duplicates among the ``3 * batch`` smallest (:func:`diverse` of :func:`margin`
    with ``beta=3``: ``activelab_margin_diverse_warm_typical`` clusters ``10 * batch``).
    It needs row features, so where the model has no ``embed`` (the multimodal learner,
    a learner of your own), or its features have no columns (free text with the tabular
    learner), ``auto`` is ``activelab_margin_warm`` instead: random warm-up, then margin,
    needing nothing.

    ``beta=3`` was chosen over 10 on digits, the Fashion images and Austen passages
    (3 seeds each): a higher area under the learning curve on all three and fewer
    labels to reach random's final accuracy; the figures on the sets it was not chosen
    on are in the README.
    """
    chosen = _WITH_FEATURES if has_features(extra) else _WITHOUT_FEATURES
    return chosen(pred_probs_unlabeled, labels=labels, pred_probs=pred_probs, rng=rng,
                  **_given(chosen, extra))


auto.needs = ("batch",)
#: Inputs given when the model can provide them, left out otherwise.
auto.optional = ("features",)


STRATEGIES: dict[str, Strategy] = {
    "auto": auto,
    "activelab": activelab,
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
    "random": random,
    "good_random": good_random,
    "vote_entropy": vote_entropy,
    "kl_divergence": kl_divergence,
    "variation_ratio": variation_ratio,
    "activelab_ensemble": activelab_ensemble,
    "bald": bald,
    "information_density": information_density,
    "coreset": coreset,
    "cluster": cluster,
    "expected_model_change": expected_model_change,
    "margin_diverse": diverse(margin),
    "activelab_margin": activelab_margin,
    "typical": typical,
    "activelab_margin_diverse_warm": with_activelab(warm_up(diverse(margin))),
    "activelab_margin_diverse_warm_typical": with_activelab(warm_up(diverse(margin),
                                                                    first=typical)),
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
