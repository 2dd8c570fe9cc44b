"""One round engine for simulations and people: a :class:`Session` with ask and tell.

Optuna's study and small-text's query/update in spirit::

    session = Session.start(pool, settings, store)     # or Session.resume(store, pool, settings)
    session.tell(first_labels)                          # answers to the initial set (round 0)
    query = session.ask()                               # fit, predict, score, pick; saved
    session.tell(answers_to(query.rows))                # validated, refused whole if bad
    query = session.ask()                               # the next round trains on them

:func:`autoal.loop` drives it with an oracle; :class:`autoal.Project` drives it one
command at a time for people. ``ask`` saves its round as a unit (see
:mod:`autoal.rundir`: the state file last), ``tell`` appends answers under a file lock,
so several processes may tell at once while one asks. Answers to round ``r``'s query
carry round ``r + 1``: the first round whose model trains on them. Before the first
``ask`` the query is the initial set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import _scratch
from . import annotations as ann
from ._checks import TIME_FORMAT, check_int, clean_label, damaged, format_examples
from ._describe import without_defaults
from .learners import (CrossFitted, FeatureEncoder, discard, feature_columns,
                       learner_settings, make_learner, run_defaults)
from .pool import ROUND, STOP
from .predict import align_proba, predict_pool, strategy_inputs
from .rundir import EXCLUDED, EXCLUDED_COLUMNS, Decoder, missing_state, write_csv
from .select import select_batch
from .stopping import as_rules
from .strategies import _multiannotator, get_strategy, no_features_message, typical

logger = logging.getLogger(__name__)

#: The columns of a query (and of ``queries.csv``).
QUERY = ["round", "row", "kind", "score", "guess", "confidence"]
#: History columns, in this order (others follow).
HISTORY = ["round", "n_labeled", "n_annotations", "n_queried", "n_relabeled",
           "n_relabel_requests", "accuracy", "balanced_accuracy", "consensus_accuracy",
           "oof_accuracy", "fit_seconds", "predict_seconds", "score_seconds",
           "prepare_seconds"]
#: Configuration a resumed run must share with the run it resumes.
RESUME_KEYS = ("kind", "label", "strategy", "batch", "seed", "init", "test_size", "relabel",
               "classes", "column_types", "learner", "annotators", "data", "split")


@dataclass
class Query:
    """One round's picks: ``picks`` has :data:`QUERY` columns, best first within a kind;
    ``line`` is the round's history line (its metrics)."""

    round: int
    picks: pd.DataFrame
    stop_reason: str | None = None
    line: dict = field(default_factory=dict)

    @property
    def rows(self) -> pd.Index:
        return pd.Index(self.picks["row"])


def empty_picks(round_=None) -> pd.DataFrame:
    return pd.DataFrame({"round": pd.Series(dtype=int), "row": pd.Series(dtype=object),
                         "kind": pd.Series(dtype=str), "score": pd.Series(dtype=float),
                         "guess": pd.Series(dtype=object),
                         "confidence": pd.Series(dtype=float)})


