"""Batch studies: a YAML grid of runs, each executed through the notebooks.

A study file describes a grid::

    name: herlev-cpu
    profile: default                 # notebook profile each run starts from
    notebooks: [06_fine_tuning, 07_evaluation]
    base:                            # parameters shared by every run
      dataset: herlev
    per_notebook:                    # parameters for one notebook only
      06_fine_tuning: {output_dir: "{run}/train"}      # {run} = this run's folder
      07_evaluation: {output_dir: "{run}/eval", checkpoint: "{run}/train/best"}
    grids:                           # the union of these grids is run
      - architecture: [unet]
        pretrained: [imagenet, none]
        data_fraction: [0.1, 0.25, 0.5, 1.0]
        seed: [0, 1]

``python -m papseg_utils study STUDY.yaml`` expands the grid, runs every cell
through the notebooks with papermill (each run in its own folder, with the
executed notebooks and their provenance), skips runs that already finished,
records failed runs with their error without stopping the others, and
aggregates everything into tidy tables:

``runs.csv``
    one row per run: parameters, status, wall time, error.
``per_image.csv.gz``
    one row per run x image x class x metric (the evaluation notebook's table).
``results.csv``
    one row per run x class x metric: the per-image mean with a bootstrap 95 %
    confidence interval over images, the number of images it averages, and how
    many image/class pairs were excluded because both masks were empty (and
    how many got the empty-prediction or empty-truth penalty); plus dataset-level
    micro Dice/IoU/precision/recall rows (``aggregation == "micro"``).

Each notebook receives only the parameters it declares (read with
``papermill.inspect_notebook``), so one grid can drive several notebooks.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from papseg_utils import signals

from .colab import on_colab
from .runner import repo_root

log = logging.getLogger(__name__)

REPO_ROOT = repo_root()  # the clone: $PAPSEG_ROOT, the package's parent or the working folder
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
STUDY_DIR = REPO_ROOT / "studies"
#: Parameters that name a run (in this order) when they vary across the grid.
NAME_KEYS = (
    "architecture",
    "encoder",
    "pretrained",
    "scheme",
    "augmentation",
    "data_fraction",
    "loss",
    "seed",
)


class StudyError(ValueError):
    """A study file or its runs are invalid; the message says how to fix it."""


class StudyInterrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP: the running runs were stopped and recorded as interrupted."""


# The ``papseg run`` processes of the running runs (in sessions of their own, so that the
# study alone decides when they stop): ended with SIGTERM, which they handle like Ctrl-C.
_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()
_STOPPING = threading.Event()


@dataclass(frozen=True)
class RunSpec:
    """One cell of the grid: its id and the full parameter set."""

    run_id: str
    params: dict


@dataclass
class Study:
    """A parsed study file."""

    name: str
    notebooks: list[str]
    profile: str = "default"
    base: dict = field(default_factory=dict)
    grids: list[dict] = field(default_factory=list)
    per_notebook: dict[str, dict] = field(default_factory=dict)
    jobs: int = 1
    description: str = ""
    source: Path | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> Study:
        """Read and validate a study file."""
        path = Path(path)
        if not path.is_file():
            known = sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))
            raise StudyError(f"study file {path} not found; shipped studies: {known}")
        data = yaml.safe_load(path.read_text()) or {}
        allowed = {
            "name",
            "notebooks",
            "profile",
            "base",
            "grids",
            "grid",
            "per_notebook",
            "jobs",
            "description",
        }
        unknown = set(data) - allowed
        if unknown:
            raise StudyError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        grids = data.get("grids") or ([data["grid"]] if "grid" in data else [])
        if not grids:
            raise StudyError(f"{path}: give at least one grid under 'grids:'")
        for i, grid in enumerate(grids):
            if not isinstance(grid, dict) or not grid:
                raise StudyError(
                    f"{path}: grid {i} must be a mapping of parameter -> list of values"
                )
        notebooks = list(data.get("notebooks") or [])
        if not notebooks:
            raise StudyError(f"{path}: list the notebooks each run executes under 'notebooks:'")
        for stem in notebooks:
            if not (NOTEBOOK_DIR / f"{stem}.ipynb").is_file():
                known = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
                raise StudyError(f"{path}: notebook {stem!r} not found; available: {known}")
        return cls(
            name=str(data.get("name") or path.stem),
            notebooks=notebooks,
            profile=str(data.get("profile", "default")),
            base=dict(data.get("base") or {}),
            grids=[dict(g) for g in grids],
            per_notebook={
                str(k): dict(v or {}) for k, v in (data.get("per_notebook") or {}).items()
            },
            jobs=int(data.get("jobs", 1)),
            description=str(data.get("description", "")),
            source=path,
        )

    def expand(self) -> list[RunSpec]:
        """All runs of the grid union, deduplicated, in a stable order."""
        runs: dict[str, RunSpec] = {}
        varying = self._varying_keys()
        for grid in self.grids:
            keys = list(grid)
            values = [v if isinstance(v, list) else [v] for v in grid.values()]
            for combo in itertools.product(*values):
                params = {**self.base, **dict(zip(keys, combo, strict=True))}
                run_id = make_run_id(params, varying)
                runs.setdefault(run_id, RunSpec(run_id, params))
        return list(runs.values())

    def _varying_keys(self) -> list[str]:
        """The naming keys (:data:`NAME_KEYS`) whose value differs between runs."""
        seen: dict[str, set] = {}
        for grid in self.grids:
            for key, vals in {**{k: [v] for k, v in self.base.items()}, **grid}.items():
                vals = vals if isinstance(vals, list) else [vals]
                seen.setdefault(key, set()).update(json.dumps(v) for v in vals)
        return [k for k in NAME_KEYS if len(seen.get(k, ())) > 1]


