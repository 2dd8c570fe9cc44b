"""Learners apart from the engine: CrossFitted, with_context, learner_settings."""

import io
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CountingLearner, make_blobs_frame

from autoal import _scratch
from autoal.learners import (
    LIGHTNING_LOGGERS, CrossFitted, EmbeddingLearner, MultiModalLearner, TabularLearner,
    _logger_levels, _neighbours_that_fit, _tier, learner_settings,
)

# ---- CrossFitted ---------------------------------------------------------------------


def test_cross_fitted_sets_out_of_sample_probabilities(blobs):
    inner = CountingLearner()
    train = blobs.iloc[:30]
    model = CrossFitted(inner, folds=3, seed=0).fit(train, "label")
    assert inner.fits == 4  # every row, then 3 folds
    assert list(model.oof_proba.index) == list(train.index)
    assert np.allclose(model.oof_proba.sum(axis=1), 1.0)
    # Each fold's model never saw the rows it predicts.
    for rows in inner.trained_on[1:]:
        assert len(rows) < len(train)


def test_cross_fitted_keeps_the_models_own_oof_proba(blobs):
    inner = CountingLearner(oof=True)
    model = CrossFitted(inner).fit(blobs.iloc[:30], "label")
    assert inner.fits == 1 and model.oof_proba is not None


def test_cross_fitted_checks_folds(blobs):
    with pytest.raises(ValueError, match=r"The 'folds' parameter of CrossFitted must be an "
                                         r"int >= 2. Got 1"):
        CrossFitted(CountingLearner(), folds=1).fit(blobs.iloc[:30], "label")


def test_cross_fitted_says_when_the_model_takes_no_oof_proba(blobs):
    class Frozen:
        __slots__ = ()

        def predict_proba(self, df):
            return pd.DataFrame({"class_0": 1.0}, index=df.index)

    class Learner:
        def fit(self, data, label):
            return Frozen()

    with pytest.raises(TypeError, match=r"CrossFitted sets 'oof_proba' on the model, and "
                                        r"Frozen does not allow it"):
        CrossFitted(Learner()).fit(blobs.iloc[:30], "label")


class ContextLearner:
    """A learner of one's own, with prepare and with_context, recording what it was given."""

    def __init__(self, seed=0, path=None):
        self.seed = seed
        self.path = path
        self.prepared = []
        self.fitted_with = []

    def prepare(self, data, column_types=None):
        self.prepared.append((len(data), column_types))

    def with_context(self, *, path=None, seed=None, time_limit=None):
        import copy

        copied = copy.copy(self)
        copied.path = path
        copied.seed = self.seed if seed is None else seed
        return copied

    def fit(self, data, label):
        self.fitted_with.append((self.path, self.seed))
        return CountingLearner().fit(data, label)


def test_cross_fitted_forwards_prepare_and_with_context(blobs, tmp_path):
    inner = ContextLearner()
    wrapped = CrossFitted(inner, folds=2)
    wrapped.prepare(blobs, {"f0": "numerical"})
    assert inner.prepared == [(len(blobs), {"f0": "numerical"})]
    configured = wrapped.with_context(path=tmp_path / "round-000", seed=5, time_limit=9)
    assert configured is not wrapped and isinstance(configured, CrossFitted)
    assert (wrapped.seed, wrapped.learner) == (0, inner)  # the original is unchanged
    assert configured.seed == 5 and configured.learner.path == tmp_path / "round-000"
    configured.fit(blobs.iloc[:30], "label")
    # The fit on every row goes to the round's folder; the folds to their own.
    assert inner.fitted_with == [(tmp_path / "round-000", 5), (None, 5), (None, 5)]
    assert CrossFitted.gives_oof_proba is True


def test_a_learner_without_with_context_is_fitted_as_it_is(blobs):
    inner = CountingLearner()
    configured = CrossFitted(inner).with_context(path="somewhere", seed=2, time_limit=3)
    assert configured.learner is inner and configured.seed == 2
    configured.fit(blobs.iloc[:30], "label")
    assert inner.fits == 4


# ---- with_context --------------------------------------------------------------------


