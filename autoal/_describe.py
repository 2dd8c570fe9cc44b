"""Settings as JSON that changes when they do: what a resumed run or a reused benchmark
run must share with the one it continues.

:func:`describe` turns a value into JSON types, the same in every process (no memory
addresses, no set order): tables by fingerprint, functions by name and the values they
close over (the strategies ``diverse()`` and ``warm_up()`` make), other objects by class
and the constructor arguments they store (scikit-learn's ``get_params`` convention).
"""

from __future__ import annotations

import contextlib
import inspect
import re
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
    names = []
    for klass in type(value).__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            break
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):  # a builtin's __init__
            break
        names += [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break  # no **kwargs handed on to a base class
    params = {}
    for name in dict.fromkeys(names):
        with contextlib.suppress(Exception):  # not stored under its name: left out
            params[name] = getattr(value, name)
    return params


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
