"""The Slurm scripts, run through a stand-in ``sbatch`` (no cluster here).

The stand-in runs a submitted job at once: an ``--array=A-B`` job as one process per
task with ``SLURM_ARRAY_TASK_ID`` set, anything else as a plain process. It logs every
submission, so the test checks what ``scripts/slurm/submit_study.sh`` asks Slurm for
(the array size, the dependency of the aggregation job) and what the tasks did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SLURM = REPO_ROOT / "scripts" / "slurm"

FAKE_SBATCH = r"""#!/usr/bin/env bash
# Stand-in for Slurm's sbatch: runs the job at once; array tasks one after another.
set -u
array=""
while [ $# -gt 0 ]; do
    case "$1" in
        --array=*) array="${1#--array=}" ;;
        --*) ;;
        *) break ;;
    esac
    shift
done
script="$1"; shift
jobid=$((1000 + $(wc -l < "$SBATCH_LOG")))
echo "job $jobid ${SBATCH_ARGS_SEEN:-} array=$array script=$(basename "$script") args=$*" >> "$SBATCH_LOG"
if [ -n "$array" ]; then
    for i in $(seq "${array%-*}" "${array#*-}"); do
        SLURM_ARRAY_JOB_ID=$jobid SLURM_ARRAY_TASK_ID=$i SLURM_SUBMIT_DIR="$PWD" \
            bash "$script" "$@" > "$SBATCH_LOG.task$i" 2>&1
        echo "task $i exit $?" >> "$SBATCH_LOG"
    done
else
    SLURM_JOB_ID=$jobid SLURM_SUBMIT_DIR="$PWD" bash "$script" "$@" > "$SBATCH_LOG.job$jobid" 2>&1
    echo "job $jobid exit $?" >> "$SBATCH_LOG"
fi
echo "$jobid"
"""


@pytest.fixture
def fake_slurm(tmp_path: Path) -> dict:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    sbatch = bindir / "sbatch"
    sbatch.write_text(FAKE_SBATCH)
    sbatch.chmod(0o755)
    log = tmp_path / "sbatch.log"
    log.write_text("")
    env = dict(
        os.environ,
        PATH=os.pathsep.join([str(bindir), str(Path(sys.executable).parent), os.environ["PATH"]]),
        SBATCH_LOG=str(log),
        PAPSEG_PYTHON=sys.executable,
        PAPSEG_ROOT=str(REPO_ROOT),
        PAPSEG_STUDY_OUT=str(tmp_path / "study"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.pop("SLURM_ARRAY_TASK_ID", None)
    return {"env": env, "log": log, "out": tmp_path / "study"}


def _study_ids(env: dict) -> list[str]:
    listing = subprocess.run(
        [sys.executable, "-m", "papseg_utils", "study", "smoke", "--list"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in listing.splitlines()]


def test_a_task_beyond_the_grid_does_nothing(fake_slurm):
    env = dict(fake_slurm["env"], SLURM_ARRAY_TASK_ID="99")
    proc = subprocess.run(
        ["bash", str(SLURM / "study.sbatch"), "smoke"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "only 2 runs" in proc.stderr
    assert not (fake_slurm["out"] / "runs").exists()


def test_only_with_an_unknown_run_id_is_an_error():
    from papseg_utils.book import study

    assert study.main(["smoke", "--only", "no-such-run", "--list"]) == 2


@pytest.mark.slow
def test_array_job_runs_one_run_per_task_then_aggregates(fake_slurm):
    """submit_study.sh -> array of 2 tasks (one smoke run each) -> aggregation after both."""
    env, log, out = fake_slurm["env"], fake_slurm["log"], fake_slurm["out"]
    ids = _study_ids(env)
    assert len(ids) == 2
    proc = subprocess.run(
        ["bash", str(SLURM / "submit_study.sh"), "smoke"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = log.read_text().splitlines()
    tasks = "\n".join(p.read_text()[-3000:] for p in sorted(log.parent.glob("sbatch.log.*")))
    assert proc.returncode == 0, proc.stderr + "\n" + tasks
    # what was submitted: an array of 2 tasks, then the aggregation depending on it
    array_job, aggregate_job = (ln for ln in lines if ln.startswith("job ") and "script=" in ln)
    assert "array=0-1 script=study.sbatch args=smoke" in array_job
    assert "array= script=study.sbatch args=smoke" in aggregate_job
    assert lines.count("task 0 exit 0") == 1 and lines.count("task 1 exit 0") == 1, tasks
    assert f"array job {array_job.split()[1]}" in proc.stdout
    # task i ran exactly run i of --list, and nothing else
    for i, run_id in enumerate(ids):
        task_log = (log.parent / f"sbatch.log.task{i}").read_text()
        assert f"task {i} runs {run_id}" in task_log
        assert "1 done, 0 failed" in task_log, task_log[-2000:]
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(ids)
    # the aggregation job built the tables from both runs
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["run_id"]) == sorted(ids) and set(runs["status"]) == {"done"}
    results = pd.read_csv(out / "results.csv")
    assert set(results["run_id"]) == set(ids)
