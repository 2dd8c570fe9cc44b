"""The active labeling loop: fit, score, pick, label, repeat."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ._checks import check_fraction, check_int, format_examples
from .data import IMAGE, check_images, infer_column_types, resolve_paths
from .learners import align_proba, cross_fit_proba, discard, make_learner
from .predict import predict_pool
from .rundir import Decoder, RunDir, fingerprint, write_csv
from . import annotations as ann
from .oracles import SimulatedOracle
from .select import select_batch
from .stopping import Budget, StablePredictions, as_rules
from .strategies import get_strategy, strategy_inputs

logger = logging.getLogger(__name__)

# Streams of randomness derived from the one ``seed``: never global NumPy state.
_SPLIT, _INIT, _ROUND, _STOP = 0, 1, 2, 3
_EMPTY_PICKS = pd.DataFrame({"round": pd.Series(dtype=int), "row": pd.Series(dtype=object),
                             "kind": pd.Series(dtype=str), "score": pd.Series(dtype=float)})


@dataclass
class Result:
    """What :func:`loop` returns.

    Attributes
    ----------
    history : one row per round: ``round, n_labeled, n_annotations, n_queried`` (new
        rows), ``n_relabeled`` (second opinions sent), ``n_relabel_requests`` (labeled
        rows among the batch's best scores), ``accuracy, balanced_accuracy`` (when there
        is a test set), ``consensus_accuracy`` (when simulating: share of consensus
        labels that are true), ``fit_seconds, predict_seconds, score_seconds``.
    queries : one row per pick: ``round, row, kind`` (``new`` or ``relabel``), ``score``.
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

    @property
    def predictor(self):
        """The last AutoGluon predictor (for the embedding learner it takes embedding features)."""
        return getattr(self.model, "predictor", None)

    def plot(self, ax=None, label=None):
        """Test accuracy against the number of labels; returns the matplotlib figure."""
        return plot_curves({label or self.strategy: self}, ax=ax)


def plot_curves(results: dict, ax=None, metric: str = "accuracy"):
    """Draw ``metric`` against labels for several named results on one axes."""
    import matplotlib

    if ax is None:
        matplotlib.use("Agg") if not _interactive() else None
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    for name, result in results.items():
        h = result.history
        if metric not in h:
            raise ValueError(f"History has no {metric!r} column (was there a test set?).")
        ax.plot(h["n_labeled"], h[metric], marker="o", label=name)
    return finish_axes(fig, ax, metric)


