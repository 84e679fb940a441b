"""Provenance of an executed notebook: what ran, where, with which software.

The runner (:mod:`papseg_utils.book.runner`) stores one record per executed notebook as
``<stem>.provenance.json`` next to the executed copy and in its metadata under
``metadata["papseg"]["provenance"]``; the book's status page
(:mod:`papseg_utils.book.render`) is built from these files.

Everything here is cheap and never fails: a fact that cannot be found is
recorded as ``None`` rather than raising.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

KEY_PACKAGES: tuple[str, ...] = (
    "torch",
    "torchvision",
    "segmentation-models-pytorch",
    "timm",
    "transformers",
    "monai",
    "albumentations",
    "numpy",
    "pandas",
    "scikit-image",
    "medpy",
    "papermill",
    "jupyter-book",
)
"""Distributions whose versions every provenance record lists."""

SCHEMA_VERSION = 1


def package_versions(packages: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``packages`` (``None`` if absent).

    Reads package metadata only; nothing is imported.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_name() -> str | None:
    """Model name of the CPU (from ``/proc/cpuinfo`` on Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def device_info(import_torch: bool = True) -> dict[str, Any]:
    """Describe the machine: CPU name and count, GPUs, torch thread count.

    Parameters
    ----------
    import_torch : bool
        Import torch to ask for CUDA devices and its thread count (about 1-2 s
        the first time). With ``False`` the GPU fields are ``None``.

    Returns
    -------
    dict
        ``cpu``, ``cpu_count``, ``platform``, ``gpus`` (list of names, empty when
        none), ``cuda`` (torch's CUDA version or ``None``), ``torch_threads``,
        ``accelerator`` (``"cuda"``, ``"mps"`` or ``"cpu"``) and the thread
        environment variables that change torch's behaviour.
    """
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "gpus": None,
        "cuda": None,
        "torch_threads": None,
        "accelerator": None,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")},
    }
    if not import_torch:
        return info
    try:
        import torch
    except Exception:  # torch missing or broken: provenance must not fail
        return info
    info["torch_threads"] = torch.get_num_threads()
    info["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["accelerator"] = "cuda"
    else:
        info["gpus"] = []
        mps = getattr(torch.backends, "mps", None)
        info["accelerator"] = "mps" if mps is not None and mps.is_available() else "cpu"
    return info


def git_info(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Commit, branch and dirty flag of the git checkout at ``root``.

    ``dirty`` is ``True`` when tracked files differ from the commit (untracked
    files do not count). All fields are ``None`` outside a git checkout.
    """

    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "branch": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": None if status is None else bool(status),
    }


def now_iso() -> str:
    """Current time as an ISO 8601 string in UTC, to the second."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def collect(
    *,
    notebook: str,
    profile: str,
    parameters: dict[str, Any],
    root: str | os.PathLike[str],
    started: str,
    wall_s: float | None,
    status: str,
    error: dict[str, Any] | None = None,
    device: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble one provenance record (a JSON-serialisable dict).

    Parameters
    ----------
    notebook : str
        Notebook stem, e.g. ``"06_fine_tuning"``.
    profile : str
        Profile name (``smoke``, ``default``, ``full``).
    parameters : dict
        The parameters papermill injected (profile values plus ``-p`` overrides).
    root : path
        Repository root, for the git commit.
    started : str
        ISO start time (:func:`now_iso`).
    wall_s : float or None
        Wall time in seconds (``None`` when the notebook did not run).
    status : str
        ``"ok"``, ``"failed"``, ``"timeout"`` or ``"skipped"``.
    error : dict, optional
        Failure details (cell index, first source line, exception, traceback).
    device : dict, optional
        Result of :func:`device_info`; collected here when omitted.
    """
    return {
        "schema": SCHEMA_VERSION,
        "notebook": notebook,
        "profile": profile,
        "status": status,
        "parameters": parameters,
        "started": started,
        "wall_s": None if wall_s is None else round(float(wall_s), 2),
        "versions": package_versions(),
        "device": device if device is not None else device_info(),
        "git": git_info(root),
        "python_executable": os.path.basename(sys.executable),
        "error": error,
    }


def write(record: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``record`` as indented JSON to ``path``; return the path."""
    path = Path(path)
    path.write_text(
        json.dumps(record, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8"
    )
    return path


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a provenance record written by :func:`write`.

    Raises ``ValueError`` naming the file when it is not valid JSON.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not a valid provenance JSON file ({err}); rerun the notebook"
        ) from err
