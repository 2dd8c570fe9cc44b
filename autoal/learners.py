"""Learners: what the engine refits each round.

The protocol is small, so a test backend can be a few lines::

    class Learner(Protocol):
        def fit(self, data: pd.DataFrame, label: str) -> Model: ...
        # optional: called once with every row's features (pool and test) and the
        # run's column types before the first fit
        def prepare(self, data: pd.DataFrame, column_types: dict) -> None: ...
        # optional: a configured copy for one fit (its folder, the run's seed and
        # time limit), sharing what prepare() computed; the original is unchanged
        def with_context(self, *, path=None, seed=None, time_limit=None) -> Learner: ...
        # optional: True when its models always carry oof_proba
        gives_oof_proba: bool

    class Model(Protocol):
        def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame: ...
        # optional: out-of-sample probabilities for the training rows, same order
        oof_proba: pd.DataFrame | None
        # optional: the AutoGluon predictor behind the model
        predictor: object
        # optional, for strategies that need them (autoal.predict.strategy_inputs):
        # one DataFrame per committee member / per stochastic sample, and row features
        def committee_proba(self, data: pd.DataFrame) -> list[pd.DataFrame]: ...
        def committee_oof_proba(self) -> list[pd.DataFrame]: ...  # training rows
        def sample_proba(self, data: pd.DataFrame) -> list[pd.DataFrame]: ...
        def embed(self, data: pd.DataFrame) -> np.ndarray: ...  # shape (n, d)

``predict_proba`` returns one column per class the model knows, named by the
class (AutoGluon's contract); the engine re-indexes columns to its own class list,
with zeros for classes the model has not seen yet (:func:`autoal.predict.align_proba`).

Out-of-sample probabilities for the labeled rows are the learner's job: a learner
that does not declare ``gives_oof_proba = True`` is wrapped in :class:`CrossFitted`,
which sets ``model.oof_proba`` by cross-fitting (:func:`cross_fit_proba`).
:func:`learner_settings` describes a learner for the resume check.

Backends: :class:`TabularLearner` (AutoGluon Tabular), :class:`MultiModalLearner`
(AutoGluon MultiModal fine-tuning) and :class:`EmbeddingLearner` (frozen
pretrained embeddings + AutoGluon Tabular, the fast path on a CPU).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import shutil
import warnings
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from . import _scratch
from ._autogluon import (equal_unless_clearly_beaten, equal_weights, fold_probabilities,
                         tabular_predictor)
from ._checks import LEARNERS  # noqa: F401  (the learners by name, kept here too)
from ._checks import check_int, check_learner, check_positive_or_none
from ._describe import describe
from .data import CATEGORICAL, IMAGE, NUMERICAL, TEXT

logger = logging.getLogger(__name__)

_FORESTS_AND_NEIGHBOURS = {"RF": {"n_estimators": 100}, "XT": {"n_estimators": 100},
                           "KNN": {"weights": "distance"}}
#: Models refit every round, in tiers by the smallest class's labels (as
#: :class:`TabularLearner`'s ``hyperparameters`` may be given): a random forest and extra
#: trees of 100 trees each, bagged on their out-of-bag rows, and distance-weighted
#: neighbours, scored leave-one-out (one fit per model, no folds); from 10 labels in every
#: class, logistic regression beside them (3-fold bagged). Blended by AutoGluon's weighted
#: ensemble on out-of-fold accuracy (:class:`TabularLearner`'s ``eval_metric``) where it
#: beats their average clearly (:data:`WEIGHTED_BLEND_MARGIN`), but averaged otherwise and
#: in the first round (:data:`EQUAL_BLEND_BELOW`). Chosen by
#: ``benchmarks/tabular_vs_forest.py`` (issue 16) on digits, Vehicle, breast cancer and
#: Pima from 2 labels per class, against a plain scikit-learn random forest + margin.
#: The first tier alone was below the forest in 11 of their 44 rounds (5 seeds), with LR
#: from 10 labels per class in 6 and from 20 in 5 (10 kept digits' and Vehicle's worst
#: rounds higher); LR from the start cost .14 on breast cancer at 2 labels per class;
#: LightGBM from 20 labels per class put breast cancer and Pima below in more rounds. The
#: earlier GBM + XT + LR was 2.5x slower on Vehicle and .05 below the forest at the start
#: (LightGBM cannot split 2 rows per class); AutoGluon's 300 trees per forest took 2.5x
#: the time and fell .008 below the forest on Vehicle; blending by log-loss (always, or
#: while a class has fewer than 3 labels) or leaving the neighbours out until then put
#: Vehicle below the forest in 2 rounds of 5 seeds. Averaging the models, each with the
#: same weight, while a class has fewer than 10 labels (or always), though it beat
#: AutoGluon's blend at 2 labels per class (20 seeds, 14 sets: +.010 over the forest
#: against +.002), put 7 (9) of the 44 rounds below the forest against 3 (3 seeds; mean
#: gap +.015 (+.016) against +.020), and 40 (34) of the other sets' 110 against 33.
#: On tables of categories alone the neighbours have no column, so the first tier is the
#: forest and extra trees blended on a few rows; the forest alone there (10 seeds) raised
#: soybean's round 0 from .027 below the forest to .007 below, left DNA and House votes
#: within .003 of the default's mean gap, and put Mushroom, which had no part in the
#: choice, .002 further below over the rounds (up to .019 in rounds 2-6).
DEFAULT_TABULAR_MODELS = [(0, _FORESTS_AND_NEIGHBOURS),
                          (10, {**_FORESTS_AND_NEIGHBOURS, "LR": {}})]
#: While the labeled rows are fewer than this many per class (on average over the classes
#: labeled: as the ``auto`` strategy's warm-up counts them while every class has a label;
#: the first round, from 2 per class), the default models
#: are averaged, each with the same weight, not blended by AutoGluon's weighted ensemble,
#: which on so few out-of-fold rows often keeps one model by chance. At 2 labels per class
#: (``benchmarks/tabular_vs_forest.py``'s 18 sets, 20 seeds) that raised the accuracy over
#: the forest from -.002 to +.006 on average, on 12 sets of 18 (digits +.028, letter
#: +.018, segment +.022; Mushroom -.004, Sonar -.004 the most lowered). With one annotator
#: the ``auto`` strategy's picks do not change, its warm-up's typical rows being the same
#: whatever the model (checked on Vehicle, letter, satellite, Pima, German credit and
#: glass: the same first two batches); strategies that read the first model do change
#: (``benchmarks/default_strategy.py``, breast cancer: margin's area under the curve .950
#: -> .967). Averaging until the smallest class had 3 labels (or 10) changed ``auto``'s
#: margin picks after the warm-up and put more rounds below the forest.
EQUAL_BLEND_BELOW = 3
#: From :data:`EQUAL_BLEND_BELOW` on, AutoGluon's weighted ensemble of the default models
#: is kept only where its out-of-fold accuracy beats the models' average by more than this
#: many standard errors (of the per-row difference, over the labeled rows); the models
#: are averaged otherwise. AutoGluon's greedy ensemble often keeps one model alone, by a
#: row or two of its out-of-fold accuracy: at German credit's round 1 (24 labels, 17/7)
#: the neighbours alone on one seed of 3 (test accuracy .585; the forest alone .725), and
#: at Pima's the neighbours and logistic regression, 5:1 (.571; the average .727). The
#: standard error was set at one, as Breiman's one-standard-error rule has it, and not
#: tuned (``benchmarks/tabular_vs_forest.py``, all 18 sets, against the greedy blend
#: throughout): rounds below the forest 56 -> 43 of 198 at 3 seeds (more than 2 standard
#: errors below: 11 -> 11) and 47 -> 44 at 10 seeds (8 -> 5); the mean gap to the forest
#: +.0096 -> +.0136 and +.0142 -> +.0162; seed-rounds more than .05 below it 106 -> 95 of
#: 1,980. It rose most on glass (+.021 -> +.035) and Sonar (.000 -> +.008); on the sets the
#: default was chosen on, 10 seeds, Pima fell from 2 rounds below the forest to 5 (mean gap
#: +.008 -> +.006), and DNA's mean gap went from +.001 to -.001.
WEIGHTED_BLEND_MARGIN = 1.0
#: On embeddings, linear models and neighbours do well with few labels.
DEFAULT_EMBEDDING_MODELS = {"LR": {}, "KNN": {"weights": "distance"}}
#: How :class:`TabularLearner` has AutoGluon prepare the columns: as AutoGluon does, but
#: for two steps that read too much into few labeled rows (:func:`feature_generator_kwargs`
#: turns this into AutoGluon's arguments).
#:
#: - ``post_drop_duplicates``: AutoGluon keeps one column of each group equal on the
#:   labeled rows; autoal keeps them all. With few labels many columns of categories
#:   coincide there and differ on the rows to predict (DNA's 180 columns of bases: 147
#:   vary over one seed's 6 first labeled rows, in 30 patterns). At 2 labels per class
#:   (20 seeds, ``benchmarks/tabular_vs_forest.py``'s sets) keeping them raised the
#:   accuracy on DNA by .027 and on House votes by .015, lowered it on Wisconsin breast
#:   cancer by .009 and on soybean by .003, and moved the sets of numbers by .004 at most.
#: - ``convert_bool``: AutoGluon turns a column with two values on the labeled rows into
#:   "equals the one value", so every other value reads as the other one (Wisconsin breast
#:   cancer's grades 1-10: 4 of 8 columns at 4 labeled rows, a grade 9 then read as the
#:   1 seen there). ``"pool"``: autoal lets it do that only where no column has two
#:   values on the labeled rows and more in the pool (:meth:`TabularLearner.prepare`; a
#:   learner never prepared: never), so a column of two values everywhere (DNA's 180
#:   bases) still becomes 0/1 (as categories, the logistic regression made a fit +
#:   predict on 300 of DNA's rows take 4.4 s, not 2.2). At 2 labels per class (20 seeds)
#:   never converting raised Wisconsin breast cancer by .030 ± .010, from .029 below the
#:   forest to level, Ionosphere by .009, Pima by .006 and soybean by .004, lowered House
#:   votes and glass by .003 (± .004, ± .003) and left the other 8 sets exactly as they
#:   were. Over 10 seeds in the loop Wisconsin breast cancer's round 0 went from .032
#:   below the forest to .001; House votes, soybean and Pima moved by .001 on average.
#:
#: AutoGluon's rule that a category seen once on the labeled rows reads as missing (its
#: ``CategoryFeatureGenerator``'s ``minimum_cat_count=2``) stays, though at one seed's 4
#: first labeled rows Mushroom keeps 43 of its 87 known cells by it (63 without). Keeping
#: every category seen (10 seeds) put Mushroom .012 further below the forest over the
#: rounds, 5 rounds by more than 2 standard errors; keeping them while a class has fewer
#: than 3 labels moved the first round by +.043 ± .023 on the Ljubljana breast cancer
#: set, -.007 ± .003 on House votes and less than a standard error on Mushroom, soybean
#: and German credit.
TABULAR_FEATURES = {"post_drop_duplicates": False, "convert_bool": "pool"}
#: AutoGluon's ``TabularPredictor`` ``learner_kwargs`` for every fit. AutoGluon leaves
#: out of the fit, and never predicts, a class of fewer than ``label_count_threshold``
#: rows (its default: 10) while the other classes hold 97.5% of the rows. In active
#: learning that is the class easy to tell apart, which the picks pass by: on segment
#: (``benchmarks/tabular_vs_forest.py``, 7 classes) 5 of 10 seeds lost one round's
#: accuracy by .13-.15 when sky, at 6 of 254 labels, was left out (every sky row then
#: read as cement), and got it back a round later; on soybean (19 classes) rounds 7 and 8
#: were .018 and .020 below the forest for it, and are now level. At 1, AutoGluon keeps
#: every class of 2 rows or more (its bagging keeps the threshold at 2 at least), and
#: :class:`TabularLearner` gives a class of one row a copy of it (``_single_rows_twice``).
TABULAR_LEARNER = {"label_count_threshold": 1}
#: Below this many training rows, the forests and neighbours (AutoGluon's ``RF``, ``XT``,
#: ``KNN``) fit and predict on one thread (``n_jobs=1``, unless their hyperparameters give
#: ``n_jobs``); from it on, on every core, as AutoGluon has them. Their probabilities are
#: the same either way. On few rows, handing 100 small trees out to threads costs more
#: than it saves. ``TabularLearner()`` fit + predict on the pool, 2 cores, median of 5
#: (threads -> one thread): Sonar 4 rows 1.24 -> 1.03 s, 54 rows 1.38 -> 1.21 s; Pima 200
#: rows 1.33 -> 1.01 s; DNA 900 rows 2.56 -> 2.38 s; letter 520 rows (15,480 to predict)
#: 2.54 -> 2.09 s; level at 1,800 rows (satellite 1.88 -> 1.93 s) and 3,120 (letter 4.54
#: -> 4.42 s), so the bound stays well below, for machines of more cores.
ONE_THREAD_ROWS = 1000
_THREADED_MODELS = ("RF", "XT", "KNN")


def cross_fit_proba(learner, data: pd.DataFrame, label: str, *, folds: int = 3,
                    seed: int = 0) -> pd.DataFrame:
    """Out-of-sample probabilities for every row of ``data`` by ``folds``-fold cross-fitting.

    Folds are stratified where each class allows it; a fold whose training part has
    fewer than two classes predicts the training part's class distribution.
    """
    rng = np.random.default_rng(seed)
    fold = np.empty(len(data), dtype=int)
    for _, positions in pd.Series(np.arange(len(data))).groupby(data[label].to_numpy()):
        shuffled = rng.permutation(positions.to_numpy())
        fold[shuffled] = (np.arange(len(shuffled)) + rng.integers(folds)) % folds
    parts = []
    for k in range(folds):
        held = fold == k
        if not held.any():
            continue
        train = data.iloc[~held]
        if train[label].nunique() < 2:
            prior = train[label].value_counts(normalize=True)
            part = pd.DataFrame([prior.to_dict()] * int(held.sum()), index=data.index[held])
        else:
            model = learner.fit(train, label)
            part = model.predict_proba(data.iloc[held])
            part = pd.DataFrame(part, index=data.index[held]) if not isinstance(
                part, pd.DataFrame) else part.set_axis(data.index[held])
            discard(model)
        parts.append(part)
    return pd.concat(parts).reindex(data.index).fillna(0.0)


def discard(model) -> None:
    """Remove a throw-away model's files, if it says where they are."""
    path = getattr(model, "path", None)
    if path and getattr(model, "owns_path", False):
        shutil.rmtree(path, ignore_errors=True)


