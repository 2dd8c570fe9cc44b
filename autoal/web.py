"""A local web page to label a project's current queue (``autoal label DIR``).

:func:`serve` runs it until Ctrl+C; :func:`make_server` gives the server for you to
run (in a thread, in tests). Standard library only: one page, its CSS and JS inline,
nothing fetched from elsewhere. It serves on 127.0.0.1 (this machine) by default.

The page asks for the annotator's name (kept in the browser), then shows the queue's
items one at a time: the image, the text, or the row's values as a table, with the
model's guess. Keys: ``1``..``9`` then ``0`` answer with the first ten classes, ``s``
skips (for now: a skipped item comes back on reload), ``u`` or Backspace undoes your
latest answer. Every answer is stored as it is given through
:meth:`autoal.project.Project.record` (under the project's file lock, so several people,
pages or processes can answer at once); the page's progress comes from those stored
answers, so a reload or another tab shows the same.

JSON endpoints (errors answer ``{"error": message}`` with a 4xx status)::

    GET  /api/state?annotator=NAME   classes, round, items (one per queued row), answered
    POST /api/answer {row, label, annotator}   store one answer; 409 if NAME answered it
    POST /api/undo   {annotator}     withdraw NAME's latest answer to the current queue
    GET  /media/ROW                  the image of a row in the current queue (only those)

Rows travel as text (``str`` of the row id) and are mapped back to the data's ids.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import mimetypes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ._checks import check_int
from .project import GIVEN, Project

__all__ = ["make_server", "serve"]

logger = logging.getLogger(__name__)

#: Request bodies are a few names; anything larger is refused.
MAX_BODY = 64 * 1024


def serve(workdir, *, host: str = "127.0.0.1", port: int = 8765, ready=None) -> None:
    """Serve the labeling page for the project in ``workdir`` until interrupted.

    ``port=0`` picks a free port. ``ready``, if given, is called with the page's URL
    once the server listens (the URL is also logged).
    """
    server, url = make_server(workdir, host, port)
    logger.info("Labeling page: %s", url)
    try:
        if ready is not None:
            ready(url)
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("Labeling page stopped.")
    finally:
        server.server_close()


def make_server(workdir, host: str = "127.0.0.1", port: int = 8765):
    """The labeling server for the project in ``workdir``, listening but not yet serving.

    Returns ``(server, url)``; run ``server.serve_forever()`` (in a thread, say) and
    stop it with ``server.shutdown()`` then ``server.server_close()``.
    """
    port = check_int("port", port, minimum=0, owner="serve")
    if port > 65535:
        raise ValueError(f"The 'port' parameter of serve must be an int <= 65535. Got {port}.")
    labeling = _Labeling(Project(workdir))
    try:
        server = _Server((host, port), _Handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise OSError(error.errno, f"Port {port} on {host} is in use; pass another port "
                                       f"(--port), or 0 for any free one.") from error
        raise
    server.labeling = labeling
    bound_host, bound_port = server.server_address[:2]
    return server, f"http://{bound_host}:{bound_port}/"


class _Refused(Exception):
    """A request the page answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Labeling:
    """What the endpoints do, over one :class:`~autoal.project.Project`."""

    def __init__(self, project: Project):
        self.project = project
        self.show_kind = project.show_kind()

    def state(self, annotator: str) -> dict:
        project = self.project
        queue = project.queue()
        notes = project.annotations
        mine = notes[(notes["round"] == project.round + 1) & (notes["annotator"] == annotator)]
        labels = {str(r): str(c) for r, c in zip(mine["row"], mine["label"])}
        items = [{"row": str(line.row), "kind": line.kind, "show_kind": self.show_kind,
                  "show": self._show(line.row, line.show), "guess": str(line.guess),
                  "confidence": _number(line.confidence), "answers": int(line.answers),
                  "answered_by_me": str(line.row) in labels, "my_label": labels.get(str(line.row))}
                 for line in queue.itertuples(index=False)]
        return {"classes": [str(c) for c in project.classes], "round": project.round,
                "annotator": annotator, "items": items,
                "answered": sum(item["answered_by_me"] for item in items),
                "mine": [{"row": r, "label": c} for r, c in labels.items()]}

    def answer(self, body: dict) -> dict:
        annotator = _annotator(body)
        row = self._row(body.get("row"))
        label = body.get("label")
        classes = [str(c) for c in self.project.classes]
        if not isinstance(label, str) or label not in classes:
            raise _Refused(400, f"The 'label' must be one of {classes}. Got {label!r}.")
        try:
            self.project.record(row, label, annotator)
        except ValueError as error:
            mine = self.state(annotator)["items"]
            twice = any(item["row"] == str(row) and item["answered_by_me"] for item in mine)
            raise _Refused(409 if twice else 400, str(error)) from error
        logger.debug("%s answered row %s: %s", annotator, row, label)
        return {"stored": {"row": str(row), "label": label}, "state": self.state(annotator)}

    def undo(self, body: dict) -> dict:
        annotator = _annotator(body)
        removed = self.project.undo(annotator)
        undone = None if removed is None else {"row": str(removed["row"]),
                                                "label": str(removed["label"])}
        return {"undone": undone, "state": self.state(annotator)}

    def media(self, text: str):
        """The image file of a queued row, or a 404 for anything else."""
        row = self.project.row_id(text)
        if row is None or row not in set(self.project.queue()["row"]):
            raise _Refused(404, f"Row {text!r} is not in the current queue.")
        path = self.project.media(row)
        if path is None or not path.is_file():
            raise _Refused(404, f"Row {text!r} has no image file to show.")
        return path

    def _row(self, value):  # membership of the queue is checked by Project.record
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _Refused(400, f"The 'row' must be a row id (text). Got {value!r}.")
        row = self.project.row_id(value)
        if row is None:
            raise _Refused(400, f"Row {str(value)!r} does not exist in this project.")
        return row

    def _show(self, row, show):
        if self.show_kind == "image":
            return f"/media/{quote(str(row), safe='')}"
        if self.show_kind == "values":
            try:
                return json.loads(show)
            except (TypeError, ValueError):
                return {"value": show}
        return show


