"""Shared fixtures: small, seeded data made on the fly; nothing fetched from a hub."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True, scope="session")
def _cache(tmp_path_factory):
    """A fresh autoal cache per test session, so tests never depend on a warm one."""
    os.environ["AUTOAL_CACHE"] = str(tmp_path_factory.mktemp("autoal-cache"))


def make_blobs_frame(n_per_class=30, n_classes=3, seed=0, label="label"):
    """Separable Gaussian blobs with string labels, in shuffled row order."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(n_classes, 4))
    x = np.concatenate([c + rng.normal(size=(n_per_class, 4)) for c in centers])
    y = np.repeat([f"class_{k}" for k in range(n_classes)], n_per_class)
    order = rng.permutation(len(y))
    df = pd.DataFrame(x[order], columns=[f"f{i}" for i in range(4)])
    df[label] = y[order]
    return df


def start_table_project(folder, batch=6):
    """A project on 60 rows of numbers (3 classes; the first 12 keep their labels, the rest
    form the pool) with its first queue of ``batch``: ``(its run directory, the truth)``."""
    from autoal.project import Project

    df = make_blobs_frame(n_per_class=20, n_classes=3, seed=1)
    truth = df["label"].copy()
    df.loc[df.index[12:], "label"] = None
    df.to_csv(folder / "pool.csv", index=False)
    project = Project.init(folder / "pool.csv", folder / "run", learner="tabular")
    project.next(batch=batch, progress=False)
    return folder / "run", truth


@pytest.fixture
def blobs():
    return make_blobs_frame()


def write_images(folder, n_per_class=12, seed=0, size=16):
    """Tiny PNGs: class 'top' is bright above, 'bottom' bright below. Returns label, image_path."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in ("top", "bottom"):
        for i in range(n_per_class):
            pixels = rng.integers(0, 60, size=(size, size), dtype=np.uint8)
            half = slice(0, size // 2) if name == "top" else slice(size // 2, size)
            pixels[half] += 180
            path = folder / f"{name}_{i:02d}.png"
            Image.fromarray(pixels).save(path)
            rows.append({"label": name, "image_path": f"{folder.name}/{path.name}"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture
def image_csv(tmp_path):
    """A labels.csv with relative image paths, as shipped in data/."""
    df = write_images(tmp_path / "images")
    path = tmp_path / "labels.csv"
    df.to_csv(path, index=False)
    return path


SPORT = ["the striker scored a late goal in the match", "the team won the league title again",
         "a record crowd watched the final game", "the coach praised the young defenders",
         "fans cheered as the runner crossed the line", "the keeper saved a penalty kick"]
FOOD = ["simmer the onions slowly in butter until golden", "bake the bread for forty minutes",
        "whisk the eggs with sugar and a little flour", "season the soup with salt and pepper",
        "roast the vegetables with olive oil and garlic", "serve the pasta with fresh basil"]


@pytest.fixture
def texts():
    """A two-class text frame (sport vs cooking), 24 rows."""
    rows = [{"text": f"{s} {suffix}", "label": "sport"} for s in SPORT for suffix in ("today", "again")]
    rows += [{"text": f"{s} {suffix}", "label": "food"} for s in FOOD for suffix in ("today", "again")]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)


class CountingLearner:
    """A real (scikit-learn) learner in a few lines; counts fits and records training rows."""

    def __init__(self, oof=False):
        self.fits = 0
        self.trained_on = []
        self.oof = oof

    def fit(self, data, label):
        from sklearn.linear_model import LogisticRegression

        self.fits += 1
        self.trained_on.append(list(data.index))
        features = data.drop(columns=[label])
        model = LogisticRegression(max_iter=500).fit(features.to_numpy(), data[label].to_numpy())

        def proba(fitted_model, df):
            return pd.DataFrame(fitted_model.predict_proba(df[features.columns].to_numpy()),
                                columns=fitted_model.classes_, index=df.index)

        members = []

        def committee():  # fitted on first use: more or less regularised fits
            if not members:
                members.extend(LogisticRegression(C=c, max_iter=500).fit(
                    features.to_numpy(), data[label].to_numpy()) for c in (0.01, 1.0, 100.0))
            return members

        class Model:
            oof_proba = None

            def predict_proba(self, df):
                return proba(model, df)

            # What committee, sampling and feature strategies ask for.
            def committee_proba(self, df):
                return [proba(member, df) for member in committee()]

            def committee_oof_proba(self):  # in-sample stands in for out-of-fold
                return [proba(member, features) for member in committee()]

            def sample_proba(self, df):
                return self.committee_proba(df)

            def embed(self, df):
                return df[features.columns].to_numpy(dtype=float)

        fitted = Model()
        if self.oof:  # in-sample stands in for out-of-fold here: enough for the tests
            fitted.oof_proba = fitted.predict_proba(features)
        return fitted


@pytest.fixture
def counting_learner():
    return CountingLearner()
