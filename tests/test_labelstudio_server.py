"""autoal against a real Label Studio, started offline on 127.0.0.1 once for the module.

.ci/run installs a pinned label-studio in a virtual environment of its own (.ls-venv)
and names its executable in AUTOAL_LABEL_STUDIO; then these tests must run. Elsewhere
they use .ls-venv/bin/label-studio or a label-studio on PATH, and skip, saying why,
without one. Checked: syncs and cumulative exports store each answer exactly once;
image task URLs return 200 from Label Studio itself; a table task's interface is
accepted and its data is a dict the Table tag shows (and, with chromium, renders as a
table); through the ML backend, annotations made in Label Studio reach the run
directory and the next round's tasks appear in the Label Studio project.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoal.cli import main
from autoal.labelstudio import Client, backend_server, label_config, to_tasks
from autoal.project import Project

from conftest import start_table_project
from test_web import browser  # noqa: F401  (the fixture, shared with test_web)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EMAIL, PASSWORD = "autoal@example.org", "autoal-test-1"


def _executable():
    named = os.environ.get("AUTOAL_LABEL_STUDIO")
    if named:
        if not Path(named).is_file():
            pytest.fail(f"AUTOAL_LABEL_STUDIO={named} is not a file.")
        return named
    for candidate in (ROOT / ".ls-venv" / "bin" / "label-studio", shutil.which("label-studio")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.skip("Label Studio is not installed: .ci/run installs it (uv venv .ls-venv; "
                "uv pip install --python .ls-venv/bin/python label-studio==1.23.2), or set "
                "AUTOAL_LABEL_STUDIO to its label-studio executable.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url, token, root):
        self.url, self.token, self.root = url, token, root
        self.client = Client(url, token)

    def tasks(self, project_id):
        return self.client.get(f"/api/projects/{project_id}/export", exportType="JSON",
                               download_all_tasks="true")

    def annotate(self, task, label, cancel=False):
        result = [] if cancel else [{"from_name": "label", "to_name": "item",
                                     "type": "choices", "value": {"choices": [label]}}]
        return self.client.post(f"/api/tasks/{task['id']}/annotations/",
                                {"result": result, "was_cancelled": cancel})


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    """Label Studio on 127.0.0.1, offline, with a user and a legacy API token."""
    executable = _executable()
    folder = tmp_path_factory.mktemp("label-studio")
    root = folder / "files"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(20)
    env = {**os.environ, "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
           "LOCAL_FILES_SERVING_ENABLED": "true", "LOCAL_FILES_DOCUMENT_ROOT": str(root),
           "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
           # The ML backend and its webhook run on this machine: allow local addresses.
           "ML_BLOCK_LOCAL_IP": "false", "SSRF_PROTECTION_ENABLED": "false"}
    log = open(folder / "label-studio.log", "wb")
    process = subprocess.Popen(
        [executable, "start", "--no-browser", "--data-dir", str(folder / "data"),
         "--internal-host", "127.0.0.1", "--port", str(port), "--username", EMAIL,
         "--password", PASSWORD, "--user-token", token, "--enable-legacy-api-token"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 400  # the first start migrates its database
        while True:
            if process.poll() is not None:
                pytest.fail(f"Label Studio stopped at start: "
                            f"{(folder / 'label-studio.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Label Studio did not answer /health within 400 s.")
            time.sleep(2)
        yield Server(url, token, root)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """60 rows of numbers, 3 classes, 12 labeled; a queue of 6."""
    return start_table_project(tmp_path_factory.mktemp("ls-table"))


def copy(run, tmp_path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def sync(capsys, server, workdir, *more):
    assert main(["labelstudio", "sync", str(workdir), "--url", server.url,
                 "--token", server.token, *more]) == 0
    return capsys.readouterr().out


def answers(workdir):
    table = Project(workdir).annotations
    return table[table["annotator"] != "given"]


def test_syncs_and_exports_store_each_answer_once(label_studio, table_run, tmp_path, capsys):
    server, (run, truth) = label_studio, table_run
    workdir = copy(run, tmp_path)
    out = sync(capsys, server, workdir)
    assert "(created)" in out and "6 new tasks pushed" in out
    project_id = json.loads((workdir / "labelstudio.json").read_text())["project"]
    assert "Table" in server.client.get(f"/api/projects/{project_id}/")["label_config"]
    tasks = sorted(server.tasks(project_id), key=lambda t: t["data"]["autoal_priority"])
    assert len(tasks) == 6 and all(isinstance(t["data"]["values"], dict) for t in tasks)
    assert all(not t["predictions"] for t in tasks)  # no pre-filled guess by default
    for task in tasks[:3]:
        server.annotate(task, truth[int(task["data"]["autoal_row"])])

    out = sync(capsys, server, workdir)
    assert "(existing)" in out and "3 answers stored, 0 skipped as already known" in out
    assert "0 new tasks pushed" in out
    out = sync(capsys, server, workdir)
    assert "0 answers stored, 3 skipped as already known" in out
    export = tmp_path / "export.json"
    export.write_text(json.dumps(server.tasks(project_id)))
    assert main(["import", str(workdir), str(export)]) == 0
    assert "0 answers stored, 3 skipped as already known" in capsys.readouterr().out

    server.annotate(tasks[3], None, cancel=True)
    for task in tasks[4:]:
        server.annotate(task, truth[int(task["data"]["autoal_row"])])
    out = sync(capsys, server, workdir)
    assert "2 answers stored, 3 skipped as already known, 1 left out as cancelled" in out
    assert "Round 1 started" in out and "6 new tasks pushed" in out
    assert len(server.tasks(project_id)) == 12
    export.write_text(json.dumps(server.tasks(project_id)))  # a second, cumulative export
    assert main(["import", str(workdir), str(export)]) == 0
    assert "0 answers stored, 5 skipped as already known" in capsys.readouterr().out
    stored = answers(workdir)
    assert len(stored) == 5 and not stored.duplicated(["row", "annotator"]).any()
    assert set(stored["annotator"]) == {f"labelstudio:{EMAIL}"}


def test_an_answer_changed_in_label_studio_replaces_the_stored_one(label_studio, table_run,
                                                                  tmp_path, capsys):
    server, (run, truth) = label_studio, table_run
    workdir = copy(run, tmp_path)
    sync(capsys, server, workdir)
    project_id = json.loads((workdir / "labelstudio.json").read_text())["project"]
    tasks = sorted(server.tasks(project_id), key=lambda t: t["data"]["autoal_priority"])
    made = [server.annotate(task, truth[int(task["data"]["autoal_row"])]) for task in tasks[:2]]
    assert "2 answers stored, 0 skipped" in sync(capsys, server, workdir)
    # The labeler opens their first answer again and picks another class.
    row = int(tasks[0]["data"]["autoal_row"])
    other = next(c for c in Project(workdir).classes if c != truth[row])
    server.client.patch(f"/api/annotations/{made[0]['id']}/", {"result": [
        {"from_name": "label", "to_name": "item", "type": "choices",
         "value": {"choices": [other]}}]})
    out = sync(capsys, server, workdir)
    assert "1 answers stored (1 changed in Label Studio, replacing the stored ones), " \
           "1 skipped" in out
    stored = answers(workdir)
    assert len(stored) == 2 and stored.set_index("row").loc[row, "label"] == other
    assert "0 answers stored, 2 skipped" in sync(capsys, server, workdir)
    # A class renamed in autoal: the interface follows; Label Studio's answers, which give
    # the old name, are read as the new one (known already, not changes).
    Project(workdir).rename_class(other, other + "_renamed")
    assert "0 answers stored, 2 skipped" in sync(capsys, server, workdir)
    assert f'<Choice value="{other}_renamed"/>' in server.client.get(
        f"/api/projects/{project_id}/")["label_config"]
    assert answers(workdir).set_index("row").loc[row, "label"] == other + "_renamed"
    # The rest of the batch taken out in autoal (no class fits): the batch is done.
    rest = [int(task["data"]["autoal_row"]) for task in tasks[2:]]
    Project(workdir).exclude(rest, "ana")
    out = sync(capsys, server, workdir)
    assert "Round 1 started" in out and "6 new tasks pushed" in out
    assert not set(rest) & set(Project(workdir).queue()["row"])


def write_pictures(folder, n=12, seed=0):
    """Tiny PNGs under neutral names (the URL shows the path: no class in it)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    rows = []
    for i in range(n):
        top = i % 2 == 0
        pixels = rng.integers(0, 60, size=(16, 16), dtype=np.uint8)
        pixels[slice(0, 8) if top else slice(8, 16)] += 180
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
        rows.append({"image": f"{folder.name}/{i:03d}.png",
                     "label": ("top" if top else "bottom") if i < 4 else None})
    return pd.DataFrame(rows)


