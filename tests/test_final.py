"""The final model (train, save, load, predict) and the exports people load next
(JSON Lines, the ImageFolder layout). Fits are real AutoGluon fits, kept quick with a
small model set in place of the "medium" quality's portfolio."""

import json
import os

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal import cli, final
from autoal.final import QUALITY, load, train_run
from autoal.project import Project

from conftest import CountingLearner, make_blobs_frame, write_images

#: "medium" made quick for tests: two small models, 2-fold bags (on tables, as "medium",
#: the rounds' models alone).
QUICK = {"models": {"LR": {}, "KNN": {}}, "num_bag_folds": 2, "num_bag_sets": 1,
         "num_stack_levels": 0, "time_limit": 60.0, "max_epochs": 1,
         "portfolio_on_tables": False}
CLASSES = ["class_0", "class_1", "class_2"]


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setitem(QUALITY, "medium", QUICK)


def pool_frame(labeled=24, seed=1):
    """60 rows, 3 classes; the first ``labeled`` keep their labels."""
    df = make_blobs_frame(n_per_class=20, n_classes=3, seed=seed)
    df.loc[df.index[labeled:], "label"] = None
    return df


def new_rows(n_per_class=4):
    """Rows to predict, with ids of their own."""
    df = make_blobs_frame(n_per_class=n_per_class, n_classes=3, seed=1).drop(columns=["label"])
    return df.set_axis([f"new-{i}" for i in range(len(df))])


def snapshot(folder):
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tabular project with its final model."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(QUALITY, "medium", QUICK)
        project = Project.init(pool_frame(), folder / "run", learner="tabular")
        model = project.train(time_limit=30)
    return folder / "run", model


# ---- the quality table -----------------------------------------------------------------

def test_the_qualities_fit_more_than_a_round_and_only_installed_models():
    import importlib.util

    from autoal.learners import DEFAULT_TABULAR_MODELS

    assert list(QUALITY) == ["medium", "high", "best"]
    richest = DEFAULT_TABULAR_MODELS[-1][1]
    models = final._portfolio("default", richest)
    assert set(richest) <= set(models)  # the rounds' models and more
    assert len(models) > len(richest)
    for family, package in final._PACKAGES.items():
        if importlib.util.find_spec(package) is None:
            assert family not in models
    assert final._portfolio(QUICK["models"], DEFAULT_TABULAR_MODELS) == QUICK["models"]


# ---- a labeling project ----------------------------------------------------------------

@pytest.mark.slow
def test_project_train_saves_a_model_that_loads_and_predicts(trained):
    workdir, model = trained
    info = json.loads((workdir / "final" / "final.json").read_text())
    assert info["classes"] == CLASSES and info["label"] == "label"
    assert [f["name"] for f in info["features"]] == ["f0", "f1", "f2", "f3"]
    assert {f["dtype"] for f in info["features"]} == {"float64"}
    assert {f["type"] for f in info["features"]} == {"numerical"}
    assert info["learner"] == {"name": "tabular", "settings": {}}
    # On tables medium fits no portfolio, so there are no AutoGluon settings to record.
    assert info["quality"] == "medium" and info["autogluon"] is None
    assert info["n_labels"] == 24 and sum(info["per_class"].values()) == 24
    assert 0 <= info["oof_accuracy"] <= 1
    assert (workdir / "final" / "predictor").is_dir()
    rows = new_rows()
    loaded = autoal.load(workdir)
    assert loaded.classes == CLASSES
    proba = loaded.predict_proba(rows)
    assert list(proba.columns) == CLASSES and proba.index.equals(rows.index)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    predicted = loaded.predict(rows)
    assert predicted.index.equals(rows.index) and predicted.isin(CLASSES).all()
    assert (predicted == proba.idxmax(axis=1)).all()
    truth = make_blobs_frame(n_per_class=4, n_classes=3, seed=1)["label"].to_numpy()
    assert (predicted.to_numpy() == truth).mean() > 0.8
    pd.testing.assert_frame_equal(model.predict_proba(rows), proba)
    # The folder itself loads too; the row order is the caller's.
    again = load(workdir / "final").predict_proba(rows.iloc[::-1])
    pd.testing.assert_frame_equal(again, proba.iloc[::-1])
    table = loaded.predictions(rows)
    assert list(table.columns) == ["prediction"] + [f"proba_{c}" for c in CLASSES]


