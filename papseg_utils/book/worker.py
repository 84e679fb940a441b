"""The worker process of :mod:`papseg_utils.book.runner`: executes one notebook.

The runner starts it as ``python -m papseg_utils.book.runner _worker SPEC.json`` (in a
session of its own), one per notebook. It runs papermill on the notebook described in
``SPEC.json`` (written by :mod:`papseg_utils.book.execution`), writes the provenance
record (``<stem>.provenance.json`` and the executed notebook's ``papseg.provenance``
metadata) and exits 0 (ok) or 1 (the notebook failed).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from papseg_utils.book import provenance

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def first_line(source: str) -> str:
    """The first non-blank line of a cell's ``source``, stripped (``""`` when none)."""
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def run_worker(spec_path: str) -> int:
    """Run one notebook (in a child process); write its provenance. Returns 0 or 1.

    ``spec_path`` names a JSON file with the keys ``stem``, ``source``, ``output``,
    ``parameters``, ``profile``, ``cwd``, ``root``, ``timeout_s``, ``provenance`` and
    ``kernel_name`` (see :func:`papseg_utils.book.execution.write_spec`).
    """
    import nbformat

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    output = Path(spec["output"])
    started = provenance.now_iso()
    t0 = time.perf_counter()
    error = _execute_notebook(spec, output)
    wall = time.perf_counter() - t0
    status = "ok" if error is None else "failed"
    if error is not None and output.is_file():
        error.update(_locate_failed_cell(output))
    record = provenance.collect(
        notebook=spec["stem"],
        profile=spec["profile"],
        parameters=spec["parameters"],
        root=spec["root"],
        started=started,
        wall_s=wall,
        status=status,
        error=error,
    )
    provenance.write(record, spec["provenance"])
    if output.is_file():
        nb = nbformat.read(output, as_version=4)
        nb.metadata.setdefault("papseg", {})["provenance"] = record
        nbformat.write(nb, output)
    return 0 if status == "ok" else 1


def _execute_notebook(spec: dict[str, Any], output: Path) -> dict[str, Any] | None:
    """Papermill on ``spec``'s notebook into ``output``; None, or the error record of a failure."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            spec["source"],
            str(output),
            parameters=spec["parameters"],
            kernel_name=spec.get("kernel_name") or "python3",
            cwd=spec["cwd"],
            execution_timeout=spec["timeout_s"],
            progress_bar=False,
            request_save_on_cell_execute=True,
        )
    except PapermillExecutionError as err:
        return {
            "cell_index": err.cell_index,
            "exec_count": err.exec_count,
            "first_line": first_line(err.source),
            "ename": err.ename,
            "evalue": _ANSI.sub("", str(err.evalue)),
            "traceback": [_ANSI.sub("", t) for t in (err.traceback or [])],
        }
    except Exception as err:  # kernel death, timeouts inside nbclient, bad notebooks
        return {
            "cell_index": None,
            "first_line": "",
            "ename": type(err).__name__,
            "evalue": str(err),
        }
    return None


def _locate_failed_cell(output: Path, cell_index: int | None = None) -> dict[str, Any]:
    """Find the failing cell in the executed copy and its index in the source notebook.

    Papermill flags the failing cell with ``metadata.papermill.exception`` and adds
    its own cells (injected parameters, error banners); those are not counted
    in ``source_cell_index``.
    """
    import nbformat

    nb = nbformat.read(output, as_version=4)
    failing = [
        i
        for i, c in enumerate(nb.cells)
        if c.get("metadata", {}).get("papermill", {}).get("exception")
    ]
    if not failing:
        return {}
    index = failing[0]
    added = {"injected-parameters", "papermill-error-cell-tag"}
    source_index = sum(1 for c in nb.cells[:index] if not added & set(c.metadata.get("tags", [])))
    return {
        "cell_index": index,
        "source_cell_index": source_index,
        "first_line": first_line(nb.cells[index].source),
    }
