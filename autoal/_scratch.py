"""Temporary folders for model files, named by the machine and process that made them.

A process removes its own temporary folders when nothing holds their models any more, or
when Python exits. A process that is killed first (SIGKILL, or SIGTERM, which skips
Python's exit handlers: a Jupyter kernel that takes more than a few seconds to shut down
gets it) cannot, so the first temporary folder a process makes starts with
:func:`sweep`: the folders of this user and machine whose process has ended are removed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
# What tempfile.mkdtemp appends to the prefix: 8 characters of [a-z0-9_].
_NAME = re.compile(r"autoal-(?:fold-)?(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[a-z0-9_]{8}")
_swept = False


def folder(kind: str = "") -> Path:
    """A new temporary folder, ``autoal-[KIND-]HOST-PID-XXXXXXXX``; the first in a process
    removes, before it, those left by ended processes (:func:`sweep`)."""
    global _swept
    if not _swept:
        _swept = True
        sweep()
    kind = f"{kind}-" if kind else ""
    return Path(tempfile.mkdtemp(prefix=f"autoal-{kind}{_HOST}-{os.getpid()}-"))


def sweep(root=None) -> list[Path]:
    """Remove the temporary folders under ``root`` (the system's temporary folder) that
    this user's processes on this machine made and whose process has ended; return them.

    Only where processes can be asked whether they run (POSIX); a folder whose process
    id was taken by a new process is kept.
    """
    if os.name != "posix":
        return []
    removed = []
    try:
        entries = list(os.scandir(root or tempfile.gettempdir()))
    except OSError:
        return removed
    for entry in entries:
        named = _NAME.fullmatch(entry.name)
        if named is None or named["host"] != _HOST:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or \
                    entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not _running(int(named["pid"])):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: asks only whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but is another user's
        return True
    return True
