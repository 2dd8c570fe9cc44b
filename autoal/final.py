"""The final model: fit once on every consensus label, save it, predict new rows.

Which to use:

- :meth:`autoal.Project.train` (``autoal train DIR``): a labeling project's model.
- :meth:`autoal.Result.train` for what :func:`autoal.loop` returned, or
  :func:`train_run` (``autoal train DIR --data FILE``) for a loop's run directory. A
  loop's run directory does not keep its data, so the data is given again and checked
  against the fingerprint in ``autoal.json``.
- :func:`load` (``autoal.load(DIR)``): the saved model, a :class:`FinalModel` with
  ``predict(df)``, ``predict_proba(df)`` and ``classes``; ``autoal predict DIR DATA``
  writes its predictions to a CSV.

On disk, in ``DIR/final/`` (or the folder given to :meth:`autoal.Result.train`)::

    final.json       classes, label, feature columns (type and dtype), the learner and
                     what rebuilds its features, quality, AutoGluon's settings, labels per
                     class, the out-of-fold accuracy, which model it kept (below), when
                     and how long it was fitted
    predictor/       AutoGluon's own saved predictor
    projections.npz  the embedding learner's projections and n-gram features, as arrays

Nothing is pickled. A new model replaces the old one whole, once it is fitted; a fit
that fails or is refused leaves the folder as it was.

**Quality** (:data:`QUALITY`), modelled on AutoGluon's presets and a step above the
per-round fits (3-fold bags of a few quick models):

- ``"medium"``: AutoGluon's default model portfolio (what its ``medium_quality``
  preset fits) plus the learner's per-round models (fitted first), in 5-fold bags, no
  stacking; 45 s by default (about a minute in all for a few hundred rows on 2 CPU
  cores). On tables: the rounds' models (below).
- ``"high"``: the ``zeroshot`` portfolio of its ``high_quality`` preset plus the
  per-round models, in 8-fold bags with one stack level (without the preset's refit
  step: the bagged models are kept); 600 s.
- ``"best"``: as ``"high"``, with two bag sets; 3600 s.

**On tables** (the tabular learner) the rounds' default models, refitted on every label
(:class:`autoal.learners.TabularLearner` as the rounds fit it; a second or so), are the
floor. ``"medium"`` keeps them and fits no portfolio. ``"high"`` and ``"best"`` fit the
portfolio beside them and keep it only where its out-of-fold accuracy on the labeled
rows beats theirs by more than :data:`autoal.learners.WEIGHTED_BLEND_MARGIN` standard
errors (of the per-row difference). Measured with ``benchmarks/final_vs_rounds.py``
(18 tables, 3 seeds, the default loop's labels after 3 and after 10 rounds: 27 to 1,552
of them; two runs side by side on 2 cores): the "medium" portfolio was below the rounds'
models on 11 and 13 of the 18 (mean test accuracy .818 against .835, and .890 against
.900), above on 5 and 3. The out-of-fold rule kept the portfolio in 12 of the 108 fits
and it was the worse on test in 8 of them (its out-of-fold accuracy is flattered by the
blend chosen on the same rows), so "medium" does not ask it. "high" and "best" were
not measured; the rule is there so that they keep the rounds' models unless the
portfolio wins clearly. On images (the embedding learner, Fashion-MNIST, 80 and 220
labels, 3 seeds) the medium portfolio was the better in 5 of 6 fits (+.006), so the
embedding and multimodal learners fit their portfolio alone. ``final.json`` says which
model it kept (``kept``: ``"portfolio"`` or ``"rounds"``), each one's out-of-fold
accuracy and seconds (``candidates``), and where both were fitted the portfolio's gain
with its standard error (``portfolio_gain``), and the portfolio's AutoGluon settings
(``autogluon``; None where none was fitted); only the kept one is saved. The rounds'
fit comes on top of the time limit.

Model families whose package is not installed (CatBoost, XGBoost, FastAI) are left
out. ``time_limit=`` replaces the default; it bounds AutoGluon's fit of the portfolio
(embedding the rows first comes on top), so at ``"medium"`` on tables, where there is
none, it bounds nothing, and a warning says so. The embedding learner's final model
reads the embeddings the rounds read: the run's backbones (packaged, loaded offline)
and projections (PCA to ``dims``, and the text columns' n-gram features, fitted again
on every row of the data, without labels, and saved as arrays); the multimodal learner
fine-tunes its backbone for 10, 20 or 40 epochs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ._checks import (FINAL, FINAL_JSON, TIME_FORMAT, check_choice, check_positive_or_none,
                      format_examples, read_json, short)
from .data import IMAGE, NUMERICAL, check_images, read_table, resolve_paths
from .pool import sorted_classes, with_clean_labels
from .rundir import CONFIG, Decoder, RunDir, fingerprint, write_json

logger = logging.getLogger(__name__)

#: AutoGluon's folder in the final model's (:data:`FINAL`, described in :data:`FINAL_JSON`).
PREDICTOR = "predictor"
#: The two models a tabular final fit weighs (``final.json``'s ``kept``): the quality's
#: portfolio, and the rounds' default models fitted on every label.
PORTFOLIO, ROUNDS = "portfolio", "rounds"
#: Version of ``final.json``'s layout; another is refused.
FINAL_FORMAT = 1

#: What each quality fits (see the module docstring): ``models``, AutoGluon's model
#: portfolio by name (or a ``hyperparameters`` dict, used as it is), bagging, stacking,
#: the default time limit (s), the multimodal learner's epochs, and whether the tabular
#: learner fits the portfolio at all (else the rounds' models alone).
QUALITY = {
    "medium": {"models": "default", "num_bag_folds": 5, "num_bag_sets": 1,
               "num_stack_levels": 0, "time_limit": 45.0, "max_epochs": 10,
               "portfolio_on_tables": False},
    "high": {"models": "zeroshot", "num_bag_folds": 8, "num_bag_sets": 1,
             "num_stack_levels": 1, "time_limit": 600.0, "max_epochs": 20,
             "portfolio_on_tables": True},
    "best": {"models": "zeroshot", "num_bag_folds": 8, "num_bag_sets": 2,
             "num_stack_levels": 1, "time_limit": 3600.0, "max_epochs": 40,
             "portfolio_on_tables": True},
}
#: The package each AutoGluon model family needs beyond scikit-learn.
_PACKAGES = {"GBM": "lightgbm", "CAT": "catboost", "XGB": "xgboost", "FASTAI": "fastai",
             "NN_TORCH": "torch"}
#: The learner settings that rebuild its features when predicting, by learner.
_REBUILD = {"tabular": (),
            "embedding": ("image_checkpoint", "text_checkpoint", "image_size", "dims",
                          "text_features"),
            "multimodal": ("image_checkpoint", "text_checkpoint")}
#: The embedding learner's projections in the model's folder (NumPy arrays, no pickles).
PROJECTIONS = "projections.npz"
_CLASSES = {"autoal.learners.TabularLearner": "tabular",
            "autoal.learners.EmbeddingLearner": "embedding",
            "autoal.learners.MultiModalLearner": "multimodal"}


class FinalModel:
    """A saved final model; :func:`load` gives one.

    Attributes
    ----------
    classes : the run's class list: the columns of :meth:`predict_proba`, in this order.
    label : the label column's name.
    features : the feature columns it reads, in training order.
    info : ``final.json`` (learner, quality, labels per class, out-of-fold accuracy, ...).
    path : its folder.
    """

    def __init__(self, path, info: dict, model):
        self.path = Path(path)
        self.info = info
        self.classes = list(info["classes"])
        self.label = info["label"]
        self.features = [f["name"] for f in info["features"]]
        self._model = model

    def __repr__(self) -> str:
        kept = ", the rounds' models kept" if self.info.get("kept") == ROUNDS else ""
        return (f"FinalModel({str(self.path)!r}: {self.info['learner']['name']} learner, "
                f"quality {self.info['quality']}{kept}, {self.info['n_labels']} labels, "
                f"classes {format_examples(self.classes, 10)})")

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities, shape ``(len(df), K)``: one column per class, in
        :attr:`classes` order (0 for a class no label had), rows indexed like ``df``.

        ``df`` needs every feature column (:attr:`features`); other columns, the
        label's included, are ignored. A ``ValueError`` names missing columns, and
        values of the wrong type (text in a column that held numbers in training;
        image paths that are not images); a column of numbers read as text is
        converted, as are category codes read as numbers.
        """
        from .predict import align_proba

        frame = self._rows(df)
        if not len(frame):
            return pd.DataFrame(np.zeros((0, len(self.classes))), index=df.index,
                                columns=self.classes)
        proba = self._model.predict_proba(frame)
        if self.info.get("renamed"):  # classes renamed after the fit (rename_class)
            proba = proba.rename(columns=lambda c: self.info["renamed"].get(str(c), c))
        values = align_proba(proba, self.classes)
        return pd.DataFrame(values, index=df.index, columns=self.classes)

    def predict(self, df: pd.DataFrame) -> pd.Series:
        """The most probable class of each row (a tie goes to the class first in
        :attr:`classes`), indexed like ``df`` and named after the label column; ``df``
        as for :meth:`predict_proba`."""
        return self._classes_of(self.predict_proba(df))

    def predictions(self, df: pd.DataFrame) -> pd.DataFrame:
        """What ``autoal predict`` writes: ``prediction`` (as :meth:`predict`) and
        ``proba_<class>`` for each class (as :meth:`predict_proba`), indexed like ``df``."""
        proba = self.predict_proba(df)
        table = proba.set_axis([f"proba_{c}" for c in self.classes], axis=1)
        table.insert(0, "prediction", self._classes_of(proba).to_numpy())
        return table

    def _classes_of(self, proba: pd.DataFrame) -> pd.Series:
        best = proba.to_numpy().argmax(axis=1) if len(proba) else []
        return pd.Series([self.classes[i] for i in best], index=proba.index, name=self.label,
                         dtype=None if len(proba) else object)

    def _rows(self, df) -> pd.DataFrame:
        """``df``'s feature columns, checked against training and converted where safe."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"The 'df' parameter of FinalModel.predict must be a pandas "
                            f"DataFrame with the feature columns "
                            f"{format_examples(self.features, 10)}. Got {type(df).__name__}.")
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise ValueError(
                f"The data lacks {len(missing)} of the feature columns the model in "
                f"{self.path} was trained on: {format_examples(missing, 10)} (it reads "
                f"{format_examples(self.features, 10)}). Give every feature column, named as "
                f"in training; nothing was predicted.")
        frame = df[self.features].copy()
        problems, images = [], []
        for spec in self.info["features"]:
            name, kind, dtype = spec["name"], spec["type"], spec["dtype"]
            values = frame[name]
            if kind == IMAGE:
                images.append(name)
            elif kind == NUMERICAL:
                if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                    continue
                numbers = pd.to_numeric(values, errors="coerce")
                bad = values.notna() & numbers.isna()
                if bad.any():
                    problems.append(f"column {name!r} held numbers in training ({dtype}) but "
                                    f"has {format_examples(values[bad].unique(), 3)} (rows "
                                    f"{format_examples(values.index[bad], 3)})")
                else:
                    frame[name] = numbers
            elif _is_text(dtype) and not _is_text(str(values.dtype)):  # codes read as numbers
                frame[name] = values.map(lambda v: v if _missing(v) else str(v))
        if problems:
            raise ValueError(f"The data has values of the wrong type for the model in "
                             f"{self.path}: {'; '.join(problems)}. Fix those values (or drop "
                             f"those rows) and predict again; nothing was predicted.")
        check_images(frame, images)
        return frame


def load(path) -> FinalModel:
    """The final model saved in the run directory ``path`` (in its ``final/`` folder),
    or in the folder ``path`` itself (one that holds ``final.json``).

    A ``FileNotFoundError`` says how to train one when there is none yet.
    """
    path = Path(path)
    folder = path if (path / FINAL_JSON).is_file() else path / FINAL
    if not (folder / FINAL_JSON).is_file():
        if (path / CONFIG).is_file():
            kind = read_json(path / CONFIG).get("kind")
            how = (f"autoal train {path}" if kind == "project" else
                   f"autoal train {path} --data FILE (the data the loop ran on), or "
                   f"Result.train(df)")
            raise FileNotFoundError(f"The run directory {path} has no final model yet; train "
                                    f"one first: {how}.")
        raise FileNotFoundError(f"{path} holds no final model (no {FINAL_JSON} in it or in "
                                f"{FINAL}/). Pass a run directory after 'autoal train', or "
                                f"the folder Result.train(df, path) wrote.")
    info = read_json(folder / FINAL_JSON)
    if info.get("format_version") != FINAL_FORMAT:
        raise ValueError(f"{folder / FINAL_JSON} has format version "
                         f"{info.get('format_version')!r}; this autoal reads {FINAL_FORMAT}. "
                         f"Train the model again with this autoal.")
    types = {f["name"]: f["type"] for f in info["features"]}
    learner = _learner(info["learner"], types, info["quality"])
    if info.get("projections"):
        with np.load(folder / PROJECTIONS, allow_pickle=False) as saved:
            arrays = {}  # the i-th projection's arrays are saved as "<array>_<i>"
            for key in saved.files:
                array, i = key.rsplit("_", 1)
                arrays.setdefault(info["projections"][int(i)], {})[array] = saved[key]
            learner.set_projections(arrays)
    return FinalModel(folder, info, learner.load_model(folder / info["predictor"]))


def rename_class(folder, old, new) -> bool:
    """Have the final model saved in ``folder`` predict the class ``old`` as ``new`` from
    now on (:meth:`autoal.Project.rename_class`): its ``final.json`` lists ``new``, and
    its ``renamed`` maps the name the predictor was trained with to it. False where
    ``folder`` holds no final model."""
    folder = Path(folder)
    if not (folder / FINAL_JSON).is_file():
        return False
    lock = _locked(folder, "rename the class then")
    try:
        info = read_json(folder / FINAL_JSON)
        trained = {v: k for k, v in (info.get("renamed") or {}).items()}.get(old, old)
        info["classes"] = [new if str(c) == old else c for c in info["classes"]]
        info["per_class"] = {new if c == old else c: n for c, n in info["per_class"].items()}
        info["renamed"] = {**(info.get("renamed") or {}), trained: new}
        write_json(folder / FINAL_JSON, info)
    finally:
        lock.release()
    return True


def _locked(out: Path, then: str):
    """The lock of the final model's folder ``out``, held (a fit holds it while it writes);
    a ``RuntimeError`` where another process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(out.parent / f".{out.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RuntimeError(f"Another fit is writing {out} now (autoal train); wait for it to "
                           f"end, then {then}.") from None
    return lock