class CrossFitted:
    """Any learner, with out-of-sample probabilities for its training rows.

    ``fit(data, label)`` fits ``learner`` on every row; when the model has no
    ``oof_proba`` (missing or None), it sets ``model.oof_proba`` by ``folds``-fold
    cross-fitting (:func:`cross_fit_proba`): ``1 + folds`` fits. The engine wraps every
    learner that does not declare ``gives_oof_proba = True`` in one, so a learner of your
    own needs nothing but ``fit``.

    Parameters
    ----------
    learner : an object with ``fit(data, label) -> model``; its ``prepare`` and
        ``with_context``, when it has them, are used.
    folds : folds for cross-fitting, an int >= 2.
    seed : draws the folds (stratified by class).
    """

    gives_oof_proba = True
    #: Fits the folds when it differs from ``learner`` (set by :meth:`with_context`).
    _fold_learner = None

    def __init__(self, learner, folds: int = 3, seed: int = 0):
        self.learner = learner
        self.folds = folds
        self.seed = seed

    def prepare(self, data: pd.DataFrame, column_types=None) -> None:
        """``learner.prepare(data, column_types)``, when it has one."""
        if callable(getattr(self.learner, "prepare", None)):
            self.learner.prepare(data, column_types)

    def embed(self, data: pd.DataFrame) -> np.ndarray:
        """``learner.embed(data)``; an ``AttributeError`` when it has none."""
        embed = getattr(self.learner, "embed", None)
        if not callable(embed):
            raise AttributeError(f"{type(self.learner).__name__} has no embed().")
        return embed(data)

    def with_context(self, *, path=None, seed=None, time_limit=None) -> CrossFitted:
        """A configured copy (this one is unchanged): ``seed`` replaces the folds' seed
        when not None, and ``learner.with_context(...)`` (when it has one) configures the
        fit on every row, writing to ``path``; the folds get the same seed and time
        limit and their own throw-away folders."""
        copied = copy.copy(self)
        if seed is not None:
            copied.seed = check_int("seed", seed, minimum=0, owner="with_context")
        if callable(getattr(self.learner, "with_context", None)):
            copied.learner = self.learner.with_context(path=path, seed=seed,
                                                       time_limit=time_limit)
            copied._fold_learner = self.learner.with_context(seed=seed, time_limit=time_limit)
        return copied

    def fit(self, data: pd.DataFrame, label: str):
        folds = check_int("folds", self.folds, minimum=2, owner="CrossFitted")
        model = self.learner.fit(data, label)
        if getattr(model, "oof_proba", None) is None:
            learner = self.learner if self._fold_learner is None else self._fold_learner
            oof = cross_fit_proba(learner, data, label, folds=folds, seed=self.seed)
            try:
                model.oof_proba = oof
            except AttributeError as error:
                raise TypeError(f"CrossFitted sets 'oof_proba' on the model, and "
                                f"{type(model).__name__} does not allow it ({error}). Give "
                                f"the model an 'oof_proba' attribute.") from error
        return model


