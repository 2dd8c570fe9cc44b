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
    learner = EmbeddingLearner(column_types={"image_path": "image_path"}, image_size=64,
                               time_limit=60, progress=False)
    result = autoal.loop(df, rounds=1, batch=4, init=3, learner=learner, test_size=0.25,
                         progress=False)
    assert result.history["n_labeled"].tolist() == [6, 10]
    assert result.history["accuracy"].iloc[-1] >= 0.8
    # Embeddings are cached on disk by content: a second learner computes nothing.
    again = EmbeddingLearner(column_types={"image_path": "image_path"}, image_size=64,
                             progress=False)
    embedder = again._embedder("image_path")
    assert len(embedder._cache.vectors) == len(df)