def finish_axes(fig, ax, metric: str):
    """Labels, grid and legend of a learning-curve plot; returns ``fig``."""
    ax.set_xlabel("labels")
    ax.set_ylabel(f"test {metric.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _interactive() -> bool:
    import matplotlib

    return matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo")


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
    time_limit : seconds per AutoGluon fit (for learners given by name).
    workdir : the run directory (see :mod:`autoal.rundir`): configuration, annotations,
        picks, metrics and the current AutoGluon model, written atomically after each
        round. Calling ``loop`` again on the same folder resumes after the last round
        written in full, with the same picks an uninterrupted run makes; settings that
        would change the picks (data, seed, strategy, batch, ...) must stay the same,
        ``rounds`` may grow. Default: nothing kept, AutoGluon works in a temporary folder.
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
    rounds = check_int("rounds", rounds, minimum=0)
    batch = check_int("batch", batch, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    test_size = check_fraction("test_size", test_size)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"The 'df' parameter of loop must be a pandas DataFrame. Got {type(df).__name__}.")
    if label not in df.columns:
        raise ValueError(f"The label column {label!r} is not in the data. Columns: "
                         f"{format_examples(df.columns, 10)}. Pass label=... to name it.")
    if not df.index.is_unique:
        raise ValueError("The rows of 'df' must have unique index labels; call df.reset_index(drop=True).")
    if len(df.columns) < 2:
        raise ValueError("The data has no feature columns besides the label column.")
    strategy_name, score = get_strategy(strategy)
    rules = as_rules(stop)

    external_test = isinstance(test, pd.DataFrame)
    if external_test and label not in test.columns:
        raise ValueError(f"The 'test' DataFrame has no label column {label!r}.")
    if annotators is not None and oracle is not None:
        raise ValueError("Pass either 'annotators' or 'oracle' to loop, not both.")
    simulated = oracle is None
    # Columns of real per-annotator labels feed the simulated annotators, never the model.
    given = list(getattr(annotators, "columns", None) or [])
    missing = [c for c in given if c not in df.columns]
    if missing:
        raise ValueError(f"SimulatedAnnotators: columns not in the data: {missing}.")
    given_labels, df = df[given], df.drop(columns=given)
    known = df[label].notna()
    if simulated and not known.all():
        raise ValueError(
            f"The label column {label!r} has {int((~known).sum())} missing values (rows "
            f"{format_examples(df.index[~known])}). loop simulates labeling from the labels "
            f"in df, so every row needs one; pass an oracle to label the rest by other means.")
    labels_all = df[label] if not external_test else pd.concat([df[label], test[label]])
    classes = _sorted(labels_all.dropna().unique())
    if len(classes) < 2:
        raise ValueError(f"The label column {label!r} must hold at least 2 classes. Got {classes}.")

    types = infer_column_types(df, exclude=[label], column_types=column_types, base_dir=base_dir)
    data = df.copy()
    if external_test:
        test_df = test.copy()
    for column in (c for c, t in types.items() if t == IMAGE):
        data[column] = resolve_paths(data[column], base_dir or Path.cwd())
        if external_test:
            test_df[column] = resolve_paths(test_df[column], base_dir or Path.cwd())

    if external_test:
        missing = set(types) - set(test_df.columns)
        if missing:
            raise ValueError(f"The 'test' DataFrame lacks feature columns {sorted(missing)}.")
        test_df = test_df[list(types) + [label]]
        pool = data
    else:
        test_rows = _split_test(data, label, known, test, test_size, seed)
        test_df = data.loc[test_rows]
        pool = data.drop(index=test_rows)
    initial = _initial_set(pool, label, known.reindex(pool.index), init, seed, classes)

    for column in (c for c, t in types.items() if t == IMAGE):
        check_images(pd.concat([pool[[column]], test_df[[column]]]), [column])

    run = RunDir(workdir) if workdir is not None else None
    model_path = run.path / "models" if run is not None else None
    learner = make_learner(learner, column_types=types, time_limit=time_limit, seed=seed,
                           path=model_path, progress=progress, ray_address=ray_address)
    truth = pool[label] if simulated else None
    if annotators is not None:
        oracle = annotators.bind(truth, classes, given_labels.loc[pool.index])
    elif oracle is None:
        oracle = SimulatedOracle(truth)
    features = pool.drop(columns=[label])
    codes = {c: i for i, c in enumerate(classes)}
    test_codes = test_df[label].map(codes).to_numpy()
    stability = [r for r in rules if isinstance(r, StablePredictions)]
    stop_rows = (pool.index[np.random.default_rng([seed, _STOP]).permutation(len(pool))[
        :max(r.size for r in stability)]] if stability else None)

    # Everything a round needs from the rounds before it; a resumed run reloads it.
    state = _State(annotations=None, history=[], queries=[], stop_predictions=[],
                   known_probs=pd.DataFrame(columns=range(len(classes)), dtype=np.float32))
    lock = run.lock() if run is not None else None
    if lock is not None:
        _acquire(lock, run)
    try:
        if run is not None:
            config = _config(df, label, strategy_name, batch, seed, init, test_size, learner,
                             annotators, classes, types, initial, test_df, oracle)
            if run.exists():
                state = _resume(run, config, pool.index, classes, state, rounds)
            else:
                run.create(config)
        if state.annotations is None:
            state.annotations = _annotate(oracle, initial, 0, classes, pool.index, ann.empty())
        if callable(getattr(learner, "prepare", None)):
            learner.prepare(pd.concat([features, test_df.drop(columns=[label])]), types)
        result = _rounds(state, run, learner, oracle, score, rules, features, label, classes,
                         codes, test_df, test_codes, truth, stop_rows, rounds, batch, seed,
                         strategy_name, chunk_size, ray_address, progress)
    finally:
        if state.writer is not None:  # let the last round's files land before unlocking
            state.writer.wait()
        if lock is not None:
            lock.release()
    return result


@dataclass
class _State:
    """What carries from one round to the next (and is saved after each)."""

    annotations: pd.DataFrame | None
    history: list
    queries: list
    stop_predictions: list
    # The latest out-of-sample probabilities per row: CROWDLAB weighs annotators with them.
    known_probs: pd.DataFrame
    start: int = 0
    writer: object = None  # the _Writer saving the last round, if any


def _rounds(state, run, learner, oracle, score, rules, features, label, classes, codes,
            test_df, test_codes, truth, stop_rows, rounds, batch, seed, strategy_name,
            chunk_size, ray_address, progress) -> Result:
    """Rounds ``state.start .. rounds``: fit, evaluate, score, pick, label, save."""
    from tqdm.auto import tqdm

    history, queries, annotations = state.history, state.queries, state.annotations
    stop_reason, cleanup, model, writer = None, [], None, _Writer(None)
    bar = tqdm(total=rounds + 1, initial=state.start, desc=f"autoal {strategy_name}",
               unit="round", disable=not progress)
    for r in range(state.start, rounds + 1):
        known_before = state.known_probs
        labeled = ann.consensus_labels(annotations, classes, state.known_probs)
        train = features.loc[labeled.index].assign(**{label: labeled.to_numpy()})
        if train[label].nunique() < 2:
            raise ValueError(
                f"Round {r}: the labels given so far hold only the class "
                f"{train[label].iloc[0]!r}; a model needs at least 2. The annotation table "
                f"up to here: {len(annotations)} lines.")
        t0 = time.perf_counter()
        previous, model = model, learner.fit(train, label)
        if previous is not None:  # only the latest model is kept on disk; delete off the clock
            cleanup.append(threading.Thread(target=discard, args=(previous,)))
            cleanup[-1].start()
        t1 = time.perf_counter()
        row = {"round": r, "n_labeled": len(train), "n_annotations": len(annotations)}
        if len(test_df):
            test_probs = predict_pool(model, test_df.drop(columns=[label]), test_df.index,
                                      classes, chunk_size=chunk_size,
                                      ray_address=ray_address, progress=progress)
            row.update(_metrics(test_codes, test_probs.argmax(axis=1)))
        if truth is not None:
            row["consensus_accuracy"] = float((labeled == truth.loc[labeled.index]).mean())
        if stop_rows is not None:
            state.stop_predictions.append(predict_pool(
                model, features, stop_rows, classes, chunk_size=chunk_size, progress=False,
                ray_address=ray_address).argmax(axis=1))
        for rule in rules:
            stop_reason = rule([*history, row], state.stop_predictions)
            if stop_reason:
                break
        budget = min([batch] + [r.remaining(len(annotations)) for r in rules
                                if isinstance(r, Budget)])
        unlabeled = features.index.difference(labeled.index, sort=False)
        can_relabel = _can_relabel(oracle, annotations, labeled.index)
        picks, requests = _EMPTY_PICKS, 0
        t2 = t3 = time.perf_counter()
        if r < rounds and not stop_reason and budget > 0 and (
                len(unlabeled) or can_relabel.any()):
            rng = np.random.default_rng([seed, _ROUND, r])
            chosen = pick(model, learner, train, label, features, unlabeled, annotations,
                          classes, score, budget, rng, can_relabel, round_=r, seed=seed,
                          chunk_size=chunk_size, ray_address=ray_address, progress=progress)
            picks, requests, t2 = chosen.picks, chosen.relabel_requests, chosen.scored_at
            # CROWDLAB needs out-of-sample probabilities for labeled rows only: keep
            # those of the labeled pool and of the rows about to be labeled.
            new = picks["kind"] == "new"
            state.known_probs = _remember(state.known_probs, picks.loc[new, "row"],
                                          chosen.new_probs, labeled.index, chosen.labeled_probs)
            t3 = time.perf_counter()
            if len(picks):
                annotations = pd.concat([annotations, _annotate(
                    oracle, pd.Index(picks["row"]), r + 1, classes, features.index,
                    annotations)], ignore_index=True)
        elif getattr(model, "oof_proba", None) is not None:
            state.known_probs = _remember(state.known_probs, [], None, labeled.index,
                                          align_proba(model.oof_proba, classes))
        row.update(n_queried=int((picks["kind"] == "new").sum()),
                   n_relabeled=int((picks["kind"] == "relabel").sum()),
                   n_relabel_requests=requests, fit_seconds=t1 - t0,
                   predict_seconds=t2 - t1, score_seconds=t3 - t2)
        if stop_reason:
            row["stop_reason"] = stop_reason
        history.append(row)
        if len(picks):
            queries.append(picks)
        logger.info(
            "round %d: %d labels%s, fit %.1fs, predict %.1fs, score %.2fs, queried %d new, "
            "%d relabels (%d relabel requests)", r, row["n_labeled"],
            f", accuracy {row['accuracy']:.3f}" if "accuracy" in row else "",
            row["fit_seconds"], row["predict_seconds"], row["score_seconds"],
            row["n_queried"], row["n_relabeled"], requests)
        bar.update(1)
        if "accuracy" in row:
            bar.set_postfix(labels=row["n_labeled"], accuracy=f"{row['accuracy']:.3f}")
        if run is not None:  # written while the next round fits; in order, one at a time
            state.annotations = annotations
            writer.join()
            writer = state.writer = _Writer(
                _save, run, replace(state, history=list(history), queries=list(queries),
                                    stop_predictions=list(state.stop_predictions)),
                known_before, stop_rows, model)
        if stop_reason:
            logger.info("stopping after round %d: %s", r, stop_reason)
            break
        if r < rounds and len(picks) == 0:
            warnings.warn(f"The pool ran out of rows to label after round {r}; stopping early "
                          f"with {row['n_labeled']} labels.", stacklevel=3)
            break
    bar.close()
    writer.join()
    for thread in cleanup:
        thread.join()
    consensus, annotator_stats = ann.consensus(annotations, classes, state.known_probs)
    if run is not None:
        write_csv(run.path / "consensus.csv", consensus.reset_index())
        write_csv(run.path / "annotator_stats.csv", annotator_stats.reset_index())
    return Result(
        history=_history_frame(history),
        queries=pd.concat([_EMPTY_PICKS, *queries], ignore_index=True),
        annotations=annotations, labeled=pd.Index(consensus.index), classes=list(classes),
        model=model, strategy=strategy_name, test_index=pd.Index(test_df.index),
        consensus=consensus, annotator_stats=annotator_stats,
        stop_reason=stop_reason or ("pool ran out" if len(history) < rounds + 1
                                    else f"{rounds} rounds done"),
    )


class _Writer:
    """Runs ``fn(*args)`` in a thread; :meth:`join` waits and raises what it raised."""

    def __init__(self, fn, *args):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn, args)) if fn else None
        if self.thread is not None:
            self.thread.start()

    def _run(self, fn, args):
        try:
            fn(*args)
        except BaseException as error:  # handed to the loop's thread by join()
            self.error = error

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def join(self) -> None:
        self.wait()
        if self.error is not None:
            raise self.error


