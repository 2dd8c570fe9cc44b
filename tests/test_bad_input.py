"""Bad input of every kind that was tried against loop, run, init, import and next: each
gets a clear error naming the problem and what to do, before any work, and a run
directory's files stay as they were. Also ``autoal check``."""

import errno
import hashlib
import json
import os
import pathlib
import time

import numpy as np
import pandas as pd
import pytest

import autoal
from autoal import cli
from autoal._checks import DamagedRunDir, clean_label, format_examples, short
from autoal.data import infer_column_types
from autoal.project import GIVEN, Project
from autoal.rundir import RunDir, check
from autoal.settings import Settings

from conftest import CountingLearner, make_blobs_frame


# ---- helpers -------------------------------------------------------------------------


def hashes(folder) -> dict:
    """Every stored file's hash (lock files are not stored data)."""
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def small_loop(workdir, df=None, **kwargs):
    kwargs = {"rounds": 2, "batch": 3, "init": 2, "progress": False,
              "learner": CountingLearner(), **kwargs}
    return autoal.loop(make_blobs_frame() if df is None else df, workdir=workdir, **kwargs)


def pool_frame():
    """30 rows, 3 classes; the first 9 keep their labels, the rest are the pool."""
    df = make_blobs_frame(n_per_class=10)
    df.loc[df.index[9:], "label"] = None
    return df


@pytest.fixture
def project(tmp_path):
    """A labeling project before its first round (no fit): the queue is the given rows."""
    return Project.init(pool_frame(), tmp_path / "proj", learner="tabular")


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def answers_for(project, labels, annotator="ana"):
    rows = list(project.session.query.rows)[: len(labels)]  # before next(): the given rows
    return pd.DataFrame({"row": rows, "label": labels, "annotator": annotator})


# ---- blank and padded labels -----------------------------------------------------------


@pytest.mark.parametrize("blank", ["", " ", "\t", None, np.nan])
def test_clean_label_makes_blanks_missing(blank):
    assert clean_label(blank) is None
    assert clean_label(" b ") == "b" and clean_label(3) == 3


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_labels_are_missing_in_loop(blank):
    df = make_blobs_frame()
    df.loc[[3, 5], "label"] = blank
    learner = CountingLearner()
    with pytest.raises(ValueError, match=r"has 2 missing values \(empty, blank or NaN; rows 3, "
                                         r"5\).*every row needs one"):
        autoal.loop(df, learner=learner, progress=False)
    assert learner.fits == 0


@pytest.mark.parametrize("dtype", [object, "category"])  # pandas categories too
@pytest.mark.parametrize("n_classes", [2, 3])
def test_padded_labels_are_the_class_they_name(dtype, n_classes):
    df = make_blobs_frame(n_classes=n_classes)
    df.loc[df["label"] == "class_1", "label"] = " class_1 "
    df["label"] = df["label"].astype(dtype)
    result = autoal.loop(df, rounds=0, init=2, learner=CountingLearner(), progress=False)
    classes = [f"class_{k}" for k in range(n_classes)]
    assert result.classes == classes
    assert set(result.annotations["label"]) == set(classes)


def test_run_refuses_blank_labels(tmp_path, capsys):
    df = make_blobs_frame()
    df.loc[4, "label"] = " "
    df.to_csv(tmp_path / "blobs.csv", index=False)
    code, _, err = run_cli(capsys, "run", tmp_path / "blobs.csv", "--out", tmp_path / "out")
    assert code == 2
    assert "autoal run: error: The label column 'label' has 1 missing values" in err
    assert not (tmp_path / "out").exists()


def test_init_takes_blank_labels_as_the_pool_and_padded_ones_as_their_class(tmp_path):
    df = pool_frame()
    df.loc[df.index[:3], "label"] = ["class_0 ", " class_1", "class_2"]
    df.loc[df.index[3:5], "label"] = ["", "   "]
    project = Project.init(df, tmp_path / "proj", learner="tabular")
    assert project.classes == ["class_0", "class_1", "class_2"]
    assert len(project.annotations) == 7  # 9 given, 2 of them blank
    # An answer is compared the same way: ' class_1 ' is the class 'class_1'.
    row = project.session.query.rows[0]
    stored = project.import_answers(pd.DataFrame({"row": [row], "label": [" class_1 "]}),
                                    annotator="ana")
    assert stored["label"].tolist() == ["class_1"]


