"""The run directory: what a run or a labeling project keeps on disk.

One folder a person can read, in plain formats::

    autoal.json          settings, class list, data fingerprint, format version
    state.json           the last round written in full: its number, its probability
                         files and its predictor's folder
    annotations.csv      every label given: row, annotator, label, round (+ time)
    queries.csv          every pick: round, row, kind (new or relabel), score, guess,
                         confidence
    history.csv          one line of metrics per round
    stop_predictions.csv the stop set's predicted classes per round (StablePredictions)
    probabilities/       round-NNN.parquet: the latest out-of-sample probabilities per
                         row after round NNN (this round's and the one before are kept)
    models/              round-NNN: AutoGluon's folder (only the current round's is kept)

Every file is written to a temporary name and renamed, so a crash at any moment
leaves the previous version whole. A round's files are a unit: ``state.json`` is
written last, and names the probability files it goes with; lines of the other
tables from rounds after the one it names are never read (answers to the round's
queue carry the next round's number and count from the moment they are stored).
Files carry a format version (:data:`FORMAT_VERSION`), checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

#: Version of the layout above; a run directory from another layout is refused.
FORMAT_VERSION = 2
CONFIG, STATE = "autoal.json", "state.json"


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write then rename, so a crash never leaves a half-written table."""
    with _atomic(path, "w", newline="") as f:
        table.to_csv(f, index=False)


def write_json(path: Path, value) -> None:
    """Write JSON atomically (see :func:`write_csv`)."""
    with _atomic(path, "w") as f:
        json.dump(value, f, indent=2, default=_plain)
        f.write("\n")


def write_parquet(path: Path, table: pd.DataFrame) -> None:
    """Write Parquet atomically (see :func:`write_csv`)."""
    with _atomic(path, "wb") as f:
        table.to_parquet(f, index=False)


class _atomic:
    def __init__(self, path, mode, **kwargs):
        self.path = Path(path)
        self.mode, self.kwargs = mode, kwargs

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The mode a plain open() gives (the process umask applies), under a fresh name.
        for _ in range(100):
            self.tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(6)}.tmp"
            try:
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 random names taken
            raise FileExistsError(f"Could not create a temporary file beside {self.path}.")
        self.file = os.fdopen(fd, self.mode, **self.kwargs)
        return self.file

    def __exit__(self, kind, *_):
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
        finally:
            self.file.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)


def _plain(value):
    """JSON for numpy scalars and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def fingerprint(df: pd.DataFrame) -> str:
    """A hash of a DataFrame's row labels, column names and values."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in df.columns]).encode())
    digest.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:20]


class Decoder:
    """Turns values read back from CSV (strings) into the row labels and classes they were."""

    def __init__(self, values, what: str):
        self.what = what
        self.lookup = {str(v): v for v in values}

    def get(self, value, default=None):
        """The value whose text is ``str(value)``, or ``default``."""
        return self.lookup.get(str(value), default)

    def __call__(self, values) -> list:
        out, unknown = [], []
        for v in values:
            key = str(v)
            if key not in self.lookup:
                unknown.append(key)
            out.append(self.lookup.get(key))
        if unknown:
            raise ValueError(f"The run directory names {self.what} the data does not have: "
                             f"{unknown[:5]}. Was it made from other data?")
        return out


class RunDir:
    """A run directory at ``path`` (see the module docstring for its files)."""

    def __init__(self, path):
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / CONFIG).is_file()

    def create(self, config: dict) -> dict:
        from . import __version__

        config = {"format_version": FORMAT_VERSION, "autoal_version": __version__, **config}
        write_json(self.path / CONFIG, config)
        return config

    def config(self) -> dict:
        """The configuration, after checking the format version."""
        path = self.path / CONFIG
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} is not an autoal run directory (no {CONFIG}).")
        config = json.loads(path.read_text())
        version = config.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {version!r}; this autoal reads format "
                f"{FORMAT_VERSION}. Upgrade autoal to open it.")
        if version < FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {version}, from an older autoal whose rounds were "
                f"saved in another layout; this autoal reads format {FORMAT_VERSION}. Its "
                f"labels are in {self.path / 'annotations.csv'} (row, annotator, label): start "
                f"a new run directory from them (for a project: 'autoal init' on your data with "
                f"those labels filled in), or finish the run with the autoal that made it.")
        return config

    def check(self, config: dict, keys) -> dict:
        """Compare the stored configuration with ``config`` on ``keys``; raise on a difference."""
        stored = self.config()
        fresh = json.loads(json.dumps(config, default=_plain))
        changed = [f"{k}: stored {stored.get(k)!r}, now {fresh.get(k)!r}" for k in keys
                   if stored.get(k) != fresh.get(k)]
        if changed:
            raise ValueError(
                f"The run directory {self.path} was started with other settings, so it cannot "
                f"resume with these ({'; '.join(changed)}). Use the same settings, or a new "
                f"workdir.")
        return stored

    def lock(self, name: str = "run", timeout: float = 0):
        """An inter-process lock on this directory; ``timeout=0`` fails at once if held."""
        from filelock import FileLock

        self.path.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path / f".{name}.lock"), timeout=timeout)

    def state(self) -> dict:
        """The last round written in full (``{"round": -1}`` before the first)."""
        path = self.path / STATE
        return json.loads(path.read_text()) if path.is_file() else {"round": -1}

    def write_state(self, state: dict) -> None:
        write_json(self.path / STATE, state)

    def read_csv(self, name: str, upto_round=None) -> pd.DataFrame | None:
        """A table as strings (blank cells stay ''), or None if it does not exist yet;
        with ``upto_round``, only its lines of that round and before."""
        path = self.path / name
        if not path.is_file():
            return None
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if upto_round is not None:
            table = table[table["round"].astype(int) <= upto_round].reset_index(drop=True)
        return table

    def read_annotations(self, rows: Decoder, labels: Decoder, upto_round=None) -> pd.DataFrame:
        from . import annotations as ann

        table = self.read_csv("annotations.csv")
        if table is None or table.empty:
            return ann.empty()
        table["round"] = table["round"].astype(int)
        if upto_round is not None:
            table = table[table["round"] <= upto_round]
        table = table.assign(row=rows(table["row"]), label=labels(table["label"]))
        return table.reset_index(drop=True)

    def read_probabilities(self, name, rows: Decoder, k: int) -> pd.DataFrame:
        """Probabilities saved by :meth:`write_probabilities` (empty if ``name`` is None)."""
        path = self.path / name if name else None
        if path is None or not path.is_file():
            return pd.DataFrame(columns=range(k), dtype=np.float32)
        table = pd.read_parquet(path)
        values = table.drop(columns=["row"]).to_numpy(dtype=np.float32)
        return pd.DataFrame(values, index=pd.Index(rows(table["row"])), columns=range(k))

    def write_probabilities(self, name: str, probs: pd.DataFrame) -> None:
        table = pd.DataFrame(probs.to_numpy(dtype=np.float32),
                             columns=[str(c) for c in probs.columns])
        table.insert(0, "row", [str(r) for r in probs.index])
        write_parquet(self.path / name, table)