@dataclass
class Picks:
    """One round's batch: what :func:`pick` returns."""

    picks: pd.DataFrame  # round, row, kind, score; best first within each kind
    new_probs: np.ndarray  # (n_new, K) probabilities of the new rows picked
    labeled_probs: np.ndarray  # (m, K) out-of-sample probabilities of the labeled pool
    relabel_requests: int
    scored_at: float  # perf_counter() when prediction ended and scoring began


def pick(model, learner, train, label, features, unlabeled, annotations, classes, score,
         budget, rng, can_relabel, *, round_, seed, chunk_size=100_000, ray_address=None,
         progress=False) -> Picks:
    """Predict the unlabeled pool, score both pools and pick ``budget`` rows."""
    codes = {c: i for i, c in enumerate(classes)}
    probs_u = predict_pool(model, features, unlabeled, classes, chunk_size=chunk_size,
                           ray_address=ray_address, progress=progress)
    oof = getattr(model, "oof_proba", None)
    if oof is None:
        oof = cross_fit_proba(learner, train, label, seed=seed)
    probs_l = align_proba(oof, classes)
    scored_at = time.perf_counter()
    labeled = train.index
    wide = ann.wide(annotations, labeled, codes).to_numpy(dtype=float)
    extra = strategy_inputs(score, model=model, features=features, unlabeled=unlabeled,
                            labeled=labeled, classes=classes, batch=budget,
                            chunk_size=chunk_size, ray_address=ray_address)
    scores = score(probs_u, labels=wide, pred_probs=probs_l, rng=rng, **extra)
    chosen = select_batch(scores.unlabeled, scores.labeled, budget, rng, can_relabel=can_relabel)
    picks = pd.concat([
        _EMPTY_PICKS,
        pd.DataFrame({"round": round_, "row": unlabeled[chosen.new], "kind": "new",
                      "score": np.asarray(scores.unlabeled)[chosen.new]}),
        pd.DataFrame({"round": round_, "row": labeled[chosen.relabel], "kind": "relabel",
                      "score": np.asarray(scores.labeled)[chosen.relabel]
                      if scores.labeled is not None else []}),
    ], ignore_index=True)
    return Picks(picks, probs_u[chosen.new], probs_l, chosen.relabel_requests, scored_at)