#: Constructor arguments that do not change the picks, left out of :func:`learner_settings`.
_NOT_SETTINGS = ("path", "progress", "verbosity", "ray_address")


def learner_settings(learner) -> dict:
    """A JSON-able description of ``learner``: what a resumed run must share with its start.

    ``{"class": "<module>.<qualname>", "params": {...}}``. The params are the constructor
    arguments as stored on the object (scikit-learn's ``get_params`` where the object has
    it, else the same-named attributes of ``__init__``'s parameters, following
    ``**kwargs`` up the base classes), less those that do not change the picks:
    ``path``, ``progress``, ``verbosity``, ``ray_address``. A learner inside (as
    :class:`CrossFitted`'s) is described the same way; functions and classes by name
    (see :func:`autoal._describe.describe`).
    """
    return describe(learner, leave_out=_NOT_SETTINGS)


def default_models(learner):
    """The AutoGluon models ``learner`` fits by default (:data:`DEFAULT_TABULAR_MODELS`, as
    JSON types), or None where it was given its own: what a newer autoal may change under a
    run that :func:`learner_settings` describes with ``hyperparameters=None``."""
    learner = _inner(learner)
    # EmbeddingLearner stores its default as its hyperparameters, so learner_settings has it.
    if type(learner) is TabularLearner and learner.hyperparameters is None:
        return describe(DEFAULT_TABULAR_MODELS)
    return None


def feature_generator_kwargs(features: dict, train: pd.DataFrame | None = None,
                             pool_values: dict | None = None) -> dict:
    """``features`` (as :data:`TABULAR_FEATURES`) as the arguments of AutoGluon's
    ``AutoMLPipelineFeatureGenerator`` for a fit on the feature columns ``train``, new
    objects each call. ``convert_bool`` belongs to the pipeline's first step,
    ``AsTypeFeatureGenerator`` (without it, that step and the one after it are given as
    the pipeline builds them); ``"pool"`` is False where a column has two values in
    ``train`` and more in the pool (``pool_values``: each column's count of values there,
    NaN counted as AutoGluon counts it; None: not known), else True."""
    kwargs = dict(features)
    convert = kwargs.pop("convert_bool", True)
    if convert == "pool":
        convert = pool_values is not None and train is not None and not any(
            count == 2 and pool_values.get(column, 3) > 2
            for column, count in train.nunique(dropna=False).items())
    if not convert:
        from autogluon.features.generators import (
            AsTypeFeatureGenerator, FillNaFeatureGenerator,
        )

        kwargs.update(pre_enforce_types=False,
                      pre_generators=[AsTypeFeatureGenerator(convert_bool=False),
                                      FillNaFeatureGenerator(inplace=True)])
    return kwargs


def tabular_features(learner):
    """:data:`TABULAR_FEATURES` where ``learner`` fits AutoGluon's ``TabularPredictor`` (the
    tabular and embedding learners), else None: what a newer autoal may change under it."""
    return dict(TABULAR_FEATURES) if isinstance(_inner(learner), TabularLearner) else None


def default_blend(learner):
    """How ``learner`` blends its default models (:data:`EQUAL_BLEND_BELOW`,
    :data:`WEIGHTED_BLEND_MARGIN`), or None where it was given its own models: what a newer
    autoal may change under a run that :func:`learner_settings` describes with
    ``hyperparameters=None``."""
    if default_models(learner) is None:
        return None
    return {"equal_below_per_class": EQUAL_BLEND_BELOW, "weighted_margin": WEIGHTED_BLEND_MARGIN}


