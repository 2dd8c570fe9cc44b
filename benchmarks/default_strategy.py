"""Is ``auto`` the right default? Learning curves over tables, images and text.

    HF_HUB_OFFLINE=1 uv run python benchmarks/default_strategy.py --root ROOT \\
        [--sets digits fashion austen ...] [--role choose|report] [--seeds 0 1 2] \\
        [--strategies random margin activelab auto ...] [--rounds 10] \\
        [--out benchmarks/results/default_strategy]

Issue 15's goal, checked per data set for ``auto`` (the last lines): its mean test
accuracy is at or above margin's and random's in every round; per seed it is never
more than 0.01 below random; it reaches random's final mean accuracy with at most half
of random's labels (on the mean curves); its area under the curve is the best of the
strategies run. The data sets, their settings and which were used to choose settings
(``choose``) or only to report (``report``) are in ``benchmarks/suite.py`` (its
docstring says how to get the packages into ``ROOT``). Every strategy of one seed starts
from the same test split (20%) and labeled rows (:func:`autoal.bench`).

Printed per set and strategy: AUC mean and sd over seeds; final accuracy; the
label-saving ratio on the mean curves and per seed ("never": that seed never reaches
random's final accuracy); the worst gap of the mean curve to random and to margin
(rounds 1..R; round 0 is the same model for all) with its round, and the worst per-seed
gap to each; seconds per round (fit + predict + score, mean over rounds and seeds).
Then the mean accuracy per round. Runs are saved in ``--out/<set>/`` and loaded, not
rerun, when their settings match (the learner is made here, so its parameters are part
of them: ``--learner-option text_features=none``, and so are autoal's default tabular
models; ``--tag`` names a variant of the code). Timings are wall-clock on a possibly shared machine; the core count and load are
printed.
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
from autoal.bench import summarize
from autoal.strategies import STRATEGIES, diverse, margin, typical, warm_up, with_activelab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import SETS  # noqa: E402

DEFAULT_STRATEGIES = ["random", "margin", "activelab", "auto"]


def _named(strategy, name):
    strategy.__name__ = strategy.__qualname__ = name
    return strategy


#: Candidates for the default that are not registered strategies (by name here).
CANDIDATES = {
    name: _named(with_activelab(warm_up(diverse(margin, beta=beta), first=typical)), name)
    for name, beta in (("auto_beta3", 3), ("auto_beta10", 10))  # auto, and auto until 0.1
}
SECONDS = ["fit_seconds", "predict_seconds", "score_seconds"]


def _gaps(curves: pd.DataFrame, strategy: str, against: str) -> tuple:
    """(worst gap of the mean curve, its round, worst gap of any seed) over rounds 1..R."""
    if against not in set(curves["strategy"]) or strategy == against:
        return float("nan"), -1, float("nan")
    accuracy = curves.pivot_table(index=["seed", "round"], columns="strategy",
                                  values="accuracy")
    diff = (accuracy[strategy] - accuracy[against]).unstack("seed").iloc[1:]
    mean = diff.mean(axis=1)
    return float(mean.min()), int(mean.idxmin()), float(diff.min().min())


def compare(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy: :func:`autoal.bench.summarize`'s figures, the gaps to random
    and to margin, and seconds per round."""
    table = summarize(curves, baseline="random")
    for against in ("random", "margin"):
        gaps = [_gaps(curves, s, against) for s in table.index]
        table[f"gap_{against}"] = [g[0] for g in gaps]
        table[f"round_{against}"] = [g[1] for g in gaps]
        table[f"seed_gap_{against}"] = [g[2] for g in gaps]
    per_round = curves[curves["round"] < curves["round"].max()]  # the last is only scored
    table["s_per_round"] = per_round[SECONDS].sum(axis=1).groupby(per_round["strategy"]).mean()
    return table


def learner(name: str, options: dict):
    """The set's learner as an object, so a run's saved settings name every parameter
    (a learner given by name is described by its name only)."""
    made = {"embedding": autoal.EmbeddingLearner, "tabular": autoal.TabularLearner}[name]
    return made(**({"progress": False} if name == "embedding" else {}), **options)


def _option(text: str) -> tuple:
    key, _, value = text.partition("=")
    for parse in (int, float):
        try:
            return key, parse(value)
        except ValueError:
            pass
    return key, {"none": None, "true": True, "false": False}.get(value.lower(), value)


def verdict(table: pd.DataFrame, strategy: str = "auto") -> dict:
    """Issue 15's four checks for ``strategy`` (True, False or None where not measurable)."""
    row = table.loc[strategy]
    nan = np.isnan
    return {
        "above margin and random": None if nan(row["gap_margin"]) else bool(
            min(row["gap_margin"], row["gap_random"]) >= -1e-9),
        "per seed >= random - 0.01": bool(row["seed_gap_random"] >= -0.01 - 1e-9),
        "ratio <= 0.5": bool(row["label_saving_ratio"] <= 0.5),
        "best AUC": bool(row["auc_mean"] >= table["auc_mean"].max() - 1e-12),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--role", choices=["choose", "report"],
                        help="only the sets of this role")
    parser.add_argument("--root", default="benchmarks/data",
                        help="folder of the packages the sets come from (see suite.py)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=DEFAULT_STRATEGIES)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--learner-option", nargs="*", default=[], metavar="KEY=VALUE",
                        help="learner parameters, e.g. text_features=none")
    parser.add_argument("--tag", default="", help="a name for this variant of the code")
    parser.add_argument("--out", default="benchmarks/results/default_strategy")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.strategies) - set(STRATEGIES) - set(CANDIDATES))
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

    names = [n for n in args.sets if args.role in (None, SETS[n].role)]
    print(f"os.cpu_count() = {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; seeds "
          f"{args.seeds}; {args.rounds} rounds; strategies {args.strategies}", flush=True)
    verdicts = {}
    for name in names:
        spec = SETS[name]
        out = Path(args.out) / (f"{name}-{args.tag}" if args.tag else name)
        started = time.perf_counter()
        options = dict(_option(o) for o in args.learner_option)
        settings = dict(spec.settings, learner=learner(spec.settings["learner"], options))
        strategies = [CANDIDATES.get(name, name) for name in args.strategies]
        curves = autoal.bench(spec.load(Path(args.root)), strategies=strategies,
                              seeds=args.seeds, rounds=args.rounds, out=out, progress=False,
                              **settings)
        table = compare(curves)
        table.to_csv(out / "comparison.csv")
        settings = ", ".join(f"{k}={v}" for k, v in spec.settings.items())
        settings += "".join(f", {k}={v!r}" for k, v in options.items())
        print(f"\n== {name} ({spec.modality}, {spec.role}): {spec.what}; {settings}; "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 200,
                               "display.max_columns", 30):
            print(table.drop(columns=["seeds"]).to_string(), flush=True)
            mean = curves.groupby(["round", "strategy"], sort=False)["accuracy"].mean()
            labels = curves.groupby("round")["n_labeled"].mean().rename("labels")
            print("mean test accuracy per round:")
            print(pd.concat([labels, mean.unstack("strategy")], axis=1).to_string(), flush=True)
        if "auto" in table.index:
            verdicts[f"{name} ({spec.modality}, {spec.role})"] = verdict(table)
    if verdicts:
        print("\nauto against issue 15's goal:")
        print(pd.DataFrame(verdicts).T.to_string())
    print(f"\ngap_X: min over rounds 1..{args.rounds} of the mean curve minus X's (round_X: "
          f"where); seed_gap_X: the same per seed, the worst seed. Tables: "
          f"{Path(args.out)}/<set>/comparison.csv")


if __name__ == "__main__":
    main()
