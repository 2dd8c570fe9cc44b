"""Seconds per round and accuracy: the embedding learner against MultiModal fine-tuning.

    HF_HUB_OFFLINE=1 uv run python benchmarks/embedding_vs_multimodal.py \
        [--rounds 1] [--batch 100] [--epochs 10] [--image-size 64] [--batch-size 16] \
        [--lr 1e-4] [--time-limit 40] \
        [--oof-folds 2] [--embedding-rounds 10] [--embed-sample 200] [--seed 0]

Target (issue 6): on the 3,000 Fashion-MNIST images of data/fashion, on a CPU, an
embedding-learner round is at least 10x faster than a multimodal fine-tuning round,
at equal or better test accuracy after 10 rounds.

Both learners run through ``autoal.loop`` with the same seed, strategy (activelab),
batch, initial set (``--init`` per class) and test split (20%). The embedding learner
runs ``--embedding-rounds`` rounds (default 10); the multimodal learner runs
``--rounds`` (default 1: a multimodal round costs about 7 minutes on 2 shared CPU
cores at the defaults, most of it predicting the 2,300-image pool and the 600 test
images). At 64 px, 10 epochs and 40 s per fit, MultiModal is far from its GPU
settings (224 px, AutoGluon's 20 epochs, no time limit): a round there costs more,
so the ratio measured here is a lower bound. With
one seed and one batch size the loop is deterministic, so the embedding run's first
``--rounds`` rounds are exactly what a shorter embedding run would give: seconds per
round are compared over the rounds both ran.

Seconds per round = fit + predict + score from ``result.history`` (the loop's own
clock). For MultiModal, ``fit`` holds the main fit *and* the ``--oof-folds``
cross-fitting fits for out-of-sample probabilities (``oof_folds=0`` would not save
them: the engine then wraps the learner in ``CrossFitted``, 3 folds). The script also
times each MultiModal fit, so the main fit alone is shown as a lower bound on a
multimodal round.

The embedding learner's one-off cost (embedding every image once, cached on disk
under ``~/.cache/autoal``) is not in its rounds; ``--embed-sample N`` times embedding
N images with the cache bypassed and extrapolates to the whole data set.
Timings are wall-clock on a possibly shared machine; the core count is printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

import autoal
from autoal.learners import MultiModalLearner

DATA = Path(__file__).resolve().parent.parent / "data" / "fashion" / "labels.csv"


def rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TimedMultiModalLearner(MultiModalLearner):
    """MultiModalLearner that records the seconds of each single fit (main and folds)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fits = []  # (n_rows, seconds) of every single fit
        self.main_fits = []  # seconds of the first single fit inside each fit() call

    def fit(self, data, label):
        before = len(self.fits)
        model = super().fit(data, label)
        self.main_fits.append(self.fits[before][1])
        return model

    def _fit_one(self, data, label, folder):
        t0 = time.perf_counter()
        model = super()._fit_one(data, label, folder)
        self.fits.append((len(data), time.perf_counter() - t0))
        return model


def embedding_one_off(df: pd.DataFrame, n: int) -> tuple[float, int]:
    """Seconds to embed ``n`` images with the cache bypassed (nothing is written)."""
    from autoal.backbones import ImageEmbedder

    embedder = ImageEmbedder(progress=False)
    embedder._cache.vectors = {}
    # keep new vectors in memory only: nothing written to the on-disk cache
    embedder._cache.save = lambda keys, vectors: embedder._cache.vectors.update(zip(keys, vectors))
    paths = df["image_path"].iloc[:n]
    embedder(paths.iloc[:8])  # load the backbone outside the clock
    embedder._cache.vectors = {}
    t0 = time.perf_counter()
    embedder(paths)
    return time.perf_counter() - t0, len(paths)


