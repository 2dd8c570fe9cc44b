"""Writing a project's labeled rows in the forms people load next.

:meth:`autoal.Project.export` (``autoal export DIR OUT``) calls these; which one
follows from ``OUT`` (:func:`export_format`):

- :func:`write_table`: one file: ``.csv``, ``.parquet`` or ``.jsonl`` (JSON Lines, one
  object per row, missing values as ``null``).
- :func:`write_image_folders`: for an image project, a folder per class, the ImageFolder
  layout (``OUT/<class>/<file>``) that torchvision's ``ImageFolder`` and Hugging Face's
  ``imagefolder`` load. The images are copied, or linked (symbolic links to the
  originals); the user's files are never moved or changed.

An export into a folder that exists and is not empty is refused, so nothing there is
overwritten; the folder appears whole or not at all (it is built under a temporary
name beside it, then renamed).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

import pandas as pd

from ._checks import check_choice, format_examples, short
from .rundir import write_csv, write_jsonl, write_parquet

#: What ``format=`` takes.
FORMATS = ("csv", "parquet", "jsonl", "imagefolder")
#: What ``files=`` takes: how an ImageFolder export gets its images.
FILE_MODES = ("copy", "link")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl"}


def export_format(out, format=None, *, owner: str = "Project.export") -> str:
    """The format of an export to ``out``: ``format`` when given (one of :data:`FORMATS`),
    else by ``out``'s suffix (``.csv``, ``.parquet``, ``.jsonl``); a path without a suffix
    (or an existing folder) is ``"imagefolder"``."""
    if format is not None:
        return check_choice("format", format, FORMATS, owner=owner)
    out = Path(out)
    if out.is_dir() or not out.suffix:
        return "imagefolder"
    kind = _SUFFIXES.get(out.suffix.lower())
    if kind is None:
        raise ValueError(f"The 'out' parameter of {owner} must end in .csv, .parquet or .jsonl, "
                         f"or name a folder (for an image project's ImageFolder layout). Got "
                         f"{short(str(out))}. Pass format=... to choose the format.")
    return kind


def write_table(table: pd.DataFrame, out, format: str) -> None:
    """Write ``table`` to the file ``out`` as ``format`` (``"csv"``, ``"parquet"`` or
    ``"jsonl"``), atomically; an existing file is replaced."""
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"The export file {out} is a folder; pass a file name ending in "
                         f".{format}.")
    writer = {"csv": write_csv, "parquet": write_parquet, "jsonl": write_jsonl}[format]
    writer(out, table)


def write_image_folders(table: pd.DataFrame, out, *, image_column: str, label: str,
                        id_column: str = "row", files: str = "copy",
                        owner: str = "Project.export") -> pd.DataFrame:
    """Write the ImageFolder layout of ``table``'s rows to the new folder ``out``.

    Each row's image (``image_column``, a path) goes to ``out/<label>/<file name>``;
    ``files="copy"`` copies it, ``"link"`` makes a symbolic link to it. A file name
    that is taken already in its class folder (images of the same name in different
    source folders) gets the row id (``id_column``): ``<stem>-<row>.<suffix>``. Class
    folder names are the classes as text, with path separators replaced by ``_``. Only
    classes with rows get a folder.

    ``out`` must not exist, or be an empty folder. Returns ``table`` with
    ``exported_file``: each row's file, relative to ``out``.
    """
    files = check_choice("files", files, FILE_MODES, owner=owner)
    out = Path(out)
    _check_empty(out)
    sources = [Path(p) if isinstance(p, str) else None for p in table[image_column]]
    missing = [str(p) for p, s in zip(table[image_column], sources)
               if s is None or not s.is_file()]
    if missing:
        raise ValueError(f"Image column {image_column!r}: {len(missing)} image(s) of labeled "
                         f"rows cannot be found: {format_examples(missing, 3)}. Put them back "
                         f"(or say where they are now: Project.relocate, autoal relocate), or "
                         f"export a table (.csv, .parquet, .jsonl); nothing was written.")
    folders = _class_folders(table[label].unique())
    names = _file_names([folders[c] for c in table[label]], sources, table[id_column])
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
    try:
        for folder in set(folders.values()):
            (partial / folder).mkdir(parents=True)
        for source, name in zip(sources, names):
            if files == "copy":
                shutil.copy2(source, partial / name)
            else:
                os.symlink(source.absolute(), partial / name)
        if out.is_dir():
            out.rmdir()  # empty (checked), and replaced by the finished folder
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return table.assign(exported_file=names)


def _check_empty(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ValueError(f"The export folder {out} is a file; pass a new folder's path.")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"The export folder {out} exists and is not empty; pass a new "
                         f"folder's path, or empty this one first (nothing in it is "
                         f"overwritten).")


def _class_folders(classes) -> dict:
    """Each class's folder name; two classes whose names differ only by case or by path
    separators are refused (they would share a folder)."""
    folders = {}
    for c in classes:
        name = re.sub(r"[/\\\x00]", "_", str(c))
        folders[c] = "_" if name in ("", ".", "..") else name
    seen = {}
    for c, name in folders.items():
        other = seen.setdefault(name.casefold(), c)
        if other != c:
            raise ValueError(f"The classes {short(other)} and {short(c)} would share the "
                             f"folder {name!r} (names are compared ignoring case, as on "
                             f"Windows and macOS); export a table (.csv, .parquet, .jsonl) "
                             f"instead.")
    return folders


def _file_names(folders, sources, rows) -> list:
    """``<folder>/<file name>`` for each row; a name taken already in its folder (compared
    ignoring case, as Windows and macOS do) gets the row id, and a number if need be.
    The first row of a name keeps it."""
    taken, names = set(), []
    for folder, source, row in zip(folders, sources, rows):
        token = re.sub(r"[^\w.-]", "_", str(row))[:80]
        name = f"{folder}/{source.name}"
        number = 1
        while name.casefold() in taken:
            extra = f"-{token}" if number == 1 else f"-{token}-{number}"
            name = f"{folder}/{source.stem}{extra}{source.suffix}"
            number += 1
        taken.add(name.casefold())
        names.append(name)
    return names
