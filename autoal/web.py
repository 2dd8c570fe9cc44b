"""A local web page to label a project's current queue (``autoal label DIR``).

:func:`serve` runs it until Ctrl+C; :func:`make_server` gives the server for you to
run (in a thread, in tests); :func:`sign_in_links` makes a sign-in link per person.
Standard library only: one page with its own script and style sheet, nothing fetched
from elsewhere. It serves on 127.0.0.1 (this machine) by default.

**Who answers.** Each labeler signs in once: the page asks their name and
``POST /api/login`` gives that browser a random session cookie (``HttpOnly``,
``SameSite=Strict``); the run directory's ``labelers.json`` keeps a hash of it with the
name, so a restart keeps people signed in (delete the file to sign everyone out).
Answers and undo go under the session's name, never one a request carries; undo
withdraws only one's own answers; the state shows only one's own answers. A name is one
person's: a name another session holds, or one with answers stored already (imported
from a file, say), is refused at sign-in; that person opens their own link instead
(``autoal label DIR --labelers NAME`` prints one). ``trust_names=True``
(``--trust-names``, for one person on their own machine) also takes the name a request
gives (``annotator`` in the body, ``?annotator=`` on the state), as pages used to.

**Who is answered.** Only requests whose ``Host`` is the address it serves (for a
loopback address also ``localhost``) or one of ``allow_hosts``: 421 otherwise, so a
site whose name re-resolves to this machine (DNS rebinding) is refused. A POST whose
``Origin`` is not the page's own gets 403. Every response carries a
Content-Security-Policy (for the page: script and style from its own files only, no
framing; for the rest: no script at all, ``sandbox``), ``nosniff`` and ``no-referrer``.
``/media`` sends only files inside the project's data root (:attr:`Project.data_root`,
symlinks followed) that open as PNG, JPEG, GIF, WebP or BMP, typed by what they hold. A
connection gets one of :data:`WORKERS` threads only once its request starts to arrive;
one that sends nothing, or not its whole request, within :data:`READ_TIMEOUT` seconds
is closed, and at most :data:`MAX_CONNECTIONS` are open at once.

The page shows one item at a time: the image (scaled up to fill the space, tiny ones
with crisp pixels), the text, or the row's values as a table, with the model's guess
highlighted. Keys: ``1``..``9`` then ``0`` answer with the first ten classes, Enter
accepts the guess, ``s`` skips (for this batch; the page offers the skipped ones again
at the end), ``x`` excludes the item (no class fits it, or it should not be labeled: it
leaves the project, see :meth:`autoal.project.Project.exclude`), ``u`` or Backspace
undoes your latest answer (or exclusion) and shows that item again. Under the item, the
page lists your latest :data:`EARLIER` answers of earlier rounds: picking one shows it
again, and a class then replaces that answer (:meth:`autoal.project.Project.import_answers`
with ``correct=True``); Esc goes back to the batch.
Every answer is stored as it is given through :meth:`autoal.project.Project.record`
(under the project's file lock, so several people, pages or processes can answer at
once).

**Who labels what, and when** (:class:`autoal.dispatch.Dispatcher`): each labeler holds
the few rows they are shown under a lease, so people working at once get different rows
and a closed tab gives its rows back; a second opinion goes to someone who has not
labeled the row. When the batch runs low, the next round is fitted in the background
(``auto_next``), and the page moves to it on its own, saying meanwhile that a model is
being fitted, or that a stop rule fired, or that the pool ran out.

Endpoints (errors answer ``{"error": message}`` with a 4xx status; those marked * answer
401 without a session)::

    GET  /?token=T                   a sign-in link: sets the session cookie, shows the page
    GET  /api/me                     {name (null before signing in), trust_names}
    POST /api/login  {name}          sign in; 409 if the name is someone else's
    GET  /api/state               *  classes, round, items (the rows you hold, the one to
                                     show first), your answers, your latest answers to
                                     earlier queues (earlier), batch {size, left}, phase
                                     and message (why there is no item), model (why there
                                     is no model yet, or null)
    POST /api/answer {row, label} *  store one answer; 409 if you answered it already
    POST /api/undo   {}           *  withdraw your latest answer to the current queue (or
                                     your exclusion just made)
    POST /api/correct {row, label} * replace your answer to a row of an earlier queue
    POST /api/exclude {row}       *  take a row of the current queue out of the project
    POST /api/skip   {row}        *  pass on a row for this batch ({again: true}: take
                                     back the rows you skipped)
    GET  /media/ROW               *  the image of a row in the current queue, or of one
                                     you answered (only those)

Rows travel as text (``str`` of the row id) and are mapped back to the data's ids.
"""

from __future__ import annotations

import errno
import hashlib
import io
import ipaddress
import json
import logging
import math
import queue
import secrets
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit, urlunsplit

import pandas as pd

from ._checks import check_int, short
from .dispatch import LEASE, Dispatcher, open_rows
from .project import GIVEN, Project
from .rundir import RunDir, write_json

__all__ = ["make_server", "serve", "sign_in_links"]

logger = logging.getLogger(__name__)

#: Request bodies are a few names; anything larger is refused.
MAX_BODY = 64 * 1024
#: Image files larger than this are not served.
MAX_MEDIA = 64 * 1024 * 1024
#: Seconds a client has to start its request, then again to send all of it.
READ_TIMEOUT = 10.0
#: Seconds a client has to take each part of a response.
WRITE_TIMEOUT = 30.0
#: Threads that answer requests; connections beyond them wait their turn.
WORKERS = 16
#: Connections open at once (waiting, queued or answered); more are closed at once.
MAX_CONNECTIONS = 128
#: The image formats ``/media`` sends (PIL's names), with the type they are sent as.
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif",
               "WEBP": "image/webp", "BMP": "image/bmp"}
