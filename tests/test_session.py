"""The round engine: ask and tell, row ids through the run directory, learner objects,
temporary folders and the settings record."""

import gc
import json
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal.pool import Pool
from autoal.rundir import RunDir
from autoal.session import Session
from autoal.settings import Settings

from conftest import CountingLearner, make_blobs_frame


def small_loop(df, workdir=None, **kwargs):
    kwargs = {"rounds": 2, "batch": 4, "init": 2, "progress": False, "seed": 0,
              "learner": CountingLearner(oof=True), **kwargs}
    return autoal.loop(df, workdir=workdir, **kwargs)


def test_ask_and_tell_by_hand(blobs, tmp_path):
    settings = Settings(batch=5, init=2, seed=1, learner=CountingLearner(oof=True),
                        progress=False)
    pool = Pool.from_frame(blobs, settings)
    with Session.start(pool, settings, RunDir(tmp_path)) as session:
        assert session.round == -1 and list(session.query.rows) == list(pool.initial)
        session.tell(pd.DataFrame({"row": pool.initial, "annotator": "ana",
                                   "label": pool.truth.loc[pool.initial].to_numpy()}))
        query = session.ask()
        assert query.round == 0 and len(query.picks) == 5
        assert list(query.picks.columns) == ["round", "row", "kind", "score", "guess",
                                             "confidence"]
        assert query.picks["guess"].isin(pool.classes).all()
        with pytest.raises(ValueError, match="not in the current queue"):
            session.tell(pd.DataFrame({"row": pool.initial[:1], "annotator": "bob",
                                       "label": "class_0"}))
        stored = session.tell(pd.DataFrame({"row": query.rows, "annotator": "ana",
                                            "label": pool.truth.loc[query.rows].to_numpy()}))
        assert (stored["round"] == 1).all()
    resumed = Session.resume(RunDir(tmp_path), pool, settings)
    assert resumed.round == 0 and resumed.pending is None
    assert len(resumed.annotations) == len(pool.initial) + 5


def test_a_crash_between_ask_and_tell_resumes_from_the_stored_query(blobs, tmp_path):
    learner = CountingLearner(oof=True)
    settings = Settings(batch=4, init=2, learner=learner, progress=False)
    pool = Pool.from_frame(blobs, settings)
    with Session.start(pool, settings, RunDir(tmp_path)) as session:
        session.tell(pd.DataFrame({"row": pool.initial, "annotator": "a",
                                   "label": pool.truth.loc[pool.initial].to_numpy()}))
        asked = session.ask()
    # The process "dies" here: nothing told. The next one finds the query, no refit.
    fits = learner.fits
    resumed = Session.resume(RunDir(tmp_path), pool, settings)
    assert resumed.pending is not None
    pd.testing.assert_frame_equal(resumed.pending.picks.reset_index(drop=True),
                                  asked.picks.reset_index(drop=True), check_dtype=False)
    assert learner.fits == fits


def test_row_ids_that_read_the_same_as_text_are_refused(blobs, tmp_path):
    clash = blobs.set_axis([5, "5"] + list(range(100, 100 + len(blobs) - 2)))
    with pytest.raises(ValueError, match=r"Row ids 5 and '5' read the same as text"):
        small_loop(clash, tmp_path / "loop")
    people = clash.assign(label=None)
    people.loc[people.index[:2], "label"] = ["class_0", "class_1"]
    with pytest.raises(ValueError, match="read the same as text"):
        autoal.Project.init(people, tmp_path / "project")
    assert not (tmp_path / "loop").exists() and not (tmp_path / "project").exists()


def test_float_and_string_row_ids_round_trip_through_the_run_directory(tmp_path):
    df = make_blobs_frame(n_per_class=20, n_classes=3, seed=4)
    ids = [i + 0.5 if i % 2 else f"r{i}" for i in range(len(df))]
    df.index = pd.Index(ids, dtype=object)
    small_loop(df, tmp_path, rounds=1)
    resumed = small_loop(df, tmp_path, rounds=3)
    straight = small_loop(df, tmp_path / "straight", rounds=3)
    pd.testing.assert_frame_equal(resumed.queries, straight.queries)
    for table in (resumed.queries, resumed.annotations):
        assert all(type(row) in (float, str) for row in table["row"])
        assert set(table["row"]) <= set(ids)
    assert all(isinstance(r, float) == (ids.index(r) % 2 == 1) for r in resumed.labeled)


def test_a_changed_learner_setting_is_refused_on_resume(blobs, tmp_path):
    small_loop(blobs, tmp_path, learner=CountingLearner(oof=True))
    with pytest.raises(ValueError, match="other settings.*learner"):
        small_loop(blobs, tmp_path, learner=CountingLearner(oof=False))


