"""Real AutoGluon fits on tiny data: AutoGluon's private calls autoal relies on, then one
fit per learner and data kind, through loop()."""

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal import _autogluon
from autoal.learners import EmbeddingLearner, MultiModalLearner, TabularLearner
from autoal.predict import align_proba, strategy_inputs
from autoal.strategies import STRATEGIES, bald

# ---- AutoGluon's private calls (autoal/_autogluon.py) ---------------------------------


def _private(owner, name: str, where: str):
    """``owner.name``, or a failure saying which private call an AutoGluon upgrade broke."""
    import autogluon.tabular

    assert hasattr(owner, name), (
        f"AutoGluon {autogluon.tabular.__version__} has no {where}, which "
        f"autoal._autogluon.fold_probabilities calls (checked with {_autogluon.CHECKED_WITH}).")
    return getattr(owner, name)


@pytest.mark.slow
def test_autogluon_private_calls_give_the_fold_models_of_a_bag(blobs, tmp_path):
    from autogluon.tabular import TabularPredictor

    train = blobs.iloc[:60]
    predictor = TabularPredictor(label="label", path=str(tmp_path / "ag"), verbosity=0).fit(
        train, hyperparameters={"GBM": {"num_boost_round": 10}}, num_bag_folds=3,
        num_bag_sets=1, time_limit=60,
        ag_args_ensemble={"fold_fitting_strategy": "sequential_local"})
    (name,) = predictor.model_names(level=1)
    trainer = _private(predictor, "_trainer", "predictor._trainer")
    model = _private(trainer, "load_model", "predictor._trainer.load_model")(name)
    _private(model, "predict_proba_children", f"{type(model).__name__}.predict_proba_children")
    learner = _private(predictor, "_learner", "predictor._learner")
    post = _private(learner, "_post_process_predict_proba",
                    "predictor._learner._post_process_predict_proba")
    wanted = {"as_pandas", "index", "as_multiclass"}
    assert wanted <= set(inspect.signature(post).parameters), (
        f"predictor._learner._post_process_predict_proba no longer takes {sorted(wanted)}: "
        f"{inspect.signature(post)}")

    rows = blobs.drop(columns=["label"]).iloc[60:70]
    folds = _autogluon.fold_probabilities(predictor, [name], rows, rows.index)
    assert len(folds) == 3  # one per bagged fold model
    for fold in folds:
        assert list(fold.index) == list(rows.index)
        assert sorted(fold.columns) == sorted(train["label"].unique())
        assert np.allclose(fold.sum(axis=1), 1.0)
    bag = predictor.predict_proba(rows, model=name, as_multiclass=True)
    mean = sum(fold[bag.columns].to_numpy() for fold in folds) / len(folds)
    assert np.allclose(mean, bag.to_numpy(), atol=1e-6), "the fold models no longer average " \
        "to the bagged model: fold_probabilities gives something else than the bag's folds"


def test_a_missing_private_call_is_an_error_naming_it():
    class Predictor:  # what an upgrade without predictor._trainer would look like
        def transform_features(self, features):
            return features

    with pytest.raises(RuntimeError, match=r"AutoGluon's private predictor\._trainer.* failed "
                                           r".*autogluon#4180.*checked with autogluon\.tabular"):
        _autogluon.fold_probabilities(Predictor(), ["LightGBM_BAG_L1"], pd.DataFrame({"x": [1]}),
                                      pd.Index([0]))


