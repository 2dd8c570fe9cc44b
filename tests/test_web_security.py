"""What keeps the labeling page safe (autoal.web), one test per finding of its security
review: requests for another host (DNS rebinding) and POSTs from another origin are
refused; people act only as themselves (sessions); ``/media`` sends only images inside
the data root, typed by content, and ``init`` refuses the rest; every response carries
the security headers; stalled clients are dropped without taking every thread.

One module-scoped project with a real first queue (one fit); every test that answers
works on its own copy of the run directory. Its data holds what an attacker would plant
in the files of the first queued rows, after the fit: a symlink to a PNG outside the
data root, an HTML page and an SVG with a script (both named .png), and a JPEG named .png.
"""

import hashlib
import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from PIL import Image

from autoal import web
from autoal.project import Project
from autoal.project import check
from autoal.web import sign_in_links

from conftest import write_images
from test_web import browser  # noqa: F401  (the fixture, shared with test_web)
from test_web import call, copy, keep_a_few_labels, mine, queued, serving, session, sign_in

HTML = "<!doctype html><script>console.log('pwned'); window.pwned = 1;" \
       "fetch('/api/state').then(r => r.text()).then(t => console.log('pwned ' + t));</script>"
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
       "<script>console.log('pwned'); window.pwned = 1;</script></svg>")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """12 tiny PNGs in data/, 2 classes, 4 labeled, a queue of 6; then the files of
    queued rows 0-3 are swapped for: a symlink to a PNG outside data/, an HTML page, an
    SVG with a script, a JPEG (all named .png)."""
    folder = tmp_path_factory.mktemp("web-security")
    root = folder / "data"
    df = keep_a_few_labels(write_images(root / "images", n_per_class=6), 2)
    df.to_csv(root / "labels.csv", index=False)
    project = Project.init(root / "labels.csv", folder / "run", learner="embedding")
    project.next(batch=6, progress=False)
    files = [project.media(row) for row in project.queue()["row"]]
    outside = folder / "outside.png"
    shutil.copy(files[0], outside)
    files[0].unlink()
    files[0].symlink_to(outside)
    files[1].write_text(HTML)
    files[2].write_text(SVG)
    Image.open(files[3]).convert("RGB").save(files[3], format="JPEG")
    return folder / "run"


def request(url, method="GET", path="/", body=None, headers=None):
    """``(status, headers, body)`` over plain http.client; a ``Host`` in ``headers``
    replaces the one it would send."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def raw(url, data: bytes) -> bytes:
    """What the server answers to ``data`` sent as it is, up to its closing."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as connection:
        connection.sendall(data)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def stored(project) -> str:
    return hashlib.sha256((project.path / "annotations.csv").read_bytes()).hexdigest()


def error(body: bytes) -> str:
    return json.loads(body)["error"]


# ---- DNS rebinding: Host and Origin ---------------------------------------------------


def test_requests_for_another_host_are_refused(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    row = queued(project)[4]
    before = stored(project)
    with serving(project, allow_hosts=["labeling.lan", "10.0.0.5:9000"]) as url:
        port = urlsplit(url).port
        ana = session(url, "ana")
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}",
                     f"localhost.evil.example:{port}", f"labeling.lan:{port + 1}"):
            for method, path, body in (("GET", "/", None), ("GET", "/api/state", None),
                                       ("POST", "/api/answer", {"row": row, "label": "top"}),
                                       ("POST", "/api/undo", {}),
                                       ("POST", "/api/login", {"name": "eve"})):
                status, headers, data = request(url, method, path, body,
                                                {"Host": host, "Cookie": ana})
                assert status == 421, (host, path)
                assert "This page answers to" in error(data)
                assert headers["Content-Type"] == "application/json"
        for missing_or_twice in (b"GET /api/me HTTP/1.0\r\n\r\n",
                                 f"GET /api/me HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
                                 f"Host: evil.example\r\n\r\n".encode()):
            assert raw(url, missing_or_twice).startswith(b"HTTP/1.0 421 ")
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}",
                     f"labeling.lan:{port}", "10.0.0.5:9000"):
            status, _, data = request(url, "GET", "/api/state", headers={"Host": host,
                                                                         "Cookie": ana})
            assert status == 200 and json.loads(data)["annotator"] == "ana", host
    assert stored(project) == before


