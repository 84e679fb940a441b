"""A study's runs: each cell of the grid executed through the notebooks (:func:`run_study`).

Every run is a ``papseg run`` child process per notebook (in a session of its own, so that
the study alone decides when it stops), in its own folder ``<out>/runs/<run_id>/`` with a
``status.json``; finished runs are skipped, failed ones too unless retried. One Ctrl-C,
SIGTERM or SIGHUP stops the running children (each ends its kernels) and raises
:class:`StudyInterrupted`. The tables are built by :mod:`papseg_utils.book.study_tables`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
import yaml

from papseg_utils import signals

from .colab import on_colab
from .study_plan import REPO_ROOT, RunSpec, Study, declared_parameters
from .study_tables import aggregate

log = logging.getLogger("papseg_utils.book.study")


class StudyInterrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP: the running runs were stopped and recorded as interrupted."""


# The ``papseg run`` processes of the running runs (in sessions of their own, so that the
# study alone decides when they stop): ended with SIGTERM, which they handle like Ctrl-C.
_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _substitute(value, run_dir: Path):
    """``value`` with ``{run}`` replaced by the run's folder (strings only)."""
    if isinstance(value, str):
        return value.replace("{run}", str(run_dir))
    return value


def run_one(
    study: Study,
    spec: RunSpec,
    out_dir: Path,
    threads: int | None = None,
    timeout: int | None = None,
) -> dict:
    """Execute one run through the study's notebooks; return its status record."""
    run_dir = out_dir / "runs" / spec.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"run_id": spec.run_id, **{f"param.{k}": v for k, v in spec.params.items()}}
    start = time.perf_counter()
    env = dict(os.environ)
    if not on_colab():  # Colab may download hub weights; elsewhere offline unless told
        env.setdefault("HF_HUB_OFFLINE", "1")
    env["NO_ALBUMENTATIONS_UPDATE"] = "1"
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
        env["PAPSEG_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    status, error = "done", ""
    for stem in study.notebooks:
        declared = declared_parameters(stem)
        merged = {**spec.params, **study.per_notebook.get(stem, {})}
        params = {k: _substitute(v, run_dir) for k, v in merged.items() if k in declared}
        cmd = [sys.executable, "-m", "papseg_utils", "run", stem, "--profile", study.profile]
        cmd += ["--out", str(run_dir)]
        for key, value in params.items():
            cmd += ["-p", key, json.dumps(value) if not isinstance(value, str) else value]
        log.info("run %s: %s", spec.run_id, stem)
        code, output = _run_child(cmd, env, timeout)
        (run_dir / f"{stem}.log").write_text(output)
        if _STOPPING.is_set():
            status, error = "interrupted", f"{stem} stopped ({signals.received()})"
            break
        if code != 0:
            status = "failed"
            tail = output.strip().splitlines()[-15:]
            error = f"{stem} failed (exit {code}):\n" + "\n".join(tail)
            break
    record.update(status=status, error=error, wall_s=round(time.perf_counter() - start, 1))
    (run_dir / "status.json").write_text(json.dumps(record, indent=2, default=str))
    return record


def _run_child(cmd: list[str], env: dict, timeout: int | None) -> tuple[int, str]:
    """Run one ``papseg run`` to its end (or the study's stop); its exit code and output."""
    with _CHILDREN_LOCK:
        if _STOPPING.is_set():
            return 130, "not started: the study was interrupted\n"
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        _CHILDREN.add(proc)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # the runner stops its kernels and records the notebook
        output, _ = proc.communicate()
        output += f"\nstopped after --timeout {timeout} s\n"
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)
    return proc.returncode, output


def _stop_children(grace_s: float = 60.0) -> None:
    """SIGTERM every running ``papseg run`` (each ends its kernels); SIGKILL what outlives ``grace_s``."""
    with _CHILDREN_LOCK:
        _STOPPING.set()
        children = list(_CHILDREN)
    for proc in children:
        proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


def fetch_study_weights(specs: Sequence[RunSpec]) -> list[str]:
    """Download (once) or find the pretrained weights every run needs; return their sources.

    Runs in this process before any notebook starts, so that the weights are fetched
    once, not by each run, and an offline machine without them fails at once with
    :class:`~papseg_utils.models.WeightsUnavailableError` (the runs themselves load
    from the cache with ``HF_HUB_OFFLINE=1``).
    """
    from papseg_utils.models import ModelConfigError, fetch_weights

    seen: dict[tuple, str] = {}
    for spec in specs:
        p = spec.params
        if "architecture" not in p or str(p.get("pretrained", "none")) == "none":
            continue
        key = (p["architecture"], p.get("encoder"), str(p["pretrained"]))
        if key not in seen:
            try:
                seen[key] = fetch_weights(*key)
            except ModelConfigError as err:  # the run itself reports it, with the others
                log.warning("cannot check the weights of %s: %s", key, err)
                seen[key] = "unknown"
                continue
            log.info("weights for %s/%s (%s): %s", key[0], key[1], key[2], seen[key])
    return list(seen.values())


def _pending_runs(specs: Sequence[RunSpec], out_dir: Path, retry_failed: bool) -> list[RunSpec]:
    """The runs of ``specs`` still to do: not done, and not failed unless ``retry_failed``."""
    pending = []
    for spec in specs:
        status_file = out_dir / "runs" / spec.run_id / "status.json"
        if status_file.is_file():
            previous = json.loads(status_file.read_text())
            if previous.get("status") == "done" or (
                previous.get("status") == "failed" and not retry_failed
            ):
                continue
        pending.append(spec)
    return pending


def _write_study_yaml(study: Study, out_dir: Path) -> None:
    """``study.yaml`` in ``out_dir``: the study as run (its ``--set`` values in ``base``)."""
    (out_dir / "study.yaml").write_text(
        yaml.safe_dump(
            {
                "name": study.name,
                "profile": study.profile,
                "notebooks": study.notebooks,
                "base": study.base,
                "per_notebook": study.per_notebook,
                "grids": study.grids,
            },
            sort_keys=False,
        )
    )


def run_study(
    study: Study,
    out_dir: Path,
    jobs: int | None = None,
    retry_failed: bool = False,
    only: Sequence[str] | None = None,
    timeout: int | None = None,
) -> pd.DataFrame:
    """Run every pending run of ``study`` (resumable) and aggregate the results.

    Finished runs (``status.json`` says done) are skipped; failed runs are
    skipped too unless ``retry_failed``. Returns the ``runs.csv`` table.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = study.expand()
    if only:
        specs = [s for s in specs if any(o in s.run_id for o in only)]
    jobs = max(1, jobs or study.jobs)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pending = _pending_runs(specs, out_dir, retry_failed)
    log.info(
        "study %s: %d runs, %d pending, %d in parallel", study.name, len(specs), len(pending), jobs
    )
    _write_study_yaml(study, out_dir)
    from papseg_utils.progress import tqdm

    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(run_one, study, s, out_dir, threads, timeout): s for s in pending}
    try:
        for fut in tqdm(
            as_completed(futures), total=len(futures), desc=study.name, disable=not pending
        ):
            rec = fut.result()
            if rec["status"] != "done":
                log.warning("run %s failed: %s", rec["run_id"], rec["error"].splitlines()[0])
    except KeyboardInterrupt:
        with signals.held():  # a second signal cannot orphan the runs
            log.warning("interrupted (%s): stopping the running runs", signals.received())
            _stop_children()
            pool.shutdown(wait=True, cancel_futures=True)
        raise StudyInterrupted(out_dir) from None
    pool.shutdown(wait=True)
    return aggregate(out_dir, [s.run_id for s in specs])
