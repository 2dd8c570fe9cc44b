import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autoal.predict import strategy_inputs
from autoal.select import select_batch
from autoal.strategies import (
    NEEDS, STRATEGIES, Scores, activelab_ensemble, bald, coreset, diverse, entropy,
    get_strategy, kl_divergence, least_confidence, margin, variation_ratio, vote_entropy,
)

PROBS = np.array([
    [0.90, 0.05, 0.05],  # confident
    [0.40, 0.35, 0.25],  # unsure
    [0.50, 0.50, 0.00],  # torn between two
    [1 / 3, 1 / 3, 1 / 3],  # no idea
])
LABELS = np.array([[0.0], [1.0], [2.0]])
LABELED_PROBS = np.array([[0.8, 0.1, 0.1], [0.3, 0.4, 0.3], [0.7, 0.2, 0.1]])


def committee_from(probs, members=8):
    """A committee that agrees on confident rows and splits on unsure ones.

    Member ``m`` is half the row's probabilities, half a one-hot vote for the class at
    quantile ``(m + 1/2) / members`` of the row's distribution; it depends on the row
    alone, so permuting rows permutes the committee.
    """
    probs = np.asarray(probs, dtype=float)
    quantiles = (np.arange(members) + 0.5) / members
    votes = (quantiles[:, None, None] >= np.cumsum(probs, axis=1)[None]).sum(axis=2)
    return 0.5 * probs[None] + 0.5 * np.eye(probs.shape[1])[np.minimum(votes, probs.shape[1] - 1)]


def features_from(probs):
    """Row features that depend on the row alone."""
    return np.hstack([probs, probs ** 2])


def extra_for(name, probs=PROBS, labeled_probs=LABELED_PROBS, batch=2):
    """The keyword arguments the loop would add for strategy ``name``, from its ``needs``."""
    needs = getattr(STRATEGIES[name], "needs", ())
    assert set(needs) <= set(NEEDS)
    extra = {}
    if "batch" in needs:
        extra["batch"] = batch
    if "committee" in needs:
        extra["committee"] = committee_from(probs)
    if "committee_labeled" in needs and labeled_probs is not None:
        extra["committee_labeled"] = committee_from(labeled_probs)
    if "samples" in needs:
        extra["samples"] = committee_from(probs, members=5)
    if "features" in needs:
        extra["features_unlabeled"] = features_from(probs)
        extra["features_labeled"] = (features_from(labeled_probs) if labeled_probs is not None
                                     else np.empty((0, 2 * probs.shape[1])))
    return extra


def run(name, probs=PROBS, seed=0, batch=2):
    return STRATEGIES[name](probs, labels=LABELS, pred_probs=LABELED_PROBS,
                            rng=np.random.default_rng(seed), **extra_for(name, probs, batch=batch))


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
# Ignores the probabilities: covers the feature space instead.
PROBABILITY_FREE = {"coreset", "typical"}
# A warm-up ignores the model while few rows per class are labeled (LABELS: 1 per class).
WARM = {name for name in STRATEGIES if "_warm" in name} | {"auto"}
# Break exact ties in their own ranking with rng draws (so tied rows do not follow the rows).
TIES_BY_RNG = {"cluster", "coreset", "margin_diverse"}
DISTINCT = np.array([[0.90, 0.06, 0.04], [0.40, 0.35, 0.25], [0.50, 0.45, 0.05], [0.34, 0.33, 0.33]])


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - RANDOM - PROBABILITY_FREE - WARM))
def test_direction_lower_means_label_sooner(name):
    """The confident row must score above the row the model cannot decide on.

    With a batch of one, diversity has nothing to trade against uncertainty (with a
    bigger batch a confident row alone in its cluster rightly goes before a redundant
    unsure one; test_diverse_avoids_near_duplicates covers that).
    """
    scores = run(name, batch=1).unlabeled
    assert scores[0] > scores[3]


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - RANDOM - WARM))
def test_permuting_rows_permutes_scores(name):
    order = np.array([2, 0, 3, 1])
    probs = DISTINCT if name in TIES_BY_RNG else PROBS
    assert np.allclose(run(name, probs[order]).unlabeled, run(name, probs).unlabeled[order])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_same_seed_same_scores(name):
    a, b = run(name, seed=5), run(name, seed=5)
    assert np.array_equal(a.unlabeled, b.unlabeled)
    assert (a.labeled is None) == (b.labeled is None)
    if a.labeled is not None:
        assert np.array_equal(a.labeled, b.labeled)


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
        scores = STRATEGIES[name](probs, rng=np.random.default_rng(0),
                                  **extra_for(name, probs, labeled_probs=None)).unlabeled
        assert scores.shape == (len(probs),)
        assert np.isfinite(scores).all()
        assert (scores >= -1e-9).all() and (scores <= 1 + 1e-9).all()
    # Margin never exceeds least confidence's top probability.
    assert (margin(probs).unlabeled <= least_confidence(probs).unlabeled + 1e-12).all()


