"""Repository hygiene: clean notebooks, valid profiles, consistent pins, no machine paths.

Also executes every notebook under the ``smoke`` profile (through the shared
``smoke_build`` fixture, so the notebooks run once per session).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import tomllib
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from papseg_utils.book.profiles import load_profile_file

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NB_IDS = [p.stem for p in NOTEBOOKS]
PROFILES = ("smoke", "default", "colab", "full")
REQUIRED_PARAMETERS = ("seed", "device")
# Spelled in pieces so that this file does not match itself.
MACHINE_PATHS = re.compile(
    "|".join(re.escape("/" + p + "/") for p in ("work", "root", "home", "Users", "tmp/pytest"))
)


def _tracked_text_files() -> list[Path]:
    """Files git tracks or would track (untracked but not ignored), text only."""
    out = subprocess.run(
        [
            "git",
            "-C",
            str(REPO_ROOT),
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ],
        capture_output=True,
        check=True,
    ).stdout
    files = []
    for name in filter(None, out.decode().split("\0")):
        path = REPO_ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        head = path.read_bytes()[:4096]
        if b"\0" in head:
            continue  # binary
        files.append(path)
    return files


def _parameters_cell(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_source_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} carry outputs or execution counts; clear them "
        "(jupyter nbconvert --clear-output --inplace) before committing"
    )
    assert "papermill" not in nb.metadata, f"{path.name} is an executed copy; commit the source"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_one_parameters_cell_of_annotated_literals(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    cells = _parameters_cell(nb)
    assert len(cells) == 1, (
        f"{path.name}: {len(cells)} cells tagged 'parameters'; exactly one is required"
    )
    source = cells[0].source
    tree = ast.parse(source)
    lines = source.splitlines()
    names = []
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name), (
            f"{path.name}: parameters cell line {node.lineno} is not `name: type = literal`"
        )
        try:
            ast.literal_eval(node.value)
        except ValueError:
            pytest.fail(
                f"{path.name}: parameter {node.target.id} is not a literal; derive it in the next cell"
            )
        assert "#" in lines[node.end_lineno - 1], (
            f"{path.name}: parameter {node.target.id} has no trailing comment"
        )
        names.append(node.target.id)
    parsed = list(papermill.inspect_notebook(str(path)))
    assert parsed == names, (
        f"{path.name}: papermill reads the parameters {parsed}, the cell declares {names}. "
        "Papermill skips a line holding more than one '=': keep '=' out of values and comments"
    )
    missing = [p for p in REQUIRED_PARAMETERS if p not in names]
    assert not missing, f"{path.name}: the parameters cell must declare {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_profile_file_keys_are_declared_parameters(path: Path) -> None:
    pfile = REPO_ROOT / "notebooks" / "profiles" / f"{path.stem}.yaml"
    assert pfile.is_file(), f"{path.name} has no profile file {pfile.relative_to(REPO_ROOT)}"
    data = yaml.safe_load(pfile.read_text(encoding="utf-8")) or {}
    assert set(PROFILES) <= set(data), (
        f"{pfile.name}: needs top-level keys {PROFILES}, has {sorted(data)}"
    )
    recipes = [k for k in data if k not in {*PROFILES, "depends_on"}]
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", k) for k in recipes), (
        f"{pfile.name}: unknown keys {recipes}"
    )
    declared = set(papermill.inspect_notebook(str(path)))
    resolved = load_profile_file(pfile)  # extends: resolved, as the runner reads it
    for profile in [*PROFILES, *recipes]:
        assert isinstance(data[profile] or {}, dict), f"{pfile.name}: {profile} must be a mapping"
        values = resolved[profile]
        undeclared = sorted(set(values) - declared)
        assert not undeclared, (
            f"{pfile.name}: {profile} sets {undeclared}, not in the parameters cell"
        )
    for dep in data.get("depends_on") or []:
        assert (REPO_ROOT / "notebooks" / f"{dep}.ipynb").is_file(), (
            f"{pfile.name}: unknown dependency {dep}"
        )


def test_every_profile_file_belongs_to_a_notebook() -> None:
    orphans = [
        p.name
        for p in (REPO_ROOT / "notebooks" / "profiles").glob("*.yaml")
        if p.stem not in NB_IDS
    ]
    assert not orphans, f"profile files without a notebook: {orphans}"


def _lock_pins() -> list[str]:
    lines = (REPO_ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_environment_yml_matches_lock() -> None:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    assert pip_sections[0][-1] == "-e .", "environment.yml must install the clone (pip: - -e .)"
    assert sorted(pip_sections[0][:-1]) == sorted(_lock_pins()), (
        "environment.yml is stale: run scripts/lock.sh --env-only"
    )


def test_lock_is_fully_pinned() -> None:
    loose = [ln for ln in _lock_pins() if "==" not in ln]
    assert not loose, f"requirements/lock.txt has unpinned lines: {loose}"


def test_pyproject_pins_torch_pair() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = project["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps
    pins = dict(ln.split("==") for ln in _lock_pins())
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_no_machine_paths_in_tracked_files() -> None:
    hits = []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATHS.search(line):
                hits.append(f"{path.relative_to(REPO_ROOT)}:{lineno}: {line.strip()[:100]}")
    assert not hits, (
        "machine-specific paths (use env vars or paths relative to the repo):\n" + "\n".join(hits)
    )


@pytest.mark.slow
def test_every_notebook_runs_under_smoke(smoke_build: dict) -> None:
    assert NOTEBOOKS, "no notebooks found"
    executed = Path(smoke_build["executed"])
    failed = {}
    for path in NOTEBOOKS:
        record_path = executed / f"{path.stem}.provenance.json"
        status = (
            json.loads(record_path.read_text())["status"] if record_path.is_file() else "not run"
        )
        if status != "ok":
            failed[path.stem] = status
    assert not failed and smoke_build["run"]["returncode"] == 0, (
        f"notebooks failed under the smoke profile: {failed}\n{smoke_build['run']['output'][-6000:]}"
    )
