import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from autoal.select import lowest, select_batch


def test_lowest_best_first_and_ties_broken_by_seed():
    scores = np.array([0.5, 0.1, 0.1, 0.1, 0.9])
    a = lowest(scores, 2, np.random.default_rng(0))
    assert set(a) <= {1, 2, 3}
    assert np.array_equal(a, lowest(scores, 2, np.random.default_rng(0)))
    picks = {tuple(lowest(scores, 2, np.random.default_rng(s))) for s in range(20)}
    assert len(picks) > 1  # ties really are broken at random
    assert list(lowest(scores, 10, np.random.default_rng(0)))[-1] == 4
    assert lowest(scores, 0, np.random.default_rng(0)).size == 0


def test_batch_is_unique_rows_of_the_pool():
    rng = np.random.default_rng(1)
    chosen = select_batch(rng.random(50), None, 10, np.random.default_rng(0))
    assert len(chosen.new) == 10 == len(set(chosen.new))
    assert chosen.relabel.size == 0 and chosen.relabel_requests == 0


def test_no_relabel_requests_counted_when_nobody_can_relabel():
    unlabeled = np.array([0.5, 0.6, 0.7, 0.8])
    labeled = np.array([0.1, 0.2, 0.9])
    chosen = select_batch(unlabeled, labeled, 3, np.random.default_rng(0))
    assert chosen.relabel_requests == 0  # two labeled rows score best, but nobody can relabel
    assert chosen.relabel.size == 0
    assert list(chosen.new) == [0, 1, 2]  # the batch is filled with new rows


def test_relabel_taken_where_allowed():
    unlabeled = np.array([0.5, 0.6, 0.7, 0.8])
    labeled = np.array([0.1, 0.2, 0.9])
    chosen = select_batch(unlabeled, labeled, 3, np.random.default_rng(0),
                          can_relabel=np.array([False, True, True]))
    assert list(chosen.relabel) == [1]
    assert list(chosen.new) == [0, 1]


def test_small_pool_gives_what_there_is():
    chosen = select_batch(np.array([0.3, 0.2]), None, 10, np.random.default_rng(0))
    assert list(chosen.new) == [1, 0]


def _full_sort_lowest(scores, k, rng):
    """The reference: a full lexsort by (score, draw), as lowest() did before."""
    scores = np.asarray(scores, dtype=float)
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=int)
    return np.lexsort((rng.random(len(scores)), scores))[:k]


def _full_sort_select(unlabeled, labeled, batch, rng, can_relabel):
    """The reference select_batch: orders the whole combined pool."""
    n_u = len(unlabeled)
    if len(labeled) == 0:  # then the unlabeled pool is ranked alone
        return _full_sort_lowest(unlabeled, batch, rng), np.empty(0, dtype=int), 0
    order = _full_sort_lowest(np.concatenate([unlabeled, labeled]), n_u + len(labeled), rng)
    usable = (order < n_u) | can_relabel[np.maximum(order - n_u, 0)]
    requests = int(np.sum((order[:batch] >= n_u) & usable[:batch]))
    picked = order[usable][:batch]
    return picked[picked < n_u], picked[picked >= n_u] - n_u, requests


# Few distinct values, so ties (also at the k-th place) are the rule; NaN and infinities too.
tied_scores = st.lists(st.sampled_from([0.0, -0.0, 0.1, 0.5, 1.0, np.inf, -np.inf, np.nan]),
                       max_size=60).map(lambda v: np.array(v, dtype=float))


@settings(max_examples=300, deadline=None)
@given(scores=tied_scores, k=st.integers(-1, 70), seed=st.integers(0, 2**32 - 1))
def test_lowest_matches_a_full_sort(scores, k, seed):
    rng, reference_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    assert np.array_equal(lowest(scores, k, rng), _full_sort_lowest(scores, k, reference_rng))
    assert rng.random() == reference_rng.random()  # the same draws were used up


@settings(max_examples=300, deadline=None)
@given(unlabeled=tied_scores, labeled=tied_scores, batch=st.integers(1, 40),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_select_batch_matches_a_full_sort(unlabeled, labeled, batch, seed, data):
    can_relabel = np.array(data.draw(st.lists(st.booleans(), min_size=len(labeled),
                                               max_size=len(labeled))), dtype=bool)
    chosen = select_batch(unlabeled, labeled, batch, np.random.default_rng(seed),
                          can_relabel=can_relabel)
    new, relabel, requests = _full_sort_select(unlabeled, labeled, batch,
                                               np.random.default_rng(seed), can_relabel)
    assert np.array_equal(chosen.new, new)
    assert np.array_equal(chosen.relabel, relabel)
    assert chosen.relabel_requests == requests