def run_defaults(learner) -> dict:
    """What this autoal's defaults make of ``learner``, which its settings do not say:
    ``default_models``, ``tabular_features`` and ``default_blend`` (None where they do
    not apply). A run records them, and says so when resumed by an autoal whose differ."""
    return {"default_models": default_models(learner),
            "tabular_features": tabular_features(learner),
            "default_blend": default_blend(learner)}


def _inner(learner):
    """The learner that :class:`CrossFitted` wrappers (if any) fit in folds."""
    while isinstance(learner, CrossFitted):
        learner = learner.learner
    return learner


def _problem_type(y: pd.Series) -> str:
    return "binary" if y.nunique() == 2 else "multiclass"


class _Workspace:
    """Fresh folders for AutoGluon's files: ``root/fit-NNN``, or temporary ones; with
    ``exact``, ``root`` itself, then its free siblings ``root-2``, ``root-3``, ...

    Nothing here deletes a fitted model's folder while its model may be in use: the engine
    discards a model once a newer one replaces it, and a temporary folder goes when
    nothing holds the predictor in it any more (:meth:`tie`), or when Python exits (or,
    where the process is killed first, when the next autoal process makes one:
    :func:`autoal._scratch.sweep`).
    """

    def __init__(self, path=None, *, exact: bool = False):
        self.root = Path(path) if path is not None else None
        self.exact = exact
        self._count = 0

    def new(self) -> Path:
        if self.root is None:
            return _scratch.folder()
        self._count += 1
        if not self.exact:
            folder = self.root / f"fit-{self._count:03d}"
        elif self._count == 1:
            folder = self.root
        else:  # a second fit of the same copy: never over a folder that exists
            while (folder := self.root.with_name(f"{self.root.name}-{self._count}")).exists():
                self._count += 1
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        return folder

    def tie(self, predictor, folder) -> None:
        """Remove ``folder``, when it is temporary, once ``predictor`` (the AutoGluon
        predictor saved in it, which reads its models from there) is garbage collected."""
        if self.root is None:
            weakref.finalize(predictor, shutil.rmtree, str(folder), True)


class _InFolders:
    """:meth:`with_context` for the learners that write AutoGluon predictors to folders
    (``path``, ``seed`` and ``time_limit`` attributes, a ``_workspace``)."""

    def with_context(self, *, path=None, seed=None, time_limit=None):
        """A configured shallow copy for the engine's next fit; this learner is unchanged.

        Parameters
        ----------
        path : the exact folder the copy's next fit writes its predictor to (removed
            first if it exists); a second fit of the copy goes to a fresh sibling
            (``<path>-2``, ...). None: the learner's own folders.
        seed : replaces the learner's seed, when not None.
        time_limit : replaces the learner's time limit, when not None.

        What :meth:`prepare` computed is shared with the copy, not recomputed.
        """
        copied = copy.copy(self)
        if path is not None:
            copied.path = Path(path)
            copied._workspace = _Workspace(path, exact=True)
        if seed is not None:
            copied.seed = check_int("seed", seed, minimum=0, owner="with_context")
        if time_limit is not None:
            copied.time_limit = check_positive_or_none("time_limit", time_limit,
                                                       owner="with_context")
        return copied


#: Rows a learner's :class:`FeatureEncoder` is fitted on (a seeded sample of a bigger pool).
ENCODER_ROWS = 10_000


