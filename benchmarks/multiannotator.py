"""ActiveLab with relabeling against random and good_random, with noisy annotators.

    uv run python benchmarks/multiannotator.py [--seeds 0 1 2] [--rounds 8] [--batch 50]
    uv run python benchmarks/multiannotator.py --rows 400   # a pool that runs out

Data: scikit-learn's bundled digits (1,797 rows, 64 features, 10 classes). Three
simulated annotators of accuracy 0.9, 0.75 and 0.6 label the picks; each seed
shares its test split and initial set across strategies. Learner: AutoGluon
Tabular (bagged, logistic regression + k-nearest neighbours, to keep it quick).
Prints, per strategy and round, the mean over seeds of the consensus labels'
accuracy (against the true labels) and the model's test accuracy, and writes
the long table to --out.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_digits

import autoal


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--init", type=int, default=3)
    parser.add_argument("--accuracy", type=float, nargs="+", default=[0.9, 0.75, 0.6])
    parser.add_argument("--strategies", nargs="+", default=["activelab", "good_random", "random"])
    parser.add_argument("--rows", type=int, default=None,
                        help="use a random subset of this many rows (a small pool runs out, "
                             "and then good_random asks for second opinions too)")
    parser.add_argument("--out", default="benchmarks/results/multiannotator.csv")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    df = load_digits(as_frame=True).frame.rename(columns={"target": "label"})
    if args.rows:
        df = df.sample(args.rows, random_state=0)
    rows = []
    started = time.perf_counter()
    for seed in args.seeds:
        for strategy in args.strategies:
            learner = autoal.TabularLearner(hyperparameters={"LR": {}, "KNN": {}}, seed=seed)
            result = autoal.loop(
                df, rounds=args.rounds, batch=args.batch, init=args.init, seed=seed,
                strategy=strategy, learner=learner, progress=False,
                annotators=autoal.SimulatedAnnotators(args.accuracy, seed=seed))
            h = result.history.assign(strategy=strategy, seed=seed)
            rows.append(h)
            print(f"seed {seed} {strategy:12s} final test accuracy {h['accuracy'].iloc[-1]:.3f}, "
                  f"consensus accuracy {h['consensus_accuracy'].iloc[-1]:.3f}, "
                  f"relabels {int(h['n_relabeled'].sum())}", flush=True)
    table = pd.concat(rows, ignore_index=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)

    mean = table.groupby(["round", "strategy"]).mean(numeric_only=True)
    print(f"\nMeans over seeds {args.seeds}; {len(df)} rows; annotators' accuracy "
          f"{args.accuracy}; {os.cpu_count()} CPU cores; "
          f"{time.perf_counter() - started:.0f} s in all.")
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 150):
        for column, title in [("n_annotations", "annotations"),
                              ("n_relabeled", "second opinions asked that round"),
                              ("consensus_accuracy", "consensus-label accuracy"),
                              ("accuracy", "model test accuracy")]:
            print(f"\n{title}:")
            print(mean[column].unstack("strategy").to_string())
    print(f"\nLong table: {out}")


if __name__ == "__main__":
    main()
