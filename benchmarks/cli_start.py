"""How fast the ``autoal`` command answers when it does no model work.

    uv run python benchmarks/cli_start.py [--reps 7]

Target: ``autoal --help`` and ``autoal status DIR`` answer in under 1 s on 2 CPU cores
(before: ``autoal --help`` took 8.5 s, all of it imports: pandas, AutoGluon, torch,
cleanlab).

Each command runs ``--reps`` times in a fresh process (``subprocess``), so the figures
include the interpreter's start; wall time, median / min / max. Commands: the
virtual environment's ``autoal`` entry point (beside this Python), ``uv run --offline
autoal`` when ``uv`` is on PATH (uv's own start and lock check included), and for
scale ``python -c pass`` and ``python -c "import pandas"``. ``status`` reads a small
run directory written here by hand in the layout :mod:`autoal.rundir` describes
(500 rows, 2 rounds of answers); no model is fitted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_run_dir(path: Path, rows: int = 500, batch: int = 20) -> None:
    """A project after two rounds, its third queue half answered."""
    classes = ["cat", "dog", "bird"]
    path.mkdir(parents=True)
    (path / "autoal.json").write_text(json.dumps({
        "format_version": 2, "kind": "project", "label": "label", "classes": classes,
        "data": {"source": None, "rows": rows, "fingerprint": "0" * 20}}))
    (path / "state.json").write_text(json.dumps({"round": 2}))
    annotations = [(r, "given", classes[r % 3], 0) for r in range(30)]
    queries = []
    for round_ in range(3):
        queue = range(30 + round_ * batch, 30 + (round_ + 1) * batch)
        queries += [(round_, r, "new", 0.1, classes[r % 3], 0.6) for r in queue]
        answered = queue if round_ < 2 else list(queue)[: batch // 2]
        annotations += [(r, "ana", classes[r % 3], round_ + 1) for r in answered]
    tables = {
        "annotations.csv": (["row", "annotator", "label", "round"], annotations),
        "queries.csv": (["round", "row", "kind", "score", "guess", "confidence"], queries),
        "history.csv": (["round", "n_labeled", "oof_accuracy"],
                        [(0, 30, 0.61), (1, 50, 0.72), (2, 70, 0.80)]),
    }
    for name, (header, lines) in tables.items():
        with open(path / name, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(lines)


def timed(command: list[str], reps: int, env: dict) -> list[float]:
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args(argv)

    python = Path(sys.executable)
    autoal = python.parent / "autoal"
    if not autoal.is_file():
        raise SystemExit(f"No autoal entry point beside {python}; run it with the project's "
                         f"virtual environment (uv run python benchmarks/cli_start.py).")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "project"
        write_run_dir(run_dir)
        commands = {
            "python -c pass": [str(python), "-c", "pass"],
            "python -c 'import pandas'": [str(python), "-c", "import pandas"],
            "autoal --help": [str(autoal), "--help"],
            "autoal status DIR": [str(autoal), "status", str(run_dir)],
        }
        uv = shutil.which("uv")
        if uv:
            commands["uv run --offline autoal --help"] = [uv, "run", "--offline", "autoal",
                                                          "--help"]
            commands["uv run --offline autoal status DIR"] = [
                uv, "run", "--offline", "autoal", "status", str(run_dir)]
        print(f"os.cpu_count() = {os.cpu_count()}; {args.reps} runs each, wall seconds "
              f"(fresh process per run)")
        print(f"{'command':<38} {'median':>7} {'min':>7} {'max':>7}")
        for name, command in commands.items():
            seconds = timed(command, args.reps, env)
            print(f"{name:<38} {statistics.median(seconds):7.3f} {min(seconds):7.3f} "
                  f"{max(seconds):7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