@pytest.mark.slow
def test_installed_packages_are_scanned_once_for_the_predictors_metadata(blobs, tmp_path,
                                                                         monkeypatch):
    import importlib.metadata

    learner = TabularLearner(hyperparameters={"LR": {}}, path=tmp_path)
    learner.fit(blobs.iloc[:30], "label")
    scans = []
    distributions = importlib.metadata.distributions
    monkeypatch.setattr(importlib.metadata, "distributions",
                        lambda *a, **k: scans.append(1) or distributions(*a, **k))
    model = learner.fit(blobs.iloc[:30], "label")
    loaded = learner.load_model(model.predictor.path)
    assert scans == []
    # The metadata file still names the versions, as AutoGluon wrote it.
    written = json.loads((Path(model.predictor.path) / "metadata.json").read_text())
    assert written["packages"]["autogluon.tabular"] == written["version"]
    rows = blobs.drop(columns=["label"]).iloc[:4]
    assert np.allclose(loaded.predict_proba(rows), model.predict_proba(rows))


# ---- learners ------------------------------------------------------------------------


@pytest.mark.slow
def test_tabular_model_gives_what_committee_sampling_and_feature_strategies_need(blobs):
    """A real TabularLearner's model: committee (and its out-of-fold part), fold samples
    and features, as strategy_inputs hands them to strategies."""
    # Bagged in folds (GBM, LR), so there are fold models to sample; the default's RF and
    # XT are bagged out of bag, one model each.
    learner = TabularLearner(time_limit=60, hyperparameters={"GBM": {}, "XT": {}, "LR": {}})
    classes = sorted(blobs["label"].unique())
    train = blobs.iloc[:30]
    model = learner.fit(train, "label")
    features = blobs.drop(columns=["label"])
    unlabeled = features.index[30:]
    common = dict(model=model, features=features, unlabeled=unlabeled, labeled=train.index,
                  classes=classes, batch=4, chunk_size=25)
    extra = strategy_inputs(STRATEGIES["activelab_ensemble"], **common)
    assert extra["committee"].shape == (3, len(unlabeled), 3)  # GBM, XT, LR
    assert extra["committee_labeled"].shape == (3, len(train), 3)
    assert np.isfinite(extra["committee_labeled"]).all()
    extra = strategy_inputs(STRATEGIES["coreset"], **common)
    assert extra["features_unlabeled"].shape == (len(unlabeled), 4)
    assert extra["features_labeled"].shape == (len(train), 4)
    samples = strategy_inputs(bald, **common)["samples"]
    assert len(samples) > 3 and np.allclose(samples.sum(axis=2), 1.0)

    rows = features.iloc[:5]
    committee = model.committee_proba(rows)
    stacked = np.stack([align_proba(s, classes) for s in model.sample_proba(rows)])
    # LightGBM's bag is the mean of its fold models.
    assert np.allclose(stacked[:3].mean(axis=0), align_proba(committee[0], classes), atol=1e-6)
    assert bald(stacked.mean(axis=0), samples=stacked).unlabeled.shape == (5,)


@pytest.mark.slow
def test_tabular_learner_gives_out_of_fold_probabilities(blobs):
    learner = TabularLearner(time_limit=60)
    train = blobs.iloc[:24]
    model = learner.fit(train, "label")
    assert list(model.oof_proba.index) == list(train.index)
    assert np.allclose(model.oof_proba.sum(axis=1), 1.0)
    probs = model.predict_proba(blobs.drop(columns=["label"]).iloc[24:])
    assert set(probs.columns) == set(train["label"])


@pytest.mark.slow
def test_tabular_frame_through_loop(blobs, tmp_path):
    result = autoal.loop(blobs, rounds=1, batch=6, init=2, learner="auto", time_limit=60,
                         workdir=tmp_path / "run", progress=False)
    assert result.predictor.__class__.__name__ == "TabularPredictor"
    assert result.history["n_labeled"].tolist() == [6, 12]
    assert result.history["accuracy"].iloc[-1] > 0.6  # separable blobs; chance is 1/3
    # AutoGluon's files live under the workdir, and only the last fit's are kept.
    assert len(list((tmp_path / "run" / "models").iterdir())) == 1


