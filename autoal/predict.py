"""Predicting a big pool: chunk by chunk in this process, or spread over a Ray cluster.

Which function to use:

- :func:`predict_pool`: a model's probabilities for pool rows, ``(n, K)`` in the
  class order given (what the engine scores each round).
- :func:`strategy_inputs`: the extra inputs a strategy asks for by its ``needs``
  (committee members, fold samples, row features), from the model's optional methods.
- :func:`align_proba`: one ``predict_proba`` result as an ``(n, K)`` array in a class order.

Both predicting functions go through one chunking helper: models see ``chunk_size``
rows at a time, so the pool is never copied whole; for :func:`predict_pool` in
process, memory grows by one chunk's copy plus the ``(n, K)`` float32 result. With
``ray_address`` the chunks go through Ray Data (``map_batches`` tasks; each worker
loads the model once); see :func:`init_ray` for the addresses it takes.

On a cluster, workers must reach what the model reads: an AutoGluon-backed model
(one with ``predictor`` and ``path``, as :class:`autoal.learners.TabularModel`) is
loaded from ``path`` on each worker, so ``path`` (the loop's ``workdir``) must be on
storage every node mounts at the same place. Any other model is pickled and sent.
"""

from __future__ import annotations

import copy
import logging
import warnings

import numpy as np
import pandas as pd

from ._checks import check_int
from .strategies import NEEDS

logger = logging.getLogger(__name__)

_POSITION = "__autoal_position__"


def align_proba(proba, classes) -> np.ndarray:
    """Probabilities as an ``(n, K)`` float array in the order of ``classes``.

    A DataFrame's columns are matched by class label; classes it lacks get zeros;
    rows are renormalised to sum to one. An array must already have ``K`` columns.
    """
    if isinstance(proba, pd.DataFrame):
        extra = [c for c in proba.columns if c not in set(classes)]
        if extra:
            raise ValueError(f"The model predicted classes the loop does not know: {extra[:5]}.")
        values = proba.reindex(columns=list(classes), fill_value=0.0).to_numpy(dtype=float)
    else:
        values = np.asarray(proba, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(classes):
            raise ValueError(
                f"predict_proba must return a DataFrame with class columns, or an array of shape "
                f"(n, {len(classes)}). Got shape {values.shape}."
            )
    totals = values.sum(axis=1, keepdims=True)
    uniform = np.full_like(values, 1.0 / max(len(classes), 1))
    return np.where(totals > 0, values / np.where(totals > 0, totals, 1.0), uniform)


def _chunks(features: pd.DataFrame, rows, chunk_size: int, *, name: str, owner: str):
    """``(start, frame)`` for each run of ``chunk_size`` of ``rows`` (labels of the index
    of ``features``, in this order): the one place the pool is copied, a chunk at a time.

    Unknown rows are an error naming the parameter ``name`` of ``owner``, raised here,
    before the first chunk is asked for.
    """
    positions = features.index.get_indexer(pd.Index(rows))
    if (positions < 0).any():
        raise ValueError(f"The {name!r} parameter of {owner} names rows that are not in "
                         f"'features'.")
    return ((start, features.iloc[positions[start : start + chunk_size]])
            for start in range(0, len(positions), chunk_size))


def predict_pool(model, features: pd.DataFrame, rows: pd.Index, classes, *,
                 chunk_size: int = 100_000, ray_address=None,
                 progress: bool = True) -> np.ndarray:
    """Probabilities of ``model`` for ``rows`` of ``features``, shape ``(len(rows), K)``.

    Parameters
    ----------
    model : has ``predict_proba(df) -> DataFrame`` with one column per class.
    features : the feature columns of the pool (no label column); ``rows`` are
        labels of its index.
    rows : the rows to predict, in the order of the result.
    classes : the loop's class list: the result's columns, in this order (classes
        the model has not seen get zeros; see :func:`align_proba`).
    chunk_size : rows per ``predict_proba`` call (and per Ray batch).
    ray_address : None to predict in this process; else a Ray address
        (``"local"``, ``"auto"``, ``"ray://host:10001"``), see :func:`init_ray`.
    progress : show a progress bar when there is more than one chunk.

    Returns a float32 array; each row sums to one.
    """
    chunk_size = check_int("chunk_size", chunk_size, minimum=1, owner="predict_pool")
    chunks = _chunks(features, rows, chunk_size, name="rows", owner="predict_pool")
    out = np.empty((len(rows), len(classes)), dtype=np.float32)
    if len(rows) == 0:
        return out
    if ray_address is not None:
        return _predict_on_ray(model, features, chunks, chunk_size, classes, ray_address, out)
    from tqdm.auto import tqdm

    with tqdm(total=len(rows), desc="predicting", unit="row",
              disable=not progress or len(rows) <= chunk_size) as bar:
        for start, chunk in chunks:
            out[start : start + len(chunk)] = align_proba(model.predict_proba(chunk), classes)
            bar.update(len(chunk))
    return out


def init_ray(address) -> None:
    """Connect to Ray: ``"local"`` starts a local instance (2 CPUs, no dashboard); any
    other address (``"auto"``: the cluster this machine belongs to, ``"ray://host:10001"``:
    a remote one through Ray Client) goes to ``ray.init(address=...)``. A process already
    connected stays connected to what it has."""
    try:
        import ray
    except ImportError as error:  # pragma: no cover - Ray comes with AutoGluon
        raise ImportError("The 'ray_address' parameter needs Ray: pip install 'ray[data]'.") \
            from error
    if ray.is_initialized():
        return
    if address == "local":
        ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
                 log_to_driver=False)
    else:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)


