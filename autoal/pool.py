"""The data of a run: the pool's features, the class list, the test rows, the truth.

:meth:`Pool.from_frame` turns a user's DataFrame into what the engine works on, with
every check that can be made before a model is fit: the label column, unique row
ids that survive a trip through text, column types, image files, the test split
and the initial labeled set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._checks import check_int, clean_labels, format_examples, short
from .data import IMAGE, check_images, infer_column_types, resolve_paths
from .rundir import fingerprint

# Streams of randomness derived from the one ``seed``: never global NumPy state.
SPLIT, INIT, ROUND, STOP = 0, 1, 2, 3


@dataclass
class Pool:
    """What a run labels and learns from.

    Attributes
    ----------
    features : the pool's rows (index: row ids), feature columns only.
    label : name of the label column.
    classes : every class: sorted at the start; those a project adds later
        (:meth:`autoal.Project.add_classes`) after them.
    column_types : ``{column: type}`` of the feature columns.
    test : held-out rows with features and the label column (may be empty).
    truth : the pool's known labels (None when nobody knows them).
    initial : rows labeled at the start.
    annotator_labels : real per-annotator labels (columns kept out of the features).
    """

    features: pd.DataFrame
    label: str
    classes: list
    column_types: dict
    test: pd.DataFrame
    truth: pd.Series | None = None
    initial: pd.Index = field(default_factory=lambda: pd.Index([]))
    annotator_labels: pd.DataFrame | None = None
    data_key: dict = field(default_factory=dict)
    #: How many of the first rows the stop set is drawn from (all when None): a
    #: project's rows at the start, so rows added later leave it as it was.
    first_rows: int | None = None
    #: Names classes had before a project renamed them (:meth:`autoal.Project.rename_class`):
    #: ``{old name: class}``; labels that give one read as the class.
    aliases: dict = field(default_factory=dict)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, settings, *, test=None, column_types=None,
                   base_dir=None, simulated: bool = True, annotator_columns=(),
                   owner: str = "loop") -> Pool:
        """Check ``df`` and split it into the pool, the test rows and the initial set.

        ``settings`` gives ``label``, ``seed``, ``init`` and ``test_size``. With
        ``simulated`` every row needs a label (they play the annotator).
        ``annotator_columns`` hold real per-annotator labels, never used as features.
        """
        label = settings.label
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"The 'df' parameter of {owner} must be a pandas DataFrame. "
                            f"Got {type(df).__name__}.")
        if label not in df.columns:
            raise ValueError(f"The label column {short(label)} is not in the data. Columns: "
                             f"{format_examples(df.columns, 10)}. Pass label=... to name it.")
        check_row_ids(df.index)
        df = with_clean_labels(df, [label, *annotator_columns])
        if len(df.columns) < 2:
            raise ValueError("The data has no feature columns besides the label column.")
        external = isinstance(test, pd.DataFrame)
        if external and label not in test.columns:
            raise ValueError(f"The 'test' DataFrame has no label column {short(label)}.")
        if external:
            test = with_clean_labels(test, [label])
        missing = [c for c in annotator_columns if c not in df.columns]
        if missing:
            raise ValueError(f"SimulatedAnnotators: columns not in the data: {missing}.")
        given, df = df[list(annotator_columns)], df.drop(columns=list(annotator_columns))
        known = df[label].notna()
        if simulated and not known.all():
            raise ValueError(
                f"The label column {short(label)} has {int((~known).sum())} missing values "
                f"(empty, blank or NaN; rows {format_examples(df.index[~known])}). loop "
                f"simulates labeling from the labels in df, so every row needs one; pass an "
                f"oracle to label the rest by other means. To have people label them, start "
                f"a labeling project: autoal.Project.init(df, WORKDIR, classes=[...]) (on the "
                f"command line: autoal init FILE --workdir WORKDIR --classes A B ...).")
        every_label = pd.concat([df[label], test[label]]) if external else df[label]
        classes = sorted_classes(every_label.dropna().unique())
        if len(classes) < 2:
            raise ValueError(f"The label column {short(label)} must hold at least 2 classes. "
                             f"Got {classes}.")
        types = infer_column_types(df, exclude=[label], column_types=column_types,
                                   base_dir=base_dir)
        data = _resolve_images(df, types, base_dir)
        if external:
            test_df = _resolve_images(test, types, base_dir)
            lacking = set(types) - set(test_df.columns)
            if lacking:
                raise ValueError(f"The 'test' DataFrame lacks feature columns {sorted(lacking)}.")
            test_df, pool = test_df[list(types) + [label]], data
        else:
            held = _split_test(data, label, known, test, settings.test_size, settings.seed)
            test_df, pool = data.loc[held], data.drop(index=held)
        initial = _initial_set(pool, label, known.reindex(pool.index), settings.init,
                               settings.seed, classes)
        for column in (c for c, t in types.items() if t == IMAGE):
            check_images(pd.concat([pool[[column]], test_df[[column]]]), [column])
        data_key = {
            "data": {"rows": len(df), "columns": [str(c) for c in df.columns],
                     "fingerprint": fingerprint(df)},
            # The initial set and the test rows, by content: init= and test= must agree.
            "split": _ids_key(initial, "initial") + "/" + _ids_key(test_df.index, "test"),
        }
        return cls(features=pool.drop(columns=[label]), label=label, classes=classes,
                   column_types=types, test=test_df,
                   truth=pool[label] if simulated else None, initial=initial,
                   annotator_labels=given.loc[pool.index] if len(given.columns) else None,
                   data_key=data_key)


def check_row_ids(index: pd.Index) -> None:
    """Row ids must be unique, and stay unique as text (the run directory stores them so)."""
    if not index.is_unique:
        raise ValueError("The rows of the data must have unique index labels (row ids); call "
                         "df.reset_index(drop=True) or pass unique ids.")
    text = pd.Index([str(v) for v in index])
    if not text.is_unique:
        clash = text[text.duplicated()][0]
        same = [v for v in index if str(v) == clash][:2]
        raise ValueError(
            f"Row ids {same[0]!r} and {same[1]!r} read the same as text ({clash!r}), so the "
            f"run directory could not tell them apart. Give the rows ids of one type, e.g. "
            f"df.index = df.index.map(str), or df.reset_index(drop=True).")


def with_clean_labels(df: pd.DataFrame, columns) -> pd.DataFrame:
    """``df`` with its label ``columns`` passed through :func:`autoal._checks.clean_labels`
    (blank labels missing, strings stripped); ``df`` itself when nothing changes."""
    cleaned = {c: clean_labels(df[c]) for c in columns if c in df.columns}
    changed = {c: v for c, v in cleaned.items() if v is not df[c]}
    if not changed:
        return df
    df = df.copy()
    for column, values in changed.items():
        df[column] = values
    return df


def sorted_classes(values) -> list:
    """Classes in a stable order: sorted, or sorted as text when the types are mixed."""
    try:
        return sorted(values)
    except TypeError:  # mixed types
        return sorted(values, key=str)


def _ids_key(rows, name) -> str:
    return fingerprint(pd.DataFrame({name: [str(i) for i in rows]}))


def _resolve_images(frame, types, base_dir) -> pd.DataFrame:
    frame = frame.copy()
    for column in (c for c, t in types.items() if t == IMAGE and c in frame.columns):
        frame[column] = resolve_paths(frame[column], base_dir or Path.cwd())
    return frame


def _split_test(data, label, known, test, test_size, seed) -> pd.Index:
    if test is not None:
        rows = _rows(data, test, "test")
        unknown = rows[~known.loc[rows].to_numpy()]
        if len(unknown):
            raise ValueError(f"Test rows need labels; these have none: {format_examples(unknown)}.")
        return rows
    if test_size == 0:
        return pd.Index([])
    rng = np.random.default_rng([seed, SPLIT])
    held = []
    labeled = data.index[known.to_numpy()].to_series()
    for _, group in labeled.groupby(data.loc[known, label].to_numpy()):
        n = int(np.floor(test_size * len(group)))
        held.extend(rng.permutation(group.to_numpy())[:n].tolist())
    held = set(held)
    return pd.Index([i for i in data.index if i in held])


def _rows(data, spec, name) -> pd.Index:
    """Row labels from a list of labels or a boolean mask over ``data``."""
    if isinstance(spec, (pd.Series, np.ndarray, list, tuple, pd.Index)):
        values = np.asarray(spec)
        if values.dtype == bool:
            if len(values) != len(data):
                raise ValueError(f"The '{name}' mask has {len(values)} entries; the data has "
                                 f"{len(data)} rows.")
            return data.index[values]
        rows = pd.Index(spec)
        missing = rows.difference(data.index)
        if len(missing):
            raise ValueError(f"The '{name}' parameter names rows that are not in the pool: "
                             f"{format_examples(missing)}.")
        if not rows.is_unique:
            raise ValueError(f"The '{name}' parameter lists some rows twice.")
        return rows
    raise TypeError(f"The '{name}' parameter must be a list of row labels or a boolean mask. "
                    f"Got {type(spec).__name__}.")


def _initial_set(pool, label, known, init, seed, classes) -> pd.Index:
    if isinstance(init, (int, np.integer)) and not isinstance(init, bool):
        per_class = check_int("init", init, minimum=1)
        counts = pool.loc[known.to_numpy(), label].value_counts()
        short = {c: int(counts.get(c, 0)) for c in classes if counts.get(c, 0) < per_class}
        if short:
            raise ValueError(
                f"The 'init' parameter asks for {per_class} examples per class, but some "
                f"classes have fewer in the pool (class: count): {short}. Lower init, or pass "
                f"the initial rows as a list.")
        rng = np.random.default_rng([seed, INIT])
        chosen = set()
        for c in classes:
            rows = pool.index[known.to_numpy() & (pool[label] == c).to_numpy()]
            chosen.update(rows[rng.permutation(len(rows))[:per_class]].tolist())
        rows = pd.Index([i for i in pool.index if i in chosen])
    else:
        rows = _rows(pool, init, "init")
        unknown = rows[~known.loc[rows].to_numpy()]
        if len(unknown):
            raise ValueError(f"Initial rows need labels; these have none: "
                             f"{format_examples(unknown)}.")
    seen = pool.loc[rows, label].unique()
    if len(seen) < 2:
        raise ValueError(f"The initial labeled set must hold at least 2 classes; it holds "
                         f"{sorted_classes(seen)}.")
    return rows
