"""Contract tests: every learner, oracle and stop rule autoal ships meets the protocol the
engine relies on (:mod:`autoal.protocols`), as scikit-learn's estimator checks do."""

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal.oracles import SimulatedAnnotators, SimulatedOracle
from autoal.protocols import Learner, Model, Oracle, StopRule
from autoal.stopping import Budget, StablePredictions, TargetAccuracy

from conftest import SPORT, FOOD, CountingLearner, make_blobs_frame, write_images


# ---- learners ------------------------------------------------------------------------

def _blobs():
    return make_blobs_frame(n_per_class=12, n_classes=3, seed=7), None


def _texts():
    rows = [{"text": f"{s} {x}", "label": "sport"} for s in SPORT for x in ("a", "b")]
    rows += [{"text": f"{s} {x}", "label": "food"} for s in FOOD for x in ("a", "b")]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True), \
        {"text": "text"}


def _images(tmp_path):
    df = write_images(tmp_path / "images", n_per_class=8)
    df["image_path"] = [str(tmp_path / p) for p in df["image_path"]]
    return df, {"image_path": "image_path"}


LEARNERS = {
    "fake": (lambda types: CountingLearner(), _blobs),
    "tabular": (lambda types: autoal.TabularLearner(hyperparameters={"LR": {}, "KNN": {}}),
                _blobs),
    "embedding": (lambda types: autoal.EmbeddingLearner(column_types=types, progress=False),
                  _texts),
    "embedding-images": (lambda types: autoal.EmbeddingLearner(column_types=types,
                                                               progress=False), _images),
    "multimodal": (lambda types: autoal.MultiModalLearner(
        column_types=types, oof_folds=0, hyperparameters={"optim.max_epochs": 1}), _texts),
}
SLOW = {"tabular", "embedding", "embedding-images", "multimodal"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in LEARNERS])
def test_every_learner_meets_the_learner_contract(name, tmp_path):
    make, data = LEARNERS[name]
    df, types = data(tmp_path) if data is _images else data()
    learner = make(types)
    assert isinstance(learner, Learner)
    if callable(getattr(learner, "prepare", None)):
        learner.prepare(df.drop(columns=["label"]), types or {})
    fitted = learner
    if callable(getattr(learner, "with_context", None)):
        fitted = learner.with_context(path=tmp_path / "models" / "round-000", seed=1,
                                      time_limit=None)
        assert fitted is not learner and getattr(learner, "path", None) is None
    model = fitted.fit(df, "label")
    assert isinstance(model, Model)
    classes = sorted(df["label"].unique())
    shuffled = df.drop(columns=["label"]).sample(frac=1.0, random_state=1)
    proba = model.predict_proba(shuffled)
    assert isinstance(proba, pd.DataFrame) and len(proba) == len(df)
    assert set(proba.columns) <= set(classes)
    assert np.allclose(proba.to_numpy(dtype=float).sum(axis=1), 1.0, atol=1e-4)
    # Reordering the rows reorders the probabilities.
    again = model.predict_proba(shuffled.iloc[::-1])
    assert np.allclose(again.to_numpy(dtype=float), proba.to_numpy(dtype=float)[::-1],
                       atol=1e-5)
    if getattr(learner, "gives_oof_proba", False) and getattr(learner, "oof_folds", 1):
        assert len(model.oof_proba) == len(df)
    if callable(getattr(learner, "with_context", None)) and getattr(model, "path", None):
        assert str(model.path).rstrip("/").endswith("round-000")


# ---- oracles -------------------------------------------------------------------------

TRUTH = pd.Series(["a", "b", "c", "a", "b", "c"], index=[10, 11, 12, 13, 14, 15])
ORACLES = {
    "simulated": lambda: SimulatedOracle(TRUTH),
    "annotators": lambda: SimulatedAnnotators([0.9, 0.6], seed=1).bind(TRUTH, ["a", "b", "c"]),
    "annotator-columns": lambda: SimulatedAnnotators(columns=["x", "y"]).bind(
        TRUTH, ["a", "b", "c"], pd.DataFrame({"x": TRUTH, "y": TRUTH.iloc[::-1].to_numpy()},
                                             index=TRUTH.index)),
}


@pytest.mark.parametrize("name", ORACLES)
def test_every_oracle_meets_the_oracle_contract(name):
    from autoal import annotations as ann

    oracle = ORACLES[name]()
    assert isinstance(oracle, Oracle)
    rows = pd.Index([12, 10, 15])
    answers = oracle(rows, ann.empty())
    assert {"row", "annotator", "label"} <= set(answers.columns)
    assert set(answers["row"]) <= set(rows) and answers["label"].isin(["a", "b", "c"]).all()
    assert (answers["annotator"].astype(str).str.strip() != "").all()
    # The same question with the same history gets the same answer (seeded).
    pd.testing.assert_frame_equal(answers, oracle(rows, ann.empty()))
    names = getattr(oracle, "annotators", None)
    if names:
        assert set(answers["annotator"]) <= set(names)
    if callable(getattr(oracle, "can_relabel", None)):
        done = answers.assign(round=0)
        assert len(oracle.can_relabel(rows, done)) == len(rows)


# ---- stop rules ----------------------------------------------------------------------

RULES = {
    "budget": lambda: Budget(labels=30),
    "target": lambda: TargetAccuracy(0.99),
    "stable": lambda: StablePredictions(kappa=0.9, patience=1, size=20),
}


@pytest.mark.parametrize("name", RULES)
def test_every_stop_rule_meets_the_contract_and_the_engine_honours_it(name, blobs):
    rule = RULES[name]()
    assert isinstance(rule, StopRule)
    history = [{"round": 0, "n_labeled": 10, "n_annotations": 10, "accuracy": 0.5}]
    assert rule(history, [np.zeros(20, dtype=int)]) is None
    result = autoal.loop(blobs, rounds=8, batch=4, init=2, progress=False, stop=rule,
                         learner=CountingLearner(oof=True))
    if callable(getattr(rule, "remaining", None)):
        assert result.history["n_annotations"].max() <= rule.labels
        assert result.history["n_annotations"].iloc[-1] == rule.labels
    if getattr(rule, "stop_set", 0):
        assert "predictions stopped changing" in result.stop_reason
    if result.stop_reason not in ("8 rounds done", "pool ran out"):
        assert result.history["stop_reason"].iloc[-1] == result.stop_reason
