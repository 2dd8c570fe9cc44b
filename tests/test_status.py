"""autoal.status: a run directory's progress from its plain files, without pandas."""

import json
import subprocess
import sys

import pytest

import autoal
import autoal.rundir
from autoal.status import FORMAT_VERSION, read_status


def write(path, text):
    path.write_text(text.strip() + "\n")


@pytest.fixture
def project(tmp_path):
    """A project by hand: 10 rows, classes b, a, c; its queue of round 1 has rows 4, 5, 6."""
    config = {"format_version": FORMAT_VERSION, "kind": "project", "label": "y",
              "classes": ["b", "a", "c"], "data": {"rows": 10}}
    write(tmp_path / "autoal.json", json.dumps(config))
    write(tmp_path / "state.json", json.dumps({"round": 1}))
    write(tmp_path / "annotations.csv", """
row,annotator,label,round,time
0,given,a,0,
1,given,b,0,
2,given,b,0,
3,given,a,0,
2,ana,a,1,
2,bob,a,2,
3,ana,b,2,
4,ana,c,2,
5,bob,a,2,
5,ana,c,2,
9,ana,c,3,
""")
    write(tmp_path / "queries.csv", """
round,row,kind,score,guess,confidence
0,2,relabel,0.1,a,0.6
0,7,new,0.2,b,0.5
1,3,relabel,0.1,a,0.6
1,4,new,0.2,b,0.5
1,6,new,0.3,b,0.5
2,8,new,0.3,b,0.5
""")
    write(tmp_path / "history.csv", """
round,n_labeled,oof_accuracy
0,4,0.5
1,6,0.75
2,8,0.9
""")
    return tmp_path


def test_every_key_from_the_files(project):
    status = read_status(project)
    assert status == {
        "workdir": str(project), "round": 1, "rows": 10,
        # rows 0-5 and 9 have answers (9's carries a later round: answers always count)
        "labeled": 7, "annotations": 11, "excluded": 0,
        # majorities: 0 a, 1 b, 2 a (3 votes to 1), 3 a|b tie -> a (given first),
        # 4 c, 5 a|c tie -> a (given first), 9 c
        "per_class": {"b": 1, "a": 4, "c": 2},
        # round 1's queue (3, 4, 6); answers to it carry round 2: 3 and 4
        "queue": {"size": 3, "answered": 2, "excluded": 0},
        "estimated_accuracy": 0.75,  # the history line of round 2 is not written in full yet
        "model": None, "stop_reason": None,  # a model picked the queue; no rule fired
        "final_model": None,  # no autoal train yet (tests/test_final.py has one)
    }


def test_rows_taken_out_are_counted_apart(project):
    write(project / "excluded.csv", """
row,annotator,round,time
6,ana,2,2026-11-24T10:00:00+0000
9,ana,2,2026-11-24T10:01:00+0000
""")
    status = read_status(project)
    assert status["excluded"] == 2 and status["labeled"] == 6 and status["annotations"] == 11
    assert status["per_class"] == {"b": 1, "a": 4, "c": 1}  # 9 (c) is out
    assert status["queue"] == {"size": 3, "answered": 2, "excluded": 1}  # 6 is out


def test_before_the_first_round(project):
    (project / "state.json").unlink()
    for name in ("queries.csv", "history.csv"):
        (project / name).unlink()
    status = read_status(project)
    assert status["round"] == -1
    assert status["queue"] == {"size": 0, "answered": 0, "excluded": 0}
    assert status["estimated_accuracy"] is None
    (project / "annotations.csv").unlink()
    status = read_status(project)
    assert (status["labeled"], status["annotations"]) == (0, 0)
    assert status["per_class"] == {"b": 0, "a": 0, "c": 0}
    assert status["model"].startswith("No model yet: there are no labels yet.")


def test_blank_accuracy_and_class_numbers(project):
    config = json.loads((project / "autoal.json").read_text())
    write(project / "autoal.json", json.dumps({**config, "classes": [1, 2]}))
    write(project / "annotations.csv", "row,annotator,label,round\n0,given,2,0\n")
    write(project / "history.csv", "round,n_labeled,oof_accuracy\n0,4,0.5\n1,6,\n")
    status = read_status(project)
    assert status["per_class"] == {"1": 0, "2": 1}
    assert status["estimated_accuracy"] is None


def test_not_a_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an autoal run directory"):
        read_status(tmp_path)
    write(tmp_path / "autoal.json", json.dumps({"format_version": 1}))
    with pytest.raises(ValueError, match="has format version 1; this autoal reads format 2"):
        read_status(tmp_path)


def test_reads_the_format_rundir_writes():
    assert FORMAT_VERSION == autoal.rundir.FORMAT_VERSION


def test_the_command_prints_it(project, capsys):
    from autoal.cli import main

    assert main(["status", str(project)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Project {project}: round 1, 10 rows, 7 labeled (11 answers).",
                   "Per class: b: 1, a: 4, c: 2",
                   "Queue: 2 of 3 rows answered.",
                   "Estimated accuracy (out-of-fold, labeled rows): 0.750"]


def test_status_and_the_cli_import_no_pandas():
    code = "import sys, autoal.cli, autoal.status; assert 'pandas' not in sys.modules, 'pandas'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_agrees_with_project_status(tmp_path):
    from conftest import make_blobs_frame

    df = make_blobs_frame(n_per_class=5)
    df.loc[df.index[7:], "label"] = None
    project = autoal.Project.init(df, tmp_path / "p", learner="tabular")
    assert read_status(tmp_path / "p") == project.status()