#: The run directory's file of sessions: a hash of each token, with its name.
LABELERS = "labelers.json"
#: Earlier answers the page offers to correct (each labeler's latest).
EARLIER = 20
#: Longest name a labeler may give.
MAX_NAME = 80
#: Session cookies last this many seconds (a year): signing in is once per browser.
COOKIE_AGE = 365 * 24 * 3600
#: The page's Content-Security-Policy: script and style from its own files only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Everything else's (an image or JSON opened on its own): no script at all, in a
#: sandbox; inline style only for the browser's own image viewer.
OTHER_CSP = ("default-src 'self'; script-src 'none'; style-src 'unsafe-inline'; "
             "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'; sandbox")
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                    ("X-Frame-Options", "DENY"), ("Cross-Origin-Resource-Policy", "same-origin"),
                    ("Cross-Origin-Opener-Policy", "same-origin"))
_WILDCARDS = {"", "0.0.0.0", "::"}


def serve(workdir, *, host: str = "127.0.0.1", port: int = 8765, allow_hosts=(),
          trust_names: bool = False, ready=None, **rounds) -> None:
    """Serve the labeling page for the project in ``workdir`` until interrupted.

    ``port=0`` picks a free port. ``allow_hosts``, ``trust_names`` and the options of
    the rounds (``batch``, ``auto_next``, ``refill``, ``stop``, ``lease``): see
    :func:`make_server`. ``ready``, if given, is called with the page's URL once the
    server listens (the URL is also logged).
    """
    server, url = make_server(workdir, host, port, allow_hosts=allow_hosts,
                              trust_names=trust_names, **rounds)
    logger.info("Labeling page: %s", url)
    try:
        if ready is not None:
            ready(url)
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("Labeling page stopped.")
    finally:
        server.server_close()
        if server.labeling.dispatcher.fitting:
            logger.info("Waiting for the round being fitted to be saved (Ctrl+C again to "
                        "leave it: the next start fits it again).")
            server.labeling.dispatcher.wait()


def make_server(workdir, host: str = "127.0.0.1", port: int = 8765, *, allow_hosts=(),
                trust_names: bool = False, batch: int = 20, auto_next: bool = True,
                refill=None, stop=None, lease: float = LEASE):
    """The labeling server for the project in ``workdir``, listening but not yet serving.

    It answers requests addressed to ``host:port`` as bound (and ``localhost:port`` on a
    loopback address) or to one of ``allow_hosts``: the other names people reach it by,
    each ``NAME`` or ``NAME:PORT``. ``trust_names=True`` takes the annotator a request
    names, unchecked: only for one person on their own machine.

    Rounds (:class:`autoal.dispatch.Dispatcher`): with ``auto_next`` the next round of
    ``batch`` rows starts in the background once ``refill`` or fewer rows of the queue
    are left (the first at once, when there is no queue yet), checking the ``stop``
    rules; labelers hold the rows they are shown for ``lease`` seconds.

    Returns ``(server, url)``; run ``server.serve_forever()`` (in a thread, say) and
    stop it with ``server.shutdown()`` then ``server.server_close()``.
    """
    port = check_int("port", port, minimum=0, owner="serve")
    if port > 65535:
        raise ValueError(f"The 'port' parameter of serve must be an int <= 65535. Got {port}.")
    if isinstance(allow_hosts, str) or not all(isinstance(h, str) and h.strip()
                                               for h in allow_hosts):
        raise TypeError(f"The 'allow_hosts' parameter of serve must be a list of host names. "
                        f"Got {short(allow_hosts)}.")
    project = Project(workdir)
    project.check_images()  # a page of broken images would help nobody
    dispatcher = Dispatcher(project.path, batch=batch, auto_next=auto_next, refill=refill,
                            stop=stop, lease=lease)
    labeling = _Labeling(project, _Labelers(project.run), trust_names=bool(trust_names),
                         dispatcher=dispatcher)
    try:
        server = _Server((host, port), _Handler, _family(host))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise OSError(error.errno, f"Port {port} on {host} is in use; pass another port "
                                       f"(--port), or 0 for any free one.") from error
        raise
    bound_host, bound_port = server.server_address[:2]
    server.labeling = labeling
    server.hosts = _own_hosts(host, bound_host, bound_port, allow_hosts)
    server.origins = {f"http://{name}" for name in server.hosts}
    shown = _authority(bound_host, bound_port)
    if host in _WILDCARDS:  # 0.0.0.0 is no address to open: show a name it answers to
        shown = (_allowed(allow_hosts[0], bound_port) if allow_hosts
                 else f"localhost:{bound_port}")
        logger.info("Serving on every address: the page answers only to %s; name the others "
                    "people reach it by with --allow-host NAME.", ", ".join(sorted(server.hosts)))
    return server, f"http://{shown}/"


def sign_in_links(workdir, names, url) -> dict:
    """A sign-in link per name, for the page at ``url``: opening it signs that browser in
    under the name. Give each link to its person only. Links made before stay valid.

    Returns ``{name: link}``.
    """
    if isinstance(names, str):
        raise TypeError("The 'names' parameter of sign_in_links must be a list of names. "
                        f"Got the text {short(names)}.")
    try:
        names = [_check_name(name, "name") for name in names]
    except _Refused as refused:
        raise ValueError(str(refused)) from None
    if not names:
        return {}
    run = RunDir(workdir)
    run.config()  # a run directory, or a clear error
    labelers = _Labelers(run)
    parts = urlsplit(url)
    return {name: urlunsplit((parts.scheme, parts.netloc, "/",
                              urlencode({"token": labelers.add(name, exclusive=False)}), ""))
            for name in dict.fromkeys(names)}


