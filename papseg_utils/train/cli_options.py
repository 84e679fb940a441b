"""Options of the ``train`` command: the parser, ``--profile`` and ``--config`` files.

:func:`resolve_args` gives ``{parameter: value}`` with defaults < ``--profile`` < ``--config``
< command-line flags; a bad name or value raises :class:`UsageError` (exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from papseg_utils.train.parameters import PARAMETERS

# flag -> parameter where they differ
FLAGS = {"num_epochs": ("--epochs", "--num-epochs")}
# keys a --config file may hold besides PARAMETERS: aliases, and notebook-only knobs ignored here
ALIASES = {"epochs": "num_epochs"}
IGNORED = {"num_show"}  # plots only
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PATHS = ("data_dir", "output_dir", "resume")


class UsageError(Exception):
    """Bad options: printed as ``error: ...``, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The parser: one flag per parameter (given flags only), ``--config``, ``--overwrite``, ``--profile``."""
    p = argparse.ArgumentParser(
        prog="python -m papseg_utils train",
        description="Fine-tune a segmentation network (the fine-tuning chapter as a command); "
        "run it under torchrun for several GPUs.",
        epilog="Multi-GPU: torchrun --standalone --nproc_per_node N -m papseg_utils train ...",
        argument_default=argparse.SUPPRESS,  # only flags given appear: they override --config
    )
    for name, (typ, default, help_) in PARAMETERS.items():
        flags = FLAGS.get(name, ("--" + name.replace("_", "-"),))
        metavar = {int: "N", float: "X"}.get(typ, "PATH" if name in PATHS else "NAME")
        p.add_argument(
            *flags, dest=name, type=typ, metavar=metavar, help=f"{help_} (default: {default!r})"
        )
    p.add_argument("--config", metavar="YAML", help="YAML file of the same keys; flags win")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in --output-dir (without it, train refuses; see --resume)",
    )
    p.add_argument(
        "--profile",
        metavar="NAME",
        help="a profile of notebooks/profiles/06_fine_tuning.yaml (e.g. herlev-best); "
        "--config and flags win over it",
    )
    return p


def _coerce(key: str, value: Any, origin: str) -> Any:
    """``value`` of a ``--config`` file as the parameter's type; bad values raise :class:`UsageError`."""
    typ = PARAMETERS[key][0]
    if value is None and key in ("data_dir", "resume"):
        return ""
    ok = not isinstance(value, bool) and (
        (typ is int and isinstance(value, int))
        or (typ is float and isinstance(value, int | float | str))
        or (typ is str and isinstance(value, str | int | float))
    )
    try:
        if ok:
            return typ(value)  # float("1e-4"): YAML reads 1e-4 (no dot) as a string
    except ValueError:
        pass
    raise UsageError(f"{origin}: {key}={value!r} is not a valid {typ.__name__}")


def read_profile(name: str) -> dict[str, Any]:
    """The parameters of profile ``name`` of ``notebooks/profiles/06_fine_tuning.yaml``.

    The notebook's profiles are the recipes; the command reads the same file, so
    a profile trains the same model here and under papermill (``extends:`` resolved
    as for the notebook: :mod:`papseg_utils.book.profile_extends`). Templated paths
    (``output_dir: "{build}/..."``) are left out: pass ``--output-dir``.
    """
    import yaml

    from papseg_utils.book.profile_extends import ProfileExtendsError, resolve_extends
    from papseg_utils.book.runner import repo_root

    path = repo_root() / "notebooks" / "profiles" / "06_fine_tuning.yaml"
    try:
        profiles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise UsageError(
            f"--profile {name}: cannot read {path} ({err.strerror or err}); run from the repository "
            "or set PAPSEG_ROOT to it"
        ) from err
    try:
        profiles = resolve_extends(profiles, path)
    except ProfileExtendsError as err:
        raise UsageError(f"--profile {name}: {err}") from None
    if name not in profiles:
        raise UsageError(f"--profile {name!r}: no such profile; valid: {', '.join(profiles)}")
    data = {k: v for k, v in profiles[name].items() if not (isinstance(v, str) and "{" in v)}
    return _parameters(data, f"profile {name} of {path.name}")


def read_config(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML mapping; unknown keys raise :class:`UsageError` listing valid ones."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise UsageError(f"cannot read --config {path}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise UsageError(f"--config {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise UsageError(f"--config {path} must hold a mapping of parameter: value")
    return _parameters(data, f"--config {path}")


def _parameters(data: dict, origin: str) -> dict[str, Any]:
    """``{parameter: value}`` of a profile or config mapping (``origin`` names it in errors)."""
    out: dict[str, Any] = {}
    for raw, value in data.items():
        key = str(raw).replace("-", "_")
        key = ALIASES.get(key, key)
        if key in IGNORED:
            continue
        if key not in PARAMETERS:
            raise UsageError(f"{origin}: unknown key {raw!r}; valid keys: {', '.join(PARAMETERS)}")
        out[key] = _coerce(key, value, origin)
    return out


def resolve_args(argv: list[str] | None) -> dict[str, Any]:
    """Defaults < ``--profile`` < ``--config`` file < command-line flags.

    Returns ``{parameter: value}`` for every parameter, plus ``overwrite`` (bool).
    """
    ns = vars(build_parser().parse_args(argv))
    params = {name: spec[1] for name, spec in PARAMETERS.items()}
    params["overwrite"] = ns.pop("overwrite", False)
    profile = ns.pop("profile", None)
    if profile:
        params.update(read_profile(profile))
    config = ns.pop("config", None)
    if config:
        params.update(read_config(config))
    params.update(ns)
    return params