def make_run_id(params: dict, keys: Sequence[str]) -> str:
    """Readable, unique folder name: the varying values plus a short hash."""
    parts = []
    for key in keys:
        if key in params:
            value = params[key]
            if key == "data_fraction":
                value = f"f{float(value):g}"
            elif key == "seed":
                value = f"s{value}"
            parts.append(str(value).replace("/", "-").replace(" ", ""))
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:6]
    return "_".join(parts + [digest])


def declared_parameters(stem: str) -> set[str]:
    """Names declared in the ``parameters`` cell of ``notebooks/<stem>.ipynb``."""
    import papermill

    return set(papermill.inspect_notebook(str(NOTEBOOK_DIR / f"{stem}.ipynb")))


def _substitute(value, run_dir: Path):
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


def check_parameters(study: Study, values: dict, origin: str = "--set") -> None:
    """Refuse a key that no notebook of ``study`` declares, or a value of the wrong type.

    The same check as ``papseg run -p``: each notebook receives only the parameters its
    parameters cell declares, so a misspelt key would otherwise be dropped in silence
    (and still add a ``param.`` column to ``runs.csv``). Raises :class:`StudyError`.
    """
    import difflib

    from .profiles import declared_parameters as declared_in
    from .profiles import matches

    declared = {stem: declared_in(NOTEBOOK_DIR / f"{stem}.ipynb") for stem in study.notebooks}
    valid = sorted(set().union(*declared.values()))
    for key, value in values.items():
        owners = [stem for stem, d in declared.items() if key in d]
        if not owners:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise StudyError(
                f"{origin} {key}: no notebook of the study ({', '.join(study.notebooks)}) declares "
                f"this parameter{hint}; valid: {', '.join(valid)}"
            )
        for stem in owners:
            ann = declared[stem][key].get("inferred_type_name")
            if isinstance(value, str) and "{run}" in value:
                continue  # a path template, filled in per run
            if not matches(value, ann):
                default = declared[stem][key].get("default")
                raise StudyError(
                    f"{origin} {key} {value!r} is not a valid {ann} (the parameters cell of {stem} "
                    f"declares {key}: {ann} = {default}); pass a value of that type"
                )


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
    log.info(
        "study %s: %d runs, %d pending, %d in parallel", study.name, len(specs), len(pending), jobs
    )
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


def aggregate(
    out_dir: Path, run_ids: Sequence[str] | None = None, n_boot: int = 2000
) -> pd.DataFrame:
    """Collect every run's status and metrics into ``runs.csv``, ``per_image.csv.gz``, ``results.csv``."""
    from papseg_utils.metrics.per_image import COUNT_METRICS, average
    from papseg_utils.metrics.stats import bootstrap_mean_ci

    run_dirs = sorted((out_dir / "runs").glob("*/status.json"))
    records = [json.loads(p.read_text()) for p in run_dirs]
    if run_ids is not None:
        records = [r for r in records if r["run_id"] in set(run_ids)]
    runs = pd.DataFrame(records)
    runs.to_csv(out_dir / "runs.csv", index=False)
    tables = []
    for rec in records:
        if rec.get("status") != "done":
            continue
        files = sorted((out_dir / "runs" / rec["run_id"]).glob("**/metrics.csv"))
        if not files:
            continue
        table = pd.read_csv(files[0]).fillna({"empty_case": "none"})
        table.insert(0, "run_id", rec["run_id"])
        tables.append(table)
    if not tables:
        log.warning("no finished run has a metrics.csv yet")
        return runs
    per_image = pd.concat(tables, ignore_index=True)
    per_image.to_csv(out_dir / "per_image.csv.gz", index=False)
    rows = []
    body = per_image[~per_image["metric"].isin(COUNT_METRICS)]
    for (run_id, cls, metric), grp in body.groupby(["run_id", "class", "metric"], sort=False):
        values = grp["value"].to_numpy(dtype=float)
        mean, low, high = bootstrap_mean_ci(values, n_boot=n_boot, seed=0)
        cases = grp["empty_case"].fillna("").value_counts()
        rows.append(
            {
                "run_id": run_id,
                "class": cls,
                "metric": metric,
                "aggregation": "image-mean",
                "value": mean,
                "ci_low": low,
                "ci_high": high,
                "unit": grp["unit"].iloc[0],
                "n_images": int((~np.isnan(values)).sum()),
                "n_both_empty": int(cases.get("both_empty", 0)),
                "n_pred_empty": int(cases.get("pred_empty", 0)),
                "n_truth_empty": int(cases.get("truth_empty", 0)),
            }
        )
    for run_id, table in per_image.groupby("run_id", sort=False):
        micro = average(table.drop(columns="run_id"), "micro")
        micro = micro[micro["class"] != "macro"]
        for rec in micro.to_dict("records"):
            rows.append(
                {
                    "run_id": run_id,
                    "class": rec["class"],
                    "metric": rec["metric"],
                    "aggregation": "micro",
                    "value": rec["value"],
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "unit": rec["unit"],
                    "n_images": int(rec["n"]),
                }
            )
    results = pd.DataFrame(rows)
    params = runs.set_index("run_id")[[c for c in runs.columns if c.startswith("param.")]]
    params.columns = [c.removeprefix("param.") for c in params.columns]
    results = results.join(params, on="run_id")
    results.to_csv(out_dir / "results.csv", index=False)
    return runs


