"""Transfer-learning optimisation: parameter groups, encoder freezing, LR schedules.

Fine-tuning a pre-trained encoder usually works best when

* the encoder learns more slowly than the freshly initialised decoder/head
  (``lr_encoder`` < ``lr``; two AdamW parameter groups found via ``model.encoder``);
* weight decay skips normalisation weights, biases and embeddings (decaying a
  LayerNorm/BatchNorm scale towards 0 only hurts);
* the encoder may be frozen for the first ``freeze_epochs`` epochs, so the
  random decoder does not send large gradients into the pre-trained features.
  While frozen, the encoder's BatchNorm layers are kept in eval mode
  (:func:`papseg_utils.models.freeze_encoder`): their running statistics stay the ImageNet
  ones instead of drifting towards a few cytology batches;
* the learning rate warms up linearly for ``warmup_steps`` optimiser steps,
  then decays per step with a cosine or polynomial ("poly", DeepLab) schedule.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

log = logging.getLogger(__name__)

SCHEDULES = ("cosine", "poly", "constant")
_NO_DECAY_NAMES = (
    "pos_embed",
    "cls_token",
    "relative_position",
    "absolute_pos",
    "position_embedding",
)


def _is_no_decay(name: str, param: torch.Tensor) -> bool:
    return param.ndim <= 1 or name.endswith(".bias") or any(k in name for k in _NO_DECAY_NAMES)


def param_groups(
    model: nn.Module, lr: float, lr_encoder: float | None = None, weight_decay: float = 1e-4
) -> list[dict]:
    """AdamW parameter groups: encoder vs the rest, each with and without weight decay.

    Parameters
    ----------
    model : nn.Module
        Segmentation model; its pre-trained part is ``model.encoder`` if present.
    lr : float
        Learning rate of the decoder/head.
    lr_encoder : float, optional
        Learning rate of the encoder (default ``lr``).
    weight_decay : float
        Decoupled weight decay for weight matrices/kernels (ndim >= 2); 0 for
        norms, biases and position embeddings.

    Returns
    -------
    list of dict
        Non-empty groups named ``encoder``, ``encoder_no_decay``, ``decoder``,
        ``decoder_no_decay`` (key ``"name"``), in that order.
    """
    lr_encoder = lr if lr_encoder is None else lr_encoder
    encoder = getattr(model, "encoder", None)
    enc_ids = {id(p) for p in encoder.parameters()} if isinstance(encoder, nn.Module) else set()
    if not enc_ids:
        log.info("model has no .encoder; one learning rate (lr=%g) for all parameters", lr)
    buckets: dict[str, list] = {
        k: [] for k in ("encoder", "encoder_no_decay", "decoder", "decoder_no_decay")
    }
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        part = "encoder" if id(p) in enc_ids else "decoder"
        buckets[part + ("_no_decay" if _is_no_decay(name, p) else "")].append(p)
    groups = []
    for key, params in buckets.items():
        if params:
            groups.append(
                {
                    "name": key,
                    "params": params,
                    "lr": lr_encoder if key.startswith("encoder") else lr,
                    "weight_decay": 0.0 if key.endswith("no_decay") else weight_decay,
                }
            )
    return groups


def build_optimizer(
    model: nn.Module, lr: float, lr_encoder: float | None = None, weight_decay: float = 1e-4
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (fused/foreach picked by PyTorch)."""
    if lr <= 0 or (lr_encoder is not None and lr_encoder < 0):
        raise ValueError(f"learning rates must be positive: lr={lr}, lr_encoder={lr_encoder}")
    return torch.optim.AdamW(param_groups(model, lr, lr_encoder, weight_decay), lr=lr)


def lr_factor(
    step: int,
    total_steps: int,
    warmup_steps: int = 0,
    schedule: str = "cosine",
    min_lr_ratio: float = 0.0,
    power: float = 0.9,
) -> float:
    """Multiplier of the base learning rate after ``step`` optimiser steps.

    Linear warm-up ``(step + 1) / warmup_steps`` for the first ``warmup_steps``
    steps, then ``cosine`` (half a cosine to ``min_lr_ratio``), ``poly``
    (``(1 - t) ** power`` to ``min_lr_ratio``) or ``constant`` decay over the
    remaining steps (``t`` = fraction of the decay phase done).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule {schedule!r} is not one of {SCHEDULES}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay = max(1, total_steps - warmup_steps)
    t = min(1.0, max(0.0, (step - warmup_steps) / decay))
    shape = 0.5 * (1 + math.cos(math.pi * t)) if schedule == "cosine" else (1 - t) ** power
    return min_lr_ratio + (1 - min_lr_ratio) * shape


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    schedule: str = "cosine",
    min_lr_ratio: float = 0.0,
    power: float = 0.9,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step scheduler for :func:`lr_factor` (call ``scheduler.step()`` after each optimiser step).

    Its ``state_dict()`` holds only numbers, so it round-trips through
    ``torch.load(weights_only=True)``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule {schedule!r} is not one of {SCHEDULES}")
    if total_steps < 1:
        raise ValueError(
            f"total_steps={total_steps}: the run has no optimiser steps (empty training set?)"
        )

    def factor(step: int) -> float:
        return lr_factor(step, total_steps, warmup_steps, schedule, min_lr_ratio, power)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
