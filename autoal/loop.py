"""The active labeling loop: fit, score, pick, label, repeat.

:func:`loop` is a short driver over :class:`autoal.session.Session`: ask for a batch,
have the oracle label it, tell the session, check the stop rules, repeat.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._checks import check_int
from .oracles import SimulatedOracle
from .pool import Pool
from .rundir import RunDir, write_csv
from .session import Session
from .settings import Settings
from .stopping import as_rules
from .strategies import get_strategy

logger = logging.getLogger(__name__)


@dataclass
class Result:
    """What :func:`loop` returns.

    Attributes
    ----------
    history : one row per round: ``round, n_labeled, n_annotations, n_queried`` (new
        rows), ``n_relabeled`` (second opinions sent), ``n_relabel_requests`` (labeled
        rows among the batch's best scores that someone can label again: 0 with one
        annotator), ``accuracy, balanced_accuracy`` (when there is a test set),
        ``consensus_accuracy`` (when simulating: share of consensus labels that are
        true), ``oof_accuracy`` (out-of-sample accuracy on the labeled rows),
        ``fit_seconds, predict_seconds, score_seconds``, and ``prepare_seconds``: the part
        of the round's fit (or, without a model, its scoring) spent in the learner's
        one-time ``prepare`` (the embedding learner embeds every row there), 0 after it.
    queries : one row per pick: ``round, row, kind`` (``new`` or ``relabel``), ``score``,
        ``guess`` and ``confidence`` (the model's).
    annotations : every label given: ``row, annotator, label, round`` (``round`` is
        the first round whose model trained on it; the initial set is round 0).
    consensus : per labeled row: ``consensus_label, consensus_quality_score,
        annotator_agreement, num_annotations, method`` (see :mod:`autoal.annotations`).
    annotator_stats : per annotator: ``num_examples_labeled, agreement_with_consensus,
        annotator_quality``.
    stop_reason : why the loop ended (a stopping rule, the rounds, or the pool).
    labeled : row labels of the labeled pool at the end.
    classes : the class list, fixed at the start.
    model : the last fitted model (``model.predict_proba(df)`` on raw rows).
    strategy : the strategy's name.
    config : the run's settings as ``autoal.json`` records them (label, classes, column
        types, learner, the data's fingerprint), what :meth:`train` needs.
    workdir : the run directory, or None when the loop kept none.
    """

    history: pd.DataFrame
    queries: pd.DataFrame
    annotations: pd.DataFrame
    labeled: pd.Index
    classes: list
    model: object = None
    strategy: str = ""
    test_index: pd.Index = field(default_factory=pd.Index)
    consensus: pd.DataFrame = None
    annotator_stats: pd.DataFrame = None
    stop_reason: str = ""
    config: dict = None
    workdir: Path = None

    @property
    def predictor(self):
        """The last AutoGluon predictor (for the embedding learner it takes embedding features)."""
        return getattr(self.model, "predictor", None)

    def plot(self, ax=None, label=None):
        """Test accuracy against the number of labels; returns the matplotlib figure."""
        from .plotting import plot_curves

        return plot_curves({label or self.strategy: self}, ax=ax)

    def train(self, df: pd.DataFrame, path=None, *, quality: str = "medium", time_limit=None,
              base_dir=None, progress: bool = True):
        """Fit the final model on every consensus label, at a higher quality than the
        rounds' fits, and save it; returns it (:class:`autoal.final.FinalModel`, which
        :func:`autoal.load` reads back).

        ``df`` is the DataFrame the loop ran on (checked against its fingerprint);
        ``path`` the folder to save in (default: ``workdir/final``; needed when the
        loop kept no run directory). ``quality`` is ``"medium"``, ``"high"`` or
        ``"best"``; ``time_limit`` (seconds) replaces its default (see
        :mod:`autoal.final`; on tables ``"medium"`` keeps the rounds' models, refitted on
        every label). ``base_dir``: as :func:`loop`'s.
        """
        from .final import train_result

        return train_result(self, df, path, quality=quality, time_limit=time_limit,
                            base_dir=base_dir, progress=progress)


def loop(df: pd.DataFrame, rounds: int = 10, batch: int = 150, *, label: str = "label",
         strategy="auto", init=8, test=None, test_size: float = 0.2, learner="auto",
         seed: int = 0, time_limit=None, workdir=None, column_types=None, annotators=None,
         oracle=None, base_dir=None, progress: bool = True, chunk_size: int = 100_000,
         ray_address=None, stop=None) -> Result:
    """Run active labeling on ``df`` and return a :class:`Result`.

    Parameters
    ----------
    df : one row per example: a label column and feature columns (image paths, text
        or tabular values). Row labels (the index) identify rows and must be unique.
    rounds : query rounds; the loop fits ``rounds + 1`` models (the last one is
        only evaluated).
    batch : rows to label per round.
    label : name of the label column.
    strategy : a name from :data:`autoal.strategies.STRATEGIES` or a function; the
        default ``"auto"`` is :func:`autoal.strategies.auto` (ActiveLab judges second
        opinions; new rows by a typical-pick warm-up, then diverse smallest margins).
    init : the initial labeled set: ``int`` examples per class at random, a list of
        row labels, or a boolean mask over ``df``.
    test : rows held out for evaluation only: a DataFrame, a list of row labels of
        ``df`` or a boolean mask; default: a stratified ``test_size`` split of ``df``.
    test_size : fraction held out when ``test`` is None; 0 for no evaluation.
    learner : ``"auto"``, ``"tabular"``, ``"multimodal"``, ``"embedding"`` or a learner
        object (see :mod:`autoal.learners`).
    seed : the only source of randomness: split, initial set, tie-breaks.
    time_limit : seconds per AutoGluon fit; for a learner object, None keeps its own.
    workdir : the run directory (see :mod:`autoal.rundir`): configuration, annotations,
        picks, metrics and the current AutoGluon model, written atomically after each
        round. Calling ``loop`` again on the same folder resumes after the last round
        written in full, with the same picks an uninterrupted run makes; settings that
        would change the picks (data, seed, strategy, batch, ...) must stay the same,
        ``rounds`` may grow. Each round's model goes to ``workdir/models/round-NNN``,
        learner objects' too. Default: nothing kept; models go to a temporary folder,
        removed when the loop ends (the last model's once ``Result.model`` is dropped).
    column_types : ``{column: "image_path"|"text"|"categorical"|"numerical"}`` overrides.
    annotators : :class:`autoal.SimulatedAnnotators`: several noisy simulated annotators
        (labels then come from them, and relabel requests go to someone new).
    oracle : who labels picked rows (see :mod:`autoal.oracles`); default: the labels in
        ``df`` revealed one at a time, which then must all be present.
    base_dir : folder that relative image paths resolve against (default: the
        working directory).
    progress : show a progress bar.
    stop : a stopping rule from :mod:`autoal.stopping` (``Budget``, ``TargetAccuracy``,
        ``StablePredictions``) or a list of them; the loop ends at the first that fires
        (or after ``rounds``), and ``Result.stop_reason`` says why.
    chunk_size : rows per ``predict_proba`` call when predicting the pool and the test
        set, so a big pool is never copied whole (see :func:`autoal.predict.predict_pool`).
    ray_address : None (default) to predict in this process; else a Ray address
        (``"local"``, ``"auto"``, ``"ray://host:10001"``) to predict the pool, and compute
        embeddings, on Ray. On a cluster, ``workdir`` must be on storage every node sees.
    """
    settings = Settings(label=label, strategy=strategy, batch=batch, seed=seed, init=init,
                        test_size=test_size, learner=learner, time_limit=time_limit,
                        chunk_size=chunk_size, ray_address=ray_address, progress=progress)
    rounds = check_int("rounds", rounds, minimum=0)
    get_strategy(strategy)  # an unknown name fails before the data is read
    rules = as_rules(stop)
    if annotators is not None and oracle is not None:
        raise ValueError("Pass either 'annotators' or 'oracle' to loop, not both.")
    store = RunDir(workdir) if workdir is not None else None
    if store is not None:
        store.check_folder("workdir", owner="loop")
    pool = Pool.from_frame(df, settings, test=test, column_types=column_types,
                           base_dir=base_dir, simulated=oracle is None,
                           annotator_columns=list(getattr(annotators, "columns", None) or []))
    if annotators is not None:
        oracle = annotators.bind(pool.truth, pool.classes, pool.annotator_labels)
    elif oracle is None:
        oracle = SimulatedOracle(pool.truth)
    session = Session.open(pool, settings, store, oracle=oracle, stop=rules)
    with session:
        _catch_up(session, oracle, rounds)
        return _drive(session, oracle, rounds)


def _catch_up(session: Session, oracle, rounds: int) -> None:
    """After a stop: label a query that was saved but not answered (no refit), or take
    back a last round that picked nothing, so it runs again and gives its model back."""
    if session.reopen():
        logger.info("resuming at round %d", session.round + 1)
    pending = session.pending
    if pending is not None:
        session.tell(oracle(pending.rows, session.annotations))
    if session.round + 1 > rounds:
        raise ValueError(f"The run directory {session.store.path} holds {session.round + 1} "
                         f"rounds already; pass rounds >= {session.round + 1} to continue it.")


def _drive(session: Session, oracle, rounds: int) -> Result:
    """Rounds ``session.round + 1 .. rounds``: ask, label, tell."""
    from tqdm.auto import tqdm

    stop_reason = None
    with tqdm(total=rounds + 1, initial=session.round + 1, unit="round",
              desc=f"autoal {session.strategy}", disable=not session.settings.progress) as bar:
        for r in range(session.round + 1, rounds + 1):
            query = session.ask(final=r == rounds)
            row = query.line
            bar.update(1)
            if "accuracy" in row:
                bar.set_postfix(labels=row["n_labeled"], accuracy=f"{row['accuracy']:.3f}")
            stop_reason = query.stop_reason
            if stop_reason:
                logger.info("stopping after round %d: %s", r, stop_reason)
                break
            if r < rounds and not len(query.picks):
                warnings.warn(f"The pool ran out of rows to label after round {r}; stopping "
                              f"early with {row['n_labeled']} labels.", stacklevel=3)
                stop_reason = "pool ran out"
                break
            if len(query.picks):
                session.tell(oracle(query.rows, session.annotations))
    return _result(session, stop_reason or f"{rounds} rounds done")


def _result(session: Session, stop_reason: str) -> Result:
    consensus, annotator_stats = session.consensus()
    if session.store is not None:
        write_csv(session.store.path / "consensus.csv", consensus.reset_index())
        write_csv(session.store.path / "annotator_stats.csv", annotator_stats.reset_index())
    return Result(
        history=session.history, queries=session.queries, annotations=session.annotations,
        labeled=pd.Index(consensus.index), classes=list(session.pool.classes),
        model=session.model, strategy=session.strategy,
        test_index=pd.Index(session.pool.test.index), consensus=consensus,
        annotator_stats=annotator_stats, stop_reason=stop_reason, config=session.config(),
        workdir=session.store.path if session.store is not None else None)
