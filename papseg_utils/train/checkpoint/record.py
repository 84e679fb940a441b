"""What ``config.json`` records about a model and the software that trained it."""

from __future__ import annotations

import dataclasses
import math
import platform

import numpy as np
import torch
from torch import nn


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
        "mean": jsonable(d.pop("mean", None)),
        "std": jsonable(d.pop("std", None)),
        "params": d.pop("params", None) or sum(p.numel() for p in model.parameters()),
        "model_kwargs": jsonable(kwargs),
    }
    extra = {k: jsonable(v) for k, v in d.items()}
    if extra:
        out["spec_extra"] = extra
    return out


def jsonable(v):
    """``v`` as JSON-safe values: tuples as lists, NumPy scalars as numbers, NaN/inf as None."""
    if isinstance(v, (tuple, list)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)