def _portable(model):
    """What a worker needs to rebuild ``model``: AutoGluon-backed models travel without
    their predictor, which each worker loads from ``model.path``."""
    predictor = getattr(model, "predictor", None)
    path = getattr(model, "path", None)
    if predictor is None or path is None or not callable(getattr(type(predictor), "load", None)):
        return model, None, None
    light = copy.copy(model)
    light.predictor = None
    if hasattr(light, "oof_proba"):
        light.oof_proba = None  # the labeled pool's probabilities: not needed to predict
    return light, type(predictor), str(path)


# Per Ray worker process: the last model (or embedder) it fetched, by object ref. Ray
# Data tasks reuse warm worker processes, so each loads a round's model once; actors
# would start new processes every call, ~13 s each on 2 cores even for a no-op.
_ON_WORKER: dict = {}


def on_worker(ref_box: list, setup=None):
    """The object behind ``ref_box[0]`` (a ``ray.ObjectRef`` in a list, so Ray does not
    resolve it for us), fetched and passed through ``setup`` once per worker process."""
    import ray

    key = ref_box[0].hex()
    if key not in _ON_WORKER:
        _ON_WORKER.clear()
        value = ray.get(ref_box[0])
        _ON_WORKER[key] = setup(value) if setup else value
    return _ON_WORKER[key]


def _predict_batch(batch: pd.DataFrame, model_box, predictor_type, path, columns,
                   classes) -> dict:
    """Ray Data task: one batch of pool rows to ``position`` and float32 ``proba``."""

    def load(model):
        if predictor_type is not None:
            model.predictor = predictor_type.load(path)
        return model

    model = on_worker(model_box, load)
    positions = batch.pop(_POSITION).to_numpy()
    batch.columns = columns  # Arrow wants string names; give the model its own back
    proba = align_proba(model.predict_proba(batch), classes).astype(np.float32)
    return {"position": positions, "proba": proba}


def _predict_on_ray(model, features, chunks, chunk_size, classes, address, out):
    import ray
    import ray.data

    init_ray(address)
    light, predictor_type, path = _portable(model)
    try:
        model_ref = ray.put(light)
    except Exception as error:  # pickling fails with many exception types
        raise TypeError(f"The model cannot be sent to Ray workers ({error}). Use an "
                        f"AutoGluon-backed learner, or a model that pickles.") from error
    columns = list(features.columns)
    refs = []
    for start, chunk in chunks:  # one chunk copied at a time, then in Ray's object store
        chunk = chunk.set_axis([str(c) for c in columns], axis=1).reset_index(drop=True)
        chunk[_POSITION] = np.arange(start, start + len(chunk))
        refs.append(ray.put(chunk))
    dataset = ray.data.from_pandas_refs(refs).map_batches(
        _predict_batch, batch_size=chunk_size, batch_format="pandas", num_cpus=1,
        fn_args=([model_ref], predictor_type, path, columns, list(classes)))
    logger.info("Predicting %d rows on Ray in %d chunks", len(out), len(refs))
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        out[batch["position"]] = batch["proba"]
    return out