@pytest.mark.parametrize("classes, error, match", [
    ([" ", "b"], ValueError, r"'classes' parameter of Project.init must list non-blank "
                             r"classes. Got ' ', 'b'"),
    ("ab", TypeError, r"'classes' parameter of Project.init must be a list of classes"),
])
def test_init_refuses_blank_classes(tmp_path, classes, error, match):
    with pytest.raises(error, match=match):
        Project.init(pool_frame(), tmp_path / "proj", learner="tabular", classes=classes)
    assert not (tmp_path / "proj").exists()


# ---- long text -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [256, 1000, 4095, 5000])
def test_long_text_values_do_not_crash_column_guessing(length, tmp_path):
    df = pd.DataFrame({"text": [f"{i} " + "x" * length for i in range(6)], "nul": "a\x00b",
                       "label": ["a", "b"] * 3})
    types = infer_column_types(df, exclude=["label"], base_dir=tmp_path)
    assert types == {"text": "categorical", "nul": "categorical"}


def test_a_long_image_path_is_reported_as_missing(tmp_path):
    df = make_blobs_frame()
    df["image"] = [str(tmp_path / ("y" * 300 + f"{i}.png")) for i in range(len(df))]
    with pytest.raises(ValueError, match=r"Image column 'image': 90 do not exist"):
        autoal.loop(df, learner=CountingLearner(), progress=False)


def test_long_values_are_shortened_in_messages():
    huge = "z" * 5_000_000
    assert len(short(huge)) == 60 and "\u2026" in short(huge)
    assert len(format_examples([huge] * 10)) < 400
    with pytest.raises(ValueError, match="label") as caught:
        autoal.loop(make_blobs_frame(), label=huge, progress=False)
    assert len(str(caught.value)) < 500


def test_a_huge_bad_label_is_not_echoed_whole(project):
    before = hashes(project.path)
    with pytest.raises(ValueError, match=r"labels that are not classes: 'zzz.*\u2026") as caught:
        project.import_answers(answers_for(project, ["z" * 5_000_000]))
    assert len(str(caught.value)) < 1000
    assert hashes(project.path) == before


# ---- strategies over row features when the rows have none ---------------------------


def _inputs(n=8, m=6, k=2, d=0):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = rng.integers(0, k, size=(m, 1)).astype(float)
    return probs, dict(labels=labels, pred_probs=rng.dirichlet(np.ones(k), size=m),
                       batch=3, features_unlabeled=np.empty((n, d)),
                       features_labeled=np.empty((m, d)))


def test_auto_falls_back_when_the_features_have_no_columns():
    from autoal.strategies import auto

    probs, extra = _inputs()
    without = {k: v for k, v in extra.items() if not k.startswith("features")}
    got = auto(probs, rng=np.random.default_rng(1), **extra)
    want = auto(probs, rng=np.random.default_rng(1), **without)
    np.testing.assert_array_equal(got.unlabeled, want.unlabeled)


@pytest.mark.parametrize("name", ["typical", "coreset", "cluster", "margin_diverse",
                                  "information_density", "expected_model_change"])
def test_feature_strategies_refuse_zero_feature_columns(name):
    from autoal.strategies import STRATEGIES

    probs, extra = _inputs()
    with pytest.raises(ValueError, match=rf"The '{name}' strategy needs row features, and the "
                                         rf"model gives 0 feature columns.*learner='embedding'"):
        STRATEGIES[name](probs, rng=np.random.default_rng(0), **extra)


def test_a_feature_strategy_on_free_text_with_the_tabular_learner_is_refused_first(texts,
                                                                                   tmp_path):
    with pytest.raises(ValueError, match="'typical' strategy needs row features"):
        autoal.loop(texts, strategy="typical", learner="tabular", workdir=tmp_path / "run",
                    init=2, progress=False)
    assert not (tmp_path / "run").exists()
    df = texts.copy()
    df.loc[df.index[6:], "label"] = None
    with pytest.raises(ValueError, match="'coreset' strategy needs row features"):
        Project.init(df, tmp_path / "proj", strategy="coreset", learner="tabular")
    assert not (tmp_path / "proj").exists()


@pytest.mark.slow
def test_auto_on_free_text_with_the_tabular_learner_runs(texts):
    result = autoal.loop(texts, rounds=1, batch=2, init=2, learner="tabular", time_limit=30,
                         progress=False)
    assert result.history["n_queried"].tolist() == [2, 0]


# ---- a damaged run directory ------------------------------------------------------------


def _garbage(path):
    path.write_text("{not json")


def _truncate(path):
    """The last line cut short after its first field, as by a killed editor."""
    text = path.read_text().rstrip("\n")
    start = text.rfind("\n") + 1
    path.write_text(text[: text.index(",", start) + 1])


