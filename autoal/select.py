"""Selection: turn scores into a batch (lower score = label sooner).

Kept apart from scoring so any strategy's scores go through the same rules.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """Positions picked from each pool, best first."""

    new: np.ndarray  # positions in the unlabeled pool
    relabel: np.ndarray  # positions in the labeled pool to send for another label
    relabel_requests: int  # relabelable labeled rows among the batch's best scores


def lowest(scores, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the ``k`` lowest scores, best first; ties broken by ``rng``.

    The order is that of a full sort by ``(score, draw, position)`` with one uniform
    draw per score (NaN last), but only the scores up to the ``k``-th smallest value
    are sorted, so a small batch from a big pool costs a partial sort, not a full one.
    """
    scores = np.asarray(scores, dtype=float)
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=int)
    tiebreak = rng.random(len(scores))
    # Every row tied with the k-th smallest score stays a candidate (NaN compares
    # False, so a NaN k-th value keeps everything), and ties are broken as before.
    kth = np.partition(scores, k - 1)[k - 1]
    candidates = np.flatnonzero(~(scores > kth))
    order = np.lexsort((tiebreak[candidates], scores[candidates]))
    return candidates[order[:k]]


def select_batch(unlabeled_scores, labeled_scores, batch: int, rng: np.random.Generator,
                 can_relabel=None) -> Batch:
    """Pick ``batch`` rows from both pools together by lowest score.

    A labeled row among the picks is a relabel request. It goes in the batch only
    where ``can_relabel`` (a boolean mask over the labeled pool) allows, for example
    when some annotator has not labeled it yet; otherwise it is skipped and the next
    candidate taken. ``labeled_scores=None`` ranks the unlabeled pool alone.

    ``relabel_requests`` counts the labeled rows among the ``batch`` best scores that
    ``can_relabel`` allows: the second opinions the scores ask for, before any skipped
    row's place is filled. Rows no one can relabel are not counted, so with a single
    annotator it is 0.
    """
    unlabeled_scores = np.asarray(unlabeled_scores, dtype=float)
    n_u = len(unlabeled_scores)
    if labeled_scores is None or len(labeled_scores) == 0:
        return Batch(lowest(unlabeled_scores, batch, rng), np.empty(0, dtype=int), 0)
    labeled_scores = np.asarray(labeled_scores, dtype=float)
    if can_relabel is None:
        can_relabel = np.zeros(len(labeled_scores), dtype=bool)
    can_relabel = np.asarray(can_relabel, dtype=bool)
    combined = np.concatenate([unlabeled_scores, labeled_scores])
    # Among the best ``batch + blocked`` candidates at least ``batch`` are usable.
    order = lowest(combined, batch + int(np.sum(~can_relabel)), rng)
    usable = (order < n_u) | can_relabel[np.maximum(order - n_u, 0)]
    requests = int(np.sum((order[:batch] >= n_u) & usable[:batch]))
    picked = order[usable][:batch]
    return Batch(picked[picked < n_u], picked[picked >= n_u] - n_u, requests)
