"""AutoGluon's private calls, in one place.

autoal uses AutoGluon through its public API except where AutoGluon has none. There
are three such places.

Each bagged fold model's own probabilities (BALD and the other ``"samples"``
strategies): AutoGluon predicts with a bag as a whole, and has no public per-fold
prediction (https://github.com/autogluon/autogluon/issues/4180). So
:func:`fold_probabilities` reaches for

- ``predictor._trainer.load_model(name)``: the fitted model object of a base model;
- ``model.predict_proba_children(features)``: a bagged model's per-fold probabilities,
  in AutoGluon's internal encoding;
- ``predictor._learner._post_process_predict_proba(...)``: the predictor's own
  conversion of internal probabilities to one column per class label.

The package scan behind a predictor's metadata: every save and load of a
``TabularPredictor`` reads the metadata of each installed package for its
``metadata.json`` (0.2 s on 2 cores with autoal's dependencies; a fit saves twice), and
has no option to skip it. :func:`tabular_predictor` replaces
``autogluon.tabular.predictor.predictor.get_autogluon_metadata`` with a copy of its first
answer: the installed packages do not change while autoal runs.

Models averaged with equal weights (:func:`equal_weights`): AutoGluon blends a predictor's
models with its greedy weighted ensemble and has no public way to fix the weights. Its
``fit`` passes ``aux_kwargs`` (documented, "advanced") to the trainer's
``generate_weighted_ensemble``, whose ``child_cls`` (not documented) names the ensemble's
model class; :class:`EqualWeights` is AutoGluon's ``GreedyWeightedEnsembleModel`` with
``_fit`` replaced: a ``SimpleWeightedEnsemble`` of weights 1/n, and
``_set_stack_columns``, as the greedy one sets its columns.

Checked with ``autogluon.tabular`` :data:`CHECKED_WITH`. ``tests/test_autogluon.py``
fits a tiny bagged predictor and checks these calls still exist, still take these
arguments and that the fold models still average to the bag, and that after a first
fit, a fit and a load scan no packages (and ``tests/test_learners.py`` that a fit with
:func:`equal_weights` predicts the mean of its models and loads in a new process); an
upgrade that breaks them fails there, and
:func:`fold_probabilities` here with a :class:`RuntimeError` naming the call.
"""

from __future__ import annotations

import copy
import functools

import pandas as pd

#: The ``autogluon.tabular`` version these calls were checked with.
CHECKED_WITH = "1.6.3"


def _broken(call: str, error: Exception) -> RuntimeError:
    try:
        from autogluon.tabular import __version__ as version
    except ImportError:  # pragma: no cover - the caller has a predictor
        version = "unknown"
    return RuntimeError(
        f"AutoGluon's private {call} failed ({type(error).__name__}: {error}). autoal uses it "
        f"for per-fold probabilities (autogluon#4180); it was checked with autogluon.tabular "
        f"{CHECKED_WITH} and this is {version}. Install autogluon.tabular=={CHECKED_WITH}, or "
        f"update autoal/_autogluon.py.")


def tabular_predictor():
    """``autogluon.tabular.TabularPredictor``, with the installed packages scanned once
    per process for its metadata (see the module's docstring)."""
    from autogluon.tabular.predictor import predictor

    scan = getattr(predictor, "get_autogluon_metadata", None)
    if scan is not None and not hasattr(scan, "scanned_once"):
        first = functools.cache(scan)

        def metadata():
            return copy.deepcopy(first())

        metadata.scanned_once = True
        predictor.get_autogluon_metadata = metadata
    return predictor.TabularPredictor


def fold_probabilities(predictor, model_names, features: pd.DataFrame, index) -> list:
    """Every fold model's probabilities: one DataFrame per fold of each of ``model_names``.

    Parameters
    ----------
    predictor : a fitted ``autogluon.tabular.TabularPredictor``.
    model_names : names of its models (``predictor.model_names()``), in the order wanted.
    features : rows as the predictor takes them (its feature columns, no label).
    index : the index of the result's DataFrames (``len(features)`` labels).

    Returns a list of DataFrames with one column per class label (binary problems get
    both columns). A bagged model gives one per fold model it keeps (AutoGluon keeps a
    single one for random forests and extra trees, whose bag predicts out of bag); a
    model that is not bagged gives its own probabilities, once.
    """
    from autogluon.core.models import BaggedEnsembleModel

    transformed = predictor.transform_features(features)
    try:
        trainer = predictor._trainer
        load_model = trainer.load_model
        post_process = predictor._learner._post_process_predict_proba
    except AttributeError as error:
        raise _broken("predictor._trainer.load_model / predictor._learner."
                      "_post_process_predict_proba", error) from error
    out = []
    for name in model_names:
        try:
            model = load_model(name)
        except (AttributeError, TypeError) as error:
            raise _broken(f"predictor._trainer.load_model({name!r})", error) from error
        if isinstance(model, BaggedEnsembleModel):
            try:
                children = model.predict_proba_children(transformed)
            except (AttributeError, TypeError) as error:
                raise _broken(f"{type(model).__name__}.predict_proba_children(features)",
                              error) from error
        else:
            children = [model.predict_proba(transformed)]
        for proba in children:
            try:
                frame = post_process(proba, as_pandas=True, index=index, as_multiclass=True)
            except TypeError as error:
                raise _broken("predictor._learner._post_process_predict_proba(proba, "
                              "as_pandas=True, index=..., as_multiclass=True)", error) from error
            if not isinstance(frame, pd.DataFrame):
                raise _broken("predictor._learner._post_process_predict_proba",
                              TypeError(f"returned {type(frame).__name__}, not a DataFrame"))
            out.append(frame)
    return out


def equal_weights() -> dict:
    """``TabularPredictor.fit`` arguments that average the models, each with weight 1/n,
    in place of AutoGluon's weighted ensemble (see the module's docstring)."""
    return {"aux_kwargs": {"child_cls": _equal_weights_class()}}


def __getattr__(name):
    # EqualWeights is built on first use, so importing autoal does not import AutoGluon;
    # a saved predictor names it autoal._autogluon.EqualWeights, which loads it here.
    if name == "EqualWeights":
        return _equal_weights_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _equal_weights_class():
    from autogluon.core.models import GreedyWeightedEnsembleModel
    from autogluon.core.models.greedy_ensemble.ensemble_selection import SimpleWeightedEnsemble

    class EqualWeights(GreedyWeightedEnsembleModel):
        """AutoGluon's weighted ensemble with each base model's weight 1/n."""

        ag_name = "EqualWeights"

        def _fit(self, X, y, **kwargs):
            n = len(self.base_model_names)
            self.model = SimpleWeightedEnsemble(weights=[1 / n] * n,
                                                problem_type=self.problem_type)
            self.features = self._set_stack_columns(base_model_names=self.base_model_names)
            self.params_trained["ensemble_size"] = n
            self.weights_ = self.model.weights_

    EqualWeights.__module__ = __name__
    EqualWeights.__qualname__ = "EqualWeights"
    return EqualWeights