def _annotator(body: dict) -> str:
    name = body.get("annotator")
    if not isinstance(name, str) or not name.strip():
        raise _Refused(400, "Say who is answering: the 'annotator' name must be a non-blank "
                            f"text. Got {name!r}.")
    name = name.strip()
    if name == GIVEN:
        raise _Refused(400, f"The name {GIVEN!r} is kept for the labels the data came with; "
                            f"pick another.")
    return name


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    labeling: _Labeling


class _Handler(BaseHTTPRequestHandler):
    server_version = "autoal"

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        labeling = self.server.labeling
        routes = {"/": "GET", "/index.html": "GET", "/api/state": "GET",
                  "/api/answer": "POST", "/api/undo": "POST"}
        try:
            if url.path.startswith("/media/") and method == "GET":
                path = labeling.media(unquote(url.path[len("/media/"):]))
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._send(200, path.read_bytes(), kind, cache="private, max-age=600")
                return
            if url.path not in routes:
                raise _Refused(404, f"No such page: {url.path}")
            if routes[url.path] != method:
                raise _Refused(405, f"{url.path} takes {routes[url.path]} requests.")
            if url.path in ("/", "/index.html"):
                self._send(200, PAGE.encode(), "text/html; charset=utf-8")
                return
            if url.path == "/api/state":
                name = parse_qs(url.query).get("annotator", [""])[0].strip()
                result = labeling.state(name)
            elif url.path == "/api/answer":
                result = labeling.answer(self._body())
            else:
                result = labeling.undo(self._body())
            self._json(200, result)
        except _Refused as refused:
            self._json(refused.status, {"error": str(refused)})
        except Exception as error:  # one bad request must never stop the page for others
            logger.exception("The labeling page failed on %s %s", method, self.path)
            self._json(500, {"error": f"The server failed: {type(error).__name__}: {error}"})

    def _body(self) -> dict:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        if kind != "application/json":
            raise _Refused(415, f"Send JSON (Content-Type: application/json). Got {kind!r}.")
        try:
            size = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise _Refused(400, "The Content-Length header must be a number.") from None
        if not 0 <= size <= MAX_BODY:
            raise _Refused(413, f"A request body may hold at most {MAX_BODY} bytes.")
        try:
            body = json.loads(self.rfile.read(size) or b"null")
        except ValueError:
            raise _Refused(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _Refused(400, "The request body must be a JSON object.")
        return body

    def _json(self, status: int, value) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # the default writes every request to stderr
        logger.debug("%s %s", self.address_string(), format % args)


PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autoal: labeling</title>
<style>
  body { font: 16px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f4; }
  header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1em;
           background: #fff; border-bottom: 1px solid #ddd; }
  header b { font-size: 1.1em; }
  #progress { margin-left: auto; font-variant-numeric: tabular-nums; }
  main, form { max-width: 52em; margin: 1.2em auto; padding: 0 1em; }
  input { font: inherit; padding: .4em; }
  button { font: inherit; padding: .45em .9em; border: 1px solid #bbb; border-radius: 6px;
           background: #fff; cursor: pointer; }
  button:hover { background: #eef3ff; }
  kbd { font: .8em ui-monospace, monospace; padding: 0 .35em; border: 1px solid #aaa;
        border-radius: 3px; background: #f3f3f3; margin-right: .35em; }
  #error { background: #fde8e8; border: 1px solid #e0a0a0; padding: .5em .8em;
           border-radius: 6px; margin-bottom: 1em; }
  #note { color: #555; min-height: 1.4em; }
  #meta, #guess { color: #555; }
  #show { margin: .6em 0; padding: 1em; background: #fff; border: 1px solid #ddd;
          border-radius: 8px; text-align: center; }
  #show img { max-width: 100%; max-height: 60vh; min-width: 128px; min-height: 128px;
              object-fit: contain; }
  #show blockquote { margin: 0; text-align: left; white-space: pre-wrap; font-size: 1.1em; }
  #show table { margin: 0 auto; border-collapse: collapse; text-align: left; }
  #show th, #show td { padding: .2em .8em; border-bottom: 1px solid #eee; }
  #buttons, #controls { display: flex; flex-wrap: wrap; gap: .5em; margin: .8em 0; }
  #done { font-size: 1.15em; padding: 1em; background: #e9f7ec; border-radius: 8px; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header><b>autoal</b><span id="who"></span><span id="progress"></span></header>
<form id="login" hidden>
  <p><label for="name">Your name, so your answers are kept apart from other people's:</label></p>
  <p><input id="name" autocomplete="name" required>
     <button type="submit">Start labeling</button></p>
</form>
<main id="work" hidden>
  <div id="error" role="alert" hidden></div>
  <div id="done" hidden></div>
  <section id="item" hidden>
    <div id="meta"></div>
    <div id="show"></div>
    <div id="guess"></div>
    <div id="buttons"></div>
    <div id="controls">
      <button id="skip" type="button"><kbd>s</kbd>Skip</button>
      <button id="undo" type="button"><kbd>u</kbd>Undo my last answer</button>
    </div>
  </section>
  <p id="note"></p>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const KEYS = "1234567890";
const STORE = "autoal.annotator";
let me = localStorage.getItem(STORE) || "";
let state = null, current = null, busy = false;
const skipped = new Set();

async function call(method, path, body) {
  const options = {method, headers: {}};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data;
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function item(row) { return state.items.find((i) => i.row === row) || null; }

function nextRow(after) {
  const items = state.items, n = items.length;
  const start = after === null ? 0 : items.findIndex((i) => i.row === after) + 1;
  for (let k = 0; k < n; k++) {
    const candidate = items[(start + k) % n];
    if (!candidate.answered_by_me && !skipped.has(candidate.row)) return candidate.row;
  }
  return null;
}

function login() {
  $("login").hidden = false;
  $("work").hidden = true;
  $("name").value = me;
  $("name").focus();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  me = name;
  localStorage.setItem(STORE, me);
  $("login").hidden = true;
  $("work").hidden = false;
  skipped.clear();
  current = null;
  load();
});

async function load() {
  $("who").textContent = "";
  const who = document.createElement("span");
  who.textContent = `Labeling as ${me} `;
  const change = document.createElement("a");
  change.href = "#";
  change.textContent = "(change)";
  change.addEventListener("click", (event) => { event.preventDefault(); login(); });
  $("who").append(who, change);
  try {
    state = await call("GET", "/api/state?annotator=" + encodeURIComponent(me));
    render();
  } catch (error) {
    showError(error.message);
  }
}

function render() {
  const total = state.items.length;
  $("progress").textContent = `${state.answered} / ${total} answered by you`;
  if (current !== null && (!item(current) || item(current).answered_by_me)) {
    current = nextRow(current);
  }
  if (current === null) current = nextRow(null);
  const last = state.mine[state.mine.length - 1];
  $("note").textContent =
    last ? `Your last answer: row ${last.row} \u2192 ${last.label} (u undoes it).` : "";
  if (current === null) {
    $("item").hidden = true;
    $("done").hidden = false;
    $("done").textContent = "";
    if (total === 0) {
      $("done").textContent = "No queue to label yet: make one with 'autoal next'.";
    } else if (skipped.size && state.answered < total) {
      $("done").append(`You skipped ${total - state.answered} item(s) and answered the rest. `);
      const back = document.createElement("button");
      back.type = "button";
      back.textContent = "Show the skipped ones";
      back.addEventListener("click", () => { skipped.clear(); render(); });
      $("done").append(back);
    } else {
      $("done").textContent = `Done: you answered all ${total} items of this batch. Thank you!`;
    }
    return;
  }
  $("done").hidden = true;
  $("item").hidden = false;
  showItem(item(current));
}

function showItem(it) {
  $("item").dataset.row = it.row;
  const answers = it.answers ? ` \u00b7 ${it.answers} answer(s) so far from others` : "";
  const relabel = it.kind === "relabel" ? " \u00b7 a second opinion is asked" : "";
  $("meta").textContent = `Row ${it.row}${relabel}${answers}`;
  const show = $("show");
  show.replaceChildren();
  if (it.show_kind === "image") {
    const img = document.createElement("img");
    img.src = it.show;
    img.alt = `image of row ${it.row}`;
    show.append(img);
  } else if (it.show_kind === "text") {
    const quote = document.createElement("blockquote");
    quote.textContent = it.show;
    show.append(quote);
  } else {
    const table = document.createElement("table");
    for (const [name, value] of Object.entries(it.show)) {
      const tr = table.insertRow();
      const th = document.createElement("th");
      th.textContent = name;
      tr.append(th);
      tr.insertCell().textContent = value === null ? "\u2014" : String(value);
    }
    show.append(table);
  }
  const sure = it.confidence === null ? "" : ` (${Math.round(100 * it.confidence)}% sure)`;
  $("guess").textContent = `The model's guess: ${it.guess}${sure}`;
  const buttons = $("buttons");
  buttons.replaceChildren();
  state.classes.forEach((label, k) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.label = label;
    if (k < KEYS.length) {
      const key = document.createElement("kbd");
      key.textContent = KEYS[k];
      button.append(key);
    }
    button.append(label);
    button.addEventListener("click", () => answer(label));
    buttons.append(button);
  });
  const after = nextRow(it.row);  // fetch the next image while this one is looked at
  if (after !== null && after !== it.row && it.show_kind === "image") {
    new Image().src = item(after).show;
  }
}