def _check_args(args: argparse.Namespace, study: Study) -> Path:
    """Apply ``--set`` to ``study`` and check every option before anything runs; the output folder.

    Raises :class:`StudyError` (exit 2) naming the option and the fix.
    """
    if args.set:
        from .runner import parse_overrides

        overrides = parse_overrides(args.set)
        check_parameters(study, overrides)
        study.base.update(overrides)
    if args.jobs is not None and args.jobs < 1:
        raise StudyError(f"-j {args.jobs} must be at least 1 (runs in parallel)")
    out = args.out or REPO_ROOT / "build" / "studies" / study.name
    if out.exists() and not out.is_dir():
        raise StudyError(f"--out {out} is a file; pass a folder for the study's runs and tables")
    if args.aggregate_only and not (out / "runs").is_dir():
        raise StudyError(
            f"--aggregate-only: {out} holds no runs of a study (no runs/ folder); pass the --out "
            f"folder of an earlier `papseg study {args.study}`, or run it first"
        )
    if args.only and not any(o in s.run_id for s in study.expand() for o in args.only):
        raise StudyError(
            f"no run of {study.name} has an id containing {args.only}; "
            f"see the ids with: papseg study {args.study} --list"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m papseg_utils study STUDY.yaml [-j N] [--out DIR] [--retry-failed]``."""
    parser = argparse.ArgumentParser(
        prog="python -m papseg_utils study", description=__doc__.split("\n")[0]
    )
    parser.add_argument("study", help="study YAML file, or the name of a shipped study in studies/")
    parser.add_argument("--out", type=Path, help="output folder (default: build/studies/<name>)")
    parser.add_argument(
        "-j", "--jobs", type=int, help="runs in parallel (default: the study's 'jobs')"
    )
    parser.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    parser.add_argument("--only", nargs="*", help="run only runs whose id contains one of these")
    parser.add_argument("--list", action="store_true", help="print the expanded runs and exit")
    parser.add_argument(
        "--aggregate-only", action="store_true", help="rebuild the tables, run nothing"
    )
    parser.add_argument("--timeout", type=int, help="seconds per notebook before a run is failed")
    parser.add_argument(
        "--set",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        help="override a base parameter of every run (VALUE parsed as YAML), e.g. "
        "--set dataset folder --set data_dir /data/mine",
    )
    args = parser.parse_args(argv)
    signals.stop_on_signals()  # Ctrl-C, SIGTERM and SIGHUP stop the running runs
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    path = Path(args.study)
    if not path.suffix and not path.exists():
        path = STUDY_DIR / f"{args.study}.yaml"
    try:
        study = Study.from_yaml(path)
        out = _check_args(args, study)
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for spec in study.expand():
            print(spec.run_id, json.dumps(spec.params, sort_keys=True))
        return 0
    if args.aggregate_only:
        runs = aggregate(out, [s.run_id for s in study.expand()])
    else:
        from papseg_utils.models import WeightsUnavailableError

        selected = [
            s for s in study.expand() if not args.only or any(o in s.run_id for o in args.only)
        ]
        try:
            fetch_study_weights(selected)
        except WeightsUnavailableError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        try:
            runs = run_study(
                study,
                out,
                jobs=args.jobs,
                retry_failed=args.retry_failed,
                only=args.only,
                timeout=args.timeout,
            )
        except (KeyboardInterrupt, StudyInterrupted):
            print(f"interrupted ({signals.received()}): the running runs were stopped and "
                  f"recorded as interrupted in {out}/runs; run the same command to go on",
                  file=sys.stderr)  # fmt: skip
            return 130
    if args.only and "run_id" in runs:  # a cluster task reports on its own runs only
        runs = runs[runs["run_id"].map(lambda r: any(o in r for o in args.only))]
    failed = runs[runs["status"] != "done"] if "status" in runs else runs.iloc[0:0]
    done = len(runs) - len(failed)
    print(f"study {study.name}: {done} done, {len(failed)} failed; tables in {out}")
    for _, row in failed.iterrows():
        print(
            f"  FAILED {row['run_id']}: {str(row['error']).splitlines()[0] if row['error'] else ''}"
        )
    return 1 if len(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
