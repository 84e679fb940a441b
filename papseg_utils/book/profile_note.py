"""Each chapter page's note on how it was executed, added to the staged notebooks.

:func:`prepare_notebook` folds the ``parameters`` cell, removes papermill's
``injected-parameters`` cell and adds a markdown cell (id and tag ``papseg-profile``)
that says which profile built the page and which values it set
(:func:`profile_sentence`); :func:`prepare_executed` does so for a folder of executed
notebooks, from their provenance records.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from papseg_utils.book import provenance
from papseg_utils.book.status_page import STATUS_STEM, device_text

log = logging.getLogger("papseg_utils.book.render")

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
PROFILE_CELL_ID = "papseg-profile"
"""Id (and tag) of the markdown cell that :func:`prepare_notebook` adds."""


def _tags(cell: dict[str, Any]) -> list[str]:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def _add_tag(cell: dict[str, Any], tag: str) -> None:
    tags = _tags(cell)
    if tag not in tags:
        tags.append(tag)


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def profile_sentence(record: dict[str, Any], status_link: bool = True) -> str:
    """Markdown: which profile built the page, and the values papermill injected.

    With ``status_link``, it links to the execution status page (``status``, in
    the same folder as the executed notebooks).
    """
    notebook = record.get("notebook", "")
    profile = record.get("profile", "?")
    where = f" of `notebooks/profiles/{notebook}.yaml`" if notebook else ""
    text = f"This page was executed with the {_code(str(profile))} profile{where}"
    params = record.get("parameters") or {}
    if params:
        values = ", ".join(_code(f"{k} = {v!r}") for k, v in params.items())
        text += f", which set {values} (the others keep the defaults of the parameters cell above)"
    status = f"[execution status]({STATUS_STEM})" if status_link else "execution status"
    ran = ""
    if record.get("wall_s") is not None:
        device = device_text(record.get("device") or {})
        ran = f" It ran in {run_time(record['wall_s'])} on {device.removesuffix('.')}."
    return f"{text}.{ran} The {status} page says on which machine and with which versions."


def run_time(seconds: float) -> str:
    """``'45 s'``, ``'3.2 min'``: a notebook's wall time as a reader wants it."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def prepare_notebook(
    nb: dict[str, Any], record: dict[str, Any] | None = None, status_link: bool = True
) -> dict[str, Any]:
    """Tag a papermill-executed notebook (a JSON dict, changed in place) for the book.

    - the ``parameters`` cell gets ``hide-input`` (its code folds behind a toggle);
    - papermill's ``injected-parameters`` cell gets ``remove-cell``;
    - with a provenance ``record`` (:mod:`papseg_utils.book.provenance`), a markdown cell
      (id and tag ``papseg-profile``) after those two says which profile built the
      page and which values it injected (:func:`profile_sentence`).

    Running it again changes nothing. Returns ``nb``.
    """
    cells = nb.setdefault("cells", [])
    cells[:] = [c for c in cells if PROFILE_CELL_ID not in c.get("metadata", {}).get("tags", [])]
    last = None
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code":
            continue
        if PARAMETERS_TAG in tags:
            _add_tag(cell, "hide-input")
            last = i
        elif INJECTED_TAG in tags:
            _add_tag(cell, "remove-cell")
            last = i
    if record and last is not None:
        note: dict[str, Any] = {
            "cell_type": "markdown",
            "metadata": {"tags": [PROFILE_CELL_ID]},
            "source": profile_sentence(record, status_link),
        }
        if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) >= (4, 5):
            note["id"] = PROFILE_CELL_ID
        cells.insert(last + 1, note)
    return nb


def prepare_executed(folder: Path, status_link: bool = True) -> list[Path]:
    """Apply :func:`prepare_notebook` to every ``*.ipynb`` directly in ``folder``.

    The provenance record is ``<stem>.provenance.json`` next to the notebook
    (written by the runner), else the notebook's ``papseg.provenance`` metadata.
    Meant for the staged copies: the notebooks are rewritten in place. Returns
    the notebooks changed.
    """
    changed = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        record = None
        prov = path.with_name(f"{path.stem}.provenance.json")
        if prov.is_file():
            try:
                record = provenance.read(prov)
            except ValueError as err:
                log.warning("%s", err)
        if record is None:
            record = nb.get("metadata", {}).get("papseg", {}).get("provenance")
        nb = prepare_notebook(nb, record, status_link)
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
