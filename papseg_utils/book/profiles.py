"""Plans of notebook runs: profiles, parameters, dependencies (what :mod:`papseg_utils.book.runner` executes).

:func:`plan` reads ``notebooks/profiles/NN_name.yaml`` for a profile (or a named recipe of one
notebook; a profile may start from another with ``extends:``, see
:mod:`papseg_utils.book.profile_extends`), checks every key against the notebook's ``parameters`` cell
(:func:`declared_parameters`), substitutes ``{build}``, applies ``-p`` overrides
(:func:`parse_overrides`) and orders the notebooks by ``depends_on``. It executes nothing.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from papseg_utils.book.param_types import matches
from papseg_utils.book.profile_extends import ProfileExtendsError, resolve_extends

log = logging.getLogger("papseg_utils.book.runner")


PROFILES: tuple[str, ...] = ("smoke", "default", "colab", "full")
"""Profiles every notebook has, smallest first (``colab``: a Colab T4 GPU, 16 GB, fp16).

A profile file may add named *recipes* of its own (e.g. ``herlev-best`` in
``06_fine_tuning.yaml``): lower-case names made of letters, digits and dashes,
run with ``--profile NAME`` on the notebooks that define them."""


RECIPE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


DEFAULT_TIMEOUT_S: dict[str, float] = {
    "smoke": 600.0,
    "default": 1800.0,
    "colab": 3 * 3600.0,
    "full": 12 * 3600.0,
}
"""Per-notebook wall-clock limit (seconds) of each profile, unless ``--timeout`` is given."""


NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


PROFILE_KEYS = frozenset(PROFILES) | {"depends_on"}


class RunnerError(Exception):
    """Bad input to the runner (unknown profile, missing notebook, undeclared key...)."""


def repo_root() -> Path:
    """The project folder, which holds ``notebooks/``, ``studies/`` and ``_config.yml``.

    In order: ``$PAPSEG_ROOT`` when set; the folder holding ``papseg_utils/`` when it
    is a clone (a source checkout, or ``pip install -e .``); the current directory when
    it holds ``notebooks/`` (a clone used with a ``pip install`` of the package); else
    the package's parent folder, so that errors name where the notebooks were sought.
    """
    env = os.environ.get("PAPSEG_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    package_parent = Path(__file__).resolve().parents[2]
    if (package_parent / "notebooks").is_dir():
        return package_parent
    cwd = Path.cwd()
    if (cwd / "notebooks").is_dir():
        return cwd.resolve()
    return package_parent


def project_file(path: str | Path) -> Path:
    """A file of the project (``results/...``, ``studies/...``), named relative to its root.

    The notebooks name the committed results relative to the repository root, where
    ``papseg run`` executes them; JupyterLab runs a notebook in ``notebooks/``. An
    absolute path, or a relative one that exists from the working folder, is returned
    unchanged; otherwise the same path under :func:`repo_root` (returned even when it
    does not exist there either, so that the caller's error names the root's path).
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return repo_root() / p


@dataclass
class NotebookJob:
    """One notebook to execute.

    Attributes
    ----------
    stem : str
        File name without ``.ipynb``, e.g. ``"01_introduction"``.
    source : Path
        The source notebook.
    parameters : dict
        Values papermill injects (profile values, then ``-p`` overrides).
    depends_on : list[str]
        Stems that must succeed first (from the profile file).
    error : str or None
        Why the job cannot run (bad input, with ``keep_going``); it is reported
        as ``invalid`` and not executed.
    """

    stem: str
    source: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    error: str | None = None


def discover(notebooks_dir: Path) -> dict[str, Path]:
    """Map stem -> path for every ``NN_*.ipynb`` in ``notebooks_dir`` (sorted)."""
    return {p.stem: p for p in sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))}


def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """Parameters declared in the ``parameters`` cell (``papermill.inspect_notebook``)."""
    import papermill

    try:
        return dict(papermill.inspect_notebook(str(notebook)))
    except Exception as err:  # papermill raises several types for broken notebooks
        raise RunnerError(f"{notebook}: cannot read its parameters cell ({err})") from err


