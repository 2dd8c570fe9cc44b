"""Is the final model better than the rounds' models? Both fitted on the same labels.

    HF_HUB_OFFLINE=1 nice -n 10 uv run python benchmarks/final_vs_rounds.py \
        [--sets pima credit ...] [--seeds 0 1 2] [--rounds 3 10] [--quality medium] \
        [--out final_vs_rounds.csv]

Per data set of ``benchmarks/tabular_vs_forest.py`` (same loaders, ``--r-library`` and
``--weka`` as there), seed and round count: the default loop (``TabularLearner()``, the
``auto`` strategy) from the same test split and 2 labeled rows per class as there, for
``rounds`` rounds; then on its labels, the two candidates of a tabular final fit
(:mod:`autoal.final`), each fitted as ``autoal train`` fits it:

- ``rounds``: the rounds' default models refitted on every label;
- ``portfolio``: the quality's AutoGluon portfolio (``--quality``, its default time
  limit).

Printed per row and, at the end, per set and round count (mean over the seeds): test
accuracy (``_test``) of each candidate, of the one the out-of-fold rule keeps (as
``"high"`` and ``"best"`` do: the portfolio only where its out-of-fold accuracy beats
the rounds' models' by more than ``WEIGHTED_BLEND_MARGIN`` standard errors) and of the
one ``autoal train`` keeps at ``--quality`` (``"medium"``: the rounds' models), how often
the rule kept the portfolio, and seconds. Each row is also written to ``--out`` (CSV)
as it comes. The rule was set before this was run, not chosen on it. The portfolio's
time limit is wall-clock: on a busy machine it fits fewer models.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import autoal
from autoal import final
from autoal.learners import TabularLearner

import tabular_vs_forest as sets


def candidates(df: pd.DataFrame, result, seed: int, quality: str) -> dict:
    """Fit both candidates on ``result``'s labels; their test accuracy, out-of-fold
    correctness and seconds, and which one the final fit keeps."""
    config = result.config
    labels = result.consensus["consensus_label"].dropna()
    types = config["column_types"]
    features = df.drop(columns=["label"])
    columns = [c for c in features.columns if c in types]
    types = {c: types[c] for c in columns}
    train = features.loc[labels.index, columns].copy()
    train["label"] = labels.to_numpy()
    test = result.test_index
    spec = final._spec_from_description(config.get("learner"), types)
    learners = {final.ROUNDS: final._rounds_learner(spec, seed),
                final.PORTFOLIO: final._learner(spec, types, quality, seed=seed,
                                                time_limit=final.QUALITY[quality]["time_limit"])}
    row, right = {"labels": len(train)}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, learner in learners.items():
            start = time.perf_counter()
            learner.prepare(features[columns], types)
            model = learner.with_context(path=f"{folder}/{name}").fit(train, "label")
            row[f"{name}_s"] = time.perf_counter() - start
            right[name] = final._oof_correct(model, config["classes"], train["label"])
            guess = model.predict_proba(df.loc[test, columns]).idxmax(axis=1)
            row[f"{name}_test"] = float(np.mean(guess.to_numpy(dtype=object)
                                      == df.loc[test, "label"].to_numpy(dtype=object)))
            row[f"{name}_oof"] = float(np.mean(right[name]))
    rule, (gain, error) = final._choose(right)  # as "high" and "best" choose
    kept = rule if final.QUALITY[quality]["portfolio_on_tables"] else final.ROUNDS
    return row | {"rule": rule, "rule_test": row[f"{rule}_test"], "kept": kept,
                  "final_test": row[f"{kept}_test"], "gain": gain, "gain_se": error}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["pima", "glass"], choices=list(sets.SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--quality", default="medium", choices=list(final.QUALITY))
    parser.add_argument("--r-library", default=str(sets.R_LIBRARY))
    parser.add_argument("--weka", default=str(sets.WEKA))
    parser.add_argument("--out", default="final_vs_rounds.csv")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("autoal").setLevel(logging.WARNING)
    print(f"os.cpu_count() = {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; "
          f"quality {args.quality}; seeds {args.seeds}; rounds {args.rounds}", flush=True)
    rows = []
    for name in args.sets:
        load, batch, _ = sets.SETS[name]
        df = load(args).reset_index(drop=True)
        df["label"] = df["label"].astype(str)
        for seed in args.seeds:
            test, init = sets.start(df, seed)
            for rounds in args.rounds:
                result = autoal.loop(df, rounds=rounds, batch=batch, init=list(init),
                                     test=list(test), learner=TabularLearner(seed=seed),
                                     seed=seed, progress=False)
                rows.append({"set": name, "seed": seed, "rounds": rounds}
                            | candidates(df, result, seed, args.quality))
                print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in rows[-1].items()), flush=True)
                pd.DataFrame(rows).to_csv(args.out, index=False)
    table = pd.DataFrame(rows)
    table["rule_portfolio"] = table["rule"] == final.PORTFOLIO
    summary = table.groupby(["set", "rounds"], sort=False)[
        ["labels", "rounds_oof", "portfolio_oof", "rounds_test", "portfolio_test",
         "rule_test", "final_test", "rule_portfolio", "rounds_s", "portfolio_s"]].mean()
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print("\nmean over the seeds: test accuracy (_test) of the rounds' models, of the "
              "portfolio, of the one the out-of-fold rule keeps and of the one autoal train "
              "keeps at this quality; out-of-fold accuracy (_oof); share of fits the rule "
              "kept the portfolio; seconds")
        print(summary.to_string())
        print(table.groupby("rounds")[["rounds_test", "portfolio_test", "rule_test",
                                       "final_test"]].mean().to_string())


if __name__ == "__main__":
    main()
