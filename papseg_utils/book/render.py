"""Render the Jupyter Book (1.x) from the papermill-executed notebooks.

Command line (see ``python -m papseg_utils book --help``)::

    python -m papseg_utils run --profile default     # first: execute the notebooks
    python -m papseg_utils book                      # then: status page + HTML

Steps:

1. write ``status.md`` (one row per notebook: profile, status, device, wall
   time, key versions, git commit) into the executed folder, from the
   ``<stem>.provenance.json`` files the runner wrote;
2. stage a build tree (``<out>/.book_src``): ``README.md``, ``_config.yml``,
   ``_toc.yml``, ``book/`` and the executed folder as ``build/executed/``, plus
   the locally served MathJax (``scripts/ensure_mathjax.sh``) in ``_mathjax/``.
   The repository itself is never written to, and any executed folder works.
   In the staged copies of the notebooks (:func:`prepare_notebook`), the
   ``parameters`` cell is tagged ``hide-input`` and papermill's
   ``injected-parameters`` cell ``remove-cell``, and a markdown cell after them
   says which profile built the page and which values it set;
3. run ``jupyter-book build -W -n --keep-going`` (execution off);
4. move the HTML to ``<out>/html`` and check that no page loads a script,
   stylesheet or font from the network.

Returns non-zero when the build warns, a toc entry is missing or a page
refers to a remote asset.

The status page lives in :mod:`papseg_utils.book.status_page`, the note on each chapter
page in :mod:`papseg_utils.book.profile_note`; their public names are importable from
this module too.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from papseg_utils.book.profile_note import (  # re-exported for callers
    INJECTED_TAG,
    PARAMETERS_TAG,
    PROFILE_CELL_ID,
    prepare_executed,
    prepare_notebook,
    profile_sentence,
    run_time,
)
from papseg_utils.book.profiles import repo_root
from papseg_utils.book.status_page import STATUS_STEM, status_table, write_status_page

__all__ = [
    "INJECTED_TAG",
    "PARAMETERS_TAG",
    "PROFILE_CELL_ID",
    "STATUS_STEM",
    "BookError",
    "build",
    "build_parser",
    "ensure_mathjax",
    "jupyter_book_command",
    "main",
    "prepare_executed",
    "prepare_notebook",
    "profile_sentence",
    "remote_assets",
    "run_time",
    "stage_book",
    "status_table",
    "write_status_page",
]

log = logging.getLogger(__name__)

_STAGE_IGNORE = shutil.ignore_patterns(
    "*.safetensors",
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.log",
    "*.npy",
    "*.npz",
    ".ipynb_checkpoints",
    "__pycache__",
)
_REMOTE = re.compile(
    r"""(?:<script[^>]*\ssrc=|<link[^>]*\shref=|<img[^>]*\ssrc=|url\()\s*["']?(https?:)?//""",
    re.IGNORECASE,
)


class BookError(Exception):
    """The book cannot be built as asked (missing executed notebooks, MathJax...)."""


# --------------------------------------------------------------------------- staging


def ensure_mathjax(root: Path) -> Path:
    """Folder with a local MathJax 3 (``tex-chtml.js``); fetched once by ``scripts/ensure_mathjax.sh``."""
    script = root / "scripts" / "ensure_mathjax.sh"
    try:
        out = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, check=True, timeout=300
        )
    except subprocess.CalledProcessError as err:
        raise BookError(f"{script} failed: {err.stderr.strip()}") from err
    path = Path(out.stdout.strip().splitlines()[-1])
    if not (path / "tex-chtml.js").is_file():
        raise BookError(f"{script} printed {path}, which has no tex-chtml.js; delete it and rerun")
    return path