# ---- training ----------------------------------------------------------------------------

def train_project(project, *, quality: str = "medium", time_limit=None,
                  progress: bool = True) -> FinalModel:
    """:meth:`autoal.Project.train`: ``project``'s final model, saved in its
    ``final/`` folder."""
    config = project.config
    types = config["column_types"]
    consensus = project.consensus()
    source = {"kind": "project", "round": project.round,
              "data_fingerprint": (config.get("data") or {}).get("fingerprint")}
    return _fit(project.data.drop(columns=[project.label]), consensus["consensus_label"],
                project.path / FINAL, label=project.label, classes=project.classes,
                column_types=types, spec=_spec_from_name(config["learner_name"], types),
                quality=quality, time_limit=time_limit, seed=config["seed"],
                progress=progress, source=source, owner="Project.train")


def train_run(workdir, data, *, quality: str = "medium", time_limit=None, base_dir=None,
              progress: bool = True) -> FinalModel:
    """The final model of the :func:`autoal.loop` run in ``workdir``, fitted on every
    consensus label and saved in ``workdir/final``.

    ``data`` is what the loop ran on: a DataFrame, or the CSV/Parquet file ``autoal
    run`` read (read the same way, by :func:`autoal.read_table`); it must match the
    fingerprint the run directory keeps. ``base_dir``: the folder relative image paths
    resolve against (default: the working directory), as ``loop``'s. ``quality`` and
    ``time_limit``: see the module docstring.
    """
    store = RunDir(workdir)
    config = store.config()
    if config.get("kind") == "project":
        raise ValueError(f"{store.path} is a labeling project, which keeps its data: train it "
                         f"with Project({str(store.path)!r}).train() (autoal train "
                         f"{store.path}), without data.")
    frame = _loop_data(data, config, store.path, base_dir, owner="train_run")
    consensus = _run_consensus(store, frame.index, config["classes"])
    return _fit_loop(frame, consensus, store.path / FINAL, config, quality=quality,
                     time_limit=time_limit, progress=progress,
                     source={"kind": "loop", "round": int(store.state()["round"])},
                     owner="train_run")


