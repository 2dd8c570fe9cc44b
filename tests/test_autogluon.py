"""Real AutoGluon fits on tiny data, one per learner and data kind, all through loop()."""

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal.learners import EmbeddingLearner, MultiModalLearner, TabularLearner

pytestmark = pytest.mark.slow


def test_tabular_learner_gives_out_of_fold_probabilities(blobs):
    learner = TabularLearner(time_limit=60)
    train = blobs.iloc[:24]
    model = learner.fit(train, "label")
    assert list(model.oof_proba.index) == list(train.index)
    assert np.allclose(model.oof_proba.sum(axis=1), 1.0)
    probs = model.predict_proba(blobs.drop(columns=["label"]).iloc[24:])
    assert set(probs.columns) == set(train["label"])


def test_tabular_frame_through_loop(blobs, tmp_path):
    result = autoal.loop(blobs, rounds=1, batch=6, init=2, learner="auto", time_limit=60,
                         workdir=tmp_path / "run", progress=False)
    assert result.predictor.__class__.__name__ == "TabularPredictor"
    assert result.history["n_labeled"].tolist() == [6, 12]
    assert result.history["accuracy"].iloc[-1] > 0.6  # separable blobs; chance is 1/3
    # AutoGluon's files live under the workdir, and only the last fit's are kept.
    assert len(list((tmp_path / "run" / "models").iterdir())) == 1


def test_class_missing_from_the_labeled_pool_gets_a_zero_column(blobs):
    start = blobs.index[blobs["label"] != "class_2"][:6].tolist()
    learner = TabularLearner(time_limit=60)
    result = autoal.loop(blobs, rounds=0, init=start, learner=learner, progress=False)
    probs = result.model.predict_proba(blobs.drop(columns=["label"]))
    assert "class_2" not in probs.columns
    aligned = autoal.learners.align_proba(probs, result.classes)
    assert aligned.shape == (len(blobs), 3) and (aligned[:, 2] == 0).all()


def test_text_frame_through_loop_with_embeddings(texts):
    result = autoal.loop(texts, rounds=1, batch=4, init=3, learner="embedding", time_limit=60,
                         test_size=0.25, progress=False)
    assert result.history["n_labeled"].tolist() == [6, 10]
    assert result.history["accuracy"].iloc[-1] >= 0.8  # sport vs cooking is easy for MiniLM


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


def test_text_frame_with_multimodal_fine_tuning_offline(texts):
    learner = MultiModalLearner(column_types={"text": "text"}, time_limit=120, oof_folds=0,
                                hyperparameters={"optim.max_epochs": 1, "env.batch_size": 8,
                                                 "env.per_gpu_batch_size": 8})
    result = autoal.loop(texts, rounds=0, init=4, learner=learner, test_size=0.25, progress=False)
    assert result.history["n_labeled"].tolist() == [8]
    assert result.history["accuracy"].notna().all()
    assert result.model.oof_proba is None  # oof_folds=0: no cross-fitting