def _toc_files(toc: dict[str, Any]) -> list[str]:
    files = [toc["root"]] if "root" in toc else []

    def walk(entries: list[dict[str, Any]]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files


def _prune_toc(toc: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    def prune(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for entry in entries or []:
            if "file" in entry and entry["file"] not in keep:
                continue
            entry = dict(entry)
            if "sections" in entry:
                entry["sections"] = prune(entry["sections"])
            out.append(entry)
        return out

    toc = dict(toc)
    if "chapters" in toc:
        toc["chapters"] = prune(toc["chapters"])
    if "parts" in toc:
        toc["parts"] = [dict(p, chapters=prune(p.get("chapters", []))) for p in toc["parts"]]
    return toc


def _doc_exists(stage: Path, entry: str) -> bool:
    base = stage / entry
    return any(base.with_name(base.name + ext).is_file() for ext in (".md", ".ipynb", ".rst", ""))


def stage_book(
    root: Path,
    executed: Path,
    stage: Path,
    toc_path: Path | None = None,
    allow_missing: bool = False,
) -> list[str]:
    """Assemble the book sources in ``stage``; return the toc entries left out.

    Raises
    ------
    BookError
        A toc entry has no file (unless ``allow_missing``, which drops it).
    """
    if stage.exists():
        # Keep _build (Sphinx's incremental cache); refresh the sources.
        for child in stage.iterdir():
            if child.name != "_build":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    stage.mkdir(parents=True, exist_ok=True)
    for name in ("README.md", "_config.yml"):
        shutil.copy2(root / name, stage / name)
    if (root / "book").is_dir():
        shutil.copytree(root / "book", stage / "book", ignore=_STAGE_IGNORE)
    shutil.copytree(executed, stage / "build" / "executed", ignore=_STAGE_IGNORE)
    mathjax = ensure_mathjax(root)
    shutil.copytree(
        mathjax, stage / "_mathjax" / "mathjax", ignore=shutil.ignore_patterns(".complete")
    )

    toc_path = toc_path or root / "_toc.yml"
    try:
        toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise BookError(f"cannot read the table of contents {toc_path}: {err}") from err
    missing = [f for f in _toc_files(toc) if not _doc_exists(stage, f)]
    if missing and not allow_missing:
        raise BookError(
            f"{toc_path.name} lists pages that do not exist: {', '.join(missing)}. "
            "Execute the notebooks first (python -m papseg_utils run), or pass --allow-missing "
            "to build without them."
        )
    if missing:
        log.warning("leaving out of the book (no file): %s", ", ".join(missing))
        toc = _prune_toc(toc, set(_toc_files(toc)) - set(missing))
    (stage / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    status_page = f"build/executed/{STATUS_STEM}"
    prepare_executed(stage / "build" / "executed", status_link=status_page in _toc_files(toc))
    return missing


# --------------------------------------------------------------------------- build


def jupyter_book_command() -> list[str]:
    """The ``jupyter-book`` of this Python environment."""
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    return [
        sys.executable,
        "-c",
        "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
    ]


def remote_assets(html_dir: Path) -> list[tuple[str, str]]:
    """(file, snippet) for every script, stylesheet, image or font loaded over the network.

    Looks at ``<script src>``, ``<link href>``, ``<img src>`` and CSS ``url()``
    in every ``.html`` and ``.css`` file; plain ``<a href>`` links are allowed.
    """
    hits = []
    for path in sorted(Path(html_dir).rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _REMOTE.finditer(text):
            start = match.start()
            hits.append((str(path.relative_to(html_dir)), text[start : start + 120].split(">")[0]))
    return hits


def build(
    executed: Path,
    out: Path,
    *,
    root: Path | None = None,
    toc: Path | None = None,
    allow_missing: bool = False,
    quiet: bool = False,
) -> Path:
    """Write the status page, stage and build the book; return the HTML folder ``out/html``.

    Raises
    ------
    BookError
        Missing executed folder or toc pages, a failed (or warning) build, or
        a page that loads a remote asset.
    """
    root = (root or repo_root()).resolve()
    executed = Path(executed).resolve()
    out = Path(out).resolve()
    if not executed.is_dir():
        raise BookError(
            f"executed-notebook folder {executed} does not exist; run `python -m papseg_utils run` first"
        )
    write_status_page(executed)
    stage = out / ".book_src"
    stage_book(root, executed, stage, toc, allow_missing)
    cmd = [
        *jupyter_book_command(),
        "build",
        str(stage),
        "--path-output",
        str(stage),
        "-W",
        "-n",
        "--keep-going",
    ]
    if quiet:
        cmd.append("-q")
    log.info("running: %s", " ".join(cmd))
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run(cmd, cwd=stage, env=env, capture_output=True, text=True)
    built = stage / "_build" / "html"
    if proc.returncode != 0:
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", proc.stdout + proc.stderr)
        warnings = [ln for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln]
        tail = "\n".join(warnings[-40:] or text.strip().splitlines()[-60:])
        raise BookError(
            f"jupyter-book build failed (exit {proc.returncode}); warnings are errors here:\n{tail}"
        )
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(built, html)
    remote = remote_assets(html)
    if remote:
        listing = "\n".join(f"  {f}: {s}" for f, s in remote[:20])
        raise BookError(
            f"{len(remote)} remote asset(s) in the built HTML (the book must work offline):\n{listing}"
        )
    return html


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m papseg_utils book",
        description="Render the Jupyter Book from papermill-executed notebooks (strict: warnings fail).",
    )
    parser.add_argument(
        "--executed",
        type=Path,
        default=None,
        help="folder of executed notebooks (default: build/executed)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder; HTML goes to OUT/html (default: _build)",
    )
    parser.add_argument(
        "--toc", type=Path, default=None, help="table of contents to use instead of _toc.yml"
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="drop toc pages that have no file instead of failing",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="less output from Sphinx")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns 0 on a clean build, 1 otherwise."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[book] %(message)s", stream=sys.stderr)
    root = repo_root()
    try:
        html = build(
            args.executed or root / "build" / "executed",
            args.out or root / "_build",
            root=root,
            toc=args.toc,
            allow_missing=args.allow_missing,
            quiet=args.quiet,
        )
    except BookError as err:
        log.error("%s", err)
        return 1
    print(f"book: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
