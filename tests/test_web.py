"""The labeling page (autoal.web): its endpoints over plain HTTP, and the page itself in a
real headless browser (Debian's chromium driven by Playwright; never a downloaded one).
What keeps it safe (hosts, origins, sessions, media, stalled clients) is tested in
test_web_security.py.

Each module-scoped fixture builds one project with a real first queue; every test works
on its own copy. Without /usr/bin/chromium the browser tests skip, unless
AUTOAL_REQUIRE_BROWSER=1 (set by .ci/run when it has the browser) makes them fail.
"""

import json
import logging
import os
import queue
import shutil
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from autoal import web
from autoal.project import GIVEN, Project
from autoal.dispatch import CLAIM
from autoal.web import make_server

from conftest import make_blobs_frame, write_images

CHROMIUM = Path("/usr/bin/chromium")
#: Requests go straight to the local server, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start(data, folder, batch=6):
    """A project on ``data`` (rows without a label form the pool) with its first queue."""
    project = Project.init(data, folder / "run", learner="embedding")
    project.next(batch=batch, progress=False)
    return folder / "run"


def keep_a_few_labels(df, per_class):
    df = df.copy()
    df.loc[~df.index.isin(df.groupby("label").head(per_class).index), "label"] = None
    return df


@pytest.fixture(scope="module")
def tabular_run(tmp_path_factory):
    """18 rows of numbers, 3 classes, 6 labeled; a queue of 6."""
    folder = tmp_path_factory.mktemp("web-tabular")
    return start(keep_a_few_labels(make_blobs_frame(n_per_class=6, seed=2), 2), folder)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """12 tiny PNGs, 2 classes, 4 labeled; a queue of 6."""
    folder = tmp_path_factory.mktemp("web-images")
    df = keep_a_few_labels(write_images(folder / "images", n_per_class=6), 2)
    df.to_csv(folder / "labels.csv", index=False)
    return start(folder / "labels.csv", folder)


def copy(run, tmp_path) -> Project:
    shutil.copytree(run, tmp_path / "run")
    return Project(tmp_path / "run")


@contextmanager
def serving(project, **options):
    """The page over ``project`` in a thread; rounds start only from ``next`` unless
    ``auto_next=True`` is given."""
    server, url = make_server(project.path, port=0, **{"auto_next": False, **options})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def call(url, body=None, *, raw=None, content_type="application/json", cookie=None):
    """``(status, content type, body)``; ``body`` is sent as JSON, ``raw`` as it is;
    ``cookie`` is a session's (see :func:`session`)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": content_type} if data is not None else {}
    if cookie is not None:
        headers["Cookie"] = cookie
    try:
        with OPENER.open(urllib.request.Request(url, data=data, headers=headers),
                         timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def session(url, name):
    """Sign in as ``name`` as the page does; the session's cookie (``NAME=TOKEN``)."""
    request = urllib.request.Request(url + "api/login", data=json.dumps({"name": name}).encode(),
                                     headers={"Content-Type": "application/json"})
    with OPENER.open(request, timeout=60) as response:
        return response.headers["Set-Cookie"].split(";")[0]


def mine(project, annotator):
    """What ``annotator`` answered to the current queue, read back from disk."""
    notes = Project(project.path).annotations
    notes = notes[(notes["round"] == project.round + 1) & (notes["annotator"] == annotator)]
    return {str(r): str(c) for r, c in zip(notes["row"], notes["label"])}


def queued(project):
    return [str(r) for r in project.queue()["row"]]


# ---- plain HTTP ------------------------------------------------------------------------


