"""Stopping rules end the loop early and say why."""

import numpy as np
import pytest

import autoal
from autoal.stopping import Budget, StablePredictions, TargetAccuracy

from conftest import CountingLearner, make_blobs_frame


def run(df, **kwargs):
    return autoal.loop(df, learner=CountingLearner(oof=True), progress=False,
                       **{"rounds": 8, "batch": 5, "init": 2, **kwargs})


def test_budget_cuts_the_last_batch_and_is_never_exceeded(blobs):
    result = run(blobs, stop=Budget(labels=18))
    assert len(result.annotations) == 18  # 6 to start, 5 + 5, then a batch of 2
    assert result.history["n_queried"].tolist() == [5, 5, 2, 0]
    assert result.stop_reason == "label budget of 18 reached"
    assert result.history["stop_reason"].iloc[-1] == result.stop_reason


def test_target_accuracy(blobs):
    result = run(blobs, stop=TargetAccuracy(0.5))
    assert len(result.history) == 1  # separable blobs: round 0 is already there
    assert result.stop_reason.startswith("test accuracy")
    with pytest.raises(ValueError, match="needs a test set"):
        run(blobs, stop=TargetAccuracy(0.5), test_size=0.0)


def test_stable_predictions_stop_without_labels():
    df = make_blobs_frame(n_per_class=60, seed=2)
    result = run(df, stop=StablePredictions(kappa=0.95, patience=2, size=50), test_size=0.0)
    assert "predictions stopped changing" in result.stop_reason
    assert 3 <= len(result.history) < 9
    never = run(df, stop=StablePredictions(kappa=1.0, patience=8, size=50), test_size=0.0, rounds=3)
    assert never.stop_reason == "3 rounds done"


def test_agreement_is_cohens_kappa():
    rule = StablePredictions()
    a, b = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert rule.agreement([a, a, b]) == [1.0, pytest.approx(0.5)]


def test_several_rules_first_one_wins(blobs):
    result = run(blobs, stop=[Budget(labels=1000), TargetAccuracy(0.5)])
    assert result.stop_reason.startswith("test accuracy")


@pytest.mark.parametrize("make, match", [
    (lambda: Budget(labels=0), r"'labels' parameter of Budget must be an int >= 1. Got 0"),
    (lambda: TargetAccuracy(1.5), r"'target' parameter of TargetAccuracy must be in \(0, 1\]"),
    (lambda: TargetAccuracy(0.9, metric="f1"), "must be 'accuracy' or 'balanced_accuracy'"),
    (lambda: StablePredictions(patience=0), "'patience' parameter of StablePredictions"),
])
def test_rule_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_stop_must_be_rules(blobs):
    with pytest.raises(TypeError, match="'stop' parameter of loop takes a rule"):
        run(blobs, stop=5)