class _Refused(Exception):
    """A request the page answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Labeling:
    """What the endpoints do, over one :class:`~autoal.project.Project` (one request at
    a time) and its :class:`~autoal.dispatch.Dispatcher`."""

    def __init__(self, project: Project, labelers: _Labelers, *, trust_names: bool,
                 dispatcher: Dispatcher):
        self.project = project
        self.labelers = labelers
        self.trust_names = trust_names
        self.dispatcher = dispatcher
        self.show_kind = project.show_kind()
        self.lock = threading.RLock()
        self._excluded_last = {}  # annotator -> the row they excluded last, if undo is theirs

    def login(self, body: dict, token) -> tuple[str, dict]:
        """Sign in under ``body["name"]``: ``(the session's token, {"name": name})``."""
        name = _check_name(body.get("name"), "name")
        current = self.labelers.name(token)
        if current == name:
            return token, {"name": name}
        if current is not None:
            raise _Refused(409, f"This browser is signed in as {current!r} already.")
        exclusive = not self.trust_names
        if exclusive and self.labelers.holds(name):
            raise _Refused(409, _IN_USE.format(name=repr(name)))
        if exclusive and name in set(self.project.annotations["annotator"]):
            raise _Refused(409, f"There are answers under the name {name!r} already; if they "
                                f"are yours, open your own link (whoever runs the page makes "
                                f"one: autoal label DIR --labelers NAME), else pick another "
                                f"name.")
        return self.labelers.add(name, exclusive=exclusive), {"name": name}

    def state(self, annotator: str) -> dict:
        """The rows ``annotator`` is to label now (claimed for them), their answers to the
        current queue, the batch's progress, and when there is nothing to label, why."""
        with self.lock:
            project = self.project
            work = self.dispatcher.work(project, annotator)
            queue = project.queue().set_index("row", drop=False)
            notes = project.annotations
            mine = notes[(notes["round"] == project.round + 1)
                         & (notes["annotator"] == annotator)]
            labels = {str(r): str(c) for r, c in zip(mine["row"], mine["label"])}
            items = [self._item(queue.loc[row]) for row in work.rows if row in queue.index]
            left = len(open_rows(queue, notes, project.round, queue.index[queue["excluded"]]))
            return {"classes": [str(c) for c in project.classes], "round": project.round,
                    "annotator": annotator, "items": items, "answered": len(labels),
                    "batch": {"size": len(queue), "left": left},
                    "mine": [{"row": r, "label": c} for r, c in labels.items()],
                    "earlier": self._earlier(notes, annotator),
                    "phase": work.phase, "message": work.message, "model": work.model}

    def _earlier(self, notes, annotator: str) -> list:
        """``annotator``'s latest :data:`EARLIER` answers to earlier queues, newest first,
        as items to show again (to correct one: :meth:`correct`)."""
        mine = notes[(notes["annotator"] == annotator)
                     & (notes["round"] <= self.project.round)].tail(EARLIER)
        return [{"row": str(row), "kind": "earlier", "show_kind": self.show_kind,
                 "show": self._show(row, self.project.show(row)), "guess": None,
                 "confidence": None, "answers": 0, "label": str(label), "round": int(r)}
                for row, label, r in zip(mine["row"][::-1], mine["label"][::-1],
                                         mine["round"][::-1])]

    def correct(self, annotator: str, body: dict) -> dict:
        """Replace ``annotator``'s answer to a row of an earlier queue (``{row, label}``):
        a mistake seen later. Answers to the current queue are undone instead."""
        row = self._row(body.get("row"))
        label = self._label(body.get("label"))
        with self.lock:
            notes = self.project.annotations
            theirs = notes[(notes["row"] == row) & (notes["annotator"] == annotator)]
            if not len(theirs) or (theirs["round"] > self.project.round).all():
                raise _Refused(400, f"Row {row}: you gave no answer to it in an earlier "
                                    f"round, so there is nothing to correct (answers to "
                                    f"this batch are undone with u).")
            old = str(theirs["label"].iloc[-1])
            try:
                self.project.import_answers(pd.DataFrame(
                    {"row": [row], "label": [label], "annotator": [annotator]}), correct=True)
            except ValueError as error:
                raise _Refused(400, str(error)) from error
            logger.debug("%s corrected row %s: %s -> %s", annotator, row, old, label)
            return {"corrected": {"row": str(row), "was": old, "label": label},
                    "state": self.state(annotator)}

    def answer(self, annotator: str, body: dict) -> dict:
        row = self._row(body.get("row"))
        label = self._label(body.get("label"))
        with self.lock:
            project = self.project
            # An item shown before the next round replaced the queue is still answered.
            late = project.round >= 0 and row not in set(project.session.query.rows) and \
                not (project.annotations["row"] == row).any()
            try:
                stored = project.record(row, label, annotator, late=late)
                if not len(stored):
                    raise ValueError(f"Row {row}: you labeled it already.")
            except ValueError as error:
                notes = self.project.annotations
                twice = ((notes["row"] == row) & (notes["annotator"] == annotator)).any()
                self.dispatcher.release(annotator, row)
                raise _Refused(409 if twice else 400, str(error)) from error
            self.dispatcher.release(annotator, row)
            self._excluded_last.pop(annotator, None)
            logger.debug("%s answered row %s: %s", annotator, row, label)
            return {"stored": {"row": str(row), "label": label}, "state": self.state(annotator)}

    def exclude(self, annotator: str, body: dict) -> dict:
        """Take a row of the current queue out of the project (no class fits it, or it
        should not be labeled); ``undo`` puts it back."""
        row = self._row(body.get("row"))
        with self.lock:
            project = self.project
            if row not in set(project.session.query.rows):
                raise _Refused(400, f"Row {row} is not in the current queue.")
            project.exclude([row], annotator)
            self.dispatcher.release(annotator, row)
            self._excluded_last[annotator] = row
            logger.debug("%s excluded row %s", annotator, row)
            return {"excluded": {"row": str(row)}, "state": self.state(annotator)}

    def undo(self, annotator: str) -> dict:
        with self.lock:
            row = self._excluded_last.pop(annotator, None)
            if row is not None and self.project.include([row]):
                self.dispatcher.give_back(annotator, row)
                return {"undone": {"row": str(row), "label": None, "excluded": True},
                        "state": self.state(annotator)}
            removed = self.project.undo(annotator)
            undone = None
            if removed is not None:
                self.dispatcher.give_back(annotator, removed["row"])
                undone = {"row": str(removed["row"]), "label": str(removed["label"])}
            return {"undone": undone, "state": self.state(annotator)}

    def skip(self, annotator: str, body: dict) -> dict:
        """Pass on a row for this batch (``{"row": ...}``), or with ``{"again": true}``
        take back every row one skipped."""
        with self.lock:
            if body.get("again") is True:
                self.dispatcher.unskip(annotator)
            else:
                self.dispatcher.skip(annotator, self._row(body.get("row")))
            return {"state": self.state(annotator)}

    def media(self, text: str, annotator=None) -> tuple[bytes, str]:
        """The image of a queued row, or of a row ``annotator`` answered, and its content
        type; refused for anything else."""
        row = self.project.row_id(text)
        notes = self.project.annotations
        if row is None or (row not in set(self.project.queue()["row"]) and not (
                (notes["row"] == row) & (notes["annotator"] == annotator)).any()):
            raise _Refused(404, f"Row {short(text)} is not in the current queue.")
        path = self.project.media(row)
        if path is None:
            raise _Refused(404, f"Row {short(text)} has no image file to show.")
        root = self.project.data_root
        try:
            real = path.resolve()
        except (OSError, ValueError):
            raise _Refused(404, f"Row {short(text)} has no image file to show.") from None
        if root is None:
            raise _Refused(403, "This project records no data root (it was made from a "
                                "DataFrame by an older autoal), so no image is served; start "
                                "it again with 'autoal init ... --data-root DIR'.")
        if not real.is_relative_to(root):
            raise _Refused(403, f"The image of row {short(text)} lies outside the project's "
                                f"data root; it is not served.")
        if not real.is_file() or real.stat().st_size > MAX_MEDIA:
            raise _Refused(404, f"Row {short(text)} has no image file to show (missing, or "
                                f"over {MAX_MEDIA // 2**20} MiB).")
        data = real.read_bytes()
        kind = _image_type(data)
        if kind is None:
            raise _Refused(415, f"The file of row {short(text)} is not a PNG, JPEG, GIF, WebP "
                                f"or BMP image; it is not served.")
        return data, kind

    def _row(self, value):  # membership of the queue is checked by Project.record
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _Refused(400, f"The 'row' must be a row id (text). Got {short(value)}.")
        row = self.project.row_id(value)
        if row is None:
            raise _Refused(400, f"Row {short(str(value))} does not exist in this project.")
        return row

    def _label(self, label) -> str:
        # (a page loaded before a rename sends the class's old name)
        if not isinstance(label, str) or self.project.class_of(label) is None:
            raise _Refused(400, f"The 'label' must be one of "
                                f"{[str(c) for c in self.project.classes]}. Got {short(label)}.")
        return label

    def _item(self, line) -> dict:
        return {"row": str(line["row"]), "kind": line["kind"], "show_kind": self.show_kind,
                "show": self._show(line["row"], line["show"]),
                "guess": None if _blank(line["guess"]) else str(line["guess"]),
                "confidence": _number(line["confidence"]), "answers": int(line["answers"])}

    def _show(self, row, show):
        if self.show_kind == "image":
            return f"/media/{quote(str(row), safe='')}"
        if self.show_kind == "values":
            try:
                return json.loads(show)
            except (TypeError, ValueError):
                return {"value": show}
        return show


class _Labelers:
    """Who is signed in: the run directory's ``labelers.json`` maps a hash of each
    session's token (never the token itself) to its name, and names the cookie.

    It is read again whenever it changes on disk, so links made by another process count
    and deleting the file signs everyone out; written atomically, under a file lock.
    """

    def __init__(self, run: RunDir):
        self.run = run
        self.path = run.path / LABELERS
        self._lock = threading.Lock()
        self._cookie = None
        with self._lock, run.lock("labelers", timeout=10):
            data = self._read()
            if not self.path.is_file():
                write_json(self.path, data)
        self.cookie = self._cookie = data["cookie"]
        self._data, self._stamp = data, self._mtime()

    def name(self, token) -> str | None:
        """The name signed in with ``token``, or None."""
        if not isinstance(token, str) or not 0 < len(token) <= 200:
            return None
        with self._lock:
            if self._mtime() != self._stamp:
                self._stamp = self._mtime()
                self._data = self._read()
            entry = self._data["sessions"].get(_digest(token))
        return None if entry is None else entry["name"]

    def holds(self, name: str) -> bool:
        """Whether a session is signed in under ``name``."""
        with self._lock:
            self._data, self._stamp = self._read(), self._mtime()
            return any(e["name"] == name for e in self._data["sessions"].values())

    def add(self, name: str, *, exclusive: bool) -> str:
        """A new session for ``name``; its token. ``exclusive`` refuses a name that
        another session holds."""
        token = secrets.token_urlsafe(32)
        with self._lock, self.run.lock("labelers", timeout=10):
            data = self._read()
            if exclusive and any(e["name"] == name for e in data["sessions"].values()):
                raise _Refused(409, _IN_USE.format(name=repr(name)))
            data["sessions"][_digest(token)] = {
                "name": name, "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            write_json(self.path, data)
            self._data, self._stamp = data, self._mtime()
        return token

    def _read(self) -> dict:
        if not self.path.is_file():
            return {"format": 1, "cookie": self._cookie or f"autoal_{secrets.token_hex(4)}",
                    "sessions": {}}
        try:
            data = json.loads(self.path.read_text())
            if not (isinstance(data.get("cookie"), str) and isinstance(data.get("sessions"), dict)):
                raise ValueError("no cookie or sessions")
        except (ValueError, AttributeError) as error:
            raise ValueError(f"{self.path} is damaged ({error}); delete it to sign everyone "
                             f"out, then sign in again.") from None
        return data

    def _mtime(self):
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None


_IN_USE = ("The name {name} is in use; open your own link (whoever runs the page makes one: "
           "autoal label DIR --labelers NAME), or pick another name.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_name(value, what: str) -> str:
    """A labeler's name: non-blank printable text, not the name of the data's labels."""
    if not isinstance(value, str) or not value.strip():
        raise _Refused(400, f"Say who is answering: the {what!r} must be a non-blank text. "
                            f"Got {short(value)}.")
    name = value.strip()
    if len(name) > MAX_NAME or not name.isprintable():
        raise _Refused(400, f"The {what!r} must be at most {MAX_NAME} printable characters. "
                            f"Got {short(name)}.")
    if name == GIVEN:
        raise _Refused(400, f"The name {GIVEN!r} is kept for the labels the data came with; "
                            f"pick another.")
    return name


def _image_type(data: bytes) -> str | None:
    """The content type of ``data`` if it is an image of one of :data:`IMAGE_TYPES`."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES)) as image:
            kind = IMAGE_TYPES.get(image.format)
            image.verify()
    except Exception:  # PIL raises many types for a file that is not an image
        return None
    return kind


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _number(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _family(host: str) -> int:
    """The address family to listen on for ``host`` (IPv6 for ``::1``, say)."""
    try:
        return socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM,
                                  flags=socket.AI_PASSIVE)[0][0]
    except socket.gaierror:
        return socket.AF_INET  # binding then fails with the system's own message


def _authority(host: str, port: int) -> str:
    """``host:port`` as a URL or a Host header writes it (``[::1]:8765``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _own_hosts(given: str, bound: str, port: int, allow_hosts) -> set:
    """Every ``host:port`` the page answers to (lower case): the address it serves, for
    a loopback address also ``localhost`` (on every address: this machine's names), and
    ``allow_hosts``."""
    names = {given, bound} - _WILDCARDS
    if bound in _WILDCARDS:
        names |= {"localhost", "127.0.0.1", "::1"}
    try:
        if ipaddress.ip_address(bound).is_loopback:
            names.add("localhost")
    except ValueError:
        pass
    hosts = {_authority(name, port) for name in names}
    hosts |= {_allowed(name, port) for name in allow_hosts}
    return {h.lower() for h in hosts}


def _allowed(name: str, port: int) -> str:
    """An ``allow_hosts`` entry as ``host:port`` (the served port when it names none)."""
    name = name.strip()
    return name if _has_port(name) else _authority(name.strip("[]"), port)


def _has_port(authority: str) -> bool:
    """Whether ``authority`` (``name``, ``name:port``, ``[v6]`` or ``[v6]:port``) names a port."""
    tail = authority.rsplit("]", 1)[-1] if authority.startswith("[") else authority
    return tail.count(":") == 1 and tail.rsplit(":", 1)[1].isdigit()


class _Deadline(io.RawIOBase):
    """A connection's bytes, to be read in full within ``seconds``: a client that sends
    its request a byte at a time is cut off all the same."""

    def __init__(self, connection: socket.socket, seconds: float):
        self.connection = connection
        self.end = time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.connection.settimeout(left)
        return self.connection.recv_into(buffer)


class _Server(HTTPServer):
    """An HTTP server that stalled clients cannot tie up.

    Accepted connections wait, without a thread, until their request starts to arrive
    (at most :data:`READ_TIMEOUT` seconds, then they are closed); then one of
    :data:`WORKERS` threads answers. More than :data:`MAX_CONNECTIONS` open connections
    are closed as they come. (``ThreadingHTTPServer`` would start a thread per
    connection, however many.)
    """

    request_queue_size = 64
    labeling: _Labeling
    hosts: set
    origins: set

    def __init__(self, address, handler, family: int):
        self.address_family = family
        self._arrivals = queue.SimpleQueue()
        self._wake_read, self._wake_write = socket.socketpair()
        for end in (self._wake_read, self._wake_write):
            end.setblocking(False)
        self._count = threading.Lock()
        self._open, self._closing = 0, False
        self._workers = self._gate = None
        super().__init__(address, handler)
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="autoal-web")
        self._gate = threading.Thread(target=self._watch, name="autoal-web-gate", daemon=True)
        self._gate.start()

    def process_request(self, request, client_address):
        with self._count:
            full = self._closing or self._open >= MAX_CONNECTIONS
            if not full:
                self._open += 1
        if full:
            logger.debug("Closed a connection from %s: %d open already", client_address,
                         MAX_CONNECTIONS)
            self.shutdown_request(request)
            return
        self._arrivals.put((request, client_address))
        self._wake()

    def server_close(self):
        super().server_close()
        self._closing = True
        if self._gate is not None:
            self._wake()
            self._gate.join(timeout=10)
        if self._workers is not None:
            self._workers.shutdown(wait=False)
        self._wake_read.close()
        self._wake_write.close()

    def handle_error(self, request, client_address):
        logger.debug("A request from %s failed", client_address, exc_info=True)

    def _wake(self):
        try:
            self._wake_write.send(b"\0")
        except (BlockingIOError, OSError):  # woken already, or closing
            pass

    def _watch(self):
        """Hand connections to the workers as their requests arrive; close the silent."""
        waiting = {}  # connection -> (client address, deadline)
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._closing:
                soonest = min((d for _, d in waiting.values()), default=math.inf)
                timeout = min(max(soonest - time.monotonic(), 0), 1.0)
                for key, _ in selector.select(timeout):
                    if key.fileobj is self._wake_read:
                        try:
                            self._wake_read.recv(4096)
                        except BlockingIOError:
                            pass
                        continue
                    selector.unregister(key.fileobj)
                    address, _ = waiting.pop(key.fileobj)
                    try:
                        self._workers.submit(self._work, key.fileobj, address)
                    except RuntimeError:  # closing: the workers are gone
                        self._close(key.fileobj)
                while True:
                    try:
                        request, address = self._arrivals.get_nowait()
                    except queue.Empty:
                        break
                    waiting[request] = (address, time.monotonic() + READ_TIMEOUT)
                    selector.register(request, selectors.EVENT_READ)
                now = time.monotonic()
                for request in [r for r, (_, end) in waiting.items() if end <= now]:
                    logger.debug("Closed a silent connection from %s", waiting.pop(request)[0])
                    selector.unregister(request)
                    self._close(request)
        for request in waiting:
            self._close(request)
        while True:
            try:
                self._close(self._arrivals.get_nowait()[0])
            except queue.Empty:
                break

    def _work(self, request, address):
        try:
            self.finish_request(request, address)
        except Exception:
            self.handle_error(request, address)
        finally:
            self._close(request)

    def _close(self, request):
        self.shutdown_request(request)
        with self._count:
            self._open -= 1


ROUTES = {"/": "GET", "/index.html": "GET", "/app.js": "GET", "/app.css": "GET",
          "/api/me": "GET", "/api/login": "POST", "/api/state": "GET", "/api/answer": "POST",
          "/api/undo": "POST", "/api/skip": "POST", "/api/exclude": "POST",
          "/api/correct": "POST"}
#: The POST endpoints that take a row from a labeler, by the :class:`_Labeling` method.
ACTIONS = {"/api/answer": "answer", "/api/skip": "skip", "/api/exclude": "exclude",
           "/api/correct": "correct"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "autoal"
    sys_version = ""
    server: _Server

    def setup(self):
        super().setup()
        self.rfile.close()
        self.rfile = io.BufferedReader(_Deadline(self.connection, READ_TIMEOUT))

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        labeling = self.server.labeling
        query = parse_qs(url.query)
        try:
            self._check_host()
            if method == "POST":
                self._check_origin()
            if url.path.startswith("/media/") and method == "GET":
                claimed = query.get("annotator", [None])[0]
                who = (self._annotator(claimed)  # signed in (or, trusting names, named)
                       if not labeling.trust_names or claimed is not None else None)
                body, kind = labeling.media(unquote(url.path[len("/media/"):]), who)
                self._send(200, body, kind, cache="private, max-age=600")
                return
            if url.path not in ROUTES:
                raise _Refused(404, f"No such page: {short(url.path)}")
            if ROUTES[url.path] != method:
                raise _Refused(405, f"{url.path} takes {ROUTES[url.path]} requests.")
            if url.path in ("/", "/index.html"):
                if "token" in query:
                    self._follow_link(query["token"][0])
                else:
                    self._send(200, PAGE, "text/html; charset=utf-8")
                return
            if url.path in STATIC:
                self._send(200, *STATIC[url.path], cache="no-cache")
                return
            if url.path == "/api/login":
                token, result = labeling.login(self._body(), self._token())
                self._json(200, result, cookie=token)
                return
            if url.path == "/api/me":
                result = {"name": labeling.labelers.name(self._token()),
                          "trust_names": labeling.trust_names}
            elif url.path == "/api/state":
                result = labeling.state(self._annotator(query.get("annotator", [None])[0]))
            elif url.path in ACTIONS:  # what one labeler does to a row
                body = self._body()
                act = getattr(labeling, ACTIONS[url.path])
                result = act(self._annotator(body.get("annotator")), body)
            else:
                result = labeling.undo(self._annotator(self._body().get("annotator")))
            self._json(200, result)
        except _Refused as refused:
            self._json(refused.status, {"error": str(refused)})
        except TimeoutError:
            raise  # the client was too slow: the connection is closed
        except Exception as error:  # one bad request must never stop the page for others
            logger.exception("The labeling page failed on %s %s", method, self.path)
            self._json(500, {"error": f"The server failed: {type(error).__name__}: {error}"})

    def _check_host(self) -> None:
        hosts = self.headers.get_all("Host") or []
        host = hosts[0].strip().lower() if len(hosts) == 1 else None
        if host is not None and not _has_port(host):
            host = f"{host}:80"
        if host not in self.server.hosts:
            raise _Refused(421, f"This page answers to {', '.join(sorted(self.server.hosts))} "
                                f"only, not {short(', '.join(hosts))}. If people reach it by "
                                f"another name, start it with --allow-host NAME.")

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower() not in self.server.origins:
            raise _Refused(403, f"Requests from {short(origin)} are refused: only the labeling "
                                f"page itself may send answers.")

    def _token(self):
        try:
            cookies = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = cookies.get(self.server.labeling.labelers.cookie)
        return None if morsel is None else morsel.value

    def _annotator(self, claimed) -> str:
        """Who is asking: the session's name (or, trusting names, the one claimed)."""
        labeling = self.server.labeling
        if labeling.trust_names and claimed is not None:
            return _check_name(claimed, "annotator")
        name = labeling.labelers.name(self._token())
        if name is None:
            raise _Refused(401, "Sign in first: open the page and give your name, or open "
                                "your own link.")
        return name

    def _follow_link(self, token: str) -> None:
        if self.server.labeling.labelers.name(token) is None:
            raise _Refused(403, "This sign-in link is not valid for this page; ask whoever "
                                "runs it for a new one.")
        self._send(303, b"", "text/plain", headers=[("Location", "/"),
                                                     ("Set-Cookie", self._cookie(token))])

    def _cookie(self, token: str) -> str:
        return (f"{self.server.labeling.labelers.cookie}={token}; Max-Age={COOKIE_AGE}; "
                f"Path=/; HttpOnly; SameSite=Strict")

    def _body(self) -> dict:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        if kind != "application/json":
            raise _Refused(415, f"Send JSON (Content-Type: application/json). Got {short(kind)}.")
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

    def _json(self, status: int, value, cookie=None) -> None:
        headers = [] if cookie is None else [("Set-Cookie", self._cookie(cookie))]
        self._send(status, json.dumps(value).encode(), "application/json", headers=headers)

    def _send(self, status: int, body: bytes, kind: str, *, cache: str = "no-store",
              headers=()) -> None:
        self.connection.settimeout(WRITE_TIMEOUT)
        page = kind.startswith("text/html")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("Content-Security-Policy", CSP if page else OTHER_CSP)
        for name, value in (*SECURITY_HEADERS, *headers):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        """Errors found before routing (a malformed request, say), as JSON too."""
        self.close_connection = True
        self._json(code, {"error": message or HTTPStatus(code).phrase})

    def log_message(self, format, *args):  # the default writes every request to stderr
        logger.debug("%s %s", self.address_string(), format % args)


PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autoal: labeling</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header><b>autoal</b><span id="who"></span><span id="progress"></span></header>
<form id="login" hidden>
  <p><label for="name">Your name, so your answers are kept apart from other people's.
     Sign in once, in your own browser: the name is then yours on this page.</label></p>
  <p><input id="name" autocomplete="name" maxlength="80" required>
     <button type="submit">Start labeling</button></p>
  <p id="login-error" class="error" role="alert" hidden></p>
</form>
<main id="work" hidden>
  <div id="error" class="error" role="alert" hidden></div>
  <div id="done" role="status" hidden></div>
  <section id="item" hidden>
    <div id="meta"></div>
    <div id="show"></div>
    <div id="guess"></div>
    <div id="buttons"></div>
    <div id="controls">
      <button id="skip" type="button"><kbd>s</kbd>Skip</button>
      <button id="exclude" type="button"
              title="No class fits it, or it should not be labeled: it leaves the project"
              ><kbd>x</kbd>Exclude</button>
      <button id="undo" type="button"><kbd>u</kbd>Undo my last answer</button>
    </div>
  </section>
  <p id="note" role="status"></p>
  <details id="earlier" hidden>
    <summary>Your answers of earlier rounds: pick one to correct it</summary>
    <ul id="earlier-list"></ul>
  </details>
</main>
</body>
</html>
"""

APP_CSS = b"""body { font: 16px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f;
       background: #f6f6f4; }
header { display: flex; gap: .8em; align-items: baseline; padding: .5em 1em;
         background: #fff; border-bottom: 1px solid #ddd; white-space: nowrap; }
header b { font-size: 1.1em; }
#earlier { margin: 1em; }
#earlier ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4em; }
#who { overflow: hidden; text-overflow: ellipsis; min-width: 0; }
#progress { margin-left: auto; font-variant-numeric: tabular-nums; }
main, form { max-width: 52em; margin: 1em auto; padding: 0 1em; }
input { font: inherit; padding: .4em; }
button { font: inherit; padding: .45em .9em; border: 1px solid #bbb; border-radius: 6px;
         background: #fff; color: inherit; cursor: pointer; }
button:hover { background: #eef3ff; }
button.guess { border: 2px solid #2f6fdb; background: #eef3ff; font-weight: 600; }
kbd { font: .8em ui-monospace, monospace; padding: 0 .35em; border: 1px solid #aaa;
      border-radius: 3px; background: #f3f3f3; margin-right: .35em; font-weight: normal; }
.error { background: #fde8e8; border: 1px solid #e0a0a0; padding: .5em .8em;
         border-radius: 6px; margin-bottom: 1em; }
#note { color: #555; min-height: 1.4em; }
#meta, #guess { color: #555; }
#guess b { color: #1d1d1f; }
#show { margin: .6em 0; padding: .8em; background: #fff; border: 1px solid #ddd;
        border-radius: 8px; text-align: center; overflow-x: auto; }
#show img { display: block; margin: 0 auto; width: 100%; height: min(50vh, 30em);
            object-fit: contain; }
#show img.tiny { image-rendering: pixelated; }
#show blockquote { margin: 0; text-align: left; white-space: pre-wrap; font-size: 1.1em;
                   overflow-wrap: anywhere; }
#show table { margin: 0 auto; border-collapse: collapse; text-align: left; }
#show th, #show td { padding: .2em .8em; border-bottom: 1px solid #eee; }
#buttons, #controls { display: flex; flex-wrap: wrap; gap: .5em; margin: .8em 0; }
#done { font-size: 1.1em; padding: 1em; background: #e9f7ec; border-radius: 8px; }
#done.fitting, #done.waiting, #done.manual { background: #eef3ff; }
#done.failed { background: #fde8e8; }
#done button { margin-top: .6em; display: block; }
@media (max-width: 600px) {
  body { font-size: 15px; }
  header { padding: .4em .7em; gap: .5em; }
  .wide { display: none; }
  main, form { padding: 0 .6em; margin-top: .6em; }
  #show img { height: min(45vh, 24em); }
  #show th, #show td { padding: .15em .5em; }
}
[hidden] { display: none !important; }
"""

APP_JS = rb""""use strict";
const $ = (id) => document.getElementById(id);
const KEYS = "1234567890";
// Ask again this often (ms): soon while waiting for a batch, now and then while labeling
// (which keeps the rows this page holds from going to someone else).
const WAITING = 1000, LABELING = 15000;
let me = null, state = null, current = null, busy = false, timer = null;

class Refused extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function call(method, path, body) {
  const options = {method, headers: {}, credentials: "same-origin"};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data;
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) {
    throw new Refused(data.error || `${response.status} ${response.statusText}`, response.status);
  }
  return data;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function note(text) { $("note").textContent = text; }

function login(message) {
  clearTimeout(timer);
  $("login").hidden = false;
  $("work").hidden = true;
  $("who").textContent = "";
  $("progress").textContent = "";
  $("login-error").textContent = message || "";
  $("login-error").hidden = !message;
  $("name").focus();
}

function signedOut(error) {  // the session is gone (labelers.json removed, say)
  if (error.status !== 401) return false;
  me = null;
  login(error.message);
  return true;
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  try {
    me = (await call("POST", "/api/login", {name})).name;
  } catch (error) {
    login(error.message);
    return;
  }
  start();
});

function start() {
  $("login").hidden = true;
  $("work").hidden = false;
  $("who").replaceChildren();
  const label = document.createElement("span");
  label.className = "wide";
  label.textContent = "Labeling as ";
  $("who").append(label, me);
  current = null;
  load();
}

async function load() {
  clearTimeout(timer);
  try {
    accept(await call("GET", "/api/state"));
  } catch (error) {
    if (signedOut(error)) return;
    showError(error.message);
    timer = setTimeout(load, WAITING);
  }
}

function accept(next) {  // a new state from the server: show it, and ask again later
  clearTimeout(timer);
  state = next;
  render();
  timer = setTimeout(load, state.items.length ? LABELING : WAITING);
}

function item(row) {  // a row to label, or one of your earlier answers being corrected
  return state.items.find((i) => i.row === row) ||
    state.earlier.find((i) => i.row === row) || null;
}

function correcting() { const it = current === null ? null : item(current);
  return it !== null && it.kind === "earlier"; }

function showEarlier() {
  $("earlier").hidden = !state.earlier.length;
  $("earlier-list").replaceChildren(...state.earlier.map((it) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.row = it.row;
    button.textContent = `Row ${it.row}: ${it.label} (round ${it.round})`;
    button.addEventListener("click", () => {
      current = it.row;
      $("item").dataset.row = "";
      render();
      window.scrollTo(0, 0);
    });
    li.append(button);
    return li;
  }));
}

function leaveCorrecting() {
  current = null;
  $("item").dataset.row = "";
  render();
}

function render() {
  const batch = state.batch;
  $("progress").textContent =
    `${state.answered} by you \u00b7 ${batch.size - batch.left} / ${batch.size} done`;
  showEarlier();
  const last = state.mine[state.mine.length - 1];
  if (!$("note").textContent && last) {
    note(`Your last answer: row ${last.row} \u2192 ${last.label} (u undoes it).`);
  }
  if (current === null || !item(current)) current = state.items.length ? state.items[0].row : null;
  if (current === null) {
    $("item").hidden = true;
    showDone();
    return;
  }
  $("done").hidden = true;
  $("item").hidden = false;
  if ($("item").dataset.row !== current) showItem(item(current));
}

function showDone() {
  const done = $("done");
  done.hidden = false;
  done.className = state.phase;
  done.textContent = state.message;
  if (state.phase === "skipped") {
    const back = document.createElement("button");
    back.type = "button";
    back.textContent = "Show the skipped ones";
    back.addEventListener("click", async () => {
      const data = await send("/api/skip", {again: true});
      if (data) accept(data.state);
    });
    done.append(back);
  }
  $("item").dataset.row = "";
}

function showItem(it) {
  $("item").dataset.row = it.row;
  const answers = it.answers ? ` \u00b7 ${it.answers} answer(s) so far from others` : "";
  const relabel = it.kind === "relabel" ? " \u00b7 a second opinion is asked" : "";
  $("meta").textContent = it.kind === "earlier"
    ? `Row ${it.row} \u00b7 your answer in round ${it.round}: ${it.label} \u00b7 ` +
      "pick the right class to correct it (Esc goes back)"
    : `Row ${it.row}${relabel}${answers}`;
  $("controls").hidden = it.kind === "earlier";
  const show = $("show");
  show.replaceChildren();
  if (it.show_kind === "image") {
    const img = document.createElement("img");
    img.addEventListener("load", () => {  // a tiny image scaled up keeps crisp pixels
      img.classList.toggle("tiny", img.naturalWidth < 160 && img.naturalHeight < 160);
    });
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
  const guess = $("guess");
  guess.replaceChildren();
  if (it.kind === "earlier") {
    guess.textContent = "Correcting one of your earlier answers.";
  } else if (it.guess === null) {
    guess.textContent = state.model || "No guess from the model for this item.";
  } else {
    const sure = it.confidence === null ? "" : ` (${Math.round(100 * it.confidence)}% sure)`;
    const name = document.createElement("b");
    name.textContent = it.guess;
    guess.append("The model's guess: ", name, `${sure}. Enter accepts it.`);
  }
  const buttons = $("buttons");
  buttons.replaceChildren();
  state.classes.forEach((label, k) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.label = label;
    if (label === (it.kind === "earlier" ? it.label : it.guess)) button.className = "guess";
    if (k < KEYS.length) {
      const key = document.createElement("kbd");
      key.textContent = KEYS[k];
      button.append(key);
    }
    button.append(label);
    button.addEventListener("click", () => answer(label));
    buttons.append(button);
  });
  for (const other of state.items) {  // fetch the next images while this one is looked at
    if (other.row !== it.row && other.show_kind === "image") new Image().src = other.show;
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
    if (signedOut(error)) return null;
    showError(error.message);
    await load();  // show where things stand now (a new batch, an answer from another tab)
    return null;
  } finally {
    busy = false;
  }
}

async function correct(label) {
  const it = item(current);
  const data = await send("/api/correct", {row: it.row, label});
  if (!data) return;
  note(label === data.corrected.was ? `Row ${it.row} stays ${label}.`
       : `Corrected row ${it.row}: ${data.corrected.was} \u2192 ${label}.`);
  current = null;
  $("item").dataset.row = "";
  accept(data.state);
}

async function answer(label) {
  if (current === null) return;
  if (correcting()) return correct(label);
  const row = current;
  const data = await send("/api/answer", {row, label});
  if (!data) return;
  note(`Your last answer: row ${row} \u2192 ${label} (u undoes it).`);
  current = null;
  accept(data.state);
}

async function skip() {
  if (current === null || correcting()) return;
  const data = await send("/api/skip", {row: current});
  if (!data) return;
  current = null;
  accept(data.state);
}

async function exclude() {
  if (current === null || correcting()) return;
  const row = current;
  const data = await send("/api/exclude", {row});
  if (!data) return;
  note(`Excluded row ${row}: it leaves the project (u undoes it).`);
  current = null;
  accept(data.state);
}

async function undo() {
  const data = await send("/api/undo", {});
  if (!data) return;
  if (data.undone) {
    note((data.undone.excluded ? `Undone: you excluded row ${data.undone.row}; `
          : `Undone: your answer ${data.undone.label} to row ${data.undone.row}; `) +
         "it is shown again.");
    current = data.undone.row;
    $("item").dataset.row = "";
  } else {
    showError("Nothing to undo: you have no answers to this batch.");
  }
  accept(data.state);
}

$("skip").addEventListener("click", skip);
$("exclude").addEventListener("click", exclude);
$("undo").addEventListener("click", undo);
document.addEventListener("keydown", (event) => {
  if ($("work").hidden || !state || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLInputElement) return;
  const k = KEYS.indexOf(event.key);
  const it = current === null ? null : item(current);
  if (k >= 0 && k < state.classes.length && it) {
    event.preventDefault();
    answer(state.classes[k]);
  } else if (event.key === "Enter" && it && it.guess !== null) {
    event.preventDefault();
    answer(it.guess);
  } else if (event.key === "s") {
    event.preventDefault();
    skip();
  } else if (event.key === "x") {
    event.preventDefault();
    exclude();
  } else if (event.key === "Escape" && correcting()) {
    event.preventDefault();
    leaveCorrecting();
  } else if (event.key === "u" || event.key === "Backspace") {
    event.preventDefault();
    undo();
  }
});

async function boot() {
  try {
    me = (await call("GET", "/api/me")).name;
  } catch (error) {
    $("work").hidden = false;
    showError(error.message);
    return;
  }
  if (me) start(); else login();
}

boot();
"""

STATIC = {"/app.js": (APP_JS, "text/javascript; charset=utf-8"),
          "/app.css": (APP_CSS, "text/css; charset=utf-8")}
