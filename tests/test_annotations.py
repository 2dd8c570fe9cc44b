"""The annotation table, its bad-input rule, consensus, and simulated annotators."""

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal import annotations as ann

from conftest import CountingLearner, make_blobs_frame

CLASSES = ["a", "b", "c"]


def table(lines, round_=0):
    return pd.DataFrame(lines, columns=["row", "annotator", "label"]).assign(round=round_)


STORED = table([(0, "ann", "a"), (1, "ann", "b")])


@pytest.mark.parametrize("lines, match", [
    ([(2, "ann", "z")], r"labels that are not classes: 'z'"),
    ([(99, "ann", "a")], r"rows that do not exist: 99"),
    ([(2, "  ", "a")], r"1 lines with a blank annotator name"),
    ([(2, None, "a")], r"1 lines with a blank annotator name"),
    ([(0, "ann", "b")], r"rows this annotator labeled already: \(0, 'ann'\)"),
    ([(2, "bo", "a"), (2, "bo", "b")], r"rows this annotator labeled already: \(2, 'bo'\)"),
])
def test_bad_annotations_are_refused_whole_and_nothing_stored_changes(lines, match):
    stored = STORED.copy()
    good_and_bad = [(3, "cy", "c")] + lines
    with pytest.raises(ValueError, match="Annotations refused, nothing was stored: .*" + match):
        ann.validate(table(good_and_bad)[["row", "annotator", "label"]], stored,
                     classes=CLASSES, rows=range(5))
    pd.testing.assert_frame_equal(stored, STORED)


def test_validate_needs_the_columns():
    with pytest.raises(ValueError, match=r"missing \['annotator'\]"):
        ann.validate(pd.DataFrame({"row": [1], "label": ["a"]}), STORED, classes=CLASSES, rows=range(5))


def test_majority_vote_ties_go_to_the_earliest_label():
    votes = table([(0, "x", "b"), (0, "y", "a"), (1, "x", "c"), (1, "y", "c"), (1, "z", "a"),
                   (0, "z", "a")])
    assert ann.majority_vote(votes).to_dict() == {0: "a", 1: "c"}
    tie = table([(5, "x", "b"), (5, "y", "a")])
    assert ann.majority_vote(tie).to_dict() == {5: "b"}


def test_consensus_moves_from_single_to_majority_to_crowdlab():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 60)
    lines = [(i, "good", CLASSES[t]) for i, t in enumerate(truth)]
    lines += [(i, "bad", CLASSES[(t + 1) % 3]) for i, t in enumerate(truth[:20])]
    lines += [(i, "ok", CLASSES[t]) for i, t in enumerate(truth[:20])]
    votes = table(lines)
    probs = pd.DataFrame(np.eye(3)[truth] * 0.6 + 0.4 / 3)
    rows, stats = ann.consensus(votes[votes["row"] >= 20], CLASSES, probs)
    assert set(rows["method"]) == {"single"}
    rows, _ = ann.consensus(votes, CLASSES, None)
    assert set(rows["method"]) == {"single", "majority"}
    rows, stats = ann.consensus(votes, CLASSES, probs)
    assert set(rows["method"]) == {"crowdlab"}
    assert (rows["consensus_label"].map(CLASSES.index).to_numpy() == truth).all()
    assert stats.loc["bad", "annotator_quality"] < stats.loc["good", "annotator_quality"]
    assert stats.loc["bad", "agreement_with_consensus"] == 0.0
    assert stats["num_examples_labeled"].to_dict() == {"bad": 20, "good": 60, "ok": 20}
    assert rows.loc[0, "num_annotations"] == 3
    assert rows.loc[0, "annotator_agreement"] == pytest.approx(2 / 3)


def test_simulated_annotators_make_mistakes_at_their_rate():
    truth = pd.Series(np.random.default_rng(1).choice(CLASSES, 3000))
    oracle = autoal.SimulatedAnnotators([0.8], seed=0).bind(truth, CLASSES)
    answers = oracle(truth.index, ann.empty())
    right = answers["label"].to_numpy() == truth.to_numpy()
    assert right.mean() == pytest.approx(0.8, abs=0.03)
    wrong = answers[~right]
    assert set(wrong["label"]) == set(CLASSES)  # mistakes spread over the other classes


