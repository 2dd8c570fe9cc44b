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
- :class:`Project` holds a labeling project for people (:mod:`autoal.project`), in a run
  directory (:mod:`autoal.rundir`) that :func:`loop` also uses to resume.
"""

from importlib.metadata import version

from .bench import bench
from .data import infer_column_types, read_table
from .learners import EmbeddingLearner, MultiModalLearner, TabularLearner
from .loop import Result, loop, plot_curves
from .oracles import SimulatedAnnotators, SimulatedOracle
from .project import Project
from .stopping import Budget, StablePredictions, TargetAccuracy
from .strategies import STRATEGIES

__version__ = version("autoal")

__all__ = [
    "Budget",
    "EmbeddingLearner",
    "MultiModalLearner",
    "Project",
    "Result",
    "STRATEGIES",
    "SimulatedAnnotators",
    "SimulatedOracle",
    "StablePredictions",
    "TabularLearner",
    "TargetAccuracy",
    "bench",
    "infer_column_types",
    "loop",
    "plot_curves",
    "read_table",
]