class FeatureEncoder:
    """Rows as numbers, for the strategies that measure distances between rows.

    Numeric (and boolean) columns are centred and scaled to unit variance, with missing
    values at the centre; the columns of one block in ``groups`` (an embedding) share one
    scale, so the block keeps its geometry. Every other column becomes 0/1 indicators of
    its ``max_categories`` most frequent values among those seen at least twice, so free
    text and file paths, whose values are all distinct, drop out. No labels are used.
    """

    def __init__(self, max_categories: int = 20):
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame, groups=None) -> "FeatureEncoder":
        """Learn centres, scales and categories from ``frame``; ``groups`` maps a column
        to the name of the block it shares a scale with."""
        groups = groups or {}
        self.numeric_ = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        values = frame[self.numeric_].to_numpy(dtype=float, na_value=np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
            center = np.nanmean(values, axis=0) if len(values) else np.zeros(values.shape[1])
            variance = np.nanvar(values, axis=0) if len(values) else np.ones(values.shape[1])
            for block in set(groups.values()):
                members = [i for i, c in enumerate(self.numeric_) if groups.get(c) == block]
                if members:
                    variance[members] = np.nanmean(variance[members])
        scale = np.sqrt(variance)
        self.center_ = np.nan_to_num(center, nan=0.0)
        self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.categories_ = {}
        for column in (c for c in frame.columns if c not in set(self.numeric_)):
            counts = frame[column].value_counts(dropna=True)
            counts = counts[counts >= 2].iloc[: self.max_categories]
            if len(counts):
                self.categories_[column] = counts.index.to_numpy(dtype=object)
        self.n_features_ = len(self.numeric_) + sum(map(len, self.categories_.values()))
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Float32 array of shape ``(len(frame), d)``."""
        numeric = frame[self.numeric_].to_numpy(dtype=float, na_value=np.nan)
        numeric = (numeric - self.center_) / self.scale_
        blocks = [np.nan_to_num(numeric, nan=0.0)]
        for column, categories in self.categories_.items():
            values = frame[column].to_numpy(dtype=object)
            blocks.append((values[:, None] == categories[None, :]).astype(float))
        return np.hstack(blocks).astype(np.float32)


class TabularModel:
    """A fitted TabularPredictor; ``transform`` maps raw rows to its features.

    Besides ``predict_proba``, it gives what committee, sampling and feature-based
    strategies need (see :func:`autoal.predict.strategy_inputs`): ``committee_proba``
    and ``committee_oof_proba`` (the base models AutoGluon trained, without the weighted
    ensemble), ``sample_proba`` (every bagged fold model) and ``embed`` (``encoder``'s
    numbers for the learner's features).
    """

    owns_path = True

    def __init__(self, predictor, oof_proba, transform=None, encoder=None):
        self.predictor = predictor
        self.oof_proba = oof_proba
        self.path = predictor.path
        self._transform = transform
        self._encoder = encoder

    def _features(self, data: pd.DataFrame) -> pd.DataFrame:
        return self._transform(data) if self._transform else data

    def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.predictor.predict_proba(self._features(data),
                                            as_multiclass=True).set_axis(data.index)

    def _base_models(self) -> list:
        """The models fitted on the features (stack level 1): not the weighted ensemble."""
        return self.predictor.model_names(level=1, can_infer=True)

    def committee_proba(self, data: pd.DataFrame) -> list:
        """Each base model's probabilities for ``data``: one DataFrame per model (a bagged
        model averages its folds, as ``predictor.predict_proba(df, model=name)``)."""
        names = self._base_models()
        probas = self.predictor.predict_proba_multi(self._features(data), models=names,
                                                    as_multiclass=True)
        return [probas[name].set_axis(data.index) for name in names]

    def committee_oof_proba(self) -> list:
        """Each base model's out-of-fold probabilities for the training rows, indexed like
        ``oof_proba``."""
        index = self.oof_proba.index if self.oof_proba is not None else None
        out = []
        for name in self._base_models():
            oof = self.predictor.predict_proba_oof(model=name, as_multiclass=True)
            out.append(oof if index is None else _first_rows(oof, index))
        return out

    def sample_proba(self, data: pd.DataFrame) -> list:
        """Every bagged fold model's probabilities for ``data``: one DataFrame per fold
        model of each base model (AutoGluon fits a single one for random forests and
        extra trees, whose bag uses out-of-bag predictions; one for an unbagged model)."""
        # AutoGluon has no public per-fold prediction: see autoal._autogluon.
        return fold_probabilities(self.predictor, self._base_models(), self._features(data),
                                  data.index)

    def embed(self, data: pd.DataFrame) -> np.ndarray:
        """The learner's features of ``data`` as numbers (:class:`FeatureEncoder`):
        float32 ``(len(data), d)``; for the embedding learner, its (projected)
        embeddings with any tabular columns."""
        if self._encoder is None:
            raise ValueError("This TabularModel was made without an 'encoder', so it cannot "
                             "embed rows. Fit it with TabularLearner or EmbeddingLearner.")
        return self._encoder.transform(self._features(data))


def _single_rows_twice(train: pd.DataFrame, label: str) -> pd.DataFrame:
    """``train`` (on a ``RangeIndex``: rows by position), with each row that is the only
    one of its class appended once more, when there are more than two classes.

    AutoGluon's bagging needs 2 rows of a class. Otherwise, fitting for accuracy, it leaves
    a class of one row out, and never predicts it, while the other classes hold 97.5% of
    the rows (a rare class just found, at 1 of 40 labels); fitting for log loss, it
    appends the copies itself, at ``index.max() + 1``, which fails on row ids that are
    text, and its out-of-fold rows then outnumbered the labeled ones. The copies come
    last, so the labeled rows keep their positions (:func:`_first_rows`); a copied row's
    own out-of-fold probabilities come from folds that saw its copy.
    """
    counts = train[label].value_counts()
    single = counts.index[counts == 1]
    if len(counts) <= 2 or not len(single):
        return train
    return pd.concat([train, train[train[label].isin(single)]], ignore_index=True)


def _first_rows(oof: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Out-of-fold probabilities of a fit on rows by position (:meth:`TabularLearner.fit`)
    for its labeled rows, the first ``len(index)``, named by ``index``; a row AutoGluon
    dropped reads NaN."""
    return oof.reindex(pd.RangeIndex(len(index))).set_axis(index)


def _nothing_fitted(features: pd.DataFrame) -> str:
    """Why AutoGluon fitted no model on ``features``, and what to do."""
    def described(column):
        values = features[column]
        if values.dtype != object:
            return f"{column} ({values.dtype})"
        return f"{column} (object, {values.nunique()} distinct of {len(values)})"

    more = f" and {len(features.columns) - 10} more" if len(features.columns) > 10 else ""
    return (f"AutoGluon could not fit any model: it found no usable feature among "
            f"{', '.join(map(described, features.columns[:10])) or 'no columns'}{more}. A "
            f"column of strings that are almost all different carries nothing as a category: "
            f"if it holds words or short texts, type it as text (column_types={{'COLUMN': "
            f"'text'}}, or 'autoal init --column-types COLUMN=text'); if it is an ID, drop it "
            f"(or give it to 'autoal init --id').")


def _one_thread(models, rows: int):
    """AutoGluon ``hyperparameters`` ``models`` with ``n_jobs=1`` for the forests and
    neighbours that do not set it, when ``rows`` is below :data:`ONE_THREAD_ROWS`."""
    if rows >= ONE_THREAD_ROWS or not isinstance(models, dict):
        return models

    def single(settings):
        if not isinstance(settings, dict) or "n_jobs" in settings:
            return settings
        return {**settings, "n_jobs": 1}

    return {name: ([single(s) for s in settings] if isinstance(settings, list)
                   else single(settings)) if name in _THREADED_MODELS else settings
            for name, settings in models.items()}


def _neighbours_that_fit(models, rows: int):
    """AutoGluon ``hyperparameters`` ``models`` without the neighbours (``KNN``) that would
    ask for as many neighbours as there are ``rows`` or more (scikit-learn's default: 5):
    AutoGluon's leave-one-out scores cannot be had then, so it skips the model, but prints
    a warning that reads like a failure (a two-class table's first round, at 2 labels per
    class). The models fitted are the same."""
    if not isinstance(models, dict) or "KNN" not in models:
        return models
    settings = models["KNN"] if isinstance(models["KNN"], list) else [models["KNN"]]
    fit = [s for s in settings if not isinstance(s, dict) or s.get("n_neighbors", 5) < rows]
    rest = {name: value for name, value in models.items() if name != "KNN"}
    if fit:
        return {**rest, "KNN": fit if isinstance(models["KNN"], list) else fit[0]}
    return rest or models  # neighbours alone: as given (AutoGluon skips them, fits nothing)


def _tier(value, labels: pd.Series, name: str = "hyperparameters"):
    """``value`` itself, or of tiers ``[(min_per_class, value), ...]`` the last one the
    smallest class count of ``labels`` reaches (``name``: the parameter, for the error)."""
    if not isinstance(value, (list, tuple)):
        return value
    if not value or value[0][0] != 0:
        raise ValueError(f"The {name!r} parameter of TabularLearner, given as tiers, "
                         "must be a list of (min_per_class, value) pairs, the first with "
                         f"min_per_class 0. Got {value!r}.")
    smallest = int(labels.value_counts().min())
    return [chosen for least, chosen in value if least <= smallest][-1]


class TabularLearner(_InFolders):
    """AutoGluon ``TabularPredictor``, bagged so it yields out-of-fold probabilities.

    Parameters
    ----------
    time_limit : seconds per fit, or None for no limit.
    presets : AutoGluon presets (default: none).
    hyperparameters : AutoGluon hyperparameters, or tiers by labeled set size: a list of
        ``(min_per_class, hyperparameters)`` pairs, of which each fit uses the last whose
        ``min_per_class`` the training rows' smallest class reaches (the first pair's
        must be 0). Default: the tiers of :data:`DEFAULT_TABULAR_MODELS`. Below
        :data:`ONE_THREAD_ROWS` training rows, forests and neighbours that give no
        ``n_jobs`` run on one thread.
    num_bag_folds : folds for bagging, >= 2; the out-of-fold probabilities score the
        labeled pool (random forests and extra trees are fitted once and give out-of-bag
        probabilities instead, neighbours leave-one-out ones).
    path : folder for AutoGluon's files; each fit writes to a fresh ``fit-NNN`` folder
        in it (:meth:`with_context` picks the exact folder of one fit). Default: a
        temporary folder per fit, removed once nothing holds its predictor.
    seed : passed to AutoGluon models as ``random_seed``.
    eval_metric : the AutoGluon metric its weighted ensemble maximises on the
        out-of-fold probabilities (``"log_loss"``, ``"accuracy"``, ...), or tiers of them
        as for ``hyperparameters``; default: ``"accuracy"`` with the default models,
        ``"log_loss"`` with ``hyperparameters`` given. (The default models are averaged
        with equal weights instead while the labeled rows are fewer than
        :data:`EQUAL_BLEND_BELOW` per class, and from then on unless the weighted blend's
        out-of-fold accuracy beats their average's by more than
        :data:`WEIGHTED_BLEND_MARGIN` standard errors.) Whatever it is, the model gives
        probabilities, and the out-of-fold ones.
    fit_kwargs : any other ``TabularPredictor.fit`` arguments (they replace autoal's: a
        ``feature_generator`` of your own, for instance, replaces
        :data:`TABULAR_FEATURES`).
    """

    gives_oof_proba = True

    def __init__(self, *, time_limit=None, presets=None, hyperparameters=None,
                 num_bag_folds: int = 3, path=None, seed: int = 0, verbosity: int = 0,
                 eval_metric=None, fit_kwargs=None):
        self.time_limit = time_limit
        self.presets = presets
        self.hyperparameters = hyperparameters
        self.num_bag_folds = num_bag_folds
        self.path = path
        self.seed = seed
        self.verbosity = verbosity
        self.eval_metric = eval_metric
        self.fit_kwargs = fit_kwargs
        self._workspace = _Workspace(path)

    def prepare(self, data: pd.DataFrame, column_types=None) -> None:
        """Fit the :class:`FeatureEncoder` behind ``model.embed`` on the rows (a sample of
        :data:`ENCODER_ROWS`); without this call each fit fits one on its training rows.
        Count each column's values over all the rows, for :data:`TABULAR_FEATURES`."""
        self.encoder_ = self._fit_encoder(data)
        self.pool_values_ = self._features(data).nunique(dropna=False).to_dict()

    def embed(self, data: pd.DataFrame) -> np.ndarray:
        """The rows as numbers, as the models' ``embed`` gives them: float32 ``(n, d)``
        (after :meth:`prepare`; a cold start picks its first rows with them)."""
        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            raise ValueError(f"{type(self).__name__}.embed needs prepare(data) first.")
        return encoder.transform(self._features(data))

    def _features(self, data: pd.DataFrame) -> pd.DataFrame:
        return data

    def _feature_groups(self, frame: pd.DataFrame) -> dict:
        return {}

    def _fit_encoder(self, data: pd.DataFrame) -> FeatureEncoder:
        if len(data) > ENCODER_ROWS:
            data = data.sample(ENCODER_ROWS, random_state=self.seed)
        frame = self._features(data)
        return FeatureEncoder().fit(frame, groups=self._feature_groups(frame))

    def fit(self, data: pd.DataFrame, label: str) -> TabularModel:
        TabularPredictor = tabular_predictor()
        train = self._features(data.drop(columns=[label])).reset_index(drop=True)
        train[label] = data[label].to_numpy()
        train = _single_rows_twice(train, label)
        folds = min(self.num_bag_folds, int(train[label].value_counts().max()))
        folder = self._workspace.new()
        predictor = TabularPredictor(
            label=label, problem_type=_problem_type(train[label]),
            eval_metric=_tier(self.eval_metric or ("log_loss" if self.hyperparameters
                                                   else "accuracy"),
                              data[label], "eval_metric"),
            path=str(folder), verbosity=self.verbosity,
            learner_kwargs=dict(TABULAR_LEARNER),
        )
        self._workspace.tie(predictor, folder)
        models = _tier(self.hyperparameters or DEFAULT_TABULAR_MODELS, data[label])
        models = _one_thread(_neighbours_that_fit(models, len(train)), len(train))
        kwargs = dict(presets=self.presets, time_limit=self.time_limit, hyperparameters=models,
                      num_bag_folds=max(folds, 2), num_bag_sets=1, num_stack_levels=0,
                      ag_args_fit={"random_seed": self.seed},
                      _feature_generator_kwargs=feature_generator_kwargs(
                          TABULAR_FEATURES, train.drop(columns=[label]),
                          getattr(self, "pool_values_", None)),
                      # Folds one after another: Ray workers cost more than they save here.
                      ag_args_ensemble={"fold_fitting_strategy": "sequential_local"})
        if self.hyperparameters is None and (
                len(data) < EQUAL_BLEND_BELOW * train[label].nunique()):
            kwargs.update(equal_weights())
        elif self.hyperparameters is None:
            kwargs.update(equal_unless_clearly_beaten(WEIGHTED_BLEND_MARGIN))
        kwargs.update(self.fit_kwargs or {})
        try:
            with warnings.catch_warnings():
                # AutoGluon's logistic regression passes n_jobs, which scikit-learn 1.8
                # ignores with a FutureWarning at every fit; and it asks for 1,000
                # quantiles of a skewed column, which scikit-learn lowers to the rows
                # there are with a UserWarning in every fold.
                warnings.filterwarnings("ignore", message="'n_jobs' has no effect",
                                        category=FutureWarning)
                warnings.filterwarnings("ignore", message=r"n_quantiles \(\d+\) is greater",
                                        category=UserWarning)
                predictor.fit(train, **kwargs)
        except RuntimeError as error:
            if "No models were trained" not in str(error):
                raise
            raise ValueError(_nothing_fitted(train.drop(columns=[label]))) from None
        oof = _first_rows(predictor.predict_proba_oof(train_data=train, as_multiclass=True),
                          data.index)
        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            encoder = self._fit_encoder(data.drop(columns=[label]))
        return TabularModel(predictor, oof, self._features, encoder=encoder)

    def load_model(self, path) -> TabularModel:
        """The model a fit of this learner saved in ``path`` (AutoGluon's folder), ready
        to predict raw rows (the embedding learner embeds them first, so it must be set
        up as the one that fitted); it has no ``oof_proba`` and no ``embed``."""
        return TabularModel(tabular_predictor().load(str(path), verbosity=0), None,
                            self._features)


class _Projection:
    """A PCA projection from its arrays (no whitening): what :meth:`PCA.transform` does."""

    def __init__(self, mean, components):
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.components_ = np.asarray(components, dtype=np.float64)

    def transform(self, vectors) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float64) - self.mean_) @ self.components_.T


