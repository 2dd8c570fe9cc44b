"""A run directory's progress, read from its plain files: :func:`read_status`.

Standard library only, so ``autoal status`` answers at once (no pandas, no model).
It reads the layout :mod:`autoal.rundir` describes: ``autoal.json``, ``state.json``,
``annotations.csv``, ``excluded.csv``, ``queries.csv`` and ``history.csv``; a missing table reads as
empty. Lines of ``queries.csv`` and ``history.csv`` from rounds after the one
``state.json`` names are not counted; every line of ``annotations.csv`` is (answers
to the current queue carry the next round's number).
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from ._checks import (FINAL, FINAL_JSON, FORMAT_VERSION, TIME_FORMAT, damaged,
                      format_examples, read_json, state_round)



def read_status(workdir) -> dict:
    """Rounds, labels, per-class counts, the queue's progress and the last accuracy.

    Returns ``workdir``, ``round`` (of the current queue; -1 before the first),
    ``rows`` (in the data), ``labeled`` (rows with at least one label),
    ``annotations`` (labels given, all annotators), ``excluded`` (rows taken out:
    not counted in ``labeled`` nor ``per_class``), ``per_class`` (rows whose
    majority label is each class, in the project's class order; a tie goes to the
    label given first), ``queue`` (``{"size", "answered", "excluded"}``: rows queued in
    the current round, and those among them answered, or excluded, since) and ``estimated_accuracy``
    (the last round's out-of-fold accuracy on labeled rows, or None), ``model``
    (None when a model picked the current queue, else why there is none yet: the labels
    hold fewer than 2 classes) and ``stop_reason`` (the stop rule that fired at the last
    round, or None) and ``final_model`` (None before ``autoal train``, else
    ``{"trained_at", "n_labels", "kept", "oof_accuracy", "answers_since", "retrain"}``:
    from its ``final.json``; the answers given after it was trained, which it has not
    seen; the command that trains it again).
    """
    path = Path(workdir)
    config = _config(path)
    state_path = path / "state.json"
    round_ = state_round(read_json(state_path), state_path) if state_path.is_file() else -1

    annotations = _read_csv(path / "annotations.csv")
    excluded = {line["row"] for line in _read_csv(path / "excluded.csv")}
    votes = defaultdict(Counter)  # row -> label -> count, labels in the order first given
    renamed = config.get("renamed") or {}  # Project.rename_class: old name -> new
    for line in annotations:
        if line["row"] not in excluded:
            votes[line["row"]][renamed.get(line["label"], line["label"])] += 1
    majority = Counter(max(counts, key=counts.get) for counts in votes.values())

    queue = {line["row"] for line in _read_csv(path / "queries.csv")
             if int(line["round"]) == round_}
    answered = {line["row"] for line in annotations if int(line["round"]) == round_ + 1}

    history = [line for line in _read_csv(path / "history.csv") if int(line["round"]) <= round_]
    rows = int(config["data"]["rows"]) + int(config.get("rows_added", 0))  # Project.add_rows
    return {
        "workdir": str(path), "round": round_, "rows": rows,
        "labeled": len(votes), "annotations": len(annotations), "excluded": len(excluded),
        "per_class": {str(c): majority[str(c)] for c in config["classes"]},
        "queue": {"size": len(queue), "answered": len(queue & answered),
                  "excluded": len(queue & excluded)},
        "estimated_accuracy": _number(history[-1].get("oof_accuracy")) if history else None,
        "model": _no_model(majority) if not history or history[-1].get("model") else None,
        "stop_reason": (history[-1].get("stop_reason") or None) if history else None,
        "final_model": _final_model(path, annotations, config),
    }


def _final_model(path: Path, annotations: list[dict], config: dict) -> dict | None:
    """What :func:`read_status` says of the final model in ``path/final``, if any."""
    file = path / FINAL / FINAL_JSON
    if not file.is_file():
        return None
    info = read_json(file)
    trained = _moment(info.get("trained_at"))
    since = None if trained is None else sum(
        1 for line in annotations if (_moment(line.get("time")) or trained) > trained)
    return {"trained_at": info.get("trained_at"), "n_labels": info.get("n_labels"),
            "kept": info.get("kept"), "oof_accuracy": info.get("oof_accuracy"),
            "answers_since": since,
            "retrain": f"autoal train {path}" + ("" if config.get("kind") == "project"
                                                 else " --data FILE")}


def _moment(text):
    """A time as autoal writes them (``2026-11-25T03:28:03+0000``), or None."""
    try:
        return datetime.strptime(str(text), TIME_FORMAT)
    except ValueError:
        return None


def no_model_message(n_classes: int) -> str:
    """Why there is no model yet, when the labels hold ``n_classes`` (< 2) classes."""
    held = "no labels yet" if n_classes == 0 else "labels of one class only"
    return (f"No model yet: there are {held}. The first rows are picked to cover the data; "
            f"the model takes over once two classes have labels.")


def _no_model(majority: Counter) -> str | None:
    labeled = sum(1 for n in majority.values() if n)
    return no_model_message(labeled) if labeled < 2 else None


def _config(path: Path) -> dict:
    file = path / "autoal.json"
    if not file.is_file():
        raise FileNotFoundError(f"{path} is not an autoal run directory (no autoal.json).")
    config = read_json(file)
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{file} has format version {config.get('format_version')!r}; this "
                         f"autoal reads format {FORMAT_VERSION}.")
    return config


def _read_csv(path: Path) -> list[dict]:
    """A table's lines, each with its ``round`` checked to be a whole number."""
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as error:
        raise damaged(path, f"it cannot be read as CSV ({error})") from None
    bad = [number for number, line in enumerate(lines, start=2)
           if not str(line.get("round") or "").isdigit()]
    if bad:
        raise damaged(path, f"lines {format_examples(bad)} have no round number (a whole "
                            f"number), as a line cut short does")
    return lines


def _number(text) -> float | None:
    """A CSV cell as a float; None when blank, missing or NaN."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
