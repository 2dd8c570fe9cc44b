"""Label Studio, for teams that label there: tasks it can show, its exports read back,
and a live connection.

Which to use when:

- **Files by hand**: :func:`to_tasks` and :func:`label_config` turn a project's queue
  into tasks and the labeling interface to import into Label Studio
  (``autoal export DIR tasks.json``); :func:`read_export` reads its JSON export back
  (``autoal import DIR export.json``), for
  :meth:`autoal.project.Project.import_answers` with ``incremental=True``: an export
  holds every answer ever given, so answers stored already are skipped, and an answer
  a labeler changed in Label Studio replaces the stored one.
- **A live connection**: :func:`sync` (``autoal labelstudio sync``) creates or updates
  the Label Studio project, pulls new answers, starts the next round when the queue is
  answered and pushes the queue as tasks; run it whenever you like.
  :func:`serve_backend` (``autoal labelstudio backend``) is a Label Studio ML backend:
  Label Studio sends it each annotation as it is made, and the next round's tasks
  appear without anyone running a command.

Both talk to Label Studio's REST API with the standard library (:class:`Client`): the
``label-studio-sdk`` package pins ``numpy`` below the version autoal's lock file
installs, so it is not a dependency.

**Tasks.** ``data`` holds what to show (``image``, ``text``, or ``values``: the row's
values as a dict, shown as a table) and ``autoal_row``, ``autoal_round``,
``autoal_priority`` (1 = label first: sort by it in the Data Manager; tasks are also
imported in that order). The model's guess is sent as a pre-filled prediction only with
``prefill=True``: a pre-selected answer biases labelers toward the model.

**Images** must be URLs Label Studio serves. A path in the data is written as
``/data/local-files/?d=<path relative to the document root>``: Label Studio serves it
when started with ``LOCAL_FILES_SERVING_ENABLED=true`` and
``LOCAL_FILES_DOCUMENT_ROOT=<a folder holding the images>`` and the project has a Local
Storage for a folder that holds them (:func:`sync` adds it). ``http(s)``, ``s3`` and
``gs`` URLs in the data are kept as they are. The URL shows the file's path, so a class
folder in it (``images/pullover/1.png``) tells a labeler who opens the task's data the
answer: keep images in folders that do not name their class.

**Answers.** The annotator is ``labelstudio:<email>`` where the export or the API gives
the user's email, else ``labelstudio:<user id>``; a user keeps the name their first
stored answer had. Cancelled (skipped) annotations are left out and counted. Any other
shape (no annotator, several choices, a result of another tag type, ...) is refused
with an error naming the task and the field.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import quoteattr

import pandas as pd

from ._checks import short

__all__ = ["Client", "Export", "SyncReport", "backend_server", "describe", "document_root",
           "image_url", "label_config", "read_answers", "read_export", "serve_backend",
           "stored_names", "sync", "to_tasks"]

logger = logging.getLogger(__name__)

FROM_NAME, TO_NAME = "label", "item"
#: Environment variables naming Label Studio's local-files document root (its own names).
ROOT_VARIABLES = ("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", "LOCAL_FILES_DOCUMENT_ROOT")
#: URL schemes Label Studio loads by itself.
URL_SCHEMES = ("http://", "https://", "s3://", "gs://")
#: What autoal keeps about the connection, in the run directory.
STATE_FILE = "labelstudio.json"
ANNOTATION_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED")
_NO_ROOT = ("Label Studio shows image files only below its document root: start it with "
            "LOCAL_FILES_SERVING_ENABLED=true and LOCAL_FILES_DOCUMENT_ROOT=<a folder holding "
            "the images>, and pass that folder as --ls-document-root DIR (or set "
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT).")


# ---- tasks ---------------------------------------------------------------------------

def document_root(explicit=None) -> Path | None:
    """Label Studio's local-files document root: ``explicit``, else the environment
    variable ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` or ``LOCAL_FILES_DOCUMENT_ROOT``."""
    value = explicit or next((os.environ[v] for v in ROOT_VARIABLES if os.environ.get(v)), None)
    if value is None:
        return None
    root = Path(value)
    if not root.is_dir():
        raise ValueError(f"Label Studio's document root must be an existing folder "
                         f"(--ls-document-root DIR). Got {str(value)!r}.")
    return root.resolve()


def image_url(path, root: Path | None) -> str:
    """The URL Label Studio loads the image ``path`` from: a URL as it is, a file as
    ``/data/local-files/?d=<path relative to root>``."""
    text = str(path)
    if text.lower().startswith(URL_SCHEMES):
        return text
    if root is None:
        raise ValueError(f"Cannot show the image file {text} in Label Studio. {_NO_ROOT}")
    file = Path(text).resolve()
    if not file.is_relative_to(root):
        raise ValueError(f"The image {text} lies outside Label Studio's document root {root}; "
                         f"pass a document root that holds every image.")
    relative = PurePosixPath(*file.relative_to(root).parts)
    return "/data/local-files/?d=" + urllib.parse.quote(str(relative), safe="/")


def to_tasks(queue: pd.DataFrame, kind: str, *, root: Path | None = None,
             prefill: bool = False) -> list[dict]:
    """Tasks for the rows of ``queue`` (:meth:`autoal.project.Project.queue`), in queue
    order; ``kind`` is ``"image"``, ``"text"`` or ``"values"``. ``root`` is Label Studio's
    document root, for image files (see :func:`image_url`); ``prefill`` adds the model's
    guess as a prediction Label Studio pre-selects."""
    tasks = []
    for priority, line in enumerate(queue.itertuples(index=False), start=1):
        shown = line.show
        if kind == "image":
            shown = image_url(shown, root)
        elif kind == "values":
            shown = json.loads(shown) if isinstance(shown, str) else dict(shown)
        task = {"data": {kind: shown, "autoal_row": str(line.row),
                         "autoal_round": int(line.round), "autoal_priority": priority,
                         "autoal_kind": line.kind}}
        if prefill:
            task["predictions"] = [_prediction(line.guess, line.confidence, line.round)]
        tasks.append(task)
    return tasks


def _prediction(guess, confidence, round_) -> dict:
    result = [] if guess is None else [{
        "from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
        "value": {"choices": [str(guess)]}}]
    return {"model_version": f"autoal round {int(round_)}", "score": float(confidence),
            "result": result}


def label_config(classes, kind: str) -> str:
    """A Label Studio labeling interface: the item (an image, a text, or a table of the
    row's values) and one required single choice per class."""
    shown = {"image": f'<Image name="{TO_NAME}" value="$image"/>',
             "text": f'<Text name="{TO_NAME}" value="$text"/>',
             "values": f'<Table name="{TO_NAME}" value="$values"/>'}[kind]
    choices = "\n".join(f"    <Choice value={quoteattr(str(c))}/>" for c in classes)
    return (f"<View>\n  {shown}\n  <Choices name=\"{FROM_NAME}\" toName=\"{TO_NAME}\" "
            f"choice=\"single\" showInLine=\"true\" required=\"true\">\n{choices}\n"
            f"  </Choices>\n</View>\n")


# ---- answers -------------------------------------------------------------------------

@dataclass
class Export:
    """What a Label Studio export holds for autoal: ``answers`` (``row, annotator,
    label``; each user's latest answer to a row), the rows of ``cancelled`` (skipped)
    annotations, left out, and ``tasks``: ``(row, round)`` of every task in it."""

    answers: pd.DataFrame
    cancelled: list = field(default_factory=list)
    tasks: set = field(default_factory=set)


def read_export(source, *, names=None) -> Export:
    """Read a Label Studio JSON export: a path, or the parsed list of tasks.

    ``names`` maps Label Studio user ids to annotator names (see :func:`sync`); without
    one, an annotator is ``labelstudio:<email>`` where the export gives the email, else
    ``labelstudio:<id>``. Raises ``ValueError`` naming the task and the field for any
    shape autoal does not take.
    """
    tasks = _load(source) if isinstance(source, (str, Path)) else source
    if not isinstance(tasks, list):
        raise ValueError(f"A Label Studio export is a JSON list of tasks; this is a "
                         f"{type(tasks).__name__}.")
    lines, cancelled, seen = [], [], set()
    for number, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise ValueError(f"Task #{number + 1} of the export is a {type(task).__name__} "
                             f"({short(task)}), not a task object.")
        name = f"Task {task.get('id', '#' + str(number + 1))}"
        data = task.get("data")
        row = data.get("autoal_row") if isinstance(data, dict) else None
        if row is None:
            raise ValueError(f"{name} has no data.autoal_row: was it exported from autoal "
                             f"('autoal export DIR FILE.json' or 'autoal labelstudio sync')?")
        seen.add((str(row), data.get("autoal_round")))
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            raise ValueError(f"{name}: the field annotations must be a list. Got "
                             f"{short(annotations)}.")
        for index, annotation in enumerate(annotations):
            where = f"{name}, annotations[{index}]"
            if not isinstance(annotation, dict):
                raise ValueError(f"{where} is not an annotation object. Got "
                                 f"{short(annotation)}.")
            if annotation.get("was_cancelled"):
                cancelled.append(str(row))
                continue
            lines.append({"row": str(row), "annotator": _annotator(annotation, where, names),
                          "label": _choice(annotation, where),
                          "at": str(annotation.get("updated_at")
                                    or annotation.get("created_at") or "")})
    answers = pd.DataFrame(lines, columns=["row", "annotator", "label", "at"])
    # A user's latest answer to a row stands (a row asked again, an answer made twice).
    latest = answers.sort_values("at", kind="stable").drop_duplicates(
        ["row", "annotator"], keep="last")
    return Export(answers.loc[sorted(latest.index), ["row", "annotator", "label"]]
                  .reset_index(drop=True), cancelled, seen)


def read_answers(source, *, names=None) -> pd.DataFrame:
    """The answers of a Label Studio JSON export (``row, annotator, label``); see
    :func:`read_export`."""
    return read_export(source, names=names).answers


def _load(path) -> list:
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"No such Label Studio export: {path} {what}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a Label Studio JSON export ({error}).") from None


def _annotator(annotation: dict, where: str, names) -> str:
    who = annotation.get("completed_by")
    email = None
    if isinstance(who, dict):
        who, email = who.get("id"), who.get("email") or None
    if who is None and email is None or isinstance(who, (bool, list, float)):
        raise ValueError(f"{where}: the field completed_by must name the Label Studio user "
                         f"who answered. Got {short(annotation.get('completed_by'))}.")
    if names and who in names:
        return names[who]
    return f"labelstudio:{email or who}"


def _choice(annotation: dict, where: str) -> str:
    results = annotation.get("result")
    if not isinstance(results, list):
        raise ValueError(f"{where}: the field result must be a list. Got {short(results)}.")
    mine = [(i, r) for i, r in enumerate(results) if isinstance(r, dict)
            and (r.get("from_name") == FROM_NAME or r.get("type") == "choices")]
    if not mine:
        types = sorted({str(r.get("type")) for r in results if isinstance(r, dict)})
        found = f" (it holds results of type {', '.join(types)})" if types else \
            " (it is empty)"
        raise ValueError(f"{where}: no choice in the field result{found}; autoal's "
                         f"interface gives one choice per answer (the Choices tag "
                         f"{FROM_NAME!r}).")
    if len(mine) > 1:
        raise ValueError(f"{where}: the field result holds {len(mine)} answers from the tag "
                         f"{FROM_NAME!r}; autoal takes one per annotation.")
    i, result = mine[0]
    value = result.get("value")
    if result.get("type") != "choices" or not isinstance(value, dict) or "choices" not in value:
        raise ValueError(f"{where}: result[{i}] is of type {short(result.get('type'))} with "
                         f"value {short(value)}; autoal takes a 'choices' result.")
    choices = value["choices"]
    if not isinstance(choices, list):
        raise ValueError(f"{where}: result[{i}].value.choices must be a list of one class. "
                         f"Got {short(choices)}.")
    if len(choices) != 1 or not isinstance(choices[0], str):
        raise ValueError(f"{where}: result[{i}].value.choices must hold exactly one class "
                         f"(a single choice). Got {short(choices)}.")
    return choices[0]


# ---- the REST API --------------------------------------------------------------------

class Client:
    """Label Studio's REST API at ``url``, with an access ``token``: a legacy API token
    (``Authorization: Token``) or a personal access token (a JWT, exchanged for an
    access token at ``/api/token/refresh``)."""

    def __init__(self, url: str, token: str, *, timeout: float = 60):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self._header = None

    def request(self, method: str, path: str, body=None, **params):
        """The JSON answer to ``method path``; raises ``RuntimeError`` with Label
        Studio's message on an HTTP error."""
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path + query, data=data, method=method,
            headers={"Authorization": self._authorization(), "Accept": "application/json",
                     **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(f"Label Studio answered {error.code} to {method} {path}: "
                               f"{detail}") from None
        except urllib.error.URLError as error:
            raise RuntimeError(f"Cannot reach Label Studio at {self.url}: "
                               f"{error.reason}.") from None
        return json.loads(text) if text.strip() else None

    def _authorization(self) -> str:
        if self._header is None:
            if self.token.count(".") == 2:  # a personal access token (JWT refresh token)
                request = urllib.request.Request(
                    self.url + "/api/token/refresh", method="POST",
                    data=json.dumps({"refresh": self.token}).encode(),
                    headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=self.timeout) as response:
                        access = json.loads(response.read())["access"]
                except (urllib.error.URLError, KeyError, ValueError) as error:
                    raise RuntimeError(f"Label Studio at {self.url} refused the personal "
                                       f"access token ({error}).") from None
                self._header = f"Bearer {access}"
            else:
                self._header = f"Token {self.token}"
        return self._header

    def get(self, path, **params):
        return self.request("GET", path, **params)

    def post(self, path, body, **params):
        return self.request("POST", path, body, **params)

    def patch(self, path, body):
        return self.request("PATCH", path, body)


# ---- sync ----------------------------------------------------------------------------

@dataclass
class SyncReport:
    """What one :func:`sync` did."""

    project: int
    stored: int = 0  # corrections included
    corrected: int = 0
    skipped: int = 0
    cancelled: int = 0
    pushed: int = 0
    created: bool = False
    round: int | None = None  # the round started, if one was
    queue: int = 0

    def answers(self) -> str:
        """What happened to the export's answers, in words."""
        return _counts(self.stored, self.corrected, self.skipped, self.cancelled)


def sync(workdir, client: Client, *, project_id=None, root=None, prefill: bool = False,
         batch: int | None = None, next_round: bool = True, title: str | None = None,
         progress: bool = False) -> SyncReport:
    """Bring the autoal project in ``workdir`` and its Label Studio project together.

    Creates the Label Studio project (or opens ``project_id``, or the one an earlier
    sync made) and updates its labeling interface; adds a Local Storage for image files
    (``root``: Label Studio's document root, see :func:`document_root`); pulls every
    annotation and stores the new ones (``incremental``); when every row of the queue is
    answered or skipped (or no queue was made yet) and ``next_round``, runs the next
    round (``batch`` rows; default the size of the current queue, or 20); pushes the
    queue's rows that have no task yet. Safe to run again at any time.
    """
    from .project import Project

    project = Project(workdir)
    kind = project.show_kind()
    root = document_root(root) if kind == "image" else None
    if kind == "image" and root is None:
        raise ValueError(_NO_ROOT)
    state = _read_state(project.path)
    if project_id is None and state.get("url") == client.url:
        project_id = state.get("project")
    config = label_config(project.classes, kind)
    created = False
    if project_id is None:
        made = client.post("/api/projects/", {
            "title": (title or f"autoal {project.path.name}")[:50], "label_config": config,
            "show_collab_predictions": bool(prefill), "maximum_annotations": 1,
            "description": f"Active labeling with autoal ({project.path})"})
        project_id, created = int(made["id"]), True
    else:
        project_id = int(project_id)
        current = client.get(f"/api/projects/{project_id}/")
        if current.get("label_config") != config:
            client.patch(f"/api/projects/{project_id}/", {"label_config": config})
    _write_state(project.path, {**state, "url": client.url, "project": project_id})
    if kind == "image":
        _local_storage(client, project_id, project, root)
    report = SyncReport(project=project_id, created=created)

    names = _names(client, project)
    _write_state(project.path, {**_read_state(project.path), "users": {
        str(k): v for k, v in names.items()}})
    export = read_export(_export(client, project_id), names=names)
    stored = project.import_answers(export.answers, incremental=True)
    report.stored, report.cancelled = len(stored), len(export.cancelled)
    report.corrected = int(stored["corrected"].sum())
    report.skipped = len(export.answers) - len(stored)
    queue = project.queue()
    done = (queue["answers"] > 0) | queue["excluded"] | \
        queue["row"].astype(str).isin(export.cancelled)
    if next_round and (project.round < 0 or (len(queue) and done.all())):
        size = batch or (len(queue) if len(queue) else 20)
        project.next(batch=size, progress=progress)
        report.round = project.round
        queue = project.queue()
    fresh = queue[[(str(r), int(n)) not in export.tasks and not out
                   for r, n, out in zip(queue["row"], queue["round"], queue["excluded"])]]
    if len(fresh):
        client.post(f"/api/projects/{project_id}/import",
                    to_tasks(fresh, kind, root=root, prefill=prefill))
    report.pushed, report.queue = len(fresh), len(queue)
    logger.debug("Label Studio project %d: %d answers stored, %d known already, %d cancelled "
                "left out; %d tasks pushed", project_id, report.stored, report.skipped,
                report.cancelled, report.pushed)
    return report


def _export(client: Client, project_id: int) -> list:
    return client.get(f"/api/projects/{project_id}/export", exportType="JSON",
                      download_all_tasks="true")


def _names(client: Client, project) -> dict:
    """Annotator names by Label Studio user id: ``labelstudio:<email>``, unless answers
    stored already name the user ``labelstudio:<id>`` (a file import without emails)."""
    stored = set(project.annotations["annotator"])
    names = {}
    for user in client.get("/api/users/") or []:
        uid, email = user.get("id"), user.get("email")
        by_id = f"labelstudio:{uid}"
        names[uid] = by_id if by_id in stored or not email else f"labelstudio:{email}"
    return names


def _local_storage(client: Client, project_id: int, project, root: Path | None) -> None:
    """A Local Storage on the Label Studio project for the folder holding the images,
    so Label Studio serves them (created once; never synced: autoal imports the tasks)."""
    column = next(c for c, t in project.config["column_types"].items() if t == "image_path")
    images = [str(Path(p).resolve()) for p in project.data[column].dropna()]
    folder = Path(os.path.commonpath(images)) if images else project.data_root
    if folder.is_file():  # a single image
        folder = folder.parent
    if folder == root or not folder.is_relative_to(root):
        raise ValueError(f"Label Studio needs the images in a folder below its document root "
                         f"{root} (not the root itself); they lie in {folder}.")
    storages = client.get("/api/storages/localfiles/", project=project_id) or []
    if any(folder.is_relative_to(s.get("path") or "/nowhere") for s in storages):
        return
    client.post("/api/storages/localfiles/", {
        "project": project_id, "path": str(folder), "title": "autoal images",
        "use_blob_urls": True, "regex_filter": ""})


def _read_state(path: Path) -> dict:
    file = Path(path) / STATE_FILE
    return json.loads(file.read_text()) if file.is_file() else {}


def _write_state(path: Path, state: dict) -> None:
    from .rundir import write_json

    write_json(Path(path) / STATE_FILE, state)


def stored_names(workdir) -> dict:
    """Annotator names by Label Studio user id that an earlier :func:`sync` learned, for
    a file import to name users as a sync does."""
    users = _read_state(Path(workdir)).get("users") or {}
    return {int(k) if str(k).isdigit() else k: v for k, v in users.items()}


# ---- the ML backend ------------------------------------------------------------------

class _Backend:
    """The state behind :func:`serve_backend`."""

    def __init__(self, workdir, client, project_id, *, root, prefill, batch):
        from .project import Project

        self.workdir, self.client, self.project_id = Path(workdir), client, project_id
        self.root, self.prefill, self.batch = root, prefill, batch
        self.project = Project(workdir)
        self.lock = threading.Lock()  # the Project above is shared by request threads
        self.round_lock = threading.Lock()
        self.again = threading.Event()
        self.thread = None

    def health(self) -> dict:
        return {"status": "UP", "model_dir": str(self.workdir), "v2": "true"}

    def model_version(self) -> str:
        return f"autoal-round-{self.project.round}"

    def setup(self, body: dict) -> dict:
        uid = str(body.get("project") or "")
        if self.project_id is None and uid.split(".")[0].isdigit():
            self.project_id = int(uid.split(".")[0])
        if self.client is None and body.get("hostname") and body.get("access_token"):
            self.client = Client(body["hostname"], body["access_token"])
        with self.lock:
            return {"model_version": self.model_version()}

    def predict(self, body: dict) -> dict:
        with self.lock:
            self.project.session.refresh()
            queue = self.project.queue().set_index(
                self.project.queue()["row"].astype(str))
            results = []
            for task in body.get("tasks") or []:
                row = str(((task or {}).get("data") or {}).get("autoal_row"))
                if row in queue.index:
                    line = queue.loc[row]
                    guess = line["guess"] if self.prefill else None
                    results.append(_prediction(guess, line["confidence"], line["round"]))
                else:
                    results.append({"model_version": self.model_version(), "score": 0.0,
                                    "result": []})
            return {"results": results, "model_version": self.model_version()}

    def webhook(self, body: dict) -> dict:
        action = body.get("action")
        if self.project_id is None and isinstance(body.get("project"), dict):
            self.project_id = body["project"].get("id")
        if action in ANNOTATION_ACTIONS:
            annotations, tasks = body.get("annotation"), body.get("task")
            if not isinstance(annotations, list):
                annotations, tasks = [annotations], [tasks]
            by_id = {t.get("id"): t for t in tasks if isinstance(t, dict)}
            export = [{**by_id.get(a.get("task"), {}), "annotations": [a]}
                      for a in annotations if isinstance(a, dict)]
            with self.lock:
                names = stored_names(self.workdir)
                answers = read_export(export, names=names).answers
                stored = self.project.import_answers(answers, incremental=True)
                logger.info("%s: %d answers stored, %d known already", action, len(stored),
                            len(answers) - len(stored))
                answered = self._answered()
            if answered:
                self.start_round()
            return {"stored": len(stored)}
        if action == "START_TRAINING":
            self.start_round()
        return {}

    def _answered(self) -> bool:
        queue = self.project.queue()
        return self.project.round < 0 or bool(
            len(queue) and ((queue["answers"] > 0) | queue["excluded"]).all())

    def start_round(self) -> None:
        """Run :func:`sync` (the next round, its tasks pushed) in a background thread,
        one at a time; a request while one runs makes it check again when done."""
        if not self.round_lock.acquire(blocking=False):
            self.again.set()
            return
        self.thread = threading.Thread(target=self._rounds, daemon=True)
        self.thread.start()

    def _rounds(self) -> None:
        try:
            while True:
                self.again.clear()
                try:
                    self._one_round()
                except (ValueError, RuntimeError, OSError):
                    logger.exception("The next round failed")
                if not self.again.is_set():
                    break
        finally:
            self.round_lock.release()

    def _one_round(self) -> None:
        if self.client is not None and self.project_id is not None:
            report = sync(self.workdir, self.client, project_id=self.project_id,
                          root=self.root, prefill=self.prefill, batch=self.batch)
            logger.info("round %s: %d tasks pushed to Label Studio project %d",
                        report.round, report.pushed, report.project)
            return
        from .project import Project

        with self.lock:
            answered = self._answered()
        if answered:
            project = Project(self.workdir)
            project.next(batch=self.batch or len(project.queue()) or 20, progress=False)
            logger.warning("round %d queued; no Label Studio connection to push its tasks "
                           "to (pass --url and --token)", project.round)


def serve_backend(workdir, *, host: str = "127.0.0.1", port: int = 9090, ready=None,
                  **options) -> None:
    """Serve Label Studio's ML backend protocol for the project in ``workdir`` until
    interrupted (see :func:`backend_server` for the ``options``); ``ready(url)`` is
    called once serving."""
    server = backend_server(workdir, host=host, port=port, **options)
    if ready is not None:
        ready(f"http://{host}:{server.server_address[1]}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def backend_server(workdir, *, host: str = "127.0.0.1", port: int = 9090, client=None,
                   project_id=None, root=None, prefill: bool = False,
                   batch=None) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) that speaks Label Studio's ML backend protocol for
    the project in ``workdir``: ``GET /health``, ``POST /setup``, ``POST /predict`` (the
    model's confidence per queued task, and its guess only with ``prefill``) and ``POST
    /webhook`` (each annotation created or updated is stored; when the queue is
    answered, the next round runs in a background thread, one at a time, and its tasks
    are pushed to the Label Studio project).

    ``client`` (a :class:`Client`) is the Label Studio server to push tasks to, and
    ``project_id`` its project (default: the one an earlier :func:`sync` made, else a new
    one): a :func:`sync` runs first. Without a client the backend uses the project,
    address and token Label Studio sends at setup.
    """
    root = document_root(root)
    backend = _Backend(workdir, client, project_id, root=root, prefill=prefill, batch=batch)
    if client is not None:
        backend.project_id = sync(workdir, client, project_id=project_id, root=root,
                                  prefill=prefill, batch=batch).project
    server = ThreadingHTTPServer((host, port), _handler(backend))
    server.daemon_threads = True
    server.backend = backend
    return server


def _handler(backend: _Backend):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path.rstrip("/")
            if path in ("", "/health"):
                return self._send(200, backend.health())
            if path == "/metrics":
                return self._send(200, {})
            return self._send(404, {"error": f"no such route: {path}"})

        def do_POST(self):
            path = urllib.parse.urlsplit(self.path).path.rstrip("/")
            route = {"/setup": backend.setup, "/predict": backend.predict,
                     "/webhook": backend.webhook, "/train": lambda body: {}}.get(path)
            if route is None:
                return self._send(404, {"error": f"no such route: {path}"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the request body must be a JSON object")
                answer = route(body)
            except (ValueError, TypeError, KeyError) as error:
                logger.warning("%s refused: %s", path, error)
                return self._send(400, {"error": str(error)})
            return self._send(201 if path in ("/webhook", "/train") else 200, answer)

        def _send(self, status: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            logger.debug("backend: " + format, *args)

    return Handler


def describe(export: Export, stored: pd.DataFrame) -> str:
    """How many answers a cumulative export gave: stored, known already, cancelled."""
    return _counts(len(stored), int(stored["corrected"].sum()),
                   len(export.answers) - len(stored), len(export.cancelled))


def _counts(stored: int, corrected: int, skipped: int, cancelled: int) -> str:
    changed = f" ({corrected} changed in Label Studio, replacing the stored ones)" \
        if corrected else ""
    return (f"{stored} answers stored{changed}, {skipped} skipped as already known, "
            f"{cancelled} left out as cancelled")