@pytest.mark.slow
def test_train_again_replaces_the_model_whole(trained, tmp_path, caplog):
    import shutil

    workdir, _ = trained
    shutil.copytree(workdir, tmp_path / "run")
    before = json.loads((tmp_path / "run" / "final" / "final.json").read_text())
    with caplog.at_level("WARNING", logger="autoal.final"):
        model = Project(tmp_path / "run").train(time_limit=20)
    assert model.info["trained_at"] >= before["trained_at"]
    # The time limit bounds the portfolio, which medium does not fit on tables: it says so.
    assert "time_limit=20 bounds AutoGluon's portfolio, which quality 'medium' does not " \
           "fit on tables" in caplog.text
    assert not list((tmp_path / "run").glob(".final.*.partial"))
    assert model.predict(new_rows()).isin(CLASSES).all()


@pytest.mark.slow
def test_the_portfolio_is_kept_only_where_it_clearly_beats_the_rounds_models(tmp_path,
                                                                             monkeypatch):
    from autoal.learners import TabularLearner

    truth = make_blobs_frame(n_per_class=4, n_classes=3, seed=1)["label"].to_numpy()
    chance = {"DUMMY": {}}  # AutoGluon's model that predicts the most frequent class
    both = {**QUICK, "portfolio_on_tables": True}  # as "high" and "best"
    project = Project.init(pool_frame(), tmp_path / "run", learner="tabular")
    cases = [("rounds", {**QUICK, "models": chance}, final._rounds_learner),  # as "medium"
             ("rounds", {**both, "models": chance}, final._rounds_learner),
             ("portfolio", both,
              lambda spec, seed: TabularLearner(hyperparameters=chance, seed=seed))]
    for kept, quality, rounds_learner in cases:
        monkeypatch.setitem(QUALITY, "medium", quality)
        monkeypatch.setattr(final, "_rounds_learner", rounds_learner)
        info = project.train(time_limit=30).info
        assert info["kept"] == kept
        assert info["oof_accuracy"] == info["candidates"][kept]["oof_accuracy"] > 0.8
        if not quality["portfolio_on_tables"]:
            assert set(info["candidates"]) == {"rounds"} and info["portfolio_gain"] is None
            assert info["autogluon"] is None
        else:
            assert set(info["candidates"]) == {"rounds", "portfolio"}
            assert info["autogluon"]["time_limit"] == 30
            assert info["autogluon"]["num_bag_folds"] == quality["num_bag_folds"]
            gain, error = info["portfolio_gain"]
            ours, theirs = (info["candidates"][name]["oof_accuracy"]
                            for name in ("portfolio", "rounds"))
            assert gain == pytest.approx(ours - theirs) and error > 0
            assert (gain > error) == (kept == "portfolio") and abs(gain) > 0.3
        # Only the kept one is saved, and it is what predicts.
        assert [p.name for p in (tmp_path / "run" / "final").iterdir()
                if p.is_dir()] == ["predictor"]
        model = autoal.load(tmp_path / "run")
        names = " ".join(model._model.predictor.model_names())
        assert ("RandomForest" in names) == (kept == "rounds") and "Dummy" not in names
        assert (model.predict(new_rows()).to_numpy() == truth).mean() > 0.8


def test_a_class_renamed_after_training_is_predicted_by_its_new_name(tmp_path):
    from filelock import FileLock

    project = Project.init(pool_frame(), tmp_path / "run", learner="tabular")
    model = project.train(time_limit=30)
    rows = new_rows()
    before = model.predict(rows)
    assert "class_1" in set(before)
    project.rename_class("class_1", "kiwi")
    project.rename_class("kiwi", "lime")  # twice: the name it was trained with maps on
    loaded = load(project.path)
    assert loaded.classes == ["class_0", "lime", "class_2"]
    assert loaded.info["renamed"] == {"class_1": "lime"}
    assert loaded.info["per_class"]["lime"] == model.info["per_class"]["class_1"]
    assert loaded.predict(rows).tolist() == before.replace("class_1", "lime").tolist()
    proba = loaded.predict_proba(rows)
    assert list(proba.columns) == loaded.classes
    assert np.allclose(proba.to_numpy(), model.predict_proba(rows).to_numpy())
    # While a fit writes the final model, the rename is refused and nothing changes.
    with FileLock(str(project.path / ".final.lock")):
        with pytest.raises(RuntimeError, match="Another fit is writing .*rename the class"):
            project.rename_class("lime", "pear")
    assert Project(project.path).classes == ["class_0", "lime", "class_2"]
    assert load(project.path).classes == ["class_0", "lime", "class_2"]


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.slow
def test_predict_refuses_data_without_every_feature_column(trained):
    workdir, _ = trained
    before = snapshot(workdir)
    with pytest.raises(ValueError, match=r"lacks 2 of the feature columns .*'f1', 'f3'"):
        autoal.load(workdir).predict(new_rows().drop(columns=["f1", "f3"]))
    with pytest.raises(TypeError, match="'df' parameter of FinalModel.predict must be a "
                                        "pandas DataFrame"):
        autoal.load(workdir).predict(new_rows().to_numpy())
    assert snapshot(workdir) == before


