"""Stopping rules: ``loop(..., stop=rule or [rules])``.

A rule looks at the history so far (and, for the label-free rule, at the model's
predictions on a fixed stop set) and gives a reason to stop, or None. A rule says
what it needs from the engine (:class:`autoal.protocols.StopRule`): ``remaining``
caps the labels asked for, ``stop_set`` asks for predictions on that many rows. The loop
checks its rules after evaluating each round's model, before asking for labels;
the first reason given ends the loop and is kept as ``Result.stop_reason`` and in
the last history row's ``stop_reason``.

- :class:`Budget`: at most this many labels (annotations) in all; the last batch is
  cut to fit.
- :class:`TargetAccuracy`: stop once the test accuracy (needs a test set) reaches a
  target.
- :class:`StablePredictions`: label-free (Bloodgood & Vijay-Shanker, 2009): stop once
  the model's predictions on a fixed sample of the pool agree with the previous
  round's, by Cohen's kappa, for ``patience`` rounds in a row.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import check_int


class Budget:
    """Stop when ``labels`` annotations have been given; never ask for more."""

    def __init__(self, labels: int):
        self.labels = check_int("labels", labels, minimum=1, owner="Budget")

    def remaining(self, n_annotations: int) -> int:
        """How many more labels may be asked for."""
        return max(self.labels - n_annotations, 0)

    def __call__(self, history, stop_predictions=None):
        if history[-1]["n_annotations"] >= self.labels:
            return f"label budget of {self.labels} reached"
        return None


class TargetAccuracy:
    """Stop once ``metric`` (``accuracy`` or ``balanced_accuracy``) on the test set >= ``target``."""

    def __init__(self, target: float, metric: str = "accuracy"):
        if isinstance(target, bool) or not isinstance(target, numbers.Real) or not 0 < target <= 1:
            raise ValueError(f"The 'target' parameter of TargetAccuracy must be in (0, 1]. "
                             f"Got {target!r}.")
        if metric not in ("accuracy", "balanced_accuracy"):
            raise ValueError(f"The 'metric' parameter of TargetAccuracy must be 'accuracy' or "
                             f"'balanced_accuracy'. Got {metric!r}.")
        self.target = float(target)
        self.metric = metric

    def __call__(self, history, stop_predictions=None):
        value = history[-1].get(self.metric)
        if value is None:
            raise ValueError("TargetAccuracy needs a test set (test_size > 0 or test=...).")
        if value >= self.target:
            return f"test {self.metric} {value:.3f} reached the target {self.target:.3f}"
        return None


class StablePredictions:
    """Stop when predictions on a fixed stop set stop changing (no labels needed).

    Parameters
    ----------
    kappa : Cohen's kappa between two rounds' predicted classes counted as agreement.
    patience : consecutive agreeing round pairs needed.
    size : rows of the pool drawn once (by the loop's seed) as the stop set.
    """

    def __init__(self, kappa: float = 0.99, patience: int = 2, size: int = 1000):
        if isinstance(kappa, bool) or not isinstance(kappa, numbers.Real) or not -1 <= kappa <= 1:
            raise ValueError(f"The 'kappa' parameter of StablePredictions must be in [-1, 1]. "
                             f"Got {kappa!r}.")
        self.kappa = float(kappa)
        self.patience = check_int("patience", patience, minimum=1, owner="StablePredictions")
        self.size = check_int("size", size, minimum=1, owner="StablePredictions")

    @property
    def stop_set(self) -> int:
        """Rows the engine predicts every round for this rule (see :class:`StopRule`)."""
        return self.size

    def agreement(self, stop_predictions) -> list[float]:
        """Kappa between each pair of consecutive rounds' predictions."""
        from sklearn.metrics import cohen_kappa_score

        out = []
        for a, b in zip(stop_predictions, stop_predictions[1:]):
            out.append(1.0 if np.array_equal(a, b) else float(cohen_kappa_score(a, b)))
        return out

    def __call__(self, history, stop_predictions=None):
        kappas = self.agreement(stop_predictions or [])
        recent = kappas[-self.patience:]
        if len(recent) == self.patience and min(recent) >= self.kappa:
            return (f"the model's predictions stopped changing (kappa >= {self.kappa} "
                    f"between rounds on {len(stop_predictions[0])} rows of the pool, "
                    f"{self.patience} round(s) in a row)")
        return None


def as_rules(stop) -> list:
    """``stop=`` as a list of rules (None: no rule)."""
    if stop is None:
        return []
    rules = list(stop) if isinstance(stop, (list, tuple)) else [stop]
    for rule in rules:
        if not callable(rule):
            raise TypeError("The 'stop' parameter of loop takes a rule from autoal.stopping, "
                            f"a list of them, or None. Got {rule!r}.")
    return rules