def load_profile_file(path: Path) -> dict[str, Any]:
    """Read and validate a profile file; raise :class:`RunnerError` naming it.

    Returns ``{profile or recipe name: {parameter: value}, "depends_on": [stem, ...]}``
    in the file's order (the four :data:`PROFILES` always present, ``{}`` when not given),
    with every ``extends:`` resolved (:func:`~papseg_utils.book.profile_extends.resolve_extends`).
    """
    if not path.is_file():
        raise RunnerError(
            f"profile file {path} is missing; create it with top-level keys {list(PROFILES)} "
            "(each a mapping of parameter overrides, may be empty: {})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise RunnerError(f"{path}: invalid YAML ({err})") from err
    if not isinstance(data, dict):
        raise RunnerError(
            f"{path}: expected a mapping with keys {list(PROFILES)}, got {type(data).__name__}"
        )
    unknown = sorted(k for k in set(data) - PROFILE_KEYS if not RECIPE_NAME.match(str(k)))
    if unknown:
        raise RunnerError(
            f"{path}: top-level keys {unknown} are neither {sorted(PROFILE_KEYS)} nor recipe names "
            "(lower-case letters, digits and dashes)"
        )
    for name in [*PROFILES, *(k for k in data if k not in PROFILE_KEYS)]:
        value = data.get(name)
        if value is None:
            data[name] = {}
        elif not isinstance(value, dict):
            raise RunnerError(
                f"{path}: profile {name!r} must be a mapping of parameters, got {value!r}"
            )
    try:
        data = resolve_extends(data, path)
    except ProfileExtendsError as err:
        raise RunnerError(str(err)) from None
    deps = data.get("depends_on") or []
    if isinstance(deps, str):
        deps = [deps]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise RunnerError(f"{path}: depends_on must be a list of notebook stems, got {deps!r}")
    data["depends_on"] = deps
    return data


def profile_parameters(stem: str, name: str, notebooks_dir: Path | None = None) -> dict[str, Any]:
    """The parameters of profile (or recipe) ``name`` of ``notebooks/profiles/<stem>.yaml``.

    As :func:`plan` reads them (``extends:`` resolved, ``{build}`` not substituted, no
    ``-p`` overrides), for the other readers of the profile files (``train --profile``,
    ``scripts/herlev_cv.sh``, the tests). ``notebooks_dir`` defaults to the clone's
    ``notebooks/`` (:func:`repo_root`). Raises :class:`RunnerError` for a bad file or an
    unknown name, listing the valid ones.
    """
    folder = notebooks_dir if notebooks_dir is not None else repo_root() / "notebooks"
    path = Path(folder) / "profiles" / f"{stem}.yaml"
    data = load_profile_file(path)
    if name == "depends_on" or name not in data:
        valid = ", ".join(k for k in data if k != "depends_on")
        raise RunnerError(f"{path}: no profile {name!r}; valid: {valid}")
    return data[name]


def parse_overrides(pairs: list[list[str]] | None) -> dict[str, Any]:
    """Turn ``[["key", "value"], ...]`` into a dict with YAML-typed values.

    ``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"[1, 2]"`` -> [1, 2],
    ``"null"`` -> None; anything else stays a string.
    """
    out: dict[str, Any] = {}
    for key, raw in pairs or []:
        try:
            out[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            out[key] = raw
    return out


def substitute_build(value: Any, build: str) -> Any:
    """Replace ``{build}`` with ``build`` in strings (recursing into lists and dicts)."""
    if isinstance(value, str):
        return value.replace("{build}", build)
    if isinstance(value, list):
        return [substitute_build(v, build) for v in value]
    if isinstance(value, dict):
        return {k: substitute_build(v, build) for k, v in value.items()}
    return value


def plan(
    names: list[str] | None,
    profile: str,
    overrides: dict[str, Any],
    out: Path,
    *,
    notebooks_dir: Path,
    cwd: Path,
    keep_going: bool = False,
) -> list[NotebookJob]:
    """Validate every input and return the jobs in a dependency-respecting order.

    Nothing runs here; all bad input is reported before any notebook starts.
    With ``keep_going``, a notebook with bad input (profile file, undeclared
    key) becomes a job with ``error`` set (reported as ``invalid`` by
    :func:`run_notebooks`) instead of stopping the whole run.

    Raises
    ------
    RunnerError
        Unknown profile, missing notebook or profile file, a key that the
        notebook does not declare, an unknown or cyclic dependency.
    """
    if not RECIPE_NAME.match(profile):
        raise RunnerError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    available = discover(notebooks_dir)
    if not available:
        raise RunnerError(
            f"no notebooks matching {NOTEBOOK_GLOB} in {notebooks_dir}; run from a clone of "
            "the repository (git clone ...; cd papseg), set PAPSEG_ROOT to one, or pass "
            "--notebooks-dir"
        )
    selected: list[str] = []
    for name in names or list(available):
        stem = Path(name).name.removesuffix(".ipynb")
        if stem not in available:
            raise RunnerError(
                f"notebook {name!r} not found in {notebooks_dir}; available: {', '.join(available)}"
            )
        if stem not in selected:
            selected.append(stem)

    out_abs = out.resolve()
    build = (
        os.path.relpath(out_abs, cwd.resolve())
        if out_abs.is_relative_to(cwd.resolve())
        else str(out_abs)
    )
    jobs: dict[str, NotebookJob] = {}
    for stem in selected:
        source = available[stem]
        if source.resolve().parent == out_abs:
            raise RunnerError(f"output folder {out} is the notebooks folder; choose another --out")
        try:
            jobs[stem] = _plan_one(
                stem, source, profile, overrides, build, notebooks_dir, available
            )
        except RunnerError as err:
            if not keep_going:
                raise
            jobs[stem] = NotebookJob(stem, source, error=str(err))
    return _toposort(jobs)


def _plan_one(
    stem: str,
    source: Path,
    profile: str,
    overrides: dict[str, Any],
    build: str,
    notebooks_dir: Path,
    available: dict[str, Path],
) -> NotebookJob:
    pfile = load_profile_file(notebooks_dir / "profiles" / f"{stem}.yaml")
    if profile not in pfile:
        recipes = [k for k in pfile if k not in PROFILE_KEYS]
        raise RunnerError(
            f"unknown profile {profile!r} for {stem}; valid: {', '.join([*PROFILES, *recipes])}"
            + (
                ""
                if profile in PROFILES
                else " (a recipe runs only on the notebooks that define it)"
            )
        )
    declared = declared_parameters(source)
    params = dict(pfile[profile])
    for origin, values in ((f"profile {profile!r} in {stem}.yaml", params), ("-p", overrides)):
        undeclared = sorted(set(values) - set(declared))
        if undeclared:
            raise RunnerError(
                f"{stem}: {origin} sets {undeclared}, not declared in the notebook's parameters cell; "
                f"declared: {', '.join(declared) or '(none)'}"
            )
    for key, value in overrides.items():
        ann = declared[key].get("inferred_type_name")
        if not matches(value, ann):
            default = declared[key].get("default")
            raise RunnerError(
                f"{stem}: -p {key} {value!r} is not a valid {ann} (the parameters cell declares "
                f"{key}: {ann} = {default}); pass a value of that type, e.g. -p {key} {default}"
            )
    params.update(overrides)
    params = substitute_build(params, build)
    for dep in pfile["depends_on"]:
        if dep not in available:
            log.warning(
                "%s.yaml: depends_on names %r, which is not a notebook (available: %s); ignoring it",
                stem,
                dep,
                ", ".join(available),
            )
    deps = [d for d in pfile["depends_on"] if d in available]
    return NotebookJob(stem, source, params, deps)


def _toposort(jobs: dict[str, NotebookJob]) -> list[NotebookJob]:
    order: list[NotebookJob] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(stem: str, chain: list[str]) -> None:
        if state.get(stem) == 2 or stem not in jobs:
            return
        if state.get(stem) == 1:
            raise RunnerError(f"dependency cycle: {' -> '.join([*chain, stem])}")
        state[stem] = 1
        for dep in jobs[stem].depends_on:
            visit(dep, [*chain, stem])
        state[stem] = 2
        order.append(jobs[stem])

    for stem in jobs:
        visit(stem, [])
    return order
