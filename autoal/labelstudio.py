"""Label Studio's task JSON, both ways, for teams that already label there.

- :func:`to_tasks` turns a project's queue into tasks to import into Label Studio:
  ``data`` holds what to show (``image`` or ``text``, else the row's values) and
  ``autoal_row``; the model's guess comes as a prediction, so labelers can accept it.
  :func:`label_config` gives the matching labeling interface (XML).
- :func:`read_answers` reads Label Studio's JSON export back as answers
  (``row, annotator, label``) for :meth:`autoal.project.Project.import_answers`.
  The annotator is the ``completed_by`` user (its email where the export has one);
  cancelled (skipped) annotations are left out.

Image paths are written as they are stored; Label Studio shows local files only
through its local-files storage (``/data/local-files/?d=...``) or from URLs, so
serve or map them as your Label Studio setup requires.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd

FROM_NAME, TO_NAME = "label", "item"


def to_tasks(queue: pd.DataFrame, kind: str) -> list[dict]:
    """Tasks for the rows of ``queue``; ``kind`` is ``"image"``, ``"text"`` or ``"values"``."""
    tasks = []
    for line in queue.itertuples(index=False):
        tasks.append({
            "data": {kind: line.show, "autoal_row": str(line.row), "autoal_round": int(line.round),
                     "autoal_kind": line.kind},
            "predictions": [{
                "model_version": f"autoal round {int(line.round)}",
                "score": float(line.confidence),
                "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                            "value": {"choices": [str(line.guess)]}}],
            }],
        })
    return tasks


def label_config(classes, kind: str) -> str:
    """A Label Studio labeling interface: the item and one choice per class."""
    shown = {"image": f'<Image name="{TO_NAME}" value="$image"/>',
             "text": f'<Text name="{TO_NAME}" value="$text"/>',
             "values": f'<Text name="{TO_NAME}" value="$values"/>'}[kind]
    choices = "\n".join(f"    <Choice value={quoteattr(str(c))}/>" for c in classes)
    return (f"<View>\n  {shown}\n  <Choices name=\"{FROM_NAME}\" toName=\"{TO_NAME}\" "
            f"choice=\"single\" showInLine=\"true\">\n{choices}\n  </Choices>\n</View>\n")


def read_answers(source) -> pd.DataFrame:
    """Answers from a Label Studio JSON export (a path, or the parsed list of tasks)."""
    tasks = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            raise FileNotFoundError(f"No such Label Studio export: {path} {what}.")
        try:
            tasks = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a Label Studio JSON export ({error}).") from None
    if not isinstance(tasks, list):
        raise ValueError("A Label Studio export is a JSON list of tasks; this file is not.")
    lines = []
    for number, task in enumerate(tasks):
        row = (task.get("data") or {}).get("autoal_row")
        if row is None:
            raise ValueError(f"Task {task.get('id', number)} has no data.autoal_row: was it "
                             f"exported from autoal ('autoal export DIR FILE.json')?")
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            choices = [c for result in annotation.get("result") or []
                       if result.get("type") == "choices"
                       for c in (result.get("value") or {}).get("choices") or []]
            who = annotation.get("completed_by")
            if isinstance(who, dict):
                who = who.get("email") or who.get("id")
            lines.append({"row": row, "annotator": f"labelstudio:{who}",
                          "label": choices[0] if len(choices) == 1 else ""})
    return pd.DataFrame(lines, columns=["row", "annotator", "label"])