def test_page_and_state(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    with serving(project) as url:
        status, kind, page = call(url)
        assert status == 200 and kind.startswith("text/html")
        assert b"<script>" not in page and b"<style>" not in page  # all from its own files
        assert b'<script src="/app.js"' in page and b"http:" not in page
        for path, expected in (("app.js", "text/javascript"), ("app.css", "text/css")):
            status, kind, body = call(url + path)
            assert status == 200 and kind.startswith(expected)
            assert b"http:" not in body and b"https:" not in body
        assert json.loads(call(url + "api/me")[2]) == {"name": None, "trust_names": False}
        ana = session(url, "ana")
        assert json.loads(call(url + "api/me", cookie=ana)[2])["name"] == "ana"
        status, _, body = call(url + "api/state", cookie=ana)
    state = json.loads(body)
    assert status == 200
    assert state["classes"] == ["class_0", "class_1", "class_2"]
    assert state["annotator"] == "ana"
    assert state["round"] == 0 and state["answered"] == 0 and state["mine"] == []
    # The first rows of the queue, held for ana; the rest are left for others.
    assert [item["row"] for item in state["items"]] == queued(project)[:CLAIM]
    assert state["batch"] == {"size": 6, "left": 6} and state["phase"] == "label"
    item = state["items"][0]
    assert item["show_kind"] == "values" and list(item["show"]) == ["f0", "f1", "f2", "f3"]
    assert item["guess"] in state["classes"] and 0 <= item["confidence"] <= 1
    assert item["kind"] == "new" and item["answers"] == 0


@pytest.mark.slow
def test_the_page_follows_classes_and_rows_added_or_renamed_while_it_serves(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    with serving(project) as url:
        ana = session(url, "ana")
        row = json.loads(call(url + "api/state", cookie=ana)[2])["items"][0]["row"]
        Project(project.path).add_classes(["otter"])  # another process, say
        state = json.loads(call(url + "api/state", cookie=ana)[2])
        assert state["classes"] == ["class_0", "class_1", "class_2", "otter"]
        status, _, body = call(url + "api/answer", {"row": row, "label": "otter"}, cookie=ana)
        assert status == 200, body
        # Rows added, and a round fitted elsewhere with the new class: the page reads them.
        more = make_blobs_frame(n_per_class=1, seed=5).drop(columns=["label"])
        assert Project(project.path).add_rows(more) == 3
        Project(project.path).next(batch=18, progress=False)  # every row without a label
        state = json.loads(call(url + "api/state", cookie=ana)[2])
        assert state["round"] == 1 and state["batch"]["size"] == 14  # 21 rows, 7 labeled
        status, _, body = call(url + "api/answer", {"row": "20", "label": "otter"}, cookie=ana)
        assert status == 200, body
        # A class renamed: the page offers the new name, and takes the old from a page
        # loaded before.
        Project(project.path).rename_class("otter", "seal")
        state = json.loads(call(url + "api/state", cookie=ana)[2])
        assert state["classes"] == ["class_0", "class_1", "class_2", "seal"]
        status, _, body = call(url + "api/answer", {"row": "19", "label": "otter"}, cookie=ana)
        assert status == 200, body
    assert mine(project, "ana") == {"20": "seal", "19": "seal"}
    assert Project(project.path).consensus().loc[
        Project(project.path).row_id(row), "consensus_label"] == "seal"


def test_serve_tells_its_url_and_stops(tabular_run, tmp_path, monkeypatch, caplog):
    project = copy(tabular_run, tmp_path)
    servers = []

    def keep(*args, **kwargs):  # the test's handle to stop serve()
        server, url = make_server(*args, **kwargs)
        servers.append(server)
        return server, url

    monkeypatch.setattr(web, "make_server", keep)
    urls = queue.Queue()
    thread = threading.Thread(target=web.serve, args=(project.path,),
                              kwargs={"port": 0, "ready": urls.put})
    with caplog.at_level(logging.INFO, logger="autoal.web"):
        thread.start()
        url = urls.get(timeout=60)
        assert url.startswith("http://127.0.0.1:") and call(url)[0] == 200
        servers[0].shutdown()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert f"Labeling page: {url}" in caplog.text


def test_make_server_checks_its_arguments(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    with pytest.raises(ValueError, match="The 'port' parameter of serve must be an int >= 0"):
        make_server(project.path, port=-1)
    with pytest.raises(ValueError, match="<= 65535"):
        make_server(project.path, port=70000)
    with pytest.raises(TypeError, match="'allow_hosts' parameter of serve must be a list"):
        make_server(project.path, port=0, allow_hosts="labeling.lan")
    with pytest.raises(FileNotFoundError, match="not an autoal run directory"):
        make_server(tmp_path / "nothing", port=0)
    server, url = make_server(project.path, port=0)
    try:
        with pytest.raises(OSError, match="is in use; pass another port"):
            make_server(project.path, port=server.server_address[1])
    finally:
        server.server_close()


ROW = object()  # stands for the first queued row
LABELED = object()  # stands for a row labeled already, so not in the queue


@pytest.mark.parametrize("path, body, status, match", [
    ("api/login", {"name": "  "}, 400, "non-blank"),
    ("api/login", {}, 400, "non-blank"),
    ("api/login", {"name": GIVEN}, 400, "kept for"),
    ("api/login", {"name": "x" * 81}, 400, "at most 80 printable"),
    ("api/login", {"name": "ana\nbob"}, 400, "printable"),
    ("api/answer", {"row": "nope", "label": "class_0"}, 400, "does not exist"),
    ("api/answer", {"row": None, "label": "class_0"}, 400, "row id"),
    ("api/answer", {"row": ROW, "label": "cat"}, 400, "must be one of"),
    ("api/answer", {"row": LABELED, "label": "class_0"}, 400, "not in the current queue"),
    ("api/answer", b"not json", 400, "not valid JSON"),
    ("api/answer", b"[1, 2]", 400, "JSON object"),
    ("api/answer", "text/plain", 415, "application/json"),
    ("api/answer", None, 405, "takes POST"),
    ("api/state", {}, 405, "takes GET"),
    ("nope", None, 404, "No such page"),
    ("media/" + "ROW", None, 404, "no image"),
    ("media/nope", None, 404, "not in the current queue"),
])
def test_bad_requests_are_refused_and_the_server_keeps_serving(tabular_run, tmp_path, path,
                                                               body, status, match):
    project = copy(tabular_run, tmp_path)
    row = queued(project)[0]
    labeled = str(project.annotations["row"].iloc[0])
    before = (project.path / "annotations.csv").read_bytes()
    path = path.replace("ROW", row)
    with serving(project) as url:
        ana = session(url, "ana")
        if isinstance(body, dict):
            body = {k: row if v is ROW else labeled if v is LABELED else v
                    for k, v in body.items()}
            got = call(url + path, body, cookie=ana)
        elif isinstance(body, bytes):
            got = call(url + path, raw=body, cookie=ana)
        elif isinstance(body, str):
            got = call(url + path, raw=b"{}", content_type=body, cookie=ana)
        else:
            got = call(url + path, cookie=ana)
        assert got[0] == status and got[1] == "application/json"
        assert match in json.loads(got[2])["error"]
        assert call(url + "api/state", cookie=ana)[0] == 200  # still serving
    assert (project.path / "annotations.csv").read_bytes() == before


def test_answer_twice_is_a_conflict_and_undo_withdraws(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    row = queued(project)[0]
    answer = {"row": row, "label": "class_1"}
    with serving(project) as url:
        ana, ben = session(url, "ana"), session(url, "ben")
        status, _, body = call(url + "api/answer", answer, cookie=ana)
        assert status == 200
        assert json.loads(body)["stored"] == {"row": row, "label": "class_1"}
        assert json.loads(body)["state"]["answered"] == 1
        status, _, body = call(url + "api/answer", {**answer, "label": "class_2"}, cookie=ana)
        assert status == 409 and "labeled already" in json.loads(body)["error"]
        assert mine(project, "ana") == {row: "class_1"}  # the first answer stands
        # A second person answering the same row is a second opinion, not a conflict.
        assert call(url + "api/answer", answer, cookie=ben)[0] == 200
        status, _, body = call(url + "api/undo", {}, cookie=ana)
        assert json.loads(body)["undone"] == {"row": row, "label": "class_1"}
        assert json.loads(body)["state"]["answered"] == 0
        status, _, body = call(url + "api/undo", {}, cookie=ana)
        assert status == 200 and json.loads(body)["undone"] is None
    assert mine(project, "ana") == {} and mine(project, "ben") == {row: "class_1"}


def test_an_answer_of_an_earlier_round_is_corrected(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    first, second = queued(project)[:2]
    with serving(project) as url:
        ana, ben = session(url, "ana"), session(url, "ben")
        for row in (first, second):
            assert call(url + "api/answer", {"row": row, "label": "class_0"}, cookie=ana)[0] == 200
        Project(project.path).next(batch=3, progress=False)  # the next round, from elsewhere
        status, _, body = call(url + "api/state", cookie=ana)
        earlier = json.loads(body)["earlier"]
        assert [(e["row"], e["label"], e["round"], e["kind"]) for e in earlier] == [
            (second, "class_0", 1, "earlier"), (first, "class_0", 1, "earlier")]
        assert set(earlier[0]["show"]) == {"f0", "f1", "f2", "f3"}  # the row's values
        assert json.loads(call(url + "api/state", cookie=ben)[2])["earlier"] == []
        status, _, body = call(url + "api/correct", {"row": first, "label": "class_2"},
                               cookie=ana)
        assert status == 200, body
        assert json.loads(body)["corrected"] == {"row": first, "was": "class_0",
                                                 "label": "class_2"}
        assert json.loads(body)["state"]["earlier"][1]["label"] == "class_2"
        # Refused: a row ana never answered, someone else's answer, a class that is none,
        # and an answer to the current batch (undone with u instead).
        now = queued(Project(project.path))[0]
        assert call(url + "api/answer", {"row": now, "label": "class_1"}, cookie=ana)[0] == 200
        for who, body, error in [
                (ana, {"row": now, "label": "class_2"}, "nothing to correct"),
                (ben, {"row": first, "label": "class_1"}, "nothing to correct"),
                (ana, {"row": queued(Project(project.path))[1], "label": "class_1"},
                 "nothing to correct"),
                (ana, {"row": first, "label": "kiwi"}, "must be one of")]:
            status, _, answer = call(url + "api/correct", body, cookie=who)
            assert status == 400 and error in json.loads(answer)["error"], answer
    notes = Project(project.path).annotations
    ana_lines = notes[notes["annotator"] == "ana"].set_index("row")
    assert len(ana_lines) == 3  # corrected in place, not added
    assert ana_lines.loc[project.row_id(first), ["label", "round"]].tolist() == ["class_2", 1]
    assert ana_lines.loc[project.row_id(second), "label"] == "class_0"


def test_an_item_excluded_leaves_the_project_and_undo_puts_it_back(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    q = queued(project)
    server, url = make_server(project.path, port=0, batch=3, refill=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ana = session(url, "ana")
        status, _, body = call(url + "api/exclude", {"row": q[0]}, cookie=ana)
        assert status == 200 and json.loads(body)["excluded"] == {"row": q[0]}
        state = json.loads(body)["state"]
        assert state["batch"] == {"size": 6, "left": 5}
        assert q[0] not in [item["row"] for item in state["items"]]
        body = json.loads(call(url + "api/undo", {}, cookie=ana)[2])
        assert body["undone"] == {"row": q[0], "label": None, "excluded": True}
        assert body["state"]["items"][0]["row"] == q[0]  # shown again, first
        assert body["state"]["batch"]["left"] == 6
        never = next(str(r) for r in project.data.index if str(r) not in q)
        status, _, body = call(url + "api/exclude", {"row": never}, cookie=ana)
        assert status == 400 and "not in the current queue" in json.loads(body)["error"]
        # Every row of the batch taken out (no answer at all): the next round starts.
        for row in q:
            state = json.loads(call(url + "api/exclude", {"row": row}, cookie=ana)[2])["state"]
        assert state["batch"]["left"] == 0
        server.labeling.dispatcher.wait(timeout=300)
        state = json.loads(call(url + "api/state", cookie=ana)[2])
        assert state["round"] == 1 and len(state["items"]) == 3
        assert not set(queued(Project(project.path))) & set(q)
        assert Project(project.path).status()["excluded"] == 6
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_answers_sent_at_once_are_all_stored(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    rows = queued(project)
    with serving(project) as url:
        cookies = {"ana": session(url, "ana"), "ben": session(url, "ben")}
        jobs = [({"row": row, "label": label}, cookies[name])
                for name, label in (("ana", "class_0"), ("ben", "class_2")) for row in rows]
        with ThreadPoolExecutor(len(jobs)) as pool:
            statuses = list(pool.map(
                lambda job: call(url + "api/answer", job[0], cookie=job[1])[0], jobs))
    assert statuses == [200] * len(jobs)
    assert mine(project, "ana") == dict.fromkeys(rows, "class_0")
    assert mine(project, "ben") == dict.fromkeys(rows, "class_2")


@pytest.mark.parametrize("body, status, match", [
    ({"row": "ROW", "label": "class_0", "annotator": "  "}, 400, "annotator"),
    ({"row": "ROW", "label": "class_0", "annotator": GIVEN}, 400, "kept for"),
    ({"row": "ROW", "label": "class_0"}, 401, "Sign in first"),  # no name, no session
])
def test_trusting_names_takes_the_name_a_request_gives(tabular_run, tmp_path, body, status,
                                                       match):
    project = copy(tabular_run, tmp_path)
    row = queued(project)[0]
    with serving(project, trust_names=True) as url:
        got = call(url + "api/answer", {**body, "row": row})
        assert got[0] == status and match in json.loads(got[2])["error"]
        assert json.loads(call(url + "api/me")[2]) == {"name": None, "trust_names": True}
        # As before sessions: any name, no sign-in; one person on their own machine.
        assert call(url + "api/answer", {"row": row, "label": "class_1",
                                         "annotator": "ana"})[0] == 200
        state = json.loads(call(url + "api/state?annotator=ana")[2])
        assert state["answered"] == 1 and state["annotator"] == "ana"
        body = json.loads(call(url + "api/undo", {"annotator": "ana"})[2])
        assert body["undone"] == {"row": row, "label": "class_1"}
        # Names are not one person's: two sessions may share one.
        assert session(url, "ana") != session(url, "ana")
    assert mine(project, "ana") == {}


@pytest.mark.slow
def test_media_serves_only_queued_images(image_run, tmp_path):
    project = copy(image_run, tmp_path)
    row = queued(project)[0]
    labeled = str(project.annotations["row"].iloc[0])
    with serving(project) as url:
        ana = session(url, "ana")
        status, kind, body = call(url + "media/" + row, cookie=ana)
        assert status == 200 and kind == "image/png"
        assert body == project.media(project.queue()["row"].iloc[0]).read_bytes()
        for path in (labeled, "nope", "..%2F..%2Fautoal.json", "../autoal.json",
                     quote("/etc/passwd", safe="")):
            status, _, body = call(url + "media/" + path, cookie=ana)
            assert status == 404, path
        status, _, body = call(url + "api/state", cookie=ana)
        assert json.loads(body)["items"][0]["show"] == f"/media/{row}"


# ---- in a real browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright's sync API."""
    required = os.environ.get("AUTOAL_REQUIRE_BROWSER") == "1"
    why = None
    if not CHROMIUM.is_file():
        why = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import expect, sync_playwright
        except ImportError:
            why = "playwright is not installed (uv sync installs the dev group)"
    if why:
        if required:
            pytest.fail(f"AUTOAL_REQUIRE_BROWSER=1 but {why}.")
        pytest.skip(f"No browser for the labeling page tests: {why}.")
    expect.set_options(timeout=20_000)  # a busy 2-core machine is slow
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


def sign_in(browser, url, name, console=None):
    """A page signed in as ``name``, in a browser context of its own (its own cookies);
    its console messages and errors go to the list ``console``, if given."""
    page = browser.new_context().new_page()
    if console is not None:
        page.on("console", lambda message: console.append(message.text))
        page.on("pageerror", lambda error: console.append(str(error)))
    response = page.goto(url)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.fill("#name", name)
    page.press("#name", "Enter")
    return page


def session_cookie(page) -> str:
    """The session cookie of a signed-in page (HttpOnly: its script cannot read it)."""
    cookie, = [c for c in page.context.cookies() if c["name"].startswith("autoal_")]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    return f"{cookie['name']}={cookie['value']}"


@pytest.mark.slow
def test_label_images_with_clicks_and_keys_then_reload(browser, image_run, tmp_path):
    from playwright.sync_api import expect

    project = copy(image_run, tmp_path)
    q = queued(project)
    guesses = dict(zip(q, project.queue()["guess"].astype(str)))
    assert project.classes == ["bottom", "top"] and len(q) == 6
    console = []
    with serving(project) as url:
        page = sign_in(browser, url, "ana", console)
        item, progress = page.locator("#item"), page.locator("#progress")

        def at(row, answered, done=None):
            done = answered if done is None else done
            expect(progress).to_have_text(f"{answered} by you \u00b7 {done} / 6 done")
            expect(item).to_have_attribute("data-row", row)

        at(q[0], 0)
        page.wait_for_function("() => { const i = document.querySelector('#show img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        # A 16-pixel image fills the space, drawn with crisp pixels.
        expect(page.locator("#show img.tiny")).to_have_count(1)
        assert page.eval_on_selector("#show img", "i => i.getBoundingClientRect().height") > 200
        expect(page.locator("#buttons button")).to_have_text(["1bottom", "2top"])
        expect(page.locator("#buttons button.guess")).to_have_text(f"{KEYS[guesses[q[0]]]}"
                                                                   f"{guesses[q[0]]}")
        expect(page.locator("#guess")).to_contain_text("Enter accepts it")
        page.click("#buttons button[data-label='top']")
        at(q[1], 1)
        page.keyboard.press("Enter")  # the model's guess
        at(q[2], 2)
        page.keyboard.press("s")
        at(q[3], 2)
        page.keyboard.press("2")
        at(q[4], 3)
        page.keyboard.press("u")  # withdraws the answer to q[3] and shows it again
        at(q[3], 2)
        expect(page.locator("#note")).to_have_text(f"Undone: your answer top to row {q[3]}; "
                                                   f"it is shown again.")
        page.keyboard.press("x")  # excluded: it leaves the project, the batch is one less
        at(q[4], 2, done=3)
        expect(page.locator("#note")).to_contain_text(f"Excluded row {q[3]}")
        page.keyboard.press("u")
        at(q[3], 2)
        expect(page.locator("#note")).to_have_text(f"Undone: you excluded row {q[3]}; it is "
                                                   f"shown again.")
        assert Project(project.path).status()["excluded"] == 0
        assert mine(project, "ana") == {q[0]: "top", q[1]: guesses[q[1]]}

        page.reload()  # still signed in (the cookie); the undone row first, q[2] skipped
        expect(page.locator("#login")).to_be_hidden()
        at(q[3], 2)
        expect(page.locator("#note")).to_contain_text(f"row {q[1]} \u2192 {guesses[q[1]]}")
        page.keyboard.press("Backspace")
        at(q[1], 1)
        for n, row in enumerate([q[1], *q[3:]], start=1):
            at(row, n)
            page.keyboard.press("2")
        expect(page.locator("#done")).to_contain_text("You skipped the 1 item(s)")
        page.click("#done button")
        at(q[2], 5)
        page.keyboard.press("2")
        expect(progress).to_have_text("6 by you \u00b7 6 / 6 done")
        expect(page.locator("#done")).to_contain_text("autoal next")  # no rounds from here
        expect(item).to_be_hidden()
        assert mine(project, "ana") == dict.fromkeys(q, "top")
        assert page.request.get(url + "media/" + q[0]).status == 200
        labeled = str(project.annotations["row"].iloc[0])
        assert page.request.get(url + "media/" + labeled).status == 404

        # A mistake seen a round later: the page offers one's earlier answers to correct.
        Project(project.path).next(batch=2, progress=False)
        page.reload()
        expect(page.locator("#earlier")).to_be_visible()
        page.click("#earlier summary")
        page.click(f"#earlier button[data-row='{q[0]}']")
        expect(item).to_have_attribute("data-row", q[0])
        expect(page.locator("#meta")).to_contain_text("your answer in round 1: top")
        expect(page.locator("#controls")).to_be_hidden()
        expect(page.locator("#buttons button.guess")).to_have_text("2top")
        page.keyboard.press("Escape")  # back to the new batch
        expect(item).not_to_have_attribute("data-row", q[0])
        expect(page.locator("#controls")).to_be_visible()
        page.click(f"#earlier button[data-row='{q[0]}']")
        page.wait_for_function("() => { const i = document.querySelector('#show img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        page.keyboard.press("1")
        expect(page.locator("#note")).to_have_text(f"Corrected row {q[0]}: top \u2192 bottom.")
        expect(page.locator(f"#earlier button[data-row='{q[0]}']")).to_have_text(
            f"Row {q[0]}: bottom (round 1)")
        notes = Project(project.path).annotations
        ana_lines = notes[notes["annotator"] == "ana"]
        assert len(ana_lines) == 6 and (ana_lines["label"] == "bottom").sum() == 1
    assert not [m for m in console if "Content Security Policy" in m], console


#: The key of each class of the image project.
KEYS = {"bottom": "1", "top": "2"}


@pytest.mark.slow
def test_two_people_label_at_once(browser, tabular_run, tmp_path):
    from playwright.sync_api import expect

    project = copy(tabular_run, tmp_path)
    q = queued(project)
    with serving(project) as url:
        ana = sign_in(browser, url, "ana")
        expect(ana.locator("#item")).to_have_attribute("data-row", q[0])
        ben = sign_in(browser, url, "ben")  # the first rows are ana's: ben gets others
        expect(ben.locator("#item")).to_have_attribute("data-row", q[CLAIM])
        expect(ana.locator("#show th")).to_have_text(["f0", "f1", "f2", "f3"])
        ana.keyboard.press("1")
        ben.keyboard.press("2")
        expect(ana.locator("#item")).to_have_attribute("data-row", q[1])
        expect(ben.locator("#item")).to_have_attribute("data-row", q[CLAIM + 1])
        expect(ben.locator("#progress")).to_have_text("1 by you \u00b7 2 / 6 done")
        # The name is ana's: a third browser cannot take it.
        thief = sign_in(browser, url, "ana")
        expect(thief.locator("#login-error")).to_contain_text("in use; open your own link")
        expect(thief.locator("#work")).to_be_hidden()
        # The same person answering a row twice (another tab, say) is refused, on the page.
        assert call(url + "api/answer", {"row": q[1], "label": "class_1"},
                    cookie=session_cookie(ana))[0] == 200
        ana.keyboard.press("3")
        expect(ana.locator("#error")).to_contain_text("labeled already")
        expect(ana.locator("#item")).to_have_attribute("data-row", q[2])
        expect(ana.locator("#progress")).to_have_text("2 by you \u00b7 3 / 6 done")
    assert mine(project, "ana") == {q[0]: "class_0", q[1]: "class_1"}
    assert mine(project, "ben") == {q[CLAIM]: "class_1"}


# ---- who labels what, and when ------------------------------------------------------------


def test_people_get_rows_of_their_own_until_a_lease_runs_out(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    q = queued(project)

    def held(cookie):
        state = json.loads(call(url + "api/state", cookie=cookie)[2])
        return [item["row"] for item in state["items"]], state

    with serving(project, lease=1.5) as url:
        ana, ben, cy = session(url, "ana"), session(url, "ben"), session(url, "cy")
        assert held(ana)[0] == q[:CLAIM] and held(ben)[0] == q[CLAIM:2 * CLAIM]
        rows, state = held(cy)  # everything is held: cy waits
        assert rows == [] and state["phase"] == "waiting"
        assert "with other labelers" in state["message"]
        assert held(ana)[0] == q[:CLAIM]  # asking again keeps one's rows
        time.sleep(2)  # ana's and ben's pages are closed: their leases run out
        assert held(cy)[0] == q[:CLAIM]
        assert call(url + "api/answer", {"row": q[0], "label": "class_0"}, cookie=cy)[0] == 200
        assert held(cy)[0] == [*q[1:CLAIM], q[CLAIM]]
        # Skipping hands a row back to the others; the skipper sees it again only on asking.
        body = json.loads(call(url + "api/skip", {"row": q[1]}, cookie=cy)[2])
        assert q[1] not in [item["row"] for item in body["state"]["items"]]
        assert held(ana)[0][0] == q[1]
        body = json.loads(call(url + "api/skip", {"again": True}, cookie=cy)[2])
        assert body["state"]["batch"] == {"size": 6, "left": 5}


def test_an_item_shown_before_the_queue_moved_on_is_still_answered(tabular_run, tmp_path):
    project = copy(tabular_run, tmp_path)
    q = queued(project)
    with serving(project) as url:
        ana = session(url, "ana")
        call(url + "api/state", cookie=ana)  # ana is shown q[0] ...
        for row in q[1:]:
            project.record(row, "class_1", "ben")
        Project(project.path).next(batch=2, progress=False)  # ... when a new batch comes
        status, _, body = call(url + "api/answer", {"row": q[0], "label": "class_0"},
                               cookie=ana)
        assert status == 200, body
        assert json.loads(body)["state"]["round"] == 1
    notes = Project(project.path).annotations
    assert notes[notes["annotator"] == "ana"]["row"].astype(str).tolist() == [q[0]]


def test_second_opinions_go_to_someone_who_has_not_labeled_the_row():
    import pandas as pd

    from autoal.dispatch import open_rows

    picks = pd.DataFrame({"row": [1, 2, 3], "kind": ["new", "relabel", "new"]})
    notes = pd.DataFrame({"row": [2, 3], "annotator": ["ana", "ben"],
                          "label": ["a", "b"], "round": [0, 1]})
    needed = open_rows(picks, notes, 0)
    assert list(needed) == [1, 2]  # row 3 was answered since it was queued
    assert "ana" in needed[1] and "ben" in needed[1]
    assert "ana" not in needed[2] and "ben" in needed[2]


@pytest.mark.slow
def test_the_next_round_starts_on_its_own_and_a_stop_rule_ends_the_run(tabular_run,
                                                                       tmp_path):
    from autoal.stopping import Budget

    project = copy(tabular_run, tmp_path)
    q = queued(project)
    server, url = make_server(project.path, port=0, batch=3, refill=0, stop=Budget(12))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ana = session(url, "ana")
        for row in q:
            state = json.loads(call(url + "api/answer", {"row": row, "label": "class_0"},
                                    cookie=ana)[2])["state"]
        assert state["phase"] == "fitting" and "being prepared" in state["message"]
        server.labeling.dispatcher.wait(timeout=300)
        state = json.loads(call(url + "api/state", cookie=ana)[2])
        assert state["round"] == 1 and state["items"] == []
        assert state["phase"] == "stopped" and "label budget of 12 reached" in state["message"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