#: Settings a resumed run must share with the run it resumes.
_RESUME_KEYS = ("kind", "label", "classes", "column_types", "strategy", "batch", "seed",
                "learner", "annotators", "data", "split")


def _config(df, label, strategy_name, batch, seed, init, test_size, learner, annotators,
            classes, types, initial, test_df, oracle) -> dict:
    return {
        "kind": "loop", "label": label, "classes": list(classes), "column_types": types,
        "strategy": strategy_name, "batch": batch, "seed": seed,
        "learner": type(learner).__name__,
        "annotators": list(getattr(oracle, "annotators", None) or []),
        "data": {"rows": len(df), "columns": [str(c) for c in df.columns],
                 "fingerprint": fingerprint(df)},
        # The initial set and the test rows, by content: init= and test= must agree.
        "split": fingerprint(pd.DataFrame({"initial": [str(i) for i in initial]}))
                 + "/" + fingerprint(pd.DataFrame({"test": [str(i) for i in test_df.index]})),
        "init": init if isinstance(init, (int, np.integer)) else "rows", "test_size": test_size,
    }


def _acquire(lock, run) -> None:
    from filelock import Timeout

    try:
        lock.acquire()
    except Timeout:
        raise RuntimeError(f"The run directory {run.path} is in use by another autoal process "
                           f"(lock file {lock.lock_file}); wait for it to finish.") from None