# Committee, sampling and feature strategies.

COMMITTEE = np.array([  # 3 members, 2 rows, 3 classes
    [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1]],
    [[0.6, 0.2, 0.2], [0.1, 0.6, 0.3]],
    [[0.2, 0.7, 0.1], [0.3, 0.1, 0.6]],
])


def h(*p):
    return -sum(x * np.log(x) for x in p if x > 0)


def test_committee_hand_computed_values():
    probs = COMMITTEE.mean(axis=0)
    # Row 0: votes 2, 1, 0 of 3; row 1: one vote each, as spread as votes can be.
    assert vote_entropy(probs, committee=COMMITTEE).unlabeled == pytest.approx(
        [1 - h(2 / 3, 1 / 3) / np.log(3), 0.0])
    assert variation_ratio(probs, committee=COMMITTEE).unlabeled == pytest.approx([2 / 3, 1 / 3])
    # Row 1's members are permutations of (0.6, 0.3, 0.1) and the consensus is uniform, so
    # each KL is log 3 - H(0.6, 0.3, 0.1).
    q = [0.8 + 0.6 + 0.2, 0.1 + 0.2 + 0.7, 0.1 + 0.2 + 0.1]
    q = [x / 3 for x in q]
    kl0 = np.mean([sum(p * np.log(p / c) for p, c in zip(member, q))
                   for member in ([0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.2, 0.7, 0.1])])
    assert kl_divergence(probs, committee=COMMITTEE).unlabeled == pytest.approx(
        [1 - kl0 / np.log(3), h(0.6, 0.3, 0.1) / np.log(3)])


def test_bald_hand_computed_values():
    samples = np.array([
        [[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]],
        [[0.0, 1.0], [0.5, 0.5], [0.7, 0.3]],
    ])
    information = h(0.8, 0.2) - (h(0.9, 0.1) + h(0.7, 0.3)) / 2
    got = bald(samples.mean(axis=0), samples=samples).unlabeled
    # Sure but opposed: all the information; equally unsure: none.
    assert got == pytest.approx([0.0, 1.0, 1 - information / np.log(2)])
    # Entropy ranks the two first rows alike (both average to 50/50); BALD does not.
    assert entropy(samples.mean(axis=0)).unlabeled[:2] == pytest.approx([0.0, 0.0], abs=1e-12)


def test_committee_strategies_need_a_committee():
    with pytest.raises(ValueError, match="'vote_entropy' strategy needs 'committee'.*Got None"):
        vote_entropy(PROBS)
    with pytest.raises(ValueError, match=r"'samples' argument of the 'bald' strategy must have "
                                         r"shape \(M, 4, 3\) with M >= 1. Got shape \(2, 3, 3\)"):
        bald(PROBS, samples=np.ones((2, 3, 3)) / 3)


def test_activelab_ensemble_leaves_its_inputs_alone_and_scores_both_pools():
    labels = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, np.nan]])  # two annotators: temperature scaling
    committee = committee_from(PROBS).astype(np.float32)
    committee_labeled = committee_from(LABELED_PROBS)
    saved = committee.copy(), committee_labeled.copy()
    scores = activelab_ensemble(PROBS, labels=labels, pred_probs=LABELED_PROBS,
                                committee=committee, committee_labeled=committee_labeled)
    assert np.array_equal(committee, saved[0]) and np.array_equal(committee_labeled, saved[1])
    assert scores.unlabeled.shape == (4,) and scores.labeled.shape == (3,)
    assert np.isfinite(scores.labeled).all() and ((0 <= scores.unlabeled) & (scores.unlabeled <= 1)).all()
    # The same scores again: nothing of the first call stuck to the arrays.
    again = activelab_ensemble(PROBS, labels=labels, pred_probs=LABELED_PROBS,
                               committee=committee, committee_labeled=committee_labeled)
    assert np.array_equal(scores.unlabeled, again.unlabeled)
    only_labeled = activelab_ensemble(np.empty((0, 3)), labels=labels, pred_probs=LABELED_PROBS,
                                      committee_labeled=committee_labeled)
    assert only_labeled.unlabeled.shape == (0,) and np.allclose(only_labeled.labeled, scores.labeled)


