"""A study's plan: the parsed study file (:class:`Study`), its grid of runs (:class:`RunSpec`)
and the checks of its parameters against the notebooks (:func:`check_parameters`).

Nothing runs here; :mod:`papseg_utils.book.study_runs` executes the runs and
:mod:`papseg_utils.book.study_tables` aggregates them. The file format is described in
:mod:`papseg_utils.book.study`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .profiles import repo_root

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
