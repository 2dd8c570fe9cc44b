"""autoal.bench: fair comparisons, resumable, with a summary and a plot."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal.bench import area_under_curve, labels_to_reach, summarize

from conftest import CountingLearner


def run_bench(df, learner, out, **kwargs):
    return autoal.bench(df, strategies=["margin", "random"], seeds=[0, 1], rounds=2, batch=4,
                        init=2, learner=learner, progress=False, out=out, **kwargs)


def test_bench_runs_every_strategy_and_seed_from_the_same_start(blobs, tmp_path):
    learner = CountingLearner(oof=True)
    curves = run_bench(blobs, learner, tmp_path / "b")
    assert len(curves) == 2 * 2 * 3
    assert set(curves["strategy"]) == {"margin", "random"}
    round0 = curves[curves["round"] == 0].set_index(["seed", "strategy"])["accuracy"].unstack()
    assert (round0["margin"] == round0["random"]).all()  # same split and start per seed
    for name in ["curves.csv", "summary.csv", "learning_curves.png",
                 "margin-seed0.csv", "random-seed1.csv"]:
        assert (tmp_path / "b" / name).is_file()


def test_an_interrupted_bench_keeps_what_it_finished(blobs, tmp_path):
    first = run_bench(blobs, CountingLearner(oof=True), tmp_path / "b")
    (tmp_path / "b" / "random-seed1.csv").unlink()  # as if it died during that run
    learner = CountingLearner(oof=True)
    again = run_bench(blobs, learner, tmp_path / "b")
    assert learner.fits == 3  # only the missing run was redone
    timings = [c for c in first if c.endswith("_seconds")]  # wall-clock: not the same twice
    pd.testing.assert_frame_equal(first.drop(columns=timings), again.drop(columns=timings),
                                  check_dtype=False)


def test_a_saved_run_is_reused_only_with_the_same_settings_and_data(blobs, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="autoal.bench")
    out = tmp_path / "b"
    run_bench(blobs, CountingLearner(oof=True), out)
    settings = json.loads((out / "margin-seed0.json").read_text())
    assert settings["batch"] == 4 and settings["seed"] == 0 and settings["strategy"] == "margin"
    assert settings["learner"] == {"class": "conftest.CountingLearner", "params": {"oof": True}}
    assert settings["init"] == 2 and settings["test_size"] == 0.2  # loop's default, filled in

    learner = CountingLearner(oof=True)
    run_bench(blobs, learner, out, test_size=0.2)  # the same settings, one given explicitly
    assert learner.fits == 0

    caplog.clear()
    learner = CountingLearner(oof=True)
    curves = autoal.bench(blobs, strategies=["margin", "random"], seeds=[0, 1], rounds=2,
                          batch=5, init=2, learner=learner, progress=False, out=out)
    assert learner.fits == 4 * 3  # every run again
    assert "margin-seed0.csv was saved by another run (these settings changed: batch)" \
        in caplog.text
    assert curves.groupby(["strategy", "seed"])["n_labeled"].max().eq(2 * 3 + 2 * 5).all()

    caplog.clear()
    learner = CountingLearner(oof=True)
    run_bench(blobs.assign(f0=blobs["f0"] + 1.0), learner, out)
    assert learner.fits == 4 * 3
    assert "these settings changed: batch, data" in caplog.text

    caplog.clear()
    run_bench(blobs.assign(f0=blobs["f0"] + 1.0), CountingLearner(oof=False), out)
    assert "these settings changed: learner" in caplog.text  # a learner's parameter counts


@pytest.mark.slow
def test_a_run_saved_by_an_autoal_of_other_defaults_runs_again(blobs, tmp_path, caplog):
    from autoal.learners import DEFAULT_TABULAR_MODELS, TABULAR_FEATURES

    caplog.set_level(logging.INFO, logger="autoal.bench")
    out = tmp_path / "b"
    run = dict(strategies=["margin"], seeds=[0], rounds=1, batch=4, init=2, progress=False,
               out=out)
    autoal.bench(blobs, learner="tabular", **run)
    settings = json.loads((out / "margin-seed0.json").read_text())
    assert settings["default_models"] == json.loads(json.dumps(DEFAULT_TABULAR_MODELS))
    # as an autoal of other defaults (an earlier one) would have written it
    (out / "margin-seed0.json").write_text(
        json.dumps({**settings, "default_models": {"GBM": {}, "XT": {}, "LR": {}}}))
    caplog.clear()
    autoal.bench(blobs, learner="tabular", **run)
    assert "these settings changed: default_models" in caplog.text
    caplog.clear()
    autoal.bench(blobs, learner="tabular", **run)  # saved again with this autoal's defaults
    assert "already done" in caplog.text and "saved by another run" not in caplog.text
    # as an autoal that let AutoGluon drop the columns equal on the labeled rows
    settings = json.loads((out / "margin-seed0.json").read_text())
    assert settings["tabular_features"] == TABULAR_FEATURES
    (out / "margin-seed0.json").write_text(
        json.dumps({**settings, "tabular_features": {"post_drop_duplicates": True}}))
    caplog.clear()
    autoal.bench(blobs, learner="tabular", **run)
    assert "these settings changed: tabular_features" in caplog.text


def test_a_run_saved_without_its_settings_runs_again(blobs, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="autoal.bench")
    out = tmp_path / "b"
    run_bench(blobs, CountingLearner(oof=True), out)
    (out / "random-seed1.json").unlink()  # as from an older autoal, or a crash in between
    learner = CountingLearner(oof=True)
    run_bench(blobs, learner, out)
    assert learner.fits == 3
    assert "random-seed1.csv was saved by another run (random-seed1.json is missing)" \
        in caplog.text
    assert (out / "random-seed1.json").is_file()


def test_bench_needs_a_test_set(blobs):
    with pytest.raises(ValueError, match="leave test_size > 0"):
        autoal.bench(blobs, test_size=0.0, learner=CountingLearner())
    with pytest.raises(ValueError, match="'batch' parameter of bench must be an int >= 1"):
        autoal.bench(blobs, batch=0)


def test_area_labels_to_reach_and_saving_ratio():
    assert area_under_curve([0, 10, 20], [0.0, 1.0, 1.0]) == pytest.approx(0.75)
    assert labels_to_reach([10, 20, 30], [0.5, 0.7, 0.9], 0.7) == 20
    assert np.isnan(labels_to_reach([10, 20], [0.5, 0.6], 0.9))
    curves = pd.DataFrame({
        "strategy": ["random"] * 3 + ["smart"] * 3, "seed": 0, "round": [0, 1, 2] * 2,
        "n_labeled": [10, 20, 30] * 2, "accuracy": [0.5, 0.6, 0.8, 0.5, 0.8, 0.85]})
    summary = summarize(curves)
    assert summary.loc["smart", "label_saving_ratio"] == pytest.approx(20 / 30)
    assert summary.loc["random", "label_saving_ratio"] == pytest.approx(1.0)
    assert summary.loc["smart", "auc_mean"] > summary.loc["random", "auc_mean"]


def test_saving_ratio_is_read_on_the_mean_curve_and_counts_seeds_that_never_get_there():
    """One seed of 'smart' never reaches its random run's final accuracy: it is shown
    as "never" and counted, not dropped, and the ratio comes from the mean curves (the
    per-seed mean of the two seeds that got there would claim 2/3)."""
    random_runs = {0: [0.5, 0.8, 0.8],  # touches its final accuracy a round early
                   1: [0.5, 0.6, 0.7], 2: [0.5, 0.7, 0.9]}
    smart_runs = {0: [0.5, 0.85, 0.9], 1: [0.5, 0.6, 0.65], 2: [0.5, 0.9, 0.95]}
    curves = pd.DataFrame([
        {"strategy": name, "seed": seed, "round": r, "n_labeled": 10 * (r + 1),
         "accuracy": accuracy}
        for name, runs in [("random", random_runs), ("smart", smart_runs)]
        for seed, run in runs.items() for r, accuracy in enumerate(run)])
    summary = summarize(curves)
    smart, random = summary.loc["smart"], summary.loc["random"]
    # random's mean curve ends at 0.8 with 30 labels; smart's mean reaches 0.8 only at 30
    assert smart["label_saving_ratio"] == pytest.approx(1.0)
    assert smart["ratio_per_seed"] == "0.667, never, 0.667"
    assert smart["seeds_never"] == 1 and smart["seeds"] == 3
    assert random["label_saving_ratio"] == 1.0  # by definition, though seed 0 got there early
    assert random["ratio_per_seed"] == "1, 1, 1" and random["seeds_never"] == 0
    assert smart["final_accuracy_mean"] == pytest.approx(np.mean([0.9, 0.65, 0.95]))


def test_bench_curves_keep_timings_and_relabel_counts(blobs):
    curves = autoal.bench(blobs, strategies=["activelab"], seeds=[0], rounds=2, batch=4,
                          init=2, learner=CountingLearner(oof=True), progress=False)
    for column in ["fit_seconds", "predict_seconds", "score_seconds", "n_relabeled",
                   "n_relabel_requests"]:
        assert curves[column].notna().all() and (curves[column] >= 0).all(), column
    # one annotator: no second opinion can be given, so none is asked for
    assert curves["n_relabel_requests"].sum() == 0


def test_strategies_made_by_helpers_are_told_apart_by_their_parameters():
    from autoal._describe import describe
    from autoal.strategies import diverse

    assert describe(diverse("margin", beta=5)) == describe(diverse("margin", beta=5))
    assert describe(diverse("margin", beta=5)) != describe(diverse("margin", beta=10))
    json.dumps(describe(diverse("margin")))  # no memory addresses, nothing unserialisable
