"""Learning-curve plots: :func:`plot_curves` for runs, :func:`plot_bench` for a benchmark.

Both return a matplotlib ``Figure`` (save it with ``fig.savefig(path)``) and never change
the matplotlib backend. Without an ``ax``, the figure comes from ``matplotlib.pyplot``
when the caller has imported it (so a notebook shows it as usual); otherwise it is a
standalone ``Figure`` that pyplot does not track.
"""

from __future__ import annotations

import sys


def plot_curves(results: dict, ax=None, metric: str = "accuracy"):
    """Draw ``metric`` against labels for several named results on one axes.

    ``results`` maps a name to a :class:`autoal.Result` (or anything with a ``history``
    DataFrame holding ``n_labeled`` and ``metric``). Draws on ``ax`` when given.
    """
    fig, ax = _figure(ax, figsize=(6, 4))
    for name, result in results.items():
        h = result.history
        if metric not in h:
            raise ValueError(f"History has no {metric!r} column (was there a test set?).")
        ax.plot(h["n_labeled"], h[metric], marker="o", label=name)
    return finish_axes(fig, ax, metric)


def plot_bench(curves, metric: str = "accuracy", ax=None):
    """Mean learning curve per strategy with a band from the lowest to the highest seed.

    ``curves`` is the table :func:`autoal.bench` returns (``strategy, seed, round,
    n_labeled`` and ``metric``).
    """
    fig, ax = _figure(ax, figsize=(6.5, 4))
    for strategy, runs in curves.groupby("strategy", sort=False):
        by_round = runs.groupby("round")
        x = by_round["n_labeled"].mean()
        ax.plot(x, by_round[metric].mean(), marker="o", label=strategy)
        ax.fill_between(x, by_round[metric].min(), by_round[metric].max(), alpha=0.2)
    ax.set_title(f"mean over {curves['seed'].nunique()} seed(s); band: min to max")
    return finish_axes(fig, ax, metric)


def finish_axes(fig, ax, metric: str):
    """Labels, grid and legend of a learning-curve plot; returns ``fig``."""
    ax.set_xlabel("labels")
    ax.set_ylabel(f"test {metric.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _figure(ax, figsize):
    """``(fig, ax)``: ``ax`` and its figure, or a new figure that leaves the backend alone."""
    if ax is not None:
        return ax.figure, ax
    if "matplotlib.pyplot" in sys.modules:  # the caller's pyplot, with their backend
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize)
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()
