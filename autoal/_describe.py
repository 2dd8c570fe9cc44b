"""Settings as JSON that changes when they do: what a resumed run or a reused benchmark
run must share with the one it continues.

:func:`describe` turns a value into JSON types, the same in every process (no memory
addresses, no set order): tables by fingerprint, functions by name and the values they
close over (the strategies ``diverse()`` and ``warm_up()`` make), other objects by class
and the constructor arguments they store (scikit-learn's ``get_params`` convention).
:func:`without_defaults` leaves out the arguments at their defaults, so that a run saved
before a class gained an argument still compares equal while the argument is left alone.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
from pathlib import Path

#: Nesting deeper than this is cut (a function that refers to itself, say).
_DEPTH = 8


def describe(value, *, leave_out=(), _seen: tuple = ()):
    """``value`` as JSON types; ``leave_out`` names constructor arguments of ``value``
    itself (not of what it holds) to skip."""
    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    table = _table(value)
    if table is not None:
        return table
    name = f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
    if id(value) in _seen or len(_seen) > _DEPTH:
        return {"seen": name if callable(value) else type(value).__qualname__}
    seen = (*_seen, id(value))
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(describe(k, _seen=seen)):
                describe(v, _seen=seen) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(v, _seen=seen) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((describe(v, _seen=seen) for v in value), key=repr)
    if inspect.isfunction(value) and value.__closure__:  # made by diverse(), warm_up(), ...
        return {"function": name, "closure": [_cell(c, seen) for c in value.__closure__]}
    if inspect.isroutine(value) or inspect.isclass(value):
        return name
    params = {k: describe(v, _seen=seen) for k, v in constructor_params(value).items()
              if k not in leave_out}
    if not params and not _has_init(value):
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))
    kind = type(value)
    return {"class": f"{kind.__module__}.{kind.__qualname__}", "params": params}


def constructor_params(value) -> dict:
    """The constructor arguments ``value`` stores: ``get_params(deep=False)`` where it has
    one, else the attributes named like ``__init__``'s parameters, following ``**kwargs``
    up the base classes. Arguments it does not store are left out."""
    get_params = getattr(value, "get_params", None)
    if callable(get_params):
        with contextlib.suppress(Exception):  # a get_params of another kind: read __init__
            return dict(get_params(deep=False))
    names = [p.name for p in _init_parameters(type(value))]
    params = {}
    for name in dict.fromkeys(names):
        with contextlib.suppress(Exception):  # not stored under its name: left out
            params[name] = getattr(value, name)
    return params


def without_defaults(described):
    """A :func:`describe` answer without the constructor arguments that are at their
    defaults (as the classes now have them), at every depth. Two descriptions equal this
    way differ only where a class has gained an argument since one was stored and it is
    left at its default (a run directory saved by an earlier autoal)."""
    if isinstance(described, list):
        return [without_defaults(v) for v in described]
    if not isinstance(described, dict):
        return described
    if set(described) == {"class", "params"} and isinstance(described["params"], dict):
        defaults = _defaults(described["class"])
        return {"class": described["class"],
                "params": {k: without_defaults(v) for k, v in described["params"].items()
                           if k not in defaults or describe(defaults[k]) != v}}
    return {k: without_defaults(v) for k, v in described.items()}


def _defaults(qualified: str) -> dict:
    """The default constructor arguments of the class named ``module.qualname``, following
    ``**kwargs`` up the base classes as :func:`constructor_params` does; {} unless its
    module is imported already (nothing is imported on a stored file's word)."""
    parts, klass = qualified.split("."), None
    for cut in range(len(parts) - 1, 0, -1):  # the longest module name first
        klass = sys.modules.get(".".join(parts[:cut]))
        if klass is not None:
            for part in parts[cut:]:
                klass = getattr(klass, part, None)
            break
    if not inspect.isclass(klass):
        return {}
    return {p.name: p.default for p in reversed(_init_parameters(klass))
            if p.default is not p.empty}


def _init_parameters(klass) -> list:
    """``klass.__init__``'s named parameters, and those of the base classes it hands
    ``**kwargs`` on to."""
    out = []
    for base in klass.__mro__:
        init = base.__dict__.get("__init__")
        if init is None:
            continue
        if base is object:
            break
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):  # a builtin's __init__
            break
        out += [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break  # no **kwargs handed on to a base class
    return out


def _has_init(value) -> bool:
    return any("__init__" in klass.__dict__ for klass in type(value).__mro__[:-1])


def _table(value):
    """Tables and arrays by fingerprint (pandas only when one is given)."""
    kind = type(value).__module__.split(".")[0]
    if kind not in ("pandas", "numpy"):
        return None
    import pandas as pd

    from .rundir import fingerprint

    import numpy as np

    if isinstance(value, pd.DataFrame):
        frame = value
    elif isinstance(value, (pd.Series, pd.Index)):
        frame = pd.Series(value).to_frame()
    elif isinstance(value, np.ndarray) and value.ndim:
        frame = pd.DataFrame(value.reshape(len(value), -1))
    else:
        return None
    return {type(value).__name__: fingerprint(frame)}


def _cell(cell, seen):
    try:
        return describe(cell.cell_contents, _seen=seen)
    except ValueError:  # an empty cell
        return None
