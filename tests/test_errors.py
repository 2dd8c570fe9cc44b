"""Every bad input gets a clear error before any model is fit."""

import pandas as pd
import pytest

import autoal

from conftest import CountingLearner


def check(df, match, exc=ValueError, **kwargs):
    learner = CountingLearner()
    with pytest.raises(exc, match=match):
        autoal.loop(df, learner=learner, progress=False, **{"rounds": 1, "batch": 2, "init": 2, **kwargs})
    assert learner.fits == 0


def test_no_label_column(blobs):
    check(blobs.rename(columns={"label": "y"}), "label column 'label' is not in the data")


def test_fewer_than_two_classes(blobs):
    check(blobs.assign(label="same"), "at least 2 classes")


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_batch(blobs, batch):
    check(blobs, rf"'batch' parameter of loop must be an int >= 1. Got {batch!r}", batch=batch)


def test_rounds(blobs):
    check(blobs, r"'rounds' parameter of loop must be an int >= 0. Got -1", rounds=-1)


def test_test_size(blobs):
    check(blobs, r"'test_size' parameter of loop must be a float in \[0, 1\). Got 1.5", test_size=1.5)


def test_init_larger_than_a_class(blobs):
    check(blobs, r"asks for 40 examples per class.*'class_0': 24", init=40)


def test_init_rows_with_one_class(blobs):
    rows = blobs.index[blobs["label"] == "class_0"][:3].tolist()
    check(blobs, r"at least 2 classes; it holds \['class_0'\]", init=rows, test_size=0.0)


def test_init_rows_not_in_pool(blobs):
    check(blobs, "rows that are not in the pool: 999", init=[0, 999], test_size=0.0)


def test_missing_labels_without_oracle(blobs):
    df = blobs.copy()
    df.loc[3, "label"] = None
    check(df, "1 missing values .*every row needs one")


def test_unknown_strategy_and_learner(blobs):
    check(blobs, "'strategy' parameter must be one of", strategy="best")
    with pytest.raises(ValueError, match="'learner' parameter of loop must be one of"):
        autoal.loop(blobs, learner="forest", progress=False)
    with pytest.raises(TypeError, match="fit\\(data, label\\) method"):
        autoal.loop(blobs, learner=object(), progress=False)


def test_not_a_dataframe():
    check([1, 2], "must be a pandas DataFrame", exc=TypeError)


def test_duplicate_index(blobs):
    check(pd.concat([blobs, blobs.iloc[:2]]), "unique index labels")


def test_missing_and_unreadable_images(image_csv, tmp_path):
    df = autoal.read_table(image_csv)
    (tmp_path / "bad.png").write_bytes(b"nope")
    df.loc[0, "image_path"] = str(tmp_path / "gone-1.png")
    df.loc[1, "image_path"] = str(tmp_path / "bad.png")
    check(df, r"Image column 'image_path': 1 do not exist \(.*gone-1.png.*cannot be opened",
          init=1, test_size=0.0)


def test_relative_image_paths_resolve_against_base_dir(image_csv, tmp_path, monkeypatch):
    df = pd.read_csv(image_csv)
    monkeypatch.chdir(tmp_path.parent)
    check(df, "do not exist", init=1)
    # base_dir points at the CSV's folder: the paths resolve and the error is gone.
    learner = CountingLearner()
    with pytest.raises(ValueError, match="could not convert|string to float"):
        autoal.loop(df, base_dir=tmp_path, learner=learner, rounds=0, init=1, progress=False)
    assert learner.fits == 1


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_labels_are_missing(blobs, blank):
    df = blobs.copy()
    df.loc[3, "label"] = blank
    check(df, r"1 missing values \(empty, blank or NaN; rows 3\)")


def test_a_scikit_learn_estimator_as_the_learner(blobs):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match=r"a scikit-learn style estimator, which fits arrays "
                                        r"\(fit\(X, y\)\). Use learner='tabular'"):
        autoal.loop(blobs, learner=LogisticRegression(), progress=False)


def test_a_workdir_that_is_a_file(blobs, tmp_path):
    (tmp_path / "file").write_text("x")
    check(blobs, r"'workdir' parameter of loop must be a folder's path. Got .*file, which is a "
                 r"file", workdir=tmp_path / "file")


def test_a_huge_label_name_is_shortened(blobs):
    with pytest.raises(ValueError, match=r"The label column 'yyy.*\u2026.*yyy' is not in the "
                                         r"data") as caught:
        autoal.loop(blobs, label="y" * 100_000, progress=False)
    assert len(str(caught.value)) < 300
