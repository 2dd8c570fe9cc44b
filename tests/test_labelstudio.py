"""Label Studio without a server: tasks it can show, cumulative exports imported
incrementally, every other export shape refused naming the task and the field, and the
ML backend protocol. One real AutoGluon fit builds the queue all tests share; the tests
against a real Label Studio are in test_labelstudio_server.py."""

import json
import shutil
import threading
import urllib.request

import pandas as pd
import pytest

from autoal.cli import main
from autoal.labelstudio import (backend_server, image_url, label_config, read_answers,
                                read_export, to_tasks)
from autoal.project import Project

from conftest import start_table_project


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A table project (60 rows, 3 classes, 12 labeled) with its first queue of 6."""
    return start_table_project(tmp_path_factory.mktemp("ls-project"))


@pytest.fixture
def project(started, tmp_path):
    shutil.copytree(started[0], tmp_path / "run")
    return Project(tmp_path / "run")


@pytest.fixture
def truth(started):
    return started[1]


def exported(project, truth, who=1, rows=None, label=None):
    """What Label Studio's JSON export holds once user ``who`` answered ``rows``."""
    queue = project.queue()
    rows = list(queue["row"]) if rows is None else rows
    return [{"id": 100 + i, "data": {"values": {}, "autoal_row": str(row),
                                     "autoal_round": project.round},
             "annotations": [{"id": i, "completed_by": who, "was_cancelled": False,
                              "result": [{"from_name": "label", "to_name": "item",
                                          "type": "choices",
                                          "value": {"choices": [label or truth[row]]}}]}]}
            for i, row in enumerate(rows)]


def stored(project):
    return project.annotations[project.annotations["annotator"] != "given"]


def test_a_cumulative_export_stores_each_answer_once(project, truth):
    tasks = exported(project, truth, rows=list(project.queue()["row"][:3]))
    first = project.import_answers(read_answers(tasks), incremental=True)
    assert len(first) == 3
    tasks += exported(project, truth, who=2, rows=list(project.queue()["row"][:2]))
    second = project.import_answers(read_answers(tasks), incremental=True)
    assert len(second) == 2 and set(second["annotator"]) == {"labelstudio:2"}
    again = project.import_answers(read_answers(tasks), incremental=True)
    assert len(again) == 0 and len(stored(project)) == 5
    # The plain import keeps its strict rule: the same file again is refused whole.
    with pytest.raises(ValueError, match="labeled already"):
        project.import_answers(read_answers(tasks))


def test_new_answers_to_an_earlier_queue_are_taken(project, truth):
    earlier = exported(project, truth)
    project.import_answers(read_answers(earlier), incremental=True)
    project.next(batch=6, progress=False)
    late = earlier + exported(project, truth, who=2, rows=list(earlier_rows(earlier)[:2]))
    with pytest.raises(ValueError, match=r"not in the current queue \(round 1\)"):
        project.import_answers(read_answers(late))
    got = project.import_answers(read_answers(late), incremental=True)
    assert len(got) == 2 and (got["round"] == 2).all()


def earlier_rows(tasks):
    return [int(t["data"]["autoal_row"]) for t in tasks]


def test_an_answer_changed_in_label_studio_replaces_the_stored_one(project, truth):
    tasks = exported(project, truth)
    project.import_answers(read_answers(tasks), incremental=True)
    row = project.queue()["row"][0]
    other = next(c for c in project.classes if c != truth[row])
    before = project.annotations.copy()
    # The labeler fixed their answer: the export holds it changed, dated later.
    changed = json.loads(json.dumps(tasks))
    changed[0]["annotations"][0].update(
        result=[{"from_name": "label", "to_name": "item", "type": "choices",
                 "value": {"choices": [other]}}],
        created_at="2026-01-01T10:00:00Z", updated_at="2026-01-02T09:00:00Z")
    got = project.import_answers(read_answers(changed), incremental=True)
    assert len(got) == 1 and got["corrected"].all() and (got["round"] == 1).all()
    after = project.annotations
    assert len(after) == len(before)  # replaced in place: same place, same round
    line = after.index[(after["row"] == row) & (after["annotator"] == "labelstudio:1")]
    assert after.loc[line, "label"].tolist() == [other]
    assert after.drop(index=line).equals(before.drop(index=line))
    assert project.consensus().loc[row, "consensus_label"] == other
    assert len(project.import_answers(read_answers(changed), incremental=True)) == 0
    # A row asked again, answered twice by one user: the later answer stands.
    twice = changed + exported(project, truth, rows=[row])
    twice[-1]["annotations"][0]["updated_at"] = "2026-01-03T09:00:00Z"
    latest = read_export(twice).answers
    assert latest.loc[latest["row"] == str(row), "label"].tolist() == [truth[row]]
    assert project.import_answers(read_answers(twice), incremental=True)["corrected"].all()


