"""Predicting a big pool: chunk by chunk in this process, or spread over a Ray cluster.

:func:`predict_pool` is what the loop calls each round. In process it predicts
``chunk_size`` rows at a time, so the pool is never copied whole: memory grows by
one chunk's copy plus the ``(n, K)`` float32 result. With ``ray_address`` the chunks
go through Ray Data (``map_batches`` tasks; each worker loads the model once);
see :func:`init_ray` for the addresses it takes.

On a cluster, workers must reach what the model reads: an AutoGluon-backed model
(one with ``predictor`` and ``path``, as :class:`autoal.learners.TabularModel`) is
loaded from ``path`` on each worker, so ``path`` (the loop's ``workdir``) must be on
storage every node mounts at the same place. Any other model is pickled and sent.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pandas as pd

from ._checks import check_int
from .learners import align_proba

logger = logging.getLogger(__name__)

_POSITION = "__autoal_position__"


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
        the model has not seen get zeros; see :func:`autoal.learners.align_proba`).
    chunk_size : rows per ``predict_proba`` call (and per Ray batch).
    ray_address : None to predict in this process; else a Ray address
        (``"local"``, ``"auto"``, ``"ray://host:10001"``), see :func:`init_ray`.
    progress : show a progress bar when there is more than one chunk.

    Returns a float32 array; each row sums to one.
    """
    chunk_size = check_int("chunk_size", chunk_size, minimum=1, owner="predict_pool")
    positions = features.index.get_indexer(pd.Index(rows))
    if (positions < 0).any():
        raise ValueError("The 'rows' parameter of predict_pool names rows that are not in "
                         "'features'.")
    out = np.empty((len(positions), len(classes)), dtype=np.float32)
    if len(positions) == 0:
        return out
    starts = range(0, len(positions), chunk_size)
    if ray_address is not None:
        return _predict_on_ray(model, features, positions, starts, chunk_size, classes,
                               ray_address, out)
    from tqdm.auto import tqdm

    with tqdm(total=len(positions), desc="predicting", unit="row",
              disable=not progress or len(starts) == 1) as bar:
        for start in starts:
            chunk = features.iloc[positions[start : start + chunk_size]]
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


def _predict_on_ray(model, features, positions, starts, chunk_size, classes, address, out):
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
    for start in starts:  # one chunk copied at a time, then it lives in Ray's object store
        chunk = features.iloc[positions[start : start + chunk_size]]
        chunk = chunk.set_axis([str(c) for c in columns], axis=1).reset_index(drop=True)
        chunk[_POSITION] = np.arange(start, start + len(chunk))
        refs.append(ray.put(chunk))
    dataset = ray.data.from_pandas_refs(refs).map_batches(
        _predict_batch, batch_size=chunk_size, batch_format="pandas", num_cpus=1,
        fn_args=([model_ref], predictor_type, path, columns, list(classes)))
    logger.info("Predicting %d rows on Ray in %d chunks", len(positions), len(refs))
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        out[batch["position"]] = batch["proba"]
    return out
