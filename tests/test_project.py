"""Labeling by people: a project's files, its answer import rule, concurrent writers and
Label Studio's JSON. One real AutoGluon fit builds the queue all tests share."""

import json
import shutil
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from autoal.labelstudio import label_config, read_answers, to_tasks
from autoal.project import GIVEN, QUEUE, Project
from autoal.rundir import FORMAT_VERSION

from conftest import make_blobs_frame, start_table_project


def pool_frame():
    """60 rows, 3 classes; the first 12 keep their labels, the rest form the pool."""
    df = make_blobs_frame(n_per_class=20, n_classes=3, seed=1)
    truth = df["label"].copy()
    df.loc[df.index[12:], "label"] = None
    return df, truth


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A project with its first queue (batch 6)."""
    return start_table_project(tmp_path_factory.mktemp("project"))


@pytest.fixture
def project(started, tmp_path):
    workdir, _ = started
    shutil.copytree(workdir, tmp_path / "run")
    return Project(tmp_path / "run")


@pytest.fixture
def truth(started):
    return started[1]


def stored_bytes(project):
    return (project.path / "annotations.csv").read_bytes()


def test_init_keeps_the_given_labels_and_the_pool(project):
    annotations = project.annotations
    assert (annotations["annotator"] == GIVEN).all() and len(annotations) == 12
    assert project.classes == ["class_0", "class_1", "class_2"]
    config = json.loads((project.path / "autoal.json").read_text())
    assert config["kind"] == "project" and config["format_version"] == FORMAT_VERSION


def test_a_project_opened_by_an_autoal_of_other_default_models_says_so(project):
    config = json.loads((project.path / "autoal.json").read_text())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*default models")  # no word
        Project(project.path).next(batch=2, progress=False)
    # as an autoal of other defaults (an earlier one) would have written it
    (project.path / "autoal.json").write_text(
        json.dumps({**config, "default_models": {"GBM": {}, "XT": {}, "LR": {}}}))
    with warnings.catch_warnings():  # opening it fits nothing, so it says nothing yet
        warnings.filterwarnings("error", message=".*default models")
        reopened = Project(project.path)
        assert reopened.status()["round"] == project.status()["round"]
    with pytest.warns(UserWarning, match=r"fitted \{'GBM'.*from here on fit \[\[0, \{'RF'"):
        reopened.next(batch=2, progress=False)


def test_next_writes_a_queue_of_pool_rows(project):
    queue = project.queue()
    assert list(queue.columns) == QUEUE + ["answers", "excluded"]
    assert len(queue) == 6 and queue["row"].is_unique
    assert not set(queue["row"]) & set(project.annotations["row"])
    assert queue["guess"].isin(project.classes).all()
    assert queue["confidence"].between(0, 1).all()
    assert project.round == 0
    assert pd.read_csv(project.path / "queue.csv")["row"].tolist() == queue["row"].tolist()
    assert project.status()["estimated_accuracy"] is not None


def answers(project, truth, n=3, **columns):
    rows = project.queue()["row"][:n]
    return pd.DataFrame({"row": rows, "label": truth.loc[rows].to_numpy(), **columns})


def test_valid_answers_are_stored_with_the_round(project, truth):
    stored = project.import_answers(answers(project, truth), annotator="ana")
    assert len(stored) == 3
    mine = project.annotations[project.annotations["annotator"] == "ana"]
    assert len(mine) == 3 and (mine["round"] == 1).all()
    assert project.status()["queue"] == {"size": 6, "answered": 3, "excluded": 0}


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.assign(label=["class_0", "dog", "class_1"]), "not classes: 'dog'"),
    (lambda a: a.assign(row=[a["row"].iloc[0], 9999, a["row"].iloc[2]]), "do not exist: '9999'"),
    (lambda a: a.assign(label=["class_0", "", "class_1"]), "blank label"),
    (lambda a: a.assign(row=[a["row"].iloc[0], 0, a["row"].iloc[2]]), "not in the current queue"),
    (lambda a: pd.concat([a, a.iloc[:1]]), "answered twice in this file"),
    (lambda a: a.drop(columns=["label"]), "columns row and label"),
])
def test_a_file_with_a_bad_line_is_refused_whole(project, truth, edit, message):
    before = stored_bytes(project)
    bad = edit(answers(project, truth))
    with pytest.raises(ValueError, match=message):
        project.import_answers(bad, annotator="ana")
    assert stored_bytes(project) == before


def test_an_annotator_cannot_answer_a_row_twice(project, truth):
    project.import_answers(answers(project, truth, n=2), annotator="ana")
    before = stored_bytes(project)
    with pytest.raises(ValueError, match="labeled already"):
        project.import_answers(answers(project, truth, n=3), annotator="ana")
    assert stored_bytes(project) == before
    project.import_answers(answers(project, truth, n=3), annotator="bob")  # a second opinion


def test_a_blank_annotator_is_refused(project, truth):
    before = stored_bytes(project)
    for name in (None, "", "  "):
        with pytest.raises(ValueError, match="blank annotator"):
            project.record(project.queue()["row"][0], "class_0", name)
    assert stored_bytes(project) == before


def test_answers_need_an_annotator(project, truth):
    with pytest.raises(ValueError, match="Say who answered"):
        project.import_answers(answers(project, truth))
    with pytest.raises(ValueError, match="name their annotators already"):
        project.import_answers(answers(project, truth, annotator="x"), annotator="y")


def test_answers_from_a_csv_file(project, truth, tmp_path):
    answers(project, truth, annotator="ana").to_csv(tmp_path / "a.csv", index=False)
    assert len(project.import_answers(tmp_path / "a.csv")) == 3


def test_undo_withdraws_only_the_latest_answer_of_that_annotator(project, truth):
    project.import_answers(answers(project, truth, n=2), annotator="ana")
    project.import_answers(answers(project, truth, n=1), annotator="bob")
    removed = project.undo("ana")
    assert removed["annotator"] == "ana" and removed["row"] == project.queue()["row"][1]
    assert project.undo("nobody") is None
    assert len(project.annotations) == 12 + 2


def test_the_next_round_trains_on_the_answers(project, truth):
    project.import_answers(answers(project, truth, n=6), annotator="ana")
    queue = project.next(batch=4, progress=False)
    assert project.round == 1 and len(queue) == 4
    assert not set(queue["row"]) & set(project.annotations["row"])
    history = pd.read_csv(project.path / "history.csv")
    assert history["n_labeled"].tolist() == [12, 18]
    answered = project.annotations["row"].iloc[-1]  # in the last round's queue
    with pytest.raises(ValueError, match="not in the current queue"):
        project.import_answers(pd.DataFrame({"row": [answered], "label": [truth[answered]]}),
                               annotator="bob")
    assert len(list((project.path / "models").iterdir())) == 1  # only the current model


def test_export_and_status(project, truth, tmp_path):
    project.import_answers(answers(project, truth), annotator="ana")
    table = project.export(tmp_path / "labeled.parquet")
    assert len(table) == 15 and table["label"].notna().all()
    assert pd.read_parquet(tmp_path / "labeled.parquet").shape == table.shape
    status = project.status()
    assert status["labeled"] == 15 and sum(status["per_class"].values()) == 15


WRITER = """
import sys
from autoal.project import Project
project = Project(sys.argv[1])
queue = project.queue()
for row in queue["row"]:
    project.record(row, "class_0", sys.argv[2])
