"""Labeling by people: a project in a run directory, one round at a time.

:func:`autoal.loop` asks an oracle for labels inside the call. When people label,
a round spans days, so the steps are apart and everything lives on disk (see
:mod:`autoal.rundir`)::

    project = Project.init("pool.csv", "runs/pets")   # rows without a label = the pool
    queue = project.next(batch=50)      # fit, score, write queue.csv
    project.import_answers("answers.csv", annotator="ana")  # or: autoal label runs/pets
    project.status()
    project.export("labeled.csv")

**Import rule**: an answer file with any bad line (a label that is not a class, a
row that does not exist or is not in the current queue, a blank label or
annotator, a row the annotator answered already, the same row twice) is refused
whole, with a ``ValueError`` listing what is wrong; nothing stored changes. Answers
are added under a lock, so several people (processes) can answer at once.

A project's first round trains on the rows that already have a label (annotator
``given``); it needs at least two classes among them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import annotations as ann
from ._checks import check_int, format_examples
from .data import IMAGE, TEXT, infer_column_types, read_table, resolve_paths
from .learners import make_learner
from .loop import _EMPTY_PICKS, _remember, _sorted, pick
from .rundir import Decoder, RunDir, fingerprint, write_csv, write_parquet
from .strategies import get_strategy

logger = logging.getLogger(__name__)

QUEUE = ["round", "row", "kind", "show", "guess", "confidence", "score"]
#: The annotator name of labels already in the data when a project starts.
GIVEN = "given"


class Project:
    """A labeling project in the run directory ``workdir`` (made by :meth:`init`)."""

    def __init__(self, workdir):
        self.run = RunDir(workdir)
        self.config = self.run.config()
        if self.config.get("kind") != "project":
            raise ValueError(f"{self.run.path} holds a loop() run, not a labeling project; "
                             f"start one with 'autoal init'.")
        self.label = self.config["label"]
        self.classes = list(self.config["classes"])
        data = pd.read_parquet(self.run.path / "data.parquet")
        self.data = data.set_index("_row")
        self.data.index.name = None
        self._rows = Decoder(self.data.index, "rows")
        self._labels = Decoder(self.classes, "classes")

    @property
    def path(self) -> Path:
        return self.run.path

    # ---- starting -------------------------------------------------------------------

    @classmethod
    def init(cls, data, workdir, *, label: str = "label", column_types=None, classes=None,
             id_column=None, strategy="auto", learner="auto", seed: int = 0,
             time_limit=None, relabel: bool = False, base_dir=None) -> Project:
        """Start a project from ``data`` (a DataFrame or a CSV/Parquet path).

        Rows with a label form the first training set; rows without one are the pool.
        ``classes`` lists every class (default: those among the labels given).
        ``id_column`` names a column of unique row ids (default: the row number).
        ``relabel=True`` lets the queue ask for second opinions on doubtful labels.
        Relative image paths resolve against the file's folder, or for a DataFrame
        against ``base_dir`` (default: the working directory).
        """
        seed = check_int("seed", seed, minimum=0, owner="Project.init")
        source = None
        if not isinstance(data, pd.DataFrame):
            source = str(Path(data).resolve())
            data = read_table(data)
        if label not in data.columns:
            raise ValueError(f"The label column {label!r} is not in the data. Columns: "
                             f"{format_examples(data.columns, 10)}. Pass label=... to name it.")
        if id_column is not None:
            if id_column not in data.columns or not data[id_column].is_unique:
                raise ValueError(f"The 'id_column' {id_column!r} must be a column of unique ids.")
            data = data.set_index(id_column)
        if not data.index.is_unique:
            raise ValueError("The rows of the data must have unique ids (index or id_column).")
        run = RunDir(workdir)
        if run.exists():
            raise FileExistsError(f"{run.path} is already a run directory; open it with "
                                  f"Project({str(run.path)!r}) or pick another folder.")
        given = data[label].dropna()
        classes = _sorted(set(given.unique()) | set(classes or []))
        if len(classes) < 2:
            raise ValueError(f"A project needs at least 2 classes; the labels given hold "
                             f"{classes}. Pass classes=[...] to name them all.")
        types = infer_column_types(data, exclude=[label], column_types=column_types)
        data = data.copy()
        for column in (c for c, t in types.items() if t == IMAGE):
            data[column] = resolve_paths(data[column], Path(base_dir or Path.cwd()))
        strategy_name, _ = get_strategy(strategy)
        if not isinstance(learner, str):
            raise TypeError("A project stores its settings as text: pass the learner by name.")
        run.path.mkdir(parents=True, exist_ok=True)
        table = data.reset_index(names="_row")
        table.columns = [str(c) for c in table.columns]
        write_parquet(run.path / "data.parquet", table)
        annotations = pd.DataFrame({"row": given.index, "annotator": GIVEN,
                                    "label": given.to_numpy(), "round": 0, "time": _now()})
        write_csv(run.path / "annotations.csv", annotations)
        run.create({"kind": "project", "label": label, "classes": classes,
                    "column_types": types, "strategy": strategy_name, "learner": learner,
                    "seed": seed, "time_limit": time_limit, "relabel": bool(relabel),
                    "data": {"source": source, "rows": len(data),
                             "fingerprint": fingerprint(data)}})
        logger.info("project %s: %d rows, %d labeled, classes %s", run.path, len(data),
                    len(given), classes)
        return cls(run.path)

    # ---- reading ---------------------------------------------------------------------

    @property
    def annotations(self) -> pd.DataFrame:
        """Every label given so far: ``row, annotator, label, round, time``."""
        return self.run.read_annotations(self._rows, self._labels)

    @property
    def round(self) -> int:
        """The round of the current queue (-1 before the first :meth:`next`)."""
        return int(self.run.state()["round"])

    def queue(self) -> pd.DataFrame:
        """The current queue (empty before the first :meth:`next`), with ``answers``: how
        many answers each row has had since it was queued."""
        table = self.run.read_csv("queue.csv")
        if table is None:
            return pd.DataFrame(columns=QUEUE + ["answers"])
        table = table.assign(round=table["round"].astype(int), row=self._rows(table["row"]),
                             confidence=pd.to_numeric(table["confidence"]),
                             score=pd.to_numeric(table["score"]))
        done = self.annotations
        done = done[done["round"] == self.round + 1]["row"].value_counts()
        return table.assign(answers=table["row"].map(done).fillna(0).astype(int).to_numpy())

    def row_id(self, text):
        """The row whose id reads ``text`` (as in a CSV or a URL), or None."""
        return self._rows.get(text)

    def media(self, row) -> Path | None:
        """The image file to show for ``row``, if the data has an image column."""
        column = self._column(IMAGE)
        return Path(self.data.at[row, column]) if column is not None else None

    def status(self) -> dict:
        """Rounds, labels, per-class counts, the queue's progress and the last accuracy."""
        labels = self.consensus()["consensus_label"]
        history = self.run.read_csv("history.csv")
        queue = self.queue()
        last = history.iloc[-1].to_dict() if history is not None and len(history) else {}
        return {
            "workdir": str(self.path), "round": self.round, "rows": len(self.data),
            "labeled": int(len(labels)), "annotations": int(len(self.annotations)),
            "per_class": {str(c): int((labels == c).sum()) for c in self.classes},
            "queue": {"size": int(len(queue)), "answered": int((queue["answers"] > 0).sum())},
            "estimated_accuracy": float(last["oof_accuracy"]) if last.get("oof_accuracy")
            else None,
        }

    def consensus(self) -> pd.DataFrame:
        """One line per labeled row (see :func:`autoal.annotations.consensus`)."""
        probs = self.run.read_probabilities("probabilities.parquet", self._rows,
                                            len(self.classes))
        return ann.consensus(self.annotations, self.classes, probs)[0]

    def export(self, out=None) -> pd.DataFrame:
        """The labeled rows with their consensus label (in the label column) and
        ``consensus_quality_score, num_annotations``; written to ``out`` (.csv or
        .parquet) when given."""
        consensus = self.consensus()
        table = self.data.loc[consensus.index].assign(**{
            self.label: consensus["consensus_label"].to_numpy(),
            "consensus_quality_score": consensus["consensus_quality_score"].to_numpy(),
            "num_annotations": consensus["num_annotations"].to_numpy()})
        table = table.rename_axis("row").reset_index()
        if out is not None:
            out = Path(out)
            if out.suffix == ".parquet":
                write_parquet(out, table)
            else:
                write_csv(out, table)
        return table

    # ---- a round ---------------------------------------------------------------------

    def next(self, batch: int = 20, *, progress: bool = True) -> pd.DataFrame:
        """Fit on every answer so far, score the pool and write the next queue.

        Returns the queue (also in ``queue.csv``): ``round, row, kind`` (``new`` or
        ``relabel``), ``show`` (image path, text, or the row's values as JSON),
        ``guess`` and ``confidence`` (the model's), ``score`` (lower = asked sooner).
        Answers to an earlier queue are no longer accepted once this one is written.
        """
        batch = check_int("batch", batch, minimum=1, owner="Project.next")
        config = self.config
        with self._locked("run"):
            annotations = self.annotations
            r = self.round + 1
            known = self.run.read_probabilities("probabilities.parquet", self._rows,
                                                len(self.classes))
            labeled = ann.consensus_labels(annotations, self.classes, known)
            if labeled.nunique() < 2:
                raise ValueError(f"The labels so far hold {sorted(map(str, labeled.unique()))}; "
                                 f"a model needs at least 2 classes. Import some answers first.")
            features = self.data.drop(columns=[self.label])
            train = features.loc[labeled.index].assign(**{self.label: labeled.to_numpy()})
            types = {c: t for c, t in config["column_types"].items() if c in features.columns}
            learner = make_learner(config["learner"], column_types=types,
                                   time_limit=config.get("time_limit"), seed=config["seed"],
                                   path=self.path / "models" / f"round-{r:03d}",
                                   progress=progress)
            if callable(getattr(learner, "prepare", None)):
                learner.prepare(features, types)
            t0 = time.perf_counter()
            model = learner.fit(train, self.label)
            fit_seconds = time.perf_counter() - t0
            unlabeled = features.index.difference(labeled.index, sort=False)
            can_relabel = np.full(len(labeled), bool(config.get("relabel")))
            _, score = get_strategy(config["strategy"])
            rng = np.random.default_rng([config["seed"], 2, r])
            chosen = pick(model, learner, train, self.label, features, unlabeled, annotations,
                          self.classes, score, batch, rng, can_relabel, round_=r,
                          seed=config["seed"], progress=progress)
            picks = chosen.picks
            new = (picks["kind"] == "new").to_numpy()
            probs = np.zeros((len(picks), len(self.classes)))
            probs[new] = chosen.new_probs
            probs[~new] = chosen.labeled_probs[labeled.index.get_indexer(picks.loc[~new, "row"])]
            queue = picks.assign(show=[self._show(row) for row in picks["row"]],
                                 guess=[self.classes[k] for k in probs.argmax(axis=1)],
                                 confidence=probs.max(axis=1) if len(probs) else [])[QUEUE]
            oof_accuracy = float(np.mean(np.asarray(self.classes, dtype=object)[
                chosen.labeled_probs.argmax(axis=1)] == labeled.to_numpy()))
            known = _remember(known, picks.loc[new, "row"], chosen.new_probs, labeled.index,
                              chosen.labeled_probs)
            # Lines of round r left by a run of next() that died before its state file
            # are replaced, not repeated.
            previous = _before(self.run.read_csv("queries.csv"), r)
            history = _before(self.run.read_csv("history.csv"), r)
            line = pd.DataFrame([{"round": r, "n_labeled": len(labeled),
                                  "n_annotations": len(annotations),
                                  "n_queued": int(new.sum()), "n_relabel": int((~new).sum()),
                                  "oof_accuracy": oof_accuracy, "fit_seconds": fit_seconds,
                                  "time": _now()}])
            write_csv(self.path / "queries.csv", pd.concat(
                [p for p in (previous, picks.astype({"row": str})) if p is not None]))
            write_csv(self.path / "history.csv", pd.concat(
                [h for h in (history, line) if h is not None]))
            self.run.write_probabilities("probabilities.parquet", known)
            write_csv(self.path / "queue.csv", queue)
            path = getattr(model, "path", None)
            self.run.write_state({"round": r, "predictor": os.path.relpath(path, self.path)
                                  if path else None})
            old = self.path / "models" / f"round-{r - 1:03d}"
            if old.is_dir():  # keep only the current predictor
                shutil.rmtree(old, ignore_errors=True)
        logger.info("round %d: %d labels, estimated accuracy %.3f, queued %d new and %d "
                    "relabels", r, len(labeled), oof_accuracy, int(new.sum()), int((~new).sum()))
        return queue

    # ---- answers ---------------------------------------------------------------------

    def import_answers(self, answers, *, annotator=None) -> pd.DataFrame:
        """Validate answers (a DataFrame or CSV path with ``row, label`` and optionally
        ``annotator``) and store them; see the module's import rule. Returns the lines
        stored."""
        if not isinstance(answers, pd.DataFrame):
            answers = pd.read_csv(answers, dtype=str, keep_default_na=False)
        answers = answers.copy()
        missing = {"row", "label"} - set(answers.columns)
        if missing:
            raise ValueError(f"An answer file needs the columns row and label (and annotator, "
                             f"or --annotator); missing {sorted(missing)}.")
        if annotator is not None:
            if "annotator" in answers and (answers["annotator"].astype(str) != "").any():
                raise ValueError("The answers name their annotators already; drop --annotator "
                                 "or the file's annotator column.")
            answers["annotator"] = annotator
        elif "annotator" not in answers:
            raise ValueError("Say who answered: an 'annotator' column in the file, or "
                             "annotator=... (--annotator NAME on the command line).")
        with self._locked("annotations"):
            return self._store(answers)

    def record(self, row, label, annotator: str) -> pd.DataFrame:
        """Store one answer (as :meth:`import_answers` would); the labeling page calls this."""
        return self.import_answers(pd.DataFrame({"row": [row], "label": [label],
                                                 "annotator": [annotator]}))

    def undo(self, annotator: str):
        """Withdraw ``annotator``'s latest answer to the current queue; returns the line
        removed, or None if there is none. Answers to earlier queues are never touched."""
        with self._locked("annotations"):
            table = self.annotations
            mine = table.index[(table["annotator"] == annotator)
                               & (table["round"] == self.round + 1)]
            if not len(mine):
                return None
            removed = table.loc[mine[-1]].to_dict()
            write_csv(self.path / "annotations.csv", table.drop(index=mine[-1]))
            return {**removed, "round": int(removed["round"])}

    def _store(self, answers: pd.DataFrame) -> pd.DataFrame:
        existing = self.annotations
        raw = answers.reset_index(drop=True)
        # Known rows and classes back to their own values; anything else stays text.
        rows = raw["row"].map(lambda v: self._rows.get(str(v).strip(), str(v).strip()))
        labels = raw["label"].map(lambda v: np.nan if pd.isna(v) or str(v).strip() == ""
                                  else self._labels.get(str(v).strip(), str(v).strip()))
        names = raw["annotator"].map(lambda v: "" if v is None or (isinstance(v, float) and
                                                                  np.isnan(v)) else str(v).strip())
        new = pd.DataFrame({"row": rows, "annotator": names, "label": labels})
        problems = []
        if new["label"].isna().any():
            problems.append(f"{int(new['label'].isna().sum())} lines with a blank label "
                            f"(rows {format_examples(new.loc[new['label'].isna(), 'row'])})")
        queued = set(self.queue()["row"])
        outside = [r for r in new["row"] if self.row_id(r) is not None and r not in queued]
        if outside:
            problems.append(f"rows not in the current queue (round {self.round}): "
                            f"{format_examples(outside)}")
        twice = new[new.duplicated(["row", "annotator"])]
        if len(twice):
            problems.append(f"rows answered twice in this file: {format_examples(twice['row'])}")
        try:
            ann.validate(new.dropna(subset=["label"]), existing, classes=self.classes,
                         rows=self.data.index)
        except ValueError as error:
            problems.append(str(error).removeprefix("Annotations refused, nothing was stored: ")
                            .rstrip("."))
        if problems:
            raise ValueError("Answers refused, nothing was stored: " + "; ".join(problems) + ".")
        lines = new.assign(round=self.round + 1, time=_now())
        write_csv(self.path / "annotations.csv", pd.concat([existing, lines], ignore_index=True))
        return lines

    # ---- helpers ---------------------------------------------------------------------

    def _locked(self, name):
        return self.run.lock(name, timeout=60)

    def show_kind(self) -> str:
        """What the queue's ``show`` column holds: ``"image"``, ``"text"`` or ``"values"``."""
        return "image" if self._column(IMAGE) else "text" if self._column(TEXT) else "values"

    def _column(self, kind):
        types = self.config["column_types"]
        return next((c for c, t in types.items() if t == kind and c in self.data), None)

    def _show(self, row) -> str:
        column = self._column(IMAGE) or self._column(TEXT)
        if column is not None:
            return str(self.data.at[row, column])
        values = self.data.loc[row].drop(labels=[self.label])
        return json.dumps({str(k): _jsonable(v) for k, v in values.items()})


def _before(table, round_):
    return None if table is None else table[table["round"].astype(int) < round_]


def _jsonable(value):
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
