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

The command lives here; the plan (the study file, its grid, the parameter checks) in
:mod:`papseg_utils.book.study_plan`, the runs in :mod:`papseg_utils.book.study_runs`
and the tables in :mod:`papseg_utils.book.study_tables`. Their public names are
importable from this module too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from papseg_utils import signals

from .study_plan import (  # re-exported for callers
    NAME_KEYS,
    NOTEBOOK_DIR,
    REPO_ROOT,
    STUDY_DIR,
    RunSpec,
    Study,
    StudyError,
    check_parameters,
    declared_parameters,
    make_run_id,
)
from .study_runs import StudyInterrupted, fetch_study_weights, run_one, run_study
from .study_tables import aggregate

__all__ = [
    "NAME_KEYS",
    "NOTEBOOK_DIR",
    "REPO_ROOT",
    "STUDY_DIR",
    "RunSpec",
    "Study",
    "StudyError",
    "StudyInterrupted",
    "aggregate",
    "check_parameters",
    "declared_parameters",
    "fetch_study_weights",
    "main",
    "make_run_id",
    "run_one",
    "run_study",
]

log = logging.getLogger(__name__)


def _check_args(args: argparse.Namespace, study: Study) -> Path:
    """Apply ``--set`` to ``study`` and check every option before anything runs; the output folder.

    Raises :class:`StudyError` (exit 2) naming the option and the fix.
    """
    if args.set:
        from .profiles import parse_overrides

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


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m papseg_utils study``."""
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m papseg_utils study STUDY.yaml [-j N] [--out DIR] [--retry-failed]``.

    Exit codes: 0 every run done, 1 some failed, 2 bad input (study file, options,
    weights unavailable offline), 130 interrupted.
    """
    args = build_parser().parse_args(argv)
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
        if not _weights_available(args, study):
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
    return _report(runs, args, study, out)


def _weights_available(args: argparse.Namespace, study: Study) -> bool:
    """Fetch (or find) the weights of the selected runs; False, saying why, when unavailable."""
    from papseg_utils.models import WeightsUnavailableError

    selected = [s for s in study.expand() if not args.only or any(o in s.run_id for o in args.only)]
    try:
        fetch_study_weights(selected)
    except WeightsUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return False
    return True


def _report(runs: pd.DataFrame, args: argparse.Namespace, study: Study, out: Path) -> int:
    """Print the done and failed counts and each failure; 1 when a run failed, else 0."""
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
