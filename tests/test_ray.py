"""The Ray path gives what the in-process path gives: predictions, picks, embeddings."""

import socket

import numpy as np
import pytest

import autoal
from autoal.learners import TabularLearner
from autoal.predict import predict_pool

pytestmark = pytest.mark.slow


def _loopback_up() -> bool:
    """Ray's processes talk over 127.0.0.1; under ``unshare -n`` it is down until
    ``ip link set lo up``."""
    with socket.socket() as server:
        try:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            socket.create_connection(server.getsockname(), timeout=2).close()
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    if not _loopback_up():
        pytest.skip("Ray needs the loopback interface, which is down here "
                    "(in a network namespace: ip link set lo up).")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield "local"  # already connected: predict_pool keeps this instance
    ray.shutdown()


def test_predict_pool_on_ray_equals_in_process(blobs, ray_address, counting_learner):
    features = blobs.drop(columns=["label"])
    rows = features.index[::-1][:70]  # not the frame's order, several chunks
    classes = ["class_0", "class_1", "class_2", "unseen"]
    autogluon_model = TabularLearner(hyperparameters={"LR": {}}).fit(blobs.iloc[:24], "label")
    custom_model = counting_learner.fit(blobs.iloc[:24], "label")  # travels pickled
    for model in (autogluon_model, custom_model):
        here = predict_pool(model, features, rows, classes, chunk_size=25, progress=False)
        there = predict_pool(model, features, rows, classes, chunk_size=25,
                             ray_address=ray_address)
        assert there.dtype == np.float32 and there.shape == (70, 4)
        assert np.allclose(here, there, atol=1e-6)
        assert (there[:, 3] == 0).all()


def test_loop_on_ray_picks_what_it_picks_in_process(blobs, ray_address):
    runs = [autoal.loop(blobs, rounds=1, batch=6, init=2, learner="tabular", time_limit=60,
                        progress=False, ray_address=address)
            for address in (None, ray_address)]
    assert runs[0].queries.equals(runs[1].queries)
    assert np.allclose(runs[0].history["accuracy"], runs[1].history["accuracy"])


def test_text_embeddings_on_ray_equal_in_process(texts, ray_address, tmp_path, monkeypatch):
    from autoal.backbones import TextEmbedder

    vectors = []
    for address in (None, ray_address):  # a cache each, so both really embed
        monkeypatch.setenv("AUTOAL_CACHE", str(tmp_path / str(address)))
        embedder = TextEmbedder(batch_size=8, progress=False, ray_address=address)
        vectors.append(embedder(texts["text"]))
    assert vectors[1].shape == (len(texts), 384)
    assert np.allclose(vectors[0], vectors[1], atol=1e-5)