#: ``EmbeddingLearner``'s ``text_features`` choices.
TEXT_FEATURES = ("tfidf", None)
#: The suffix naming a text column's n-gram features (and their projection).
TFIDF = "__tfidf"


class EmbeddingLearner(TabularLearner):
    """Frozen pretrained embeddings of image and text columns, then AutoGluon Tabular.

    Embeddings are computed once (in :meth:`prepare`, with a progress bar) and cached
    on disk by backbone and content, so later rounds and later runs reuse them.
    Tabular columns pass through unchanged.

    Parameters (besides :class:`TabularLearner`'s)
    ----------
    column_types : ``{column: type}`` of the feature columns; default: the loop's.
    image_checkpoint, text_checkpoint : backbone folder or hub name (default: the
        packaged EfficientNet-Lite0 and all-MiniLM-L6-v2; see :mod:`autoal.backbones`).
    image_size : side in pixels images are resized to before embedding.
    dims : if set, reduce each embedding to this many principal components, fitted on
        every row given to :meth:`prepare` (no labels involved).
    text_features : ``"tfidf"`` (default) to put beside each text column's sentence
        embedding its character n-grams, reduced to ``dims`` (64 where None) columns
        (:class:`autoal.text.TextLSA`, fitted on the rows given to :meth:`prepare`, no
        labels); None for the sentence embedding alone.
    ray_address : None to embed in this process; else a Ray address (``"local"``,
        ``"auto"``, ``"ray://host:10001"``) to compute missing embeddings on Ray workers
        (see :func:`autoal.predict.init_ray`); the files must be readable there.
    """

    def __init__(self, *, column_types=None, image_checkpoint=None, text_checkpoint=None,
                 image_size: int = 224, dims=64, text_features="tfidf", progress: bool = True,
                 hyperparameters=None, ray_address=None, **kwargs):
        super().__init__(hyperparameters=hyperparameters or DEFAULT_EMBEDDING_MODELS, **kwargs)
        if text_features not in TEXT_FEATURES:
            raise ValueError(f"The 'text_features' parameter of EmbeddingLearner must be one "
                             f"of {list(TEXT_FEATURES)}. Got {text_features!r}.")
        self.text_features = text_features
        self.column_types = column_types
        self.image_checkpoint = image_checkpoint
        self.text_checkpoint = text_checkpoint
        self.image_size = image_size
        self.dims = dims
        self.progress = progress
        self.ray_address = ray_address
        self._embedders = {}
        self._projections = {}
        self._tables = {}

    def _embedder(self, kind):
        from .backbones import ImageEmbedder, TextEmbedder

        if kind not in self._embedders:
            if kind == IMAGE:
                self._embedders[kind] = ImageEmbedder(
                    self.image_checkpoint, image_size=self.image_size, progress=self.progress,
                    ray_address=self.ray_address)
            else:
                self._embedders[kind] = TextEmbedder(self.text_checkpoint, progress=self.progress,
                                                     ray_address=self.ray_address)
        return self._embedders[kind]

    def _types(self) -> dict:
        return self.column_types or getattr(self, "column_types_", None) or {}

    def _embedded_columns(self, data):
        types = self._types()
        return [c for c in data.columns if types.get(c) in (IMAGE, TEXT)]

    def prepare(self, data: pd.DataFrame, column_types=None) -> None:
        """Embed every row's image and text columns; fit the optional projections and
        the :class:`FeatureEncoder` behind ``model.embed``."""
        self.column_types_ = dict(self.column_types or column_types or {})
        # New tables, not the old ones updated: a copy (with_context) keeps what it shared.
        self._projections, self._tables = {}, {}
        for column in self._embedded_columns(data):
            vectors = self._embedder(self.column_types_[column])(data[column])
            if self.dims is not None and self.dims < min(vectors.shape):
                from sklearn.decomposition import PCA

                self._projections[column] = PCA(self.dims, random_state=self.seed).fit(vectors)
            if self.column_types_[column] == TEXT and self.text_features == "tfidf":
                from .text import TextLSA

                self._projections[column + TFIDF] = TextLSA(
                    self.dims or 64, seed=self.seed).fit(data[column])
            # Each value's final (projected) vectors, kept so rounds look rows up, not redo them.
            keys = pd.Index(data[column].to_numpy())
            first = ~keys.duplicated()
            self._tables[column] = (keys[first], self._vectors(column, data[column][first]))
        self.encoder_ = self._fit_encoder(data)

    def projections(self) -> dict:
        """What :meth:`prepare` fitted to turn a column's vectors into features, as plain
        arrays (what :meth:`set_projections` takes back; a saved model keeps them so):
        ``{column: {"mean": (d,), "components": (dims, d)}}`` for each PCA of an
        embedding, and ``{column + "__tfidf": TextLSA.arrays()}`` for each text column's
        n-gram features (:class:`autoal.text.TextLSA`)."""
        return {name: (p.arrays() if name.endswith(TFIDF) else
                       {"mean": np.asarray(p.mean_), "components": np.asarray(p.components_)})
                for name, p in self._projections.items()}

    def set_projections(self, projections: dict) -> None:
        """Use ``projections`` (as :meth:`projections` gives them) without :meth:`prepare`:
        an embedding's PCA is ``(x - mean) @ components.T``."""
        from .text import TextLSA

        self._projections = {
            name: (TextLSA.from_arrays(arrays) if name.endswith(TFIDF)
                   else _Projection(arrays["mean"], arrays["components"]))
            for name, arrays in projections.items()}

    def _vectors(self, column, values) -> np.ndarray:
        """A column's features: its embedding (projected), then its n-gram features."""
        vectors = self._embedder(self._types()[column])(values)
        if column in self._projections:
            vectors = self._projections[column].transform(vectors)
        blocks = [np.asarray(vectors, dtype=np.float32)]
        if column + TFIDF in self._projections:
            blocks.append(self._projections[column + TFIDF].transform(values))
        return np.hstack(blocks)

    def _names(self, column, width) -> list:
        """Feature names of a column's vectors: ``column__0000``, then ``column__tfidf__0000``."""
        lsa = self._projections.get(column + TFIDF)
        extra = len(lsa.components_) if lsa is not None else 0
        return ([f"{column}__{i:04d}" for i in range(width - extra)]
                + [f"{column}{TFIDF}__{i:04d}" for i in range(extra)])

    def _feature_groups(self, frame: pd.DataFrame) -> dict:
        """Each embedded column's dimensions share one scale in the encoder."""
        embedded = {c for c, t in self._types().items() if t in (IMAGE, TEXT)}
        blocks = embedded | {c + TFIDF for c in embedded}
        return {name: name.rsplit("__", 1)[0] for name in frame.columns
                if "__" in str(name) and name.rsplit("__", 1)[0] in blocks}

    def _features(self, data: pd.DataFrame) -> pd.DataFrame:
        embedded = self._embedded_columns(data)
        blocks = [data.drop(columns=embedded).reset_index(drop=True)]
        for column in embedded:
            keys, table = self._tables.get(column, (pd.Index([]), None))
            positions = keys.get_indexer(data[column].to_numpy())
            if table is not None and (positions >= 0).all():
                vectors = table[positions]
            else:  # rows prepare() did not see
                vectors = self._vectors(column, data[column])
            blocks.append(pd.DataFrame(vectors, columns=self._names(column, vectors.shape[1])))
        return pd.concat(blocks, axis=1)