def _empty(path):
    path.write_bytes(b"")


def _ahead(path):
    state = json.loads(path.read_text())
    path.write_text(json.dumps({**state, "round": 4}))


@pytest.mark.parametrize("name, damage, match", [
    ("state.json", _garbage, r"state.json is damaged: not valid JSON .*autoal check"),
    ("autoal.json", _garbage, r"autoal.json is damaged: not valid JSON .*restore it"),
    ("state.json", _ahead, r"history.csv is damaged: it lacks rounds 3, 4, though state.json "
                           r"says round 4"),
    ("annotations.csv", _truncate, r"annotations.csv is damaged: line \d+ has no round "
                                   r"number .*got ''.*fix or delete"),
    ("annotations.csv", _empty, r"annotations.csv is damaged: it is empty \(0 bytes\)"),
    ("history.csv", _empty, r"history.csv is damaged: it is empty \(0 bytes\)"),
    ("queries.csv", _truncate, r"queries.csv is damaged: it names rows the data does not "
                               r"have \(''\)"),
    ("history.csv", os.unlink, r"history.csv is damaged: it is missing, though state.json "
                               r"says round 2"),
])
def test_a_damaged_file_is_named_with_how_to_recover(tmp_path, name, damage, match):
    small_loop(tmp_path)
    damage(tmp_path / name)
    before = hashes(tmp_path)
    with pytest.raises(DamagedRunDir, match=match):
        small_loop(tmp_path)
    assert hashes(tmp_path) == before


def test_a_deleted_state_is_noticed(tmp_path):
    small_loop(tmp_path)
    (tmp_path / "state.json").unlink()
    with pytest.raises(DamagedRunDir, match=r"state.json is damaged: it is missing, though "
                                            r"history.csv holds rounds up to 2"):
        small_loop(tmp_path)


def test_status_names_a_damaged_file(tmp_path, capsys):
    small_loop(tmp_path)
    _garbage(tmp_path / "state.json")
    code, _, err = run_cli(capsys, "status", tmp_path)
    assert code == 2 and "state.json is damaged: not valid JSON" in err
    _truncate(tmp_path / "annotations.csv")
    (tmp_path / "state.json").unlink()
    code, _, err = run_cli(capsys, "status", tmp_path)
    assert code == 2 and "annotations.csv is damaged" in err


def test_next_and_import_name_a_damaged_file(project, tmp_path, capsys):
    _garbage(project.path / "state.json")
    before = hashes(project.path)
    code, _, err = run_cli(capsys, "next", project.path)
    assert code == 2 and "autoal next: error: The run directory file" in err
    assert "state.json is damaged: not valid JSON" in err
    assert hashes(project.path) == before
    (project.path / "state.json").unlink()
    _truncate(project.path / "annotations.csv")
    before = hashes(project.path)
    answers_for(project, ["class_0"]).to_csv(tmp_path / "a.csv", index=False)
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "a.csv")
    assert code == 2 and "annotations.csv is damaged: line 10 has no round number" in err
    assert hashes(project.path) == before


# ---- autoal check --------------------------------------------------------------------


def test_check_a_healthy_run(tmp_path, capsys):
    small_loop(tmp_path)
    before = hashes(tmp_path)
    code, out, _ = run_cli(capsys, "check", tmp_path)
    assert code == 0 and f"ok: {tmp_path} is healthy (round 2)." in out
    assert hashes(tmp_path) == before


def test_check_removes_temporary_files_of_killed_writes(tmp_path, capsys):
    small_loop(tmp_path)
    (tmp_path / ".annotations.csv.1a2b3c.tmp").write_text("row,ann")
    (tmp_path / "probabilities" / ".round-002.parquet.4d5e6f.tmp").write_bytes(b"PAR")
    code, out, _ = run_cli(capsys, "check", tmp_path)
    assert code == 0 and "fixed: removed 2 temporary files left by killed writes" in out
    assert not list(tmp_path.rglob(".*.tmp"))


def test_check_keeps_young_temporary_files_while_the_run_is_held(tmp_path):
    small_loop(tmp_path)
    young, old = tmp_path / ".queries.csv.aaaaaa.tmp", tmp_path / ".history.csv.bbbbbb.tmp"
    young.write_text("x")
    old.write_text("x")
    os.utime(old, (time.time() - 120, time.time() - 120))
    with RunDir(tmp_path).lock("run"):
        levels = [f.level for f in check(tmp_path)]
    assert young.exists() and not old.exists()
    assert levels.count("problem") == 0 and "fixed" in levels


