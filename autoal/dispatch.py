"""Who labels what, and when the next round starts: the labeling page's :class:`Dispatcher`.

- **Work is split.** Each labeler holds a few rows of the current queue (:data:`CLAIM`)
  under a lease that lasts ``lease`` seconds and is renewed whenever their page asks,
  so people working at once get different rows and a closed tab gives its rows back.
  A row is *open* while it needs an answer: a new row until anyone answers it, a second
  opinion until someone answers it who has not labeled the row before.
- **Rounds run on their own.** When ``refill`` or fewer open rows are left and some
  answers are not in the model yet, the next round (:meth:`autoal.project.Project.next`)
  starts in a background thread: one at a time, under the run lock, saved as a unit like
  any round. Answers given while it fits are stored as usual and count from the round
  after. A round that picks nothing (a stop rule fired, or the pool ran out) ends the
  run; ``auto_next=False`` leaves rounds to ``autoal next``.

Leases live in memory: restarting the page gives every row back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from ._checks import check_int
from .status import no_model_message

logger = logging.getLogger(__name__)

#: Rows a labeler holds at once: the one shown and the next ones (their images load early).
CLAIM = 3
#: Seconds a lease lasts without the labeler's page asking again (it asks every 15 s).
LEASE = 60.0


@dataclass
class Work:
    """What one labeler should see now: ``rows`` to label (the first is shown), or an
    empty list and the ``phase`` with a plain ``message``: ``"fitting"`` (the next batch
    is being prepared), ``"waiting"`` (the last rows are with other labelers),
    ``"skipped"`` (only rows this labeler skipped are left), ``"manual"`` (the next
    batch waits for ``autoal next``), ``"stopped"`` (a stop rule fired), ``"exhausted"``
    (every row is labeled) or ``"failed"`` (the last background round failed)."""

    rows: list
    phase: str
    message: str
    model: str | None = None  # why there is no model yet, when there is none


class Dispatcher:
    """Leases and background rounds over the project in ``workdir``.

    Parameters
    ----------
    workdir : the project's run directory.
    batch : rows each background round queues.
    auto_next : start rounds in the background (False: only ``autoal next`` does).
    refill : start the next round when this many open rows or fewer are left
        (default: a quarter of ``batch``, at least 1), so a labeler rarely waits for a fit.
    stop : stop rules (:mod:`autoal.stopping`) the background rounds check.
    lease : seconds a labeler holds rows without asking again.
    """

    def __init__(self, workdir, *, batch: int = 20, auto_next: bool = True, refill=None,
                 stop=None, lease: float = LEASE):
        self.workdir = workdir
        self.batch = check_int("batch", batch, minimum=1, owner="Dispatcher")
        self.auto_next = bool(auto_next)
        self.refill = max(1, self.batch // 4) if refill is None else check_int(
            "refill", refill, minimum=0, owner="Dispatcher")
        self.stop = stop
        self.lease = float(lease)
        self._lock = threading.Lock()
        self._leases = {}  # row -> (annotator, expiry)
        self._skipped = defaultdict(set)  # annotator -> rows skipped in this round
        self._first = {}  # annotator -> a row to show first (the one they undid)
        self._round = None
        self._thread = None
        self._started = None
        self._failure = None
        self._stopped_at = None  # the round a background fit was refused at

    # ---- rows ----------------------------------------------------------------------

    def work(self, project, annotator: str) -> Work:
        """Rows for ``annotator`` (claimed for them, renewing their leases), else why none.
        Starts the next round when it is due."""
        round_ = project.round  # catches up with a round saved since
        picks, notes = project.session.query.picks, project.annotations
        excluded = project.session.excluded
        with self._lock:
            self._new_round(round_)
            needed = open_rows(picks, notes, round_, excluded["row"])
            now = time.monotonic()
            self._leases = {row: held for row, held in self._leases.items()
                            if held[1] > now and row in needed}
            mine = [row for row in needed if annotator in needed[row]
                    and self._leases.get(row, (annotator,))[0] == annotator
                    and row not in self._skipped[annotator]]
            held = [row for row in mine if row in self._leases][:CLAIM]
            free = [row for row in mine if row not in self._leases]
            rows = held + free[:CLAIM - len(held)]
            first = self._first.get(annotator)
            if first in rows:
                rows.remove(first)
                rows.insert(0, first)
            for row in rows:
                self._leases[row] = (annotator, now + self.lease)
            due = self._due(project, needed, excluded)
        if due:
            self.start_round()
        history = project.session.history
        model = None
        if round_ < 0 or ("model" in history and history["model"].iloc[-1] == "none"):
            model = no_model_message(_classes_labeled(notes))
        if rows:
            return Work(rows, "label", "", model)
        return Work([], *self._why_none(project, annotator, needed), model)

    def release(self, annotator: str, row) -> None:
        """``annotator`` is done with ``row`` (answered it): their lease ends."""
        with self._lock:
            if self._leases.get(row, (None,))[0] == annotator:
                del self._leases[row]
            if self._first.get(annotator) == row:
                del self._first[annotator]

    def skip(self, annotator: str, row) -> None:
        """``annotator`` passes on ``row`` for this round; it goes back to the others."""
        self.release(annotator, row)
        with self._lock:
            self._skipped[annotator].add(row)

    def unskip(self, annotator: str) -> None:
        """Offer ``annotator`` the rows they skipped again."""
        with self._lock:
            self._skipped.pop(annotator, None)

    def give_back(self, annotator: str, row) -> None:
        """Show ``row`` to ``annotator`` first (their answer to it was withdrawn)."""
        with self._lock:
            self._skipped[annotator].discard(row)
            self._first[annotator] = row
            holder = self._leases.get(row)
            if holder is None or holder[0] != annotator:
                self._leases[row] = (annotator, time.monotonic() + self.lease)

    # ---- rounds ----------------------------------------------------------------------

    @property
    def fitting(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_round(self) -> bool:
        """Start the next round in the background; False if one is running already."""
        with self._lock:
            if self.fitting:
                return False
            self._failure, self._started = None, time.monotonic()
            self._thread = threading.Thread(target=self._next_round, daemon=True,
                                            name="autoal-next-round")
            self._thread.start()
            return True

    def wait(self, timeout=None) -> None:
        """Wait for a background round (tests and benchmarks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _next_round(self) -> None:
        from .project import Project

        try:
            project = Project(self.workdir, stop=self.stop)
            queue = project.next(batch=self.batch, progress=False)
            logger.info("Round %d queued %d rows.", project.round, len(queue))
        except Exception as error:  # the page says so; the next answer tries again
            logger.exception("The next round failed")
            self._failure = f"{type(error).__name__}: {error}"

    def _due(self, project, needed, excluded) -> bool:
        if not self.auto_next or self.fitting or self._failure is not None:
            return False
        session = project.session
        if project.round < 0:
            return True
        if not len(session.query.picks):
            return False  # the last round picked nothing: the run is over
        untrained = len(project.annotations) > int(session.history["n_annotations"].iloc[-1]) \
            or (excluded["round"] == project.round + 1).any()  # rows taken out since
        return untrained and len(needed) <= self.refill

    def _new_round(self, round_) -> None:
        if round_ != self._round:
            self._round = round_
            self._skipped.clear()
            self._first.clear()

    def _why_none(self, project, annotator, needed) -> tuple[str, str]:
        session = project.session
        if self.fitting:
            seconds = time.monotonic() - (self._started or time.monotonic())
            labels = len(project.annotations)
            return "fitting", (f"The next batch is being prepared: the model is learning from "
                               f"{labels} answers (for {seconds:.0f} s so far). This page "
                               f"moves on by itself.")
        if self._failure is not None:
            return "failed", (f"The next batch could not be prepared ({self._failure}). It "
                              f"is tried again with the next answer; whoever runs the page "
                              f"can also run 'autoal next'.")
        picks = session.query.picks
        if project.round >= 0 and not len(picks):
            reason = session.query.stop_reason
            if reason:
                return "stopped", (f"You can stop here: {reason}. Whoever runs the page can "
                                   f"train the final model ('autoal train').")
            return "exhausted", ("Every row that can be labeled is labeled: the pool ran out. "
                                 "Whoever runs the page can train the final model "
                                 "('autoal train').")
        mine = [row for row in needed if annotator in needed[row]]
        if mine and all(row in self._skipped[annotator] for row in mine):
            return "skipped", (f"You skipped the {len(mine)} item(s) left in this batch.")
        if mine:
            return "waiting", (f"The last {len(mine)} item(s) of this batch are with other "
                               f"labelers; the next batch starts when they are answered.")
        if not self.auto_next:
            if project.round < 0:
                return "manual", ("No queue to label yet: whoever runs the page makes one "
                                  "with 'autoal next'. This page moves on by itself then.")
            return "manual", ("Done: you answered this batch. The next batch comes when "
                              "whoever runs the page runs 'autoal next'; this page moves on "
                              "by itself then.")
        return "fitting", "The next batch is about to be prepared. This page moves on by itself."


def open_rows(picks, notes, round_, excluded=()) -> dict:
    """The current queue's rows that still need an answer, in queue order, each with who
    may give it: ``{row: container of annotators}`` (everyone but those who labeled it);
    rows ``excluded`` need none."""
    by_row = notes.groupby("row")["annotator"].agg(set).to_dict() if len(notes) else {}
    since = set(notes.loc[notes["round"] == round_ + 1, "row"]) if len(notes) else set()
    excluded, out = set(excluded), {}
    for row, kind in zip(picks["row"], picks["kind"]):
        labeled_by = by_row.get(row, set())
        if row in excluded:
            continue
        if kind == "new" and not labeled_by:
            out[row] = _Everyone()
        elif kind == "relabel" and row not in since:
            out[row] = _AllBut(labeled_by)
    return out


class _Everyone:
    def __contains__(self, name) -> bool:
        return True


class _AllBut:
    def __init__(self, names):
        self.names = names

    def __contains__(self, name) -> bool:
        return name not in self.names


def _classes_labeled(notes) -> int:
    return int(notes["label"].nunique()) if len(notes) else 0