def _resume(run: RunDir, config, pool_index, classes, state: _State, rounds) -> _State:
    """Reload the state saved after the last round written in full."""
    run.check(config, _RESUME_KEYS)
    saved = run.state()
    last = int(saved["round"])
    if last < 0:  # configuration written, no round finished: start over
        return state
    rows, labels = Decoder(pool_index, "rows"), Decoder(classes, "classes")
    history = run.read_csv("history.csv")
    history = [_typed(h) for h in history.to_dict("records") if int(h["round"]) <= last]
    # A last round that picked nothing (it was the last, or a rule stopped the run) is
    # run again: refitting it gives back the model, and more rounds can follow it.
    final = history[-1]
    redo = int(final["n_queried"]) + int(final["n_relabeled"]) == 0
    start = last if redo else last + 1
    if start > rounds:
        raise ValueError(f"The run directory {run.path} holds {start} rounds already; pass "
                         f"rounds >= {start} to continue it.")
    queries = run.read_csv("queries.csv")
    queries = queries[queries["round"].astype(int) < start]
    queries = queries.assign(round=queries["round"].astype(int), row=rows(queries["row"]),
                             score=queries["score"].astype(float))
    stops = run.read_csv("stop_predictions.csv")
    stop_predictions = []
    if stops is not None and len(stops):
        stops = stops[stops["round"].astype(int) < start]
        stop_predictions = [g["prediction"].astype(int).to_numpy()
                            for _, g in stops.groupby(stops["round"].astype(int), sort=True)]
    name = "probabilities-before.parquet" if redo else "probabilities.parquet"
    logger.info("resuming %s at round %d (%d rounds saved)", run.path, start, last + 1)
    models = run.path / "models"
    if models.is_dir():  # folders of the stopped process; this run refits from its state
        for folder in models.glob("fit-*"):
            shutil.rmtree(folder, ignore_errors=True)
    return _State(annotations=run.read_annotations(rows, labels, upto_round=start),
                  history=history[:start], queries=[queries] if len(queries) else [],
                  stop_predictions=stop_predictions,
                  known_probs=run.read_probabilities(name, rows, len(classes)), start=start)


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