def strategy_inputs(strategy, *, model, features, unlabeled, labeled, classes, batch,
                    chunk_size=100_000, ray_address=None) -> dict:
    """Extra keyword arguments a strategy asks for by its ``needs`` attribute.

    Only what the strategy needs is computed; strategies without ``needs`` get nothing.

    - ``"batch"``: ``batch=``, the number of rows the round is about to pick.
    - ``"committee"``: ``committee=``, float32 ``(M, n, K)``: each committee member's
      probabilities for the ``unlabeled`` rows, from ``model.committee_proba(df)`` (a list
      of DataFrames with class columns, one per member).
    - ``"committee_labeled"``: ``committee_labeled=``, float32 ``(M, m, K)``: the same
      members' out-of-sample probabilities for the ``labeled`` rows, from
      ``model.committee_oof_proba()`` (a list of DataFrames indexed by training row).
    - ``"samples"``: ``samples=``, float32 ``(S, n, K)``: several stochastic or bagged
      models' probabilities for the ``unlabeled`` rows, from ``model.sample_proba(df)``.
    - ``"features"``: ``features_unlabeled=`` ``(n, d)`` and ``features_labeled=``
      ``(m, d)``, float32 numbers for the rows, from ``model.embed(df)``.

    A strategy's ``optional`` attribute lists inputs it uses when the model can give
    them and does without otherwise (:func:`autoal.strategies.auto` and ``"features"``).

    The tabular and embedding learners' model (:class:`autoal.learners.TabularModel`)
    has all four methods; a model without the one a strategy needs is an error naming
    both. ``features`` is the pool's feature DataFrame; ``unlabeled`` and ``labeled`` are
    labels of its index; probabilities are aligned to ``classes``
    (:func:`align_proba`). Models see ``chunk_size`` rows at a time, in this process
    (``ray_address`` is not used here). Rows not in ``features`` are an error naming
    ``unlabeled`` or ``labeled``.
    """
    chunk_size = check_int("chunk_size", chunk_size, minimum=1, owner="strategy_inputs")
    name = getattr(strategy, "__name__", "custom")
    needs = tuple(getattr(strategy, "needs", ()))
    unknown = [need for need in needs if need not in NEEDS]
    if unknown:
        raise ValueError(f"The 'needs' attribute of the {name!r} strategy must list only "
                         f"{sorted(NEEDS)}. Got {unknown}.")
    optional = tuple(getattr(strategy, "optional", ()))
    unknown = [need for need in optional if need not in NEEDS]
    if unknown:
        raise ValueError(f"The 'optional' attribute of the {name!r} strategy must list only "
                         f"{sorted(NEEDS)}. Got {unknown}.")
    needs += tuple(need for need in optional if need not in needs
                   and callable(getattr(model, _METHODS.get(need, ""), None)))
    extra = {}
    if "batch" in needs:
        extra["batch"] = batch
    if "committee" in needs:
        method = _model_method(model, "committee", name)
        extra["committee"] = _per_member(method, features, unlabeled, classes, chunk_size,
                                         "unlabeled")
        if 0 < len(extra["committee"]) < 2:
            warnings.warn(f"The {name!r} strategy's committee has one member: the model "
                          f"trained one model, so every row looks alike to it. Train more "
                          f"models (the learner's hyperparameters) for a real committee.",
                          UserWarning, stacklevel=2)
    if "committee_labeled" in needs:
        method = _model_method(model, "committee_labeled", name)
        extra["committee_labeled"] = _labeled_members(method(), labeled, classes)
    if "samples" in needs:
        method = _model_method(model, "samples", name)
        extra["samples"] = _per_member(method, features, unlabeled, classes, chunk_size,
                                       "unlabeled")
    if "features" in needs:
        method = _model_method(model, "features", name)
        extra["features_unlabeled"] = _embedded(method, features, unlabeled, chunk_size,
                                                "unlabeled")
        extra["features_labeled"] = _embedded(method, features, labeled, chunk_size, "labeled")
    return extra


#: The model method each input comes from.
_METHODS = {"committee": "committee_proba", "committee_labeled": "committee_oof_proba",
            "samples": "sample_proba", "features": "embed"}


def _model_method(model, need, strategy):
    method = _METHODS[need]
    found = getattr(model, method, None)
    if not callable(found):
        raise ValueError(
            f"The {strategy!r} strategy needs {need!r}, which comes from the model's "
            f"{method}() method, and {type(model).__name__} has none. Use a learner whose model "
            f"has it (TabularLearner, EmbeddingLearner) or a strategy without {need!r} in its "
            f"needs.")
    return found


def _per_member(method, features, rows, classes, chunk_size, name) -> np.ndarray:
    """``method(df)`` (one DataFrame per member) over ``rows`` in chunks: ``(M, n, K)``."""
    out = np.empty((0, len(rows), len(classes)), dtype=np.float32)
    for start, chunk in _chunks(features, rows, chunk_size, name=name, owner="strategy_inputs"):
        members = list(method(chunk))
        if start == 0:
            out = np.empty((len(members), len(rows), len(classes)), dtype=np.float32)
        if len(members) != len(out):
            raise ValueError(f"{method.__name__}() must give the same members for every chunk. "
                             f"Got {len(out)}, then {len(members)}.")
        for member, proba in enumerate(members):
            out[member, start : start + len(chunk)] = align_proba(proba, classes)
    return out


def _labeled_members(members, labeled, classes) -> np.ndarray:
    """Members' out-of-sample probabilities re-indexed to ``labeled``: ``(M, m, K)``."""
    out = np.empty((len(members), len(labeled), len(classes)), dtype=np.float32)
    for member, proba in enumerate(members):
        if isinstance(proba, pd.DataFrame):
            proba = proba.reindex(pd.Index(labeled))  # rows it lacks become uniform
        values = align_proba(proba, classes)
        if len(values) != len(labeled):
            raise ValueError(f"committee_oof_proba() must give one row per labeled row "
                             f"({len(labeled)}). Got {len(values)}.")
        out[member] = values
    return out


def _embedded(embed, features, rows, chunk_size, name) -> np.ndarray:
    """``embed(df)`` over ``rows`` in chunks: ``(n, d)`` float32."""
    parts = []
    for _, chunk in _chunks(features, rows, chunk_size, name=name, owner="strategy_inputs"):
        part = np.asarray(embed(chunk), dtype=np.float32)
        if part.ndim != 2 or len(part) != len(chunk):
            raise ValueError(f"embed(df) must return an array of shape (len(df), d). Got shape "
                             f"{part.shape} for {len(chunk)} rows.")
        parts.append(part)
    return np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.float32)