@pytest.mark.slow
def test_predict_refuses_values_of_the_wrong_type(trained):
    workdir, _ = trained
    before = snapshot(workdir)
    rows = new_rows().astype({"f2": object})
    rows.iloc[1, rows.columns.get_loc("f2")] = "tall"
    with pytest.raises(ValueError, match=r"wrong type.*'f2' held numbers in training "
                                         r"\(float64\) but has 'tall' \(rows 'new-1'\)"):
        autoal.load(workdir).predict_proba(rows)
    assert snapshot(workdir) == before


@pytest.mark.slow
def test_numbers_read_as_text_are_taken(trained):
    workdir, _ = trained
    model = autoal.load(workdir)
    rows = new_rows()
    as_text = rows.astype({"f0": str})
    pd.testing.assert_frame_equal(model.predict_proba(as_text), model.predict_proba(rows))
    assert model.predict_proba(rows.iloc[:0]).shape == (0, 3)


def test_predict_before_train_says_how_to_train(tmp_path):
    project = Project.init(pool_frame(), tmp_path / "run", learner="tabular")
    before = snapshot(project.path)
    with pytest.raises(FileNotFoundError, match=r"has no final model yet; train one first: "
                                                r"autoal train .*run"):
        autoal.load(project.path)
    with pytest.raises(FileNotFoundError, match="holds no final model"):
        autoal.load(tmp_path)
    assert snapshot(project.path) == before


def test_train_needs_two_classes_and_leaves_the_project_unchanged(tmp_path):
    df = pool_frame(labeled=0)
    df.loc[df.index[:3], "label"] = "class_0"
    project = Project.init(df, tmp_path / "run", classes=CLASSES, learner="tabular")
    before = snapshot(project.path)
    with pytest.raises(ValueError, match=r"at least 2 classes; the consensus labels hold "
                                         r"only the class 'class_0' \(3 rows\)"):
        project.train()
    with pytest.raises(ValueError, match=r"'quality' parameter of Project.train must be one "
                                         r"of \['best', 'high', 'medium'\]. Got 'ultra'"):
        project.train(quality="ultra")
    with pytest.raises(ValueError, match=r"'time_limit' parameter of Project.train must be a "
                                         r"number > 0"):
        project.train(time_limit=-1)
    assert snapshot(project.path) == before
    assert not (project.path / "final").exists()


# ---- loop runs ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def looped(tmp_path_factory):
    """A loop run (its data in a CSV, read as 'autoal run' reads it) and its Result."""
    folder = tmp_path_factory.mktemp("looped")
    make_blobs_frame(n_per_class=15, n_classes=3, seed=2).to_csv(folder / "data.csv",
                                                                 index=False)
    df = autoal.read_table(folder / "data.csv")
    result = autoal.loop(df, rounds=1, batch=4, init=3, learner=CountingLearner(),
                         workdir=folder / "run", progress=False)
    return folder, df, result


@pytest.mark.slow
def test_a_loop_result_trains_its_final_model(looped, tmp_path):
    folder, df, result = looped
    model = result.train(df, tmp_path / "model")
    assert model.info["n_labels"] == len(result.consensus)
    # Its learner was not an AutoGluon one: "auto" picked the tabular learner.
    assert model.info["learner"]["name"] == "tabular"
    assert load(tmp_path / "model").predict(new_rows()).isin(CLASSES).all()
    assert not (folder / "run" / "final").exists()  # path= was given


@pytest.mark.slow
def test_a_loop_run_directory_trains_with_its_data_from_the_command_line(looped, tmp_path,
                                                                          capsys):
    import shutil

    folder, df, result = looped
    workdir = tmp_path / "run"
    shutil.copytree(folder / "run", workdir)
    code = cli.main(["train", str(workdir), "--data", str(folder / "data.csv"),
                     "--time-limit", "30"])
    out = capsys.readouterr().out
    assert code == 0 and f"saved in {workdir / 'final'}" in out
    model = autoal.load(workdir)
    assert model.info["n_labels"] == len(result.consensus)
    assert model.info["source"]["kind"] == "loop"
    pd.testing.assert_series_equal(model.predict(new_rows()),
                                   train_run(workdir, df).predict(new_rows()))