def _remember(known, rows_u, probs_u, rows_l, probs_l) -> pd.DataFrame:
    """Update the latest out-of-sample probabilities of each row."""
    parts = [known]
    if len(rows_u):
        parts.append(pd.DataFrame(probs_u, index=pd.Index(rows_u), dtype=np.float32))
    parts.append(pd.DataFrame(probs_l, index=pd.Index(rows_l), dtype=np.float32))
    merged = pd.concat([p for p in parts if len(p)])
    return merged[~merged.index.duplicated(keep="last")]


def _sorted(values) -> list:
    try:
        return sorted(values)
    except TypeError:  # mixed types
        return sorted(values, key=str)


def _split_test(data, label, known, test, test_size, seed) -> pd.Index:
    if test is not None:
        rows = _rows(data, test, "test")
        unknown = rows[~known.loc[rows].to_numpy()]
        if len(unknown):
            raise ValueError(f"Test rows need labels; these have none: {format_examples(unknown)}.")
        return rows
    if test_size == 0:
        return pd.Index([])
    rng = np.random.default_rng([seed, _SPLIT])
    held = []
    for _, group in data.index[known.to_numpy()].to_series().groupby(data.loc[known, label].to_numpy()):
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
        rng = np.random.default_rng([seed, _INIT])
        chosen = set()
        for c in classes:
            rows = pool.index[known.to_numpy() & (pool[label] == c).to_numpy()]
            chosen.update(rows[rng.permutation(len(rows))[:per_class]].tolist())
        rows = pd.Index([i for i in pool.index if i in chosen])
    else:
        rows = _rows(pool, init, "init")
        unknown = rows[~known.loc[rows].to_numpy()]
        if len(unknown):
            raise ValueError(f"Initial rows need labels; these have none: {format_examples(unknown)}.")
    seen = pool.loc[rows, label].unique()
    if len(seen) < 2:
        raise ValueError(f"The initial labeled set must hold at least 2 classes; it holds "
                         f"{_sorted(seen)}.")
    return rows


def _annotate(oracle, rows, round_, classes, pool_index, annotations) -> pd.DataFrame:
    """Ask the oracle about ``rows``; its answer is validated before anything is kept."""
    answers = ann.validate(oracle(rows, annotations), annotations, classes=classes,
                           rows=pool_index)
    return answers.assign(round=round_)


def _can_relabel(oracle, annotations, rows) -> np.ndarray:
    """Labeled rows the oracle can give another label for."""
    if callable(getattr(oracle, "can_relabel", None)):
        return np.asarray(oracle.can_relabel(rows, annotations), dtype=bool)
    names = getattr(oracle, "annotators", None)
    if not names:
        return np.zeros(len(rows), dtype=bool)
    mine = annotations[annotations["annotator"].isin(names)]
    done = mine.groupby("row")["annotator"].nunique().reindex(rows, fill_value=0)
    return done.to_numpy() < len(set(names))


def _metrics(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"accuracy": accuracy_score(y_true, y_pred),
                "balanced_accuracy": balanced_accuracy_score(y_true, y_pred)}


def _history_frame(rows) -> pd.DataFrame:
    first = ["round", "n_labeled", "n_annotations", "n_queried", "n_relabeled",
             "n_relabel_requests", "accuracy", "balanced_accuracy", "consensus_accuracy",
             "fit_seconds",
             "predict_seconds", "score_seconds"]
    frame = pd.DataFrame(rows)
    return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]


def _save(run: RunDir, state: _State, known_before, stop_rows, model) -> None:
    """Write the round's tables, then ``state.json`` last (see :mod:`autoal.rundir`)."""
    write_csv(run.path / "history.csv", _history_frame(state.history))
    write_csv(run.path / "queries.csv", pd.concat([_EMPTY_PICKS, *state.queries],
                                                  ignore_index=True))
    write_csv(run.path / "annotations.csv", state.annotations)
    run.write_probabilities("probabilities.parquet", state.known_probs)
    run.write_probabilities("probabilities-before.parquet", known_before)
    if stop_rows is not None:
        write_csv(run.path / "stop_predictions.csv", pd.concat([
            pd.DataFrame({"round": r, "row": stop_rows, "prediction": p})
            for r, p in enumerate(state.stop_predictions)]))
    path = getattr(model, "path", None)
    run.write_state({"round": state.history[-1]["round"],
                     "predictor": os.path.relpath(path, run.path) if path else None})
