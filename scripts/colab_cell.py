"""Put the guarded Colab install cell first in every notebook (idempotent).

    python scripts/colab_cell.py            # insert or refresh the cell in notebooks/NN_*.ipynb
    python scripts/colab_cell.py --check    # exit 1 naming the notebooks that are not up to date

The cell is the first code cell of each notebook and is tagged ``colab-install``.
In Colab (``"google.colab" in sys.modules``) it clones the repository into
``/content/papseg`` when that folder is missing, installs it with ``%pip install -e``
when the ``papseg-utils`` distribution is missing, and moves into the clone (the
notebooks run from the repository root, as papermill runs them). Anywhere else it
does nothing, so papermill, the smoke runs and the book are unaffected.

The repository URL and branch are read from ``_config.yml`` (``repository:``), the one
place they are written. Rerun this script after changing them, or after a merge that
rewrote the notebooks: it finds its cell by the tag, rewrites it in place and moves it
back to the top, so running it twice changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
TAG = "colab-install"
CELL_ID = "colab-install"
CLONE_DIR = "/content/papseg"
TEMPLATE = """\
# Colab only: fetch the repository and install papseg_utils (elsewhere nothing happens)
import sys

if "google.colab" in sys.modules:
    import os
    from importlib.metadata import PackageNotFoundError, version

    if not os.path.isdir("{clone}"):
        !git clone -q --depth 1 --branch {branch} {url} {clone}
    try:
        version("papseg-utils")
    except PackageNotFoundError:
        %pip install -q -e {clone}
    os.chdir("{clone}")  # the notebooks run from the repository root"""


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``(url, branch)`` of ``repository:`` in ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch") or "main"
    if not url:
        raise SystemExit(f"{root / '_config.yml'}: set repository.url (the project's git URL)")
    return str(url).rstrip("/"), str(branch)


def cell_source(root: Path = ROOT) -> str:
    """The install cell's source for the repository named in ``_config.yml``."""
    url, branch = repository(root)
    return TEMPLATE.format(url=url, branch=branch, clone=CLONE_DIR)


def _is_heading_only(cell: nbformat.NotebookNode) -> bool:
    lines = [ln for ln in cell.source.strip().splitlines() if ln.strip()]
    return cell.cell_type == "markdown" and len(lines) == 1 and lines[0].startswith("#")


def apply(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """Return ``nb`` with exactly one tagged install cell, placed before its first code cell.

    When the first code cell is introduced by a heading-only markdown cell
    (``## Imports``), the install cell goes before that heading.
    """
    cells = [c for c in nb.cells if TAG not in c.get("metadata", {}).get("tags", [])]
    first = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    if first > 0 and _is_heading_only(cells[first - 1]):
        first -= 1
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]})
    cell["id"] = CELL_ID
    nb.cells = [*cells[:first], cell, *cells[first:]]
    return nb


def is_current(nb: nbformat.NotebookNode, source: str) -> bool:
    """Whether the first code cell is the tagged install cell with ``source``, and the only one."""
    tagged = [c for c in nb.cells if TAG in c.get("metadata", {}).get("tags", [])]
    code = [c for c in nb.cells if c.cell_type == "code"]
    return len(tagged) == 1 and bool(code) and code[0] is tagged[0] and code[0].source == source


def notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks ``notebooks/NN_*.ipynb``, sorted."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    """Insert or refresh the cell (``--check``: only report); 0 when all are current."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/NN_*)")
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    source = cell_source()
    stale = []
    for path in args.paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        if is_current(nb, source):
            continue
        stale.append(path.name)
        if not args.check:
            nbformat.write(apply(nb, source), path)
    if args.check and stale:
        print(
            f"the Colab install cell is missing or stale in {stale}; run scripts/colab_cell.py",
            file=sys.stderr,
        )
        return 1
    if not args.check:
        print(f"updated {len(stale)} notebook(s): {', '.join(stale) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