def test_a_labeler_corrects_an_earlier_answer_with_an_import(project, truth, tmp_path, capsys):
    queue = project.queue()
    rows = list(queue["row"])
    project.import_answers(pd.DataFrame({"row": rows, "label": truth[rows].to_numpy()}),
                           annotator="ana")
    project.next(batch=3, progress=False)
    wrong = {rows[0]: next(c for c in project.classes if c != truth[rows[0]])}
    fix = pd.DataFrame({"row": list(wrong), "label": list(wrong.values())})
    with pytest.raises(ValueError, match=r"stored: rows this annotator labeled already \(to "
                                         r"replace an earlier answer, import with "
                                         r"correct=True\): \(\d+, 'ana'\)\.$"):
        project.import_answers(fix, annotator="ana")
    fix.to_csv(tmp_path / "fix.csv", index=False)
    assert main(["import", str(project.path), str(tmp_path / "fix.csv"), "--annotator", "ana"]) == 2
    assert "import with --correct" in capsys.readouterr().err
    assert main(["import", str(project.path), str(tmp_path / "fix.csv"), "--annotator", "ana",
                 "--correct"]) == 0
    assert "Stored 1 answers" in capsys.readouterr().out
    mine = project.annotations.query("annotator == 'ana'")
    assert len(mine) == 6 and (mine["round"] == 1).all()  # the round it answered
    assert mine.set_index("row").loc[rows[0], "label"] == wrong[rows[0]]
    # Corrections and new answers in one file; the same answer again is skipped.
    new = project.queue()["row"][0]
    both = pd.DataFrame({"row": [rows[0], rows[1], new],
                         "label": [truth[rows[0]], truth[rows[1]], truth[new]]})
    got = project.import_answers(both, annotator="ana", correct=True)
    assert got["corrected"].tolist() == [True, False] and got["round"].tolist() == [1, 2]
    # Still refused: a row ana never answered outside the queue, a class that is not one.
    never = next(r for r in project.data.index if r not in set(project.annotations["row"]))
    with pytest.raises(ValueError, match="not in the current queue"):
        project.import_answers(pd.DataFrame({"row": [never], "label": [truth[never]]}),
                               annotator="ana", correct=True)
    with pytest.raises(ValueError, match="not classes: 'cat'"):
        project.import_answers(pd.DataFrame({"row": [rows[2]], "label": ["cat"]}),
                               annotator="ana", correct=True)


@pytest.mark.parametrize("change, match", [
    ("class", "labels that are not classes: 'cat'"),
    ("row", "rows that do not exist: .99999."),
])
def test_real_problems_refuse_the_whole_file(project, truth, change, match):
    tasks = exported(project, truth)
    project.import_answers(read_answers(tasks), incremental=True)
    before = project.annotations.copy()
    bad = exported(project, truth, who=2)
    if change == "class":
        bad[0]["annotations"][0]["result"][0]["value"]["choices"] = ["cat"]
    else:
        bad[0]["data"]["autoal_row"] = "99999"
    with pytest.raises(ValueError, match=match):
        project.import_answers(read_answers(tasks + bad), incremental=True)
    pd.testing.assert_frame_equal(project.annotations, before)


def answer(result=None, **fields):
    fields.setdefault("completed_by", 1)
    fields["result"] = result if result is not None else [
        {"from_name": "label", "to_name": "item", "type": "choices",
         "value": {"choices": ["a"]}}]
    return fields


@pytest.mark.parametrize("tasks, match", [
    ({"id": 1}, "JSON list of tasks; this is a dict"),
    (["a", "b"], r"Task #1 of the export is a str \('a'\)"),
    ([{"id": 4, "data": {"autoal_row": "1"}, "annotations": {"x": 1}}],
     "Task 4: the field annotations must be a list"),
    ([{"id": 5, "data": {"autoal_row": "1"}, "annotations": [answer(completed_by=None)]}],
     r"Task 5, annotations\[0\]: the field completed_by must name"),
    ([{"id": 6, "data": {"autoal_row": "1"}, "annotations": [answer([
        {"from_name": "label", "type": "choices", "value": {"choices": ["a", "b"]}}])]}],
     r"Task 6, annotations\[0\]: result\[0\].value.choices must hold exactly one class"),
    ([{"id": 7, "data": {"autoal_row": "1"}, "annotations": [answer([
        {"from_name": "label", "type": "choices", "value": {"choices": "a"}}])]}],
     r"result\[0\].value.choices must be a list of one class. Got 'a'"),
    ([{"id": 8, "data": {"autoal_row": "1"}, "annotations": [answer([
        {"from_name": "label", "type": "labels", "value": {"labels": ["a"]}}])]}],
     r"Task 8, annotations\[0\]: result\[0\] is of type 'labels'"),
    ([{"id": 9, "data": {"autoal_row": "1"}, "annotations": [answer([
        {"from_name": "box", "type": "rectanglelabels", "value": {}}])]}],
     r"Task 9, annotations\[0\]: no choice in the field result \(it holds results of type "
     r"rectanglelabels\)"),
    ([{"id": 10, "data": {"autoal_row": "1"}, "annotations": [answer([])]}],
     r"no choice in the field result \(it is empty\)"),
    ([{"id": 11, "data": {"image": "x.png"}, "annotations": []}], "no data.autoal_row"),
])
def test_other_export_shapes_name_the_task_and_field(tasks, match):
    with pytest.raises(ValueError, match=match):
        read_export(tasks)


