"""autoal: active labeling with AutoML.

Train an AutoGluon model on what is labeled, rank what to label next with
cleanlab's ActiveLab, get those labels, refit, repeat::

    import autoal
    result = autoal.loop(df, rounds=10, batch=150)
    result.history

- :func:`loop` runs it; :func:`bench` compares strategies over seeds; :func:`read_table` reads a CSV/Parquet with image paths;
- :mod:`autoal.strategies` scores candidates; :mod:`autoal.select` picks a batch;
- :mod:`autoal.learners` holds the AutoGluon backends; :mod:`autoal.oracles` the labelers;
- :mod:`autoal.stopping` holds the rules that end a loop early;
- :mod:`autoal.annotations` turns the annotation table into consensus labels;
- :func:`plot_curves` draws learning curves (:mod:`autoal.plotting`);
- :class:`Project` holds a labeling project for people (:mod:`autoal.project`), in a run
  directory (:mod:`autoal.rundir`) that :func:`loop` also uses to resume;
- :class:`Session` is the round engine both drive (``ask`` and ``tell``), over a
  :class:`Pool` with :class:`Settings`.
- :func:`load` reads back the final model that ``Project.train`` or ``Result.train``
  saved (:mod:`autoal.final`): ``autoal.load(DIR).predict(df)``.

Names load on first use: ``import autoal`` imports neither pandas nor AutoGluon, so
the ``autoal`` command starts at once. Submodules load on first use too
(``autoal.strategies.Scores`` works after a plain ``import autoal``).
"""

import importlib
import importlib.util
import sys
import types
from importlib.metadata import version

#: Each public name and the module that defines it.
_EXPORTS = {
    "Budget": ".stopping",
    "EmbeddingLearner": ".learners",
    "MultiModalLearner": ".learners",
    "Pool": ".pool",
    "Project": ".project",
    "Result": ".loop",
    "STRATEGIES": ".strategies",
    "Session": ".session",
    "Settings": ".settings",
    "SimulatedAnnotators": ".oracles",
    "SimulatedOracle": ".oracles",
    "StablePredictions": ".stopping",
    "TabularLearner": ".learners",
    "TargetAccuracy": ".stopping",
    "bench": ".bench",
    "infer_column_types": ".data",
    "load": ".final",
    "loop": ".loop",
    "plot_curves": ".plotting",
    "read_table": ".data",
}

__version__ = version("autoal")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps ``autoal.loop`` and ``autoal.bench`` the functions when their modules load.

    Importing a submodule sets it as an attribute of the package; for the two modules
    named like the function they define, that would hide the function.
    """

    def __setattr__(self, name, value):
        if (name in _EXPORTS and isinstance(value, types.ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