def test_coreset_picks_the_far_away_point_then_covers_the_rest():
    labeled = np.array([[0.0, 0.0]])
    pool = np.array([[0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [0.3, 0.1]])
    probs = np.full((4, 2), 0.5)
    scores = coreset(probs, features_unlabeled=pool, features_labeled=labeled, batch=2,
                     rng=np.random.default_rng(0)).unlabeled
    picked = select_batch(scores, None, 2, np.random.default_rng(0)).new
    assert picked.tolist() == [2, 3]  # far point first, then the farthest from both
    assert scores[[0, 1]].min() > scores[[2, 3]].max()
    with pytest.raises(ValueError, match="'batch' parameter of the 'coreset' strategy must be an "
                                         "int >= 1. Got None"):
        coreset(probs, features_unlabeled=pool, features_labeled=labeled)


def test_diverse_avoids_near_duplicates():
    # Rows 0-2: near-duplicates the model is least sure of; 3-4 and 5: two other groups.
    probs = np.array([[0.50, 0.50], [0.505, 0.495], [0.51, 0.49], [0.55, 0.45], [0.75, 0.25],
                      [0.65, 0.35]])
    features = np.array([[0.0, 0.0], [0.01, 0.0], [0.0, 0.01], [10.0, 0.0], [10.1, 0.0],
                         [0.0, 10.0]])
    rng = np.random.default_rng
    plain = select_batch(margin(probs).unlabeled, None, 3, rng(0)).new
    assert sorted(plain) == [0, 1, 2]
    wrapped = diverse(margin, beta=2)
    assert wrapped.__name__ == "margin_diverse" and set(wrapped.needs) == {"features", "batch"}
    scores = wrapped(probs, rng=rng(0), features_unlabeled=features, batch=3).unlabeled
    assert select_batch(scores, None, 3, rng(0)).new.tolist() == [0, 3, 5]
    # Unpicked rows keep margin's order among themselves.
    assert scores[1] < scores[2] < scores[4]
    registered = STRATEGIES["margin_diverse"](probs, rng=rng(0), features_unlabeled=features, batch=3)
    assert np.allclose(registered.unlabeled, scores)  # beta=10 takes all 6 rows, as beta=2 did


def test_diverse_wraps_any_strategy_and_breaks_exact_ties_by_seed():
    wrapped = diverse("activelab_ensemble")
    assert wrapped.__name__ == "activelab_ensemble_diverse"
    assert wrapped.needs == ("committee", "committee_labeled", "features", "batch")
    scores = wrapped(PROBS, labels=LABELS, pred_probs=LABELED_PROBS, rng=np.random.default_rng(0),
                     committee=committee_from(PROBS), committee_labeled=committee_from(LABELED_PROBS),
                     features_unlabeled=features_from(PROBS),
                     features_labeled=features_from(LABELED_PROBS), batch=2)
    assert scores.unlabeled.shape == (4,) and scores.labeled.shape == (3,)
    # Two identical best rows: which one stands for their cluster is up to the seed.
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]])
    features = np.array([[0.0], [0.0], [5.0]])
    firsts = {int(np.argmin(STRATEGIES["margin_diverse"](
        probs, rng=np.random.default_rng(seed), features_unlabeled=features, batch=2).unlabeled))
        for seed in range(20)}
    assert firsts == {0, 1}
    with pytest.raises(ValueError, match="'beta' parameter of diverse must be an int >= 1. Got 0"):
        diverse(margin, beta=0)


