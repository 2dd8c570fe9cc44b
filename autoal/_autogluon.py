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
``_set_stack_columns``, as the greedy one sets its columns. The same way,
:func:`equal_unless_clearly_beaten` names :class:`EqualUnlessClearlyBeaten`, AutoGluon's
greedy ensemble whose ``_fit`` then compares the greedy blend's out-of-fold accuracy with
the average's on the rows it was given (its base models' out-of-fold probabilities, in
AutoGluon's encoding) and keeps the average unless the blend wins clearly; its threshold
travels as a model hyperparameter (``aux_kwargs``' ``child_hyperparameters``), which
``_get_model_params`` takes out before AutoGluon's ``EnsembleSelection`` sees them.

Checked with ``autogluon.tabular`` :data:`CHECKED_WITH`. ``tests/test_autogluon.py``
fits a tiny bagged predictor and checks these calls still exist, still take these
arguments and that the fold models still average to the bag, and that after a first
fit, a fit and a load scan no packages (and ``tests/test_learners.py`` that a fit with
:func:`equal_weights` predicts the mean of its models and loads in a new process, and
that :func:`equal_unless_clearly_beaten` decides as its out-of-fold probabilities say); an
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
    return {"aux_kwargs": {"child_cls": _ensembles()["EqualWeights"]}}


def equal_unless_clearly_beaten(standard_errors: float) -> dict:
    """``TabularPredictor.fit`` arguments that keep AutoGluon's weighted ensemble only
    where its out-of-fold accuracy beats the models' average by more than
    ``standard_errors`` standard errors, and average the models otherwise (see the
    module's docstring)."""
    return {"aux_kwargs": {"child_cls": _ensembles()["EqualUnlessClearlyBeaten"],
                           "child_hyperparameters": {"standard_errors": standard_errors}}}


def __getattr__(name):
    # The ensembles are built on first use, so importing autoal does not import AutoGluon;
    # a saved predictor names them as autoal._autogluon.EqualWeights (and so on), which
    # loads them here.
    if name in ("EqualWeights", "EqualUnlessClearlyBeaten"):
        return _ensembles()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def gain_and_error(correct, baseline) -> tuple:
    """The mean over rows of ``correct - baseline`` (one boolean per row each: whether a
    model was right there) and its standard error; (0, 0) for no rows."""
    import numpy as np

    gain = np.asarray(correct, dtype=float) - np.asarray(baseline, dtype=float)
    if not len(gain):
        return 0.0, 0.0
    error = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else 0.0
    return float(gain.mean()), float(error)


def _row_correct(probabilities, y):
    """Per row, whether the probabilities' class is ``y`` (AutoGluon's encoding: a binary
    problem's one column is the second class's probability)."""
    import numpy as np

    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 1:
        return (probabilities > 0.5).astype(int) == np.asarray(y)
    return probabilities.argmax(axis=1) == np.asarray(y)


@functools.cache
def _ensembles() -> dict:
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

    class EqualUnlessClearlyBeaten(GreedyWeightedEnsembleModel):
        """AutoGluon's weighted ensemble where its out-of-fold accuracy beats the models'
        average by more than ``standard_errors`` standard errors (of the per-row
        difference), the average otherwise."""

        ag_name = "WeightedEnsemble"

        def _set_default_params(self):
            super()._set_default_params()
            self._set_default_param_value("standard_errors", 1.0)

        def _get_model_params(self, *args, **kwargs):
            # AutoGluon hands these to its greedy ensemble, which knows no standard_errors.
            params = super()._get_model_params(*args, **kwargs)
            params.pop("standard_errors", None)
            return params

        def _fit(self, X, y, **kwargs):
            names = list(self.base_model_names)
            columns = self.preprocess(X, y=y)
            super()._fit(X, y, **kwargs)
            weights = dict(zip(self.base_model_names, self.model.weights_))
            blend = sum(weights.get(name, 0.0) * p for name, p in zip(names, columns))
            average = sum(columns) / len(columns)
            gain, error = gain_and_error(_row_correct(blend, y), _row_correct(average, y))
            # kept for a look afterwards: what the greedy blend chose, and its gain
            self.greedy_weights_ = {name: float(weights.get(name, 0.0)) for name in names}
            self.blend_gain_ = (gain, error)
            if gain > self.params["standard_errors"] * error:
                return
            self.base_model_names = names
            self.model = SimpleWeightedEnsemble(weights=[1 / len(names)] * len(names),
                                                problem_type=self.problem_type)
            self.features = self._set_stack_columns(base_model_names=names)
            self.params_trained["ensemble_size"] = len(names)
            self.weights_ = self.model.weights_

    classes = {"EqualWeights": EqualWeights, "EqualUnlessClearlyBeaten": EqualUnlessClearlyBeaten}
    for name, kind in classes.items():
        kind.__module__, kind.__qualname__ = __name__, name
    return classes
