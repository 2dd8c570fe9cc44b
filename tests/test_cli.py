"""The autoal command, run through its installed entry point in a real process."""

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from autoal import cli
from conftest import make_blobs_frame


def autoal(*args, cwd):
    exe = shutil.which("autoal") or str(Path(sys.executable).parent / "autoal")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([exe, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def test_the_parser_lists_every_learner():
    from autoal.learners import LEARNERS

    assert cli.LEARNERS == list(LEARNERS)


def _warn_from(module: str, category=UserWarning):
    """Issue a warning from code whose module is ``module`` (what filters match on)."""
    exec("import warnings\nwarnings.warn('from ' + __name__, category)",
         {"__name__": module, "category": category})


def test_autoal_warnings_pass_the_quiet_filters(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli._quiet_warnings()
        _warn_from("autoal.loop")
        _warn_from("autoal")
        _warn_from("autoal.cli")
        _warn_from("sklearn.utils")
        _warn_from("torch.nn")
        _warn_from("autogluon.core.models")
        _warn_from("autoal.loop", FutureWarning)  # pandas deprecations pointing at autoal
        _warn_from("autoalike")
    assert [str(w.message) for w in caught] == ["from autoal.loop", "from autoal",
                                                 "from autoal.cli"]


COMMAND_THAT_WARNS = """
import sys, warnings
from autoal import cli

def status(args):  # autoal code that warns (as loop() when the pool runs out), and a library
    exec("import warnings; warnings.warn('the pool ran out')", {"__name__": "autoal.loop"})
    exec("import warnings; warnings.warn('noise')", {"__name__": "sklearn.base"})
    return 0

cli._status = status
before = list(warnings.filters)
code = cli.main(["status", "anywhere"])
assert warnings.filters == before, "main() left its filters behind"
sys.exit(code)
"""


def test_a_command_shows_autoal_warnings_on_stderr():
    done = subprocess.run([sys.executable, "-c", COMMAND_THAT_WARNS], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "UserWarning: the pool ran out" in done.stderr
    assert "noise" not in done.stderr


IMPORTS_CLEANLAB = """
import sys, warnings
import numpy as np, pandas as pd
if sys.argv[1] == "strategies":  # ActiveLab's scores of a new pool
    from autoal.strategies import activelab
    activelab(np.eye(2))
else:  # the consensus of single answers, scored by cleanlab
    from autoal.annotations import consensus
    answers = pd.DataFrame({"row": [0, 1], "annotator": ["a", "a"], "label": ["x", "y"]})
    consensus(answers, ["x", "y"], pd.DataFrame(np.eye(2), columns=["x", "y"]))
assert "cleanlab" in sys.modules
exec("import warnings; warnings.warn('the pool ran out')", {"__name__": "autoal.loop"})
"""


@pytest.mark.parametrize("first", ["strategies", "annotations"])
def test_importing_cleanlab_leaves_autoal_warnings_on(first):
    done = subprocess.run([sys.executable, "-c", IMPORTS_CLEANLAB, first], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "UserWarning: the pool ran out" in done.stderr


@pytest.mark.slow
def test_run_on_a_csv(tmp_path):
    make_blobs_frame(n_per_class=20).rename(columns={"label": "kind"}).to_csv(
        tmp_path / "blobs.csv", index=False)
    done = autoal("run", "blobs.csv", "--label", "kind", "--rounds", "1", "--batch", "5",
                  "--init", "2", "--strategy", "margin", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Test accuracy by round and number of labeled rows" in done.stdout
    assert "round 1: 11 labels" in done.stderr  # one log line per round
    history = pd.read_csv(tmp_path / "out" / "history.csv")
    assert history["n_labeled"].tolist() == [6, 11]
    assert (tmp_path / "out" / "learning_curve.png").stat().st_size > 0


@pytest.mark.slow
def test_demo_on_small_images(image_csv, tmp_path):
    done = autoal("demo", "--data", image_csv, "--rounds", "1", "--batch", "4", "--init", "2",
                  "--out", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines.index("Test accuracy by round and number of labeled rows:")
    assert lines[header + 1].split() == ["labels", "auto", "random"]
    assert lines[header + 3].split()[:2] == ["0", "4"]  # round 0: 2 per class
    timing = next(i for i, line in enumerate(lines) if line.startswith("Mean seconds"))
    assert lines[timing + 1].split() == ["fit", "s", "predict", "s", "score", "s", "prepare", "s",
                                         "(once)"]
    # The embedding of every image is the first round's preparation, not its fit.
    history = pd.read_csv(tmp_path / "demo" / "auto" / "history.csv")
    prepared = history["prepare_seconds"]
    assert prepared.iloc[0] > 0 and (prepared.iloc[1:] == 0).all()
    assert (history["fit_seconds"] >= prepared).all()
    auto = lines[timing + 2].split()
    assert auto[0] == "auto"
    assert float(auto[1]) == pytest.approx((history["fit_seconds"] - prepared).mean(), abs=6e-4)
    assert float(auto[4]) == pytest.approx(prepared.sum(), abs=6e-4)
    assert (tmp_path / "demo" / "learning_curve.png").is_file()
    assert (tmp_path / "demo" / "auto" / "queries.csv").is_file()


@pytest.mark.slow
def test_run_with_noisy_annotators_reports_them(tmp_path):
    make_blobs_frame(n_per_class=20).to_csv(tmp_path / "blobs.csv", index=False)
    done = autoal("run", "blobs.csv", "--rounds", "2", "--batch", "6", "--init", "3",
                  "--learner", "tabular", "--annotators", "0.9", "0.6", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Annotators:" in done.stdout and "annotator_quality" in done.stdout
    assert "Consensus labels right" in done.stdout
    stats = pd.read_csv(tmp_path / "out" / "annotator_stats.csv")
    assert set(stats["annotator"]) == {"annotator_0", "annotator_1"}
    assert (tmp_path / "out" / "consensus.csv").is_file()


@pytest.mark.slow
def test_bench_compares_strategies(tmp_path):
    make_blobs_frame(n_per_class=20).to_csv(tmp_path / "blobs.csv", index=False)
    done = autoal("bench", "blobs.csv", "--strategies", "margin", "random", "--seeds", "0", "1",
                  "--rounds", "1", "--batch", "5", "--init", "2", "--learner", "tabular",
                  "--out", "b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "label_saving_ratio" in done.stdout
    summary = pd.read_csv(tmp_path / "b" / "summary.csv")
    assert set(summary["strategy"]) == {"margin", "random"}
    assert (summary["seeds"] == 2).all()
    assert (tmp_path / "b" / "learning_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_errors_are_reported_not_raised(tmp_path):
    make_blobs_frame().to_csv(tmp_path / "blobs.csv", index=False)
    done = autoal("run", "blobs.csv", "--batch", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert "autoal run: error: --batch must be an int >= 1. Got 0." in done.stderr
    done = autoal("run", "missing.csv", cwd=tmp_path)
    assert done.returncode == 2 and "No such data file" in done.stderr


@pytest.mark.slow
def test_a_human_round_through_the_cli(tmp_path):
    df = make_blobs_frame(n_per_class=15, n_classes=3, seed=4)
    truth = df["label"].copy()
    df.loc[df.index[9:], "label"] = None
    df.to_csv(tmp_path / "pool.csv", index=False)
    done = autoal("init", "pool.csv", "--workdir", "proj", "--learner", "tabular", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "45 rows, 9 labeled" in done.stdout
    done = autoal("next", "proj", "--batch", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    queue = pd.read_csv(tmp_path / "proj" / "queue.csv")
    assert len(queue) == 4
    answers = pd.DataFrame({"row": queue["row"], "label": truth.loc[queue["row"]].to_numpy()})
    answers.iloc[:3].to_csv(tmp_path / "answers.csv", index=False)
    bad = answers.assign(label=["class_0", "nope", "class_1", "class_2"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    done = autoal("import", "proj", "bad.csv", "--annotator", "ana", cwd=tmp_path)
    assert done.returncode == 2 and "nothing was stored" in done.stderr
    done = autoal("import", "proj", "answers.csv", "--annotator", "ana", cwd=tmp_path)
    assert done.returncode == 0 and "Stored 3 answers" in done.stdout, done.stderr
    done = autoal("status", "proj", cwd=tmp_path)
    assert "12 labeled" in done.stdout and "3 of 4 rows answered" in done.stdout, done.stderr
    done = autoal("export", "proj", "tasks.json", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "tasks.xml").is_file(), done.stderr
    done = autoal("export", "proj", "labeled.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "labeled.csv")) == 12