def test_expected_model_change_grows_with_uncertainty_and_feature_length():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.5, 0.5]])
    features = np.array([[1.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    scores = STRATEGIES["expected_model_change"](probs, features_unlabeled=features).unlabeled
    assert scores[0] > scores[1] > scores[2]
    # ||x~|| * sum_k p_k ||e_k - p||: for p = (1/2, 1/2), ||e_k - p|| = sqrt(1/2).
    assert scores[1] == pytest.approx(1 / (1 + np.sqrt(2.0) * np.sqrt(0.5)))


def test_information_density_prefers_the_dense_region():
    probs = np.full((4, 2), 0.5)  # equally unsure everywhere
    features = np.array([[0.0], [0.1], [0.2], [9.0]])
    scores = STRATEGIES["information_density"](probs, features_unlabeled=features).unlabeled
    assert scores[3] > scores[[0, 1, 2]].max()


def test_cluster_takes_the_most_uncertain_row_of_each_cluster():
    probs = np.array([[0.6, 0.4], [0.9, 0.1], [0.55, 0.45], [0.8, 0.2], [0.51, 0.49]])
    features = np.array([[0.0], [0.1], [10.0], [10.1], [0.05]])
    scores = STRATEGIES["cluster"](probs, features_unlabeled=features, batch=2,
                                   rng=np.random.default_rng(0)).unlabeled
    assert sorted(select_batch(scores, None, 2, np.random.default_rng(0)).new) == [2, 4]


# strategy_inputs (autoal.predict): what the engine hands a strategy, from the model's
# optional methods.

class RecordingModel:
    """A model with every optional method; records which ones were called."""

    def __init__(self):
        self.calls = []

    def predict_proba(self, df):
        return pd.DataFrame({"b": 0.3, "a": 0.7}, index=df.index)

    def committee_proba(self, df):
        self.calls.append(("committee_proba", len(df)))
        return [pd.DataFrame({"a": df["x"] / 10, "b": 1 - df["x"] / 10}, index=df.index),
                pd.DataFrame({"b": 1.0}, index=df.index)]  # knows one class only

    def committee_oof_proba(self):
        self.calls.append(("committee_oof_proba",))
        return [pd.DataFrame({"a": [0.2, 0.9], "b": [0.8, 0.1]}, index=[7, 2])] * 2

    def sample_proba(self, df):
        self.calls.append(("sample_proba", len(df)))
        return self.committee_proba(df)

    def embed(self, df):
        self.calls.append(("embed", len(df)))
        return df[["x"]].to_numpy() * 2.0


def inputs(strategy, model, **kwargs):
    features = pd.DataFrame({"x": np.arange(10.0)}, index=np.arange(10))
    args = dict(model=model, features=features, unlabeled=pd.Index([5, 0, 9, 3, 1]),
                labeled=pd.Index([2, 7]), classes=["a", "b", "c"], batch=3, chunk_size=2)
    return strategy_inputs(strategy, **{**args, **kwargs})


def test_strategy_inputs_computes_only_what_is_needed_in_chunks():
    model = RecordingModel()
    extra = inputs(STRATEGIES["vote_entropy"], model)
    assert set(extra) == {"committee"}
    assert [c[0] for c in model.calls] == ["committee_proba"] * 3  # 5 rows, 2 a chunk
    committee = extra["committee"]
    assert committee.shape == (2, 5, 3) and committee.dtype == np.float32
    assert np.allclose(committee[0, :, 0], np.array([5, 0, 9, 3, 1]) / 10)
    assert np.allclose(committee[1], [0, 1, 0])  # aligned to the loop's classes
    assert inputs(margin, model) == {}


def test_strategy_inputs_for_every_need():
    extra = inputs(STRATEGIES["activelab_ensemble"], RecordingModel())
    assert extra["committee_labeled"].shape == (2, 2, 3)
    assert np.allclose(extra["committee_labeled"][0], [[0.9, 0.1, 0], [0.2, 0.8, 0]])  # by row label
    extra = inputs(bald, RecordingModel())
    assert extra["samples"].shape == (2, 5, 3)
    extra = inputs(STRATEGIES["margin_diverse"], RecordingModel())
    assert set(extra) == {"features_unlabeled", "features_labeled", "batch"}
    assert extra["features_unlabeled"][:, 0].tolist() == [10, 0, 18, 6, 2]
    assert extra["features_labeled"][:, 0].tolist() == [4, 14]


class PlainModel:
    def predict_proba(self, df):
        return pd.DataFrame({"a": 0.5, "b": 0.5}, index=df.index)


@pytest.mark.parametrize("name, method", [
    ("vote_entropy", "committee_proba"), ("activelab_ensemble", "committee_proba"),
    ("bald", "sample_proba"), ("coreset", "embed"), ("margin_diverse", "embed")])
def test_a_model_without_the_method_is_a_clear_error(name, method):
    with pytest.raises(ValueError, match=rf"The '{name}' strategy needs .* the model's "
                                         rf"{method}\(\) method, and PlainModel has none"):
        inputs(STRATEGIES[name], PlainModel())


def test_rows_not_in_the_features_are_an_error_naming_the_parameter():
    with pytest.raises(ValueError, match=r"The 'labeled' parameter of strategy_inputs names "
                                         r"rows that are not in 'features'"):
        inputs(STRATEGIES["margin_diverse"], RecordingModel(), labeled=pd.Index([2, 99]))
    with pytest.raises(ValueError, match=r"'chunk_size' parameter of strategy_inputs must be "
                                         r"an int >= 1. Got 0"):
        inputs(margin, RecordingModel(), chunk_size=0)


def test_unknown_needs_are_an_error():
    def odd(pred_probs_unlabeled, **kwargs):
        return Scores(np.zeros(len(pred_probs_unlabeled)))

    odd.needs = ("gpu",)
    with pytest.raises(ValueError, match=r"'needs' attribute of the 'odd' strategy must list "
                                         r"only .*Got \['gpu'\]"):
        inputs(odd, PlainModel())


# Candidates for the default (issue 4): ActiveLab's relabel split with margin's new rows,
# and a random warm-up.

SPLIT_PROBS = np.array([
    [0.45, 0.45, 0.10],  # margin 0: torn between two (least confidence ranks it second)
    [0.40, 0.30, 0.30],  # margin .10, the lowest top probability: least confidence's first
    [0.90, 0.05, 0.05],  # margin .85: confident
    [0.60, 0.35, 0.05],  # margin .25
])


def test_activelab_margin_keeps_activelab_relabels_and_picks_new_rows_by_margin():
    from autoal.strategies import activelab, activelab_margin

    al = activelab(SPLIT_PROBS, labels=LABELS, pred_probs=LABELED_PROBS)
    am = activelab_margin(SPLIT_PROBS, labels=LABELS, pred_probs=LABELED_PROBS)
    assert np.array_equal(am.labeled, al.labeled)  # the labeled pool untouched
    assert np.allclose(np.sort(am.unlabeled), np.sort(al.unlabeled))  # same values...
    assert list(np.argsort(al.unlabeled)) == [1, 0, 3, 2]  # ...ActiveLab's order: top probability
    assert list(np.argsort(am.unlabeled)) == [0, 1, 3, 2]  # ...handed out by margin
    everyone = np.ones(len(LABELS), dtype=bool)
    for batch in range(1, len(SPLIT_PROBS) + len(LABELS) + 1):
        a = select_batch(al.unlabeled, al.labeled, batch, np.random.default_rng(0), everyone)
        b = select_batch(am.unlabeled, am.labeled, batch, np.random.default_rng(0), everyone)
        assert sorted(b.relabel) == sorted(a.relabel)  # as many second opinions, the same rows
        assert b.relabel_requests == a.relabel_requests
        assert list(b.new) == [0, 1, 3, 2][:len(a.new)]  # new rows: smallest margin first


def test_new_rows_keep_their_order_where_activelab_values_repeat():
    from autoal.strategies import (_rank_match, activelab, activelab_margin, typical, warm_up,
                                   with_activelab)

    # The same top probability (a forest's often repeat), so the same ActiveLab value,
    # for the first four rows; by margin: rows 1, 3, 0, 2, then the confident row 4.
    probs = np.array([[0.5, 0.3, 0.2], [0.5, 0.45, 0.05], [0.5, 0.25, 0.25],
                      [0.5, 0.4, 0.1], [0.9, 0.05, 0.05]])
    values = activelab(probs, labels=LABELS, pred_probs=LABELED_PROBS).unlabeled
    assert len(set(values[:4])) == 1
    nobody = np.zeros(len(LABELS), dtype=bool)
    for strategy in (activelab_margin, with_activelab("margin")):
        scores = strategy(probs, labels=LABELS, pred_probs=LABELED_PROBS)
        # ActiveLab's scale: no value moves by a thousandth of the gap between two (.2)
        assert np.allclose(np.sort(scores.unlabeled), np.sort(values), rtol=0, atol=2e-4)
        for seed in range(10):  # not left to the tie-break draws
            picked = select_batch(scores.unlabeled, scores.labeled, 3,
                                  np.random.default_rng(seed), nobody)
            assert list(picked.new) == [1, 3, 0]
    # Values a last bit apart (arithmetic on a forest's probabilities gives them) too.
    close = np.array([0.5, np.nextafter(0.5, 1.0), 0.5, np.nextafter(0.5, 0.0)])
    ranked = _rank_match(np.array([3.0, 2.0, 1.0, 0.0]), close)
    assert list(np.argsort(ranked)) == [3, 2, 1, 0] and len(set(ranked)) == 4
    # The warm-up's typical rows likewise: the first of each cluster of rows, in order.
    rows = {"features_unlabeled": np.array([[0.0], [0.1], [10.0], [10.1], [20.0]]),
            "features_labeled": np.array([[100.0], [100.0], [100.0]]), "batch": 2}
    warm = with_activelab(warm_up("margin", per_class=3, first=typical))
    expected = np.argsort(typical(probs, **rows).unlabeled)[:2]
    for seed in range(10):
        scores = warm(probs, labels=LABELS, pred_probs=LABELED_PROBS,
                      rng=np.random.default_rng(seed), **rows)
        picked = select_batch(scores.unlabeled, scores.labeled, 2, np.random.default_rng(seed),
                              nobody)
        assert sorted(picked.new) == sorted(expected)


def test_warm_up_picks_like_random_while_the_labeled_pool_is_small():
    from autoal.strategies import activelab_margin, random, warm_up

    warm = warm_up(activelab_margin, per_class=2)
    assert warm.__name__ == "activelab_margin_warm" and warm.needs == ()
    # 3 labeled rows, 3 classes: 1 per class < 2, so the new rows come in random order...
    for seed in range(5):
        scores = warm(SPLIT_PROBS, labels=LABELS, pred_probs=LABELED_PROBS,
                      rng=np.random.default_rng(seed))
        draws = random(SPLIT_PROBS, rng=np.random.default_rng(seed)).unlabeled
        assert list(np.argsort(scores.unlabeled)) == list(np.argsort(draws))
        # ...on ActiveLab's scale, so the labeled pool keeps its place against them.
        base = activelab_margin(SPLIT_PROBS, labels=LABELS, pred_probs=LABELED_PROBS)
        assert np.array_equal(scores.labeled, base.labeled)
        assert np.allclose(np.sort(scores.unlabeled), np.sort(base.unlabeled))
        nobody = np.zeros(len(LABELS), dtype=bool)  # one annotator: no second opinions
        picked = select_batch(scores.unlabeled, scores.labeled, 2, np.random.default_rng(seed),
                              nobody)
        assert list(picked.new) == list(np.argsort(draws)[:2])
    # 6 labeled rows = 2 per class: the warm-up is over, the scores are activelab_margin's.
    labels = np.array([[0.0], [1.0], [2.0], [0.0], [1.0], [2.0]])
    probs = np.vstack([LABELED_PROBS, LABELED_PROBS[::-1]])
    after = warm(SPLIT_PROBS, labels=labels, pred_probs=probs, rng=np.random.default_rng(0))
    base = activelab_margin(SPLIT_PROBS, labels=labels, pred_probs=probs)
    assert np.array_equal(after.unlabeled, base.unlabeled)
    assert np.array_equal(after.labeled, base.labeled)


def test_warm_up_without_a_labeled_pool_is_random_and_keeps_needs():
    from autoal.strategies import random, warm_up

    warm = warm_up("margin")
    scores = warm(PROBS, rng=np.random.default_rng(3))
    assert scores.labeled is None
    assert np.array_equal(scores.unlabeled, random(PROBS, rng=np.random.default_rng(3)).unlabeled)
    with pytest.raises(ValueError, match="'margin_warm' strategy needs a numpy Generator"):
        warm(PROBS)
    assert set(warm_up(diverse("margin")).needs) == {"features", "batch"}
    with pytest.raises(ValueError, match="'per_class' parameter of warm_up must be a number "
                                         ">= 0. Got -1"):
        warm_up("margin", per_class=-1)
    with pytest.raises(ValueError, match="'strategy' parameter must be one of"):
        warm_up("nope")


def three_blobs():
    """40, 20 and 6 rows around three far-apart centres (2 features)."""
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(20, 1, (20, 2)),
                      rng.normal(-20, 1, (6, 2))])


def test_typical_takes_the_most_typical_row_of_the_biggest_uncovered_clusters():
    from autoal.strategies import typical

    x = three_blobs()
    probs = np.full((len(x), 3), 1 / 3)
    scores = typical(probs, features_unlabeled=x, features_labeled=np.empty((0, 2)), batch=3,
                     rng=np.random.default_rng(1)).unlabeled
    first = np.argsort(scores)[:3]
    assert first[0] < 40 and 40 <= first[1] < 60 and first[2] >= 60  # biggest cluster first
    assert scores[first].max() <= 1 / 3 < 2 / 3 <= np.delete(scores, first).min()
    centre = x[:40].mean(axis=0)
    spread = np.linalg.norm(x[:40] - centre, axis=1)
    assert np.linalg.norm(x[first[0]] - centre) < np.quantile(spread, 0.25)  # from the dense core
    # A labeled row in the big blob covers it: the two picks come from the other blobs.
    scores = typical(probs, features_unlabeled=x, features_labeled=np.array([[0.0, 0.0]]),
                     batch=2, rng=np.random.default_rng(1)).unlabeled
    first = np.argsort(scores)[:2]
    assert 40 <= first[0] < 60 and first[1] >= 60


def test_registered_candidates_keep_activelab_relabels_and_hand_over_to_diverse_margin():
    from autoal.strategies import activelab, typical, with_activelab

    x = three_blobs()
    probs = np.random.default_rng(2).dirichlet(np.ones(3), size=len(x))
    rows = [0, 40, 60, 1, 41, 61, 2, 42, 62]
    labeled_x, labeled_probs = x[rows], probs[rows]
    labels = np.tile([[0.0], [1.0], [2.0]], (3, 1))
    extra = dict(features_unlabeled=x, features_labeled=labeled_x, batch=4)
    everyone = np.ones(len(labels), dtype=bool)
    al = activelab(probs, labels=labels, pred_probs=labeled_probs)
    inner = diverse("margin")(probs, labels=labels, pred_probs=labeled_probs,
                              rng=np.random.default_rng(0), **extra).unlabeled
    for name in ("activelab_margin_diverse_warm", "activelab_margin_diverse_warm_typical"):
        strategy = STRATEGIES[name]
        assert set(strategy.needs) == {"features", "batch"}
        # 9 labeled rows, 3 classes: past the warm-up. ActiveLab's labeled scores and values...
        scores = strategy(probs, labels=labels, pred_probs=labeled_probs,
                          rng=np.random.default_rng(0), **extra)
        assert np.array_equal(scores.labeled, al.labeled)
        assert np.allclose(np.sort(scores.unlabeled), np.sort(al.unlabeled))
        # ...handed out in diverse(margin)'s order...
        assert list(np.argsort(scores.unlabeled, kind="stable")[:4]) == list(
            np.argsort(inner, kind="stable")[:4])
        # ...so every batch holds exactly ActiveLab's second opinions.
        for batch in (1, 4, 12, 30):
            a = select_batch(al.unlabeled, al.labeled, batch, np.random.default_rng(0), everyone)
            b = select_batch(scores.unlabeled, scores.labeled, batch, np.random.default_rng(0),
                             everyone)
            assert sorted(b.relabel) == sorted(a.relabel)
    # 3 labeled rows (1 per class): the typical warm-up puts typical's picks first.
    small = dict(features_unlabeled=x, features_labeled=labeled_x[:3], batch=2)
    warm = STRATEGIES["activelab_margin_diverse_warm_typical"](
        probs, labels=labels[:3], pred_probs=labeled_probs[:3], rng=np.random.default_rng(0),
        **small)
    picks = typical(probs, features_unlabeled=x, features_labeled=labeled_x[:3], batch=2,
                    rng=np.random.default_rng(0)).unlabeled
    assert list(np.argsort(warm.unlabeled)[:2]) == list(np.argsort(picks)[:2])
    assert with_activelab("margin").__name__ == "activelab_margin"
    assert np.array_equal(
        with_activelab("margin")(PROBS, labels=LABELS, pred_probs=LABELED_PROBS).unlabeled,
        STRATEGIES["activelab_margin"](PROBS, labels=LABELS, pred_probs=LABELED_PROBS).unlabeled)


def test_auto_uses_row_features_when_the_model_has_them():
    from autoal.strategies import _WITH_FEATURES, _WITHOUT_FEATURES, auto

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=40)
    labels = np.repeat(np.arange(3.0), 4)[:, None]  # 4 per class: past the warm-up
    labeled = rng.dirichlet(np.ones(3), size=12)
    features = {"features_unlabeled": rng.normal(size=(40, 5)),
                "features_labeled": rng.normal(size=(12, 5))}
    args = dict(labels=labels, pred_probs=labeled)
    with_rows = auto(probs, **args, rng=np.random.default_rng(1), batch=4, **features)
    expected = _WITH_FEATURES(probs, **args, rng=np.random.default_rng(1), batch=4, **features)
    np.testing.assert_array_equal(with_rows.unlabeled, expected.unlabeled)
    without = auto(probs, **args, rng=np.random.default_rng(1), batch=4)
    expected = _WITHOUT_FEATURES(probs, **args, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(without.unlabeled, expected.unlabeled)
    assert not np.array_equal(with_rows.unlabeled, without.unlabeled)


def test_auto_picks_new_rows_among_three_times_batch_smallest_margins():
    from autoal.strategies import auto

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), size=200)
    labels = np.repeat(np.arange(3.0), 4)[:, None]  # past the warm-up
    extra = dict(labels=labels, pred_probs=rng.dirichlet(np.ones(3), size=12), batch=5,
                 features_unlabeled=rng.normal(size=(200, 4)),
                 features_labeled=rng.normal(size=(12, 4)))
    picked = np.argsort(auto(probs, rng=np.random.default_rng(0), **extra).unlabeled,
                        kind="stable")[:5]
    candidates = np.argsort(margin(probs).unlabeled, kind="stable")[:15]
    assert set(picked) <= set(candidates)
    # One per k-means cluster of those 15: not simply margin's 5 smallest.
    assert set(picked) != set(candidates[:5])