def test_annotators_cancelled_answers_and_names():
    tasks = [{"id": 1, "data": {"autoal_row": "3"}, "annotations": [
        answer(completed_by={"id": 4, "email": "ana@example.org"}),
        answer(completed_by=7, was_cancelled=True, result=[]),
        answer(completed_by=5)]}]
    export = read_export(tasks)
    assert export.answers["annotator"].tolist() == ["labelstudio:ana@example.org",
                                                    "labelstudio:5"]
    assert export.cancelled == ["3"]
    named = read_export(tasks, names={5: "labelstudio:bo@example.org"})
    assert named.answers["annotator"].tolist()[1] == "labelstudio:bo@example.org"


def test_cli_import_counts_stored_skipped_and_cancelled(project, truth, tmp_path, capsys):
    tasks = exported(project, truth)
    tasks[0]["annotations"].append({"completed_by": 2, "was_cancelled": True, "result": []})
    path = tmp_path / "export.JSON"  # any case of the suffix is a Label Studio export
    path.write_text(json.dumps(tasks))
    assert main(["import", str(project.path), str(path)]) == 0
    assert "6 answers stored, 0 skipped as already known, 1 left out as cancelled" in \
        capsys.readouterr().out
    assert main(["import", str(project.path), str(path)]) == 0
    assert "0 answers stored, 6 skipped as already known" in capsys.readouterr().out
    assert len(stored(project)) == 6


def test_tasks_show_a_table_and_keep_the_guess_back_unless_asked(project):
    queue = project.queue()
    tasks = to_tasks(queue, "values")
    assert isinstance(tasks[0]["data"]["values"], dict)
    assert set(tasks[0]["data"]["values"]) == {"f0", "f1", "f2", "f3"}
    assert [t["data"]["autoal_priority"] for t in tasks] == [1, 2, 3, 4, 5, 6]
    assert "predictions" not in tasks[0]
    guessed = to_tasks(queue, "values", prefill=True)
    assert guessed[0]["predictions"][0]["result"][0]["value"]["choices"] == [queue["guess"][0]]
    config = label_config(project.classes, "values")
    assert '<Table name="item" value="$values"/>' in config
    assert '<Choice value="class_2"/>' in config and 'required="true"' in config


def test_image_urls_are_ones_label_studio_serves(tmp_path, monkeypatch):
    (tmp_path / "root" / "imgs").mkdir(parents=True)
    image = tmp_path / "root" / "imgs" / "a b.png"
    assert image_url(image, tmp_path / "root") == "/data/local-files/?d=imgs/a%20b.png"
    assert image_url("https://x.org/1.png", None) == "https://x.org/1.png"
    assert image_url("gs://bucket/1.png", None) == "gs://bucket/1.png"
    with pytest.raises(ValueError, match="--ls-document-root DIR"):
        image_url(image, None)
    with pytest.raises(ValueError, match="outside Label Studio's document root"):
        image_url(tmp_path / "elsewhere.png", tmp_path / "root")


def call(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_the_ml_backend_protocol(project, truth):
    """health, setup, predict (no guess unless --prefill) and the annotation webhook."""
    server = backend_server(project.path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert call(url, "/health")[1]["status"] == "UP"
        assert call(url, "/setup", {"project": "3.1700000000", "schema": "<View/>"})[1] == \
            {"model_version": "autoal-round-0"}
        tasks = exported(project, truth)
        status, predicted = call(url, "/predict", {"tasks": tasks[:2]})
        assert len(predicted["results"]) == 2
        assert all(r["result"] == [] and 0 <= r["score"] <= 1 for r in predicted["results"])
        for task in tasks[:2]:
            annotation = {**task["annotations"][0], "task": task["id"]}
            status, _ = call(url, "/webhook", {"action": "ANNOTATION_CREATED",
                                                "annotation": annotation, "task": task,
                                                "project": {"id": 3}})
            assert status == 201
        assert call(url, "/webhook", {"action": "PROJECT_UPDATED"})[0] == 201
        assert len(stored(project)) == 2 and server.backend.project_id == 3
    finally:
        server.shutdown()
        server.server_close()