class Session:
    """Active labeling over ``pool`` with ``settings``, kept in ``store`` (a
    :class:`autoal.rundir.RunDir`, or None to keep nothing). Make one with :meth:`start`,
    :meth:`resume` or :meth:`open`; use it as a context manager to hold the run
    directory for the whole session and clean up temporary model folders at the end.
    """

    def __init__(self, pool, settings, store=None, *, oracle=None, stop=None, kind="loop"):
        self.pool, self.settings, self.store, self.oracle = pool, settings, store, oracle
        self.kind = kind
        self.rules = as_rules(stop)
        self.strategy, self._score = get_strategy(settings.strategy)
        self._learner = None
        self._rows = Decoder(pool.features.index, "rows")
        self._labels = Decoder(pool.classes, "classes", aliases=pool.aliases)
        sizes = [int(getattr(rule, "stop_set", 0) or 0) for rule in self.rules]
        order = np.random.default_rng([settings.seed, STOP]).permutation(
            pool.first_rows or len(pool.features))
        self._stop_rows = pool.features.index[order[:max(sizes)]] if max(sizes, default=0) \
            else None
        self.round, self.model, self._prepared = -1, None, False
        self._prepare_seconds = 0.0  # of the learner's prepare, not yet in a history line
        self._history, self._queries, self._stop_predictions = [], [], []
        self._annotations, self._stamp = ann.empty(), None
        self._known = _no_probs(len(pool.classes))
        # The probability files of the round before the current one and of the current one
        # (state.json's "probabilities_before" and "probabilities").
        self._before = self._current = None
        self._lock = store.lock("run") if store is not None else None
        self._models = (store.path / "models" if store is not None
                        else _scratch.folder())
        self._cleanup = []
        self._stored_defaults = {}  # of a resumed run, as its autoal.json records them

    @property
    def learner(self):
        """The learner each round fits (made on first use: naming one may import torch);
        wrapped in :class:`autoal.learners.CrossFitted` unless it gives out-of-sample
        probabilities itself."""
        if self._learner is None:
            s = self.settings
            learner = make_learner(s.learner, column_types=self.pool.column_types,
                                   time_limit=s.time_limit, seed=s.seed, progress=s.progress,
                                   ray_address=s.ray_address)
            self._learner = learner if getattr(learner, "gives_oof_proba", False) else \
                CrossFitted(learner, folds=3, seed=s.seed)
            self._check_stored_defaults()
        return self._learner

    def _check_stored_defaults(self) -> None:
        """Warn where the resumed run's defaults were not this autoal's (once the learner
        is made: making it may import torch, which commands that fit nothing do without)."""
        now = run_defaults(self._learner)
        for key, stored in self._stored_defaults.items():
            _check_defaults(self.store.path, key, stored, now[key])

    # ---- making one ------------------------------------------------------------------

    @classmethod
    def start(cls, pool, settings, store=None, *, oracle=None, stop=None, kind="loop",
              config=None) -> Session:
        """A new session; with a ``store``, its configuration is written there."""
        check_features(settings.strategy, settings.learner, pool.features, pool.column_types)
        session = cls(pool, settings, store, oracle=oracle, stop=stop, kind=kind)
        if store is not None:
            if store.exists():
                raise FileExistsError(f"{store.path} is already a run directory; resume it "
                                      f"or pick another folder.")
            store.create({**session.config(), **(config or {})})
        return session

    @classmethod
    def resume(cls, store, pool, settings, *, oracle=None, stop=None, kind="loop",
               check=True) -> Session:
        """The session saved in ``store``, after its last round written in full.
        ``check`` compares the settings with the stored ones (:data:`RESUME_KEYS`)."""
        session = cls(pool, settings, store, oracle=oracle, stop=stop, kind=kind)
        # (without the check, reading the configuration checks its format version)
        stored = store.check(_as_stored(session.config(), store.config()), RESUME_KEYS) \
            if check else store.config()
        session._stored_defaults = {key: stored[key] for key in _DEFAULTS
                                    if stored.get(key) is not None}
        if session._learner is not None:  # made by the check of the settings
            session._check_stored_defaults()
        session._load()
        return session

    @classmethod
    def open(cls, pool, settings, store=None, **kwargs) -> Session:
        """:meth:`resume` if ``store`` holds a run, else :meth:`start`."""
        if store is not None and store.exists():
            return cls.resume(store, pool, settings, **kwargs)
        return cls.start(pool, settings, store, **kwargs)

    def config(self) -> dict:
        """What ``autoal.json`` records: the settings that decide the picks, and the data."""
        return {"kind": self.kind, **self.settings.resume_keys(),
                "time_limit": self.settings.time_limit,
                "classes": list(self.pool.classes), "column_types": self.pool.column_types,
                "learner": learner_settings(self.learner),
                **run_defaults(self.learner),
                "annotators": list(getattr(self.oracle, "annotators", None) or []),
                **self.pool.data_key}

    def __enter__(self) -> Session:
        self._acquire()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def close(self) -> None:
        """Wait for model folders being deleted; without a store, remove the temporary
        folder of the models, keeping the current model's until nothing holds the model or
        its predictor (which reads its models from there) any more."""
        for thread in self._cleanup:
            thread.join()
        self._cleanup = []
        if self.store is not None or not self._models.is_dir():
            return
        keep = getattr(self.model, "path", None)
        for folder in self._models.iterdir():
            if keep is None or Path(folder) != Path(keep):
                shutil.rmtree(folder, ignore_errors=True)
        if keep is not None and Path(keep).parent == self._models:
            predictor = getattr(self.model, "predictor", None)
            weakref.finalize(self.model if predictor is None else predictor,
                             shutil.rmtree, str(self._models), True)
        else:
            shutil.rmtree(self._models, ignore_errors=True)

    # ---- reading ---------------------------------------------------------------------

    @property
    def annotations(self) -> pd.DataFrame:
        """Every label given: ``row, annotator, label, round`` (+ ``time`` for people)."""
        if self.store is not None:
            self._annotations = self._read_annotations()
        return self._annotations

    @property
    def excluded(self) -> pd.DataFrame:
        """Rows taken out of the project (:meth:`exclude`): ``row, annotator, round,
        time``; never asked, trained on or exported (a project's; empty for a loop)."""
        table = self._excluded_lines()
        return table.assign(row=self._rows(table["row"], source=self.store.path / EXCLUDED),
                            round=table["round"].astype(int)) if len(table) else table

    def _excluded_lines(self) -> pd.DataFrame:
        """``excluded.csv`` as stored (text), or no line."""
        table = self.store.read_csv(EXCLUDED) if self.store is not None else None
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXCLUDED_COLUMNS}) \
            if table is None else table

    @property
    def history(self) -> pd.DataFrame:
        """One line per round asked (:data:`HISTORY` columns first)."""
        return history_frame(self._history)

    @property
    def queries(self) -> pd.DataFrame:
        """Every pick so far (:data:`QUERY` columns)."""
        return pd.concat([empty_picks(), *self._queries], ignore_index=True)

    @property
    def query(self) -> Query:
        """The current query: the last round's picks, or the initial set before any."""
        if self.round < 0:
            picks = empty_picks().reindex(range(len(self.pool.initial)))
            picks = picks.assign(round=-1, row=list(self.pool.initial), kind="new")
            return Query(-1, picks)
        picks = self._queries[-1] if self._queries and int(
            self._queries[-1]["round"].iloc[0]) == self.round else empty_picks()
        return Query(self.round, picks, self._history[-1].get("stop_reason"), self._history[-1])

    @property
    def pending(self) -> Query | None:
        """The current query if it asked for rows and no answer to it is stored yet."""
        query = self.query
        told = (self.annotations["round"] == self.round + 1).any()
        return query if len(query.picks) and not told else None

    def refresh(self) -> None:
        """Catch up with a round another process saved since (a project's ``next`` run
        in another shell while this one serves the labeling page)."""
        if self.store is not None and int(self.store.state()["round"]) != self.round:
            self._load()

    def consensus(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Consensus per labeled row and statistics per annotator
        (:func:`autoal.annotations.consensus`)."""
        rows, annotators = ann.consensus(self.annotations, self.pool.classes, self._known)
        return rows[~rows.index.isin(self.excluded["row"])], annotators

    def row_id(self, text):
        """The row whose id reads ``text`` (as in a CSV or a URL), or None."""
        return self._rows.get(text)

    def class_of(self, text):
        """The class ``text`` names (a name it had before a rename included), or None."""
        return self._labels.get(text)

    # ---- ask -------------------------------------------------------------------------

    def ask(self, batch: int | None = None, *, final: bool = False) -> Query:
        """Fit on the consensus labels, evaluate, check the stop rules, predict, score and
        pick up to ``batch`` rows (default: the settings'); ``final`` fits and evaluates
        without picking. The round is saved before this returns.

        While the labels hold fewer than 2 classes there is no model to fit (a cold
        start): the round picks representative, diverse rows instead, and its history
        line says ``model = "none"`` (``final`` is then an error)."""
        batch = self.settings.batch if batch is None else check_int(
            "batch", batch, minimum=1, owner="Session.ask")
        with self._holding():
            annotations = self.annotations
            r = self.round + 1
            labeled = ann.consensus_labels(annotations, self.pool.classes, self._known)
            out = pd.Index(self.excluded["row"])
            labeled = labeled[~labeled.index.isin(out)]
            if labeled.nunique() < 2:
                if final or self.kind != "project":  # a loop starts with 2 classes or more
                    raise ValueError(f"Round {r}: {cold_reason(labeled)}; a model needs at "
                                     f"least 2 classes. Label more rows first "
                                     f"({len(annotations)} annotations so far).")
                return self._ask_cold(r, labeled, annotations, batch, out)
            train = self.pool.features.loc[labeled.index].assign(
                **{self.pool.label: labeled.to_numpy()})
            t0 = time.perf_counter()
            model = self._fit(r, train)
            row = {"round": r, "n_labeled": len(train), "n_annotations": len(annotations),
                   "fit_seconds": time.perf_counter() - t0,
                   "prepare_seconds": self._took_preparing()}
            row.update(self._evaluate(model, labeled))
            stop_reason = self._check_rules(row)
            cap = min([batch] + [int(rule.remaining(len(annotations))) for rule in self.rules
                                 if callable(getattr(rule, "remaining", None))])
            picks = self._pick(model, train, annotations, cap, r, row, out,
                               go=not final and not stop_reason)
            if stop_reason:
                row["stop_reason"] = stop_reason
            self._history.append(row)
            if len(picks):
                self._queries.append(picks)
            previous, self.model, self.round = self.model, model, r
            if self.store is not None:
                self._save()
                if previous is None:  # the model before was made by another process
                    self._clean_models(self.store.state().get("predictor"))
            self._discard(previous)
        _log_round(row)
        return Query(r, picks, stop_reason, row)

    def _ask_cold(self, r, labeled, annotations, batch, out) -> Query:
        """A round without a model (the labels hold fewer than 2 classes): representative,
        diverse rows (:func:`autoal.strategies.typical` on the learner's features of the
        rows), or random rows where the rows have no features. No stop rule is checked."""
        t0 = time.perf_counter()
        cap = min([batch] + [int(rule.remaining(len(annotations))) for rule in self.rules
                             if callable(getattr(rule, "remaining", None))])
        index = self.pool.features.index
        unlabeled = index[~index.isin(labeled.index) & ~index.isin(out)]
        rng = np.random.default_rng([self.settings.seed, ROUND, r])
        picks = empty_picks()
        if cap > 0 and len(unlabeled):
            x = self._features_for_cold_start()
            if x.shape[1]:
                at = self.pool.features.index.get_indexer
                scores = typical(np.zeros((len(unlabeled), 1)), rng=rng,
                                 features_unlabeled=x[at(unlabeled)],
                                 features_labeled=x[at(labeled.index)],
                                 batch=min(cap, len(unlabeled))).unlabeled
            else:
                scores = rng.random(len(unlabeled))
            chosen = np.argsort(scores, kind="stable")[:cap]
            picks = pd.DataFrame({"round": r, "row": list(unlabeled[chosen]), "kind": "new",
                                  "score": np.asarray(scores, dtype=float)[chosen],
                                  "guess": None, "confidence": np.full(len(chosen), np.nan)},
                                 columns=QUERY)
        row = {"round": r, "n_labeled": len(labeled), "n_annotations": len(annotations),
               "n_queried": len(picks), "n_relabeled": 0, "n_relabel_requests": 0,
               "fit_seconds": 0.0, "predict_seconds": 0.0,
               "score_seconds": time.perf_counter() - t0,
               "prepare_seconds": self._took_preparing(), "model": "none"}
        self._history.append(row)  # ask holds the run lock
        if len(picks):
            self._queries.append(picks)
        self.round = r
        if self.store is not None:
            self._save()
        _log_round(row)
        return Query(r, picks, None, row)

    def _features_for_cold_start(self) -> np.ndarray:
        """Every row as numbers: the learner's own (``embed`` after ``prepare``: its
        embeddings, or its scaled columns), else :class:`FeatureEncoder` on the raw columns
        (free text and file paths drop out: then there are no columns)."""
        self._prepare()
        try:
            x = np.asarray(self.learner.embed(self.pool.features), dtype=np.float32)
        except AttributeError:  # a learner of one's own, or one wrapping such
            x = FeatureEncoder().fit(self.pool.features).transform(self.pool.features)
        return x.reshape(len(self.pool.features), -1)

    def _prepare(self) -> None:
        """The learner's ``prepare`` on every row (test rows too), once (its seconds go to
        the round's ``prepare_seconds``)."""
        if not self._prepared:
            t0 = time.perf_counter()
            if callable(getattr(self.learner, "prepare", None)):
                test = self.pool.test.drop(columns=[self.pool.label])
                every = pd.concat([self.pool.features, test]) if len(test) else \
                    self.pool.features
                self.learner.prepare(every, self.pool.column_types)
            self._prepared = True
            self._prepare_seconds += time.perf_counter() - t0

    def _took_preparing(self) -> float:
        """The seconds the learner's prepare took since the last history line."""
        seconds, self._prepare_seconds = self._prepare_seconds, 0.0
        return seconds

    def _fit(self, r: int, train: pd.DataFrame):
        if self.store is not None:  # folders a stopped process left; the current one stays
            path = getattr(self.model, "path", None)
            self._clean_models(os.path.relpath(path, self.store.path) if path
                               else self.store.state().get("predictor"))
        self._prepare()
        learner = self.learner
        if callable(getattr(learner, "with_context", None)):
            learner = learner.with_context(path=self._models / f"round-{r:03d}",
                                           seed=self.settings.seed,
                                           time_limit=self.settings.time_limit)
        return learner.fit(train, self.pool.label)

    def _predict(self, model, rows, frame=None, progress=None) -> np.ndarray:
        s = self.settings
        return predict_pool(model, self.pool.features if frame is None else frame, rows,
                            self.pool.classes, chunk_size=s.chunk_size,
                            ray_address=s.ray_address,
                            progress=s.progress if progress is None else progress)

    def _evaluate(self, model, labeled: pd.Series) -> dict:
        """Test metrics, the consensus labels' accuracy (when the truth is known) and the
        stop set's predictions."""
        out = {}
        test = self.pool.test
        if len(test):
            probs = self._predict(model, test.index, test.drop(columns=[self.pool.label]))
            codes = test[self.pool.label].map({c: i for i, c in enumerate(self.pool.classes)})
            out.update(_metrics(codes.to_numpy(), probs.argmax(axis=1)))
        if self.pool.truth is not None:
            out["consensus_accuracy"] = float(
                (labeled == self.pool.truth.loc[labeled.index]).mean())
        if self._stop_rows is not None:
            self._stop_predictions.append(
                self._predict(model, self._stop_rows, progress=False).argmax(axis=1))
        return out

    def _check_rules(self, row: dict) -> str | None:
        for rule in self.rules:
            reason = rule([*self._history, row], self._stop_predictions)
            if reason:
                return reason
        return None

    def _pick(self, model, train, annotations, budget, r, row, out, *, go) -> pd.DataFrame:
        """Score both pools and pick ``budget`` rows (when ``go``), none of ``out`` (rows
        excluded); record the round's out-of-sample probabilities and timings in ``row``."""
        labeled = train.index
        index = self.pool.features.index
        unlabeled = index[~index.isin(labeled) & ~index.isin(out)]
        can_relabel = self._can_relabel(annotations, labeled)
        oof = getattr(model, "oof_proba", None)
        if oof is None:
            raise ValueError(f"The model of {type(self.learner).__name__} has no oof_proba, "
                             f"though the learner declares gives_oof_proba = True.")
        if isinstance(oof, pd.DataFrame) and not oof.index.equals(labeled) and \
                oof.index.isin(labeled).all():
            oof = oof.reindex(labeled)
        probs_l = align_proba(oof, self.pool.classes)
        row["oof_accuracy"] = float(np.mean(np.asarray(self.pool.classes, dtype=object)[
            probs_l.argmax(axis=1)] == train[self.pool.label].to_numpy()))
        _multiannotator()  # cleanlab, imported on first use: outside the timed steps
        picks, requests, t1 = empty_picks(), 0, time.perf_counter()
        t2 = t1
        probs_u = np.empty((0, len(self.pool.classes)), dtype=np.float32)
        if go and budget > 0 and (len(unlabeled) or can_relabel.any()):
            s = self.settings
            probs_u = self._predict(model, unlabeled)
            t2 = time.perf_counter()
            wide = ann.wide(annotations, labeled, {c: i for i, c in enumerate(
                self.pool.classes)}).to_numpy(dtype=float)
            extra = strategy_inputs(self._score, model=model, features=self.pool.features,
                                    unlabeled=unlabeled, labeled=labeled,
                                    classes=self.pool.classes, batch=budget,
                                    chunk_size=s.chunk_size, ray_address=s.ray_address)
            rng = np.random.default_rng([s.seed, ROUND, r])
            scores = self._score(probs_u, labels=wide, pred_probs=probs_l, rng=rng, **extra)
            chosen = select_batch(scores.unlabeled, scores.labeled, budget, rng,
                                  can_relabel=can_relabel)
            picks = self._picks_frame(r, unlabeled, labeled, chosen, scores, probs_u, probs_l)
            requests = chosen.relabel_requests
            probs_u = probs_u[chosen.new]
        new = picks["row"][picks["kind"] == "new"]
        self._known = _remember(self._known, new, probs_u, labeled, probs_l)
        row.update(n_queried=len(new), n_relabeled=int((picks["kind"] == "relabel").sum()),
                   n_relabel_requests=requests, predict_seconds=t2 - t1,
                   score_seconds=time.perf_counter() - t2)
        return picks

    def _picks_frame(self, r, unlabeled, labeled, chosen, scores, probs_u, probs_l):
        relabel_scores = (np.asarray(scores.labeled)[chosen.relabel]
                          if scores.labeled is not None else np.empty(0))
        probs = np.concatenate([probs_u[chosen.new], probs_l[chosen.relabel]])
        classes = np.asarray(self.pool.classes, dtype=object)
        return pd.DataFrame({
            "round": r,
            "row": list(unlabeled[chosen.new]) + list(labeled[chosen.relabel]),
            "kind": ["new"] * len(chosen.new) + ["relabel"] * len(chosen.relabel),
            "score": np.concatenate([np.asarray(scores.unlabeled)[chosen.new], relabel_scores]),
            "guess": classes[probs.argmax(axis=1)] if len(probs) else [],
            "confidence": probs.max(axis=1) if len(probs) else [],
        }, columns=QUERY)

    def _can_relabel(self, annotations, rows) -> np.ndarray:
        """Labeled rows someone can give another label for."""
        oracle = self.oracle
        if oracle is None:
            return np.full(len(rows), bool(self.settings.relabel))
        if callable(getattr(oracle, "can_relabel", None)):
            return np.asarray(oracle.can_relabel(rows, annotations), dtype=bool)
        names = getattr(oracle, "annotators", None)
        if not names:
            return np.zeros(len(rows), dtype=bool)
        mine = annotations[annotations["annotator"].isin(names)]
        done = mine.groupby("row")["annotator"].nunique().reindex(rows, fill_value=0)
        return done.to_numpy() < len(set(names))

    # ---- tell ------------------------------------------------------------------------

    def tell(self, answers: pd.DataFrame, *, incremental: bool = False,
             correct: bool = False) -> pd.DataFrame:
        """Store answers to the current query: a DataFrame with ``row, annotator, label``
        (text is mapped back to the data's row ids and classes).

        Refused whole, with a ``ValueError`` listing every problem and nothing stored,
        if any line has a blank label or annotator, a label that is not a class, a row
        that does not exist or is not in the current query, a row this annotator
        labeled already, or the same row twice. Returns the lines stored, with a column
        ``corrected``: whether the line replaced an earlier answer.

        ``correct=True`` takes corrections: a line for a row this annotator answered
        already (in any round) with another label replaces that answer, which keeps its
        round; one with the same label is skipped.

        ``incremental=True`` takes a cumulative file (a Label Studio export holds every
        answer ever given, each annotator's latest): a line stored already (same row,
        annotator and label) is skipped, and so is a repeat of a line in the file; rows
        of any query so far are accepted; and it takes corrections, as ``correct``.
        """
        new = self._parse(answers)
        correct = correct or incremental
        with self._locked("annotations"):
            self.refresh()
            existing = self.annotations
            problems = []
            if correct:
                new = _unknown_lines(new, existing)
            replaced = _answered_before(new, existing)
            answered = (replaced >= 0).to_numpy()  # by the same annotator, in any round
            corrected = answered & correct
            kept = existing.drop(index=replaced[corrected])
            if new["label"].isna().any():
                problems.append(f"{int(new['label'].isna().sum())} lines with a blank label "
                                f"(rows {format_examples(new.loc[new['label'].isna(), 'row'])})")
            queued = set(self.query.rows) | (set(self.queries["row"]) if incremental else set())
            # A row answered already is a correction, or refused as that (not as outside).
            outside = [r for r, a in zip(new["row"], answered)
                       if not a and self.row_id(r) is not None and r not in queued]
            if outside:
                where = "any queue so far" if incremental else \
                    f"the current queue (round {self.round})"
                problems.append(f"rows not in {where}: {format_examples(outside)}")
            twice = new[new.duplicated(["row", "annotator"])]
            if len(twice):
                problems.append(f"rows answered twice in this file: "
                                f"{format_examples(twice['row'])}")
            try:
                ann.validate(new.dropna(subset=["label"]), kept, classes=self.pool.classes,
                             rows=self.pool.features.index, new_classes=(
                                 ", or a class nobody named: add it first (Project.add_classes; "
                                 "autoal add-classes DIR CLASS)" if self.kind == "project"
                                 else ""))
            except ValueError as error:
                problem = str(error).removeprefix("Annotations refused, nothing was stored: ")
                if self.kind == "project":
                    problem = problem.replace(
                        "labeled already", "labeled already (to replace an earlier answer, "
                                           "import with correct=True)")
                problems.append(problem.rstrip("."))
            if problems:
                raise ValueError("Answers refused, nothing was stored: " + "; ".join(problems)
                                 + ".")
            lines = new.assign(round=self.round + 1)
            if self.kind == "project":
                lines["time"] = time.strftime(TIME_FORMAT)
            table = existing.copy()
            if corrected.any():  # in place: the answer keeps its round and its order
                at = replaced[corrected].to_numpy()
                lines.loc[corrected, "round"] = table.loc[at, "round"].to_numpy()
                for column in ("label", "time"):
                    if column in lines and column in table:
                        table.loc[at, column] = lines.loc[corrected, column].to_numpy()
                logger.info("%d answers corrected: %s", int(corrected.sum()), format_examples(
                    [f"row {r} by {a}: {was!r} -> {now!r}" for r, a, was, now in zip(
                        lines.loc[corrected, "row"], lines.loc[corrected, "annotator"],
                        existing.loc[at, "label"], lines.loc[corrected, "label"])]))
            if len(lines):
                table = pd.concat([table, lines[~corrected]], ignore_index=True) \
                    if (~corrected).any() else table
                self._write_annotations(table)
        return lines.assign(corrected=corrected)

    def undo(self, annotator: str) -> dict | None:
        """Withdraw ``annotator``'s latest answer to the current query; returns the line
        removed, or None if there is none. Answers to earlier queries are never touched."""
        with self._locked("annotations"):
            self.refresh()
            table = self.annotations
            mine = table.index[(table["annotator"] == annotator)
                               & (table["round"] == self.round + 1)]
            if not len(mine):
                return None
            removed = table.loc[mine[-1]].to_dict()
            self._write_annotations(table.drop(index=mine[-1]).reset_index(drop=True))
            return {**removed, "round": int(removed["round"])}

    def exclude(self, rows, annotator: str) -> list:
        """Take ``rows`` out of the project: a row that fits no class, or should not be
        labeled at all (a broken image, a duplicate). They are never asked again, and
        answers they have are kept but neither trained on nor exported. Returns the rows
        newly excluded (one excluded already is left as it is)."""
        if clean_label(annotator) is None:
            raise ValueError(f"Say who excludes the rows: a non-empty annotator name. Got "
                             f"{annotator!r}.")
        rows = self._known_rows(rows, "exclude")
        with self._locked("annotations"):
            self.refresh()
            table = self._excluded_lines()
            done = set(table["row"])
            new = [r for r in dict.fromkeys(rows) if str(r) not in done]
            if new:
                lines = pd.DataFrame({"row": [str(r) for r in new], "annotator": annotator,
                                      "round": self.round + 1,
                                      "time": time.strftime(TIME_FORMAT)})
                write_csv(self.store.path / EXCLUDED, pd.concat([table, lines]))
        return new

    def include(self, rows) -> list:
        """Put rows taken out by :meth:`exclude` back; returns those that were out."""
        rows = self._known_rows(rows, "include")
        with self._locked("annotations"):
            table = self._excluded_lines()
            back = table["row"].isin([str(r) for r in rows])
            if back.any():
                write_csv(self.store.path / EXCLUDED, table[~back])
            return [self._rows.get(r) for r in table.loc[back, "row"]]

    def _known_rows(self, rows, what: str) -> list:
        if self.store is None or self.kind != "project":
            raise ValueError(f"Only a labeling project's rows can be excluded or included "
                             f"(Project.{what}).")
        rows = [rows] if isinstance(rows, (str, int, np.integer)) else list(rows)
        found = [self._rows.get(_text(r)) for r in rows]
        unknown = [r for r, f in zip(rows, found) if f is None]
        if unknown or not rows:
            raise ValueError(f"The 'rows' parameter of Project.{what} must name rows of the "
                             f"project (ids as queue.csv gives them). Got "
                             f"{format_examples(unknown) if unknown else 'none'}.")
        return found

    def _parse(self, answers) -> pd.DataFrame:
        raw = pd.DataFrame(answers).reset_index(drop=True)
        missing = {"row", "annotator", "label"} - set(raw.columns)
        if missing:
            raise ValueError(f"Answers need the columns row, annotator, label; missing "
                             f"{sorted(missing)}.")
        # Known rows and classes back to their own values; anything else stays as given.
        rows = raw["row"].map(lambda v: self._rows.get(_text(v), _text(v)))
        labels = raw["label"].map(lambda v: np.nan if clean_label(v) is None
                                  else self._labels.get(_text(v), _text(v)))
        names = raw["annotator"].map(lambda v: "" if clean_label(v) is None else _text(v))
        return pd.DataFrame({"row": rows, "annotator": names, "label": labels})

    # ---- the run directory -------------------------------------------------------------

    def _read_annotations(self) -> pd.DataFrame:
        """The stored table, read again only when the file changed (another process told)."""
        stamp = _stamp(self.store.path / "annotations.csv", self.round)
        if stamp is None or stamp != self._stamp:
            self._annotations = self.store.read_annotations(self._rows, self._labels,
                                                            upto_round=self.round + 1)
            self._stamp = stamp
        return self._annotations

    def _write_annotations(self, table: pd.DataFrame) -> None:
        self._annotations = table
        if self.store is not None:
            write_csv(self.store.path / "annotations.csv", table)
            self._stamp = _stamp(self.store.path / "annotations.csv", self.round)

    def _save(self) -> None:
        """Write the round's files, ``state.json`` last (see :mod:`autoal.rundir`)."""
        store, r = self.store, self.round
        write_csv(store.path / "history.csv", self.history)
        write_csv(store.path / "queries.csv", self.queries)
        if self._stop_rows is not None:
            write_csv(store.path / "stop_predictions.csv", pd.concat([
                pd.DataFrame({"round": i, "row": self._stop_rows, "prediction": p})
                for i, p in enumerate(self._stop_predictions)]))
        name = f"probabilities/round-{r:03d}.parquet"
        store.write_probabilities(name, self._known)
        self._before, self._current = self._current, name
        path = getattr(self.model, "path", None)
        store.write_state({"round": r, "probabilities": name,
                           "probabilities_before": self._before,
                           "predictor": os.path.relpath(path, store.path) if path else None})
        # The file before is also the one the replaced state named: another process (a
        # status, the labeling page) may have read that state and be about to read it.
        for old in (store.path / "probabilities").glob("round-*.parquet"):
            if f"probabilities/{old.name}" not in (name, self._before):
                old.unlink(missing_ok=True)

    def _load(self) -> None:
        """The state after the last round written in full; lines written after it are
        never read."""
        store = self.store
        state = store.state()
        self.round = last = int(state["round"])
        self._annotations = self._read_annotations()
        self._history, self._queries, self._stop_predictions = [], [], []
        self._known, self._before, self._current = _no_probs(len(self.pool.classes)), None, None
        if last < 0:
            missing_state(store, state, store.read_csv("history.csv"))
            return
        _check_tables(store, state)
        history = store.read_csv("history.csv", upto_round=last)
        self._history = [_typed(h) for h in history.to_dict("records")]
        queries = store.read_csv("queries.csv", upto_round=last)
        if queries is not None and len(queries):
            source = store.path / "queries.csv"
            queries = queries.assign(round=queries["round"].astype(int),
                                     row=self._rows(queries["row"], source=source),
                                     score=pd.to_numeric(queries["score"]),
                                     guess=_guesses(self._labels, queries["guess"], source),
                                     confidence=pd.to_numeric(queries["confidence"]))
            self._queries = [q for _, q in queries.groupby("round", sort=True)]
        stops = store.read_csv("stop_predictions.csv", upto_round=last)
        if stops is not None and len(stops):
            self._stop_predictions = [g["prediction"].astype(int).to_numpy() for _, g in
                                      stops.groupby(stops["round"].astype(int), sort=True)]
        self._current, self._before = state.get("probabilities"), state.get("probabilities_before")
        self._known = self._read_probabilities(self._current)

    def reopen(self) -> bool:
        """Take back the last round if it picked nothing (it was the last, or a stop rule
        fired), so it runs again: its model comes back, and more rounds can follow it.
        Returns whether it did."""
        if self.round < 0 or len(self.query.picks) or self.pending is not None:
            return False
        self._history.pop()
        del self._stop_predictions[self.round:]
        if self.store is not None:
            self._known = self._read_probabilities(self._before)
            self._current, self._before = self._before, None
        self.round -= 1
        return True

    def _read_probabilities(self, name) -> pd.DataFrame:
        """A round's probability file, with zeros for the classes added since it was
        written (:meth:`autoal.Project.add_classes`)."""
        fewest = self.store.config().get("classes_at_start")
        return self.store.read_probabilities(name, self._rows, len(self.pool.classes), fewest)

    def _clean_models(self, current) -> None:
        """Model folders of a process that stopped: only the saved round's is kept."""
        if not self._models.is_dir():
            return
        keep = (self.store.path / current).resolve() if current else None
        for folder in self._models.iterdir():
            if folder.is_dir() and folder.resolve() != keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _discard(self, model) -> None:
        """Delete a replaced model's files in the background (off the clock)."""
        if model is None:
            return
        thread = threading.Thread(target=discard, args=(model,))
        thread.start()
        self._cleanup.append(thread)

    def _acquire(self) -> None:
        if self._lock is None:
            return
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise RuntimeError(
                f"The run directory {self.store.path} is in use by another autoal process (a "
                f"loop, or a 'next' that is fitting; lock file {self._lock.lock_file}); wait "
                f"for it to finish.") from None

    @contextlib.contextmanager
    def _holding(self):
        self._acquire()
        try:
            yield
        finally:
            if self._lock is not None:
                self._lock.release()

    @contextlib.contextmanager
    def _locked(self, name):
        if self.store is None:
            yield
            return
        with self.store.lock(name, timeout=60):
            yield


def _as_stored(config: dict, stored: dict) -> dict:
    """``config`` with the stored learner's description where the two differ only by
    constructor arguments left at their defaults: ones a newer autoal has added."""
    if without_defaults(config["learner"]) == without_defaults(stored.get("learner")):
        return {**config, "learner": stored["learner"]}
    return config


#: What a run records of this autoal's defaults under its learner, as a warning names them.
_DEFAULTS = {"default_models": "default models were",
             "default_blend": "way of blending the default models "
                              "(autoal.learners.EQUAL_BLEND_BELOW, WEIGHTED_BLEND_MARGIN) was",
             "tabular_features": "way of preparing the columns for AutoGluon "
                                 "(autoal.learners.TABULAR_FEATURES) was"}


def _check_defaults(path, key, stored, now) -> None:
    """Warn where the run in ``path`` was started by an autoal whose default ``key``
    (:data:`_DEFAULTS`) was ``stored``, other than this one's (``now``): its rounds from
    here on fit with this autoal's."""
    if now is None or stored == now:  # both JSON types (autoal._describe.describe)
        return
    warnings.warn(f"The run in {path} was started by an autoal whose {_DEFAULTS[key]} "
                  f"other than this one's: its rounds so far fitted {stored}, its rounds from "
                  f"here on fit {now}. To keep the run's models, finish it with the autoal "
                  f"that started it.", stacklevel=3)


def check_features(strategy, learner, features: pd.DataFrame, column_types: dict) -> None:
    """Refuse, before any fit, a strategy that needs row features (``"features"`` in its
    ``needs``) with a learner whose features of these rows have no columns (free text
    with the tabular learner; see :func:`autoal.learners.feature_columns`)."""
    name, score = get_strategy(strategy)
    if "features" not in getattr(score, "needs", ()):
        return
    if isinstance(learner, str):
        learner = make_learner(learner, column_types=column_types)
    if feature_columns(learner, features) == 0:
        raise ValueError(no_features_message(name))


def _check_tables(store, state: dict) -> None:
    """Refuse a run whose tables do not hold what ``state.json`` says was written in full:
    a history line for every round up to it, and its probability file."""
    last = int(state["round"])
    path = store.path / "history.csv"
    history = store.read_csv(path.name)
    if history is None:
        raise damaged(path, f"it is missing, though state.json says round {last} was written "
                            f"in full")
    missing = sorted(set(range(last + 1)) - set(history["round"].astype(int)))
    if missing:
        raise damaged(path, f"it lacks rounds {format_examples(missing)}, though state.json "
                            f"says round {last} was written in full")
    name = state.get("probabilities")
    if name and not (store.path / name).is_file():
        raise damaged(store.path / name, "it is missing, though state.json names it")


def _stamp(path: Path, round_: int):
    """What identifies a file's version (its inode, size and change time), for a round."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, round_)


def history_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame[[c for c in HISTORY if c in frame] + [c for c in frame if c not in HISTORY]]


def _no_probs(k: int) -> pd.DataFrame:
    return pd.DataFrame(columns=range(k), dtype=np.float32)


def _remember(known, rows_u, probs_u, rows_l, probs_l) -> pd.DataFrame:
    """Update the latest out-of-sample probabilities of each row (CROWDLAB weighs
    annotators with them): those of the labeled pool and of the rows about to be labeled."""
    parts = [known]
    if len(rows_u):
        parts.append(pd.DataFrame(probs_u, index=pd.Index(rows_u), dtype=np.float32))
    parts.append(pd.DataFrame(probs_l, index=pd.Index(rows_l), dtype=np.float32))
    merged = pd.concat([p for p in parts if len(p)])
    return merged[~merged.index.duplicated(keep="last")]


def _metrics(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"accuracy": accuracy_score(y_true, y_pred),
                "balanced_accuracy": balanced_accuracy_score(y_true, y_pred)}


def _typed(record: dict) -> dict:
    """A history line read back as strings: numbers again, blanks dropped."""
    out = {}
    for key, value in record.items():
        if value == "":
            continue
        try:
            number = float(value)
            out[key] = int(number) if number.is_integer() and key.startswith(("n_", "round")) \
                else number
        except ValueError:
            out[key] = value
    return out


def cold_reason(labeled: pd.Series) -> str:
    """Why there is no model yet, for labels (consensus) holding fewer than 2 classes."""
    if not len(labeled):
        return "no row has a label yet"
    return f"the labels given so far hold only the class {labeled.iloc[0]!r}"


def _guesses(labels, values, source) -> list:
    """The queries' guesses decoded; blank (a round without a model) stays None."""
    given = [v for v in values if v != ""]
    decoded = iter(labels(given, source=source))
    return [next(decoded) if v != "" else None for v in values]


def _text(value) -> str:
    return str(value).strip()


def _answered_before(new: pd.DataFrame, existing: pd.DataFrame) -> pd.Series:
    """For each line of ``new``, the index in ``existing`` of the same annotator's answer
    to the same row, or -1 (see ``Session.tell(correct=True)``)."""
    if existing.empty or new.empty:
        return pd.Series(-1, index=new.index)
    where = {key: i for i, key in enumerate(zip(existing["row"], existing["annotator"]))}
    index = existing.index.to_numpy()
    return pd.Series([index[where[key]] if key in where else -1
                      for key in zip(new["row"], new["annotator"])], index=new.index)


def _unknown_lines(new: pd.DataFrame, existing: pd.DataFrame) -> pd.DataFrame:
    """The lines of ``new`` not stored in ``existing`` already (same row, annotator and
    label), each once (see ``Session.tell(incremental=True)``)."""
    stored = set(zip(existing["row"], existing["annotator"], existing["label"]))
    keys = list(zip(new["row"], new["annotator"], new["label"]))
    keep = ~new.duplicated(["row", "annotator", "label"]).to_numpy() & np.array(
        [key not in stored for key in keys], dtype=bool)
    return new[keep].reset_index(drop=True)


def _log_round(row: dict) -> None:
    logger.info(
        "round %d: %d labels%s, fit %.1fs, predict %.1fs, score %.2fs, queried %d new, "
        "%d relabels (%d relabel requests)", row["round"], row["n_labeled"],
        f", accuracy {row['accuracy']:.3f}" if "accuracy" in row else "",
        row["fit_seconds"], row["predict_seconds"], row["score_seconds"], row["n_queried"],
        row["n_relabeled"], row["n_relabel_requests"])
