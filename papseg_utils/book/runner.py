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

The command lives here; planning (profiles, ``-p`` checks, dependency order) in
:mod:`papseg_utils.book.profiles`, execution (workers, timeouts, stops) in
:mod:`papseg_utils.book.execution`, and the worker process in :mod:`papseg_utils.book.worker`.
Their public names are importable from this module too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from papseg_utils import signals
from papseg_utils.book.execution import (  # re-exported for callers
    INLINE_BACKEND,
    INTERRUPTED_REASON,
    NotebookResult,
    RunInterrupted,
    format_failure,
    kernel_env,
    run_notebooks,
)
from papseg_utils.book.profiles import (  # planning lives there; re-exported for callers
    DEFAULT_TIMEOUT_S,
    PROFILES,
    NotebookJob,
    RunnerError,
    parse_overrides,
    plan,
    repo_root,
)
from papseg_utils.book.worker import run_worker as _worker

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "INLINE_BACKEND",
    "INTERRUPTED_REASON",
    "PROFILES",
    "NotebookJob",
    "NotebookResult",
    "RunInterrupted",
    "RunnerError",
    "build_parser",
    "format_failure",
    "kernel_env",
    "main",
    "parse_overrides",
    "plan",
    "repo_root",
    "run_notebooks",
]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130


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
    return _report(results, args.profile, out)


def _report(results: list[NotebookResult], profile: str, out: Path) -> int:
    """Print one line per notebook and the failures; the exit code (0 all ok, 1 otherwise)."""
    width = max(len(r.stem) for r in results)
    print(f"profile {profile}; executed notebooks in {out}")
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