def test_confusion_matrix_and_seed():
    truth = pd.Series(["a"] * 200)
    always_b = [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    oracle = autoal.SimulatedAnnotators(confusion=[always_b], seed=0).bind(truth, CLASSES)
    assert set(oracle(truth.index, ann.empty())["label"]) == {"b"}
    noisy = autoal.SimulatedAnnotators([0.5, 0.5], seed=7)
    a = noisy.bind(truth, CLASSES)(truth.index, ann.empty())
    b = noisy.bind(truth, CLASSES)(truth.index, ann.empty())
    pd.testing.assert_frame_equal(a, b)


def test_relabels_go_to_someone_new_and_stop_when_all_have_labeled():
    truth = pd.Series(["a", "b"])
    oracle = autoal.SimulatedAnnotators([1.0, 1.0], names=["x", "y"], seed=0).bind(truth, CLASSES)
    votes = table([(0, "x", "a"), (1, "x", "b"), (1, "y", "b")])
    assert oracle.can_relabel([0, 1], votes).tolist() == [True, False]
    answer = oracle([0, 1], votes)
    assert answer.values.tolist() == [[0, "y", "a"]]


@pytest.mark.parametrize("kwargs, match", [
    ({}, "exactly one of"),
    ({"accuracy": [0.9], "columns": ["x"]}, "exactly one of"),
    ({"accuracy": [1.5]}, r"numbers in \[0, 1\], one per annotator .*Got \[1.5\]"),
    ({"accuracy": 3}, r"one per annotator \(three: \[0.9, 0.8, 0.7\]\). Got 3\."),
    ({"accuracy": [0.9, 0.8], "names": ["solo"]}, "must name each of the 2 annotators"),
    ({"confusion": [np.eye(2)]}, r"must be \(3, 3\)"),
])
def test_simulated_annotators_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        autoal.SimulatedAnnotators(**kwargs).bind(pd.Series(["a"]), CLASSES)


def test_real_annotator_columns_label_and_are_not_features():
    df = make_blobs_frame(n_per_class=20, seed=3)
    df["ann_1"] = df["label"]
    df["ann_2"] = np.where(np.arange(len(df)) % 2, df["label"], None)
    learner = CountingLearner(oof=True)
    seen = []
    original = learner.fit

    def fit(data, label):
        seen.append(list(data.columns))
        return original(data, label)

    learner.fit = fit
    result = autoal.loop(df, rounds=2, batch=5, init=2, learner=learner, progress=False,
                         annotators=autoal.SimulatedAnnotators(columns=["ann_1", "ann_2"]))
    assert all("ann_1" not in cols and "ann_2" not in cols for cols in seen)
    given = result.annotations.merge(df[["ann_1", "ann_2"]], left_on="row", right_index=True)
    assert (given.apply(lambda r: r["label"] == r[r["annotator"]], axis=1)).all()
    with pytest.raises(ValueError, match=r"columns not in the data: \['nope'\]"):
        autoal.loop(df, annotators=autoal.SimulatedAnnotators(columns=["nope"]), progress=False)


def test_annotators_and_oracle_together_is_an_error(blobs):
    with pytest.raises(ValueError, match="either 'annotators' or 'oracle'"):
        autoal.loop(blobs, annotators=autoal.SimulatedAnnotators([0.9]),
                    oracle=autoal.SimulatedOracle(blobs["label"]), progress=False)


def test_a_bad_oracle_answer_stops_the_loop_before_it_is_stored(blobs):
    def oracle(rows, annotations):
        labels = blobs.loc[rows, "label"].tolist()
        if len(annotations):  # second call: a class that does not exist
            labels[0] = "class_9"
        return pd.DataFrame({"row": rows, "annotator": "me", "label": labels})

    with pytest.raises(ValueError, match="labels that are not classes: 'class_9'"):
        autoal.loop(blobs, rounds=1, batch=3, init=2, oracle=oracle, learner=CountingLearner(),
                    progress=False)


def test_labels_of_one_class_only_get_a_clear_error(blobs):
    def oracle(rows, annotations):
        return pd.DataFrame({"row": rows, "annotator": "me", "label": "class_0"})

    with pytest.raises(ValueError, match="Round 0: the labels given so far hold only the class"):
        autoal.loop(blobs, rounds=1, init=2, oracle=oracle, learner=CountingLearner(), progress=False)


def run_noisy(accuracy, strategy="activelab", seed=0):
    df = make_blobs_frame(n_per_class=40, n_classes=3, seed=1)
    return autoal.loop(df, rounds=4, batch=10, init=5, learner=CountingLearner(), seed=seed,
                       strategy=strategy, progress=False,
                       annotators=autoal.SimulatedAnnotators(accuracy, seed=0))


def test_relabel_requests_when_noisy_none_when_perfect():
    """Before any row has two labels ActiveLab cannot tell a perfect annotator from a
    noisy one, so round 0 may ask for a second opinion on a row the model doubts; once
    opinions agree, perfect annotators get no more requests and noisy ones keep getting them."""
    noisy = run_noisy([0.7, 0.6, 0.5]).history
    perfect = run_noisy([1.0, 1.0, 1.0]).history
    assert noisy["n_relabeled"].sum() >= 10
    assert noisy["n_relabeled"].iloc[1:].sum() > 0
    assert perfect["n_relabeled"].iloc[1:].sum() == 0
    assert perfect["n_relabeled"].sum() <= 1
    assert noisy["n_relabel_requests"].sum() > 5 * perfect["n_relabel_requests"].sum()


def test_consensus_beats_the_worst_annotator_and_is_reported():
    result = run_noisy([0.9, 0.8, 0.5])
    assert result.history["consensus_accuracy"].iloc[-1] > 0.5
    assert set(result.annotator_stats.index) == {"annotator_0", "annotator_1", "annotator_2"}
    assert list(result.consensus.index) == list(result.labeled)
    assert result.consensus["num_annotations"].sum() == len(result.annotations)
    assert (result.queries["kind"] == "relabel").sum() == result.history["n_relabeled"].sum()


def test_good_random_asks_for_new_rows_first():
    result = run_noisy([0.7, 0.6, 0.5], strategy="good_random")
    assert result.history["n_relabeled"].sum() == 0  # the pool never ran out
