"""The run directory: what a run or a labeling project keeps on disk.

One folder a person can read, in plain formats::

    autoal.json          settings, class list, data fingerprint, format version
    state.json           the last round written in full: its number, its probability
                         files and its predictor's folder
    annotations.csv      every label given: row, annotator, label, round (+ time)
    excluded.csv         a project's rows taken out (no class fits, or not to be
                         labeled): row, annotator, round, time
    queries.csv          every pick: round, row, kind (new or relabel), score, guess,
                         confidence
    history.csv          one line of metrics per round
    stop_predictions.csv the stop set's predicted classes per round (StablePredictions)
    probabilities/       round-NNN.parquet: the latest out-of-sample probabilities per
                         row after round NNN (this round's and the one before are kept)
    models/              round-NNN: AutoGluon's folder (only the current round's is kept)
    final/               the final model, once trained (``autoal train``; see
                         :mod:`autoal.final`): final.json and AutoGluon's folder

Every file is written to a temporary name and renamed, so a crash at any moment
leaves the previous version whole. A round's files are a unit: ``state.json`` is
written last, and names the probability files it goes with; lines of the other
tables from rounds after the one it names are never read (answers to the round's
queue carry the next round's number and count from the moment they are stored).
Files carry a format version (:data:`FORMAT_VERSION`), checked on load. A file that
cannot be read as written is a :class:`~autoal._checks.DamagedRunDir` naming it and
the way back; :func:`check` verifies a whole run directory (``autoal check DIR`` runs
:func:`autoal.project.check`, which adds a project's own checks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ._checks import (FORMAT_VERSION, DamagedRunDir, damaged, format_examples, read_json,
                      state_round)

CONFIG, STATE = "autoal.json", "state.json"
#: A project's rows taken out (:meth:`autoal.session.Session.exclude`), and its columns.
EXCLUDED, EXCLUDED_COLUMNS = "excluded.csv", ["row", "annotator", "round", "time"]


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


def write_jsonl(path: Path, table: pd.DataFrame) -> None:
    """Write JSON Lines (one object per row, missing values as null) atomically (see
    :func:`write_csv`)."""
    with _atomic(path, "w", encoding="utf-8") as f:
        table.to_json(f, orient="records", lines=True, force_ascii=False, date_format="iso")


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

    def __init__(self, values, what: str, aliases=None):
        self.what = what
        self.lookup = {**{str(k): v for k, v in (aliases or {}).items()},
                       **{str(v): v for v in values}}

    def get(self, value, default=None):
        """The value whose text is ``str(value)``, or ``default``."""
        return self.lookup.get(str(value), default)

    def __call__(self, values, source=None) -> list:
        """The values decoded; a ``ValueError`` naming ``source`` (the file read) if some
        are not known."""
        out, unknown = [], []
        for v in values:
            key = str(v)
            if key not in self.lookup:
                unknown.append(key)
            out.append(self.lookup.get(key))
        if unknown and source is not None:
            raise damaged(source, f"it names {self.what} the data does not have "
                                  f"({format_examples(unknown)}): was it made from other data, "
                                  f"or edited by hand?")
        if unknown:
            raise ValueError(f"The run directory names {self.what} the data does not have: "
                             f"{format_examples(unknown)}. Was it made from other data?")
        return out


class RunDir:
    """A run directory at ``path`` (see the module docstring for its files)."""

    def __init__(self, path):
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / CONFIG).is_file()

    def check_folder(self, name: str = "workdir", owner: str = "loop") -> None:
        """Refuse a path where a folder cannot be: the path, or a folder above it, is a file."""
        for folder in (self.path, *self.path.parents):
            if folder.exists() or folder.is_symlink():
                if folder.is_dir():
                    return
                where = "which is a file" if folder == self.path else f"inside the file {folder}"
                raise ValueError(f"The '{name}' parameter of {owner} must be a folder's path. "
                                 f"Got {self.path}, {where}; pick another path.")

    def make(self) -> None:
        """Create the folder and check that files can be written in it; a clear
        ``PermissionError`` (and nothing left behind) when they cannot."""
        self.check_folder()
        created = not self.path.exists()
        probe = self.path / f".write-test.{secrets.token_hex(4)}.tmp"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            if created and self.path.is_dir():
                with contextlib.suppress(OSError):
                    self.path.rmdir()
            raise PermissionError(
                f"Cannot write the run directory {self.path}: {error.strerror or error}. A run "
                f"directory must be writable: pick a folder you can write to.") from None

    def create(self, config: dict) -> dict:
        from . import __version__

        left = [name for name in (STATE, "annotations.csv") if (self.path / name).exists()]
        if left:
            raise damaged(self.path / CONFIG, f"it is missing, though the folder holds a run's "
                                              f"files ({', '.join(left)})")
        self.make()
        config = {"format_version": FORMAT_VERSION, "autoal_version": __version__, **config}
        write_json(self.path / CONFIG, config)
        return config

    def config(self) -> dict:
        """The configuration, after checking the format version."""
        path = self.path / CONFIG
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} is not an autoal run directory (no {CONFIG}).")
        config = read_json(path)
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

        if not self.path.is_dir():
            self.make()
        return FileLock(str(self.path / f".{name}.lock"), timeout=timeout)

    def state(self) -> dict:
        """The last round written in full (``{"round": -1}`` before the first)."""
        path = self.path / STATE
        if not path.is_file():
            return {"round": -1}
        state = read_json(path)
        state_round(state, path)
        return state

    def write_state(self, state: dict) -> None:
        write_json(self.path / STATE, state)

    def read_csv(self, name: str, upto_round=None) -> pd.DataFrame | None:
        """A table as strings (blank cells stay ''), or None if it does not exist yet;
        with ``upto_round``, only its lines of that round and before."""
        path = self.path / name
        if not path.is_file():
            return None
        table = read_table_file(path)
        if upto_round is not None:
            table = table[table["round"].astype(int) <= upto_round].reset_index(drop=True)
        return table

    def read_annotations(self, rows: Decoder, labels: Decoder, upto_round=None) -> pd.DataFrame:
        from . import annotations as ann

        path = self.path / "annotations.csv"
        table = self.read_csv(path.name)
        if table is None or table.empty:
            return ann.empty()
        missing = [c for c in ("row", "annotator", "label") if c not in table.columns]
        if missing:
            raise damaged(path, f"it has no {', '.join(missing)} column "
                                f"(columns: {format_examples(table.columns)})")
        table["round"] = table["round"].astype(int)
        if upto_round is not None:
            table = table[table["round"] <= upto_round]
        table = table.assign(row=rows(table["row"], source=path),
                             label=labels(table["label"], source=path))
        return table.reset_index(drop=True)

    def read_probabilities(self, name, rows: Decoder, k: int, fewest=None) -> pd.DataFrame:
        """Probabilities saved by :meth:`write_probabilities` (empty if ``name`` is None).

        A file of ``fewest`` to ``k`` class columns (written before classes were added, as
        :meth:`autoal.Project.add_classes` records) gets zeros for the classes added."""
        path = self.path / name if name else None
        if path is None or not path.is_file():
            return pd.DataFrame(columns=range(k), dtype=np.float32)
        try:
            table = pd.read_parquet(path)
            values = table.drop(columns=["row"]).to_numpy(dtype=np.float32)
        except Exception as error:  # pyarrow raises many kinds for a damaged file
            raise damaged(path, f"it cannot be read as Parquet ({_first_line(error)})") from None
        if values.shape[1] != k:
            if fewest is None or not fewest <= values.shape[1] < k:
                raise damaged(path, f"it has {values.shape[1]} class columns; the run has {k} "
                                    f"classes")
            added = np.zeros((len(values), k - values.shape[1]), dtype=np.float32)
            values = np.hstack([values, added])
        return pd.DataFrame(values, index=pd.Index(rows(table["row"], source=path)),
                            columns=range(k))

    def write_probabilities(self, name: str, probs: pd.DataFrame) -> None:
        table = pd.DataFrame(probs.to_numpy(dtype=np.float32),
                             columns=[str(c) for c in probs.columns])
        table.insert(0, "row", [str(r) for r in probs.index])
        write_parquet(self.path / name, table)


def read_table_file(path) -> pd.DataFrame:
    """A run directory's CSV table as strings (blank cells stay ''), its ``round``
    column checked to be whole numbers; a :class:`~autoal._checks.DamagedRunDir`
    naming the file and the lines otherwise."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise damaged(path, "it is empty (0 bytes), without even its header line") from None
    except UnicodeDecodeError as error:
        raise damaged(path, f"it is not UTF-8 text (byte {error.start})") from None
    except pd.errors.ParserError as error:
        raise damaged(path, f"it cannot be read as CSV ({_first_line(error)})") from None
    if "round" not in table.columns:
        raise damaged(path, f"it has no 'round' column (columns: "
                            f"{format_examples(table.columns)})")
    bad = ~table["round"].str.fullmatch(r"\d+")
    if bad.any():
        lines = [int(i) + 2 for i in np.flatnonzero(bad.to_numpy())]  # line 1: the header
        raise damaged(path, f"{'line' if len(lines) == 1 else 'lines'} "
                            f"{format_examples(lines)} {'has' if len(lines) == 1 else 'have'} "
                            f"no round number (a whole number; got "
                            f"{format_examples(table.loc[bad, 'round'].unique())}), as a line "
                            f"cut short does")
    return table


