"""How long a labeler waits between batches on the labeling page.

    uv run python benchmarks/labeling_latency.py [--batch 20] [--batches 4] [--think 3]

Target: under 1 s from the last answer of a batch to the first item of the next, when
the next round is ready (the round was fitted in the background while the batch's last
rows were being labeled).

A project is made from scikit-learn's wine table (178 rows, 3 classes) with **no
labels** (``--classes``), served by :func:`autoal.web.make_server` in this process with
the default learner (AutoGluon Tabular). One simulated labeler works through it over
HTTP as the page does: ask for the state, look at the item for ``--think`` seconds,
answer it with the true class; with nothing to label, ask again every second (the
page's own interval while it waits). Each batch boundary gives one wait: from sending
the answer to the last item of round r to the first state that holds an item of round
r + 1 (the answer's own reply, when that round is ready). Two settings, each on a fresh
project:

- **background** (the default): the next round starts when a quarter of the batch is
  left (``refill = batch // 4``), while the labeler answers those rows;
- **after the batch**: ``refill=0``, the next round starts only once the batch is all
  answered, so the labeler waits for the whole fit.

The first boundary follows the cold-start round (no model, picked in well under a
second); its wait is the first real fit. Prints each wait, the median and the worst
per setting, the same over the boundaries where the next round was ready when the last
answer was sent (its reply held the next item), the fit seconds of each round, and the
machine's core count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url, body=None, cookie=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if cookie:
        headers["Cookie"] = cookie
    with OPENER.open(urllib.request.Request(url, data=data, headers=headers),
                     timeout=600) as response:
        return json.loads(response.read()), response.headers.get("Set-Cookie")


def run(folder: Path, *, batch: int, batches: int, think: float, refill) -> dict:
    import pandas as pd
    from sklearn.datasets import load_wine

    from autoal.project import Project
    from autoal.web import make_server

    x, y = load_wine(return_X_y=True, as_frame=True)
    names = ["barolo", "grignolino", "barbera"]
    truth = [names[k] for k in y]
    Project.init(x.assign(label=None), folder / "run", classes=names)
    server, url = make_server(folder / "run", port=0, batch=batch, refill=refill)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, cookie = call(url + "api/login", {"name": "ana"})
        cookie = cookie.split(";")[0]
        waits, ready, last_answer, round_, polled = [], [], None, None, False
        state, _ = call(url + "api/state", cookie=cookie)
        while True:
            if state["items"]:
                if state["round"] != round_:
                    if last_answer is not None:
                        waits.append(time.perf_counter() - last_answer)
                        ready.append(not polled)  # the answer's own reply held the next item
                        print(f"  round {state['round']}: waited {waits[-1]:6.3f} s"
                              f"{' (ready at the last answer)' if ready[-1] else ''}",
                              flush=True)
                    round_ = state["round"]
                    if len(waits) == batches:
                        break
                item = state["items"][0]
                time.sleep(think)
                last_answer, polled = time.perf_counter(), False  # the answer is sent now
                state, _ = call(url + "api/answer", {"row": item["row"],
                                                     "label": truth[int(item["row"])]},
                                cookie=cookie)
                state = state["state"]
            else:
                polled = True
                if state["phase"] not in ("fitting", "waiting"):
                    raise RuntimeError(f"Stuck: {state['phase']}: {state['message']}")
                time.sleep(1.0)
                state, _ = call(url + "api/state", cookie=cookie)
        history = pd.read_csv(folder / "run" / "history.csv")
        return {"waits": waits, "ready": ready,
                "fit_seconds": history["fit_seconds"].round(1).tolist()}
    finally:
        server.shutdown()
        server.server_close()
        server.labeling.dispatcher.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--batches", type=int, default=4, help="batch boundaries measured")
    parser.add_argument("--think", type=float, default=3.0, help="seconds per item")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"{os.cpu_count()} CPU cores; batch {args.batch}, {args.think} s per item, "
          f"{args.batches} batch boundaries per setting")
    results = {}
    for name, refill in (("background", None), ("after the batch", 0)):
        print(f"{name}:", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            results[name] = run(Path(folder), batch=args.batch, batches=args.batches,
                                think=args.think, refill=refill)
    print(f"\n{'setting':<16} {'median wait':>12} {'worst wait':>11} {'when ready':>18}   "
          f"waits (s); fit s per round")
    for name, result in results.items():
        waits = result["waits"]
        when_ready = [w for w, r in zip(waits, result["ready"]) if r]
        shown = (f"{statistics.median(when_ready):.3f}/{max(when_ready):.3f} s"
                 if when_ready else "never ready")
        print(f"{name:<16} {statistics.median(waits):>10.2f} s {max(waits):>9.2f} s "
              f"{shown:>18}   {[round(w, 2) for w in waits]}; {result['fit_seconds']}")


if __name__ == "__main__":
    main()