def test_a_loop_run_directory_checks_its_data(looped):
    folder, df, _ = looped
    workdir = folder / "run"
    before = snapshot(workdir)
    with pytest.raises(ValueError, match=r"loop\(\) run, which does not keep its data: pass "
                                         r"the data the loop ran on \(data=\.\.\.\)"):
        train_run(workdir, None)
    changed = df.copy()
    changed.iloc[3, 0] += 1.0
    with pytest.raises(ValueError, match=r"'data' parameter of train_run must be the data the "
                                         r"loop ran on.*values or row ids differ"):
        train_run(workdir, changed)
    with pytest.raises(ValueError, match=r"has 44 rows, the loop's data had 45"):
        train_run(workdir, df.iloc[1:])
    with pytest.raises(ValueError, match=r"lacks the columns 'f2'"):
        train_run(workdir, df.drop(columns=["f2"]))
    with pytest.raises(FileNotFoundError, match=r"no final model yet; train one first: "
                                                r"autoal train .* --data FILE"):
        load(workdir)
    assert snapshot(workdir) == before
    code = cli.main(["train", str(workdir)])
    assert code == 2 and snapshot(workdir) == before


def test_a_result_without_a_run_directory_needs_a_path(looped):
    _, df, result = looped
    from dataclasses import replace

    with pytest.raises(ValueError, match=r"'path' parameter of Result.train must name a "
                                         r"folder"):
        replace(result, workdir=None).train(df)


# ---- the command line --------------------------------------------------------------------

@pytest.mark.slow
def test_train_and_predict_from_the_command_line(tmp_path, capsys):
    df = pool_frame()
    # One label of class_2: AutoGluon's bagging copied it at 'index.max() + 1' and failed
    # on row ids that are text.
    df.loc[df.index[df["label"] == "class_2"][1:], "label"] = None
    # Ids that read like images' file names stay as they are given.
    df.insert(0, "id", [f"r{i}.png" for i in range(len(df))])
    df.to_csv(tmp_path / "pool.csv", index=False)
    assert cli.main(["init", str(tmp_path / "pool.csv"), "--workdir", str(tmp_path / "run"),
                     "--id", "id", "--learner", "tabular"]) == 0
    assert list(Project(tmp_path / "run").data.index) == df["id"].tolist()
    fresh = new_rows().rename(index=lambda i: f"{i}.png").reset_index(names="id")
    fresh.to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_path / "run"), str(tmp_path / "new.csv")]) == 2
    assert "no final model yet" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path / "run"), "--time-limit", "30"]) == 0
    said = capsys.readouterr().out
    assert "saved in" in said and autoal.load(tmp_path / "run").info["kept"] == "rounds"
    assert "It is the rounds' models refitted on every label: on tables quality medium" in said
    out = tmp_path / "predictions.csv"
    assert cli.main(["predict", str(tmp_path / "run"), str(tmp_path / "new.csv"),
                     "--out", str(out), "--id", "id"]) == 0
    assert str(out) in capsys.readouterr().out
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "prediction"] + [f"proba_{c}" for c in CLASSES]
    assert table["id"].tolist() == fresh["id"].tolist()
    assert table["prediction"].isin(CLASSES).all()
    # The export names the rows by the id column too.
    assert cli.main(["export", str(tmp_path / "run"), str(tmp_path / "labeled.csv")]) == 0
    labeled = pd.read_csv(tmp_path / "labeled.csv")
    assert labeled.columns[0] == "id" and labeled["id"].isin(df["id"]).all()
    fresh.drop(columns=["f0"]).to_csv(tmp_path / "bad.csv", index=False)
    assert cli.main(["predict", str(tmp_path / "run"), str(tmp_path / "bad.csv")]) == 2
    assert "lacks 1 of the feature columns" in capsys.readouterr().err