def _first_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


# ---- autoal check ----------------------------------------------------------------------

#: Seconds after which a temporary file of a killed write is stale, whoever holds the run.
STALE_AFTER = 60.0


class Finding:
    """One line of :func:`check`'s report: ``level`` is ``"ok"``, ``"fixed"`` or
    ``"problem"``; ``text`` says what was found (and done)."""

    def __init__(self, level: str, text: str):
        self.level, self.text = level, text

    def __repr__(self) -> str:
        return f"Finding({self.level!r}, {self.text!r})"


def check(path, *, stale_after: float = STALE_AFTER, more=None) -> list[Finding]:
    """Verify the run directory at ``path`` and fix what is safe to fix.

    Checks that ``autoal.json`` and ``state.json`` are readable and of this format
    version; that the round ``state.json`` names is in ``history.csv`` with every round
    before it; that the probability files it names exist; that ``annotations.csv`` and
    the other tables are readable, with known classes and (for a labeling project) known
    rows; then, when all that is sound, for a labeling project ``more(found, run)``
    adds what it finds (:func:`autoal.project.check` passes the project's own checks:
    use that one for a project). Fixes: removes temporary files left by killed writes
    (``.*.tmp``: those older than ``stale_after`` seconds, or all of them when no
    process holds the run), and rebuilds an unreadable ``state.json`` from the tables
    and probability files when they allow it. Returns the findings; the run is healthy
    when none is a ``"problem"``.
    """
    run = RunDir(path)
    if not run.path.is_dir():
        what = "is a file" if run.path.exists() else "does not exist"
        return [Finding("problem", f"{run.path} {what}; a run directory is a folder.")]
    found = _remove_stale(run, stale_after)
    config = _checked(found, run.config)
    if config is not None:
        found.append(Finding("ok", f"{CONFIG}: format {config.get('format_version')}, "
                                   f"{config.get('kind', 'loop')} run, "
                                   f"{len(config.get('classes') or [])} classes."))
    tables = {name: _checked(found, run.read_csv, name)
              for name in ("history.csv", "queries.csv", "annotations.csv",
                           "stop_predictions.csv", EXCLUDED)}
    try:
        state = run.state()
        missing_state(run, state, tables["history.csv"])
    except DamagedRunDir as error:
        state = _rebuild_state(run, tables["history.csv"])
        if state is None:
            found.append(Finding("problem", f"{error} The tables and probability files do "
                                            f"not allow a rebuild."))
            return found
        run.write_state(state)
        found.append(Finding("fixed", f"{STATE} was damaged; rebuilt it from history.csv and "
                                      f"probabilities/: round {state['round']}."))
    _check_rounds(found, run, state, tables)
    if config is not None and tables["annotations.csv"] is not None:
        _check_annotations(found, run, config, tables["annotations.csv"], state["round"])
    if more is not None and config is not None and config.get("kind") == "project" \
            and not any(f.level == "problem" for f in found):
        more(found, run)
    if not any(f.level == "problem" for f in found):
        found.append(Finding("ok", f"{run.path} is healthy (round {state['round']})."))
    return found


