"""Writing a checkpoint folder so that it is never missing or half-written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

import torch
from safetensors.torch import save_model as _st_save_model
from torch import nn

from papseg_utils.labels import LabelScheme
from papseg_utils.train.checkpoint.files import (
    CONFIG_FILE,
    FORMAT_VERSION,
    STATE_FILE,
    WEIGHTS_FILE,
)
from papseg_utils.train.checkpoint.record import jsonable, model_description, versions
from papseg_utils.train.checkpoint.verify import sha256_file


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    num_classes: int,
    scheme: LabelScheme | None = None,
    epoch: int = 0,
    metrics: dict | None = None,
    train_config: dict | None = None,
    trainer_state: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write a checkpoint folder (atomically: a temporary folder renamed into place).

    Parameters
    ----------
    path : folder to create or replace.
    model : the (unwrapped, uncompiled) model.
    num_classes, scheme, epoch, metrics : recorded in config.json.
    train_config : :meth:`TrainConfig.to_dict`; its ``image_size`` is copied to the top level.
    trainer_state : optimiser/scheduler/scaler/RNG/history dict (tensors and plain values).
    extra : further JSON-safe keys for config.json (e.g. ``mean``/``std`` overrides).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        _rmtree(tmp)
    tmp.mkdir(parents=True)
    _st_save_model(model, str(tmp / WEIGHTS_FILE))
    os.chmod(tmp / WEIGHTS_FILE, 0o666 & ~_umask())  # safetensors writes 0600; match the others
    desc = model_description(model)
    config = {
        "format_version": FORMAT_VERSION,
        **desc,
        "num_classes": int(num_classes),
        "scheme": scheme.to_dict() if scheme is not None else None,
        "image_size": (train_config or {}).get("image_size"),
        "epoch": int(epoch),
        "metrics": jsonable(metrics or {}),
        "train_config": jsonable(train_config or {}),
        "checkpoint_sha256": sha256_file(tmp / WEIGHTS_FILE),
        "versions": versions(),
    }
    for k, v in (extra or {}).items():
        if v is not None or k not in config:
            config[k] = jsonable(v)
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, allow_nan=False))
    if trainer_state is not None:
        torch.save(trainer_state, tmp / STATE_FILE)
    if path.exists():
        _replace_folder(tmp, path)
    else:
        os.replace(tmp, path)
    return path


def _umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exchange(a: Path, b: Path) -> bool:
    """Swap folders ``a`` and ``b`` atomically (Linux ``renameat2``); False where unsupported."""
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def _replace_folder(new: Path, path: Path) -> None:
    """Put folder ``new`` at ``path`` (which exists) so that ``path`` never goes missing.

    With an atomic exchange ``path`` always holds a complete checkpoint; without
    one, the old folder is renamed aside and ``new`` into place with Ctrl-C
    (SIGINT) held back in between, so an interrupt cannot leave ``path`` absent.
    """
    old = path.with_name(path.name + ".old")
    if old.exists():
        _rmtree(old)
    if _exchange(new, path):
        _rmtree(new)  # now the previous checkpoint
        return
    in_main = threading.current_thread() is threading.main_thread()
    held: list[int] = []
    previous = (
        signal.signal(signal.SIGINT, lambda sig, frame: held.append(sig)) if in_main else None
    )
    try:
        os.replace(path, old)
        os.replace(new, path)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    _rmtree(old)
    if held:
        raise KeyboardInterrupt


def _rmtree(p: Path) -> None:
    """Remove folder ``p`` and its contents; a missing folder is no error."""
    shutil.rmtree(p, ignore_errors=True)
