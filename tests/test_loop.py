"""The loop's contract, with a real scikit-learn backend (fast); AutoGluon fits live in
test_autogluon.py."""

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal.predict import align_proba

from conftest import CountingLearner, make_blobs_frame


def run(df, learner=None, **kwargs):
    kwargs = {"rounds": 3, "batch": 5, "init": 2, "progress": False, **kwargs}
    return autoal.loop(df, learner=learner or CountingLearner(), **kwargs)


def test_result_shape_and_history(blobs):
    result = run(blobs)
    h = result.history
    assert list(h["round"]) == [0, 1, 2, 3]
    assert list(h["n_labeled"]) == [6, 11, 16, 21]
    assert list(h["n_queried"]) == [5, 5, 5, 0]
    for column in ["n_relabel_requests", "accuracy", "balanced_accuracy", "oof_accuracy",
                   "fit_seconds", "predict_seconds", "score_seconds"]:
        assert column in h
    assert h["accuracy"].between(0, 1).all()
    assert len(result.labeled) == 21
    assert result.classes == ["class_0", "class_1", "class_2"]
    assert list(result.queries.columns) == ["round", "row", "kind", "score", "guess",
                                            "confidence"]
    assert result.strategy == "auto"


def test_batches_are_unique_rows_from_the_unlabeled_pool(blobs):
    result = run(blobs)
    rows = result.queries["row"]
    assert rows.is_unique
    initial = result.annotations.loc[result.annotations["round"] == 0, "row"]
    assert not set(rows) & set(initial)
    assert not set(rows) & set(result.test_index)
    assert set(result.labeled) == set(initial) | set(rows)


def test_initial_set_is_init_per_class_and_never_from_test(blobs):
    result = run(blobs, init=3, rounds=0)
    initial = result.annotations
    assert initial.groupby("label").size().tolist() == [3, 3, 3]
    assert not set(initial["row"]) & set(result.test_index)
    # A stratified 20% split: 6 of each class's 30 rows.
    assert blobs.loc[result.test_index, "label"].value_counts().tolist() == [6, 6, 6]


def test_learner_only_sees_labels_it_was_given(blobs):
    learner = CountingLearner(oof=True)
    result = run(blobs, learner=learner)
    assert learner.fits == 4  # one per round: the model gave out-of-fold probabilities
    for r, rows in enumerate(learner.trained_on):
        given = result.annotations.loc[result.annotations["round"] <= r, "row"]
        assert set(rows) == set(given)


def test_same_seed_same_run_other_seed_other_run(blobs):
    a, b, c = run(blobs, seed=1), run(blobs, seed=1), run(blobs, seed=2)
    pd.testing.assert_frame_equal(a.queries, b.queries)
    pd.testing.assert_frame_equal(a.annotations, b.annotations)
    assert set(a.annotations["row"]) != set(c.annotations["row"])


def test_seed_leaves_global_numpy_state_alone(blobs):
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    run(blobs, rounds=1, strategy="random")
    assert np.random.random() == expected


@pytest.mark.parametrize("strategy", sorted(autoal.STRATEGIES))
def test_every_strategy_runs_through_the_loop(blobs, strategy):
    result = run(blobs, strategy=strategy, rounds=1)
    assert result.history["n_queried"].iloc[0] == 5


def test_custom_strategy_function(blobs):
    def first_rows(pred_probs_unlabeled, *, labels=None, pred_probs=None, rng=None):
        return autoal.strategies.Scores(np.arange(len(pred_probs_unlabeled), dtype=float))

    result = run(blobs, strategy=first_rows, rounds=1, test_size=0.0)
    labeled0 = set(result.annotations.loc[result.annotations["round"] == 0, "row"])
    expected = [i for i in blobs.index if i not in labeled0][:5]
    assert result.queries["row"].tolist() == expected
    assert "accuracy" not in result.history  # no test set, no accuracy


def test_pool_running_out_stops_with_a_warning_and_a_complete_result():
    df = make_blobs_frame(n_per_class=5, n_classes=2)
    with pytest.warns(UserWarning, match="pool ran out"):
        result = run(df, rounds=10, batch=3, test_size=0.0)
    assert result.history["n_labeled"].iloc[-1] == 10
    assert len(result.history) < 11


def test_class_list_is_fixed_and_unseen_classes_get_zero_columns(blobs):
    start = blobs.index[blobs["label"] != "class_2"][:6].tolist()
    learner = CountingLearner()
    result = run(blobs, learner=learner, init=start, rounds=1, batch=3)
    assert result.classes == ["class_0", "class_1", "class_2"]
    probs = align_proba(pd.DataFrame({"class_1": [0.2], "class_0": [0.8]}), result.classes)
    assert probs.tolist() == [[0.8, 0.2, 0.0]]


def test_align_proba_rules():
    classes = ["a", "b", "c"]
    assert align_proba(np.array([[2.0, 1.0, 1.0]]), classes).tolist() == [[0.5, 0.25, 0.25]]
    assert align_proba(pd.DataFrame({"a": [0.0]}), classes).tolist() == [[1 / 3] * 3]
    with pytest.raises(ValueError, match="classes the loop does not know"):
        align_proba(pd.DataFrame({"z": [1.0]}), classes)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        align_proba(np.ones((2, 2)), classes)


def test_models_without_oof_are_cross_fitted(blobs):
    from autoal.learners import cross_fit_proba

    learner = CountingLearner()
    run(blobs, learner=learner, rounds=1)
    # Wrapped in CrossFitted: each round's fit and its 3 folds (the last round's too: its
    # out-of-sample probabilities feed the consensus and the history's oof_accuracy).
    assert learner.fits == (1 + 3) * 2

    train = blobs.iloc[:30]
    oof = cross_fit_proba(CountingLearner(), train, "label", folds=3, seed=0)
    assert list(oof.index) == list(train.index)
    assert np.allclose(oof.sum(axis=1), 1.0)


def test_explicit_test_frame_and_mask(blobs):
    test = make_blobs_frame(n_per_class=4, seed=9)
    result = run(blobs, test=test, rounds=1)
    assert len(result.test_index) == 12
    mask = np.zeros(len(blobs), dtype=bool)
    mask[:10] = True
    result = run(blobs, test=mask, rounds=1, init=blobs.index[10:20].tolist())
    assert list(result.test_index) == list(blobs.index[:10])


def test_workdir_tables_and_plot(blobs, tmp_path):
    result = run(blobs, workdir=tmp_path / "run")
    for name in ["history.csv", "queries.csv", "annotations.csv"]:
        assert (tmp_path / "run" / name).is_file()
    saved = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(saved["n_labeled"]) == list(result.history["n_labeled"])
    fig = result.plot()
    assert fig.axes[0].get_xlabel() == "labels"
    assert len(fig.axes[0].lines) == 1
