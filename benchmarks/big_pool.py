"""One round's predict, score and select on big tabular pools: seconds and memory.

    uv run python benchmarks/big_pool.py [--sizes 10000 100000 1000000] [--batch 150]
    uv run python benchmarks/big_pool.py --whole   # also the old way: features.loc[rows]

Data: Gaussian blobs, 50 float32 features, 10 classes, fixed seeds. An AutoGluon
TabularLearner (bagged logistic regression, 3 folds) is fitted once on 500 rows.
Then each pool size runs in a fresh subprocess, which loads the model, builds the
pool, predicts once on 10 rows (so the model is in memory, as after a fit) and
measures one round as the loop runs it: ``predict_pool`` over the unlabeled pool
(every row but 500 labeled ones), ActiveLab scores of both pools, ``select_batch``.

Memory is read from /proc/self/status: ``VmRSS`` after imports, the pool and the
warm-up is the baseline; then ``/proc/self/clear_refs`` resets ``VmHWM`` (the peak
resident set) to it, so the peak reported is the round's own peak, and the increase
is that peak minus the baseline. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

N_FEATURES, N_CLASSES, N_LABELED = 50, 10, 500


def make_pool(n: int, seed: int) -> pd.DataFrame:
    """``n`` rows of blobs around fixed centres; float32 features, string labels."""
    centers = np.random.default_rng(0).normal(scale=1.5, size=(N_CLASSES, N_FEATURES))
    rng = np.random.default_rng(seed)
    y = rng.integers(N_CLASSES, size=n)
    x = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    x += centers.astype(np.float32)[y]
    df = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(N_FEATURES)], copy=False)
    df["label"] = pd.Categorical.from_codes(y, [f"c{k}" for k in range(N_CLASSES)])
    return df


def _status(field: str) -> int:
    """A ``Vm*`` line of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"No {field} in /proc/self/status")


def fit(path: str) -> str:
    import autoal

    train = make_pool(N_LABELED, seed=1)
    learner = autoal.TabularLearner(hyperparameters={"LR": {}}, path=path)
    model = learner.fit(train, "label")
    print(f"fitted {model.predictor.model_best} on {len(train)} rows in {model.path}",
          flush=True)
    return model.path


def one_round(model_path: str, n: int, batch: int, whole: bool) -> dict:
    """Runs in a fresh process: one round on a pool of ``n`` rows."""
    from autogluon.tabular import TabularPredictor

    from autoal.learners import TabularModel
    from autoal.predict import align_proba, predict_pool
    from autoal.select import select_batch
    from autoal.strategies import activelab

    model = TabularModel(TabularPredictor.load(model_path), None)
    pool = make_pool(n, seed=2)
    classes = list(pool["label"].cat.categories)
    codes = pool["label"].cat.codes.to_numpy()
    features = pool.drop(columns=["label"])
    del pool
    pool_bytes = features.memory_usage(index=True).sum()
    labeled = features.index[:N_LABELED]
    model.predict_proba(features.iloc[:10])  # load the fitted models, as after a fit
    lifetime_peak_before = _status("VmHWM")
    baseline = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS

    t0 = time.perf_counter()
    unlabeled = features.index.difference(labeled, sort=False)
    if whole:  # the old way: copy the unlabeled pool, predict it in one call
        probs_u = align_proba(model.predict_proba(features.loc[unlabeled]), classes)
    else:
        probs_u = predict_pool(model, features, unlabeled, classes, progress=False)
    probs_l = predict_pool(model, features, labeled, classes, progress=False)  # stands in for OOF
    t1 = time.perf_counter()
    predict_peak = _status("VmHWM")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    labels = codes[:N_LABELED].astype(float)[:, None]  # one annotator
    rng = np.random.default_rng(0)
    scores = activelab(probs_u, labels=labels, pred_probs=probs_l, rng=rng)
    t2 = time.perf_counter()
    chosen = select_batch(scores.unlabeled, scores.labeled, batch, rng,
                          can_relabel=np.zeros(N_LABELED, dtype=bool))
    t3 = time.perf_counter()
    assert len(chosen.new) == batch
    peak = max(predict_peak, _status("VmHWM"))
    return {"rows": n, "way": "whole" if whole else "chunked",
            "pool_mb": pool_bytes / 2**20, "predict_s": t1 - t0, "score_s": t2 - t1,
            "select_s": t3 - t2, "baseline_mb": baseline / 2**20, "peak_mb": peak / 2**20,
            "increase_mb": (peak - baseline) / 2**20,
            "predict_increase_mb": (predict_peak - baseline) / 2**20,
            "score_select_increase_mb": (_status("VmHWM") - baseline) / 2**20,
            "peak_before_round_mb": lifetime_peak_before / 2**20}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=150)
    parser.add_argument("--whole", action="store_true",
                        help="also run the old way (features.loc[rows], one predict_proba)")
    parser.add_argument("--one", nargs=4, metavar=("MODEL", "N", "BATCH", "WAY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        path, n, batch, way = args.one
        print(json.dumps(one_round(path, int(n), int(batch), way == "whole")))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="autoal-bench-") as folder:
        model_path = fit(folder)
        for n in args.sizes:
            for way in ["chunked", "whole"] if args.whole else ["chunked"]:
                done = subprocess.run(
                    [sys.executable, __file__, "--one", model_path, str(n), str(args.batch), way],
                    capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"{n} rows ({way}) failed:\n{done.stderr[-3000:]}")
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"  {n:>9,} rows ({way}): done", flush=True)
    table = pd.DataFrame(rows)
    print(f"\nOne round (predict + ActiveLab scores + select_batch, batch={args.batch}); "
          f"{os.cpu_count()} CPU cores; memory from /proc/self/status (VmRSS, VmHWM):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
