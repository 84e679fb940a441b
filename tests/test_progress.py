"""No notebook prints tqdm's "IProgress not found" warning (ipywidgets is not a dependency)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# What tqdm.autonotebook checks to decide it runs in a Jupyter kernel.
FAKE_KERNEL = """
import sys, types, warnings
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
import IPython
class ZMQInteractiveShell: pass
IPython.get_ipython = lambda: ZMQInteractiveShell()
warnings.simplefilter("always")
"""

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ipywidgets") is not None, reason="ipywidgets installed: no warning"
)


def _kernel_run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", FAKE_KERNEL + code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    return out.stdout + out.stderr


def test_bare_tqdm_auto_warns_in_a_kernel_without_ipywidgets() -> None:
    # the control: the fake kernel reproduces the warning the book showed
    assert "IProgress not found" in _kernel_run("import tqdm.auto")


def test_importing_the_package_first_silences_every_later_tqdm_auto() -> None:
    out = _kernel_run(
        "import papseg_utils.augment\n"
        "import tqdm.auto\n"
        "from papseg_utils.progress import tqdm\n"
        "print('bar:', *sorted({c.__module__ for c in tqdm.__mro__}))\n"
    )
    assert "IProgress" not in out and "TqdmWarning" not in out
    assert "tqdm.std" in out and "tqdm.notebook" not in out  # the text bar, not a widget


NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_notebook_imports_cell_prints_the_warning(path: Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [
        c
        for c in nb.cells
        if c.cell_type == "code" and "colab-install" not in c.metadata.get("tags", [])
    ]
    imports = "\n".join(ln for ln in cells[0].source.splitlines() if not ln.startswith("%"))
    assert "import" in imports, f"{path.name}: the first code cell is not the imports cell"
    out = _kernel_run(imports + "\nimport tqdm.auto\n")
    assert "IProgress" not in out, f"{path.name}: {out[-500:]}"
