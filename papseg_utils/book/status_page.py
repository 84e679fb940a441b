"""The book's execution status page (``status.md``), built from the runner's provenance.

One row per executed notebook (``<stem>.provenance.json``, written by
:mod:`papseg_utils.book.runner`): profile, status, device, wall time, key versions, git
commit. :mod:`papseg_utils.book.render` writes it into the executed folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from papseg_utils.book import provenance

log = logging.getLogger("papseg_utils.book.render")

STATUS_STEM = "status"
"""File stem of the status page (``status.md``) in the executed folder."""
_SHORT_VERSIONS = (("torch", "torch"), ("segmentation-models-pytorch", "smp"), ("timm", "timm"))


def device_text(device: dict[str, Any]) -> str:
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
            f"{device_text(rec.get('device') or {})} | {'-' if wall is None else f'{wall:.1f}'} | "
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