def per_round(history: pd.DataFrame) -> pd.Series:
    return history[["fit_seconds", "predict_seconds", "score_seconds"]].sum(axis=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--rounds", type=int, default=1, help="multimodal rounds (default 1)")
    parser.add_argument("--embedding-rounds", type=int, default=None,
                        help="embedding rounds (default: max(--rounds, 10))")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--init", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10, help="MultiModal optim.max_epochs")
    parser.add_argument("--image-size", type=int, default=64,
                        help="MultiModal model.timm_image.image_size (the embedding learner "
                             "keeps its default, 224)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="MultiModal env.batch_size (AutoGluon's 128 gives 80 labeled images "
                             "one optimizer step per epoch; default 16)")
    parser.add_argument("--lr", type=float, default=None,
                        help="MultiModal optim.lr (default: AutoGluon's, 1e-4)")
    parser.add_argument("--time-limit", type=float, default=40,
                        help="seconds per MultiModal fit (default 40; 0: none)")
    parser.add_argument("--oof-folds", type=int, default=2,
                        help="MultiModalLearner(oof_folds=...) (default 2: 3 fits a round)")
    parser.add_argument("--embed-sample", type=int, default=200,
                        help="images to embed uncached to time the one-off cost (0: skip)")
    parser.add_argument("--skip-multimodal", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/embedding_vs_multimodal.csv")
    args = parser.parse_args(argv)
    emb_rounds = args.embedding_rounds if args.embedding_rounds is not None else max(args.rounds, 10)
    warnings.filterwarnings("ignore")
    handler = logging.StreamHandler(sys.stderr)  # one line per round, to follow progress
    handler.setFormatter(logging.Formatter("  %(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger("autoal.loop").addHandler(handler)
    logging.getLogger("autoal.loop").setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    df = autoal.read_table(args.data)
    base = rss_mib()
    print(f"{len(df)} images, {df['label'].nunique()} classes; os.cpu_count() = {os.cpu_count()}; "
          f"batch {args.batch}, init {args.init}/class, seed {args.seed}, strategy activelab",
          flush=True)
    print(f"peak RSS after imports and reading: {base:.0f} MiB", flush=True)
    common = dict(batch=args.batch, init=args.init, seed=args.seed, strategy="activelab",
                  progress=False)
    started = time.perf_counter()

    # Warm the embedding cache (a no-op when it is already warm) so rounds are rounds.
    t0 = time.perf_counter()
    warm = autoal.EmbeddingLearner(progress=False)
    warm.prepare(df.drop(columns=["label"]), {"image_path": "image_path"})
    print(f"embedding cache warm-up (load, embed what is missing, PCA): "
          f"{time.perf_counter() - t0:.1f}s", flush=True)
    del warm

    t0 = time.perf_counter()
    emb = autoal.loop(df, rounds=emb_rounds, learner=autoal.EmbeddingLearner(seed=args.seed,
                      progress=False), **common)
    emb_wall = time.perf_counter() - t0
    emb_peak = rss_mib()
    print(f"embedding: {emb_rounds} rounds in {emb_wall:.1f}s wall; "
          f"peak RSS {emb_peak:.0f} MiB (+{emb_peak - base:.0f} over baseline)", flush=True)

    mm = None
    if not args.skip_multimodal:
        hp = {"optim.max_epochs": args.epochs, "model.timm_image.image_size": args.image_size,
              "env.batch_size": args.batch_size}
        if args.lr is not None:
            hp["optim.lr"] = args.lr
        learner = TimedMultiModalLearner(hyperparameters=hp, oof_folds=args.oof_folds,
                                         time_limit=args.time_limit or None, seed=args.seed)
        print(f"multimodal: {args.rounds} rounds, {hp}, oof_folds={args.oof_folds}, "
              f"time_limit={args.time_limit} ...", flush=True)
        t0 = time.perf_counter()
        mm = autoal.loop(df, rounds=args.rounds, learner=learner, **common)
        mm_wall = time.perf_counter() - t0
        mm_peak = rss_mib()
        print(f"multimodal: {args.rounds} rounds in {mm_wall:.1f}s wall; "
              f"peak RSS {mm_peak:.0f} MiB (+{mm_peak - base:.0f} over baseline)", flush=True)

    one_off = None
    if args.embed_sample:
        seconds, n = embedding_one_off(df, args.embed_sample)
        one_off = seconds / n * len(df)
        print(f"embedding one-off: {n} images uncached in {seconds:.1f}s -> "
              f"~{one_off:.0f}s for all {len(df)} (224 px, EfficientNet-Lite0)", flush=True)

    # ---- tables ----
    pd.set_option("display.width", 160)
    n_common = (args.rounds + 1) if mm is not None else len(emb.history)
    rows = []
    for name, result in (("embedding", emb), ("multimodal", mm)):
        if result is None:
            continue
        h = result.history.iloc[:n_common]
        rows.append({
            "learner": name, "rounds": len(h) - 1,
            "fit s": h["fit_seconds"].mean(), "predict s": h["predict_seconds"].mean(),
            "score s": h["score_seconds"].mean(), "round s": per_round(h).mean(),
            "final accuracy": h["accuracy"].iloc[-1],
        })
    table = pd.DataFrame(rows).set_index("learner")
    print(f"\nMean seconds per round over rounds 0..{n_common - 1} (both learners), "
          f"and test accuracy after round {n_common - 1}:")
    print(table.to_string(float_format="{:.3f}".format))
    if mm is not None:
        e, m = table.loc["embedding", "round s"], table.loc["multimodal", "round s"]
        print(f"\nround time ratio multimodal / embedding: {m / e:.1f}x  (target >= 10x)")
        print("multimodal fits (rows, seconds): " +
              ", ".join(f"({n}, {s:.0f})" for n, s in learner.fits))
        # with oof_folds=0 the engine's CrossFitted calls fit() for its 3 folds too:
        # take the fits on the whole labeled pool, one per round
        mains = learner.main_fits[:: 1 if args.oof_folds >= 2 else 4][: args.rounds + 1]
        lower = sum(mains) / len(mains)
        print(f"multimodal main fit alone (no out-of-sample fits, no predictions), mean "
              f"{lower:.1f}s: {lower / e:.1f}x an embedding round")

    curves = {"labels": emb.history["n_labeled"], "embedding": emb.history["accuracy"]}
    if mm is not None:
        curves["multimodal"] = mm.history["accuracy"]
    curve = pd.DataFrame(curves)
    curve.index.name = "round"
    print("\nTest accuracy per round:")
    print(curve.to_string(float_format="{:.3f}".format, na_rep="-"))
    if mm is not None:
        print(f"\nembedding after round {emb_rounds}: {emb.history['accuracy'].iloc[-1]:.3f}; "
              f"multimodal after round {args.rounds}: {mm.history['accuracy'].iloc[-1]:.3f}")
    print("\nSeconds per round (fit + predict + score):")
    secs = {"embedding": per_round(emb.history)}
    if mm is not None:
        secs["multimodal"] = per_round(mm.history)
    print(pd.DataFrame(secs).to_string(float_format="{:.1f}".format, na_rep="-"))
    if one_off is not None:
        print(f"\nembedding one-off cost ~{one_off:.0f}s, spread over {emb_rounds + 1} rounds: "
              f"+{one_off / (emb_rounds + 1):.1f}s per round")
    peak = rss_mib()
    print(f"\npeak RSS {peak:.0f} MiB, +{peak - base:.0f} MiB over the baseline after imports; "
          f"total {time.perf_counter() - started:.0f}s; os.cpu_count() = {os.cpu_count()}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    long = [emb.history.assign(learner="embedding")]
    if mm is not None:
        long.append(mm.history.assign(learner="multimodal", epochs=args.epochs,
                                      image_size=args.image_size, oof_folds=args.oof_folds))
    pd.concat(long, ignore_index=True).to_csv(out, index=False)
    print(f"history: {out}")


if __name__ == "__main__":
    sys.exit(main())
