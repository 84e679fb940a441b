"""Execution of planned notebooks (:func:`run_notebooks`): workers, dependencies, stops.

Each notebook runs in a worker process of its own (:mod:`papseg_utils.book.worker`,
started as ``python -m papseg_utils.book.runner _worker SPEC.json`` in a session of its
own), up to ``max_workers`` at once, after the notebooks it depends on succeeded. A
notebook whose dependency did not succeed is recorded as ``skipped``, one with bad input
(``keep_going``) as ``invalid``. Each has a wall-clock limit. One Ctrl-C, SIGTERM or
SIGHUP ends the running workers and their kernels and records every unfinished notebook
as ``interrupted`` (:class:`RunInterrupted`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papseg_utils import signals
from papseg_utils.book import provenance
from papseg_utils.book.profiles import DEFAULT_TIMEOUT_S, NotebookJob, repo_root

log = logging.getLogger("papseg_utils.book.runner")

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

INTERRUPTED_REASON = "stopped by {signal}; the worker and its kernel were ended"


class RunInterrupted(Exception):
    """Ctrl-C during :func:`run_notebooks`; ``results`` holds every notebook's outcome."""

    def __init__(self, results: list[NotebookResult]) -> None:
        super().__init__("interrupted")
        self.results = results


# Workers run in sessions of their own (a terminal's Ctrl-C does not reach them), so the
# runner keeps them here and ends them, with their kernels, when it is interrupted.
_INTERRUPTED = threading.Event()
_WORKERS: set[subprocess.Popen] = set()
_WORKERS_LOCK = threading.Lock()


@dataclass
class NotebookResult:
    """Outcome of one notebook: ``status`` is ok, failed, timeout, skipped, invalid or interrupted."""

    stem: str
    status: str
    wall_s: float | None
    output: Path | None
    provenance: Path
    message: str = ""