def test_image_tasks_load_from_label_studio(label_studio, tmp_path, capsys):
    server = label_studio
    pictures = server.root / "pictures"
    write_pictures(pictures).to_csv(server.root / "labels.csv", index=False)
    workdir = tmp_path / "run"
    Project.init(server.root / "labels.csv", workdir, learner="embedding").next(
        batch=4, progress=False)
    out = sync(capsys, server, workdir, "--ls-document-root", str(server.root))
    assert "4 new tasks pushed" in out
    sync(capsys, server, workdir, "--ls-document-root", str(server.root))  # storage once
    project_id = json.loads((workdir / "labelstudio.json").read_text())["project"]
    storages = server.client.get("/api/storages/localfiles/", project=project_id)
    assert [s["path"] for s in storages] == [str(pictures)]
    for task in server.tasks(project_id):
        url = task["data"]["image"]
        assert url.startswith("/data/local-files/?d=pictures/")
        request = urllib.request.Request(server.url + url,
                                         headers={"Authorization": f"Token {server.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            assert response.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_ml_backend_brings_answers_in_and_the_next_round_out(label_studio, table_run,
                                                                 tmp_path):
    server, (run, truth) = label_studio, table_run
    workdir = copy(run, tmp_path)
    backend = backend_server(workdir, port=0, client=Client(server.url, server.token))
    thread = threading.Thread(target=backend.serve_forever, daemon=True)
    thread.start()
    try:
        project_id = backend.backend.project_id
        assert len(server.tasks(project_id)) == 6  # the first sync pushed the queue
        # What a team does under the project's Settings > Model.
        model = server.client.post("/api/ml/", {
            "url": f"http://127.0.0.1:{backend.server_address[1]}", "project": project_id,
            "title": "autoal"})
        assert model["state"] == "CO", model
        for task in server.tasks(project_id):
            server.annotate(task, truth[int(task["data"]["autoal_row"])])
        deadline = time.monotonic() + 240
        while len(server.tasks(project_id)) < 12 and time.monotonic() < deadline:
            time.sleep(2)
        assert len(answers(workdir)) == 6
        assert Project(workdir).round == 1
        tasks = server.tasks(project_id)
        assert len(tasks) == 12
        assert {t["data"]["autoal_round"] for t in tasks} == {0, 1}
    finally:
        backend.shutdown()
        backend.server_close()


def one_task_project(server, kind, show, classes):
    """A Label Studio project holding one task as autoal writes it; its id and the task's."""
    queue = pd.DataFrame({"round": [0], "row": [7], "kind": ["new"], "show": [show],
                          "guess": [classes[0]], "confidence": [0.6], "score": [0.1]})
    made = server.client.post("/api/projects/", {
        "title": f"autoal {kind} task", "label_config": label_config(classes, kind)})
    if kind == "image":
        server.client.post("/api/storages/localfiles/", {
            "project": made["id"], "path": str(Path(show).parent), "use_blob_urls": True})
    server.client.post(f"/api/projects/{made['id']}/import",
                       to_tasks(queue, kind, root=server.root))
    return made["id"], server.tasks(made["id"])[0]["id"]


def test_tasks_render_in_label_studio(label_studio, browser, tmp_path):
    """An image, a text and a table task as a labeler sees them; with AUTOAL_SCREENSHOTS
    set to a folder, their screenshots go there (ls-image.png, ls-text.png, ls-table.png)."""
    from PIL import Image

    server = label_studio
    folder = server.root / "shots"
    folder.mkdir()
    x, y = np.meshgrid(np.linspace(0, 1, 240), np.linspace(0, 1, 240))
    Image.fromarray((np.stack([x, y, 1 - x], axis=-1) * 255).astype(np.uint8)).save(
        folder / "0001.png")
    shots = os.environ.get("AUTOAL_SCREENSHOTS")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.url + "/user/login/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    cases = {
        "image": (str(folder / "0001.png"), ["pullover", "shirt", "coat"]),
        "text": ("The battery died after two days and support never answered my emails.",
                 ["negative", "positive"]),
        "table": (json.dumps({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                              "petal_width": 0.2}), ["setosa", "versicolor", "virginica"]),
    }
    for name, (show, classes) in cases.items():
        kind = "values" if name == "table" else name
        project_id, task_id = one_task_project(server, kind, show, classes)
        page.goto(f"{server.url}/projects/{project_id}/data?task={task_id}")
        page.get_by_text(classes[-1]).first.wait_for(timeout=60_000)  # the choices
        if name == "table":
            cells = page.locator("table td")
            cells.first.wait_for(timeout=30_000)
            assert {"sepal_length", "5.1", "petal_width", "0.2"} <= set(cells.all_inner_texts())
        elif name == "image":
            page.wait_for_function("() => [...document.images].some(i => i.src.includes("
                                   "'local-files') && i.naturalWidth === 240)", timeout=30_000)
        else:
            page.locator(".lsf-richtext__line", has_text="support never answered").wait_for(
                timeout=30_000)
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(Path(shots) / f"ls-{name}.png"))
    page.close()
