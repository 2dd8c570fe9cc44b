"""Input checks shared by the public functions. Errors name the parameter,
what it must be, and what it got.

Also the one way labels are compared (:func:`clean_label`), how values are shown in
messages (:func:`short`, :func:`format_examples`), the learner check and how a
damaged run-directory file is reported (:class:`DamagedRunDir`, :func:`read_json`).
Standard library only at import time: ``autoal status`` loads this without pandas.
"""

from __future__ import annotations

import inspect
import json
import numbers
from pathlib import Path

#: Characters of a value's repr shown in a message before it is cut short.
SHORT = 60
#: The learners by name (:mod:`autoal.learners` makes them).
LEARNERS = ("auto", "tabular", "multimodal", "embedding")


def short(value, width: int = SHORT) -> str:
    """``repr(value)``, cut to ``width`` characters with an ellipsis in the middle, so a
    5 MB label is not echoed back whole and a long path keeps its file name."""
    text = repr(value)
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "\u2026" + text[len(text) - (width - 1 - head):]


def check_int(name: str, value, *, minimum: int, owner: str = "loop") -> int:
    """Return ``value`` if it is an int >= ``minimum``; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int >= {minimum}. Got {short(value)}."
        )
    return int(value)


def check_fraction(name: str, value, *, owner: str = "loop") -> float:
    """Return ``value`` if it is a number in [0, 1); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float in [0, 1). Got {short(value)}."
        )
    return float(value)


def check_choice(name: str, value, choices, *, owner: str = "loop"):
    """Return ``value`` if it is one of ``choices``; raise otherwise."""
    if value not in choices:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be one of {sorted(choices)}. "
            f"Got {short(value)}."
        )
    return value


