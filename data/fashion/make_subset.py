"""Rebuild data/fashion from Debian's dataset-fashion-mnist package.

    apt-get install dataset-fashion-mnist
    python data/fashion/make_subset.py

Takes the first PER_CLASS images of each class from the Fashion-MNIST training
set (IDX files in /usr/share/datasets/fashion-mnist/), writes them as PNG files
under images/<class>/ and lists them in labels.csv (label, image_path).
"""

import csv
import gzip
import struct
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = Path("/usr/share/datasets/fashion-mnist")
PER_CLASS = 300
CLASSES = [
    "tshirt_top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        magic = f.read(4)
        ndim = magic[3]
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


def main():
    here = Path(__file__).resolve().parent
    images = read_idx(SOURCE / "train-images-idx3-ubyte.gz")
    labels = read_idx(SOURCE / "train-labels-idx1-ubyte.gz")
    rows = []
    for k, name in enumerate(CLASSES):
        (here / "images" / name).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(labels == k)[:PER_CLASS]:
            rel = f"images/{name}/{i:05d}.png"
            Image.fromarray(images[i]).save(here / rel, optimize=True)
            rows.append((int(i), name, rel))
    rows.sort()  # keep the source order, so classes are interleaved
    with open(here / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "image_path"])
        writer.writerows((name, rel) for _, name, rel in rows)


if __name__ == "__main__":
    main()
