"""Shared pytest setup: offline environment, markers, data fixtures, the smoke build.

Fixtures
--------
repo_root
    The repository root (``Path``).
herlev_dir
    The Herlev data folder: ``$PAPSEG_HERLEV_DIR``, else ``<repo>/../shared/data/herlev``;
    the test is skipped with a reason when it is absent.
smoke_build
    Executes every notebook once per test session with the ``smoke`` profile
    (``python -m papseg_utils run --profile smoke -j 2``) and renders the book
    from the executed copies. Shared by all pytest-xdist workers through a
    file lock, so the notebooks run once however many workers ask.

Markers (declared in pyproject.toml): ``slow``, ``gpu`` (skipped without CUDA),
``browser`` (headless Chromium over the built book).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# The whole session runs offline and quietly, like the notebooks.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu``-marked tests when CUDA is unavailable."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """Commands called in process install SIGTERM/SIGHUP handlers; put pytest's back after each test."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    sigs = [getattr(signal, n) for n in names if hasattr(signal, n)]
    saved = {s: signal.getsignal(s) for s in sigs}
    yield
    for s, handler in saved.items():
        if handler is not None:
            signal.signal(s, handler)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def herlev_dir() -> Path:
    """The Herlev folder (:func:`papseg_utils.data.herlev.default_root`); skips with the reason
    when it is absent."""
    from papseg_utils.data.herlev import ENV_VAR, default_root

    path = default_root()
    if not path.is_dir():
        how = ENV_VAR if os.environ.get(ENV_VAR) else "the fallback <repo>/../shared/data/herlev"
        pytest.skip(
            f"Herlev data not found at {path} ({how}); set {ENV_VAR} to the unpacked dataset"
        )
    return path


def _run(cmd: list[str], cwd: Path) -> dict:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return {"returncode": proc.returncode, "output": proc.stdout + proc.stderr}


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict:
    """Run every notebook under ``smoke`` and build the book, once per session.

    Returns a dict: ``executed`` (folder of executed copies), ``html`` (built
    book), ``run`` and ``book`` (each ``{"returncode", "output"}``).
    """
    from filelock import FileLock

    # With xdist, every worker has its own basetemp under one shared parent.
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    base = shared / "smoke_build"
    done = base / "result.json"
    with FileLock(str(shared / "smoke_build.lock")):
        if done.is_file():
            return json.loads(done.read_text())
        base.mkdir(parents=True, exist_ok=True)
        executed, out = base / "executed", base / "book"
        run = _run(
            [
                sys.executable,
                "-m",
                "papseg_utils",
                "run",
                "--profile",
                "smoke",
                "-j",
                "2",
                "--keep-going",
                "--out",
                str(executed),
            ],
            REPO_ROOT,
        )
        book = _run(
            [
                sys.executable,
                "-m",
                "papseg_utils",
                "book",
                "--executed",
                str(executed),
                "--out",
                str(out),
            ]
            + (
                ["--allow-missing"]
                if os.environ.get("PAPSEG_BOOK_ALLOW_MISSING", "1") == "1"
                else []
            ),
            REPO_ROOT,
        )
        result = {"executed": str(executed), "html": str(out / "html"), "run": run, "book": book}
        done.write_text(json.dumps(result))
        return result


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained herlev3 Lite0 U-Net checkpoint (``best/``, image_size 64) for command tests."""
    from papseg_utils.labels import get_scheme
    from papseg_utils.models import build_model
    from papseg_utils.train.checkpoint import save_checkpoint

    model = build_model("unet", num_classes=3, pretrained="none", encoder="tf_efficientnet_lite0")
    path = tmp_path_factory.mktemp("ckpt") / "best"
    save_checkpoint(
        path, model, num_classes=3, scheme=get_scheme("herlev3"), train_config={"image_size": 64}
    )
    return path
