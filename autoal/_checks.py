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