@pytest.mark.slow
def test_a_run_resumed_by_an_autoal_of_other_defaults_says_so(blobs, tmp_path):
    from autoal.learners import (DEFAULT_TABULAR_MODELS, EQUAL_BLEND_BELOW, TABULAR_FEATURES,
                                 WEIGHTED_BLEND_MARGIN)
    from autoal._checks import read_json
    from autoal.rundir import write_json

    small_loop(blobs, tmp_path / "own", rounds=0)
    assert read_json(tmp_path / "own" / "autoal.json")["default_models"] is None
    small_loop(blobs, tmp_path, rounds=1, learner=autoal.TabularLearner())
    config = read_json(tmp_path / "autoal.json")
    assert config["default_models"] == json.loads(json.dumps(DEFAULT_TABULAR_MODELS))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*default models")  # the same: no word
        small_loop(blobs, tmp_path, rounds=1, learner=autoal.TabularLearner())
    # as an autoal of other defaults (an earlier one) would have written it
    write_json(tmp_path / "autoal.json",
               {**config, "default_models": {"GBM": {}, "XT": {}, "LR": {}}})
    with pytest.warns(UserWarning, match=r"(?s)other than this one's: its rounds so far "
                                         r"fitted \{'GBM'.*from here on fit \[\[0, \{'RF'"):
        resumed = small_loop(blobs, tmp_path, rounds=2, learner=autoal.TabularLearner())
    assert resumed.history["round"].tolist() == [0, 1, 2]
    # likewise where autoal prepared the columns for AutoGluon otherwise
    config = read_json(tmp_path / "autoal.json")
    assert config["tabular_features"] == TABULAR_FEATURES
    write_json(tmp_path / "autoal.json",  # (the run still records the models it began with)
               {**config, "default_models": json.loads(json.dumps(DEFAULT_TABULAR_MODELS)),
                "tabular_features": {"post_drop_duplicates": True}})
    with pytest.warns(UserWarning, match=r"way of preparing the columns for AutoGluon .*"
                                         r"fitted \{'post_drop_duplicates': True\}"):
        resumed = small_loop(blobs, tmp_path, rounds=3, learner=autoal.TabularLearner())
    assert resumed.history["round"].tolist() == [0, 1, 2, 3]
    # and where it blended the default models otherwise; a run that recorded no blend
    # (as autoal did before it recorded one) is not warned of
    config = read_json(tmp_path / "autoal.json")
    assert config["default_blend"] == {"equal_below_per_class": EQUAL_BLEND_BELOW,
                                       "weighted_margin": WEIGHTED_BLEND_MARGIN}
    write_json(tmp_path / "autoal.json", {**config, "tabular_features": TABULAR_FEATURES,
                                          "default_blend": {"equal_below_per_class": 10}})
    with pytest.warns(UserWarning, match=r"way of blending the default models .*fitted "
                                         r"\{'equal_below_per_class': 10\}, its rounds from "
                                         r"here on fit \{'equal_below_per_class': 3, "):
        small_loop(blobs, tmp_path, rounds=4, learner=autoal.TabularLearner())
    config = read_json(tmp_path / "autoal.json")
    write_json(tmp_path / "autoal.json", {k: v for k, v in config.items()
                                          if k != "default_blend"})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*other than this one's")
        resumed = small_loop(blobs, tmp_path, rounds=5, learner=autoal.TabularLearner())
    assert resumed.history["round"].tolist() == [0, 1, 2, 3, 4, 5]
    assert read_json(tmp_path / "own" / "autoal.json")["default_blend"] is None


def test_settings_are_checked_once_with_named_errors():
    with pytest.raises(ValueError, match="'batch' parameter of loop must be an int >= 1. Got 0"):
        Settings(batch=0)
    with pytest.raises(ValueError, match="'time_limit' parameter of Project must be a number"):
        Settings(time_limit=-1, owner="Project")
    with pytest.raises(ValueError, match="'test_size'"):
        Settings(test_size=1.5)
    keys = Settings(strategy=np.sum).resume_keys()
    assert keys["strategy"] == "sum" and "chunk_size" not in keys


@pytest.mark.slow
def test_a_learner_object_fits_in_the_run_directory_and_stays_untouched(blobs, tmp_path):
    learner = autoal.TabularLearner(hyperparameters={"LR": {}}, seed=9)
    result = small_loop(blobs, tmp_path, learner=learner, seed=3, time_limit=30)
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["round-002"]
    assert result.model.path.rstrip("/").endswith("models/round-002")
    assert learner.path is None and learner.seed == 9 and learner.time_limit is None


@pytest.mark.slow
def test_a_loop_without_workdir_leaves_no_model_folders(blobs, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = small_loop(blobs, learner="tabular", time_limit=20)
    left = list(tmp_path.glob("autoal-*"))
    assert len(left) == 1 and [p.name for p in left[0].iterdir()] == ["round-002"]
    assert result.model.predict_proba(blobs.drop(columns=["label"])).shape == (len(blobs), 3)
    del result
    gc.collect()
    assert not list(tmp_path.glob("autoal-*"))
    # The predictor alone keeps its files: it reads its models from there.
    predictor = small_loop(blobs, learner="tabular", time_limit=20).predictor
    gc.collect()
    assert len(predictor.predict(blobs.drop(columns=["label"]))) == len(blobs)
    del predictor
    gc.collect()
    assert not list(tmp_path.glob("autoal-*"))


def test_a_run_directory_of_the_older_layout_is_refused_with_what_to_do(blobs, tmp_path):
    import json

    small_loop(blobs, tmp_path)
    config = json.loads((tmp_path / "autoal.json").read_text())
    (tmp_path / "autoal.json").write_text(json.dumps({**config, "format_version": 1}))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match=r"format version 1, from an older autoal.*start a new "
                                         r"run directory"):
        small_loop(blobs, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
