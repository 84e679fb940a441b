"""The book's staged notebooks: parameter cells hidden, the profile stated (no build, no kernel)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from papseg_utils.book.render import PROFILE_CELL_ID, prepare_executed, prepare_notebook

RECORD = {
    "notebook": "05_architectures",
    "profile": "smoke",
    "parameters": {"image_size": 64, "erf_models": "fpn,segformer"},
}


def _notebook() -> dict:
    """A papermill-executed notebook in miniature: parameters, then the injected cell."""

    def cell(kind: str, source: str, tags: list[str] | None = None, cid: str = "") -> dict:
        c = {"cell_type": kind, "id": cid or source[:8].replace(" ", "-"), "metadata": {}}
        c["source"] = source
        if tags:
            c["metadata"]["tags"] = tags
        if kind == "code":
            c.update(execution_count=1, outputs=[])
        return c

    return {
        "cells": [
            cell("markdown", "## Parameters", cid="md-params"),
            cell("code", "image_size: int = 256", ["parameters"], "params"),
            cell("code", "# Parameters\nimage_size = 64", ["injected-parameters"], "injected"),
            cell("code", "print(image_size)", cid="body"),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _tags(nb: dict, cid: str) -> list[str]:
    return next(c for c in nb["cells"] if c["id"] == cid)["metadata"].get("tags", [])


def test_parameter_cells_are_hidden_and_the_profile_is_stated() -> None:
    nb = prepare_notebook(_notebook(), RECORD)
    assert _tags(nb, "params") == ["parameters", "hide-input"]
    assert _tags(nb, "injected") == ["injected-parameters", "remove-cell"]
    assert [c["id"] for c in nb["cells"]] == [
        "md-params",
        "params",
        "injected",
        PROFILE_CELL_ID,
        "body",
    ]
    note = nb["cells"][3]
    assert note["cell_type"] == "markdown"
    assert "`smoke` profile of `notebooks/profiles/05_architectures.yaml`" in note["source"]
    assert (
        "`image_size = 64`" in note["source"] and "`erf_models = 'fpn,segformer'`" in note["source"]
    )
    assert "[execution status](status)" in note["source"]


def test_the_page_states_its_measured_run_time() -> None:
    """Issue 23: every executed page says how long it ran, and where (from its provenance)."""
    from papseg_utils.book.render import run_time

    device = {"cpu": "Xeon(R)", "cpu_count": 2, "torch_threads": 2}
    note = prepare_notebook(_notebook(), {**RECORD, "wall_s": 191.4, "device": device})
    note = note["cells"][3]["source"]
    assert "It ran in 3.2 min on Xeon, 2 cores, 2 thr. The" in note
    assert "ran in" not in prepare_notebook(_notebook(), RECORD)["cells"][3]["source"]
    assert run_time(8.5) == "8 s" and run_time(89) == "89 s" and run_time(90) == "1.5 min"


def test_prepare_is_idempotent_and_needs_no_record() -> None:
    once = prepare_notebook(_notebook(), RECORD)
    twice = prepare_notebook(copy.deepcopy(once), RECORD)
    assert twice == once
    bare = prepare_notebook(_notebook(), None)
    assert PROFILE_CELL_ID not in [c["id"] for c in bare["cells"]]
    assert _tags(bare, "params") == ["parameters", "hide-input"]


def test_prepare_executed_reads_the_provenance_file(tmp_path: Path) -> None:
    (tmp_path / "05_architectures.ipynb").write_text(json.dumps(_notebook()), encoding="utf-8")
    (tmp_path / "05_architectures.provenance.json").write_text(json.dumps(RECORD))
    changed = prepare_executed(tmp_path, status_link=False)
    assert changed == [tmp_path / "05_architectures.ipynb"]
    nb = json.loads((tmp_path / "05_architectures.ipynb").read_text(encoding="utf-8"))
    note = next(c for c in nb["cells"] if c["id"] == PROFILE_CELL_ID)
    assert "`smoke` profile" in note["source"] and "](status)" not in note["source"]
    assert prepare_executed(tmp_path, status_link=False) == []  # already prepared
