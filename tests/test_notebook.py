"""notebooks/walkthrough.ipynb runs top to bottom (small settings, offline) and shows its results."""

import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "walkthrough.ipynb"


def _kernel_manager(folder):
    """The python3 kernel (this environment's Python), talking over Unix sockets where it can.

    CI runs the tests under ``unshare -n``, where even the loopback interface is down, so the
    kernel's default TCP ports on 127.0.0.1 would never connect.
    """
    from jupyter_client.manager import KernelManager

    if sys.platform == "win32":
        return KernelManager(kernel_name="python3")
    return KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(folder) / "kernel"))


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_walkthrough_runs_top_to_bottom(monkeypatch):
    # The kernel inherits this environment: tiny settings, and no model hub.
    monkeypatch.setenv("AUTOAL_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory(prefix="autoal-kernel-") as sockets:
        client = nbclient.NotebookClient(nb, km=_kernel_manager(sockets), timeout=600,
                                         kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()  # raises CellExecutionError, with the traceback, if any cell fails

    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert all(o.output_type != "error" for o in outputs)
    assert code[0].outputs == []  # the Colab install cell does nothing here
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    histories = [h for h in html if "n_labeled" in h and "accuracy" in h]
    assert len(histories) >= 5  # activelab, random, text, table and noisy-annotator runs
    assert any("consensus_accuracy" in h for h in histories)
    assert any("annotator_quality" in h for h in html)
    # Image grids (examples, round-0 picks) and the learning curves.
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "small settings: True" in text
