"""The notebook runner on Ctrl-C and on mistyped ``-p`` values.

Regression tests of issue 10 (items 4 and 8): one SIGINT stops the worker and
its kernel at once (they run in sessions of their own, so the terminal's
signal does not reach them), records the notebooks as ``interrupted`` in their
provenance and exits 130; ``-p image_size abc`` is refused against the
parameters cell's annotation before anything runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from papseg_utils.book import runner

REPO_ROOT = Path(__file__).resolve().parent.parent


def _notebook(path: Path, params: str, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    pcell = nbformat.v4.new_code_cell(params)
    pcell.metadata["tags"] = ["parameters"]
    nb.cells = [pcell, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    nbdir = tmp_path / "notebooks"
    (nbdir / "profiles").mkdir(parents=True)
    _notebook(
        nbdir / "01_slow.ipynb",
        'pid_file: str = "kernel.pid"  # where the kernel writes its pid',
        "import os, time\nopen(pid_file, 'w').write(str(os.getpid()))\ntime.sleep(300)",
    )
    _notebook(nbdir / "02_next.ipynb", "n: int = 1  # a count", "print(n)")
    _notebook(
        nbdir / "03_typed.ipynb",
        "image_size: int = 128  # px\nsize: tuple[int, int] = (2, 3)  # h, w\n"
        "lr: float = 0.1  # rate\nname: str = 'x'  # a name\nflag: bool = False  # switch\n"
        "plain = 3  # no annotation",
        "print(image_size)",
    )
    for stem in ("01_slow", "02_next", "03_typed"):
        (nbdir / "profiles" / f"{stem}.yaml").write_text("smoke: {}\ndefault: {}\nfull: {}\n")
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    for p in [*parent.children(recursive=True), parent]:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def _kernel_pid(proc: subprocess.Popen, pid_file: Path, limit_s: float, never: str) -> int:
    """Wait until the notebook's kernel has written its pid (the command must still be running)."""
    deadline = time.monotonic() + limit_s
    while not pid_file.is_file() or not pid_file.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, never
        time.sleep(0.2)
    return int(pid_file.read_text())


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_one_signal_stops_worker_and_kernel_and_records_interrupted(project: Path, sig) -> None:
    """Ctrl-C, a scheduler's SIGTERM (``timeout``, Slurm) and SIGHUP all take the one clean path."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = project / "out"
    cmd = [sys.executable, "-m", "papseg_utils", "run", "01_slow", "02_next"]
    cmd += ["--notebooks-dir", str(project / "notebooks"), "--cwd", str(project), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file = project / "kernel.pid"
    kernel = None
    try:
        kernel = _kernel_pid(proc, pid_file, 120, "the kernel never started")
        t0 = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 30, "the runner waited for the notebook instead of stopping"
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr
        time.sleep(0.5)
        assert not _alive(kernel), "the kernel was left running"
    finally:  # never leave processes behind, even when the test fails
        _kill_tree(proc.pid)
        if kernel is not None and _alive(kernel):
            os.kill(kernel, signal.SIGKILL)
    slow = json.loads((out / "01_slow.provenance.json").read_text())
    nxt = json.loads((out / "02_next.provenance.json").read_text())
    assert slow["status"] == "interrupted" and nxt["status"] == "interrupted"
    assert "interrupted" in stdout + stderr
    name = "Ctrl-C" if sig == signal.SIGINT else sig.name
    assert name in slow["error"]["evalue"], slow["error"]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_to_a_study_stops_its_runs_and_their_kernels(project: Path) -> None:
    """SIGTERM to ``study`` ends each run's ``papseg run`` and kernel; the run is recorded as interrupted."""
    (project / "studies").mkdir()
    (project / "studies" / "slow.yaml").write_text(
        "name: slow\nprofile: smoke\nnotebooks: [01_slow]\ngrids:\n  - pid_file: [kernel.pid]\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PAPSEG_ROOT=str(project))
    out = project / "study_out"
    cmd = [sys.executable, "-m", "papseg_utils", "study", "slow", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    pid_file = project / "kernel.pid"
    kernel = None
    try:
        kernel = _kernel_pid(proc, pid_file, 180, "the run's kernel never started")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=90)
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr and "interrupted (SIGTERM)" in stderr
        time.sleep(0.5)
        assert not _alive(kernel), "the run's kernel was left running"
    finally:
        _kill_tree(proc.pid)
        if kernel is not None and _alive(kernel):
            os.kill(kernel, signal.SIGKILL)
    (status,) = (out / "runs").glob("*/status.json")
    assert json.loads(status.read_text())["status"] == "interrupted"
    (prov,) = (out / "runs").glob("*/01_slow.provenance.json")
    assert json.loads(prov.read_text())["status"] == "interrupted"


def test_override_is_checked_against_the_annotation(project: Path) -> None:
    nbdir = project / "notebooks"
    kw = dict(notebooks_dir=nbdir, cwd=project)
    with pytest.raises(runner.RunnerError) as info:
        runner.plan(["03_typed"], "smoke", {"image_size": "abc"}, project / "o", **kw)
    msg = str(info.value)
    assert "image_size" in msg and "'abc'" in msg and "int" in msg and "-p image_size" in msg
    for key, bad in (("size", 5), ("lr", "fast"), ("flag", "yes"), ("name", 3)):
        with pytest.raises(runner.RunnerError, match=key):
            runner.plan(["03_typed"], "smoke", {key: bad}, project / "o", **kw)
    ok = {"image_size": 64, "size": [4, 5], "lr": 1, "flag": True, "plain": "any"}
    (job,) = runner.plan(["03_typed"], "smoke", ok, project / "o", **kw)
    assert job.error is None and job.parameters["image_size"] == 64


def test_cli_exits_2_on_a_mistyped_override(project: Path, caplog) -> None:
    code = runner.main(
        ["03_typed", "-p", "image_size", "abc", "--notebooks-dir", str(project / "notebooks"),
         "--cwd", str(project), "--out", str(project / "out")]
    )  # fmt: skip
    assert code == 2
    assert "-p image_size 'abc' is not a valid int" in caplog.text
    assert not (project / "out" / "03_typed.ipynb").exists()
