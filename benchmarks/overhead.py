"""autoal's own per-round cost, beside AutoGluon's fit and predict and a bare loop.

    HF_HUB_OFFLINE=1 uv run python benchmarks/overhead.py [--rounds 10] [--batch 100] \
        [--init 8] [--reps 2] [--seed 0]

Target (issue 6): everything autoal does in a round besides AutoGluon's own fit and
predict (bookkeeping, label encoding, feature lookup, scoring, selection, writing
state) is at most 3% of the round's wall time on the demo data, and autoal is within
5% of a bare hand-written AutoGluon + cleanlab loop at the same settings.

Setting: the demo's, ``autoal.loop(df, rounds=10, batch=100, init=8, learner="auto")``
on data/fashion/labels.csv (3,000 images), which on a CPU is the EmbeddingLearner;
``workdir`` set as ``autoal demo`` does, so the loop writes its tables every round.

The yardstick is a bare loop written here: the same embedding features (computed once
by an EmbeddingLearner prepared on the same rows in the same order, so identical), the
same TabularPredictor settings as EmbeddingLearner (bagged, 3 folds, LR + KNN,
sequential folds, log_loss, random_seed), the same test split and initial set (taken
from the autoal run), ``get_active_learning_scores`` on the out-of-fold probabilities of
the labeled pool and the probabilities of the unlabeled pool, the ``batch`` lowest
unlabeled scores picked, test accuracy measured each round.

AutoGluon's time is measured the same way in both loops: ``TabularPredictor.__init__``,
``fit``, ``predict_proba`` and ``predict_proba_oof`` are wrapped with a clock for the
duration of the run (nested calls counted once). A round of autoal runs from one call
of ``learner.fit`` to the next (the last one to the loop's return), so it holds
everything the loop does between fits; the time before the first fit (image checks,
loading the embedding cache, PCA) is reported apart as setup. "other" = round wall
time - AutoGluon time. autoal and bare runs alternate (A B A B ...) in one process so
load from other jobs on the machine hits both alike; the embedding cache is warmed
first (a no-op when ~/.cache/autoal already holds the 3,000 images).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import logging
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import autoal
from autogluon.tabular import TabularPredictor
from cleanlab.multiannotator import get_active_learning_scores

from autoal.learners import DEFAULT_EMBEDDING_MODELS

DATA = Path(__file__).resolve().parent.parent / "data" / "fashion" / "labels.csv"
import autoal.session  # noqa: E402  (the round engine the loop drives)

SESSION = sys.modules["autoal.session"]
ANN = sys.modules["autoal.annotations"]


def rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Seconds spent inside wrapped functions, by bucket; nested calls (in the same
    thread) count once. The loop writes its files and deletes old models in background
    threads: their buckets add up time spent beside the loop's own thread."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def total(self, bucket: str) -> float:
        return self.seconds.get(bucket, 0.0)

    def depth(self) -> int:
        return getattr(self._local, "depth", 0)

    def add(self, bucket: str, seconds: float) -> None:
        with self._lock:
            self.seconds[bucket] = self.seconds.get(bucket, 0.0) + seconds

    def wrap(self, bucket: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if self.depth():
                return fn(*args, **kwargs)
            self._local.depth = 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(bucket, time.perf_counter() - t0)
                self._local.depth = 0
        return timed

    @contextlib.contextmanager
    def patched(self, targets):
        """``targets``: (object, attribute, bucket); restored on exit."""
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in targets]
        try:
            for (obj, name, bucket), (_, _, fn) in zip(targets, saved):
                setattr(obj, name, self.wrap(bucket, fn))
            yield self
        finally:
            for obj, name, fn in saved:
                setattr(obj, name, fn)


AG_METHODS = ["__init__", "fit", "predict_proba", "predict_proba_oof"]
#: autoal's own steps timed apart (functions of autoal.session / autoal.annotations, and
#: the EmbeddingLearner's feature lookup: file hashing + cache lookup + PCA transform)
PARTS = ("features", "consensus", "annotate", "can_relabel", "wide", "activelab", "select",
         "remember", "align_proba", "metrics", "save", "discard")
BACKGROUND = ("discard",)


class TimedEmbeddingLearner(autoal.EmbeddingLearner):
    """EmbeddingLearner that stamps the start of each fit (= each round) with the
    AutoGluon seconds spent so far, and times its feature lookup."""

    def __init__(self, clock: Clock, **kwargs):
        super().__init__(**kwargs)
        self.clock = clock
        self.stamps = []  # (perf_counter, AutoGluon seconds so far, autoal buckets so far)

    def fit(self, data, label):
        self.stamps.append((time.perf_counter(), self.clock.total("ag"), dict(self.clock.seconds)))
        return super().fit(data, label)

    def _features(self, data):
        if self.clock.depth():  # inside an AutoGluon call: not ours to count
            return super()._features(data)
        t0 = time.perf_counter()
        out = super()._features(data)
        self.clock.add("features", time.perf_counter() - t0)
        return out


def run_autoal(df, args, workdir: Path):
    clock = Clock()
    learner = TimedEmbeddingLearner(clock, seed=args.seed, progress=False,
                                    path=workdir / "models")
    targets = [(TabularPredictor, m, "ag") for m in AG_METHODS] + [
        (SESSION.Session, "_save", "save"), (SESSION, "discard", "discard"),
        (ANN, "consensus", "consensus"), (autoal.strategies, "activelab", "activelab"),
        (SESSION.Session, "tell", "annotate"), (SESSION.Session, "_can_relabel", "can_relabel"),
        (SESSION, "_remember", "remember"), (SESSION, "align_proba", "align_proba"),
        (SESSION, "select_batch", "select"), (ANN, "wide", "wide"),
        (SESSION, "_metrics", "metrics"),
    ]
    # the loop looks the strategy up in STRATEGIES; point it at the clocked function
    with clock.patched(targets):
        saved = autoal.strategies.STRATEGIES["activelab"]
        autoal.strategies.STRATEGIES["activelab"] = autoal.strategies.activelab
        try:
            t0 = time.perf_counter()
            result = autoal.loop(df, rounds=args.rounds, batch=args.batch, init=args.init,
                                 seed=args.seed, learner=learner, workdir=workdir,
                                 progress=False)
            t_end = time.perf_counter()
        finally:
            autoal.strategies.STRATEGIES["activelab"] = saved
    ends = [s[0] for s in learner.stamps[1:]] + [t_end]
    ag_ends = [s[1] for s in learner.stamps[1:]] + [clock.total("ag")]
    buckets_end = [s[2] for s in learner.stamps[1:]] + [dict(clock.seconds)]
    rows = []
    for r, ((start, ag0, b0), end, ag1, b1) in enumerate(zip(learner.stamps, ends, ag_ends,
                                                              buckets_end)):
        row = {"round": r, "wall": end - start, "ag": ag1 - ag0}
        for name in PARTS:
            row[name] = b1.get(name, 0.0) - b0.get(name, 0.0)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("round")
    table["other"] = table["wall"] - table["ag"]
    setup = learner.stamps[0][0] - t0
    return table, setup, result


def run_bare(df, args, test_index, initial, workdir: Path, label="label"):
    """The yardstick: a hand-written AutoGluon + cleanlab loop on precomputed features."""
    clock = Clock()
    with clock.patched([(TabularPredictor, m, "ag") for m in AG_METHODS]):
        t0 = time.perf_counter()
        classes = sorted(df[label].unique())
        pool_index = df.index.difference(test_index, sort=False)
        features = df.drop(columns=[label])
        order = features.loc[pool_index].index.append(features.loc[test_index].index)
        embed = autoal.EmbeddingLearner(seed=args.seed, progress=False)
        embed.prepare(features.loc[order], {"image_path": "image_path"})
        X = embed._features(features.loc[order]).set_axis(order)
        y = df[label]
        X_test, y_test = X.loc[test_index], y.loc[test_index].to_numpy()
        labeled = list(initial)
        setup = time.perf_counter() - t0
        rows = []
        for r in range(args.rounds + 1):
            start, ag0 = time.perf_counter(), clock.total("ag")
            train = X.loc[labeled].assign(**{label: y.loc[labeled].to_numpy()})
            folds = min(3, int(train[label].value_counts().max()))
            predictor = TabularPredictor(label=label, problem_type="multiclass",
                                         eval_metric="log_loss", verbosity=0,
                                         path=str(workdir / f"fit-{r:03d}"))
            predictor.fit(train, hyperparameters=DEFAULT_EMBEDDING_MODELS,
                          num_bag_folds=max(folds, 2), num_bag_sets=1, num_stack_levels=0,
                          ag_args_fit={"random_seed": args.seed},
                          ag_args_ensemble={"fold_fitting_strategy": "sequential_local"})
            oof = predictor.predict_proba_oof(train_data=train, as_multiclass=True)
            test_probs = predictor.predict_proba(X_test, as_multiclass=True)
            test_probs = test_probs.reindex(columns=classes, fill_value=0.0).to_numpy()
            accuracy = float((np.asarray(classes)[test_probs.argmax(axis=1)] == y_test).mean())
            if r < args.rounds:
                unlabeled = pool_index.difference(pd.Index(labeled), sort=False)
                probs_u = predictor.predict_proba(X.loc[unlabeled], as_multiclass=True)
                probs_u = probs_u.reindex(columns=classes, fill_value=0.0).to_numpy()
                probs_l = oof.reindex(columns=classes, fill_value=0.0).to_numpy()
                codes = pd.Series(range(len(classes)), index=classes)
                given = codes.loc[train[label]].to_numpy(dtype=float)[:, None]
                with contextlib.redirect_stdout(io.StringIO()):
                    _, scores_u = get_active_learning_scores(given, probs_l, probs_u)
                picks = np.argsort(scores_u, kind="stable")[: args.batch]
                labeled += unlabeled[picks].tolist()
            end = time.perf_counter()
            rows.append({"round": r, "wall": end - start, "ag": clock.total("ag") - ag0,
                         "accuracy": accuracy, "n_labeled": len(train)})
    table = pd.DataFrame(rows).set_index("round")
    table["other"] = table["wall"] - table["ag"]
    return table, setup


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--init", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reps", type=int, default=2, help="alternating autoal/bare pairs")
    parser.add_argument("--out", default="benchmarks/results/overhead.csv")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("autoal").setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    df = autoal.read_table(args.data)
    base = rss_mib()
    print(f"{len(df)} images; rounds {args.rounds}, batch {args.batch}, init {args.init}/class, "
          f"seed {args.seed}, reps {args.reps}; os.cpu_count() = {os.cpu_count()}", flush=True)
    t0 = time.perf_counter()
    warm = autoal.EmbeddingLearner(progress=True)
    warm.prepare(df.drop(columns=["label"]), {"image_path": "image_path"})
    del warm
    print(f"embedding cache warm-up: {time.perf_counter() - t0:.1f}s (0 images left to embed "
          f"if ~/.cache/autoal was warm)", flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="autoal-overhead-"))
    runs = []
    try:
        # Untimed warm-up of both code paths (AutoGluon's and cleanlab's lazy imports
        # would otherwise land in whichever loop runs first).
        t0 = time.perf_counter()
        warm_args = argparse.Namespace(**{**vars(args), "rounds": 1})
        _, _, result = run_autoal(df, warm_args, scratch / "warm-autoal")
        initial = result.annotations.loc[result.annotations["round"] == 0, "row"]
        run_bare(df, warm_args, result.test_index, initial, scratch / "warm-bare")
        print(f"untimed warm-up (1 round of each loop): {time.perf_counter() - t0:.1f}s",
              flush=True)
        for rep in range(args.reps):
            a, a_setup, result = run_autoal(df, args, scratch / f"autoal-{rep}")
            initial = result.annotations.loc[result.annotations["round"] == 0, "row"]
            b, b_setup = run_bare(df, args, result.test_index, initial, scratch / f"bare-{rep}")
            a["accuracy"] = result.history.set_index("round")["accuracy"]
            a["n_labeled"] = result.history.set_index("round")["n_labeled"]
            runs.append((a, a_setup, b, b_setup))
            print(f"rep {rep}: autoal rounds {a['wall'].sum():.1f}s (AutoGluon "
                  f"{a['ag'].sum():.1f}s, other {a['other'].sum():.2f}s = "
                  f"{100 * a['other'].sum() / a['wall'].sum():.1f}%), setup {a_setup:.1f}s | "
                  f"bare rounds {b['wall'].sum():.1f}s (AutoGluon {b['ag'].sum():.1f}s, other "
                  f"{b['other'].sum():.2f}s = {100 * b['other'].sum() / b['wall'].sum():.1f}%), "
                  f"setup {b_setup:.1f}s | ratio autoal/bare {a['wall'].sum() / b['wall'].sum():.3f}",
                  flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    pd.set_option("display.width", 200)
    fmt = "{:.3f}".format
    # Per round, mean over reps.
    a_mean = sum(r[0] for r in runs) / len(runs)
    b_mean = sum(r[2] for r in runs) / len(runs)
    per_round = pd.DataFrame({
        "labels": a_mean["n_labeled"].astype(int),
        "autoal wall s": a_mean["wall"], "autoal AG s": a_mean["ag"],
        "autoal other s": a_mean["other"],
        "autoal other %": 100 * a_mean["other"] / a_mean["wall"],
        "bare wall s": b_mean["wall"], "bare AG s": b_mean["ag"], "bare other s": b_mean["other"],
        "bare other %": 100 * b_mean["other"] / b_mean["wall"],
        "autoal/bare": a_mean["wall"] / b_mean["wall"],
    })
    print(f"\nPer round, mean over {len(runs)} rep(s) (AG = AutoGluon's fit + predict):")
    print(per_round.to_string(float_format=fmt))

    print("\nautoal's other seconds per round by part (mean over reps; 'rest' = loop "
          "bookkeeping not in a named part; save is written in the round, state file last; "
          "discard runs in a background thread beside the next round, so it is not part of "
          "'other'):")
    parts = a_mean[["other", *PARTS]].copy()
    parts["rest"] = parts["other"] - parts[[p for p in PARTS if p not in BACKGROUND]].sum(axis=1)
    parts.loc["total"] = parts.sum()
    print(parts.to_string(float_format=fmt))

    print("\nTotals per rep (rounds only; setup apart):")
    rows = []
    for rep, (a, a_setup, b, b_setup) in enumerate(runs):
        rows.append({"rep": rep, "autoal wall s": a["wall"].sum(), "autoal AG s": a["ag"].sum(),
                     "autoal other s": a["other"].sum(),
                     "autoal other %": 100 * a["other"].sum() / a["wall"].sum(),
                     "autoal setup s": a_setup, "bare wall s": b["wall"].sum(),
                     "bare AG s": b["ag"].sum(), "bare other s": b["other"].sum(),
                     "bare other %": 100 * b["other"].sum() / b["wall"].sum(),
                     "bare setup s": b_setup,
                     "autoal/bare rounds": a["wall"].sum() / b["wall"].sum(),
                     # AutoGluon's share varies with the machine's load; this one compares
                     # only what the loops add around it: 1 + (other_a - other_b) / wall_b
                     "autoal/bare same AG": 1 + (a["other"].sum() - b["other"].sum()) /
                                            b["wall"].sum(),
                     "autoal/bare incl. setup": (a["wall"].sum() + a_setup) /
                                                (b["wall"].sum() + b_setup)})
    totals = pd.DataFrame(rows).set_index("rep")
    print(totals.to_string(float_format=fmt))

    acc = pd.DataFrame({"labels": a_mean["n_labeled"].astype(int),
                        "autoal accuracy": runs[0][0]["accuracy"],
                        "bare accuracy": runs[0][2]["accuracy"]})
    print("\nTest accuracy per round, rep 0 (same features, split and start; picks may differ "
          "by tie-breaks and training-row order):")
    print(acc.to_string(float_format=fmt))

    other = totals["autoal other %"]
    ratio = totals["autoal/bare rounds"]
    peak = rss_mib()
    print(f"\nautoal other share: {other.mean():.2f}% (reps {', '.join(f'{v:.2f}' for v in other)})"
          f" -- target <= 3%")
    print(f"autoal / bare round time: {ratio.mean():.3f} (reps {', '.join(f'{v:.3f}' for v in ratio)})"
          f" -- target <= 1.05")
    same = totals["autoal/bare same AG"]
    print(f"autoal / bare with AutoGluon's time taken as equal (1 + extra other seconds / bare "
          f"round time): {same.mean():.3f} (reps {', '.join(f'{v:.3f}' for v in same)})")
    print(f"peak RSS {peak:.0f} MiB, +{peak - base:.0f} MiB over the baseline after imports "
          f"({base:.0f} MiB); os.cpu_count() = {os.cpu_count()}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    long = pd.concat([pd.concat([a.assign(loop="autoal", rep=i, setup=sa),
                                 b.assign(loop="bare", rep=i, setup=sb)])
                      for i, (a, sa, b, sb) in enumerate(runs)]).reset_index()
    long.to_csv(out, index=False)
    print(f"table: {out}")


if __name__ == "__main__":
    sys.exit(main())