def test_with_context_configures_a_copy_and_keeps_the_learners_own_time_limit(tmp_path):
    learner = TabularLearner(time_limit=30, seed=1, path=tmp_path / "own")
    copied = learner.with_context(path=tmp_path / "round-000", seed=3, time_limit=None)
    assert copied is not learner
    assert (copied.seed, copied.time_limit, copied.path) == (3, 30, tmp_path / "round-000")
    assert (learner.seed, learner.time_limit, learner.path) == (1, 30, tmp_path / "own")
    assert learner.with_context(time_limit=5).time_limit == 5
    assert learner.with_context().seed == 1
    with pytest.raises(ValueError, match=r"The 'seed' parameter of with_context must be an "
                                         r"int >= 0. Got -1"):
        learner.with_context(seed=-1)
    with pytest.raises(ValueError, match=r"The 'time_limit' parameter of with_context must be "
                                         r"a number > 0 or None. Got 0"):
        learner.with_context(time_limit=0)


@pytest.mark.slow
def test_with_context_fits_into_the_exact_folder(blobs, tmp_path):
    learner = TabularLearner(hyperparameters={"LR": {}})
    folder = tmp_path / "models" / "round-000"
    folder.mkdir(parents=True)
    (folder / "stale.txt").write_text("from an earlier process")
    copied = learner.with_context(path=folder, seed=3)
    model = copied.fit(blobs.iloc[:30], "label")
    assert model.predictor.path.rstrip("/\\") == str(folder)
    assert not (folder / "stale.txt").exists()  # the folder was removed first
    assert (learner.path, learner.seed) == (None, 0)
    # A second fit of the same copy never overwrites the first.
    again = copied.fit(blobs.iloc[:30], "label")
    assert again.predictor.path.rstrip("/\\") == str(tmp_path / "models" / "round-000-2")
    assert model.predict_proba(blobs.drop(columns=["label"]).iloc[:3]).shape == (3, 3)


@pytest.mark.slow
def test_a_fit_without_a_path_removes_its_temporary_folder_with_its_predictor(
        blobs, tmp_path, monkeypatch):
    import gc

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    learner = TabularLearner(hyperparameters={"RF": {}, "LR": {}})
    predictor = learner.fit(blobs.iloc[:30], "label").predictor
    gc.collect()
    assert [p.name for p in tmp_path.glob("autoal-*")] == [Path(predictor.path).name]
    # The model is gone but the predictor loads its models from the folder as it predicts.
    assert len(predictor.predict(blobs.drop(columns=["label"]))) == len(blobs)
    del predictor
    gc.collect()
    assert not list(tmp_path.glob("autoal-*"))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "getuid"), reason="processes are asked about on POSIX")