def kernel_env(cwd: Path, jobs: int) -> dict[str, str]:
    """Environment for the workers and their kernels.

    Sets ``HF_HUB_OFFLINE=1`` (unless already set, or on Colab, where the hubs may
    download: :func:`papseg_utils.book.colab.on_colab`), ``NO_ALBUMENTATIONS_UPDATE=1``,
    a headless matplotlib backend (the Agg-based inline backend, so that
    ``plt.show()`` figures are kept; a non-Agg ``MPLBACKEND`` is respected), puts ``cwd`` first on ``PYTHONPATH`` and, when several
    notebooks run at once, shares the cores out with ``OMP_NUM_THREADS`` (unless set).
    """
    from papseg_utils.book.colab import on_colab

    env = dict(os.environ)
    if not on_colab():
        env.setdefault("HF_HUB_OFFLINE", "1")
    env["NO_ALBUMENTATIONS_UPDATE"] = "1"
    # Headless, but figures shown with plt.show() must land in the executed
    # notebook: the inline backend renders with Agg and keeps the PNGs (plain
    # "Agg" in a kernel silently drops every plt.show() figure).
    if os.environ.get("MPLBACKEND", "agg").lower() == "agg":
        env["MPLBACKEND"] = INLINE_BACKEND
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), *filter(None, [os.environ.get("PYTHONPATH")])])
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the worker, its process group and every descendant (kernels have their own session)."""
    try:
        import psutil

        descendants = psutil.Process(proc.pid).children(recursive=True)
    except Exception:  # psutil missing or the worker already gone
        descendants = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    for child in descendants:
        try:
            child.kill()
        except Exception:  # already gone
            pass


def _stop_workers() -> None:
    """End every running worker and its kernel (after Ctrl-C)."""
    with _WORKERS_LOCK:
        procs = list(_WORKERS)
    for proc in procs:
        _kill_group(proc)


def write_spec(
    job: NotebookJob,
    files: dict[str, Path],
    profile: str,
    cwd: Path,
    timeout_s: float,
    kernel_name: str,
) -> str:
    """Write the worker's JSON spec (see :func:`papseg_utils.book.worker.run_worker`) to a
    temporary file and return its path; ``files`` holds the ``output`` notebook and the
    ``provenance`` record's paths. The caller removes the file."""
    spec = {
        "stem": job.stem,
        "source": str(job.source),
        "output": str(files["output"]),
        "parameters": job.parameters,
        "profile": profile,
        "cwd": str(cwd),
        "root": str(repo_root()),
        "timeout_s": timeout_s,
        "provenance": str(files["provenance"]),
        "kernel_name": kernel_name,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(spec, fh)
        return fh.name


def _start_and_wait(
    spec_path: str, log_path: Path, cwd: Path, env: dict[str, str], timeout_s: float
) -> tuple[subprocess.Popen | None, bool]:
    """Run a worker on ``spec_path`` to its end; ``(process, timed out)``.

    The process is None when the run was interrupted before it could start. A worker
    still running ``timeout_s + 60`` s after it started is killed with its kernel.
    """
    with open(log_path, "w", encoding="utf-8") as logfh, _WORKERS_LOCK:
        if _INTERRUPTED.is_set():
            return None, False
        proc = subprocess.Popen(
            [sys.executable, "-m", "papseg_utils.book.runner", "_worker", spec_path],
            cwd=str(cwd),
            env=env,
            stdout=logfh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _WORKERS.add(proc)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s + 60)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()
        timed_out = True
    finally:
        with _WORKERS_LOCK:
            _WORKERS.discard(proc)
    return proc, timed_out


def _execute(
    job: NotebookJob,
    out: Path,
    profile: str,
    *,
    cwd: Path,
    timeout_s: float,
    env: dict[str, str],
    kernel_name: str,
) -> NotebookResult:
    """Run ``job`` in a worker process with a wall-clock limit; return its result."""
    output = out / f"{job.stem}.ipynb"
    prov_path = out / f"{job.stem}.provenance.json"
    log_path = out / f"{job.stem}.log"
    for stale in (output, prov_path):
        stale.unlink(missing_ok=True)
    files = {"output": output, "provenance": prov_path}
    spec_path = write_spec(job, files, profile, cwd, timeout_s, kernel_name)
    started = provenance.now_iso()
    t0 = time.perf_counter()
    log.info("%s: started (profile %s)", job.stem, profile)
    try:
        proc, timed_out = _start_and_wait(spec_path, log_path, cwd, env, timeout_s)
    finally:
        os.unlink(spec_path)
    wall = time.perf_counter() - t0
    interrupted = _INTERRUPTED.is_set() and (proc is None or proc.returncode != 0)
    if interrupted or timed_out or not prov_path.is_file():
        if interrupted:
            status, reason = "interrupted", INTERRUPTED_REASON.format(signal=signals.received())
        elif timed_out:
            status = "timeout"
            reason = f"exceeded the {timeout_s:.0f} s limit (raise it with --timeout)"
        else:
            status, reason = "failed", f"worker exited with code {proc.returncode}; see {log_path}"
        _record_unfinished(job, profile, prov_path, started, wall, status, reason)
    record = provenance.read(prov_path)
    status = record["status"]
    message = "" if status == "ok" else format_failure(job.stem, record, output, log_path)
    return NotebookResult(
        job.stem,
        status,
        record.get("wall_s"),
        output if output.is_file() else None,
        prov_path,
        message,
    )


def _record_unfinished(
    job: NotebookJob,
    profile: str,
    prov_path: Path,
    started: str,
    wall: float | None,
    status: str,
    reason: str,
) -> None:
    """Write the provenance of a notebook that did not finish on its own (``status``: why)."""
    record = provenance.collect(
        notebook=job.stem,
        profile=profile,
        parameters=job.parameters,
        root=repo_root(),
        started=started,
        wall_s=wall,
        status=status,
        error={"ename": status, "evalue": reason, "cell_index": None, "first_line": ""},
        device=provenance.device_info(import_torch=False),
    )
    provenance.write(record, prov_path)


def format_failure(stem: str, record: dict[str, Any], output: Path, log_path: Path) -> str:
    """Human-readable failure report: notebook, failing cell, exception, traceback."""
    err = record.get("error") or {}
    lines = [f"notebook {stem} {record['status']}"]
    if err.get("cell_index") is not None:
        src = err.get("source_cell_index", err["cell_index"])
        lines.append(
            f"  failing cell: #{src} of the source notebook (#{err['cell_index']} in the executed copy), "
            f"starting: {err.get('first_line', '')!r}"
        )
    lines.append(f"  {err.get('ename', 'error')}: {err.get('evalue', '')}")
    tb = err.get("traceback") or []
    if tb:
        lines.append("  traceback:")
        lines.extend("    " + line for chunk in tb for line in chunk.splitlines())
    lines.append(f"  executed copy: {output if output.is_file() else '(none)'}; log: {log_path}")
    return "\n".join(lines)


def run_notebooks(
    jobs: list[NotebookJob],
    out: Path,
    profile: str,
    *,
    cwd: Path,
    max_workers: int = 1,
    timeout_s: float | None = None,
    kernel_name: str = "python3",
) -> list[NotebookResult]:
    """Execute ``jobs`` (from :func:`plan`), up to ``max_workers`` at once.

    A job starts when all its selected dependencies succeeded; when one of them
    did not, the job is skipped (status ``"skipped"``, with a provenance record
    saying why). A dependency that is not among ``jobs`` counts as satisfied if
    ``out`` holds a successful run of it, and otherwise a warning is logged.

    Returns the results in the order of ``jobs``.
    """
    out.mkdir(parents=True, exist_ok=True)
    timeout_s = timeout_s or DEFAULT_TIMEOUT_S.get(profile, DEFAULT_TIMEOUT_S["full"])
    env = kernel_env(cwd, max_workers)
    selected = {j.stem for j in jobs}
    for job in jobs:
        for dep in job.depends_on:
            if dep not in selected and _previous_status(out / f"{dep}.provenance.json") != "ok":
                log.warning(
                    "%s depends on %s, which is not selected and has no successful run in %s; running anyway",
                    job.stem,
                    dep,
                    out,
                )
    results: dict[str, NotebookResult] = {}
    pending = list(jobs)
    running: dict[Future, NotebookJob] = {}
    _INTERRUPTED.clear()
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        try:
            _schedule(
                pending,
                running,
                results,
                pool,
                selected,
                out,
                profile,
                max_workers,
                dict(cwd=cwd, timeout_s=timeout_s, env=env, kernel_name=kernel_name),
            )
        except KeyboardInterrupt:
            _interrupt(pending, running, results, out, profile)
            raise RunInterrupted([results[j.stem] for j in jobs if j.stem in results]) from None
    return [results[j.stem] for j in jobs]


def _interrupt(pending, running, results, out: Path, profile: str) -> None:
    """Ctrl-C: end the workers and their kernels; record every unfinished notebook as interrupted."""
    with signals.held():  # a second Ctrl-C or SIGTERM cannot orphan them
        _INTERRUPTED.set()
        log.warning("interrupted: stopping %d running notebook(s)", len(running))
        _stop_workers()
        for fut, job in running.items():
            results[job.stem] = fut.result()
        for job in pending:
            results[job.stem] = _not_run(
                job, out, profile, "interrupted",
                f"not started: the run was interrupted ({signals.received()})",
            )  # fmt: skip


def _schedule(pending, running, results, pool, selected, out, profile, max_workers, kw) -> None:
    """Start jobs as their dependencies finish, until none is left (the loop of run_notebooks)."""
    while pending or running:
        for job in list(pending):
            if job.error is not None:
                pending.remove(job)
                results[job.stem] = _not_run(job, out, profile, "invalid", job.error)
                continue
            deps = [d for d in job.depends_on if d in selected]
            bad = [d for d in deps if d in results and results[d].status != "ok"]
            if bad:
                pending.remove(job)
                results[job.stem] = _skip(job, out, profile, bad, results)
            elif all(d in results for d in deps) and len(running) < max(1, max_workers):
                pending.remove(job)
                fut = pool.submit(_execute, job, out, profile, **kw)
                running[fut] = job
        if not running:
            continue
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for fut in done:
            job = running.pop(fut)
            res = fut.result()
            results[job.stem] = res
            if res.status == "ok":
                log.info("%s: ok in %.1f s", job.stem, res.wall_s or 0.0)
            else:
                log.error("%s", res.message)


def _previous_status(path: Path) -> str | None:
    try:
        return provenance.read(path).get("status")
    except (OSError, ValueError):
        return None


def _skip(
    job: NotebookJob, out: Path, profile: str, bad: list[str], results: dict[str, NotebookResult]
) -> NotebookResult:
    reason = "skipped because its dependency " + ", ".join(
        f"{d} ({results[d].status})" for d in bad
    )
    return _not_run(job, out, profile, "skipped", reason)


def _not_run(job: NotebookJob, out: Path, profile: str, status: str, reason: str) -> NotebookResult:
    """Record a notebook that was not executed (``skipped`` or ``invalid``)."""
    prov_path = out / f"{job.stem}.provenance.json"
    (out / f"{job.stem}.ipynb").unlink(missing_ok=True)
    _record_unfinished(job, profile, prov_path, provenance.now_iso(), None, status, reason)
    message = (
        f"notebook {job.stem} {reason}"
        if status in ("skipped", "interrupted")
        else f"notebook {job.stem} invalid: {reason}"
    )
    log.error("%s", message)
    return NotebookResult(job.stem, status, None, None, prov_path, message)
