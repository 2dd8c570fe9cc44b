"""Oracles: whoever gives labels to the rows the loop picks.

The protocol is one call::

    oracle(rows: pd.Index, annotations: pd.DataFrame) -> pd.DataFrame  # row, annotator, label

``annotations`` is every annotation so far (read only), so a second opinion can go
to someone who has not labeled the row yet. The answer has one line per label
given: a row may get none, one or several. An oracle may also have

- ``annotators``: the names of everyone who can label; a labeled row is only sent
  for relabeling while one of them has not labeled it;
- ``can_relabel(rows, annotations) -> bool array``: a finer rule than that.

:class:`SimulatedOracle` is one perfect annotator (the labels in the data);
:class:`SimulatedAnnotators` are several noisy ones, for experiments.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
import pandas as pd


class SimulatedOracle:
    """Reveals the true labels kept aside from the loop: one perfect annotator.

    Parameters
    ----------
    labels : Series of true labels indexed by row.
    name : the annotator's name in the annotation table.
    """

    def __init__(self, labels: pd.Series, name: str = "oracle"):
        self.labels = labels
        self.name = name
        self.annotators = [name]

    def __call__(self, rows, annotations=None) -> pd.DataFrame:
        rows = pd.Index(rows)
        return pd.DataFrame(
            {"row": rows, "annotator": self.name, "label": self.labels.loc[rows].to_numpy()}
        )


class SimulatedAnnotators:
    """Several simulated annotators of given quality; give to ``loop(annotators=...)``.

    Each request goes to one annotator, drawn at random among those who have not
    labeled that row yet. An annotator with accuracy ``a`` gives the true label with
    probability ``a`` and otherwise a label drawn uniformly from the other classes.

    Parameters
    ----------
    accuracy : one accuracy in [0, 1] per annotator.
    confusion : instead of ``accuracy``, one ``(K, K)`` matrix per annotator whose row
        ``i`` is the distribution of the label given for a row of true class ``i``
        (classes in the loop's sorted order).
    columns : instead of either, names of DataFrame columns holding real labels per
        annotator (NaN where that annotator gave none); those columns are not features.
    names : annotator names (default ``annotator_0``, ... or the column names).
    seed : randomness for who labels and for the simulated mistakes.
    """

    def __init__(self, accuracy=None, *, confusion=None, columns=None, names=None, seed=0):
        self.accuracy = accuracy
        self.confusion = confusion
        self.columns = columns
        self.names = names
        self.seed = seed

    def _check(self):
        given = [x is not None for x in (self.accuracy, self.confusion, self.columns)]
        if sum(given) != 1:
            raise ValueError("SimulatedAnnotators needs exactly one of 'accuracy', "
                             f"'confusion' or 'columns'. Got {sum(given)}.")
        if self.accuracy is not None:
            values = list(self.accuracy) if isinstance(self.accuracy, Iterable) else [None]
            bad = [a for a in values
                   if not isinstance(a, numbers.Real) or isinstance(a, bool) or not 0 <= a <= 1]
            if bad or len(values) == 0:
                raise ValueError("The 'accuracy' parameter of SimulatedAnnotators must be a "
                                 "non-empty list of numbers in [0, 1], one per annotator "
                                 f"(three: [0.9, 0.8, 0.7]). Got {self.accuracy!r}.")
        count = len(next(x for x in (self.accuracy, self.confusion, self.columns) if x is not None))
        if self.names is not None and len(self.names) != count:
            raise ValueError(f"The 'names' parameter of SimulatedAnnotators must name each of the "
                             f"{count} annotators. Got {len(self.names)} names.")

    def bind(self, truth: pd.Series, classes, data: pd.DataFrame | None = None):
        """An oracle over these rows: ``truth`` holds the true labels, ``data`` the columns."""
        self._check()
        return _BoundAnnotators(self, truth, list(classes), data)


class _BoundAnnotators:
    def __init__(self, spec: SimulatedAnnotators, truth, classes, data):
        self.seed = spec.seed
        self.truth = truth
        self.classes = classes
        k = len(classes)
        if spec.columns is not None:
            missing = [c for c in spec.columns if data is None or c not in data.columns]
            if missing:
                raise ValueError(f"SimulatedAnnotators: columns not in the data: {missing}.")
            self.annotators = list(spec.names or spec.columns)
            self.given = data[list(spec.columns)].set_axis(self.annotators, axis=1)
            self.matrices = None
        else:
            if spec.confusion is not None:
                matrices = [np.asarray(m, dtype=float) for m in spec.confusion]
                for m in matrices:
                    if m.shape != (k, k) or (m < 0).any() or not np.allclose(m.sum(axis=1), 1):
                        raise ValueError(
                            f"Each confusion matrix must be ({k}, {k}) with rows of "
                            f"probabilities summing to 1. Got shape {m.shape}.")
            else:
                matrices = [_accuracy_matrix(a, k) for a in spec.accuracy]
            self.matrices = matrices
            self.annotators = list(spec.names or [f"annotator_{i}" for i in range(len(matrices))])
            self.given = None

    def _available(self, row) -> list:
        if self.given is None:
            return self.annotators
        return [a for a in self.annotators if pd.notna(self.given.at[row, a])]

    def can_relabel(self, rows, annotations) -> np.ndarray:
        done = annotations.groupby("row")["annotator"].agg(set).to_dict()
        return np.array([bool(set(self._available(r)) - done.get(r, set())) for r in rows])

    def __call__(self, rows, annotations) -> pd.DataFrame:
        rng = np.random.default_rng([self.seed, len(annotations)])
        done = annotations.groupby("row")["annotator"].agg(set).to_dict()
        codes = {c: i for i, c in enumerate(self.classes)}
        out = []
        for row in rows:
            free = [a for a in self._available(row) if a not in done.get(row, set())]
            if not free:
                continue
            who = free[rng.integers(len(free))]
            if self.given is not None:
                label = self.given.at[row, who]
            else:
                m = self.matrices[self.annotators.index(who)]
                label = self.classes[rng.choice(len(self.classes), p=m[codes[self.truth.at[row]]])]
            out.append((row, who, label))
        return pd.DataFrame(out, columns=["row", "annotator", "label"])


def _accuracy_matrix(accuracy: float, k: int) -> np.ndarray:
    """Right with probability ``accuracy``, else uniformly one of the other classes."""
    m = np.full((k, k), (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(m, accuracy)
    return m
