"""A loop run in its own process, for the resume tests: ``python resumable_run.py WORKDIR
ROUNDS [KILL]``. ``KILL`` makes the process kill itself (SIGKILL, no clean-up):
``fit:N`` during the N-th fit, ``label:N`` while the N-th batch is being labeled,
``save:N`` after the N-th round's tables are written but before its state file."""

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
    def __init__(self, kill_at):
        super().__init__(oof=True)
        self.kill_at = kill_at

    def fit(self, data, label):
        if self.fits + 1 == self.kill_at:
            die()
        return super().fit(data, label)


def main(workdir, rounds, kill=""):
    where, _, n = kill.partition(":")
    n = int(n or 0)
    annotators = autoal.SimulatedAnnotators([0.95, 0.8, 0.7], seed=3)
    if where == "label":
        label, calls = oracles._BoundAnnotators.__call__, []

        def label_or_die(self, rows, annotations):
            calls.append(1)
            if len(calls) == n:
                die()
            return label(self, rows, annotations)

        oracles._BoundAnnotators.__call__ = label_or_die
    if where == "save":
        write_state, saved = rundir.RunDir.write_state, []

        def write_state_or_die(self, state):
            saved.append(1)
            if len(saved) == n:
                die()
            write_state(self, state)

        rundir.RunDir.write_state = write_state_or_die
    df = make_blobs_frame(n_per_class=40, n_classes=3, seed=1)
    autoal.loop(df, rounds=int(rounds), batch=6, init=2, seed=5, progress=False,
                learner=Learner(n if where == "fit" else 0), annotators=annotators,
                workdir=workdir)


if __name__ == "__main__":
    main(*sys.argv[1:])
