"""Execute the book's notebooks with papermill under a named profile.

Command line (see ``python -m papseg_utils run --help``)::

    python -m papseg_utils run                       # every notebook, profile "default"
    python -m papseg_utils run 06_fine_tuning --profile smoke -p num_epochs 2
    python -m papseg_utils run --profile smoke -j 2 --out /tmp/executed

Each notebook ``notebooks/NN_name.ipynb`` has a profile file
``notebooks/profiles/NN_name.yaml``::

    depends_on: [02_data]          # optional: run after these notebooks
    smoke:   {num_epochs: 1, image_size: 64}
    default: {num_epochs: 5, output_dir: "{build}/runs/fine_tuning"}
    full:    {num_epochs: 100}

Every key must be declared in the notebook's ``parameters`` cell. ``{build}``
in a string value becomes the output folder. The executed copy is written to
``<out>/<stem>.ipynb`` (sources are never touched) together with
``<stem>.provenance.json`` (also stored in the notebook metadata under
``papseg.provenance``) and ``<stem>.log`` (the worker's log).

Notebooks run in separate processes (one papermill worker each, up to ``-j``
at once) with the repository root as working directory. A notebook whose
dependency failed is skipped, not run. Each notebook has a wall-clock timeout.
``-p`` values are checked against the parameters cell's annotations.

One Ctrl-C, SIGTERM (a scheduler's time limit, ``timeout``, ``kill``) or SIGHUP
ends the running workers and their kernels (they run in sessions of their own),
records every unfinished notebook as ``interrupted`` in its provenance and
exits with 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
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
from papseg_utils.book.profiles import (  # planning lives there; re-exported for callers
    DEFAULT_TIMEOUT_S,
    PROFILES,
    NotebookJob,
    RunnerError,
    parse_overrides,
    plan,
    repo_root,
)

log = logging.getLogger(__name__)

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


EXIT_INTERRUPTED = 130
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


# --------------------------------------------------------------------------- planning


# --------------------------------------------------------------------------- execution


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


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _worker(spec_path: str) -> int:
    """Run one notebook (in a child process); write its provenance. Returns 0 or 1."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    output = Path(spec["output"])
    started = provenance.now_iso()
    t0 = time.perf_counter()
    error: dict[str, Any] | None = None
    status = "ok"
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
        status = "failed"
        error = {
            "cell_index": err.cell_index,
            "exec_count": err.exec_count,
            "first_line": _first_line(err.source),
            "ename": err.ename,
            "evalue": _ANSI.sub("", str(err.evalue)),
            "traceback": [_ANSI.sub("", t) for t in (err.traceback or [])],
        }
    except Exception as err:  # kernel death, timeouts inside nbclient, bad notebooks
        status = "failed"
        error = {
            "cell_index": None,
            "first_line": "",
            "ename": type(err).__name__,
            "evalue": str(err),
        }
    wall = time.perf_counter() - t0
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
        "first_line": _first_line(nb.cells[index].source),
    }


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
    spec = {
        "stem": job.stem,
        "source": str(job.source),
        "output": str(output),
        "parameters": job.parameters,
        "profile": profile,
        "cwd": str(cwd),
        "root": str(repo_root()),
        "timeout_s": timeout_s,
        "provenance": str(prov_path),
        "kernel_name": kernel_name,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(spec, fh)
        spec_path = fh.name
    started = provenance.now_iso()
    t0 = time.perf_counter()
    log.info("%s: started (profile %s)", job.stem, profile)
    timed_out = False
    try:
        with open(log_path, "w", encoding="utf-8") as logfh, _WORKERS_LOCK:
            if _INTERRUPTED.is_set():
                proc = None
            else:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "papseg_utils.book.runner", "_worker", spec_path],
                    cwd=str(cwd),
                    env=env,
                    stdout=logfh,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                _WORKERS.add(proc)
        if proc is not None:
            try:
                proc.wait(timeout=timeout_s + 60)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                timed_out = True
            finally:
                with _WORKERS_LOCK:
                    _WORKERS.discard(proc)
    finally:
        os.unlink(spec_path)
    wall = time.perf_counter() - t0
    interrupted = _INTERRUPTED.is_set() and (proc is None or proc.returncode != 0)
    if interrupted or timed_out or not prov_path.is_file():
        status = "interrupted" if interrupted else "timeout" if timed_out else "failed"
        reason = (
            INTERRUPTED_REASON.format(signal=signals.received())
            if interrupted
            else f"exceeded the {timeout_s:.0f} s limit (raise it with --timeout)"
            if timed_out
            else f"worker exited with code {proc.returncode}; see {log_path}"
        )
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
    record = provenance.collect(
        notebook=job.stem,
        profile=profile,
        parameters=job.parameters,
        root=repo_root(),
        started=provenance.now_iso(),
        wall_s=None,
        status=status,
        error={"ename": status, "evalue": reason, "cell_index": None, "first_line": ""},
        device=provenance.device_info(import_torch=False),
    )
    provenance.write(record, prov_path)
    message = (
        f"notebook {job.stem} {reason}"
        if status in ("skipped", "interrupted")
        else f"notebook {job.stem} invalid: {reason}"
    )
    log.error("%s", message)
    return NotebookResult(job.stem, status, None, None, prov_path, message)


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m papseg_utils run",
        description="Execute notebooks with papermill under a parameter profile.",
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="stems or file names (default: all NN_*.ipynb)",
    )
    parser.add_argument(
        "--profile",
        default="default",
        help=f"one of {', '.join(PROFILES)}, or a recipe of the notebook's profile file "
        "(e.g. herlev-best for 06_fine_tuning) (default: default)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        help="override a parameter; VALUE is parsed as YAML (3 -> int, 0.5 -> float, true -> bool)",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=1, help="notebooks run at once (default 1)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: build/executed)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per notebook (default by profile: smoke 600, default 1800, colab 10800)",
    )
    parser.add_argument(
        "--notebooks-dir",
        type=Path,
        default=None,
        help="folder with the notebooks (default: notebooks/)",
    )
    parser.add_argument(
        "--cwd",
        type=Path,
        default=None,
        help="working directory of the kernels (default: repo root)",
    )
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    parser.add_argument(
        "-k",
        "--keep-going",
        action="store_true",
        help="run the other notebooks when one has bad input (it is reported as invalid)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only report failures")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 every notebook succeeded, 1 failure, 2 bad input, 130 Ctrl-C."""
    args = build_parser().parse_args(argv)
    signals.stop_on_signals()  # Ctrl-C, SIGTERM and SIGHUP all stop the workers and kernels
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="[run] %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("papermill").setLevel(logging.WARNING)
    root = repo_root()
    cwd = (args.cwd or root).resolve()
    notebooks_dir = (args.notebooks_dir or root / "notebooks").resolve()
    out = (args.out or root / "build" / "executed").resolve()
    if args.jobs < 1:
        log.error("-j must be at least 1, got %d", args.jobs)
        return EXIT_USAGE
    try:
        jobs = plan(
            args.notebooks,
            args.profile,
            parse_overrides(args.parameter),
            out,
            notebooks_dir=notebooks_dir,
            cwd=cwd,
            keep_going=args.keep_going,
        )
    except RunnerError as err:
        log.error("%s", err)
        return EXIT_USAGE
    try:
        results = run_notebooks(
            jobs,
            out,
            args.profile,
            cwd=cwd,
            max_workers=args.jobs,
            timeout_s=args.timeout,
            kernel_name=args.kernel,
        )
    except RunInterrupted as stop:
        for r in stop.results:
            print(f"  {r.stem}  {r.status}")
        print(
            f"interrupted: {len(stop.results)} notebook(s) recorded as interrupted or finished "
            f"in {out}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    width = max(len(r.stem) for r in results)
    print(f"profile {args.profile}; executed notebooks in {out}")
    for r in results:
        wall = "-" if r.wall_s is None else f"{r.wall_s:7.1f} s"
        print(f"  {r.stem:<{width}}  {r.status:<8} {wall}")
    failed = [r.stem for r in results if r.status != "ok"]
    if failed:
        print(
            f"{len(failed)} of {len(results)} notebooks did not succeed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_worker":
        sys.exit(_worker(sys.argv[2]))
    sys.exit(main())