def test_check_rebuilds_a_damaged_state_and_the_run_resumes(tmp_path, capsys):
    straight = small_loop(tmp_path / "straight", rounds=3)
    small_loop(tmp_path / "run")
    state = (tmp_path / "run" / "state.json").read_text()
    _garbage(tmp_path / "run" / "state.json")
    code, out, _ = run_cli(capsys, "check", tmp_path / "run")
    assert code == 0 and "fixed: state.json was damaged; rebuilt it" in out
    assert json.loads((tmp_path / "run" / "state.json").read_text()) == json.loads(state)
    resumed = small_loop(tmp_path / "run", rounds=3)
    pd.testing.assert_frame_equal(resumed.queries, straight.queries)


@pytest.mark.parametrize("damage, match", [
    (lambda p: _ahead(p / "state.json"), "history.csv lacks rounds 3, 4"),
    (lambda p: _garbage(p / "autoal.json"), "autoal.json is damaged"),
    (lambda p: _truncate(p / "annotations.csv"), "annotations.csv is damaged: line"),
    (lambda p: os.unlink(next((p / "probabilities").glob("round-002.parquet"))),
     "names probabilities/round-002.parquet, which is missing"),
])
def test_check_reports_what_it_cannot_fix(tmp_path, capsys, damage, match):
    small_loop(tmp_path)
    damage(tmp_path)
    before = hashes(tmp_path)
    code, out, _ = run_cli(capsys, "check", tmp_path)
    assert code == 1 and match in out and "problem: " in out
    assert hashes(tmp_path) == before


def test_check_finds_labels_and_rows_the_project_does_not_have(project, capsys):
    with open(project.path / "annotations.csv", "a") as f:
        f.write("999,ana,class_9,0,\n")
    code, out, _ = run_cli(capsys, "check", project.path)
    assert code == 1
    assert "1 lines have labels that are not classes ('class_9'" in out
    assert "1 lines name rows the data does not have ('999')" in out


def test_check_on_a_file_or_nothing(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert run_cli(capsys, "check", tmp_path / "file")[0] == 1
    code, out, _ = run_cli(capsys, "check", tmp_path / "nothing")
    assert code == 1 and "does not exist" in out


# ---- files where folders belong, and the reverse -------------------------------------


def test_a_workdir_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(ValueError, match=r"'workdir' parameter of loop must be a folder's path. "
                                         r"Got .*taken, which is a file"):
        small_loop(tmp_path / "taken")
    with pytest.raises(ValueError, match=r"Got .*taken/run, inside the file .*taken"):
        small_loop(tmp_path / "taken" / "run")
    make_blobs_frame().to_csv(tmp_path / "blobs.csv", index=False)
    code, _, err = run_cli(capsys, "run", tmp_path / "blobs.csv", "--out", tmp_path / "taken")
    assert code == 2 and "autoal run: error: --out must be a folder's path." in err
    pool_frame().to_csv(tmp_path / "pool.csv", index=False)
    code, _, err = run_cli(capsys, "init", tmp_path / "pool.csv", "--workdir",
                           tmp_path / "taken")
    assert code == 2 and "autoal init: error: --workdir must be a folder's path." in err
    assert (tmp_path / "taken").read_text() == "mine"


def test_a_read_only_file_system_on_init(tmp_path, capsys, monkeypatch):
    pool_frame().to_csv(tmp_path / "pool.csv", index=False)
    target = tmp_path / "ro"
    mkdir = pathlib.Path.mkdir

    def read_only(self, *args, **kwargs):
        if self == target or target in self.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    with pytest.raises(PermissionError, match=r"Cannot write the run directory .*ro: Read-only "
                                              r"file system. A run directory must be writable"):
        Project.init(tmp_path / "pool.csv", target, learner="tabular")
    code, _, err = run_cli(capsys, "init", tmp_path / "pool.csv", "--workdir", target)
    assert code == 2 and "autoal init: error: Cannot write the run directory" in err
    assert not target.exists()


def test_an_answer_path_that_is_a_folder(project, tmp_path, capsys):
    before = hashes(project.path)
    (tmp_path / "answers").mkdir()
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "answers",
                           "--annotator", "ana")
    assert code == 2 and "is a folder; pass a CSV file of answers" in err
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "gone.json")
    assert code == 2 and "No such Label Studio export" in err
    assert hashes(project.path) == before


# ---- import quirks -------------------------------------------------------------------


