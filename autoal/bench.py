"""Compare strategies fairly on your own data: :func:`bench`.

Every strategy runs once per seed. Runs that share a seed share the test split and
the initial labeled set (the loop derives both from the seed alone), so the curves
differ only by what each strategy picked. Each finished run is saved at once with the
settings and data it ran on, so an interrupted benchmark keeps what it finished and a
second call skips it, unless a setting or the data changed.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ._checks import check_int
from ._describe import describe
from .data import infer_column_types
from .learners import make_learner, run_defaults
from .loop import loop
from .plotting import plot_bench
from .rundir import RunDir, fingerprint, write_csv, write_json

logger = logging.getLogger(__name__)

CURVE = ["strategy", "seed", "round", "n_labeled", "n_annotations", "accuracy",
         "balanced_accuracy", "n_relabeled", "n_relabel_requests", "fit_seconds",
         "predict_seconds", "score_seconds"]


def bench(df: pd.DataFrame, strategies=("auto", "random"), seeds=(0, 1, 2), *,
          rounds: int = 10, batch: int = 150, out=None, baseline: str = "random",
          **loop_kwargs) -> pd.DataFrame:
    """Run ``loop`` for every strategy and seed; return the tidy learning curves.

    Parameters
    ----------
    df, rounds, batch, **loop_kwargs : as for :func:`autoal.loop` (a test set is needed:
        ``test_size`` must stay above 0 or ``test`` be given).
    strategies : names (or functions) to compare.
    seeds : one run per strategy per seed.
    out : folder where each run's curve is saved as ``<strategy>-seed<seed>.csv`` as soon
        as it finishes, with the settings and data fingerprint it ran on beside it
        (``<strategy>-seed<seed>.json``); runs saved there with the same settings and
        data are loaded, not rerun.
    baseline : the strategy whose final accuracy defines the label-saving ratio in
        :func:`summarize` (written to ``out/summary.csv``).

    Returns a DataFrame with one row per strategy, seed and round: ``strategy, seed,
    round, n_labeled, n_annotations, accuracy, balanced_accuracy, n_relabeled,
    n_relabel_requests, fit_seconds, predict_seconds, score_seconds`` (as in
    :attr:`autoal.loop.Result.history`; the last round's predict and score seconds are
    0: its model is only evaluated).
    """
    rounds = check_int("rounds", rounds, minimum=1, owner="bench")
    batch = check_int("batch", batch, minimum=1, owner="bench")
    strategies, seeds = list(strategies), list(seeds)
    if not strategies or not seeds:
        raise ValueError("bench needs at least one strategy and one seed.")
    if loop_kwargs.get("test_size", 0.2) == 0 and loop_kwargs.get("test") is None:
        raise ValueError("bench compares test accuracy: leave test_size > 0 or pass test=.")
    folder = Path(out) if out is not None else None
    if folder is not None:
        RunDir(folder).check_folder("out", owner="bench")
        folder.mkdir(parents=True, exist_ok=True)
    # Described once, before any run changes a learner's or oracle's state.
    shared = _run_settings(df, rounds=rounds, batch=batch, **loop_kwargs) if folder else None
    curves = []
    for seed in seeds:
        for strategy in strategies:
            name = strategy if isinstance(strategy, str) else getattr(strategy, "__name__", "custom")
            path = folder / f"{name}-seed{seed}.csv" if folder is not None else None
            if path is not None:
                settings = _plain({**shared, "strategy": describe(strategy), "seed": seed})
                saved = _saved(path, settings)
                if saved is not None:
                    logger.info("bench: %s seed %d already done, loading %s", name, seed, path)
                    curves.append(saved)
                    continue
            logger.info("bench: %s seed %d", name, seed)
            result = loop(df, rounds=rounds, batch=batch, strategy=strategy, seed=seed,
                          **loop_kwargs)
            curve = result.history.assign(strategy=name, seed=seed).reindex(columns=CURVE)
            if path is not None:
                write_csv(path, curve)
                write_json(path.with_suffix(".json"), settings)  # last: the pair is complete
            curves.append(curve)
    table = pd.concat(curves, ignore_index=True)
    if folder is not None:
        write_csv(folder / "curves.csv", table)
        write_csv(folder / "summary.csv", summarize(table, baseline=baseline).reset_index())
        plot_bench(table).savefig(folder / "learning_curves.png", dpi=120)
    return table


def area_under_curve(n_labeled, accuracy) -> float:
    """Area under accuracy against labels, divided by the label range: in [0, 1]."""
    x, y = np.asarray(n_labeled, dtype=float), np.asarray(accuracy, dtype=float)
    if len(x) < 2 or x[-1] == x[0]:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def labels_to_reach(n_labeled, accuracy, target: float) -> float:
    """The fewest labels at which ``accuracy`` reaches ``target`` (NaN if never)."""
    reached = np.flatnonzero(np.asarray(accuracy) >= target - 1e-12)
    return float(np.asarray(n_labeled)[reached[0]]) if len(reached) else float("nan")


def summarize(curves: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Per strategy, over seeds: the normalised area under the learning curve and the
    final accuracy (mean and sd), and the label-saving ratio.

    The label-saving ratio is read on the mean curves (accuracy and labels averaged over
    seeds, round by round): the labels at which the strategy's mean curve first reaches
    the baseline's final mean accuracy, divided by the baseline's final mean labels.
    Below 1 the strategy saves labels; NaN: its mean curve never gets there. The
    baseline's own ratio is 1 by definition.

    Per seed, the same against that seed's baseline run: ``ratio_per_seed`` lists the
    values in seed order as text, ``"never"`` for a seed that never reaches the
    baseline's final accuracy (``"no baseline"`` where the baseline has no run for the
    seed), and ``seeds_never`` counts the seeds that never got there. ``seeds`` counts
    all seeds, those included.
    """
    base = curves[curves["strategy"] == baseline]
    base_mean = base.groupby("round")[["n_labeled", "accuracy"]].mean()
    rows = []
    for strategy, runs in curves.groupby("strategy", sort=False):
        mean = runs.groupby("round")[["n_labeled", "accuracy"]].mean()
        aucs, finals, per_seed, never = [], [], [], 0
        for seed, run in runs.groupby("seed", sort=True):
            aucs.append(area_under_curve(run["n_labeled"], run["accuracy"]))
            finals.append(run["accuracy"].iloc[-1])
            ref = base[base["seed"] == seed]
            if strategy == baseline:
                per_seed.append("1")
            elif not len(ref):
                per_seed.append("no baseline")
            else:
                need = labels_to_reach(run["n_labeled"], run["accuracy"],
                                       ref["accuracy"].iloc[-1])
                never += int(np.isnan(need))
                per_seed.append("never" if np.isnan(need)
                                else f"{need / ref['n_labeled'].iloc[-1]:.3f}")
        if strategy == baseline:
            ratio = 1.0
        elif len(base_mean):
            ratio = labels_to_reach(mean["n_labeled"], mean["accuracy"],
                                    base_mean["accuracy"].iloc[-1])
            ratio = ratio / base_mean["n_labeled"].iloc[-1]
        else:
            ratio = float("nan")
        rows.append({"strategy": strategy, "auc_mean": np.mean(aucs),
                     "auc_sd": np.std(aucs, ddof=1) if len(aucs) > 1 else float("nan"),
                     "final_accuracy_mean": np.mean(finals),
                     "final_accuracy_sd": np.std(finals, ddof=1) if len(finals) > 1
                     else float("nan"),
                     "label_saving_ratio": ratio, "ratio_per_seed": ", ".join(per_seed),
                     "seeds_never": never, "seeds": len(aucs)})
    return pd.DataFrame(rows).set_index("strategy")