def format_examples(values, limit: int = 5) -> str:
    """A short listing of the first few values, saying how many there are in all."""
    values = list(values)
    shown = ", ".join(short(v) for v in values[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"{shown}{more}"


def check_positive_or_none(name: str, value, *, owner: str = "loop"):
    """Return ``value`` if it is None or a number > 0; raise otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a number > 0 or None. Got {short(value)}."
        )
    return float(value)


def check_bool(name: str, value, *, owner: str = "loop") -> bool:
    """Return ``value`` if it is a bool; raise otherwise."""
    if not isinstance(value, bool):
        raise ValueError(f"The '{name}' parameter of {owner} must be True or False. "
                         f"Got {short(value)}.")
    return value


def clean_label(value):
    """A label as autoal compares it: a string without its surrounding whitespace, any
    other value as it is, and None for a blank label (None, NaN, ``''``, whitespace).

    Labels in the data, in answers and in ``classes=`` all pass through here once, so
    ``'b '`` in the data and ``'b'`` in an answer are the same class.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    try:
        if value != value:  # NaN (float, numpy), NaT
            return None
    except (TypeError, ValueError):  # pd.NA and friends refuse to compare
        return None
    return value


def clean_labels(values):
    """:func:`clean_label` over a pandas Series; the same Series when nothing changes
    (so clean data keeps its dtype and fingerprint), else a cleaned copy."""
    if values.dtype.kind in "biufcmM":  # numbers and times: NaN is missing already
        return values
    # (pandas' categories map to categories, which have no any())
    plain = values.astype(object) if str(values.dtype) == "category" else values
    strings = plain.map(lambda v: isinstance(v, str) and (v != v.strip() or not v))
    if not strings.any():
        return values
    out = plain.copy()
    out[strings.to_numpy()] = [clean_label(v) for v in plain[strings.to_numpy()]]
    return out


def check_learner(name: str, value, *, owner: str = "loop"):
    """Return ``value`` if it is a learner name or an object that fits DataFrames.

    A scikit-learn estimator (``fit(X, y)`` on arrays) is refused here, before any
    work, with what a learner must be.
    """
    if isinstance(value, str):
        if value not in LEARNERS:
            raise ValueError(f"The '{name}' parameter of {owner} must be one of "
                             f"{list(LEARNERS)} or a learner object. Got {short(value)}.")
        return value
    if not callable(getattr(value, "fit", None)):
        raise TypeError(f"The '{name}' parameter of {owner} must be one of {list(LEARNERS)} "
                        f"or an object with a fit(data, label) method. Got {short(value)}.")
    if _fits_arrays(value):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be one of {list(LEARNERS)} or a learner: "
            f"an object with fit(data: DataFrame, label: str) -> model, whose "
            f"model.predict_proba(df) returns a DataFrame with one column per class. Got "
            f"{short(value)}, a scikit-learn style estimator, which fits arrays (fit(X, y)). "
            f"Use learner='tabular' (autoal.TabularLearner, AutoGluon), or wrap the estimator "
            f"in a small class whose fit(data, label) fits it on data.drop(columns=[label]) and "
            f"data[label] and returns a model with that predict_proba (README: Learners).")
    return value


def _fits_arrays(learner) -> bool:
    """Whether ``learner`` looks like a scikit-learn estimator rather than a learner."""
    if callable(getattr(learner, "get_params", None)) and \
            callable(getattr(learner, "predict_proba", None)):
        return True
    try:
        names = list(inspect.signature(learner.fit).parameters)
    except (TypeError, ValueError):
        return False
    return [n.lower() for n in names[:2]] == ["x", "y"]


class DamagedRunDir(ValueError):
    """A file of a run directory that cannot be read as autoal wrote it; the message
    names the file, what is wrong and how to recover."""


#: How to recover each file of a run directory, for :class:`DamagedRunDir` messages.
RECOVER = {
    "autoal.json": "It holds the run's settings: restore it from a backup. The labels given "
                   "so far are in annotations.csv (row, annotator, label); a new run directory "
                   "can start from them.",
    "state.json": "It names the last round written in full: 'autoal check {dir}' rebuilds it "
                  "from the other files, or restore it from a backup.",
    "annotations.csv": "Every line needs row, annotator, label and round (an integer): fix or "
                       "delete the damaged lines, or restore the file from a backup; 'autoal "
                       "check {dir}' lists what else is wrong.",
    "history.csv": "Restore it from a backup, or start a new run directory from the labels in "
                   "annotations.csv; 'autoal check {dir}' lists what else is wrong.",
    "queries.csv": "Restore it from a backup, or start a new run directory from the labels in "
                   "annotations.csv; 'autoal check {dir}' lists what else is wrong.",
}


def damaged(path, problem: str) -> DamagedRunDir:
    """The error for a damaged run-directory file: its path, the problem, the way back."""
    path = Path(path)
    folder = path.parent.parent if path.parent.name == "probabilities" else path.parent
    advice = RECOVER.get(path.name, "Restore it from a backup; 'autoal check {dir}' lists "
                                    "what else is wrong.")
    return DamagedRunDir(f"The run directory file {path} is damaged: {problem}. "
                         + advice.format(dir=folder))


def read_json(path) -> dict:
    """A run directory's JSON file as a dict; a :class:`DamagedRunDir` if it is not one."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise damaged(path, f"not text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        problem = ("it is empty" if not error.doc.strip()
                   else f"not valid JSON ({error.msg} at line {error.lineno})")
        raise damaged(path, problem) from None
    if not isinstance(value, dict):
        raise damaged(path, f"it holds a JSON {type(value).__name__}, not an object")
    return value


#: Version of the run directory's layout (see :mod:`autoal.rundir`); another is refused.
FORMAT_VERSION = 2
#: How a run directory's files stamp a time (an answer's ``time``, ``final.json``'s
#: ``trained_at``): ``time.strftime(TIME_FORMAT)``.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
#: The final model's folder in a run directory, and its description.
FINAL, FINAL_JSON = "final", "final.json"


def state_round(state: dict, path) -> int:
    """The round a ``state.json`` names, checked to be an integer >= -1."""
    value = state.get("round")
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise damaged(path, f"its 'round' must be an integer >= -1. Got {short(value)}")
    return value


def check_text(name: str, value, *, owner: str = "loop") -> str:
    """Return ``value`` if it is a non-blank string; raise otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"The '{name}' parameter of {owner} must be a non-blank string. "
                         f"Got {short(value)}.")
    return value


#: One table of constraints for the settings of a run (scikit-learn's
#: ``_parameter_constraints`` in spirit): parameter name -> check and its arguments.
CONSTRAINTS = {
    "label": (check_text, {}),
    "rounds": (check_int, {"minimum": 0}),
    "batch": (check_int, {"minimum": 1}),
    "seed": (check_int, {"minimum": 0}),
    "chunk_size": (check_int, {"minimum": 1}),
    "test_size": (check_fraction, {}),
    "time_limit": (check_positive_or_none, {}),
    "relabel": (check_bool, {}),
    "progress": (check_bool, {}),
    "learner": (check_learner, {}),
}


def check_params(owner: str, **params) -> dict:
    """Check each parameter that :data:`CONSTRAINTS` knows; return them checked."""
    out = dict(params)
    for name, value in params.items():
        if name in CONSTRAINTS:
            check, kwargs = CONSTRAINTS[name]
            out[name] = check(name, value, owner=owner, **kwargs)
    return out