def _checked(found, read, *args):
    try:
        return read(*args)
    except (DamagedRunDir, FileNotFoundError, ValueError) as error:
        found.append(Finding("problem", str(error)))
        return None


def _remove_stale(run: RunDir, stale_after: float) -> list[Finding]:
    files = [*run.path.glob(".*.tmp"), *(run.path / "probabilities").glob(".*.tmp")]
    if not files:
        return []
    free, now, removed, kept = _nobody_holds(run), time.time(), [], []
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            if free or now - file.stat().st_mtime > stale_after:
                file.unlink()
                removed.append(file.name)
            else:
                kept.append(file.name)
    out = []
    if removed:
        out.append(Finding("fixed", f"removed {len(removed)} temporary files left by killed "
                                    f"writes ({format_examples(removed)})."))
    if kept:
        out.append(Finding("ok", f"kept {len(kept)} temporary files younger than "
                                 f"{stale_after:g} s: another process is writing the run."))
    return out


def _nobody_holds(run: RunDir) -> bool:
    """Whether no process holds the run or its annotations (their locks are free)."""
    from filelock import FileLock, Timeout

    held = []
    try:
        for name in ("run", "annotations"):
            lock = FileLock(str(run.path / f".{name}.lock"), timeout=0)
            lock.acquire()
            held.append(lock)
        return True
    except (Timeout, OSError):
        return False
    finally:
        for lock in held:
            lock.release()


