"""What the notebooks say holds: one Herlev check, working exercises, counts that match the code.

Static checks on the source notebooks (no kernel): cheap guards for promises
that a reader of the rendered book noticed broken.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import nbformat
import pytest

from papseg_utils import augment as au
from papseg_utils.labels import SCHEMES

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HERLEV_CHECK = 'is_available("herlev", data_dir or None)'
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _cells(path: Path, kind: str) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == kind]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_asks_the_one_herlev_check(path: Path) -> None:
    code = "\n".join(_cells(path, "code"))
    calls = re.findall(r"is_available\([^)]*\)", code)
    assert all(c == HERLEV_CHECK for c in calls), f"{path.stem}: {calls}"
    assert not re.search(r"(default_root|resolve_root)\([^)]*\)\.(exists|is_dir)\(", code)
    for line in code.splitlines():  # a printed "Herlev available" shows the check's own result
        if "Herlev available" in line:
            assert "{have_herlev}" in line, f"{path.stem}: {line.strip()}"
    if "Herlev available" in code:
        assert f"have_herlev = {HERLEV_CHECK}" in code, path.stem


def test_notebooks_that_print_herlev_availability_all_use_the_check() -> None:
    printing = [p.stem for p in NOTEBOOKS if "Herlev available" in "\n".join(_cells(p, "code"))]
    assert {"02_data", "04_transfer_learning"} <= set(printing)


def test_chapter4_parameter_counts_follow_encoder_name() -> None:
    path = REPO / "notebooks" / "04_transfer_learning.ipynb"
    cell = next(c for c in _cells(path, "code") if "parameter_counts(" in c)
    assert re.search(r"parameter_counts\(build_model\([^)]*encoder=encoder_name", cell), cell
    exercises = "\n".join(_cells(path, "markdown"))
    assert "`encoder_name`" in exercises.split("## Exercises")[1]


def test_chapter2_summary_counts_the_registered_schemes() -> None:
    path = REPO / "notebooks" / "02_data.ipynb"
    summary = next(c for c in _cells(path, "markdown") if "## Summary" in c)
    m = re.search(r"registers (\w+) label schemes \(([^)]*)\)", summary)
    assert m, summary[:300]
    assert m.group(1) == NUMBERS[len(SCHEMES)]
    assert re.findall(r"`(\w+)`", m.group(2)) == list(SCHEMES)


def test_chapter3_dropout_exercise_uses_what_exists() -> None:
    path = REPO / "notebooks" / "03_augmentation.ipynb"
    exercises = next(c for c in _cells(path, "markdown") if "## Exercises" in c)
    fourth = exercises.split("\n4. ")[1]
    assert 'au.get_policy("medical", seed=seed, dropout_mask=m)' in fourth
    assert "dropout_mask" in inspect.signature(au.get_policy).parameters
    for choice in ("ignore", "keep"):
        au.get_policy("medical", seed=0, dropout_mask=choice)
    code = "\n".join(_cells(path, "code"))
    assert "syn_image, syn_mask" in code  # the names the exercise works on
    assert "fine-tuning chapter" not in fourth  # chapter 6 has no dropout_mask parameter


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_hand_run_uses_the_default_profile_of_the_book(path: Path) -> None:
    """The parameters cell's values are the `default` profile's: a student who runs the
    notebook in JupyterLab gets the numbers of the rendered page (issue 23). Output paths
    under ``{build}`` are the exception: the book keeps its runs in the build folder."""
    import ast

    from papseg_utils.book.profiles import profile_parameters

    source = next(c.source for c in nbformat.read(path, as_version=4).cells
                  if "parameters" in c.metadata.get("tags", []))  # fmt: skip
    cell = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            cell[target.id] = ast.literal_eval(node.value)
    profile = profile_parameters(path.stem, "default", REPO / "notebooks")  # extends: resolved
    default = {k: v for k, v in profile.items()
               if not (isinstance(v, str) and "{build}" in v)}  # fmt: skip
    differ = {k: (cell.get(k), v) for k, v in default.items() if cell.get(k) != v}
    assert not differ, f"parameters cell vs default profile (cell, profile): {differ}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_name_the_generic_python3_kernel(path: Path) -> None:
    """The convention for shared notebooks (Colab, papermill, ``papseg run``); the README's
    "Run the notebooks yourself" says why, and when to pick the kernel "papseg" instead."""
    spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("language") == "python", spec
