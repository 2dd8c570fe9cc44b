"""autoal.plotting: figures that save, without touching the user's matplotlib backend."""

import os
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest

from autoal.plotting import finish_axes, plot_bench, plot_curves

PLOT = """
import sys
from types import SimpleNamespace
import pandas as pd
{setup}
import matplotlib
before = matplotlib.get_backend()
from autoal.plotting import plot_curves
run = SimpleNamespace(history=pd.DataFrame({{"n_labeled": [10, 20], "accuracy": [0.5, 0.7]}}))
fig = plot_curves({{"a": run}})
fig.savefig(sys.argv[1])
assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())
print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot")
"""


def run(history):
    return SimpleNamespace(history=pd.DataFrame(history))


@pytest.mark.parametrize("setup, pyplot", [
    ("", "no pyplot"),  # a standalone Figure; pyplot is never imported
    ("import matplotlib.pyplot as plt; plt.switch_backend('svg')", "pyplot"),  # the user's
])
def test_the_backend_stays_and_savefig_writes_a_png(tmp_path, setup, pyplot):
    png = tmp_path / "curve.png"
    done = subprocess.run([sys.executable, "-c", PLOT.format(setup=setup), str(png)],
                          env={**os.environ, "MPLBACKEND": "svg"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == pyplot
    assert png.read_bytes().startswith(b"\x89PNG")


def test_curves_draw_one_line_per_result_on_a_given_axes():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    results = {"a": run({"n_labeled": [10, 20], "accuracy": [0.5, 0.7]}),
               "b": run({"n_labeled": [10, 20], "accuracy": [0.5, 0.6]})}
    fig = plot_curves(results, ax=ax)
    assert fig is ax.figure
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_ylabel() == "test accuracy"


def test_a_missing_metric_is_named():
    with pytest.raises(ValueError, match="History has no 'f1' column"):
        plot_curves({"a": run({"n_labeled": [10], "accuracy": [0.5]})}, metric="f1")


def test_bench_plot_and_finish_axes(tmp_path):
    curves = pd.DataFrame({"strategy": ["random"] * 4, "seed": [0, 0, 1, 1],
                           "round": [0, 1, 0, 1], "n_labeled": [10, 20, 10, 20],
                           "balanced_accuracy": [0.5, 0.6, 0.4, 0.7]})
    fig = plot_bench(curves, metric="balanced_accuracy")
    ax = fig.axes[0]
    assert ax.get_title() == "mean over 2 seed(s); band: min to max"
    assert ax.get_ylabel() == "test balanced accuracy"
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([0.45, 0.65])
    assert finish_axes(fig, ax, "accuracy") is fig
    fig.savefig(tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 0
