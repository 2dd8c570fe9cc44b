"""The annotation table and the labels derived from it.

Annotations are the source of truth: a long table with one line per label given,
``row, annotator, label, round``, that only ever grows. Each round the labels the
model trains on are derived from it (:func:`consensus`):

- a row with a single annotation takes that label;
- while too few rows have several annotations to estimate annotator quality, rows
  with several take the majority vote (ties: the label given first);
- once enough rows overlap, cleanlab's CROWDLAB
  (``cleanlab.multiannotator.get_label_quality_multiannotator``) weighs each
  annotator by estimated quality together with the model's out-of-sample
  probabilities.

New annotations pass :func:`validate` first. **Rule**: a batch with any bad line
(unknown class, unknown row, blank annotator name, a second label from the same
annotator for the same row) is refused whole with a ``ValueError`` that lists the
bad lines; nothing already stored changes.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd

from ._checks import format_examples, short

COLUMNS = ["row", "annotator", "label", "round"]
#: Rows with two or more annotations needed before CROWDLAB replaces the majority vote.
MIN_OVERLAP = 5


def empty() -> pd.DataFrame:
    """An annotation table with no lines."""
    return pd.DataFrame({"row": pd.Series(dtype=object), "annotator": pd.Series(dtype=str),
                         "label": pd.Series(dtype=object), "round": pd.Series(dtype=int)})


def validate(new: pd.DataFrame, existing: pd.DataFrame, *, classes, rows,
             new_classes: str = "") -> pd.DataFrame:
    """Check ``new`` annotations against the class list, the known rows and ``existing``.

    Returns ``new`` with only the ``row, annotator, label`` columns; raises
    ``ValueError`` naming every kind of bad line found (see the module's rule), with
    ``new_classes`` after the labels that are not classes (how to add one, where one can).
    """
    new = pd.DataFrame(new)
    missing = {"row", "annotator", "label"} - set(new.columns)
    if missing:
        raise ValueError(f"Annotations need the columns row, annotator, label; missing "
                         f"{sorted(missing)}.")
    new = new[["row", "annotator", "label"]].reset_index(drop=True)
    problems = []
    bad_class = new.loc[~new["label"].isin(list(classes)), "label"]
    if len(bad_class):
        problems.append(f"labels that are not classes: {format_examples(bad_class.unique())} "
                        f"(classes: {format_examples(classes, 10)}){new_classes}")
    stray = pd.Index(new["row"]).difference(pd.Index(rows))
    if len(stray):
        problems.append(f"rows that do not exist: {format_examples(stray)}")
    names = new["annotator"]
    blank = names.isna() | (names.astype(str).str.strip() == "")
    if blank.any():
        problems.append(f"{int(blank.sum())} lines with a blank annotator name")
    pairs = pd.concat([existing[["row", "annotator"]], new[["row", "annotator"]]])
    twice = new[pairs.duplicated(keep="first").to_numpy()[len(existing):]]
    if len(twice):
        listed = [f"({short(r)}, {short(a)})" for r, a in zip(twice["row"], twice["annotator"])]
        problems.append(f"rows this annotator labeled already: {', '.join(listed[:5])}"
                        + (f" and {len(listed) - 5} more" if len(listed) > 5 else ""))
    if problems:
        raise ValueError("Annotations refused, nothing was stored: " + "; ".join(problems) + ".")
    return new


def wide(annotations: pd.DataFrame, rows, codes: dict) -> pd.DataFrame:
    """``(rows, annotators)`` matrix of class codes, NaN where an annotator gave no label."""
    if annotations.empty:
        return pd.DataFrame(index=pd.Index(rows))
    table = annotations.assign(code=annotations["label"].map(codes).astype(float))
    return table.pivot(index="row", columns="annotator", values="code").reindex(pd.Index(rows))


def majority_vote(annotations: pd.DataFrame) -> pd.Series:
    """One label per annotated row, in first-annotation order; ties go to the earliest label."""
    if annotations.empty:
        return pd.Series(dtype=object)
    if annotations["row"].is_unique:
        return pd.Series(annotations["label"].to_numpy(), index=pd.Index(annotations["row"]),
                         name="label")
    counts = annotations.groupby(["row", "label"], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates("row")
    return counts.set_index("row")["label"].reindex(annotations["row"].drop_duplicates())


def consensus_labels(annotations: pd.DataFrame, classes, pred_probs=None,
                     min_overlap: int = MIN_OVERLAP) -> pd.Series:
    """The label each annotated row trains on: :func:`consensus`'s ``consensus_label``,
    without the report (cheap while every row has a single annotation)."""
    counts = annotations["row"].value_counts()
    if int((counts >= 2).sum()) < min_overlap:
        return majority_vote(annotations)
    return consensus(annotations, classes, pred_probs, min_overlap)[0]["consensus_label"]


def consensus(annotations: pd.DataFrame, classes, pred_probs=None,
              min_overlap: int = MIN_OVERLAP) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Consensus per labeled row and statistics per annotator.

    Parameters
    ----------
    annotations : the annotation table.
    classes : the class list; labels are coded by position.
    pred_probs : optional out-of-sample probabilities, a DataFrame indexed by row with
        one column per class in ``classes`` order. CROWDLAB needs them for every row.
    min_overlap : rows with >= 2 annotations needed before CROWDLAB is used.

    Returns
    -------
    rows : indexed by row: ``consensus_label``, ``consensus_quality_score`` (higher =
        more likely correct; NaN without ``pred_probs``), ``annotator_agreement``
        (share of the row's annotations that match the consensus), ``num_annotations``,
        ``method`` (``single``, ``majority`` or ``crowdlab``).
    annotators : indexed by annotator: ``num_examples_labeled``,
        ``agreement_with_consensus``, ``annotator_quality`` (CROWDLAB's estimate; NaN
        before it is used).
    """
    order = annotations["row"].drop_duplicates()
    counts = annotations.groupby("row", sort=False).size().reindex(order)
    overlap = int((counts >= 2).sum())
    codes = {c: i for i, c in enumerate(classes)}
    probs = None
    if pred_probs is not None:
        probs = pred_probs.reindex(order)
        if probs.isna().any().any():
            probs = None
    if overlap >= min_overlap and probs is not None:
        rows, annotators = _crowdlab(annotations, order, classes, codes, probs.to_numpy())
    else:
        labels = majority_vote(annotations)
        method = np.where(counts.to_numpy() >= 2, "majority", "single")
        quality = np.full(len(order), np.nan)
        if probs is not None:
            with warnings.catch_warnings():  # see autoal.strategies._multiannotator
                from cleanlab.rank import get_label_quality_scores

            quality = get_label_quality_scores(labels.map(codes).to_numpy(), probs.to_numpy())
        rows = pd.DataFrame({"consensus_label": labels.to_numpy(),
                             "consensus_quality_score": quality,
                             "num_annotations": counts.to_numpy(), "method": method},
                            index=pd.Index(order, name="row"))
        annotators = pd.DataFrame(index=pd.Index(sorted(annotations["annotator"].unique()),
                                                 name="annotator"))
        annotators["annotator_quality"] = np.nan
    agree = annotations["label"].to_numpy() == rows.loc[annotations["row"], "consensus_label"].to_numpy()
    rows["annotator_agreement"] = pd.Series(agree).groupby(
        annotations["row"].to_numpy(), sort=False).mean().reindex(order).to_numpy()
    by_annotator = pd.Series(agree).groupby(annotations["annotator"].to_numpy())
    annotators["num_examples_labeled"] = by_annotator.size().reindex(annotators.index)
    annotators["agreement_with_consensus"] = by_annotator.mean().reindex(annotators.index)
    rows = rows[["consensus_label", "consensus_quality_score", "annotator_agreement",
                 "num_annotations", "method"]]
    annotators = annotators[["num_examples_labeled", "agreement_with_consensus",
                             "annotator_quality"]]
    return rows, annotators


def _crowdlab(annotations, order, classes, codes, probs):
    with warnings.catch_warnings():  # see autoal.strategies._multiannotator
        from cleanlab.multiannotator import get_label_quality_multiannotator

    matrix = wide(annotations, order, codes)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        info = get_label_quality_multiannotator(
            matrix.to_numpy(dtype=float), probs, return_detailed_quality=False, verbose=False)
    quality = info["label_quality"]
    rows = pd.DataFrame({
        "consensus_label": [classes[int(k)] for k in quality["consensus_label"]],
        "consensus_quality_score": quality["consensus_quality_score"].to_numpy(),
        "num_annotations": quality["num_annotations"].to_numpy(),
        "method": "crowdlab",
    }, index=pd.Index(order, name="row"))
    stats = info["annotator_stats"].copy()
    stats.index = pd.Index([matrix.columns[int(i)] for i in stats.index], name="annotator")
    annotators = stats[["annotator_quality"]].sort_index()
    return rows, annotators