"""


def test_two_concurrent_writers_keep_every_answer(project):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(project.path), name])
               for name in ("ana", "bob", "cy")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    mine = project.annotations[project.annotations["annotator"] != GIVEN]
    assert len(mine) == 3 * 6
    assert mine.groupby("annotator")["row"].nunique().tolist() == [6, 6, 6]


LIGHT_COMMANDS = """
import sys
from autoal.cli import main
run, answers, rows = sys.argv[1:]
assert main(["import", run, answers, "--annotator", "ana"]) == 0
assert main(["add-classes", run, "class_3"]) == 0
assert main(["add-rows", run, rows]) == 0
assert main(["status", run]) == 0
heavy = ["cleanlab", "sklearn", "torch", "autogluon"]
print("loaded:", sorted(m for m in heavy if m in sys.modules))
"""


def test_commands_that_fit_and_score_nothing_load_no_model_library(project, truth, tmp_path):
    """Storing answers, adding classes and rows, and status are what a labeler runs
    between rounds: they start in a second or two, without cleanlab, scikit-learn, torch
    or AutoGluon (whose imports took 3.8 s of import's 5.4 s)."""
    answers(project, truth).to_csv(tmp_path / "answers.csv", index=False)
    pool_frame()[0].iloc[:2].assign(label=None).to_csv(tmp_path / "more.csv", index=False)
    done = subprocess.run([sys.executable, "-c", LIGHT_COMMANDS, str(project.path),
                           str(tmp_path / "answers.csv"), str(tmp_path / "more.csv")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout
    reopened = Project(project.path)
    assert len(reopened.annotations) == 12 + 3 and reopened.classes[-1] == "class_3"
    assert reopened.status()["rows"] == 62


def test_label_studio_round_trip(project, truth):
    queue = project.queue()
    tasks = to_tasks(queue, project.show_kind(), prefill=True)
    assert tasks[0]["data"]["autoal_row"] == str(queue["row"][0])
    assert tasks[0]["predictions"][0]["result"][0]["value"]["choices"] == [queue["guess"][0]]
    assert '<Choice value="class_2"/>' in label_config(project.classes, "values")
    # What Label Studio's JSON export holds once people have answered.
    for task, row in zip(tasks, queue["row"]):
        task["annotations"] = [{"completed_by": {"email": "ana@example.org"}, "was_cancelled": False,
                                "result": [{"type": "choices", "from_name": "label",
                                            "to_name": "item",
                                            "value": {"choices": [truth[row]]}}]}]
    tasks[1]["annotations"].append({"completed_by": 7, "was_cancelled": True, "result": []})
    got = read_answers(json.loads(json.dumps(tasks)))
    assert len(got) == 6 and set(got["annotator"]) == {"labelstudio:ana@example.org"}
    project.import_answers(got)
    assert len(project.annotations) == 18


def test_a_foreign_json_is_refused():
    with pytest.raises(ValueError, match="autoal_row"):
        read_answers([{"id": 1, "data": {"image": "x.png"}, "annotations": []}])


def test_init_errors(tmp_path):
    df, _ = pool_frame()
    with pytest.raises(ValueError, match="label column 'kind'"):
        Project.init(df, tmp_path / "a", label="kind")
    one = df.assign(label=[None] * len(df))
    one.loc[0, "label"] = "class_0"
    with pytest.raises(ValueError, match="at least 2 classes"):
        Project.init(one, tmp_path / "b")
    Project.init(df, tmp_path / "c")
    with pytest.raises(FileExistsError, match="already a run directory"):
        Project.init(df, tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="not an autoal run directory"):
        Project(tmp_path / "nothing")


def test_a_second_next_while_one_is_fitting_is_refused(project):
    """The run lock is held while a round fits: a second next() fails at once, and the
    round advances once."""
    with project.run.lock():  # as a next() in another process holds it
        with pytest.raises(RuntimeError, match="in use by another autoal process"):
            project.next(batch=6, progress=False)
    assert project.round == 0


def test_next_run_again_after_a_crash_replaces_its_round(project):
    """A next() that died after its tables but before its state file: the rerun replaces them."""
    (project.path / "state.json").write_text(json.dumps({"round": -1, "predictor": None}))
    project.next(batch=6, progress=False)
    history = pd.read_csv(project.path / "history.csv")
    queries = pd.read_csv(project.path / "queries.csv")
    assert history["round"].tolist() == [0] and len(queries) == 6


# ---- a pile with no labels -----------------------------------------------------------------


def test_a_project_starts_with_no_labels_and_the_model_takes_over_at_two_classes(tmp_path):
    from autoal.cli import main
    from autoal.status import read_status

    df, truth = pool_frame()
    df = df.assign(label=None)
    with pytest.raises(ValueError, match="at least 2 classes.*--classes"):
        Project.init(df, tmp_path / "none")
    project = Project.init(df, tmp_path / "run", classes=["class_2", "class_0", "class_1"],
                           learner="tabular", time_limit=30)
    status = read_status(project.path)
    assert status["labeled"] == 0 and "No model yet: there are no labels yet" in status["model"]
    queue = project.next(batch=5, progress=False)  # no model: rows that cover the data
    assert len(queue) == 5 and queue["guess"].isna().all()
    assert queue["confidence"].isna().all() and project.session.model is None
    # Numbers, as the model's will be (an object column made pandas warn at every next).
    assert project.session.query.picks["confidence"].dtype == float
    assert project.session.history["model"].tolist() == ["none"]
    # Labels of one class only: still no model.
    first = queue["row"].iloc[:1]
    project.import_answers(pd.DataFrame({"row": first, "label": truth[first].to_numpy()}),
                           annotator="ana")
    assert "one class only" in read_status(project.path)["model"]
    rows = queue["row"].to_numpy()
    project.import_answers(pd.DataFrame({"row": rows, "label": truth[rows].to_numpy()})
                           .iloc[1:], annotator="ben")
    reopened = Project(project.path)
    assert reopened.session.query.picks["guess"].isna().all()  # read back from disk
    # The cold picks cover the data: all three blobs among five rows.
    assert reopened.consensus()["consensus_label"].nunique() == 3
    queue = reopened.next(batch=5, progress=False)
    assert queue["guess"].notna().all() and read_status(project.path)["model"] is None
    with pytest.raises(ValueError, match="no labels yet|at least 2 classes"):
        Project.init(df, tmp_path / "one", classes=["class_0"])
    assert main(["status", str(project.path)]) == 0


def test_an_id_column_missing_or_not_unique_is_refused_naming_what_is_wrong(tmp_path, capsys):
    from autoal.cli import main

    df, _ = pool_frame()
    df["id"] = [f"r{i}" for i in range(len(df))]
    with pytest.raises(ValueError, match=r"The id column 'nope' is not in the data. "
                                         r"Columns: .*'id'"):
        Project.init(df, tmp_path / "a", id_column="nope")
    df.loc[df.index[3], "id"], df.loc[df.index[7], "id"] = "r2", None
    with pytest.raises(ValueError, match=r"a different id on every row. Got 1 blank; "
                                         r"repeated: 'r2'. Fix the ids"):
        Project.init(df, tmp_path / "b", id_column="id")
    # The only column besides the label as the ids: nothing left to show or learn from.
    paths = pd.DataFrame({"label": None, "image_path": [f"{i}.png" for i in range(4)]})
    with pytest.raises(ValueError, match=r"no column to show and learn from besides the label "
                                         r"'label' and the id column 'image_path'. .* leave "
                                         r"id_column=... out"):
        Project.init(paths, tmp_path / "c", id_column="image_path", classes=["u", "v"])
    paths.to_csv(tmp_path / "pool.csv", index=False)
    assert main(["init", str(tmp_path / "pool.csv"), "--workdir", str(tmp_path / "c"),
                 "--id", "image_path", "--classes", "u", "v"]) == 2
    assert "leave --id out to number the rows" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"no column to show and learn from besides the label "
                                         r"'label'\.$"):
        Project.init(paths[["label"]], tmp_path / "c", classes=["u", "v"])
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_fully_labeled_file_is_refused_at_init(tmp_path):
    df, _ = pool_frame()
    df = df.assign(label=df["label"].fillna("class_0"))
    with pytest.raises(ValueError, match="nothing left to label"):
        Project.init(df, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_cold_round_cannot_be_final(tmp_path):
    df, _ = pool_frame()
    project = Project.init(df.assign(label=None), tmp_path / "run", classes=["a", "b"])
    with pytest.raises(ValueError, match="no row has a label yet; a model needs at least 2"):
        project.session.ask(final=True)


@pytest.mark.slow
def test_a_class_met_while_labeling_is_added_and_learned(project, truth, capsys):
    from autoal.cli import main

    queued = project.queue()["row"].tolist()
    project.import_answers(answers(project, truth), annotator="ana")
    with pytest.raises(ValueError, match=r"labels that are not classes: 'class_9' .*a class "
                                         r"nobody named: add it first \(Project.add_classes"):
        project.record(queued[3], "class_9", "ana")
    assert main(["add-classes", str(project.path), "class_9", " class_9 "]) == 0
    printed = capsys.readouterr()
    assert "class_0, class_1, class_2, class_9." in printed.out
    assert "added" not in printed.err  # said once, not logged as well
    project = Project(project.path)
    assert project.classes == ["class_0", "class_1", "class_2", "class_9"]
    project.record(queued[3], "class_9", "ana")  # answers may give it at once
    assert project.status()["per_class"]["class_9"] == 1
    # The next round reads round 0's probabilities, written with 3 classes, and learns it.
    project.next(batch=4, progress=False)
    assert project.consensus().loc[queued[3], "consensus_label"] == "class_9"
    written = pd.read_parquet(project.path / "probabilities" / "round-001.parquet")
    assert written.shape[1] == 1 + 4 and written["3"].max() > 0
    assert main(["check", str(project.path)]) == 0
    assert Project(project.path).classes == project.classes

    with pytest.raises(ValueError, match=r"Already a class of the project: 'class_0'. Its "
                                         r"classes: .*'class_9'"):
        project.add_classes(["class_0", "class_10"])
    with pytest.raises(ValueError, match="must list non-blank classes"):
        project.add_classes(["  "])
    with pytest.raises(ValueError, match="must list at least one class"):
        project.add_classes([])
    with pytest.raises(TypeError, match="must be a list of classes. Got 'class_10'"):
        project.add_classes("class_10")
    assert project.classes == Project(project.path).classes


@pytest.mark.slow
def test_rows_added_when_the_pile_grows_are_picked_from(project, tmp_path, capsys):
    from autoal.cli import main
    from autoal.stopping import StablePredictions

    stop_set = Project(project.path, stop=[StablePredictions()]).session._stop_rows
    more = make_blobs_frame(n_per_class=4, n_classes=3, seed=7).drop(columns=["label"])
    more.to_csv(tmp_path / "more.csv", index=False)
    assert main(["add-rows", str(project.path), str(tmp_path / "more.csv")]) == 0
    assert "Added 12 rows" in capsys.readouterr().out
    project = Project(project.path)
    assert len(project.data) == 72 and list(project.data.index[60:]) == list(range(60, 72))
    assert project.data["label"].iloc[60:].isna().all()
    assert project.status()["rows"] == 72
    # The stop rule's rows stay the rows they were.
    again = Project(project.path, stop=[StablePredictions()]).session._stop_rows
    assert list(again) == list(stop_set)
    queue = project.next(batch=60, progress=False)  # every row without a label
    assert set(range(60, 72)) <= set(queue["row"])
    assert main(["check", str(project.path)]) == 0

    # Refused whole, naming what is wrong.
    with pytest.raises(ValueError, match=r"3 of the rows to add have a label in 'label'. "
                                         r"Added rows are labeled through the queue"):
        project.add_rows(make_blobs_frame(n_per_class=1, n_classes=3, seed=8))
    with pytest.raises(ValueError, match=r"must have the project's columns: 'f0', .* Missing: "
                                         r"'f3'. Not the project's: 'g'."):
        project.add_rows(more.rename(columns={"f3": "g"}))
    with pytest.raises(ValueError, match=r"The column 'f0' holds numbers, and the rows to add "
                                         r"have 'x' in it"):
        project.add_rows(more.assign(f0="x"))
    with pytest.raises(ValueError, match="There are no rows to add: the data is empty"):
        project.add_rows(more.iloc[:0])
    assert len(Project(project.path).data) == 72


def test_rows_added_to_a_project_with_ids_bring_their_own(tmp_path):
    df, _ = pool_frame()
    df.insert(0, "id", [f"r{i}" for i in range(len(df))])
    project = Project.init(df, tmp_path / "run", id_column="id")
    more = make_blobs_frame(n_per_class=1, n_classes=3, seed=7).drop(columns=["label"])
    with pytest.raises(ValueError, match=r"need the project's id column 'id'"):
        project.add_rows(more)
    for ids, problem in ((["n1", "n1", "n2"], "repeated: 'n1'"), (["n1", None, "n2"], "1 blank"),
                         (["n1", "r5", "n2"], "ids of the project's rows already: 'r5'")):
        with pytest.raises(ValueError, match=f"must give each new row an id of its own. Got "
                                             f"{problem}"):
            project.add_rows(more.assign(id=ids))
    assert project.add_rows(more.assign(id=["n1", "n2", "n3"])) == 3
    assert list(Project(project.path).data.index[-3:]) == ["n1", "n2", "n3"]


@pytest.mark.slow
def test_rows_taken_out_are_never_asked_trained_on_or_exported(project, truth, tmp_path, capsys):
    from autoal.cli import main

    queue = project.queue()
    junk, fine = queue["row"][0], list(queue["row"][1:])
    assert project.exclude([junk], "ana") == [junk]
    assert project.exclude(junk, "bob") == []  # excluded already: left as it is
    assert project.queue().set_index("row").loc[junk, "excluded"]
    project.import_answers(pd.DataFrame({"row": fine, "label": truth[fine].to_numpy()}),
                           annotator="ana")
    status = project.status()
    assert status["excluded"] == 1 and status["queue"] == {"size": 6, "answered": 5,
                                                           "excluded": 1}
    # A labeled row taken out: its answers stay stored, but it leaves training and export.
    given = project.annotations.query("annotator == 'given'")["row"].iloc[0]
    assert main(["exclude", str(project.path), str(given), "--annotator", "ana"]) == 0
    assert "Excluded 1 rows" in capsys.readouterr().out
    assert given in set(project.annotations["row"])
    assert not {junk, given} & set(project.export()["row"])
    assert not {junk, given} & set(project.consensus().index)
    queue = project.next(batch=50, progress=False)
    assert not {junk, given} & set(queue["row"])
    assert project.session.history["n_labeled"].iloc[-1] == 12 - 1 + 5
    assert len(queue) == 60 - 17 - 1  # every row without a label, but the one taken out
    assert main(["status", str(project.path)]) == 0
    assert "16 labeled (17 answers), 2 excluded." in capsys.readouterr().out
    # Put back: asked again.
    assert main(["exclude", str(project.path), str(junk), "--undo"]) == 0
    assert project.include([junk]) == []
    assert junk in set(project.next(batch=50, progress=False)["row"])
    for rows, match in [([], "must name rows of the project"), (["nope"], "Got 'nope'")]:
        with pytest.raises(ValueError, match=match):
            project.exclude(rows, "ana")
    with pytest.raises(ValueError, match="non-empty annotator"):
        project.exclude([junk], " ")
    assert main(["exclude", str(project.path), str(junk)]) == 2
    assert "--annotator NAME" in capsys.readouterr().err
    assert main(["check", str(project.path)]) == 0
    assert "ok: excluded.csv: 1 rows taken out." in capsys.readouterr().out
    with open(project.path / "excluded.csv", "a") as f:
        f.write("nope,ana,3,\n")
    assert main(["check", str(project.path)]) == 1
    assert "excluded.csv" in capsys.readouterr().out

    # Before any model (a cold start), too.
    df, _ = pool_frame()
    cold = Project.init(df.assign(label=None), tmp_path / "cold", classes=["class_0", "class_1"])
    assert len(cold.exclude(list(range(0, 60, 2)), "ana")) == 30
    assert set(cold.next(batch=40, progress=False)["row"]) == set(range(1, 60, 2))


def test_a_class_renamed_keeps_its_answers_and_old_names_still_read(project, truth, capsys):
    from autoal.cli import main

    project.import_answers(answers(project, truth), annotator="ana")
    before = project.annotations
    assert main(["rename-class", str(project.path), "class_1", "kiwi"]) == 0
    printed = capsys.readouterr()
    assert "class_0, kiwi, class_2." in printed.out and "renamed" not in printed.err
    project = Project(project.path)
    after = project.annotations
    assert after["label"].tolist() == before["label"].replace("class_1", "kiwi").tolist()
    assert "class_1" not in set(project.queue()["guess"])
    assert "class_1" not in (project.path / "queue.csv").read_text()
    assert project.status()["per_class"]["kiwi"] == (before["label"] == "class_1").sum()
    # An answer that gives the old name (a page opened before the rename) reads as the new.
    row = project.queue()["row"][3]
    stored = project.import_answers(pd.DataFrame({"row": [row], "label": ["class_1"]}),
                                    annotator="bob")
    assert stored["label"].tolist() == ["kiwi"]
    # Renamed again: both old names read as the newest; the rounds go on (round 0's file).
    assert project.rename_class(" kiwi ", "lime") == ["class_0", "lime", "class_2"]
    row = project.queue()["row"][4]
    stored = project.import_answers(pd.DataFrame({"row": [row], "label": ["class_1"]}),
                                    annotator="bob")
    assert stored["label"].tolist() == ["lime"]
    queue = project.next(batch=3, progress=False)
    assert set(queue["guess"]) <= {"class_0", "lime", "class_2"}
    assert "lime" in set(project.consensus()["consensus_label"])
    # A rename cut short (config written, answers not yet): the old name still reads.
    with open(project.path / "annotations.csv", "a") as f:
        f.write(f"{queue['row'][0]},cy,kiwi,2,\n")
    assert Project(project.path).annotations["label"].iloc[-1] == "lime"
    assert main(["check", str(project.path)]) == 0
    capsys.readouterr()
    for old, new, match in [("nope", "x", "'old' parameter .* must be a class"),
                            ("lime", "class_0", "is a class of the project already"),
                            ("lime", " ", "'new' parameter .* non-blank")]:
        with pytest.raises(ValueError, match=match):
            project.rename_class(old, new)