def _rounds(table) -> set:
    return set(table["round"].astype(int)) if table is not None and len(table) else set()


def missing_state(run: RunDir, state: dict, history) -> None:
    """Raise if ``state.json`` is missing (round -1) though ``history`` holds rounds after
    the first: a crash leaves that only for round 0, so the file was deleted."""
    later = [r for r in _rounds(history) if r >= 1]
    if int(state["round"]) < 0 and later:
        raise damaged(run.path / STATE, f"it is missing, though history.csv holds rounds up to "
                                        f"{max(later)}")


def _rebuild_state(run: RunDir, history) -> dict | None:
    """The last round whose files are all there: its history line and every one before,
    and its probability file (written just before ``state.json``); None if there is none."""
    done = _rounds(history)
    for r in sorted(done, reverse=True):
        name = f"probabilities/round-{r:03d}.parquet"
        if (run.path / name).is_file() and done >= set(range(r + 1)):
            before = f"probabilities/round-{r - 1:03d}.parquet"
            model = f"models/round-{r:03d}"
            return {"round": r, "probabilities": name,
                    "probabilities_before": before if (run.path / before).is_file() else None,
                    "predictor": model if (run.path / model).is_dir() else None}
    return None


def _check_rounds(found, run: RunDir, state: dict, tables: dict) -> None:
    last = int(state["round"])
    history = tables["history.csv"]
    done = _rounds(history)
    if last >= 0:
        missing = sorted(set(range(last + 1)) - done)
        if history is None:
            found.append(Finding("problem", f"{STATE} says round {last} was written in full, "
                                            f"but history.csv is missing. Restore it from a "
                                            f"backup, or start a new run directory from the "
                                            f"labels in annotations.csv."))
        elif missing:
            found.append(Finding("problem", f"{STATE} says round {last} was written in full, "
                                            f"but history.csv lacks rounds "
                                            f"{format_examples(missing)}. Restore the tables "
                                            f"from a backup, or start a new run directory "
                                            f"from the labels in annotations.csv."))
    for key in ("probabilities", "probabilities_before"):
        name = state.get(key)
        if name and not (run.path / name).is_file():
            found.append(Finding("problem", f"{STATE} names {name}, which is missing. Restore "
                                            f"it from a backup, or remove '{key}' from "
                                            f"{STATE} to go on without it (consensus labels "
                                            f"may then differ from an unbroken run's)."))


def _check_annotations(found, run: RunDir, config: dict, table, last: int) -> None:
    path = run.path / "annotations.csv"
    missing = [c for c in ("row", "annotator", "label") if c not in table.columns]
    if missing:
        found.append(Finding("problem", str(damaged(path, f"it has no {', '.join(missing)} "
                                                          f"column"))))
        return
    classes = {str(c) for c in config.get("classes") or []}
    bad = table.loc[~table["label"].isin(classes | set(config.get("renamed") or {})), "label"]
    if len(bad):
        found.append(Finding("problem", str(damaged(
            path, f"{len(bad)} lines have labels that are not classes "
                  f"({format_examples(bad.unique())}; classes: "
                  f"{format_examples(sorted(classes))})"))))
    blank = table["annotator"].str.strip() == ""
    if blank.any():
        found.append(Finding("problem", str(damaged(path, f"{int(blank.sum())} lines have a "
                                                          f"blank annotator"))))
    data = run.path / "data.parquet"
    if config.get("kind") == "project" and data.is_file():
        try:
            known = {str(r) for r in pd.read_parquet(data, columns=["_row"])["_row"]}
        except Exception as error:  # pyarrow raises many kinds for a damaged file
            found.append(Finding("problem", str(damaged(data, f"it cannot be read as Parquet "
                                                              f"({_first_line(error)})"))))
        else:
            stray = table.loc[~table["row"].isin(known), "row"]
            if len(stray):
                found.append(Finding("problem", str(damaged(
                    path, f"{len(stray)} lines name rows the data does not have "
                          f"({format_examples(stray.unique())})"))))
    later = table["round"].astype(int) > last + 1
    if later.any():
        found.append(Finding("problem", f"{path} has {int(later.sum())} lines of rounds after "
                                        f"{last + 1}, which the run does not read ({STATE} "
                                        f"names round {last}): restore {STATE} from a backup."))
    if not any(f.level == "problem" and str(path) in f.text for f in found):
        found.append(Finding("ok", f"annotations.csv: {len(table)} labels of "
                                   f"{table['row'].nunique()} rows."))
