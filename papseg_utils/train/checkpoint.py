"""Checkpoint folders: weights, a JSON description, and the trainer state.

A checkpoint is a folder::

    model.safetensors   the model's weights (safetensors: no code on load)
    config.json         what is needed to rebuild and use the model: architecture,
                        encoder, num_classes, label scheme, normalisation mean/std,
                        image_size, model kwargs, pre-training source and hash,
                        epoch, validation metrics, training config, versions,
                        and the data it was trained on (``data``, from
                        :func:`papseg_utils.train.recipe.data_record`)
    trainer_state.pt    optimiser, scheduler, GradScaler, RNG states, epoch, step,
                        history and early-stopping state: only tensors and plain
                        Python values, loaded with ``torch.load(weights_only=True)``
                        so loading never unpickles arbitrary objects

:func:`load_model` rebuilds the network with
``papseg_utils.models.build_model(..., pretrained="none")`` and loads the weights
strictly; :func:`papseg_utils.train.fit` with ``resume_from=`` continues a run.

A damaged folder (empty or truncated weights, invalid ``config.json``, an
unreadable ``trainer_state.pt``) raises :class:`CheckpointError`, whose message
names the file and says what to do. :func:`save_checkpoint` replaces an
existing folder without a moment where it is missing (an atomic exchange of
the two folders where the system supports it; otherwise Ctrl-C is held back
between the two renames).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import random
import shutil
import signal
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model as _st_load_model
from safetensors.torch import save_model as _st_save_model
from torch import nn

from papseg_utils.labels import LabelScheme

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "trainer_state.pt"
FORMAT_VERSION = 1
REQUIRED_CONFIG_KEYS = ("architecture", "num_classes")


class CheckpointError(ValueError):
    """A checkpoint file is damaged or does not fit; the message names the file and the fix."""


class MissingTrainerStateError(CheckpointError, FileNotFoundError):
    """``trainer_state.pt`` is absent: the checkpoint has weights only and cannot be resumed."""


# --------------------------------------------------------------------------- RNG


def get_rng_state() -> dict:
    """Python, NumPy, torch (CPU and CUDA) RNG states as tensors and plain values."""
    np_state = np.random.get_state()  # noqa: NPY002 - third-party code uses the global RNG
    py_state = random.getstate()
    state = {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`get_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            n["name"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            log.warning(
                "checkpoint has %d CUDA RNG states, this machine %d GPUs: not restored",
                len(cuda),
                torch.cuda.device_count(),
            )


# --------------------------------------------------------------------------- metadata


def versions() -> dict:
    """Python and key package versions (for config.json)."""
    try:
        from papseg_utils.book.provenance import package_versions

        out = dict(package_versions())
    except Exception:  # provenance is a convenience; never fail a save over it
        out = {"python": platform.python_version(), "torch": torch.__version__}
    from papseg_utils import __version__

    out["papseg_utils"] = __version__
    return out


def model_description(model: nn.Module) -> dict:
    """Architecture facts for config.json, from ``model.papseg_spec`` when present.

    Keys: ``architecture``, ``family``, ``encoder``, ``pretrained``,
    ``weights_source``, ``weights_sha256``, ``mean``, ``std``, ``params``,
    ``model_kwargs``. Models without a spec (e.g. a user's own module) get
    ``architecture`` = class name and can only be reloaded with
    ``load_model(path, model=...)``.
    """
    spec = getattr(model, "papseg_spec", None)
    if spec is not None and dataclasses.is_dataclass(spec):
        d = dataclasses.asdict(spec)
    elif isinstance(spec, dict):
        d = dict(spec)
    else:
        d = {}
    kwargs = (
        d.pop("kwargs", None)
        or d.pop("model_kwargs", None)
        or getattr(model, "papseg_kwargs", None)
        or {}
    )
    out = {
        "architecture": d.pop("name", None) or d.pop("architecture", None) or type(model).__name__,
        "family": d.pop("family", None),
        "encoder": d.pop("encoder", None),
        "pretrained": d.pop("pretrained", None),
        "weights_source": d.pop("weights_source", None),
        "weights_sha256": d.pop("weights_sha256", None),
        "mean": _jsonable(d.pop("mean", None)),
        "std": _jsonable(d.pop("std", None)),
        "params": d.pop("params", None) or sum(p.numel() for p in model.parameters()),
        "model_kwargs": _jsonable(kwargs),
    }
    extra = {k: _jsonable(v) for k, v in d.items()}
    if extra:
        out["spec_extra"] = extra
    return out


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- save / load


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
        "metrics": _jsonable(metrics or {}),
        "train_config": _jsonable(train_config or {}),
        "checkpoint_sha256": sha256_file(tmp / WEIGHTS_FILE),
        "versions": versions(),
    }
    for k, v in (extra or {}).items():
        if v is not None or k not in config:
            config[k] = _jsonable(v)
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, allow_nan=False))
    if trainer_state is not None:
        torch.save(trainer_state, tmp / STATE_FILE)
    if path.exists():
        _replace_folder(tmp, path)
    else:
        os.replace(tmp, path)
    return path


def _umask() -> int:
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
    shutil.rmtree(p, ignore_errors=True)


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: itself, or ``path/best`` / ``path/last`` of a run folder."""
    p = Path(path)
    if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file():
        return p
    for sub in ("best", "last"):
        if (p / sub / CONFIG_FILE).is_file():
            return p / sub
    raise FileNotFoundError(
        f"no checkpoint at {p}: expected a folder with {WEIGHTS_FILE} and {CONFIG_FILE} "
        "(or a training output_dir with best/ or last/); train one with papseg_utils.train.fit"
    )


_DAMAGED = (
    "the checkpoint is damaged (an interrupted copy or a full disk?); use another checkpoint "
    "of the run (best/ or last/) or train again"
)


def load_config(path: str | Path) -> dict:
    """Read ``config.json`` of a checkpoint folder (:class:`CheckpointError` when damaged)."""
    p = resolve_checkpoint(path) / CONFIG_FILE
    try:
        config = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{p} is not valid JSON ({err}); {_DAMAGED}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{p} holds {type(config).__name__}, not a mapping; {_DAMAGED}")
    missing = [k for k in REQUIRED_CONFIG_KEYS if k not in config]
    if missing:
        raise CheckpointError(f"{p} lacks the keys {missing}; {_DAMAGED}")
    return config


def check_weights_file(path: str | Path) -> None:
    """Raise :class:`CheckpointError` if a ``.safetensors`` file is empty, truncated or garbled.

    Reads only the header (8-byte length, JSON table of tensors) and compares
    the data size it announces with the file size.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p} is missing; {_DAMAGED}")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p} is empty (0 bytes); {_DAMAGED}")
    try:
        with open(p, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8 and n < 1 << 27:  # a plausible header cut short
                raise CheckpointError(
                    f"{p} is truncated ({size} bytes, its header alone announces {n + 8}); "
                    f"{_DAMAGED}"
                )
            if n > size - 8:
                raise ValueError(f"its first 8 bytes announce a header of {n} bytes")
            header = json.loads(f.read(n))
        end = max(
            (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
            default=0,
        )
    except CheckpointError:
        raise
    except (struct.error, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        raise CheckpointError(
            f"{p} is not a readable safetensors file ({err}); {_DAMAGED}"
        ) from None
    if 8 + n + end > size:
        raise CheckpointError(
            f"{p} is truncated ({size} bytes, its header announces {8 + n + end}); {_DAMAGED}"
        )


def load_trainer_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read ``trainer_state.pt`` with ``weights_only=True`` (no arbitrary unpickling)."""
    p = resolve_checkpoint(path) / STATE_FILE
    if not p.is_file():
        raise MissingTrainerStateError(
            f"{p} not found: this checkpoint has weights only and cannot be resumed; resume from "
            "the last/ folder of a run written by train, or start a new run"
        )
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError...
        raise CheckpointError(
            f"{p} cannot be read ({type(err).__name__}: {str(err)[:200]}); {_DAMAGED}"
        ) from None


def check_resumable(path: str | Path, num_classes: int) -> Path:
    """Check, before any training, that ``path`` can be resumed by a run of ``num_classes``.

    Reads ``config.json`` and the weights header and looks for
    ``trainer_state.pt``; raises :class:`CheckpointError` naming the file.
    Returns the checkpoint folder.
    """
    folder = resolve_checkpoint(path)
    config = load_config(folder)
    if int(config["num_classes"]) != int(num_classes):
        raise CheckpointError(
            f"{folder} was trained with {config['num_classes']} classes, this run has "
            f"{num_classes}; resume with the same label scheme (or start a new run)"
        )
    check_weights_file(folder / WEIGHTS_FILE)
    if not (folder / STATE_FILE).is_file():
        raise MissingTrainerStateError(
            f"{folder / STATE_FILE} not found: this checkpoint has weights only and cannot be "
            "resumed; resume from the last/ folder of a run written by train, or start a new run"
        )
    return folder


def verify_weights(path: str | Path, config: dict | None = None) -> str:
    """The SHA-256 of a checkpoint's ``model.safetensors``, checked against its ``config.json``.

    ``save_checkpoint`` records the hash of the file it wrote; a file that was
    edited, damaged in place or swapped for another run's since then has another
    hash and raises :class:`CheckpointError`. A config without a recorded hash
    (written by hand) passes. Hashing costs about 30 ms for Lite0's 20 MB.
    """
    folder = resolve_checkpoint(path)
    config = load_config(folder) if config is None else config
    weights = folder / WEIGHTS_FILE
    actual = sha256_file(weights)
    recorded = config.get("checkpoint_sha256")
    if recorded and actual != recorded:
        raise CheckpointError(
            f"{weights} is not the file that was saved: its SHA-256 is {actual[:16]}..., "
            f"{folder / CONFIG_FILE} records {str(recorded)[:16]}...; the weights were edited, "
            "damaged in place or copied from another checkpoint. Use another checkpoint of the run "
            "(best/ or last/) or train again"
        )
    return actual


def _fit_problem(err: RuntimeError) -> str:
    """A short account of a strict load that failed: missing / unexpected keys, a few named.

    (smp drops tensors of another shape before loading, so they show up as missing.)
    """
    import re

    text = str(err)
    parts = []
    for what, label in (("Missing key(s)", "missing or of another shape"),
                        ("Unexpected key(s)", "not in the model")):  # fmt: skip
        if what in text:
            keys = re.findall(r'"([^"]+)"', text.split(what, 1)[1].split("\n", 1)[0])
            shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
            parts.append(f"{len(keys)} tensors {label}: {shown}")
    return "; ".join(parts) or text.splitlines()[0][:200]


def load_weights(
    model: nn.Module, path: str | Path, device: str | torch.device = "cpu", verify: bool = True
) -> nn.Module:
    """Load ``model.safetensors`` of a checkpoint into ``model`` (strict).

    ``verify``: check the file's SHA-256 against ``config.json`` first (see :func:`verify_weights`).
    """
    folder = resolve_checkpoint(path)
    p = folder / WEIGHTS_FILE
    check_weights_file(p)
    if verify:
        verify_weights(folder)
    try:
        with warnings.catch_warnings():  # smp's "You should TRAIN the model" on a shape mismatch
            warnings.filterwarnings(
                "ignore", message=r"[\s\S]*Mismatched keys", category=UserWarning
            )
            _st_load_model(model, str(p), strict=True, device=str(device))
    except SafetensorError as err:
        raise CheckpointError(f"{p} cannot be read ({err}); {_DAMAGED}") from None
    except RuntimeError as err:
        raise CheckpointError(
            f"{p} does not fit the {type(model).__name__} built from {p.parent / CONFIG_FILE} "
            f"({_fit_problem(err)}); config.json was edited or belongs to another "
            "checkpoint. Use another checkpoint of the run (best/ or last/) or train again"
        ) from None
    return model


def load_model(
    path: str | Path, device: str | torch.device = "cpu", model: nn.Module | None = None
) -> tuple[nn.Module, dict]:
    """Rebuild a trained model from a checkpoint folder.

    Parameters
    ----------
    path : checkpoint folder (or a run folder holding ``best/``).
    device : where to put the model (``"auto"`` allowed).
    model : optional module to load into instead of rebuilding it with
        ``papseg_utils.models.build_model(architecture, num_classes,
        pretrained="none", encoder=..., **model_kwargs)``.

    Returns
    -------
    (model, config) : the model in eval mode on ``device``, and config.json as a dict.
    """
    from papseg_utils.device import resolve_device

    dev = resolve_device(device)
    config = load_config(path)
    check_weights_file(resolve_checkpoint(path) / WEIGHTS_FILE)
    if model is None:
        try:
            from papseg_utils.models import build_model
        except ImportError as err:  # pragma: no cover - during development only
            raise ImportError(
                "papseg_utils.models.build_model is needed to rebuild the model"
            ) from err
        folder = resolve_checkpoint(path)
        try:
            model = build_model(
                config["architecture"],
                num_classes=int(config["num_classes"]),
                pretrained="none",
                encoder=config.get("encoder"),
                **(config.get("model_kwargs") or {}),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(
                f"{folder / CONFIG_FILE} does not describe a model papseg can rebuild ({err}); "
                f"{_DAMAGED}"
            ) from None
    # the hash of the file actually loaded: what predict and evaluate record as provenance
    config["checkpoint_sha256"] = verify_weights(path, config)
    load_weights(model, path, device="cpu", verify=False)
    return model.to(dev).eval(), config