async function send(path, body) {
  if (busy) return null;
  busy = true;
  try {
    const data = await call("POST", path, body);
    showError("");
    return data;
  } catch (error) {
    showError(error.message);
    try {  // show where things stand now (a new queue, an answer from another tab)
      state = await call("GET", "/api/state?annotator=" + encodeURIComponent(me));
      render();
    } catch (e) { /* the error shown already says enough */ }
    return null;
  } finally {
    busy = false;
  }
}

async function answer(label) {
  if (current === null) return;
  const data = await send("/api/answer", {row: current, label, annotator: me});
  if (data) { state = data.state; render(); }
}

function skip() {
  if (current === null) return;
  skipped.add(current);
  current = nextRow(current);
  render();
}

async function undo() {
  const data = await send("/api/undo", {annotator: me});
  if (!data) return;
  state = data.state;
  if (data.undone) {
    skipped.delete(data.undone.row);
    current = data.undone.row;
  } else {
    showError("Nothing to undo: you have no answers to this batch.");
  }
  render();
}

$("skip").addEventListener("click", skip);
$("undo").addEventListener("click", undo);
document.addEventListener("keydown", (event) => {
  if ($("work").hidden || !state || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLInputElement) return;
  const k = KEYS.indexOf(event.key);
  if (k >= 0 && k < state.classes.length && current !== null) {
    event.preventDefault();
    answer(state.classes[k]);
  } else if (event.key === "s") {
    event.preventDefault();
    skip();
  } else if (event.key === "u" || event.key === "Backspace") {
    event.preventDefault();
    undo();
  }
});

if (me) { $("work").hidden = false; load(); } else { login(); }
</script>
</body>
</html>
"""
