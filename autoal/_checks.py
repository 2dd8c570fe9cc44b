"""Input checks shared by the public functions. Errors name the parameter,
what it must be, and what it got."""

from __future__ import annotations

import numbers


def check_int(name: str, value, *, minimum: int, owner: str = "loop") -> int:
    """Return ``value`` if it is an int >= ``minimum``; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int >= {minimum}. Got {value!r}."
        )
    return int(value)


def check_fraction(name: str, value, *, owner: str = "loop") -> float:
    """Return ``value`` if it is a number in [0, 1); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float in [0, 1). Got {value!r}."
        )
    return float(value)


def check_choice(name: str, value, choices, *, owner: str = "loop"):
    """Return ``value`` if it is one of ``choices``; raise otherwise."""
    if value not in choices:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be one of {sorted(choices)}. Got {value!r}."
        )
    return value


def format_examples(values, limit: int = 5) -> str:
    """A short listing of the first few values, saying how many there are in all."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"{shown}{more}"


def check_positive_or_none(name: str, value, *, owner: str = "loop"):
    """Return ``value`` if it is None or a number > 0; raise otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a number > 0 or None. Got {value!r}."
        )
    return float(value)


def check_bool(name: str, value, *, owner: str = "loop") -> bool:
    """Return ``value`` if it is a bool; raise otherwise."""
    if not isinstance(value, bool):
        raise ValueError(f"The '{name}' parameter of {owner} must be True or False. Got {value!r}.")
    return value


def check_text(name: str, value, *, owner: str = "loop") -> str:
    """Return ``value`` if it is a non-blank string; raise otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"The '{name}' parameter of {owner} must be a non-blank string. "
                         f"Got {value!r}.")
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
}


def check_params(owner: str, **params) -> dict:
    """Check each parameter that :data:`CONSTRAINTS` knows; return them checked."""
    out = dict(params)
    for name, value in params.items():
        if name in CONSTRAINTS:
            check, kwargs = CONSTRAINTS[name]
            out[name] = check(name, value, owner=owner, **kwargs)
    return out