def train_result(result, df, path=None, *, quality: str = "medium", time_limit=None,
                 base_dir=None, progress: bool = True) -> FinalModel:
    """:meth:`autoal.Result.train`: the final model of a :func:`autoal.loop` result."""
    config = getattr(result, "config", None)
    if not config:
        raise ValueError("This Result does not carry its run's settings (Result.config), so "
                         "it cannot train a final model; run the loop with this autoal, or "
                         "use train_run(workdir, data) on its run directory.")
    if path is None:
        if result.workdir is None:
            raise ValueError("The 'path' parameter of Result.train must name a folder to save "
                             "the model in, since this loop kept no run directory "
                             "(workdir=None). Got None; pass path='model', say.")
        path = Path(result.workdir) / FINAL
    frame = _loop_data(df, config, result.workdir, base_dir, owner="Result.train")
    return _fit_loop(frame, result.consensus, Path(path), config, quality=quality,
                     time_limit=time_limit, progress=progress,
                     source={"kind": "loop", "round": int(result.history["round"].max())
                             if len(result.history) else -1},
                     owner="Result.train")


def _fit_loop(frame, consensus, out, config, *, source, owner, **kwargs) -> FinalModel:
    label, types = config["label"], config["column_types"]
    source = {**source, "data_fingerprint": (config.get("data") or {}).get("fingerprint")}
    labels = consensus["consensus_label"] if len(consensus) else pd.Series(dtype=object)
    return _fit(frame.drop(columns=[label], errors="ignore"), labels, out, label=label,
                classes=config["classes"], column_types=types,
                spec=_spec_from_description(config.get("learner"), types),
                seed=int(config.get("seed", 0)), source=source, owner=owner, **kwargs)


