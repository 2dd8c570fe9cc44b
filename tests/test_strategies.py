import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autoal.strategies import STRATEGIES, Scores, entropy, get_strategy, least_confidence, margin

PROBS = np.array([
    [0.90, 0.05, 0.05],  # confident
    [0.40, 0.35, 0.25],  # unsure
    [0.50, 0.50, 0.00],  # torn between two
    [1 / 3, 1 / 3, 1 / 3],  # no idea
])
LABELS = np.array([[0.0], [1.0], [2.0]])
LABELED_PROBS = np.array([[0.8, 0.1, 0.1], [0.3, 0.4, 0.3], [0.7, 0.2, 0.1]])


def run(name, probs=PROBS, seed=0):
    return STRATEGIES[name](probs, labels=LABELS, pred_probs=LABELED_PROBS,
                            rng=np.random.default_rng(seed))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_shape_finite_and_labeled_pool(name):
    scores = run(name)
    assert isinstance(scores, Scores)
    assert scores.unlabeled.shape == (len(PROBS),)
    assert np.isfinite(scores.unlabeled).all()
    if scores.labeled is not None:
        assert scores.labeled.shape == (len(LABELS),)
        assert np.isfinite(scores.labeled).all()


RANDOM = {"random", "good_random"}


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - RANDOM))
def test_direction_lower_means_label_sooner(name):
    """The confident row must score above the row the model cannot decide on."""
    scores = run(name).unlabeled
    assert scores[0] > scores[3]


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - RANDOM))
def test_permuting_rows_permutes_scores(name):
    order = np.array([2, 0, 3, 1])
    assert np.allclose(run(name, PROBS[order]).unlabeled, run(name).unlabeled[order])


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_depends_on_seed_only(name):
    assert np.array_equal(run(name, seed=3).unlabeled, run(name, seed=3).unlabeled)
    assert not np.array_equal(run(name, seed=3).unlabeled, run(name, seed=4).unlabeled)
    with pytest.raises(ValueError, match="needs a numpy Generator"):
        STRATEGIES[name](PROBS)


def test_good_random_prefers_the_fewest_annotations():
    labels = np.array([[0.0, 1.0], [2.0, np.nan], [1.0, np.nan]])
    scores = STRATEGIES["good_random"](PROBS, labels=labels, pred_probs=LABELED_PROBS,
                                       rng=np.random.default_rng(0))
    assert scores.unlabeled.max() < scores.labeled[1:].min()  # new rows first
    assert scores.labeled[1:].max() < scores.labeled[0]  # then rows with one label


def test_hand_computed_values():
    assert np.allclose(least_confidence(PROBS).unlabeled, [0.9, 0.4, 0.5, 1 / 3])
    assert np.allclose(margin(PROBS).unlabeled, [0.85, 0.05, 0.0, 0.0])
    h = -(0.9 * np.log(0.9) + 2 * 0.05 * np.log(0.05))
    expected = [1 - h / np.log(3), None, 1 - np.log(2) / np.log(3), 0.0]
    got = entropy(PROBS).unlabeled
    assert got[0] == pytest.approx(expected[0])
    assert got[2] == pytest.approx(expected[2])
    assert got[3] == pytest.approx(0.0, abs=1e-12)


def test_activelab_scores_both_pools_on_one_scale():
    scores = run("activelab")
    # The labeled row whose label the model doubts scores below the one it agrees with.
    assert scores.labeled[1] < scores.labeled[0]
    assert ((0 <= scores.unlabeled) & (scores.unlabeled <= 1)).all()


def test_activelab_with_one_pool_empty():
    only_unlabeled = STRATEGIES["activelab"](PROBS)
    assert only_unlabeled.labeled is None and only_unlabeled.unlabeled.shape == (4,)
    only_labeled = STRATEGIES["activelab"](np.empty((0, 3)), labels=LABELS, pred_probs=LABELED_PROBS)
    assert only_labeled.unlabeled.shape == (0,) and only_labeled.labeled.shape == (3,)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="'strategy' parameter must be one of .*Got 'nope'"):
        get_strategy("nope")
    assert get_strategy(margin) == ("margin", margin)


prob_matrices = st.integers(2, 6).flatmap(lambda k: arrays(
    float, st.tuples(st.integers(1, 20), st.just(k)),
    elements=st.floats(0.001, 1.0, allow_nan=False))).map(lambda a: a / a.sum(axis=1, keepdims=True))


@settings(max_examples=60, deadline=None)
@given(prob_matrices)
def test_properties_on_random_probabilities(probs):
    for name in STRATEGIES:
        scores = STRATEGIES[name](probs, rng=np.random.default_rng(0)).unlabeled
        assert scores.shape == (len(probs),)
        assert np.isfinite(scores).all()
        assert (scores >= -1e-9).all() and (scores <= 1 + 1e-9).all()
    # Margin never exceeds least confidence's top probability.
    assert (margin(probs).unlabeled <= least_confidence(probs).unlabeled + 1e-12).all()
