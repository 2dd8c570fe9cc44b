"""The plug-in points of the engine, as small protocols.

A plain object with the right methods fits; nothing needs to inherit from these.
The contract tests (``tests/test_contracts.py``) run every implementation autoal
ships through the same checks.

- :class:`Learner` fits a :class:`Model` on a labeled DataFrame each round.
- :class:`Model` predicts class probabilities; its optional capabilities feed the
  strategies that ask for them (see :func:`autoal.predict.strategy_inputs`).
- :class:`Strategy` turns probabilities into scores (:mod:`autoal.strategies`).
- :class:`Oracle` labels the rows a round picked (:mod:`autoal.oracles`).
- :class:`StopRule` ends a run early (:mod:`autoal.stopping`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@runtime_checkable
class Model(Protocol):
    """A fitted model.

    Required: ``predict_proba(df)`` -> one column per class it knows, named by the
    class (the engine re-indexes to its class list, zeros for unseen classes).

    Optional: ``oof_proba`` (out-of-sample probabilities of the training rows, same
    order; a learner whose models lack it is wrapped in
    :class:`autoal.learners.CrossFitted`), ``path`` (its folder), ``predictor`` (the
    AutoGluon predictor), and for strategies: ``committee_proba(df)``,
    ``committee_oof_proba()``, ``sample_proba(df)`` (lists of DataFrames) and
    ``embed(df)`` (an ``(n, d)`` array).
    """

    def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame: ...


@runtime_checkable
class Learner(Protocol):
    """Fits a :class:`Model` on ``data`` (features and the ``label`` column).

    Optional: ``prepare(data, column_types)`` (called once with every row before the
    first fit), ``with_context(path=, seed=, time_limit=)`` (a configured copy: the
    engine gives each round's fit its folder, the run's seed and time limit), and
    ``gives_oof_proba = True`` (its models carry ``oof_proba``).
    """

    def fit(self, data: pd.DataFrame, label: str) -> Model: ...


@runtime_checkable
class Strategy(Protocol):
    """``strategy(pred_probs_unlabeled, *, labels, pred_probs, rng, **needs) -> Scores``;
    lower score = label sooner. Optional ``needs``/``optional`` attributes ask for more
    inputs (see :mod:`autoal.strategies`)."""

    def __call__(self, pred_probs_unlabeled: np.ndarray, **kwargs: Any) -> Any: ...


@runtime_checkable
class Oracle(Protocol):
    """``oracle(rows, annotations) -> DataFrame`` of ``row, annotator, label`` lines.

    Optional: ``annotators`` (everyone who can label) or ``can_relabel(rows,
    annotations) -> bool array`` (who may get a second opinion).
    """

    def __call__(self, rows: pd.Index, annotations: pd.DataFrame) -> pd.DataFrame: ...


@runtime_checkable
class StopRule(Protocol):
    """``rule(history, stop_predictions) -> reason or None``, checked after each fit.

    Optional: ``remaining(n_annotations) -> int`` (a cap on labels: the engine never
    asks for more) and ``stop_set`` (an int: the engine predicts that many pool rows,
    drawn once from the seed, every round, and passes the predictions).
    """

    def __call__(self, history: list, stop_predictions: list) -> str | None: ...
