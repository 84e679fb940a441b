"""Loading a checkpoint: the weights into a model, the model rebuilt, the trainer state."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model as _st_load_model
from torch import nn

from papseg_utils.train.checkpoint.files import (
    CONFIG_FILE,
    DAMAGED,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    MissingTrainerStateError,
    load_config,
    resolve_checkpoint,
)
from papseg_utils.train.checkpoint.verify import check_weights_file, verify_weights


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
            f"{p} cannot be read ({type(err).__name__}: {str(err)[:200]}); {DAMAGED}"
        ) from None


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
        raise CheckpointError(f"{p} cannot be read ({err}); {DAMAGED}") from None
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
                f"{DAMAGED}"
            ) from None
    # the hash of the file actually loaded: what predict and evaluate record as provenance
    config["checkpoint_sha256"] = verify_weights(path, config)
    load_weights(model, path, device="cpu", verify=False)
    return model.to(dev).eval(), config
