"""Oracles: whoever gives labels to the rows the loop picks.

The protocol is one call::

    oracle(rows: pd.Index) -> pd.DataFrame  # columns: row, annotator, label

It returns one line per annotation (a row may get none, one or several).
"""

from __future__ import annotations

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

    def __call__(self, rows) -> pd.DataFrame:
        rows = pd.Index(rows)
        return pd.DataFrame(
            {"row": rows, "annotator": self.name, "label": self.labels.loc[rows].to_numpy()}
        )
