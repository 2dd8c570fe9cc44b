"""Which query strategy should be autoal's default? Learning curves over data sets and seeds.

    HF_HUB_OFFLINE=1 uv run python benchmarks/default_strategy.py \
        [--datasets digits fashion digits-automl] [--seeds 0 1 2 3 4] \
        [--strategies random activelab margin activelab_margin ...] \
        [--out benchmarks/results/default_strategy]

Target (issue 4): the default's mean test accuracy over the seeds is at or above
random's at every round, and it reaches random's final accuracy with at most half
of random's labels. Data sets (each run through :func:`autoal.bench`, so runs of one
seed share the test split, 20%, and the initial labeled set):

- ``digits``: scikit-learn's bundled digits (1,797 rows, 64 features, 10 classes),
  a tiny start of 1 label per class, 10 rounds of 20. Learner: AutoGluon Tabular,
  bagged logistic regression + k-nearest neighbours (cheap, and strong here).
- ``fashion``: the 3,000 Fashion-MNIST images of data/fashion (10 classes), 1 label
  per class, 10 rounds of 50. Learner: ``"embedding"`` (EfficientNet-Lite0 vectors,
  cached on disk after the first run; then bagged LR + KNN).
- ``digits-automl``: digits with autoal's default tabular models (GBM, extra trees,
  LR), 2 labels per class, 10 rounds of 30: the same data, another learner.

Printed per data set and strategy: mean and sd over seeds of the area under the
learning curve (accuracy against labels, normalised by the label range); the
label-saving ratio, labels needed to reach random's final accuracy divided by
random's final labels, both per seed (mean of the seeds that got there, and how many
did) and on the mean curves; and the worst per-round gap, min over rounds 1..R of
(strategy's mean accuracy - random's), with the number of rounds below random.
Round 0 is left out of the gap: every strategy fits the same model on the same start.
Curves, ``summary.csv``, ``comparison.csv`` (the printed table) and
``learning_curves.png`` go to ``--out/<data set>/``;
runs already saved there are loaded, not rerun (delete the folder to start over).
Timings are wall-clock on a possibly shared machine; the core count is printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import autoal
from autoal.bench import area_under_curve, labels_to_reach
from autoal.strategies import STRATEGIES

FASHION = Path(__file__).resolve().parent.parent / "data" / "fashion" / "labels.csv"
CHEAP = {"LR": {}, "KNN": {}}


def digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    return load_digits(as_frame=True).frame.rename(columns={"target": "label"})


#: name -> (what it is, data, loop settings)
DATASETS = {
    "digits": ("digits, LR+KNN, 1/class, 10 x 20", digits,
               lambda: dict(init=1, batch=20, learner=autoal.TabularLearner(hyperparameters=CHEAP))),
    "fashion": ("fashion, embedding, 1/class, 10 x 50", lambda: autoal.read_table(FASHION),
                lambda: dict(init=1, batch=50, learner="embedding")),
    "digits-automl": ("digits, GBM+XT+LR, 2/class, 10 x 30", digits,
                      lambda: dict(init=2, batch=30, learner="tabular")),
}
DEFAULT_STRATEGIES = ["random", "activelab", "margin", "activelab_margin", "margin_diverse",
                      "activelab_margin_diverse_warm", "activelab_margin_diverse_warm_typical"]


def compare(curves: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """One row per strategy: AUC, label-saving ratio and per-round gap against ``baseline``."""
    base = curves[curves["strategy"] == baseline]
    base_mean = base.groupby("round")[["n_labeled", "accuracy"]].mean()
    rows = []
    for strategy, runs in curves.groupby("strategy", sort=False):
        aucs, ratios = [], []
        for seed, run in runs.groupby("seed"):
            aucs.append(area_under_curve(run["n_labeled"], run["accuracy"]))
            ref = base[base["seed"] == seed]
            need = labels_to_reach(run["n_labeled"], run["accuracy"], ref["accuracy"].iloc[-1])
            ratios.append(need / ref["n_labeled"].iloc[-1])
        mean = runs.groupby("round")[["n_labeled", "accuracy"]].mean()
        gap = (mean["accuracy"] - base_mean["accuracy"]).iloc[1:]
        need = labels_to_reach(mean["n_labeled"], mean["accuracy"], base_mean["accuracy"].iloc[-1])
        ratios = np.array(ratios)
        reached = ~np.isnan(ratios)
        rows.append({
            "strategy": strategy, "auc_mean": np.mean(aucs), "auc_sd": np.std(aucs, ddof=1),
            "final_mean": mean["accuracy"].iloc[-1],
            "ratio_seeds": np.mean(ratios[reached]) if reached.any() else float("nan"),
            "seeds_reached": f"{reached.sum()}/{len(ratios)}",
            "ratio_mean_curve": need / base_mean["n_labeled"].iloc[-1],
            "worst_gap": gap.min(), "worst_round": int(gap.idxmin()),
            "rounds_below": int((gap < -1e-12).sum()),
        })
    return pd.DataFrame(rows).set_index("strategy")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--strategies", nargs="+", default=DEFAULT_STRATEGIES)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/default_strategy")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.strategies) - set(STRATEGIES))
    if unknown:
        parser.error(f"unknown strategies {unknown}; registered: {sorted(STRATEGIES)}")
    if "random" not in args.strategies:
        parser.error("--strategies must include 'random' (the baseline)")
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    handler = logging.StreamHandler(sys.stderr)  # one line per finished run, to follow progress
    handler.setFormatter(logging.Formatter("  %(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger("autoal.bench").addHandler(handler)
    logging.getLogger("autoal.bench").setLevel(logging.INFO)

    print(f"os.cpu_count() = {os.cpu_count()}; seeds {args.seeds}; {args.rounds} rounds; "
          f"strategies {args.strategies}", flush=True)
    tables = {}
    for name in args.datasets:
        title, load, settings = DATASETS[name]
        started = time.perf_counter()
        curves = autoal.bench(load(), strategies=args.strategies, seeds=args.seeds,
                              rounds=args.rounds, out=Path(args.out) / name, progress=False,
                              **settings())
        tables[name] = compare(curves)
        tables[name].to_csv(Path(args.out) / name / "comparison.csv")
        print(f"\n{title}: {time.perf_counter() - started:.0f} s", flush=True)
        with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 160):
            print(tables[name].to_string(), flush=True)
            mean = curves.groupby(["round", "strategy"], sort=False)["accuracy"].mean()
            labels = curves.groupby("round")["n_labeled"].mean().rename("labels")
            print("mean test accuracy per round:")
            print(pd.concat([labels, mean.unstack("strategy")], axis=1).to_string(), flush=True)
    print(f"\nratio_seeds: mean over the seeds that reached random's final accuracy "
          f"(seeds_reached says how many); ratio_mean_curve: on the mean curves; "
          f"worst_gap: min over rounds 1..{args.rounds} of mean accuracy - random's.")
    print(f"Tables: {Path(args.out)}/<data set>/comparison.csv")


if __name__ == "__main__":
    main()
