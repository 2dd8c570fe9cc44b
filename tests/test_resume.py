"""The run directory: resume after a stop between rounds or a kill inside one, with the
same picks as a run that was never stopped. Runs that die do so in their own process
(SIGKILL, no clean-up), through tests/resumable_run.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import autoal
from autoal.rundir import FORMAT_VERSION

from conftest import CountingLearner, make_blobs_frame

SCRIPT = Path(__file__).with_name("resumable_run.py")
TABLES = ["queries.csv", "annotations.csv"]


def run_script(workdir, rounds, kill=None):
    args = [sys.executable, str(SCRIPT), str(workdir), str(rounds)] + ([kill] if kill else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def tables(workdir):
    out = {name: pd.read_csv(workdir / name) for name in TABLES}
    history = pd.read_csv(workdir / "history.csv")
    out["history"] = history.drop(columns=[c for c in history if c.endswith("_seconds")])
    return out


def assert_same_run(a, b):
    for name, table in tables(a).items():
        pd.testing.assert_frame_equal(table, tables(b)[name], obj=name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A run of 5 rounds that nothing interrupts."""
    workdir = tmp_path_factory.mktemp("reference") / "run"
    done = run_script(workdir, 5)
    assert done.returncode == 0, done.stderr
    return workdir


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """A run of 6 rounds that nothing interrupts, with the list of files it wrote in order."""
    folder = tmp_path_factory.mktemp("traced")
    env = {**os.environ, "AUTOAL_TRACE": str(folder / "trace.txt")}
    done = subprocess.run([sys.executable, str(SCRIPT), str(folder / "run"), "6"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line.split(" ", 1) for line in (folder / "trace.txt").read_text().splitlines()]
    return folder / "run", [(int(n), name) for n, name in lines]


def round_writes(trace, round_):
    """The files written from the end of round ``round_ - 1``'s state file to the end of
    round ``round_``'s: the answers to the previous query, then the round's own files."""
    states = [n for n, name in trace if name == "state.json"]
    return [(n, name) for n, name in trace if states[round_ - 1] < n <= states[round_]]


@pytest.mark.parametrize("round_", [2, 5])
@pytest.mark.parametrize("position", range(5))
@pytest.mark.parametrize("mode", ["write", "inside"])
def test_a_kill_at_any_file_of_a_round_resumes_with_the_same_run(traced, round_, position,
                                                                  mode, tmp_path):
    """Three noisy annotators, so CROWDLAB weighs them with the saved probabilities: a
    resumed run must read exactly the files of the last round written in full."""
    reference, trace = traced
    writes = round_writes(trace, round_)
    assert [name.split("/")[0] for _, name in writes] == [
        "annotations.csv", "history.csv", "queries.csv", "probabilities", "state.json"]
    n, name = writes[position]
    workdir = tmp_path / "run"
    killed = run_script(workdir, 6, f"{mode}:{n}")
    assert killed.returncode == -9, killed.stderr
    resumed = run_script(workdir, 6)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(reference, workdir)
    consensus = pd.read_csv(workdir / "consensus.csv")
    assert (consensus["method"] == "crowdlab").all()  # the probabilities were used
    assert not list(workdir.glob(".*.tmp")) or mode == "inside"


@pytest.mark.parametrize("kill, last_saved", [
    ("fit:3", 1),  # while fitting round 2's model
    ("label:3", 1),  # while round 1's batch is labeled (call 1 labels the initial set)
    ("save:3", 1),  # after round 2's tables, before its state file
    ("label:6", 4),  # while round 4's batch is labeled: its query is saved, not refit
    ("fit:1", -1),  # before any round is written
])
def test_a_run_killed_inside_a_round_resumes_with_the_same_picks(kill, last_saved, reference,
                                                                  tmp_path):
    workdir = tmp_path / "run"
    killed = run_script(workdir, 5, kill)
    assert killed.returncode == -9, killed.stderr
    state = json.loads((workdir / "state.json").read_text()) if (
        workdir / "state.json").exists() else {"round": -1}
    assert state["round"] == last_saved
    resumed = run_script(workdir, 5)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(reference, workdir)
    # What a later resume takes back to if round 5 runs again (Session.reopen).
    state = json.loads((workdir / "state.json").read_text())
    assert state["probabilities_before"] == "probabilities/round-004.parquet"


def test_a_run_stopped_between_rounds_resumes_with_the_same_picks(reference, tmp_path):
    workdir = tmp_path / "run"
    for rounds in (2, 3, 5):  # each call ends cleanly; the next one asks for more rounds
        done = run_script(workdir, rounds)
        assert done.returncode == 0, done.stderr
        assert pd.read_csv(workdir / "history.csv")["round"].max() == rounds
    assert_same_run(reference, workdir)


def loop(df, workdir, **kwargs):
    kwargs = {"rounds": 2, "batch": 4, "init": 2, "progress": False, "seed": 0, **kwargs}
    return autoal.loop(df, learner=CountingLearner(oof=True), workdir=workdir, **kwargs)


def test_resuming_returns_the_whole_run(blobs, tmp_path):
    first = loop(blobs, tmp_path, rounds=1)
    again = loop(blobs, tmp_path, rounds=3)
    assert list(again.history["round"]) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(again.queries[again.queries["round"] < 1], first.queries)
    assert len(again.annotations) == again.history["n_annotations"].iloc[-1]
    assert again.model is not None


@pytest.mark.parametrize("change, message", [
    ({"seed": 1}, "seed"), ({"batch": 5}, "batch"), ({"strategy": "margin"}, "strategy"),
    ({"init": 3}, "split"), ({"label": "other"}, "label"),
])
def test_resuming_with_other_settings_is_refused_and_changes_nothing(blobs, tmp_path, change,
                                                                      message):
    loop(blobs, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    df = blobs.rename(columns={"label": "other"}) if "label" in change else blobs
    with pytest.raises(ValueError, match=f"other settings.*{message}"):
        loop(df, tmp_path, **change)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


class NewerLearner(CountingLearner):
    """CountingLearner as a newer autoal might ship it: one more constructor argument."""

    def __init__(self, oof=False, smoothing=0.0):
        super().__init__(oof=oof)
        self.smoothing = smoothing


def test_a_run_saved_before_its_learner_gained_an_argument_resumes_while_it_is_at_its_default(
        blobs, tmp_path):
    autoal.loop(blobs, learner=NewerLearner(oof=True), workdir=tmp_path, rounds=1, batch=4,
                init=2, progress=False, seed=0)
    config = json.loads((tmp_path / "autoal.json").read_text())
    params = config["learner"]["params"]
    while "learner" in params:  # the loop may wrap it (CrossFitted)
        params = params["learner"]["params"]
    assert params.pop("smoothing") == 0.0  # as the earlier autoal, without the argument, wrote it
    (tmp_path / "autoal.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"other settings.*learner.*'smoothing': 0\.5"):
        autoal.loop(blobs, learner=NewerLearner(oof=True, smoothing=0.5), workdir=tmp_path,
                    rounds=2, batch=4, init=2, progress=False, seed=0)
    again = autoal.loop(blobs, learner=NewerLearner(oof=True), workdir=tmp_path, rounds=2,
                        batch=4, init=2, progress=False, seed=0)
    assert list(again.history["round"]) == [0, 1, 2]
    assert json.loads((tmp_path / "autoal.json").read_text()) == config  # left as it was


def test_resuming_on_other_data_is_refused(blobs, tmp_path):
    loop(blobs, tmp_path)
    changed = blobs.copy()
    changed.loc[changed.index[0], "f0"] += 1.0
    with pytest.raises(ValueError, match="data"):
        loop(changed, tmp_path)


def test_asking_for_fewer_rounds_than_done_is_refused(blobs, tmp_path):
    loop(blobs, tmp_path, rounds=3)
    with pytest.raises(ValueError, match="rounds >= 3"):
        loop(blobs, tmp_path, rounds=1)


def test_a_newer_format_is_refused(blobs, tmp_path):
    loop(blobs, tmp_path)
    config = json.loads((tmp_path / "autoal.json").read_text())
    config["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "autoal.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format version"):
        loop(blobs, tmp_path)


def test_a_workdir_in_use_is_refused(blobs, tmp_path):
    from autoal.rundir import RunDir

    with RunDir(tmp_path).lock():
        with pytest.raises(RuntimeError, match="in use by another autoal process"):
            loop(blobs, tmp_path)


def test_the_run_directory_is_plain_files(blobs, tmp_path):
    loop(blobs, tmp_path)
    config = json.loads((tmp_path / "autoal.json").read_text())
    assert config["format_version"] == FORMAT_VERSION
    assert config["classes"] == ["class_0", "class_1", "class_2"]
    assert json.loads((tmp_path / "state.json").read_text())["round"] == 2
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    queries = pd.read_csv(tmp_path / "queries.csv")
    assert set(queries["round"]) == {0, 1}


@pytest.mark.slow
def test_resume_with_the_real_tabular_learner_makes_the_same_picks(tmp_path):
    from autoal.learners import TabularLearner

    df = make_blobs_frame(n_per_class=25, n_classes=3, seed=2)

    def run(workdir, rounds):
        return autoal.loop(df, rounds=rounds, batch=5, init=3, seed=1, progress=False,
                           learner=TabularLearner(path=workdir / "models", seed=1),
                           workdir=workdir)

    straight = run(tmp_path / "straight", 2)
    run(tmp_path / "stopped", 1)
    resumed = run(tmp_path / "stopped", 2)
    pd.testing.assert_frame_equal(resumed.queries, straight.queries)
    # Each round's model in workdir/models/round-NNN, the learner object's too; only the
    # current one is kept.
    assert [p.name for p in (tmp_path / "stopped" / "models").iterdir()] == ["round-002"]