def _fit(features: pd.DataFrame, labels: pd.Series, out: Path, *, label, classes,
         column_types, spec, quality, time_limit, seed, progress, source,
         owner) -> FinalModel:
    """Fit on the rows of ``labels``, their ``features``; save to ``out`` (replaced whole).
    ``features`` holds every row of the data: the learner's ``prepare`` sees them all, as
    the rounds' did."""
    from . import __version__

    quality = check_choice("quality", quality, tuple(QUALITY), owner=owner)
    given_limit = check_positive_or_none("time_limit", time_limit, owner=owner)
    time_limit = QUALITY[quality]["time_limit"] if given_limit is None else given_limit
    labels = labels.dropna()
    seen = sorted_classes(labels.unique())
    if len(seen) < 2:
        held = (f"only the class {short(seen[0])} ({len(labels)} rows)" if seen
                else "no label at all")
        raise ValueError(f"A final model needs labels of at least 2 classes; the consensus "
                         f"labels hold {held}. Label more rows first (autoal label, autoal "
                         f"next), then train; nothing was written.")
    out = Path(out)
    if out.exists() and not (out / FINAL_JSON).is_file() and (
            not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not a final model's folder; pass a new folder "
                         f"(or an empty one) to save the model in, so nothing there is "
                         f"overwritten.")
    columns = [c for c in features.columns if c in column_types]
    train = features.loc[labels.index, columns].copy()
    train[label] = labels.to_numpy()
    q = QUALITY[quality]
    types = {c: column_types[c] for c in columns}
    rounds = _rounds_learner(spec, seed)
    portfolio = None if rounds is not None and not q["portfolio_on_tables"] else _learner(
        spec, types, quality, time_limit=time_limit, seed=seed, progress=progress)
    if portfolio is None and given_limit is not None:
        logger.warning("time_limit=%g bounds AutoGluon's portfolio, which quality %r does not "
                       "fit on tables: the final model is the rounds' models refitted, in "
                       "seconds. Pass quality='high' for a portfolio the limit bounds.",
                       given_limit, quality)
    logger.info("final model: %d labels of %d classes, %s learner, quality %s, %s",
                len(train), len(seen), spec["name"], quality,
                "the rounds' models" if portfolio is None else f"time limit {time_limit:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = _locked(out, "try again")
    try:
        for stale in out.parent.glob(f".{out.name}.*.partial"):  # of a killed fit
            shutil.rmtree(stale, ignore_errors=True)
        partial = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
        try:
            start = time.perf_counter()
            fitted = {}  # name -> (model, seconds)
            for name, candidate in ((ROUNDS, rounds), (PORTFOLIO, portfolio)):
                if candidate is None:
                    continue
                began = time.perf_counter()
                if callable(getattr(candidate, "prepare", None)):  # every row, as the rounds
                    candidate.prepare(features[columns], types)
                model = candidate.with_context(path=partial / name).fit(train, label)
                fitted[name] = (model, time.perf_counter() - began)
            seconds = time.perf_counter() - start
            projections = portfolio.projections() if callable(
                getattr(portfolio, "projections", None)) else {}
            if projections:
                np.savez(partial / PROJECTIONS, **{
                    f"{array}_{i}": values for i, arrays in enumerate(projections.values())
                    for array, values in arrays.items()})
            right = {name: _oof_correct(model, classes, train[label])
                     for name, (model, _) in fitted.items()}
            kept, gain = _choose(right)
            for name in fitted:
                if name != kept:
                    shutil.rmtree(partial / name)
            os.replace(partial / kept, partial / PREDICTOR)
            accuracy = None if right[kept] is None else float(np.mean(right[kept]))
            counts = train[label].value_counts()
            write_json(partial / FINAL_JSON, {
                "format_version": FINAL_FORMAT, "autoal_version": __version__,
                "label": label, "classes": list(classes),
                "features": [{"name": c, "type": column_types[c], "dtype": str(train[c].dtype)}
                             for c in columns],
                "learner": spec, "quality": quality,
                "autogluon": None if portfolio is None else {
                    k: v for k, v in q.items() if k != "time_limit"} | {"time_limit": time_limit},
                "n_labels": len(train),
                "per_class": {str(c): int(counts.get(c, 0)) for c in classes},
                "oof_accuracy": accuracy, "fit_seconds": round(seconds, 3),
                "kept": kept, "candidates": {
                    name: {"oof_accuracy": None if right[name] is None
                           else float(np.mean(right[name])),
                           "fit_seconds": round(fitted[name][1], 3)} for name in fitted},
                "portfolio_gain": gain,
                "trained_at": time.strftime(TIME_FORMAT),
                "projections": list(projections), "source": source,
                "predictor": PREDICTOR})
            _replace(partial, out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    finally:
        lock.release()
    logger.info("final model saved in %s (%.0f s)", out, seconds)
    return load(out)


def _oof_correct(model, classes, labels: pd.Series):
    """Per labeled row, whether ``model``'s out-of-fold class is its label (None where the
    model gives no out-of-fold probabilities)."""
    from .predict import align_proba

    oof = getattr(model, "oof_proba", None)
    if oof is None:
        return None
    guess = np.asarray(classes, dtype=object)[align_proba(oof, classes).argmax(axis=1)]
    return guess == labels.to_numpy(dtype=object)


def _choose(right: dict) -> tuple:
    """Which fitted candidate to keep, and the portfolio's gain over the rounds' models
    (mean per row, standard error) where both were fitted: the one fitted where only one
    was; else the portfolio where it beats them by more than
    :data:`autoal.learners.WEIGHTED_BLEND_MARGIN` standard errors out of fold, the rounds'
    models otherwise."""
    from ._autogluon import gain_and_error
    from .learners import WEIGHTED_BLEND_MARGIN

    if PORTFOLIO not in right:
        return ROUNDS, None
    if ROUNDS not in right or right[PORTFOLIO] is None or right[ROUNDS] is None:
        return PORTFOLIO, None
    gain, error = gain_and_error(right[PORTFOLIO], right[ROUNDS])
    return (PORTFOLIO if gain > WEIGHTED_BLEND_MARGIN * error else ROUNDS), [gain, error]


def _replace(partial: Path, out: Path) -> None:
    """Put the finished folder ``partial`` in ``out``'s place."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
        os.replace(out, old)
    os.replace(partial, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _learner(spec: dict, column_types: dict, quality: str, *, time_limit=None, seed: int = 0,
             progress: bool = False):
    """The learner that fits (and loads) a final model of ``quality``."""
    from .learners import (DEFAULT_EMBEDDING_MODELS, DEFAULT_TABULAR_MODELS, EmbeddingLearner,
                           MultiModalLearner, TabularLearner)

    q = QUALITY[quality]
    settings = dict(spec.get("settings") or {})
    if spec["name"] == "multimodal":
        return MultiModalLearner(column_types=column_types, time_limit=time_limit, oof_folds=0,
                                 seed=seed, hyperparameters={"optim.max_epochs": q["max_epochs"]},
                                 **settings)
    common = dict(time_limit=time_limit, num_bag_folds=q["num_bag_folds"], seed=seed,
                  fit_kwargs={"num_bag_sets": q["num_bag_sets"],
                              "num_stack_levels": q["num_stack_levels"],
                              "dynamic_stacking": False})
    if spec["name"] == "embedding":
        return EmbeddingLearner(column_types=column_types, progress=progress,
                                hyperparameters=_portfolio(q["models"], DEFAULT_EMBEDDING_MODELS),
                                **settings, **common)
    richest = DEFAULT_TABULAR_MODELS[-1][1]  # the rounds' models at the most labels
    return TabularLearner(hyperparameters=_portfolio(q["models"], richest), **common)


def _rounds_learner(spec: dict, seed: int):
    """The learner the rounds fit by default, fitted beside the quality's portfolio (the
    tabular learner's only; None for the others)."""
    from .learners import TabularLearner

    return TabularLearner(seed=seed) if spec["name"] == "tabular" else None


def _portfolio(name, per_round: dict) -> dict:
    """AutoGluon's model portfolio ``name``, less families whose package is missing, plus
    the per-round models it lacks, fitted first (so a tight time limit still gets them);
    a dict is AutoGluon ``hyperparameters`` as they are."""
    from autogluon.tabular.configs.hyperparameter_configs import get_hyperparameter_config

    if isinstance(name, dict):
        return name
    models = {family: configs for family, configs in get_hyperparameter_config(name).items()
              if family not in _PACKAGES or importlib.util.find_spec(_PACKAGES[family])}
    for family, configs in per_round.items():
        if family not in models:
            models[family] = [{**c, "ag_args": {**c.get("ag_args", {}), "priority": 1000}}
                              for c in (configs if isinstance(configs, list) else [configs])]
    return models


def _spec_from_name(name, column_types: dict) -> dict:
    """``{"name", "settings"}`` of the learner ``name`` (``"auto"`` resolved as a run
    resolves it)."""
    from .learners import EmbeddingLearner, MultiModalLearner, TabularLearner, make_learner

    made = make_learner(name, column_types=column_types, progress=False)
    kind = {TabularLearner: "tabular", EmbeddingLearner: "embedding",
            MultiModalLearner: "multimodal"}[type(made)]
    return {"name": kind, "settings": {k: getattr(made, k) for k in _REBUILD[kind]}}


def _spec_from_description(description, column_types: dict) -> dict:
    """The spec of the learner ``autoal.json`` describes (see
    :func:`autoal.learners.learner_settings`); a learner that is not one of autoal's
    AutoGluon learners gives way to ``"auto"``."""
    while isinstance(description, dict) and \
            description.get("class") == "autoal.learners.CrossFitted":
        description = (description.get("params") or {}).get("learner")
    name = _CLASSES.get(description.get("class")) if isinstance(description, dict) else None
    if name is None:
        spec = _spec_from_name("auto", column_types)
        logger.info("the run's learner is not one of autoal's AutoGluon learners; the final "
                    "model uses the %s learner", spec["name"])
        return spec
    params = description.get("params") or {}
    return {"name": name, "settings": {k: params[k] for k in _REBUILD[name] if k in params}}


# ---- a loop's data -------------------------------------------------------------------------

def _loop_data(data, config: dict, workdir, base_dir, *, owner: str) -> pd.DataFrame:
    """``data`` (a DataFrame, or a file read as ``autoal run`` reads it) as the loop saw
    it, checked against the run's fingerprint; image paths resolved against
    ``base_dir``."""
    label = config["label"]
    if data is None:
        raise ValueError(f"The run directory {workdir} is a loop() run, which does not keep "
                         f"its data: pass the data the loop ran on (data=...), a DataFrame or "
                         f"the CSV/Parquet file 'autoal run' read. It is checked against the "
                         f"run's fingerprint.")
    if not isinstance(data, pd.DataFrame):
        data = read_table(data, label=label)
    key = config.get("data") or {}
    by_text = {str(c): c for c in data.columns}
    stored = list(key.get("columns") or [])
    missing = [c for c in stored if c not in by_text]
    frame = data[[by_text[c] for c in stored if c in by_text]]
    if label in frame.columns:
        frame = with_clean_labels(frame, [label])
    if missing:
        problem = f"it lacks the columns {format_examples(missing)}"
    elif len(frame) != key.get("rows"):
        problem = f"it has {len(frame)} rows, the loop's data had {key.get('rows')}"
    elif fingerprint(frame) != key.get("fingerprint"):
        problem = "its values or row ids differ (the fingerprints do not match)"
    else:
        problem = None
    if problem:
        where = f"the run directory {workdir}" if workdir is not None else "the loop's run"
        raise ValueError(f"The 'data' parameter of {owner} must be the data the loop ran on, "
                         f"unchanged, to match {where}: {problem}. Pass the same DataFrame "
                         f"(or file) as the loop got; nothing was written.")
    frame = frame.copy()
    for column, kind in config["column_types"].items():
        if kind == IMAGE and column in frame.columns:
            frame[column] = resolve_paths(frame[column], base_dir or Path.cwd())
    return frame


def _run_consensus(store: RunDir, rows, classes) -> pd.DataFrame:
    """The consensus labels of the rounds saved in ``store`` (as the run's session sees
    them: the annotations of its last round written in full, the latest out-of-sample
    probabilities)."""
    from . import annotations as ann

    decode_rows, decode_labels = Decoder(rows, "rows"), Decoder(classes, "classes")
    state = store.state()
    notes = store.read_annotations(decode_rows, decode_labels,
                                   upto_round=int(state["round"]) + 1)
    if notes.empty:
        return pd.DataFrame({"consensus_label": pd.Series(dtype=object)})
    known = store.read_probabilities(state.get("probabilities"), decode_rows, len(classes))
    return ann.consensus(notes, classes, known)[0]


def _is_text(dtype: str) -> bool:
    return dtype in ("object", "str") or dtype.startswith("string")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