@pytest.mark.slow
def test_status_says_what_the_final_model_has_not_seen(tmp_path, capsys):
    import time

    from autoal.status import read_status

    project = Project.init(pool_frame(), tmp_path / "run", learner="tabular")
    assert read_status(project.path)["final_model"] is None
    model = project.train(time_limit=30)
    assert read_status(project.path)["final_model"] == {
        "trained_at": model.info["trained_at"], "n_labels": 24, "kept": "rounds",
        "oof_accuracy": model.info["oof_accuracy"], "answers_since": 0,
        "retrain": f"autoal train {project.path}"}
    assert cli.main(["status", str(project.path)]) == 0
    assert "Final model: trained " in capsys.readouterr().out
    time.sleep(1.1)  # answers are stamped to the second
    queue = project.next(batch=3, progress=False)
    truth = make_blobs_frame(n_per_class=20, n_classes=3, seed=1)["label"]
    project.import_answers(pd.DataFrame({"row": queue["row"],
                                         "label": truth.loc[queue["row"]].to_numpy()}),
                           annotator="ana")
    assert read_status(project.path)["final_model"]["answers_since"] == 3
    assert cli.main(["status", str(project.path)]) == 0
    said = capsys.readouterr().out
    assert (f"on 24 labels, the rounds' models, out-of-fold accuracy "
            f"{model.info['oof_accuracy']:.3f}; 3 answers since, which it has not seen: "
            f"'autoal train {project.path}' again to fit them in.") in said


# ---- exports -----------------------------------------------------------------------------

def test_export_writes_json_lines(tmp_path, capsys):
    project = Project.init(pool_frame(), tmp_path / "run", learner="tabular")
    table = project.export(tmp_path / "labeled.jsonl")
    back = pd.read_json(tmp_path / "labeled.jsonl", lines=True)
    assert len(back) == 24 and list(back.columns) == list(table.columns)
    assert back["label"].tolist() == table["label"].tolist()
    first = json.loads((tmp_path / "labeled.jsonl").read_text().splitlines()[0])
    assert set(first) >= {"row", "f0", "label", "num_annotations"}
    assert cli.main(["export", str(project.path), str(tmp_path / "again.jsonl")]) == 0
    assert (tmp_path / "again.jsonl").read_text() == (tmp_path / "labeled.jsonl").read_text()


def test_export_refuses_what_it_cannot_write(tmp_path):
    project = Project.init(pool_frame(), tmp_path / "run", learner="tabular")
    with pytest.raises(ValueError, match="'out' parameter of Project.export must end in .csv, "
                                         ".parquet or .jsonl"):
        project.export(tmp_path / "labeled.txt")
    with pytest.raises(ValueError, match="this project has no image column"):
        project.export(tmp_path / "folders")
    with pytest.raises(ValueError, match=r"'files' parameter of Project.export applies to "
                                         r"format='imagefolder' only"):
        project.export(tmp_path / "labeled.csv", files="link")
    with pytest.raises(ValueError, match=r"'format' parameter of Project.export must be one "
                                         r"of"):
        project.export(tmp_path / "labeled.csv", format="xlsx")
    assert not (tmp_path / "folders").exists() and not (tmp_path / "labeled.csv").exists()


@pytest.fixture
def image_project(tmp_path):
    """An image project whose images come from two folders with the same file names."""
    first = write_images(tmp_path / "a", n_per_class=3, seed=0)
    second = write_images(tmp_path / "b", n_per_class=3, seed=1)
    df = pd.concat([first, second], ignore_index=True)
    df.loc[[0, 7], "label"] = None  # the pool: rows nobody labeled
    df.to_csv(tmp_path / "labels.csv", index=False)
    return Project.init(tmp_path / "labels.csv", tmp_path / "run")