#: MultiModal settings without a GPU: no mixed precision, no loader worker processes.
CPU_MULTIMODAL = {"env.num_gpus": 0, "env.accelerator": "cpu", "env.precision": 32,
                  "env.num_workers": 0, "env.num_workers_inference": 0}


class MultiModalModel:
    """A fitted MultiModalPredictor."""

    owns_path = True

    def __init__(self, predictor):
        self.predictor = predictor
        self.path = predictor.path
        self.oof_proba = None

    def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.predictor.predict_proba(data, as_multiclass=True)


class MultiModalLearner(_InFolders):
    """AutoGluon ``MultiModalPredictor`` fine-tuning a pretrained backbone (best on a GPU).

    Out-of-sample probabilities for the labeled pool come from cross-fitting
    (:class:`CrossFitted`, each fold in a throw-away folder), so each round costs
    ``1 + oof_folds`` fits. With ``oof_folds=0`` the model has no out-of-sample
    probabilities, ``gives_oof_proba`` is False, and the engine wraps the learner in
    ``CrossFitted(folds=3)`` (4 fits a round).

    Parameters
    ----------
    column_types : ``{column: type}`` of the feature columns; default: the loop's.
    image_checkpoint, text_checkpoint : local folder or hub name; default: the
        packaged backbones (see :mod:`autoal.backbones`).
    time_limit : seconds per fit.
    hyperparameters : merged over autoal's defaults (``optim.max_epochs`` etc.).
    oof_folds : folds for out-of-sample probabilities, >= 2, or 0 for none.
    path : folder for AutoGluon's files (default: a temporary folder), as
        :class:`TabularLearner`'s.
    seed : passed to ``MultiModalPredictor.fit``; also draws the folds.
    """

    def __init__(self, *, column_types=None, image_checkpoint=None, text_checkpoint=None,
                 time_limit=None, hyperparameters=None, oof_folds: int = 2, path=None,
                 seed: int = 0, verbosity: int = 0):
        self.column_types = column_types
        self.image_checkpoint = image_checkpoint
        self.text_checkpoint = text_checkpoint
        self.time_limit = time_limit
        self.hyperparameters = hyperparameters
        self.oof_folds = oof_folds
        self.path = path
        self.seed = seed
        self.verbosity = verbosity
        self._workspace = _Workspace(path)

    @property
    def gives_oof_proba(self) -> bool:
        """Whether its models carry ``oof_proba``: with ``oof_folds >= 2``."""
        return self.oof_folds >= 2

    def prepare(self, data: pd.DataFrame, column_types=None) -> None:
        """Nothing to precompute: MultiModal reads images and text itself."""
        self.column_types_ = dict(self.column_types or column_types or {})

    def _types(self, data) -> dict:
        types = self.column_types or getattr(self, "column_types_", None) or {}
        return {c: t for c, t in types.items() if c in data.columns}

    def load_model(self, path) -> MultiModalModel:
        """The model a fit of this learner saved in ``path`` (AutoGluon's folder), ready
        to predict raw rows; it has no ``oof_proba``."""
        from autogluon.multimodal import MultiModalPredictor

        return MultiModalModel(MultiModalPredictor.load(str(path), verbosity=0))

    def _hyperparameters(self, data) -> dict:
        from .backbones import default_image_checkpoint, default_text_checkpoint

        types = self._types(data)
        names = []
        hp = {}
        if IMAGE in types.values():
            names.append("timm_image")
            hp["model.timm_image.checkpoint_name"] = (
                self.image_checkpoint or default_image_checkpoint())
        if TEXT in types.values():
            names.append("hf_text")
            hp["model.hf_text.checkpoint_name"] = self.text_checkpoint or default_text_checkpoint()
            # Text augmentation would call nltk.download(): off, so fits never touch the network.
            hp["model.hf_text.text_trivial_aug_maxscale"] = 0.0
        if CATEGORICAL in types.values():
            names.append("categorical_mlp")
        if NUMERICAL in types.values():
            names.append("numerical_mlp")
        if len(names) > 1:
            names.append("fusion_mlp")
        hp["model.names"] = names
        import torch

        if not torch.cuda.is_available():
            hp.update(CPU_MULTIMODAL)
        hp.update(self.hyperparameters or {})
        return hp

    def _fit_one(self, data: pd.DataFrame, label: str, folder) -> MultiModalModel:
        from autogluon.multimodal import MultiModalPredictor

        types = self._types(data)
        # verbosity=0 alone leaves Lightning's lines on
        quiet = LIGHTNING_LOGGERS if self.verbosity == 0 else ()
        with _logger_levels(quiet, logging.ERROR):
            predictor = MultiModalPredictor(
                label=label, problem_type=_problem_type(data[label]), path=str(folder),
                verbosity=self.verbosity, enable_progress_bar=self.verbosity > 0,
            )
            self._workspace.tie(predictor, folder)
            predictor.fit(data, column_types=types, hyperparameters=self._hyperparameters(data),
                          time_limit=self.time_limit, seed=self.seed)
        return MultiModalModel(predictor)

    def fit(self, data: pd.DataFrame, label: str) -> MultiModalModel:
        whole = _OneFit(self, self._workspace.new)
        if self.oof_folds == 0:
            return whole.fit(data, label)
        folds = check_int("oof_folds", self.oof_folds, minimum=2, owner="MultiModalLearner")
        crossed = CrossFitted(whole, folds=folds, seed=self.seed)
        crossed._fold_learner = _OneFit(
            self, lambda: _scratch.folder("fold"))
        return crossed.fit(data, label)