def _run_settings(df: pd.DataFrame, **loop_kwargs) -> dict:
    """What decides a run besides strategy and seed: every :func:`loop` parameter (its
    defaults filled in), the data's fingerprint, and what this autoal's defaults make of
    the learner (its default models, how AutoGluon prepares its columns, how the models
    are blended), so that a curve saved by an autoal of other defaults runs again."""
    bound = inspect.signature(loop).bind_partial(**loop_kwargs)
    bound.apply_defaults()
    settings = {key: describe(value) for key, value in bound.arguments.items()
                if key not in ("df", "progress")}
    learner = _learner(df, bound.arguments)
    return {**settings, **run_defaults(learner), "data": fingerprint(df)}


def _learner(df: pd.DataFrame, arguments: dict):
    """The run's learner, a learner given by name made as the loop makes it."""
    learner = arguments["learner"]
    if isinstance(learner, str):
        types = infer_column_types(df, exclude=[arguments["label"]],
                                   column_types=arguments["column_types"],
                                   base_dir=arguments["base_dir"])
        learner = make_learner(learner, column_types=types, progress=False)
    return learner


def _plain(settings: dict) -> dict:
    """The settings as they read back from JSON (tuples become lists, and so on)."""
    return json.loads(json.dumps(settings))


def _saved(path: Path, settings: dict) -> pd.DataFrame | None:
    """The curve saved at ``path`` if it ran with ``settings`` and has every :data:`CURVE`
    column; else None, and any stale
    settings file is removed (a crash before the new pair is written leaves no match)."""
    meta = path.with_suffix(".json")
    if not path.is_file():
        return None
    stored = json.loads(meta.read_text()) if meta.is_file() else None
    curve = pd.read_csv(path) if stored == settings else None
    if curve is not None and set(CURVE) <= set(curve.columns):
        return curve
    if curve is not None:
        why = "it lacks the columns " + ", ".join(c for c in CURVE if c not in curve.columns)
    elif stored is None:
        why = f"{meta.name} is missing"
    else:
        changed = sorted(k for k in settings.keys() | stored.keys()
                         if settings.get(k) != stored.get(k))
        why = "these settings changed: " + ", ".join(changed)
    logger.info("bench: %s was saved by another run (%s); running it again", path.name, why)
    meta.unlink(missing_ok=True)
    return None
