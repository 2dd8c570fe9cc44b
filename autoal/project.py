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
are added under a lock, so several people (processes) can answer at once. A labeler
who got a row wrong, in any round, imports the right label with ``correct=True``: it
replaces their earlier answer. A cumulative file (a Label Studio export,
:mod:`autoal.labelstudio`) is imported with ``incremental=True``: answers stored
already are skipped, new answers to earlier queues are taken, and an answer changed
since replaces the stored one.

A project's rounds train on the rows that already have a label (annotator ``given``)
and every answer since. Rows that fit no class, or should not be labeled at all, are
taken out with :meth:`Project.exclude` (the page's *Exclude* button). A project may
start with no label at all (``classes=`` names them): until the labels hold two classes
there is no model, and :meth:`Project.next` picks representative, diverse rows instead
(a cold start, see :meth:`autoal.session.Session.ask`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ._checks import DamagedRunDir, check_int, clean_label, format_examples, short
from .data import (IMAGE, TEXT, check_images, infer_column_types, is_file, read_csv_text,
                   read_table, resolve_paths)
from .pool import Pool, check_row_ids, sorted_classes, with_clean_labels
from .rundir import (CONFIG, EXCLUDED, STALE_AFTER, Finding, RunDir, write_csv, write_json,
                     write_parquet)
from .rundir import check as check_run
from .session import Session, check_features
from .settings import Settings
from .strategies import get_strategy

logger = logging.getLogger(__name__)

QUEUE = ["round", "row", "kind", "show", "guess", "confidence", "score"]
#: The annotator name of labels already in the data when a project starts.
GIVEN = "given"


class Project:
    """A labeling project in the run directory ``workdir`` (made by :meth:`init`);
    ``stop``: stop rules (:mod:`autoal.stopping`) that :meth:`next` checks.

    Every step goes through one :class:`autoal.session.Session`: :meth:`next` is its
    ``ask``, :meth:`import_answers` and :meth:`record` parse their input and ``tell``.
    """

    def __init__(self, workdir, *, stop=None):
        store = RunDir(workdir)
        self._stamp = _stamp(store.path)
        config = store.config()
        if config.get("kind") != "project":
            raise ValueError(f"{store.path} holds a loop() run, not a labeling project; "
                             f"start one with 'autoal init'.")
        self.label = config["label"]
        self.classes = list(config["classes"])
        self.config = config
        data = pd.read_parquet(store.path / "data.parquet")
        data = data.set_index("_row")
        data.index.name = None
        self.data, self._data_root = _images_now(data, config, store.path)
        settings = Settings(label=self.label, strategy=config["strategy"], seed=config["seed"],
                            batch=config["batch"], init="rows", test_size=0.0,
                            learner=config["learner_name"], time_limit=config["time_limit"],
                            relabel=config["relabel"], owner="Project")
        self.session = Session.resume(store, _pool(self.data, config), settings,
                                      kind="project", stop=stop, check=False)

    @property
    def run(self) -> RunDir:
        return self.session.store

    @property
    def path(self) -> Path:
        return self.run.path

    # ---- starting -------------------------------------------------------------------

    @classmethod
    def init(cls, data, workdir, *, label: str = "label", column_types=None, classes=None,
             id_column=None, strategy="auto", learner="auto", seed: int = 0,
             time_limit=None, relabel: bool = False, base_dir=None,
             data_root=None) -> Project:
        """Start a project from ``data`` (a DataFrame or a CSV/Parquet path).

        Rows with a label form the first training set; rows without one are the pool.
        ``classes`` lists every class (default: those among the labels given).
        ``id_column`` names a column of unique row ids (default: the row number).
        ``relabel=True`` lets the queue ask for second opinions on doubtful labels.
        Relative image paths resolve against the file's folder, or for a DataFrame
        against ``base_dir`` (default: the working directory).
        ``data_root`` is the folder every image must lie in (after following symlinks),
        the only one the labeling page serves files from (default: the file's folder, or
        for a DataFrame ``base_dir`` or the working directory); the images are checked.
        """
        settings = Settings(label=label, strategy=strategy, seed=seed, batch=20, init="rows",
                            test_size=0.0, learner=learner, time_limit=time_limit,
                            relabel=relabel, owner="Project.init")
        source = None
        if not isinstance(data, pd.DataFrame):
            source = str(Path(data).resolve())
            data = read_table(data, label=label, exclude=[id_column], column_types=column_types)
        if label not in data.columns:
            raise ValueError(f"The label column {short(label)} is not in the data. Columns: "
                             f"{format_examples(data.columns, 10)}. Pass label=... to name it.")
        if id_column is not None:
            if id_column not in data.columns:
                raise ValueError(f"The id column {short(id_column)} is not in the data. "
                                 f"Columns: {format_examples(data.columns, 10)}.")
            ids = data[id_column]
            problems = _id_problems(ids)
            if problems:
                raise ValueError(f"The id column {short(id_column)} must hold a different id on "
                                 f"every row. Got {'; '.join(problems)}. Fix the ids, or leave "
                                 f"the id column out to number the rows.")
            data = data.set_index(id_column)
        if len(data.columns) < 2:
            beside = "" if id_column is None else f" and the id column {short(id_column)}"
            hint = "" if id_column is None else (
                " The id column names the rows and is not shown or learned from: leave "
                "id_column=... out to number the rows (the queue shows each row's image or "
                "text).")
            raise ValueError(f"The data has no column to show and learn from besides the label "
                             f"{short(label)}{beside}.{hint}")
        check_row_ids(data.index)
        run = RunDir(workdir)
        run.check_folder("workdir", owner="Project.init")
        if run.exists():
            raise FileExistsError(f"{run.path} is already a run directory; open it with "
                                  f"Project({str(run.path)!r}) or pick another folder.")
        data = with_clean_labels(data, [label])
        given = data[label].dropna()
        classes = sorted_classes(set(given.unique()) | set(_named_classes(classes)))
        if len(given) == len(data):
            raise ValueError(f"Every row of the data has a label in {short(label)}, so there "
                             f"is nothing left to label. A project's pool is the rows whose "
                             f"label is blank; to train on labeled data alone, fit a model "
                             f"directly (autoal run, or AutoGluon).")
        if len(classes) < 2:
            raise ValueError(f"A project needs at least 2 classes; the labels and classes "
                             f"given hold {classes}. Pass classes=[...] (--classes A B ...) to "
                             f"name them all; the rows need no label to start.")
        types = infer_column_types(data, exclude=[label], column_types=column_types)
        data = data.copy()
        for column in (c for c, t in types.items() if t == IMAGE):
            data[column] = resolve_paths(data[column], Path(base_dir or Path.cwd()))
        root = _data_root(data_root, source, base_dir)
        images = [c for c, t in types.items() if t == IMAGE]
        _check_inside(data, images, root)
        check_images(data, images)
        get_strategy(strategy)
        if not isinstance(learner, str):
            raise TypeError("A project stores its settings as text: pass the learner by name.")
        check_features(strategy, learner, data.drop(columns=[label]), types)
        run.make()
        table = data.reset_index(names="_row")
        table.columns = [str(c) for c in table.columns]
        write_parquet(run.path / "data.parquet", table)
        pool = _pool(data, {"label": label, "classes": classes, "column_types": types,
                            "data": {"source": source}})
        session = Session.start(pool, settings, run, kind="project",
                                config={"learner_name": learner, "data": pool.data_key["data"],
                                        "data_root": str(root), "id_column": id_column,
                                        "data_root_from_run": _from_run(root, run.path)})
        session.tell(pd.DataFrame({"row": given.index, "annotator": GIVEN,
                                   "label": given.to_numpy()}))
        logger.info("project %s: %d rows, %d labeled, classes %s", run.path, len(data),
                    len(given), classes)
        return cls(run.path)

    # ---- reading ---------------------------------------------------------------------

    @property
    def annotations(self) -> pd.DataFrame:
        """Every label given so far: ``row, annotator, label, round, time``."""
        return self.session.annotations

    @property
    def round(self) -> int:
        """The round of the current queue (-1 before the first :meth:`next`)."""
        self._catch_up()
        return self.session.round

    def _catch_up(self) -> None:
        """Follow what another process saved since: a round, or a new configuration
        (classes added, images relocated: the project is opened again), so a running
        labeling page keeps up."""
        if _stamp(self.path) != self._stamp:
            self.__init__(self.path, stop=self.session.rules)
        else:
            self.session.refresh()

    def queue(self) -> pd.DataFrame:
        """The current queue (empty before the first :meth:`next`), with ``answers``: how
        many answers each row has had since it was queued, and ``excluded``: whether it
        was taken out (:meth:`exclude`)."""
        if self.round < 0:
            return pd.DataFrame(columns=QUEUE + ["answers", "excluded"])
        picks = self.session.query.picks
        notes = self.annotations
        done = notes[notes["round"] == self.round + 1]["row"].value_counts()
        table = picks.assign(show=[self.show(row) for row in picks["row"]])[QUEUE]
        return table.assign(answers=table["row"].map(done).fillna(0).astype(int).to_numpy(),
                            excluded=table["row"].isin(self.session.excluded["row"]).to_numpy())

    def row_id(self, text):
        """The row whose id reads ``text`` (as in a CSV or a URL), or None."""
        return self.session.row_id(text)

    def class_of(self, text):
        """The class ``text`` names (a name it had before :meth:`rename_class` included),
        or None."""
        return self.session.class_of(text)

    def media(self, row) -> Path | None:
        """The image file to show for ``row``, if the data has an image column."""
        column = self._column(IMAGE)
        return Path(self.data.at[row, column]) if column is not None else None

    @property
    def data_root(self) -> Path | None:
        """The folder the project's images lie in (see :meth:`init`), where they are now
        (see :meth:`relocate`); for a project made before it was recorded, the data
        file's folder, else None."""
        return self._data_root

    def status(self) -> dict:
        """Rounds, labels, per-class counts, the queue's progress and the last estimated
        accuracy (see :func:`autoal.status.read_status`)."""
        from .status import read_status

        return read_status(self.path)

    def consensus(self) -> pd.DataFrame:
        """One line per labeled row (see :func:`autoal.annotations.consensus`)."""
        self._catch_up()
        return self.session.consensus()[0]

    def export(self, out=None, *, format=None, files: str = "copy") -> pd.DataFrame:
        """The labeled rows with their consensus label (in the label column) and
        ``consensus_quality_score, num_annotations``, the row ids first (named as the id
        column given at :meth:`init`, else ``row``); written to ``out`` when given.

        ``format`` (default: from ``out``, see :func:`autoal.export.export_format`):
        ``"csv"``, ``"parquet"``, ``"jsonl"`` (JSON Lines), or for an image project
        ``"imagefolder"`` (``out`` a folder: ``out/<class>/<file>``, what an ``out``
        without a suffix means), whose images are copied (``files="copy"``) or linked
        (``"link"``, symbolic links), never moved; that table has ``exported_file`` too
        (see :func:`autoal.export.write_image_folders`). A folder that exists and is
        not empty is refused."""
        from .export import export_format, write_image_folders, write_table

        if out is not None:
            format = export_format(out, format, owner="Project.export")
            if format != "imagefolder" and files != "copy":
                raise ValueError(f"The 'files' parameter of Project.export applies to "
                                 f"format='imagefolder' only (the images of an image project, "
                                 f"one folder per class). Got files={files!r} with "
                                 f"format={format!r}.")
            column = self._column(IMAGE)
            if format == "imagefolder" and column is None:
                raise ValueError(f"format='imagefolder' writes one folder of images per class, "
                                 f"and this project has no image column (its rows are "
                                 f"{self.show_kind()}). Export a table: out ending in .csv, "
                                 f".parquet or .jsonl.")
        consensus = self.consensus()
        table = self.data.loc[consensus.index].assign(**{
            self.label: consensus["consensus_label"].to_numpy(),
            "consensus_quality_score": consensus["consensus_quality_score"].to_numpy(),
            "num_annotations": consensus["num_annotations"].to_numpy()})
        ids = self.config.get("id_column") or "row"
        table = table.rename_axis(ids).reset_index()
        if out is None:
            return table
        if format == "imagefolder":
            return write_image_folders(table, out, image_column=column, label=self.label,
                                       id_column=ids, files=files, owner="Project.export")
        write_table(table, out, format)
        return table

    def relocate(self, data_root) -> Path:
        """Say where the project's images are now: ``data_root``, the folder that holds
        what the data root held (the same files under the same relative paths). Every
        image must be there. Returns the new data root.

        Only for images that moved apart from the run directory: a project moved or
        copied together with its images (their place relative to the run directory kept)
        finds them itself. A running labeling page follows.
        """
        new = Path(data_root)
        if not new.is_dir():
            raise ValueError(f"The 'data_root' parameter of Project.relocate must be an existing "
                             f"folder. Got {str(data_root)!r}.")
        new = new.resolve()
        images = self._image_columns()
        if not images:
            raise ValueError(f"The project {self.path} has no image column (its rows are "
                             f"{self.show_kind()}); there are no files to relocate.")
        stored = pd.read_parquet(self.path / "data.parquet").set_index("_row")
        stored.index.name = None
        base = _stored_root(self.config)
        moved = _moved(stored, images, base, new)
        missing = _missing(moved, images)
        if missing:
            raise ValueError(f"{len(missing)} of the project's images are not in {new} as they "
                             f"were in {base}: {_paths(missing)}. Pass the folder that now "
                             f"holds what {base} held.")
        _check_inside(moved, images, new)
        with self.session._holding():  # refused while a 'next' is fitting
            config = self.run.config()
            config.update(images_moved_to=str(new), data_root_from_run=_from_run(new, self.path))
            write_json(self.path / CONFIG, config)
        logger.info("project %s: the images are now read from %s", self.path, new)
        self._catch_up()
        return new

    def add_rows(self, data, *, base_dir=None) -> int:
        """Add rows to label, when the pile grows: ``data`` is a DataFrame or a CSV/Parquet
        path with the project's feature columns, and its id column where the project has
        one (else the new rows are numbered on from the last); no labels (label the rows
        through the queue). Relative image paths resolve against the file's folder (for a
        DataFrame, ``base_dir``, default the working directory), and the images must lie
        in :attr:`data_root`. Returns how many rows were added; the next round picks from
        them too. Nothing is added when anything is wrong.
        """
        ids = self.config.get("id_column")
        if isinstance(data, pd.DataFrame):
            data, base = data.copy(), Path(base_dir or Path.cwd())
        else:
            base = Path(data).resolve().parent
            data = read_table(data, label=self.label, exclude=[ids],
                              column_types=self.config["column_types"])
        if not len(data):
            raise ValueError("There are no rows to add: the data is empty.")
        labeled = data[self.label].map(clean_label).notna() if self.label in data else None
        if labeled is not None and labeled.any():
            raise ValueError(f"{int(labeled.sum())} of the rows to add have a label in "
                             f"{short(self.label)}. Added rows are labeled through the queue: "
                             f"leave their label blank (or the column out), and answer them "
                             f"when they are queued.")
        data = data.drop(columns=[self.label], errors="ignore")
        types = self.config["column_types"]
        missing = [c for c in types if c not in data.columns]
        extra = [c for c in data.columns if c not in types and c != ids]
        if missing or extra:
            raise ValueError(f"The rows to add must have the project's columns: "
                             f"{format_examples(list(types), 20)}"
                             + (f" and the id column {short(ids)}" if ids else "") + "."
                             + (f" Missing: {format_examples(missing)}." if missing else "")
                             + (f" Not the project's: {format_examples(extra)}." if extra
                                else ""))
        data = self._new_ids(data, ids)
        images = self._image_columns()
        for column in images:
            data[column] = resolve_paths(data[column], base)
        _check_inside(data, images, self.data_root)
        check_images(data, images)
        # Stored in the paths' folder as at init, as the project's other rows.
        data = _moved(data, images, self.data_root, _stored_root(self.config) or self.data_root)
        with self.session._holding():  # refused while a 'next' is fitting
            stored = pd.read_parquet(self.path / "data.parquet")
            new = data.assign(**{self.label: None}).reset_index(names="_row")
            new.columns = [str(c) for c in new.columns]
            write_parquet(self.path / "data.parquet",
                          pd.concat([stored, _like(new[stored.columns], stored)],
                                    ignore_index=True))
            config = self.run.config()
            config.setdefault("rows_at_start", len(stored))  # the stop set's rows
            config["rows_added"] = int(config.get("rows_added", 0)) + len(new)
            write_json(self.path / CONFIG, config)
        logger.info("project %s: %d rows added", self.path, len(new))
        self._catch_up()
        return len(new)

    def _new_ids(self, data: pd.DataFrame, ids) -> pd.DataFrame:
        """``data`` indexed by its new rows' ids: the id column's, else numbers after the
        project's last; refused when they are blank, repeated or taken."""
        if ids is not None:
            if ids not in data.columns:
                raise ValueError(f"The rows to add need the project's id column {short(ids)}. "
                                 f"Columns: {format_examples(data.columns, 10)}.")
            given = data[ids]
            taken = given[given.astype(str).isin({str(i) for i in self.data.index})]
            problems = _id_problems(given) + (
                [f"ids of the project's rows already: {format_examples(taken)}"]
                if len(taken) else [])
            if problems:
                raise ValueError(f"The id column {short(ids)} must give each new row an id of "
                                 f"its own. Got {'; '.join(problems)}.")
            data = data.set_index(ids)
        elif len(self.data) and not all(isinstance(i, (int, np.integer))
                                        for i in self.data.index):
            raise ValueError("The project's rows have ids that are not numbers, so new rows "
                             "cannot be numbered on: give them ids of their own (the column "
                             "that held the ids at init).")
        else:
            start = int(max(self.data.index, default=-1)) + 1
            data.index = pd.RangeIndex(start, start + len(data))
        data.index.name = None
        check_row_ids(self.data.index.append(data.index))
        return data

    def add_classes(self, classes) -> list:
        """Add classes nobody named at :meth:`init` (a labeler met one), after the others.
        Answers may give them at once; the next round's model learns them from their labels.
        Returns the project's classes.

        Classes are never removed (the answers hold them); :meth:`rename_class` renames
        one. A running labeling page offers them from its next item on.
        """
        named = list(dict.fromkeys(_named_classes(classes, owner="Project.add_classes")))
        if not named:
            raise ValueError("The 'classes' parameter of Project.add_classes must list at least "
                             "one class. Got [].")
        known = [c for c in named if str(c) in {str(k) for k in self.classes}]
        if known:
            raise ValueError(f"Already a class of the project: {format_examples(known)}. Its "
                             f"classes: {format_examples(self.classes, 20)}.")
        with self.session._holding():  # refused while a 'next' is fitting
            config = self.run.config()
            # The rounds' probability files hold a column per class as it was then.
            config.setdefault("classes_at_start", len(config["classes"]))
            config["classes"] = [*config["classes"], *named]
            write_json(self.path / CONFIG, config)
        logger.info("project %s: classes %s added", self.path, named)
        self._catch_up()
        return list(self.classes)

    def rename_class(self, old, new) -> list:
        """Rename the class ``old`` to ``new`` (a typo at :meth:`init`, a clearer name),
        in its place among the classes: in the class list, in every answer and in the
        queue's guesses. Answers that still give ``old`` (a labeling page opened before, a
        Label Studio export) read as ``new``. The project's final model, trained before,
        predicts ``new`` too (its ``final.json`` maps the name it was trained with;
        refused while ``autoal train`` is writing it). Returns the project's classes.

        Two classes are never merged into one: ``new`` must not be a class yet.
        """
        self._catch_up()
        names = [str(c) for c in self.classes]
        if clean_label(old) is None or str(clean_label(old)) not in names:
            raise ValueError(f"The 'old' parameter of Project.rename_class must be a class of "
                             f"the project. Got {short(old)}; its classes: "
                             f"{format_examples(self.classes, 20)}.")
        old, name = str(clean_label(old)), clean_label(new)
        if not isinstance(name, str):
            raise ValueError(f"The 'new' parameter of Project.rename_class must be a non-blank "
                             f"name. Got {short(new)}.")
        if name in names:
            raise ValueError(f"{name!r} is a class of the project already: classes are "
                             f"renamed, never merged (their answers would disagree). Pick "
                             f"another name.")
        from .final import FINAL
        from .final import rename_class as rename_in_final

        with self.session._holding(), self.session._locked("annotations"):
            # The final model first: a fit writing it refuses the rename before anything
            # changed, and the rename run again after a crash finds it done.
            rename_in_final(self.path / FINAL, old, name)
            config = self.run.config()
            config["classes"] = [name if str(c) == old else c for c in config["classes"]]
            renamed = {k: name if v == old else v
                       for k, v in (config.get("renamed") or {}).items()}
            config["renamed"] = {**renamed, old: name}
            # The old name reads as the new one from here on, so the files below may be
            # rewritten in any order, and a crash between them leaves nothing unreadable.
            write_json(self.path / CONFIG, config)
            for file, column in (("annotations.csv", "label"), ("queries.csv", "guess"),
                                 ("queue.csv", "guess")):
                table = self.run.read_csv(file)
                if table is not None and column in table and (table[column] == old).any():
                    table.loc[table[column] == old, column] = name
                    write_csv(self.path / file, table)
        logger.info("project %s: class %r renamed %r", self.path, old, name)
        self._catch_up()
        return list(self.classes)

    def _image_columns(self) -> list:
        return [c for c, t in self.config["column_types"].items()
                if t == IMAGE and c in self.data]

    def check_images(self) -> int:
        """Raise ``FileNotFoundError``, naming the missing images and what to do, when
        images of the project are not where it reads them (see :meth:`relocate`); else
        return how many images it found. ``next``, ``train`` and the labeling page check
        first; so does ``autoal check``."""
        columns = self._image_columns()
        missing = _missing(self.data, columns)
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the project's images are missing: {_paths(missing)}. If "
                f"they moved, say where the folder {self.data_root} is now: 'autoal relocate "
                f"{self.path} NEW_FOLDER' (Project.relocate); a project moved together with "
                f"its images finds them itself.")
        return int(sum(self.data[c].notna().sum() for c in columns))

    # ---- the final model -------------------------------------------------------------

    def train(self, quality: str = "medium", time_limit=None, *, progress: bool = True):
        """Fit the final model on every consensus label, at a higher quality than the
        rounds' fits, and save it in ``final/`` in the run directory (replacing one
        saved before); returns it (:class:`autoal.final.FinalModel`, which
        :func:`autoal.load` reads back).

        ``quality`` is ``"medium"``, ``"high"`` or ``"best"``; ``time_limit`` (seconds)
        replaces its default (see :mod:`autoal.final`). The labels must hold at least two
        classes. On tables the rounds' models, refitted on every label, are the floor:
        ``"medium"`` keeps them, ``"high"`` and ``"best"`` keep their portfolio only where
        it beats them clearly out of fold (``info["kept"]``; see :mod:`autoal.final`).
        """
        from .final import train_project

        self._catch_up()
        self.check_images()
        return train_project(self, quality=quality, time_limit=time_limit, progress=progress)

    # ---- a round ---------------------------------------------------------------------

    def next(self, batch: int = 20, *, progress: bool = True) -> pd.DataFrame:
        """Fit on every answer so far, score the pool and write the next queue.

        Returns the queue (also in ``queue.csv``): ``round, row, kind`` (``new`` or
        ``relabel``), ``show`` (image path, text, or the row's values as JSON),
        ``guess`` and ``confidence`` (the model's), ``score`` (lower = asked sooner).
        Answers to an earlier queue are no longer accepted once this one is written.
        A second ``next`` while one is fitting is refused.
        """
        batch = check_int("batch", batch, minimum=1, owner="Project.next")
        self._catch_up()
        self.check_images()
        session = self.session
        session.settings = replace(session.settings, progress=progress)
        query = session.ask(batch)
        session.close()  # the replaced model's folder is gone when this returns
        queue = self.queue()
        queue = queue.drop(columns=["answers", "excluded"])
        write_csv(self.path / "queue.csv", queue)
        line = query.line
        accuracy = line.get("oof_accuracy")
        logger.info("round %d: %d labels, %s, queued %d new and %d relabels", query.round,
                    line["n_labeled"], "no model yet (fewer than 2 classes labeled)"
                    if accuracy is None else f"estimated accuracy {accuracy:.3f}",
                    line["n_queried"], line["n_relabeled"])
        return queue

    # ---- answers ---------------------------------------------------------------------

    def import_answers(self, answers, *, annotator=None, incremental: bool = False,
                       correct: bool = False) -> pd.DataFrame:
        """Validate answers (a DataFrame or CSV path with ``row, label`` and optionally
        ``annotator``) and store them; see the module's import rule. Returns the lines
        stored, with ``corrected`` (whether the line replaced an earlier answer).

        ``correct=True`` takes corrections: an answer to a row the annotator answered
        already, in any round, replaces their earlier answer (one with the same label is
        skipped). ``incremental=True`` takes a cumulative file, such as a Label Studio
        export: an answer stored already (same row, annotator and label) is skipped,
        answers to rows of earlier queues are accepted if they are new, and an answer
        changed since (in Label Studio) replaces the stored one (see
        :meth:`autoal.session.Session.tell`)."""
        if not isinstance(answers, pd.DataFrame):
            answers = _read_answers(answers)
        answers = answers.copy()
        self._catch_up()  # the classes as they are now
        missing = {"row", "label"} - set(answers.columns)
        if missing:
            raise ValueError(f"An answer file needs the columns row and label (and annotator, "
                             f"or annotator=...); missing {sorted(missing)}, it has "
                             f"{format_examples(answers.columns, 10)}. The row column holds "
                             f"the rows' ids as queue.csv gives them.")
        if annotator is not None:
            if "annotator" in answers and (answers["annotator"].astype(str) != "").any():
                raise ValueError("The answers name their annotators already; drop annotator=... "
                                 "or the file's annotator column.")
            answers["annotator"] = annotator
        elif "annotator" not in answers:
            raise ValueError("Say who answered: pass annotator=... or give the file an "
                             "'annotator' column.")
        names = answers["annotator"].map(lambda v: v.strip() if isinstance(v, str) else v)
        if (names == GIVEN).any():
            raise ValueError(f"The annotator name {GIVEN!r} is kept for the labels the data came "
                             f"with, so answers cannot use it; pick another name "
                             f"(annotator=...).")
        return self.session.tell(answers, incremental=incremental, correct=correct)

    def record(self, row, label, annotator: str, *, late: bool = False) -> pd.DataFrame:
        """Store one answer (as :meth:`import_answers` would); the labeling page calls this.
        ``late=True`` also takes an answer to a row of an earlier queue (one shown before
        the next round replaced the queue), as ``incremental`` import does."""
        return self.import_answers(pd.DataFrame({"row": [row], "label": [label],
                                                 "annotator": [annotator]}), incremental=late)

    def exclude(self, rows, annotator: str) -> list:
        """Take ``rows`` out of the project (``annotator``: who decided): rows that fit
        no class, or should not be labeled (a broken image, a duplicate, off topic). They
        are never queued again, and their answers, kept, are neither trained on nor
        exported. Returns the rows newly excluded; :meth:`include` puts rows back. A
        running labeling page follows."""
        self._catch_up()
        return self.session.exclude(rows, annotator)

    def include(self, rows) -> list:
        """Put rows that :meth:`exclude` took out back; returns those that were out."""
        self._catch_up()
        return self.session.include(rows)

    def undo(self, annotator: str):
        """Withdraw ``annotator``'s latest answer to the current queue; returns the line
        removed, or None if there is none. Answers to earlier queues are never touched."""
        return self.session.undo(annotator)

    # ---- helpers ---------------------------------------------------------------------

    def show_kind(self) -> str:
        """What the queue's ``show`` column holds: ``"image"``, ``"text"`` or ``"values"``."""
        return "image" if self._column(IMAGE) else "text" if self._column(TEXT) else "values"

    def _column(self, kind):
        types = self.config["column_types"]
        return next((c for c, t in types.items() if t == kind and c in self.data), None)

    def show(self, row) -> str:
        """What a labeler is shown of ``row`` (the queue's ``show`` column): its image
        path, its text, or its values as JSON (:meth:`show_kind` says which)."""
        column = self._column(IMAGE) or self._column(TEXT)
        if column is not None:
            return str(self.data.at[row, column])
        values = self.data.loc[row].drop(labels=[self.label])
        return json.dumps({str(k): _jsonable(v) for k, v in values.items()})


def _data_root(data_root, source, base_dir) -> Path:
    """The folder a project's images must lie in: ``data_root``, else the data file's
    folder, else ``base_dir``, else the working directory; resolved."""
    if data_root is not None:
        root = Path(data_root)
        if not root.is_dir():
            raise ValueError(f"The 'data_root' parameter of Project.init must be an existing "
                             f"folder. Got {str(data_root)!r}.")
    else:
        root = Path(source).parent if source is not None else Path(base_dir or Path.cwd())
    return root.resolve()


def _id_problems(ids: pd.Series) -> list:
    """What keeps ``ids`` from naming one row each: blank ones, repeated ones."""
    repeated = ids[ids.duplicated()].dropna().unique()
    return ([f"{int(ids.isna().sum())} blank"] if ids.isna().any() else []) + (
        [f"repeated: {format_examples(repeated)}"] if len(repeated) else [])


def _like(new: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """``new``'s columns as ``stored``'s hold them (Parquet keeps one type per column):
    numbers where it has numbers, text where it has text; a column that holds something
    else is named."""
    new = new.copy()
    for column in new.columns:
        values, kept = new[column], stored[column].dropna()
        if values.isna().all() or kept.empty:
            continue
        if kept.dtype.kind in "biuf" and values.dtype.kind not in "biuf":
            numbers = pd.to_numeric(values, errors="coerce")
            wrong = values[numbers.isna() & values.notna()]
            if len(wrong):
                raise ValueError(f"The column {short(column)} holds numbers, and the rows to add "
                                 f"have {format_examples(wrong.unique())} in it.")
            new[column] = numbers
        elif kept.map(type).eq(str).all() and not values.dropna().map(type).eq(str).all():
            new[column] = values.map(lambda v: v if pd.isna(v) else str(v))
    return new


def _stamp(path: Path):
    """When the project's configuration was last written (it is replaced whole)."""
    try:
        return (Path(path) / CONFIG).stat().st_mtime_ns
    except OSError:
        return None


def _from_run(root: Path, run_path: Path) -> str | None:
    """``root`` relative to the run directory (None where no relative path leads there:
    another drive), so a project moved with its images finds them."""
    try:
        return Path(os.path.relpath(root, Path(run_path).resolve())).as_posix()
    except ValueError:
        return None


def _stored_root(config: dict) -> Path | None:
    """The folder the image paths in ``data.parquet`` lie in (as at :meth:`Project.init`);
    for a project made before it was recorded, the data file's folder, else None."""
    root = config.get("data_root")
    source = (config.get("data") or {}).get("source")
    if root is None and source is not None:
        root = Path(source).parent
    return None if root is None else Path(root).resolve()


def _images_now(data: pd.DataFrame, config: dict, run_path: Path):
    """``data`` with its image paths where the images are now, and the data root.

    The paths are stored as they were at :meth:`Project.init`, in the data root then. The
    images are read from the folder :meth:`Project.relocate` named, else from that data
    root; where that folder is gone but the run directory's own way to it leads to a
    folder, the project was moved or copied with its images, and they are read there.
    """
    base = _stored_root(config)
    if base is None:
        return data, None
    now = Path(config.get("images_moved_to") or base)
    from_run = config.get("data_root_from_run")
    if not now.is_dir() and from_run is not None \
            and (Path(run_path).resolve() / from_run).is_dir():
        now = (Path(run_path).resolve() / from_run).resolve()
    images = [c for c, t in config["column_types"].items() if t == IMAGE and c in data]
    if now == base or not images:
        return data, now
    return _moved(data, images, base, now), now


def _moved(data: pd.DataFrame, columns, old: Path, new: Path) -> pd.DataFrame:
    """``data`` with the paths in ``columns`` that lie in ``old`` moved to ``new``, under the
    same relative path; other paths as they are."""
    def move(path):
        if not isinstance(path, str):
            return path
        try:
            return str(new / Path(path).relative_to(old))
        except ValueError:
            return path

    return data.assign(**{c: data[c].map(move) for c in columns})


def _missing(data: pd.DataFrame, columns) -> list:
    """The image paths in ``columns`` that name no file."""
    return [p for c in columns for p in data[c] if isinstance(p, str) and not is_file(p)]


def _check_inside(data: pd.DataFrame, columns, root: Path) -> None:
    """Refuse image paths that lie outside ``root`` once symlinks are followed: the
    labeling page would never show them."""
    for column in columns:
        outside = []
        for path in data[column].dropna():
            try:
                inside = Path(path).resolve().is_relative_to(root)
            except (OSError, ValueError, TypeError):  # not a path: check_images names it
                continue
            if not inside:
                outside.append(path)
        if outside:
            raise ValueError(
                f"Image column {column!r}: {len(outside)} path(s) lie outside the data root "
                f"{root} (after following symlinks): {_paths(outside)}. The "
                f"labeling page serves files from the data root only: pass a folder that "
                f"holds them all as data_root=... (--data-root DIR), or move the images.")


def _read_answers(path) -> pd.DataFrame:
    """An answer CSV as text, with errors that name the file and say what to do."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"The answer file {path} is a folder; pass a CSV file of answers "
                         f"(row,label[,annotator]).")
    if not path.is_file():
        raise FileNotFoundError(f"No such answer file: {path}")
    return read_csv_text(path, "answer file", dtype=str, keep_default_na=False)


def check(path, *, stale_after: float = STALE_AFTER) -> list[Finding]:
    """Verify a run directory (:func:`autoal.rundir.check`, which says what it fixes) and,
    for a labeling project, that its rows taken out (``excluded.csv``) are rows of its data
    and its images are where it reads them (``autoal check DIR``)."""
    return check_run(path, stale_after=stale_after, more=_check_project)


def _check_project(found: list, run: RunDir) -> None:
    project = Project(run.path)
    try:
        excluded = project.session.excluded
    except DamagedRunDir as error:
        found.append(Finding("problem", str(error)))
    else:
        if len(excluded):
            found.append(Finding("ok", f"{EXCLUDED}: {len(excluded)} rows taken out."))
    if not project._image_columns():
        return
    try:
        count = project.check_images()
    except FileNotFoundError as error:
        found.append(Finding("problem", str(error)))
    else:
        found.append(Finding("ok", f"images: all {count} are in {project.data_root}."))


def _named_classes(classes, owner: str = "Project.init") -> list:
    """``classes=`` of :meth:`Project.init` (or ``owner``), each as labels are compared
    (:func:`autoal._checks.clean_label`); blank ones refused."""
    if classes is None:
        return []
    if isinstance(classes, str) or not hasattr(classes, "__iter__"):
        raise TypeError(f"The 'classes' parameter of {owner} must be a list of classes. "
                        f"Got {short(classes)}.")
    named = [clean_label(c) for c in classes]
    if any(c is None for c in named):
        raise ValueError(f"The 'classes' parameter of {owner} must list non-blank classes. "
                         f"Got {format_examples(classes)}.")
    return named


def _paths(paths, limit: int = 3) -> str:
    """The first few paths, whole (a path cut short hides its file's name)."""
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(str(p) for p in paths[:limit]) + more


def _pool(data: pd.DataFrame, config: dict) -> Pool:
    """A project's pool: every row; those with a label in the data are the initial set."""
    from .rundir import fingerprint

    label = config["label"]
    features = data.drop(columns=[label])
    types = {c: t for c, t in config["column_types"].items() if c in features.columns}
    source = config.get("data", {}).get("source")
    return Pool(features=features, label=label, classes=list(config["classes"]),
                column_types=types, test=pd.DataFrame(columns=[*types, label]),
                initial=data.index[data[label].notna().to_numpy()],
                data_key={"data": {"source": source, "rows": len(data),
                                   "fingerprint": fingerprint(data)}, "split": ""},
                first_rows=config.get("rows_at_start"),
                aliases={old: next(c for c in config["classes"] if str(c) == new)
                         for old, new in (config.get("renamed") or {}).items()})


def _jsonable(value):
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value