@pytest.mark.slow
def test_class_missing_from_the_labeled_pool_gets_a_zero_column(blobs):
    start = blobs.index[blobs["label"] != "class_2"][:6].tolist()
    learner = TabularLearner(time_limit=60)
    result = autoal.loop(blobs, rounds=0, init=start, learner=learner, progress=False)
    probs = result.model.predict_proba(blobs.drop(columns=["label"]))
    assert "class_2" not in probs.columns
    aligned = align_proba(probs, result.classes)
    assert aligned.shape == (len(blobs), 3) and (aligned[:, 2] == 0).all()


@pytest.mark.slow
def test_text_frame_through_loop_with_embeddings(texts):
    result = autoal.loop(texts, rounds=1, batch=4, init=3, learner="embedding", time_limit=60,
                         test_size=0.25, progress=False)
    assert result.history["n_labeled"].tolist() == [6, 10]
    assert result.history["accuracy"].iloc[-1] >= 0.8  # sport vs cooking is easy for MiniLM


@pytest.mark.slow
def test_image_frame_through_loop_with_embeddings(image_csv):
    df = autoal.read_table(image_csv)
    # No column_types given: the learner takes the loop's.
    learner = EmbeddingLearner(image_size=64, time_limit=60, progress=False)
    result = autoal.loop(df, rounds=1, batch=4, init=3, learner=learner, test_size=0.25,
                         progress=False)
    assert result.history["n_labeled"].tolist() == [6, 10]
    assert result.history["accuracy"].iloc[-1] >= 0.8
    rows = df.index[::3]
    probs = result.model.predict_proba(df.loc[rows].drop(columns=["label"]))
    assert list(probs.index) == list(rows)
    # The same learner object in a second run leaves the first result's model usable.
    autoal.loop(df, rounds=0, init=3, learner=learner, progress=False, seed=1)
    assert result.model.predict_proba(df.loc[rows].drop(columns=["label"])).shape == (len(rows), 2)
    # Embeddings are cached on disk by content: a second learner computes nothing.
    again = EmbeddingLearner(column_types={"image_path": "image_path"}, image_size=64,
                             progress=False)
    embedder = again._embedder("image_path")
    assert len(embedder._cache.vectors) == len(df)


@pytest.mark.slow
def test_image_frame_through_loop_with_multimodal_fine_tuning(image_csv):
    df = autoal.read_table(image_csv)
    learner = MultiModalLearner(
        column_types={"image_path": "image_path"}, time_limit=120, oof_folds=2,
        hyperparameters={"optim.max_epochs": 1, "model.timm_image.image_size": 32,
                         "env.batch_size": 16, "env.per_gpu_batch_size": 16})
    result = autoal.loop(df, rounds=1, batch=4, init=4, learner=learner, test_size=0.25,
                         progress=False)
    assert result.predictor.__class__.__name__ == "MultiModalPredictor"
    assert result.history["n_labeled"].tolist() == [8, 12]
    assert result.history["accuracy"].notna().all()
    # Out-of-sample probabilities for the labeled pool came from 2-fold cross-fitting.
    assert result.history["n_relabel_requests"].iloc[0] >= 0
    probs = result.model.predict_proba(df.drop(columns=["label"]))
    assert sorted(probs.columns) == ["bottom", "top"]


@pytest.mark.slow
def test_text_frame_with_multimodal_fine_tuning_offline(texts):
    learner = MultiModalLearner(column_types={"text": "text"}, time_limit=120, oof_folds=0,
                                hyperparameters={"optim.max_epochs": 1, "env.batch_size": 8,
                                                 "env.per_gpu_batch_size": 8})
    result = autoal.loop(texts, rounds=0, init=4, learner=learner, test_size=0.25, progress=False)
    assert result.history["n_labeled"].tolist() == [8]
    assert result.history["accuracy"].notna().all()
    # oof_folds=0: the learner cross-fits nothing, so the engine wraps it in CrossFitted.
    assert not learner.gives_oof_proba and result.model.oof_proba is not None