def test_optional_inputs_come_only_from_models_that_have_them(blobs):
    from autoal.strategies import auto

    features = blobs.drop(columns=["label"])

    class Plain:
        def predict_proba(self, df):
            return None

    class Embeds(Plain):
        def embed(self, df):
            return df.to_numpy()

    common = dict(features=features, unlabeled=features.index[5:], labeled=features.index[:5],
                  classes=sorted(blobs["label"].unique()), batch=3)
    assert strategy_inputs(auto, model=Plain(), **common) == {"batch": 3}
    given = strategy_inputs(auto, model=Embeds(), **common)
    assert given["features_unlabeled"].shape == (len(features) - 5, 4)
    assert given["features_labeled"].shape == (5, 4)


def test_relabel_requests_count_only_rows_someone_can_relabel():
    """A labeled row among the best scores is a request only where a second opinion can
    be given: with one annotator (nobody can relabel) the count is 0, not the number of
    labeled rows the scores put first."""
    unlabeled, labeled = np.array([0.5, 0.6, 0.7, 0.8]), np.array([0.1, 0.2, 0.9])
    nobody = select_batch(unlabeled, labeled, 3, np.random.default_rng(0),
                          np.zeros(3, dtype=bool))
    assert nobody.relabel_requests == 0 and len(nobody.relabel) == 0
    assert nobody.new.tolist() == [0, 1, 2]
    some = select_batch(unlabeled, labeled, 3, np.random.default_rng(0),
                        np.array([False, True, True]))
    assert some.relabel_requests == 1 and some.relabel.tolist() == [1]
    assert some.new.tolist() == [0, 1]
