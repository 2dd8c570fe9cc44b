import numpy as np

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


def test_relabel_requests_counted_and_skipped_when_nobody_can_relabel():
    unlabeled = np.array([0.5, 0.6, 0.7, 0.8])
    labeled = np.array([0.1, 0.2, 0.9])
    chosen = select_batch(unlabeled, labeled, 3, np.random.default_rng(0))
    assert chosen.relabel_requests == 2
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
