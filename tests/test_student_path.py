"""The student path: ``make lab``'s set-up (scripts/lab.sh) and the kernel "papseg".

``scripts/lab.sh`` with ``PAPSEG_LAB_SETUP_ONLY=1`` installs the clone editable into the
venv and registers the kernel "papseg"; here it writes into a temporary
``JUPYTER_DATA_DIR``, so the user's own kernels are never touched. The kernel is then
started by that name, as JupyterLab starts it (from ``notebooks/``, without
``PYTHONPATH``), and runs the import cell of every notebook.

The script is given this test run's venv (``PAPSEG_VENV=sys.prefix``): run the tests
with the project venv's python (``make test``, or ``$(scripts/env.sh)/bin/python -m
pytest``). Note that the editable install is real: afterwards the shared venv points
at this clone, as after ``make lab``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
LAB_SH = REPO_ROOT / "scripts" / "lab.sh"
IMPORTS_PACKAGE = re.compile(
    r"^[ \t]*(from[ \t]+papseg_utils[ \t.]|import[ \t]+papseg_utils\b)", re.M
)
CELL_TIMEOUT_S = 180  # one import cell (the first imports torch) on 2 busy cores


@dataclass
class LabSetup:
    data_dir: Path  # the JUPYTER_DATA_DIR the script wrote to
    kernel_dir: Path  # what the script printed
    rerun_stderr: str  # the second run's messages (the install must be skipped)


def _lab_setup(data_dir: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        JUPYTER_DATA_DIR=str(data_dir),
        PAPSEG_LAB_SETUP_ONLY="1",
        PAPSEG_VENV=sys.prefix,
    )
    return subprocess.run(
        ["bash", str(LAB_SH)], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def lab_setup(tmp_path_factory: pytest.TempPathFactory) -> LabSetup:
    if not (Path(sys.prefix) / ".papseg-complete").is_file():
        pytest.skip(
            f"{sys.prefix} is not a venv made by scripts/env.sh; run the tests with "
            "$(scripts/env.sh)/bin/python (as make test does)"
        )
    data_dir = tmp_path_factory.mktemp("jupyter_data")
    runs = [_lab_setup(data_dir) for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 0, f"scripts/lab.sh failed:\n{proc.stdout}\n{proc.stderr}"
    kernel_dir = Path(runs[0].stdout.strip().splitlines()[-1])
    return LabSetup(data_dir, kernel_dir, runs[1].stderr)


def test_lab_setup_registers_the_papseg_kernel_in_jupyter_data_dir(lab_setup: LabSetup) -> None:
    assert lab_setup.kernel_dir == lab_setup.data_dir / "kernels" / "papseg"
    spec = json.loads((lab_setup.kernel_dir / "kernel.json").read_text(encoding="utf-8"))
    python = Path(spec["argv"][0])
    # The venv's own python: a symlink to the base interpreter, so compare its folder.
    assert python.is_absolute() and python.is_file(), spec["argv"]
    assert python.parent.resolve() == (Path(sys.prefix) / "bin").resolve(), spec["argv"]
    assert python.resolve() == Path(sys.executable).resolve(), spec["argv"]
    assert spec["display_name"] == "Python 3 (papseg)"
    # Hub downloads allowed, inline figures: only the albumentations check is silenced.
    assert spec.get("env") == {"NO_ALBUMENTATIONS_UPDATE": "1"}


def test_lab_setup_skips_the_install_when_the_venv_points_at_this_clone(
    lab_setup: LabSetup,
) -> None:
    assert "installing" not in lab_setup.rerun_stderr, lab_setup.rerun_stderr


def _import_cell(path: Path) -> str | None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and IMPORTS_PACKAGE.search(cell.source):
            return cell.source
    return None


def _execute(client, code: str) -> tuple[str, list[str], str]:
    """Run ``code``; return the reply status, the error outputs and the text printed."""
    errors: list[str] = []
    printed: list[str] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            errors.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "stream":
            printed.append(content["text"])

    reply = client.execute_interactive(
        code, timeout=CELL_TIMEOUT_S, output_hook=hook, allow_stdin=False
    )
    return reply["content"]["status"], errors, "".join(printed)


@contextlib.contextmanager
def _papseg_kernel(lab_setup: LabSetup):
    """A client of the kernel "papseg", started as JupyterLab starts it: in notebooks/, no PYTHONPATH."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    specs = KernelSpecManager(kernel_dirs=[str(lab_setup.data_dir / "kernels")])
    assert Path(specs.get_kernel_spec("papseg").resource_dir) == lab_setup.kernel_dir
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}
    manager = KernelManager(kernel_name="papseg", kernel_spec_manager=specs)
    manager.start_kernel(cwd=str(NOTEBOOK_DIR), env=env)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_papseg_kernel_runs_every_import_cell_from_notebooks_without_pythonpath(
    lab_setup: LabSetup,
) -> None:
    cells = {path.stem: _import_cell(path) for path in NOTEBOOKS}
    assert cells, f"no notebooks in {NOTEBOOK_DIR}"
    missing = [name for name, code in cells.items() if code is None]
    assert not missing, f"notebooks without a cell that imports papseg_utils: {missing}"

    with _papseg_kernel(lab_setup) as client:
        probe = (
            "import json, os, sys\nimport papseg_utils\n"
            "print(json.dumps({'file': papseg_utils.__file__, 'cwd': os.getcwd(),"
            " 'pythonpath': os.environ.get('PYTHONPATH'), 'prefix': sys.prefix}))"
        )
        status, errors, printed = _execute(client, probe)
        assert status == "ok" and not errors, errors
        where = json.loads(printed.strip().splitlines()[-1])
        assert Path(where["file"]).resolve() == REPO_ROOT / "papseg_utils" / "__init__.py"
        assert Path(where["cwd"]).resolve() == NOTEBOOK_DIR
        assert where["pythonpath"] is None
        assert Path(where["prefix"]).resolve() == Path(sys.prefix).resolve()

        failed = {}
        for name, code in cells.items():
            status, errors, printed = _execute(client, code)
            if status != "ok" or errors:
                failed[name] = errors or [f"status {status}", printed[-2000:]]
        assert not failed, f"import cells that fail in the kernel 'papseg': {failed}"


def test_results_chapter_runs_whole_from_notebooks(lab_setup: LabSetup) -> None:
    """Chapter 8 reads the committed tables from the repository root, wherever it is opened."""
    nb = nbformat.read(NOTEBOOK_DIR / "08_results.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    with _papseg_kernel(lab_setup) as client:
        for i, source in enumerate(code):
            status, errors, printed = _execute(client, source)
            assert status == "ok" and not errors, (i, source[:300], errors, printed[-1000:])
