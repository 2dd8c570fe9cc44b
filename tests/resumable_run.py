"""A loop run in its own process, for the resume tests: ``python resumable_run.py WORKDIR
ROUNDS [KILL]``. ``KILL`` makes the process kill itself (SIGKILL, no clean-up):
``fit:N`` during the N-th fit, ``label:N`` while the N-th batch is being labeled,
``save:N`` just before the N-th state file is written, ``write:N`` just after the N-th
file of the run directory is written (renamed into place), ``inside:N`` inside the N-th
file's write (its data written to the temporary file, not yet renamed). With the
environment variable ``AUTOAL_TRACE=FILE`` each file written is listed in FILE, one
``N name`` per line."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))

import autoal  # noqa: E402
from autoal import oracles, rundir  # noqa: E402
from conftest import CountingLearner, make_blobs_frame  # noqa: E402


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class Learner(CountingLearner):
    """Dies in the ``KILL_AT``-th fit (a module setting, not one of the learner's, which a
    resumed run must share)."""

    def __init__(self):
        super().__init__(oof=True)

    def fit(self, data, label):
        if self.fits + 1 == KILL_AT:
            die()
        return super().fit(data, label)


def _on_call(owner, name, n, before=True):
    """Kill the process at the n-th call of ``owner.name`` (before or after it runs)."""
    original, calls = getattr(owner, name), []

    def wrapped(self, *args, **kwargs):
        calls.append(1)
        if before and len(calls) == n:
            die()
        out = original(self, *args, **kwargs)
        if not before and len(calls) == n:
            die()
        return out

    setattr(owner, name, wrapped)


def _trace_writes(path, kill_inside):
    exit_, count = rundir._atomic.__exit__, []

    def traced(self, kind, *rest):
        if kind is None:
            count.append(self.path)
            if path:
                with open(path, "a") as f:
                    f.write(f"{len(count)} {self.path.relative_to(WORKDIR)}\n")
            if len(count) == kill_inside:
                self.file.flush()
                die()
        return exit_(self, kind, *rest)

    rundir._atomic.__exit__ = traced


WORKDIR = None
KILL_AT = 0


def main(workdir, rounds, kill=""):
    global WORKDIR, KILL_AT
    WORKDIR = os.path.abspath(workdir)
    where, _, n = kill.partition(":")
    n = int(n or 0)
    KILL_AT = n if where == "fit" else 0
    annotators = autoal.SimulatedAnnotators([0.9, 0.75, 0.6], seed=3)
    if where == "label":
        _on_call(oracles._BoundAnnotators, "__call__", n)
    if where == "save":
        _on_call(rundir.RunDir, "write_state", n)
    _trace_writes(os.environ.get("AUTOAL_TRACE"), n if where == "inside" else 0)
    if where == "write":
        _on_call(rundir._atomic, "__exit__", n, before=False)
    df = make_blobs_frame(n_per_class=40, n_classes=3, seed=1)
    autoal.loop(df, rounds=int(rounds), batch=6, init=2, seed=5, progress=False,
                strategy="activelab",  # asks for second opinions early: CROWDLAB by round 4
                learner=Learner(), annotators=annotators,
                workdir=workdir)


if __name__ == "__main__":
    main(*sys.argv[1:])
