"""From a pile with no labels at all to predictions, as a new user goes: ``autoal init``
with ``--classes``, ``autoal label`` (a real server process), two people labeling in a
real browser while the rounds run on their own, then ``autoal train`` and ``autoal
predict``. Nobody runs ``autoal next``.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from autoal.project import Project

from conftest import make_blobs_frame
from test_web import browser, sign_in  # noqa: F401  (the fixture, shared with test_web)

#: The command line, as installed beside this Python.
AUTOAL = str(Path(sys.executable).parent / "autoal")
CLASSES = ["class_0", "class_1", "class_2"]
BATCH = 6


def autoal(*args, cwd):
    """Run the CLI as a user would; its output."""
    done = subprocess.run([AUTOAL, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_page(run, cwd):
    """``autoal label`` in its own process; ``(process, url)``."""
    process = subprocess.Popen(
        [AUTOAL, "label", str(run), "--port", "0", "--batch",
         str(BATCH)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        # Ctrl+C must reach it even when these tests run as a background job, whose shell
        # starts them with SIGINT ignored (an ignored signal stays ignored across exec).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stdout:
        found = re.search(r"Labeling page: (http://\S+/)", line)
        if found:
            # Keep reading what it prints, or a full pipe would stop the server.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, found.group(1)
    raise AssertionError(f"autoal label did not start (exit code {process.wait()}).")


@pytest.mark.slow
def test_zero_labels_to_predictions_without_the_shell(browser, tmp_path):
    from playwright.sync_api import expect

    data = make_blobs_frame(n_per_class=20, seed=4)
    truth = data["label"].copy()
    data.assign(label=None).iloc[:54].to_csv(tmp_path / "pool.csv", index=False)
    new_rows = data.drop(columns=["label"]).iloc[54:]
    new_rows.to_csv(tmp_path / "new.csv", index=False)

    out = autoal("init", "pool.csv", "--workdir", "run", "--classes", *CLASSES, cwd=tmp_path)
    assert "0 labeled" in out
    process, url = start_page(tmp_path / "run", tmp_path)
    try:
        pages = {name: sign_in(browser, url, name) for name in ("ana", "ben")}
        # No labels: the first rows are picked without a model, and the page says so.
        expect(pages["ana"].locator("#guess")).to_contain_text("No model yet",
                                                               timeout=60_000)
        seen = {name: [] for name in pages}
        together = 0  # moments both were shown an item: never the same one
        deadline = time.monotonic() + 480
        while Project(tmp_path / "run").round < 3:  # three batches answered, a fourth queued
            assert time.monotonic() < deadline, "the batches did not come on their own"
            shown = {}
            for name, page in pages.items():
                row = page.locator("#item").get_attribute("data-row")
                if page.locator("#item").is_visible() and row:
                    shown[name] = row
            if len(shown) == 2:
                together += 1
                assert shown["ana"] != shown["ben"]
            for name, row in shown.items():
                if seen[name][-1:] != [row]:
                    seen[name].append(row)
                    key = str(CLASSES.index(truth.iloc[int(row)]) + 1)
                    pages[name].keyboard.press(key)
            time.sleep(0.3)
        assert together > 0 and seen["ana"] and seen["ben"]
        for page in pages.values():  # the fourth batch is on the page, with the model's guesses
            expect(page.locator("#guess")).to_contain_text("The model's guess", timeout=60_000)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C: a round being fitted is saved first
        assert process.wait(timeout=300) == 0

    project = Project(tmp_path / "run")
    notes = project.annotations
    # Each next batch was picked once `refill` (1 here) or fewer rows of the one before were
    # open; a row still unanswered when the next batch replaced it is no longer asked for,
    # so each batch may lose one (two did on a loaded machine).
    assert len(notes) >= 3 * (BATCH - max(1, BATCH // 4))
    assert notes.groupby("row").size().max() == 1  # nobody labeled a row twice
    history = project.session.history
    assert history["model"].iloc[0] == "none" and history["oof_accuracy"].notna().iloc[-1]
    status = autoal("status", "run", cwd=tmp_path)
    assert "No model yet" not in status

    autoal("train", "run", "--time-limit", "60", cwd=tmp_path)
    autoal("predict", "run", "new.csv", "--out", "predictions.csv", cwd=tmp_path)
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert len(predictions) == len(new_rows)
    assert set(predictions["prediction"]) <= set(CLASSES)
    accuracy = (predictions["prediction"].to_numpy() == truth.iloc[54:].to_numpy()).mean()
    assert accuracy >= 0.8, accuracy  # separable blobs, ~20 labels