def test_the_given_annotator_name_is_refused(project, tmp_path, capsys):
    before = hashes(project.path)
    answers_for(project, ["class_0"]).drop(columns="annotator").to_csv(
        tmp_path / "a.csv", index=False)
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "a.csv",
                           "--annotator", GIVEN)
    assert code == 2 and "The annotator name 'given' is kept for the labels the data came " \
                         "with" in err and "(--annotator NAME)" in err
    with pytest.raises(ValueError, match="annotator name 'given' is kept"):
        project.import_answers(answers_for(project, ["class_0"], annotator=" given "))
    assert hashes(project.path) == before


def test_a_latin1_answer_file(project, tmp_path, capsys):
    before = hashes(project.path)
    row = project.session.query.rows[0]
    (tmp_path / "a.csv").write_bytes(f"row,label\n{row},caf\xe9\n".encode("latin-1"))
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "a.csv",
                           "--annotator", "ana")
    assert code == 2
    assert "is not UTF-8 text (byte 0xe9 at position" in err and "save it as UTF-8" in err
    assert hashes(project.path) == before


def test_a_missing_or_empty_answer_file(project, tmp_path, capsys):
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "missing.csv",
                           "--annotator", "ana")
    assert code == 2 and f"No such answer file: {tmp_path / 'missing.csv'}" in err
    assert "Errno" not in err
    (tmp_path / "empty.csv").write_bytes(b"")
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "empty.csv",
                           "--annotator", "ana")
    assert code == 2 and "is empty; it needs a header line" in err


# ---- a scikit-learn estimator as the learner -----------------------------------------


def test_a_scikit_learn_estimator_is_refused_before_any_work(tmp_path):
    from sklearn.linear_model import LogisticRegression

    match = (r"'learner' parameter of loop must be .* fit\(data: DataFrame, label: str\) -> "
             r"model.*Got LogisticRegression\(\), a scikit-learn style estimator.*"
             r"learner='tabular'")
    with pytest.raises(TypeError, match=match):
        autoal.loop(make_blobs_frame(), learner=LogisticRegression(), workdir=tmp_path / "r")
    assert not (tmp_path / "r").exists()

    class ArraysOnly:
        def fit(self, X, y):
            return self

    with pytest.raises(TypeError, match="scikit-learn style estimator"):
        Settings(learner=ArraysOnly())
    Settings(learner=CountingLearner())  # a learner: fit(data, label)


# ---- command-line hints in flag form -------------------------------------------------


def test_cli_errors_name_flags(tmp_path, capsys, project):
    make_blobs_frame().to_csv(tmp_path / "blobs.csv", index=False)
    code, _, err = run_cli(capsys, "run", tmp_path / "blobs.csv", "--label", "kind",
                           "--out", tmp_path / "out")
    assert code == 2 and "Pass --label to name it." in err and "label=" not in err
    code, _, err = run_cli(capsys, "run", tmp_path / "blobs.csv", "--batch", "0")
    assert code == 2 and "autoal run: error: --batch must be an int >= 1. Got 0." in err
    answers_for(project, ["class_0"]).drop(columns="annotator").to_csv(
        tmp_path / "a.csv", index=False)
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "a.csv")
    assert code == 2 and "pass --annotator NAME or give the file" in err
    answers_for(project, ["class_0"]).rename(columns={"row": "id"}).to_csv(
        tmp_path / "b.csv", index=False)
    code, _, err = run_cli(capsys, "import", project.path, tmp_path / "b.csv")
    assert code == 2 and "missing ['row'], it has 'id', 'label', 'annotator'" in err
    code, _, err = run_cli(capsys, "init", tmp_path / "blobs.csv", "--workdir",
                           tmp_path / "p", "--classes", " ", "x")
    assert code == 2 and "--classes must list non-blank classes" in err


def test_flag_rewriting():
    parser = cli._subparser(cli._build_parser(), "init")
    rewrite = cli._with_flags
    assert rewrite("Pass label=... to name it.", parser) == "Pass --label to name it."
    assert rewrite("Use learner='tabular' or seed=3.", parser) == \
        "Use --learner tabular or --seed 3."
    assert rewrite("pass data_root=... (--data-root DIR), or", parser) == \
        "pass --data-root DIR, or"
    assert rewrite("Pass classes=[...] (--classes A B ...) to", parser) == \
        "Pass --classes A B ... to"
    assert rewrite("The 'time_limit' parameter of Project.init must be", parser) == \
        "--time-limit must be"
    assert rewrite("df.index = df.index.map(str); other=1", parser) == \
        "df.index = df.index.map(str); other=1"