def test_export_image_folders_copies_without_clashes(image_project, tmp_path):
    originals = snapshot(tmp_path / "a") | {f"b/{k}": v for k, v in
                                           snapshot(tmp_path / "b").items()}
    table = image_project.export(tmp_path / "out")
    assert len(table) == 10
    files = sorted(p.relative_to(tmp_path / "out").as_posix()
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == sorted(table["exported_file"]) and len(set(files)) == 10
    assert {f.split("/")[0] for f in files} == {"top", "bottom"}
    for _, line in table.iterrows():
        exported = tmp_path / "out" / line["exported_file"]
        assert exported.parent.name == line["label"] and not exported.is_symlink()
        assert exported.read_bytes() == open(line["image_path"], "rb").read()
    # Same names from two folders: the second gets its row id.
    assert any("-" in f.split("/")[1] for f in files)
    assert snapshot(tmp_path / "a") | {f"b/{k}": v for k, v in
                                       snapshot(tmp_path / "b").items()} == originals


def test_export_image_folders_links(image_project, tmp_path, capsys):
    code = cli.main(["export", str(image_project.path), str(tmp_path / "linked"),
                     "--files", "link"])
    assert code == 0 and "10 labeled images linked into 2 class folders" in \
        capsys.readouterr().out
    links = [p for p in (tmp_path / "linked").rglob("*") if not p.is_dir()]
    assert len(links) == 10 and all(p.is_symlink() for p in links)
    sources = {os.readlink(p) for p in links}
    assert sources == set(image_project.export()["image_path"])
    assert all(os.path.isfile(s) for s in sources)  # the originals stay where they were


def test_export_refuses_a_folder_that_is_not_empty(image_project, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not empty"):
        image_project.export(out)
    assert cli.main(["export", str(image_project.path), str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()  # an empty folder is fine
    assert len(image_project.export(out, format="imagefolder")) == 10
    # A labeled row's image gone: nothing written, and what to do.
    gone = image_project.export()["image_path"][0]
    os.remove(gone)
    with pytest.raises(ValueError, match=r"1 image\(s\) of labeled rows cannot be found: .*"
                                         r"Project.relocate, autoal relocate"):
        image_project.export(tmp_path / "again")
    assert not (tmp_path / "again").exists()


@pytest.mark.slow
def test_predict_names_images_by_their_paths_as_given(image_project, tmp_path, capsys):
    # --id may be the image column: the ids are written as the file gives them, and the
    # model still finds the images (relative to the file's folder).
    assert cli.main(["train", str(image_project.path), "--time-limit", "30"]) == 0
    new = tmp_path / "new"
    fresh = write_images(new / "images", n_per_class=2, seed=5)[["image_path"]]
    fresh.to_csv(new / "new.csv", index=False)
    out = tmp_path / "predictions.csv"
    assert cli.main(["predict", str(image_project.path), str(new / "new.csv"), "--out",
                     str(out), "--id", "image_path"]) == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    assert table["image_path"].tolist() == fresh["image_path"].tolist()
    assert table["prediction"].isin(["top", "bottom"]).all()


# ---- embeddings ---------------------------------------------------------------------------

def test_the_learner_is_described_by_what_rebuilds_its_features():
    assert final._spec_from_name("tabular", {"f0": "numerical"}) == {
        "name": "tabular", "settings": {}}
    spec = final._spec_from_name("auto", {"text": "text"})  # no GPU here: embeddings
    assert spec == {"name": "embedding", "settings": {
        "image_checkpoint": None, "text_checkpoint": None, "image_size": 224, "dims": 64,
        "text_features": "tfidf"}}
    described = {"class": "autoal.learners.CrossFitted", "params": {"learner": {
        "class": "autoal.learners.EmbeddingLearner", "params": {
            "dims": 4, "image_size": 96, "hyperparameters": {"LR": {}}}}}}
    assert final._spec_from_description(described, {"text": "text"}) == {
        "name": "embedding", "settings": {"image_size": 96, "dims": 4}}
    assert final._spec_from_description("conftest.CountingLearner", {"f0": "numerical"}) == {
        "name": "tabular", "settings": {}}


@pytest.mark.slow
def test_an_embedding_model_rebuilds_its_features_when_loaded(texts, tmp_path):
    learner = autoal.EmbeddingLearner(dims=4, progress=False, hyperparameters={"LR": {}})
    result = autoal.loop(texts, rounds=0, init=4, test_size=0.0, learner=learner,
                         workdir=tmp_path / "run", progress=False)
    model = result.train(texts, time_limit=30, progress=False)
    info = model.info
    assert info["learner"] == {"name": "embedding", "settings": {
        "image_checkpoint": None, "text_checkpoint": None, "image_size": 224, "dims": 4,
        "text_features": "tfidf"}}
    # The rounds' projection and the text's n-gram features, kept as arrays.
    assert info["projections"] == ["text", "text__tfidf"]
    with np.load(tmp_path / "run" / "final" / "projections.npz", allow_pickle=False) as saved:
        assert saved["components_0"].shape == (4, 384)
        assert saved["components_1"].shape == (4, len(saved["terms_1"]))
        assert saved["terms_1"].dtype.kind == "U" and len(saved["idf_1"]) == len(saved["terms_1"])
    rows = pd.DataFrame({"text": ["the goalkeeper saved the last penalty of the match",
                                  "bake the cake with butter, sugar and flour"]})
    loaded = autoal.load(tmp_path / "run")
    assert loaded.predict(rows).tolist() == ["sport", "food"]
    pd.testing.assert_frame_equal(loaded.predict_proba(rows), model.predict_proba(rows),
                                  atol=1e-5)
