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
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from papseg_utils.book import provenance
from papseg_utils.book.runner import repo_root

log = logging.getLogger(__name__)

STATUS_STEM = "status"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
PROFILE_CELL_ID = "papseg-profile"
"""Id (and tag) of the markdown cell that :func:`prepare_notebook` adds."""
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
_SHORT_VERSIONS = (("torch", "torch"), ("segmentation-models-pytorch", "smp"), ("timm", "timm"))


class BookError(Exception):
    """The book cannot be built as asked (missing executed notebooks, MathJax...)."""


# --------------------------------------------------------------------------- status page


def _device_text(device: dict[str, Any]) -> str:
    gpus = device.get("gpus") or []
    if gpus:
        return f"{gpus[0]}" + (f" x{len(gpus)}" if len(gpus) > 1 else "")
    cpu = (device.get("cpu") or "CPU").replace("(R)", "").replace("(TM)", "")
    cores = device.get("cpu_count")
    threads = device.get("torch_threads")
    return f"{cpu}, {cores} cores" + (f", {threads} thr." if threads else "") if cores else cpu


def status_table(executed: Path) -> str:
    """Markdown status page built from ``executed/*.provenance.json``.

    Columns: notebook, profile, status, device, wall time (s), key versions
    (torch, smp, timm), git commit (``*`` when tracked files had changes).
    The full versions of the key packages follow the table.
    """
    records = []
    for path in sorted(Path(executed).glob("*.provenance.json")):
        try:
            records.append(provenance.read(path))
        except ValueError as err:
            log.warning("%s", err)
    lines = [
        "# Execution status",
        "",
        "How and where each chapter was executed for this build of the book "
        "(written by `python -m papseg_utils book` from the runner's provenance records).",
        "",
    ]
    if not records:
        lines.append("No executed notebooks were found; run `python -m papseg_utils run` first.")
        return "\n".join(lines) + "\n"
    lines += [
        "| notebook | profile | status | device | wall time (s) | key versions | git commit |",
        "|---|---|---|---|---:|---|---|",
    ]
    dirty = False
    for rec in records:
        versions = rec.get("versions") or {}
        vtext = "<br>".join(
            f"{short} {versions[name]}" for name, short in _SHORT_VERSIONS if versions.get(name)
        )
        git = rec.get("git") or {}
        dirty = dirty or bool(git.get("dirty"))
        commit = (git.get("commit") or "unknown")[:8] + ("*" if git.get("dirty") else "")
        wall = rec.get("wall_s")
        status = rec.get("status", "?")
        if status != "ok":
            status = f"**{status}**"
        lines.append(
            f"| {rec.get('notebook', '?')} | {rec.get('profile', '?')} | {status} | "
            f"{_device_text(rec.get('device') or {})} | {'-' if wall is None else f'{wall:.1f}'} | "
            f"{vtext} | `{commit}` |"
        )
    lines.append("")
    if dirty:
        lines.append("`*`: the working tree had uncommitted changes to tracked files.")
        lines.append("")
    last = records[-1].get("versions") or {}
    lines.append("Key packages: " + ", ".join(f"{k} {v}" for k, v in last.items() if v) + ".")
    started = [r["started"] for r in records if r.get("started")]
    if started:
        lines += ["", f"Runs started between {min(started)} and {max(started)} (UTC)."]
    return "\n".join(lines) + "\n"


def write_status_page(executed: Path) -> Path:
    """Write ``status.md`` into ``executed``; return its path."""
    path = Path(executed) / f"{STATUS_STEM}.md"
    path.write_text(status_table(executed), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- notebook cells


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
        device = _device_text(record.get("device") or {})
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