class _OneFit:
    """One MultiModal fit into ``folder()``: the learner's next folder, or a fold's
    temporary one (which :func:`cross_fit_proba` discards)."""

    def __init__(self, learner: MultiModalLearner, folder):
        self.learner = learner
        self.folder = folder

    def fit(self, data, label):
        return self.learner._fit_one(data, label, self.folder())


#: The loggers Lightning writes its lines to (MultiModal trains with Lightning).
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric")


@contextlib.contextmanager
def _logger_levels(names, level):
    """The loggers ``names`` at ``level`` inside the block; their own levels after it."""
    loggers = [logging.getLogger(name) for name in names]
    before = [each.level for each in loggers]
    try:
        for each in loggers:
            each.setLevel(level)
        yield
    finally:
        for each, previous in zip(loggers, before):
            each.setLevel(previous)


def feature_columns(learner, data: pd.DataFrame) -> int | None:
    """Columns ``model.embed`` will give for ``data`` (the rows' features, for the
    strategies over features), when that is cheap to tell before a fit: for
    :class:`TabularLearner` (its :class:`FeatureEncoder` on a sample of the rows);
    None for other learners (the embedding learner's embeddings always have columns)."""
    if type(learner) is not TabularLearner:
        return None
    return learner._fit_encoder(data).n_features_


def make_learner(learner, *, column_types, time_limit=None, seed=0, path=None,
                 progress=True, ray_address=None):
    """Resolve ``learner=`` (a name or an object following the protocol)."""
    check_learner("learner", learner, owner="make_learner")
    if not isinstance(learner, str):
        return learner
    rich = any(t in (IMAGE, TEXT) for t in column_types.values())
    if learner == "auto":
        if not rich:
            learner = "tabular"
        else:
            import torch

            learner = "multimodal" if torch.cuda.is_available() else "embedding"
            logger.info(
                "learner='auto': image/text columns and %s, so using the %s learner",
                "a GPU" if learner == "multimodal" else "no GPU", learner)
    common = dict(time_limit=time_limit, seed=seed, path=path)
    if learner == "tabular":
        return TabularLearner(**common)
    if learner == "embedding":
        return EmbeddingLearner(column_types=column_types, progress=progress,
                                ray_address=ray_address, **common)
    return MultiModalLearner(column_types=column_types, **common)