def test_a_killed_process_s_temporary_folder_goes_with_the_next_process_s_first(
        blobs, tmp_path, monkeypatch):
    # A process fits without a path, then gets SIGTERM, which skips Python's exit
    # handlers (as a Jupyter kernel slow to shut down does): its folder stays behind.
    child = ("import os, signal\n"
             "from conftest import make_blobs_frame\n"
             "from autoal.learners import TabularLearner\n"
             "model = TabularLearner(hyperparameters={'RF': {}}).fit(make_blobs_frame(), 'label')\n"
             "print(os.getpid(), model.predictor.path, flush=True)\n"
             "os.kill(os.getpid(), signal.SIGTERM)\n")
    env = {**os.environ, "TMPDIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == -signal.SIGTERM, done.stderr[-2000:]
    pid, path = done.stdout.split()[-2:]
    killed = Path(path)
    assert killed.parent == tmp_path and (killed / "predictor.pkl").is_file()
    # Another machine's folder, and one whose name only looks like ours, are not touched.
    assert _scratch._HOST != "elsewhere"
    other_host = tmp_path / f"autoal-elsewhere-{pid}-abcd1234"
    not_ours = tmp_path / "autoal-kernel-12345678"
    other_host.mkdir(), not_ours.mkdir()

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(_scratch, "_swept", False)  # as in a new process
    predictor = TabularLearner(hyperparameters={"RF": {}}).fit(blobs, "label").predictor
    assert not killed.exists()
    mine = Path(predictor.path)
    assert sorted(tmp_path.iterdir()) == sorted([mine, other_host, not_ours])
    # A folder of a process still running is kept: this one's.
    assert _scratch.sweep(tmp_path) == [] and mine.is_dir()


@pytest.mark.slow
def test_tabular_learner_weighted_by_accuracy_still_gives_probabilities(blobs):
    import autoal

    learner = TabularLearner(eval_metric="accuracy", seed=1)
    model = learner.fit(blobs.iloc[:24], "label")
    assert model.predictor.eval_metric.name == "accuracy"
    assert list(model.oof_proba.index) == list(blobs.index[:24])
    assert np.allclose(model.oof_proba.sum(axis=1), 1.0)
    probs = model.predict_proba(blobs.drop(columns=["label"]).iloc[24:])
    assert probs.shape == (len(blobs) - 24, 3) and np.allclose(probs.sum(axis=1), 1.0)
    # The strategies that read probabilities (auto: ActiveLab, margin) run on it.
    result = autoal.loop(blobs, rounds=1, batch=6, init=2, learner=learner, progress=False)
    assert result.history["n_labeled"].tolist() == [6, 12]
    assert learner_settings(learner)["params"]["eval_metric"] == "accuracy"


@pytest.mark.slow
def test_features_autogluon_cannot_use_are_named_with_what_to_do():
    words = [f"{a}{b}" for a in ("glad", "sad", "calm", "grim") for b in "abcdefghij"]
    data = pd.DataFrame({"word": words, "label": ["good", "bad"] * 20})
    with pytest.raises(ValueError, match=r"no usable feature among word \(object, 40 distinct "
                                         r"of 40\).*column_types=\{'COLUMN': 'text'\}"):
        TabularLearner().fit(data, "label")


def test_tabular_tiers_follow_the_smallest_class():
    few, more = {"RF": {}}, {"RF": {}, "KNN": {}}
    tiers = [(0, few), (3, more)]
    assert _tier(few, pd.Series(["a", "b"])) is few  # plain hyperparameters: as they are
    assert _tier(tiers, pd.Series(list("aaabb"))) is few
    assert _tier(tiers, pd.Series(list("aaabbb"))) is more
    with pytest.raises(ValueError, match=r"The 'hyperparameters' parameter of TabularLearner, "
                                         r"given as tiers, must .* first with min_per_class 0"):
        _tier([(2, more)], pd.Series(list("aabb")))
    # The metric may be tiered the same way.
    metrics = [(0, "log_loss"), (3, "accuracy")]
    assert _tier(metrics, pd.Series(list("aabbb")), "eval_metric") == "log_loss"
    assert _tier(metrics, pd.Series(list("aaabbb")), "eval_metric") == "accuracy"
    with pytest.raises(ValueError, match=r"The 'eval_metric' parameter"):
        _tier([(1, "accuracy")], pd.Series(list("aabb")), "eval_metric")


@pytest.mark.slow
def test_tabular_learner_metric_tiers_follow_the_smallest_class(blobs):
    learner = TabularLearner(eval_metric=[(0, "log_loss"), (3, "accuracy")])
    two_each, three_each = blobs.groupby("label").head(2), blobs.groupby("label").head(3)
    assert learner.fit(two_each, "label").predictor.eval_metric.name == "log_loss"
    assert learner.fit(three_each, "label").predictor.eval_metric.name == "accuracy"
    assert TabularLearner().fit(two_each, "label").predictor.eval_metric.name == "accuracy"


@pytest.mark.slow
def test_the_default_adds_logistic_regression_once_every_class_has_its_tiers_labels(blobs):
    from autoal.learners import DEFAULT_TABULAR_MODELS

    (_, few), (least, more) = DEFAULT_TABULAR_MODELS
    assert set(more) - set(few) == {"LR"}
    short = pd.concat([blobs[blobs["label"] != "class_0"],
                       blobs[blobs["label"] == "class_0"].head(least - 1)])
    enough = pd.concat([short, blobs[blobs["label"] == "class_0"].iloc[least - 1:least]])

    def families(data):
        models = TabularLearner().fit(data, "label").predictor.model_names()
        return {name.split("_")[0] for name in models if not name.startswith("Weighted")}

    assert families(short) == {"RandomForest", "ExtraTrees", "KNeighbors"}
    assert families(enough) == {"RandomForest", "ExtraTrees", "KNeighbors", "LinearModel"}


@pytest.mark.slow
def test_a_class_of_few_labeled_rows_among_many_is_still_predicted():
    # AutoGluon on its own leaves out a class of fewer than 10 rows while the others hold
    # 97.5% of the rows, and never predicts it; active learning makes such classes: the
    # picks pass by a class easy to tell apart (segment's sky: 6 of 254 labels).
    df = make_blobs_frame(n_per_class=80)
    rare = df["label"] == "class_0"
    model = TabularLearner().fit(pd.concat([df[~rare], df[rare].head(3)]), "label")
    predicted = model.predict_proba(df[rare].iloc[3:].drop(columns="label")).idxmax(axis=1)
    assert (predicted == "class_0").mean() > 0.5  # without the fix: 0


@pytest.mark.slow
@pytest.mark.parametrize("learner", [
    lambda: TabularLearner(),
    lambda: TabularLearner(hyperparameters={"RF": {}, "LR": {}}),
    lambda: EmbeddingLearner(column_types={f"f{i}": "numerical" for i in range(4)},
                             progress=False),
], ids=["default", "given", "embedding"])
def test_a_class_of_one_labeled_row_is_kept_with_row_ids_that_are_text(learner):
    # AutoGluon's bagging needs 2 rows of a class: fitting for accuracy (the default
    # models) it dropped a class of one row among 41; fitting for log loss (models given,
    # the final model, the embedding learner) it added a copy itself, at 'index.max() + 1':
    # that failed on row ids that are text, and the embedding learner's out-of-fold rows
    # were matched to the labeled ones by id, not position (all NaN here).
    df = make_blobs_frame(n_per_class=80).rename(index=lambda i: f"img_{i}.png")
    rare = df["label"] == "class_0"
    train = pd.concat([df[~rare].groupby("label").head(20), df[rare].head(1)])
    model = learner().fit(train, "label")
    predicted = model.predict_proba(df[rare].iloc[1:].drop(columns="label")).idxmax(axis=1)
    assert (predicted == "class_0").mean() > 0.25  # default models before: never
    for oof in [model.oof_proba, *model.committee_oof_proba()]:
        assert list(oof.index) == list(train.index)
        assert (oof.idxmax(axis=1) == train["label"]).mean() > 0.9  # the rows' own


@pytest.mark.slow
def _ensemble(predictor):
    """The fitted blend of a predictor's models (AutoGluon keeps it inside a bag)."""
    bag = predictor._trainer.load_model(predictor.model_best)
    return bag.load_child(bag.models[0])


def test_the_first_rounds_models_are_averaged_with_equal_weights(blobs, tmp_path):
    # At 2 labels per class AutoGluon's weighted ensemble would choose its weights on 6
    # out-of-fold rows; the default models are averaged until there are 3 per class, and
    # from then on blended by the guarded ensemble (the next test).
    from autoal.learners import EQUAL_BLEND_BELOW

    rows = blobs.drop(columns="label")
    fitted = {}
    for per_class, blend in ((EQUAL_BLEND_BELOW - 1, "EqualWeights"),
                             (EQUAL_BLEND_BELOW, "EqualUnlessClearlyBeaten")):
        model = TabularLearner(path=tmp_path / str(per_class)).fit(
            blobs.groupby("label").head(per_class), "label")
        predictor = model.predictor
        assert type(_ensemble(predictor)).__name__ == blend
        base = predictor.model_names(level=1)
        assert len(base) == 3  # forest, extra trees, neighbours
        if blend == "EqualWeights":
            each = predictor.predict_proba_multi(rows, models=base, as_multiclass=True)
            mean = sum(each[name].to_numpy() for name in base) / len(base)
            assert np.allclose(model.predict_proba(rows).to_numpy(), mean, atol=1e-6)
        fitted[blend] = model
    # The saved models load in a new process (their ensembles' classes are autoal's).
    script = ("import sys, pandas as pd; from autoal.learners import TabularLearner; "
              "rows = pd.read_pickle(sys.argv[2]); "
              "print(TabularLearner().load_model(sys.argv[1]).predict_proba(rows).to_json())")
    rows.head(5).to_pickle(tmp_path / "rows.pkl")
    for model in fitted.values():
        out = subprocess.run([sys.executable, "-c", script, model.predictor.path,
                              str(tmp_path / "rows.pkl")], capture_output=True, text=True,
                             check=True)
        loaded = pd.read_json(io.StringIO(out.stdout.strip().splitlines()[-1]))
        assert np.allclose(loaded.to_numpy(), model.predict_proba(rows.head(5)).to_numpy())


@pytest.mark.slow
def test_logistic_regression_on_a_skewed_column_fits_without_warnings(blobs):
    # AutoGluon's logistic regression quantile-transforms a skewed column with 1,000
    # quantiles; on fewer rows scikit-learn warns in every fold, and a user saw three
    # warnings a round.
    from autoal.learners import DEFAULT_TABULAR_MODELS

    least = DEFAULT_TABULAR_MODELS[-1][0]
    data = blobs.groupby("label").head(least).assign(f0=lambda d: d["f0"] ** 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = TabularLearner().fit(data, "label")
    assert any(name.startswith("LinearModel") for name in model.predictor.model_names())
    assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == []


@pytest.mark.slow
def test_columns_equal_on_the_labeled_rows_are_all_kept():
    # On the labeled rows "vote_b" repeats "vote_a"; AutoGluon on its own keeps one of
    # them, and then a row on which they differ is predicted by one column alone.
    labeled = pd.DataFrame({"vote_a": ["y", "n"] * 6, "vote_b": ["y", "n"] * 6,
                            "age": np.arange(12.0), "label": ["yes", "no"] * 6})
    model = TabularLearner().fit(labeled, "label")
    assert {"vote_a", "vote_b"} <= set(model.predictor.features())
    rows = pd.DataFrame({"vote_a": ["y", "y", "n"], "vote_b": ["y", "n", "y"],
                         "age": [5.0, 5.0, 5.0]})
    proba = model.predict_proba(rows)["yes"]
    assert proba[0] > proba[1] and proba[0] > proba[2]  # vote_b counts as much as vote_a


@pytest.mark.slow
def test_a_column_of_two_values_on_the_labeled_rows_keeps_the_values_between():
    # On the labeled rows "grade" is 1 or 10, in the pool 1 to 10; AutoGluon on its own
    # reads it as "is 10", and then a grade of 9 is predicted as a grade of 1.
    labeled = pd.DataFrame({"grade": [1, 10] * 6, "flag": ["y", "y", "n"] * 4,
                            "noise": np.arange(12.0) % 5, "label": ["benign", "malignant"] * 6})
    pool = pd.concat([labeled.drop(columns="label"),
                      pd.DataFrame({"grade": range(2, 10), "flag": ["y", "n"] * 4,
                                    "noise": np.arange(8.0)})], ignore_index=True)
    learner = TabularLearner()
    learner.prepare(pool)
    model = learner.fit(labeled, "label")
    rows = pd.DataFrame({"grade": [2, 9], "flag": ["y", "y"], "noise": [2.0, 2.0]})
    proba = model.predict_proba(rows)["malignant"]
    assert proba[1] > 0.5 > proba[0]
    assert TabularLearner().fit(labeled, "label").predict_proba(rows)["malignant"][1] > 0.5

    # A column of two values in the pool as well is AutoGluon's 0/1 where no other is
    # misread (the logistic regression is much faster on it than on a category).
    def zero_one(fitted):
        return fitted.predictor.feature_metadata.get_features(required_special_types=["bool"])

    assert zero_one(model) == []
    assert zero_one(learner.fit(labeled.drop(columns="grade"), "label")) == ["flag"]


@pytest.mark.slow
def test_forests_and_neighbours_fit_on_one_thread_below_one_thread_rows(blobs, monkeypatch):
    from autoal import learners

    def threads(model):
        trainer = model.predictor._trainer
        out = {}
        for name in model._base_models():
            bag = trainer.load_model(name)
            out[name.split("_")[0]] = bag.load_child(bag.models[0]).model.n_jobs
        return out

    few = blobs.groupby("label").head(4)
    assert len(few) < learners.ONE_THREAD_ROWS
    one = TabularLearner().fit(few, "label")
    assert threads(one) == {"RandomForest": 1, "ExtraTrees": 1, "KNeighbors": 1}
    given = TabularLearner(hyperparameters={"RF": {"n_jobs": 2}, "KNN": {}}).fit(few, "label")
    assert threads(given) == {"RandomForest": 2, "KNeighbors": 1}  # a given n_jobs stays
    monkeypatch.setattr(learners, "ONE_THREAD_ROWS", len(few))  # as many rows: threads
    every = TabularLearner().fit(few, "label")
    assert set(threads(every)) == {"RandomForest", "ExtraTrees", "KNeighbors"}
    assert 1 not in threads(every).values()  # AutoGluon's: -1 (all cores) or the core count
    rows = blobs.drop(columns="label")
    pd.testing.assert_frame_equal(one.predict_proba(rows), every.predict_proba(rows))


def test_neighbours_are_left_out_where_they_would_ask_for_every_row():
    knn = {"weights": "distance"}
    models = {"RF": {}, "KNN": knn}
    assert _neighbours_that_fit(models, 6) == models
    assert _neighbours_that_fit(models, 5) == {"RF": {}}  # 5 neighbours of 5 rows: none
    assert _neighbours_that_fit({"KNN": [knn, {"n_neighbors": 2}], "XT": {}}, 4) == {
        "KNN": [{"n_neighbors": 2}], "XT": {}}
    assert _neighbours_that_fit({"KNN": knn}, 4) == {"KNN": knn}  # alone: as given


@pytest.mark.slow
def test_a_two_class_first_round_fits_without_a_neighbours_failure(blobs, caplog, capfd):
    two = blobs[blobs["label"] != "class_2"]
    model = TabularLearner(verbosity=2).fit(two.groupby("label").head(2), "label")
    assert sorted(model._base_models()) == ["ExtraTrees_BAG_L1", "RandomForest_BAG_L1"]
    said = caplog.text + "".join(capfd.readouterr())
    assert "KNeighbors" not in said and "Skipping this model" not in said
    more = TabularLearner().fit(two.groupby("label").head(3), "label")
    assert "KNeighbors_BAG_L1" in more._base_models()


def test_with_context_shares_what_prepare_computed(blobs):
    learner = TabularLearner()
    learner.prepare(blobs.drop(columns=["label"]))
    copied = learner.with_context(seed=4)
    assert copied.encoder_ is learner.encoder_


class FakeEmbedder:
    """Stands in for a backbone: counts the values it embeds."""

    def __init__(self):
        self.embedded = 0

    def __call__(self, values):
        values = pd.Series(values)
        self.embedded += len(values)
        return np.stack([values.str.len().to_numpy(dtype=float),
                         values.str.count("a").to_numpy(dtype=float)], axis=1)


def test_embedding_learner_copies_reuse_the_embeddings_of_prepare():
    data = pd.DataFrame({"text": ["a cat", "a dog", "banana", "a cat"], "x": [1.0, 2, 3, 4]})
    learner = EmbeddingLearner(column_types={"text": "text", "x": "numerical"}, dims=None,
                               text_features=None, progress=False)
    embedder = learner._embedders["text"] = FakeEmbedder()
    learner.prepare(data)
    done = embedder.embedded
    copied = learner.with_context(seed=2, time_limit=5)
    features = copied._features(data)
    assert embedder.embedded == done  # looked up, not embedded again
    assert list(features.columns) == ["x", "text__0000", "text__0001"]
    assert copied._tables is learner._tables and copied.encoder_ is learner.encoder_
    # Preparing the copy again leaves the original's tables as they were.
    tables = learner._tables
    copied.prepare(data.iloc[:2])
    assert learner._tables is tables and len(learner._tables["text"][0]) == 3


def test_embedding_learner_puts_the_texts_ngrams_beside_the_embedding():
    from autoal.text import TextLSA

    texts = ["Elizabeth smiled at Mr Darcy", "Mr Darcy bowed to Elizabeth", "Emma laughed",
             "Emma and Mr Knightley walked", "Mr Knightley laughed at Emma", "Darcy smiled"]
    data = pd.DataFrame({"text": texts})
    learner = EmbeddingLearner(column_types={"text": "text"}, dims=2, progress=False)
    learner._embedders["text"] = FakeEmbedder()
    learner.prepare(data)
    features = learner._features(data)
    assert list(features.columns) == ["text__0000", "text__0001",
                                      "text__tfidf__0000", "text__tfidf__0001"]
    direct = TextLSA(2).fit(data["text"]).transform(data["text"])
    np.testing.assert_allclose(features.iloc[:, 2:].to_numpy(), direct, rtol=1e-5, atol=1e-6)
    # The n-grams share one scale in the encoder, apart from the embedding's dimensions.
    groups = learner._feature_groups(features)
    assert {groups[c] for c in features.columns} == {"text", "text__tfidf"}
    # A model saved as arrays gives the same features for rows prepare() never saw.
    new = pd.DataFrame({"text": ["Elizabeth and Emma", "a text with no name in it"]})
    saved = learner.projections()
    # (the fake embedding has 2 dimensions already, so it has no PCA)
    assert set(saved) == {"text__tfidf"} and saved["text__tfidf"]["terms"].dtype.kind == "U"
    rebuilt = EmbeddingLearner(column_types={"text": "text"}, dims=2, progress=False)
    rebuilt._embedders["text"] = FakeEmbedder()
    rebuilt.set_projections(saved)
    np.testing.assert_allclose(rebuilt._features(new).to_numpy(),
                               learner._features(new).to_numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="'text_features' parameter of EmbeddingLearner"):
        EmbeddingLearner(text_features="bert")


# ---- MultiModalLearner without MultiModal --------------------------------------------


class SklearnMultiModal(MultiModalLearner):
    """MultiModalLearner with its one AutoGluon fit replaced by scikit-learn's."""

    def _fit_one(self, data, label, folder):
        self.folders = [*getattr(self, "folders", []), str(folder)]
        model = CountingLearner().fit(data, label)
        model.path, model.owns_path = str(folder), True
        return model


def test_multimodal_cross_fits_its_folds_in_throw_away_folders(blobs, tmp_path):
    learner = SklearnMultiModal(oof_folds=2)
    assert learner.gives_oof_proba and not SklearnMultiModal(oof_folds=0).gives_oof_proba
    copied = learner.with_context(path=tmp_path / "round-000")
    model = copied.fit(blobs.iloc[:30], "label")
    assert copied.folders[0] == str(tmp_path / "round-000")
    assert len(copied.folders) == 3 and all("autoal-fold-" in f for f in copied.folders[1:])
    assert list(model.oof_proba.index) == list(blobs.index[:30])
    assert SklearnMultiModal(oof_folds=0).fit(blobs.iloc[:30], "label").oof_proba is None
    with pytest.raises(ValueError, match=r"The 'oof_folds' parameter of MultiModalLearner "
                                         r"must be an int >= 2. Got 1"):
        SklearnMultiModal(oof_folds=1).fit(blobs.iloc[:30], "label")


def test_lightning_logger_levels_come_back_after_the_block():
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    before = [each.level for each in loggers]
    loggers[0].setLevel(logging.DEBUG)
    try:
        with _logger_levels(LIGHTNING_LOGGERS, logging.ERROR):
            assert all(each.level == logging.ERROR for each in loggers)
        assert loggers[0].level == logging.DEBUG
        with pytest.raises(KeyError), _logger_levels(LIGHTNING_LOGGERS, logging.ERROR):
            raise KeyError("a failed fit")
        assert loggers[0].level == logging.DEBUG
        assert [each.level for each in loggers[1:]] == before[1:]
    finally:
        for each, level in zip(loggers, before):
            each.setLevel(level)


# ---- learner_settings ----------------------------------------------------------------


def test_learner_settings_tell_learners_apart_by_what_changes_the_picks(tmp_path):
    lr = learner_settings(TabularLearner(hyperparameters={"LR": {}}))
    gbm = learner_settings(TabularLearner(hyperparameters={"GBM": {}}))
    assert lr != gbm
    assert lr["class"] == "autoal.learners.TabularLearner"
    assert lr["params"]["hyperparameters"] == {"LR": {}}
    elsewhere = learner_settings(TabularLearner(hyperparameters={"LR": {}}, path=tmp_path,
                                                verbosity=2))
    assert elsewhere == lr  # where files go and how much it says do not matter
    assert json.loads(json.dumps(lr)) == lr


def test_learner_settings_follow_kwargs_to_the_base_class():
    settings = learner_settings(EmbeddingLearner(time_limit=7, progress=False,
                                                 ray_address="local"))["params"]
    assert settings["time_limit"] == 7 and settings["num_bag_folds"] == 3
    assert "progress" not in settings and "ray_address" not in settings


def test_learner_settings_of_a_wrapped_learner_of_ones_own():
    class Odd:
        def __init__(self, alpha, beta=2, **rest):
            self.alpha = alpha  # beta is not stored: left out

        def fit(self, data, label):
            raise NotImplementedError

    settings = learner_settings(CrossFitted(Odd({1, "a", (2, 3)}), folds=4, seed=1))
    assert settings["class"] == "autoal.learners.CrossFitted"
    assert settings["params"]["folds"] == 4 and settings["params"]["seed"] == 1
    inner = settings["params"]["learner"]
    assert inner["class"].endswith("Odd") and set(inner["params"]) == {"alpha"}
    assert json.loads(json.dumps(settings)) == settings


def test_learner_settings_use_get_params_and_describe_functions_by_name():
    from sklearn.linear_model import LogisticRegression

    settings = learner_settings(LogisticRegression(C=3.0))
    assert settings["params"]["C"] == 3.0

    class WithFunction:
        def __init__(self, score=np.mean):
            self.score = score

    assert learner_settings(WithFunction())["params"]["score"] == "numpy.mean"


def _noisy_line_and_a_far_column(n, seed=0):
    """Two classes by the sign of ``x`` with a fifth of the labels flipped, and a column
    of pure noise a million times wider: the forests split on ``x`` (unsure, as the labels
    are), the neighbours see only the noise (sure, and right by chance)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    flip = rng.random(n) < 0.2
    return pd.DataFrame({"x": x, "far": rng.normal(size=n) * 1e6,
                         "label": np.where((x > 0) != flip, "up", "down")})


def _oof_correct(probabilities, truth):
    return (probabilities.idxmax(axis=1).to_numpy() == truth).astype(float)


@pytest.mark.slow
def test_the_weighted_blend_is_kept_only_where_it_clearly_beats_the_average(blobs, tmp_path):
    # From 3 labels per class the default models are blended by AutoGluon's weighted
    # ensemble only where its out-of-fold accuracy beats their average by more than one
    # standard error; on a few rows it otherwise keeps one model by chance.
    from autoal.learners import WEIGHTED_BLEND_MARGIN

    cases = {"few": blobs.groupby("label").head(8),
             "far": _noisy_line_and_a_far_column(300)}
    kept = {}
    for case, data in cases.items():
        model = TabularLearner(path=tmp_path / case).fit(data, "label")
        predictor = model.predictor
        assert predictor.model_best == "WeightedEnsemble_L2"
        ensemble = _ensemble(predictor)
        base = predictor.model_names(level=1)
        assert set(ensemble.greedy_weights_) == set(base)
        # The decision, recomputed from the predictor's own out-of-fold probabilities.
        truth = data["label"].to_numpy()
        oof = {name: predictor.predict_proba_oof(model=name, as_multiclass=True)
               for name in base}
        average = sum(oof[name] for name in base) / len(base)
        greedy = sum(oof[name] * ensemble.greedy_weights_[name] for name in base)
        gain = _oof_correct(greedy, truth) - _oof_correct(average, truth)
        error = gain.std(ddof=1) / np.sqrt(len(gain))
        assert ensemble.blend_gain_ == pytest.approx((gain.mean(), error))
        kept[case] = bool(gain.mean() > WEIGHTED_BLEND_MARGIN * error)
        # The model predicts with what was decided: the greedy weights, or the average.
        rows = data.drop(columns="label").head(20)
        each = predictor.predict_proba_multi(rows, models=base, as_multiclass=True)
        weights = (ensemble.greedy_weights_ if kept[case] else
                   {name: 1 / len(base) for name in base})
        expected = sum(each[name].to_numpy() * weights[name] for name in base)
        assert np.allclose(model.predict_proba(rows).to_numpy(), expected, atol=1e-6)
    # Blobs at 8 rows a class: every model is right, nothing to choose. The far column:
    # the neighbours' sure guesses drag the average to chance where the forests are unsure.
    assert kept == {"few": False, "far": True}