def test_posts_from_another_origin_are_refused_and_change_nothing(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    row = queued(project)[4]
    with serving(project) as url:
        port = urlsplit(url).port
        ana = session(url, "ana")
        assert call(url + "api/answer", {"row": queued(project)[5], "label": "top"},
                    cookie=ana)[0] == 200
        before, people = stored(project), (project.path / "labelers.json").read_bytes()
        for origin in ("http://evil.example", f"http://evil.example:{port}", "null",
                       f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"):
            for path, body in (("/api/answer", {"row": row, "label": "top"}),
                               ("/api/undo", {}), ("/api/login", {"name": "eve"})):
                status, _, data = request(url, "POST", path, body,
                                          {"Origin": origin, "Cookie": ana})
                assert status == 403 and "only the labeling page" in error(data), origin
        assert stored(project) == before
        assert (project.path / "labelers.json").read_bytes() == people
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            status, _, data = request(url, "POST", "/api/undo", {},
                                      {"Origin": origin, "Cookie": ana})
            assert status == 200, origin
    assert mine(project, "ana") == {}


# ---- people act as themselves -----------------------------------------------------------


def test_without_a_session_nothing_is_shown_or_stored(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    q = queued(project)
    before = stored(project)
    with serving(project) as url:
        for cookie in (None, "autoal_x=forged", "not a cookie=;;"):
            for path, body in (("api/state", None), ("api/answer", {"row": q[4], "label": "top",
                                                                    "annotator": "ana"}),
                               ("api/undo", {"annotator": "ana"}), (f"media/{q[4]}", None)):
                status, _, data = call(url + path, body, cookie=cookie)
                assert status == 401 and "Sign in first" in error(data), (path, cookie)
        assert json.loads(call(url + "api/me")[2])["name"] is None
    assert stored(project) == before


def test_one_person_cannot_undo_or_see_anothers_answers(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    q = queued(project)
    with serving(project) as url:
        ana, ben = session(url, "ana"), session(url, "ben")
        assert call(url + "api/answer", {"row": q[4], "label": "top"}, cookie=ana)[0] == 200
        state = json.loads(call(url + "api/state?annotator=ana", cookie=ben)[2])
        assert state["annotator"] == "ben" and state["mine"] == [] and state["answered"] == 0
        assert q[4] not in [item["row"] for item in state["items"]]  # answered: not open
        status, _, data = call(url + "api/undo", {"annotator": "ana"}, cookie=ben)
        assert status == 200 and json.loads(data)["undone"] is None
        # A name in the body is not who answers: the session is.
        assert call(url + "api/answer", {"row": q[5], "label": "bottom", "annotator": "ana"},
                    cookie=ben)[0] == 200
        state = json.loads(call(url + "api/state", cookie=ana)[2])
        assert state["mine"] == [{"row": q[4], "label": "top"}]
    assert mine(project, "ana") == {q[4]: "top"} and mine(project, "ben") == {q[5]: "bottom"}


def test_a_name_is_one_persons_and_links_sign_people_in(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    q = queued(project)
    project.import_answers(pd.DataFrame({"row": [q[4]], "label": ["top"]}), annotator="zoe")
    with serving(project) as url:
        ana = session(url, "ana")
        status, _, data = call(url + "api/login", {"name": "ana"})
        assert status == 409 and "in use; open your own link" in error(data)
        status, _, data = call(url + "api/login", {"name": "bob"}, cookie=ana)
        assert status == 409 and "signed in as 'ana' already" in error(data)
        assert call(url + "api/login", {"name": "ana"}, cookie=ana)[0] == 200  # the same one
        status, _, data = call(url + "api/login", {"name": "zoe"})  # imported answers
        assert status == 409 and "answers under the name 'zoe'" in error(data)

        link = sign_in_links(project.path, ["zoe"], url)["zoe"]
        assert link.startswith(url + "?token=")
        status, headers, _ = request(url, "GET", link[len(url) - 1:])
        assert status == 303 and headers["Location"] == "/"
        cookie, *flags = headers["Set-Cookie"].split("; ")
        assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(flags)
        state = json.loads(call(url + "api/state", cookie=cookie)[2])
        assert state["annotator"] == "zoe" and state["mine"] == [{"row": q[4], "label": "top"}]
        assert request(url, "GET", "/?token=forged")[0] == 403
        saved = (project.path / "labelers.json").read_text()
        assert cookie.split("=", 1)[1] not in saved and ana.split("=", 1)[1] not in saved
    with serving(project) as url:  # a restart keeps people signed in
        assert json.loads(call(url + "api/me", cookie=ana)[2])["name"] == "ana"
        (project.path / "labelers.json").unlink()  # deleting it signs everyone out
        assert call(url + "api/state", cookie=ana)[0] == 401
    with pytest.raises(ValueError, match="kept for"):
        sign_in_links(project.path, ["given"], url)


# ---- media -------------------------------------------------------------------------------


def test_media_sends_only_images_inside_the_data_root(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    q = queued(project)
    with serving(project) as url:
        ana = session(url, "ana")
        expected = {q[0]: (403, "outside the project's data root"),  # symlink to outside
                    q[1]: (415, "not a PNG, JPEG"), q[2]: (415, "not a PNG, JPEG")}
        for row, (status, match) in expected.items():
            got = call(url + "media/" + row, cookie=ana)
            assert got[0] == status and got[1] == "application/json", row
            assert match in error(got[2])
        for row, kind in ((q[3], "image/jpeg"), (q[4], "image/png")):  # by content
            status, headers, body = request(url, "GET", f"/media/{row}",
                                            headers={"Cookie": ana})
            assert status == 200 and headers["Content-Type"] == kind
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert body == project.media(project.row_id(row)).read_bytes()


def test_security_headers_are_on_every_response(planted_run, tmp_path):
    project = copy(planted_run, tmp_path)
    row = queued(project)[4]
    with serving(project) as url:
        ana = session(url, "ana")
        for path, host, status in (("/", None, 200), ("/app.js", None, 200),
                                   ("/api/state", None, 200), (f"/media/{row}", None, 200),
                                   ("/nope", None, 404), ("/", "evil.example", 421),
                                   ("/?token=forged", None, 403)):
            headers = {"Cookie": ana, **({"Host": host} if host else {})}
            got, sent, _ = request(url, "GET", path, headers=headers)
            assert got == status, path
            policy = sent["Content-Security-Policy"]
            for directive in ("default-src 'self'", "img-src 'self' data:",
                              "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
                assert directive in policy, (path, directive)
            if path == "/" and status == 200:  # the page: its own script, nothing inline
                assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            else:  # an image or JSON opened on its own: no script at all
                assert "script-src 'none'" in policy and "sandbox" in policy
            assert "unsafe-eval" not in policy
            assert sent["X-Content-Type-Options"] == "nosniff"
            assert sent["Referrer-Policy"] == "no-referrer"


# ---- init checks the images ---------------------------------------------------------------


def image_table(folder):
    """labels.csv in ``folder``/data over 6 PNGs in data/images, 2 labeled per class."""
    root = folder / "data"
    df = keep_a_few_labels(write_images(root / "images", n_per_class=3), 2)
    return root, df


def test_init_refuses_images_outside_the_data_root(tmp_path):
    root, df = image_table(tmp_path)
    elsewhere = write_images(tmp_path / "elsewhere", n_per_class=1)
    df.loc[0, "image_path"] = str(tmp_path / elsewhere["image_path"][0])  # absolute
    df.to_csv(root / "labels.csv", index=False)
    with pytest.raises(ValueError, match=r"1 path\(s\) lie outside the data root .*elsewhere"
                                         r".*--data-root DIR"):
        Project.init(root / "labels.csv", tmp_path / "run", learner="embedding")
    assert not (tmp_path / "run").exists()
    done = subprocess.run([sys.executable, "-m", "autoal.cli", "init", "data/labels.csv",
                           "--workdir", "run", "--learner", "embedding"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "outside the data root" in done.stderr, done.stderr
    assert "--data-root" in done.stderr
    # A symlink inside the root to a file outside it counts as outside too.
    df.loc[0, "image_path"] = "images/link.png"
    (root / "images" / "link.png").symlink_to(tmp_path / elsewhere["image_path"][0])
    df.to_csv(root / "labels.csv", index=False)
    with pytest.raises(ValueError, match="outside the data root"):
        Project.init(root / "labels.csv", tmp_path / "run", learner="embedding")
    with pytest.raises(ValueError, match="'data_root' parameter of Project.init must be an"):
        Project.init(root / "labels.csv", tmp_path / "run", data_root=tmp_path / "nope")
    project = Project.init(root / "labels.csv", tmp_path / "run", learner="embedding",
                           data_root=tmp_path)
    assert project.data_root == tmp_path.resolve()
    assert json.loads((project.path / "autoal.json").read_text())["data_root"] == str(
        tmp_path.resolve())


def test_a_project_finds_its_images_after_a_move_and_is_told_where_they_went(tmp_path):
    root, df = image_table(tmp_path / "a")
    df.to_csv(root / "labels.csv", index=False)
    Project.init(root / "labels.csv", tmp_path / "a" / "runs" / "p", learner="embedding")
    # Moved with its images (a folder renamed, a copy on another machine): found there.
    shutil.move(tmp_path / "a", tmp_path / "b")
    project = Project(tmp_path / "b" / "runs" / "p")
    assert project.data_root == (tmp_path / "b" / "data").resolve()
    assert all(project.media(row).is_file() for row in project.data.index)
    project.next(batch=2, progress=False)
    assert project.queue()["show"].str.startswith(str(project.data_root)).all()

    # The images alone moved: refused, naming the fix, until the project is told where.
    shutil.move(tmp_path / "b" / "data", tmp_path / "c")
    project = Project(tmp_path / "b" / "runs" / "p")
    with pytest.raises(FileNotFoundError, match=r"6 of the project's images are missing: .*"
                                                r"'autoal relocate .* NEW_FOLDER'"):
        project.next(batch=2, progress=False)
    with pytest.raises(FileNotFoundError, match="images are missing"):
        project.train()
    with pytest.raises(FileNotFoundError, match="images are missing"):
        web.make_server(project.path, port=0)
    found = check(project.path)
    assert [f.level for f in found if "images" in f.text] == ["problem"]
    assert any("'autoal relocate" in f.text for f in found)
    with pytest.raises(ValueError, match=r"6 of the project's images are not in .* as they "
                                         r"were in .*data: .*Pass the folder"):
        project.relocate(tmp_path)
    with pytest.raises(ValueError, match="'data_root' parameter of Project.relocate must be"):
        project.relocate(tmp_path / "nope")
    done = subprocess.run([sys.executable, "-m", "autoal.cli", "relocate", "runs/p",
                           str(tmp_path / "c")], cwd=tmp_path / "b", capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "now read from" in done.stdout, done.stderr
    project = Project(tmp_path / "b" / "runs" / "p")
    assert project.data_root == (tmp_path / "c").resolve()
    assert project.check_images() == 6
    assert f"ok: images: all 6 are in {project.data_root}." in [
        f"{f.level}: {f.text}" for f in check(project.path)]
    assert project.next(batch=2, progress=False)["show"].str.startswith(
        str(project.data_root)).all()
    # The stored paths stay as they were: the project is only told where they are now.
    stored = pd.read_parquet(project.path / "data.parquet")["image_path"]
    assert stored.str.startswith(str((tmp_path / "a" / "data").resolve())).all()

    # Rows added later: their images in the data root, stored as the others are.
    new = write_images(tmp_path / "c" / "more", n_per_class=1, seed=3).drop(columns=["label"])
    new.to_csv(tmp_path / "c" / "more.csv", index=False)
    assert project.add_rows(tmp_path / "c" / "more.csv") == 2
    assert project.data["image_path"].iloc[-2:].map(lambda p: Path(p).is_file()).all()
    stored = pd.read_parquet(project.path / "data.parquet")["image_path"]
    assert stored.str.startswith(str((tmp_path / "a" / "data").resolve())).all()
    elsewhere = write_images(tmp_path / "elsewhere", n_per_class=1, seed=4)
    with pytest.raises(ValueError, match="2 path\\(s\\) lie outside the data root"):
        project.add_rows(elsewhere.drop(columns=["label"]), base_dir=tmp_path)
    assert len(Project(project.path).data) == 8

    table = Project.init(pd.DataFrame({"x": [1.0, 2, 3, 4], "label": ["u", "v", None, None]}),
                         tmp_path / "t")
    with pytest.raises(ValueError, match="has no image column .* no files to relocate"):
        table.relocate(tmp_path)


def test_init_refuses_files_that_are_not_images(tmp_path):
    root, df = image_table(tmp_path)
    (root / df["image_path"][0]).write_text(HTML)
    (root / df["image_path"][1]).write_text(SVG)
    df.to_csv(root / "labels.csv", index=False)
    with pytest.raises(ValueError, match="2 cannot be opened as images"):
        Project.init(root / "labels.csv", tmp_path / "run", learner="embedding")
    assert not (tmp_path / "run").exists()


# ---- stalled clients ---------------------------------------------------------------------


def is_open(connection) -> bool:
    """Whether the server has kept ``connection`` open (and sent nothing on it)."""
    connection.setblocking(False)
    try:
        return connection.recv(1) != b""
    except BlockingIOError:
        return True
    finally:
        connection.setblocking(True)


def test_stalled_clients_are_dropped_and_cannot_take_every_thread(planted_run, tmp_path,
                                                                   monkeypatch):
    project = copy(planted_run, tmp_path)
    with serving(project) as url:
        parts = urlsplit(url)
        address = (parts.hostname, parts.port)
        assert call(url + "api/me")[0] == 200
        threads = threading.active_count()
        # 40 clients that connect and send nothing hold no thread, and are closed.
        monkeypatch.setattr(web, "READ_TIMEOUT", 5.0)
        silent = [socket.create_connection(address, timeout=30) for _ in range(40)]
        try:
            assert call(url + "api/me")[0] == 200  # answered meanwhile
            assert all(is_open(c) for c in silent)
            assert threading.active_count() <= threads + web.WORKERS
            assert all(c.recv(1) == b"" for c in silent)  # closed by the server
        finally:
            for connection in silent:
                connection.close()
        # 20 that start a request and never finish it hold at most WORKERS threads.
        monkeypatch.setattr(web, "READ_TIMEOUT", 2.0)
        slow = [socket.create_connection(address, timeout=30) for _ in range(20)]
        try:
            for connection in slow:
                connection.sendall(b"GET /api/me HTTP/1.1\r\nHost: ")
            most, end = 0, time.monotonic() + 2
            while time.monotonic() < end:
                most = max(most, threading.active_count())
                time.sleep(0.05)
            assert most <= threads + web.WORKERS
            assert all(c.recv(1) == b"" for c in slow)  # cut off, answered nothing
        finally:
            for connection in slow:
                connection.close()
        assert call(url + "api/me")[0] == 200


def test_connections_beyond_the_cap_are_closed_at_once(planted_run, tmp_path, monkeypatch):
    project = copy(planted_run, tmp_path)
    monkeypatch.setattr(web, "MAX_CONNECTIONS", 5)
    monkeypatch.setattr(web, "READ_TIMEOUT", 60.0)
    with serving(project) as url:
        parts = urlsplit(url)
        held = [socket.create_connection((parts.hostname, parts.port), timeout=30)
                for _ in range(8)]
        try:
            # The server closes the three beyond the cap long before READ_TIMEOUT.
            assert [c.recv(1) for c in held[5:]] == [b""] * 3
            assert all(is_open(c) for c in held[:5])
        finally:
            for connection in held:
                connection.close()
        for _ in range(100):  # the server sees them go, then answers again
            try:
                if call(url + "api/me")[0] == 200:
                    break
            except OSError:  # closed: still at the cap
                pass
            time.sleep(0.1)
        else:
            pytest.fail("The server did not answer once the connections closed.")


# ---- in a real browser -------------------------------------------------------------------


@pytest.mark.slow
def test_in_the_browser_sessions_work_and_media_never_runs_script(browser, planted_run,
                                                                  tmp_path):
    from playwright.sync_api import expect

    project = copy(planted_run, tmp_path)
    q = queued(project)
    console = []
    with serving(project) as url:
        page = sign_in(browser, url, "ana", console)
        item, progress = page.locator("#item"), page.locator("#progress")
        expect(item).to_have_attribute("data-row", q[0])  # its image is refused: broken
        page.keyboard.press("2")
        expect(progress).to_have_text("1 by you \u00b7 1 / 6 done")
        expect(item).to_have_attribute("data-row", q[1])
        page.keyboard.press("u")
        expect(progress).to_have_text("0 by you \u00b7 0 / 6 done")
        expect(item).to_have_attribute("data-row", q[0])
        for row in q[:3]:  # a symlink out, an HTML page, an SVG with a script
            response = page.goto(url + "media/" + row)
            assert response.status in (403, 415)
            assert response.headers["content-type"] == "application/json"
            assert "sandbox" in response.headers["content-security-policy"]
            assert page.evaluate("() => window.pwned") is None
        response = page.goto(url + "media/" + q[4])
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        page.goto(url)
        expect(progress).to_have_text("0 by you \u00b7 0 / 6 done")  # still signed in
        assert page.evaluate("() => document.cookie") == ""  # HttpOnly
        assert mine(project, "ana") == {}
        # A link signs its person in, in their own browser.
        link = sign_in_links(project.path, ["bea"], url)["bea"]
        other = browser.new_context().new_page()
        other.goto(link)
        expect(other.locator("#who")).to_have_text("Labeling as bea")
        assert other.url == url  # the token is gone from the address bar
        assert not [m for m in console if "pwned" in m], console
        assert not [m for m in console if "Content Security Policy" in m], console
        # Script slipped into the page (an XSS) is blocked by the policy, and reported.
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            page.evaluate("() => { const s = document.createElement('script');"
                          " s.textContent = 'window.pwned = 1'; document.body.append(s); }")
        assert page.evaluate("() => window.pwned") is None
