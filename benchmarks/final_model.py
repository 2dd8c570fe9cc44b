"""How long ``autoal train`` (the final model) takes at ``--quality medium``.

    uv run python benchmarks/final_model.py [--rows 300] [--images 300] [--quality medium]

Target: "medium" finishes in about a minute for a few hundred labeled rows on a 2-core
CPU without a GPU. Two projects, every row but one labeled:

- tabular: separable Gaussian blobs (4 numeric columns, 3 classes), ``--rows`` rows,
  the tabular learner;
- images: the first ``--images`` rows of data/fashion (28 px Fashion-MNIST images),
  the embedding learner (EfficientNet-Lite0 embeddings, computed first and cached:
  the second figure is with a warm cache).

Prints wall seconds of ``Project.train`` (embedding, fit, save, load back), AutoGluon's
fit seconds, the models it fitted and the out-of-fold accuracy. Set HF_HUB_OFFLINE=1;
nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def blobs(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(3, 4))
    y = rng.integers(0, 3, size=rows)
    df = pd.DataFrame(centers[y] + rng.normal(size=(rows, 4)), columns=[f"f{i}" for i in range(4)])
    df["label"] = [f"class_{k}" for k in y]
    return df


def run(name, df, learner, quality, folder):
    from autoal.project import Project

    df = df.copy()
    df.loc[df.index[-1], "label"] = None  # a project needs a pool
    project = Project.init(df, folder / name, learner=learner, base_dir=ROOT / "data" / "fashion")
    for attempt in ("", " (again, warm caches)") if learner == "embedding" else ("",):
        start = time.perf_counter()
        model = project.train(quality=quality, progress=False)
        wall = time.perf_counter() - start
        info = model.info
        models = model._model.predictor.model_names()
        print(f"{name}{attempt}: {info['n_labels']} labels, quality {quality}: {wall:.1f} s wall, "
              f"AutoGluon fit {info['fit_seconds']:.1f} s (limit "
              f"{info['autogluon']['time_limit']:.0f} s), oof accuracy "
              f"{info['oof_accuracy']:.3f}, {len(models)} models: {', '.join(models)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--quality", default="medium")
    args = parser.parse_args()
    import pandas as pd

    print(f"{os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.rows:
            run("tabular", blobs(args.rows), "tabular", args.quality, folder)
        if args.images:
            images = pd.read_csv(ROOT / "data" / "fashion" / "labels.csv").head(args.images)
            run("images", images, "embedding", args.quality, folder)


if __name__ == "__main__":
    main()
