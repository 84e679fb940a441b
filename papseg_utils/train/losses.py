"""Segmentation losses with class weights and an ignore index.

Every loss maps ``logits`` (N, C, H, W) float and ``masks`` (N, H, W) int64
to a scalar float32 tensor. Pixels labelled ``ignore_index`` contribute
nothing: not to the numerator, not to the normaliser, and (for Dice) not to the
denominators. Losses are computed in float32 even under autocast.

Written here rather than taken from ``segmentation_models_pytorch.losses``:
smp 0.6's ``DiceLoss``/``LovaszLoss`` take no per-class weights, and its
``FocalLoss`` sums per-class binary focal terms (not the softmax focal loss),
so class weights and a CE-equivalent at ``gamma=0`` are not available there.

Names for :func:`get_loss`: ``ce``, ``dice``, ``dice_ce``, ``focal``, ``lovasz``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from papseg_utils.labels import IGNORE_INDEX

LOSSES = ("ce", "dice", "dice_ce", "focal", "lovasz")


def _check(logits: torch.Tensor, masks: torch.Tensor, num_classes: int, ignore_index: int) -> None:
    if logits.ndim != 4 or masks.ndim != 3:
        raise ValueError(
            f"expected logits (N, C, H, W) and masks (N, H, W); got logits {tuple(logits.shape)} "
            f"and masks {tuple(masks.shape)}"
        )
    if logits.shape[0] != masks.shape[0] or logits.shape[2:] != masks.shape[1:]:
        raise ValueError(
            f"logits {tuple(logits.shape)} and masks {tuple(masks.shape)} disagree in batch or size; "
            "upsample the logits to the mask size (models must return logits at the input resolution)"
        )
    if logits.shape[1] != num_classes:
        raise ValueError(
            f"logits have {logits.shape[1]} channels but the loss was built for {num_classes} classes; "
            "build the model with num_classes=scheme.num_classes"
        )
    if masks.dtype.is_floating_point:
        raise ValueError(f"masks must be an integer tensor (int64), got {masks.dtype}")
    bad = ((masks < 0) | (masks >= num_classes)) & (masks != ignore_index)
    if bool(bad.any()):
        values = torch.unique(masks[bad]).tolist()[:10]
        raise ValueError(
            f"masks contain labels {values} outside 0..{num_classes - 1} (ignore {ignore_index}); "
            "check the label scheme of the dataset against the model's num_classes"
        )


def _weights(
    class_weights: Sequence[float] | torch.Tensor | None, num_classes: int
) -> torch.Tensor | None:
    if class_weights is None:
        return None
    w = torch.as_tensor(class_weights, dtype=torch.float32).flatten()
    if w.numel() != num_classes:
        raise ValueError(
            f"class_weights has {w.numel()} values but there are {num_classes} classes"
        )
    if bool((w < 0).any()) or not bool(torch.isfinite(w).all()) or float(w.sum()) <= 0:
        raise ValueError(f"class_weights must be finite, >= 0 and not all 0; got {w.tolist()}")
    return w


class _SegLoss(nn.Module):
    def __init__(self, num_classes: int, class_weights=None, ignore_index: int = IGNORE_INDEX):
        super().__init__()
        if num_classes < 2:
            raise ValueError(
                f"num_classes={num_classes}: segmentation losses need at least 2 classes"
            )
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        w = _weights(class_weights, num_classes)
        self.register_buffer(
            "class_weights", w if w is not None else torch.ones(num_classes), persistent=False
        )
        self.weighted = w is not None

    def forward(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``logits`` (N, C, H, W) float, ``masks`` (N, H, W) int64 -> scalar float32."""
        _check(logits, masks, self.num_classes, self.ignore_index)
        return self._loss(logits.float(), masks.long())

    def _loss(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, ignore_index={self.ignore_index}, weighted={self.weighted}"


class CrossEntropyLoss(_SegLoss):
    """Pixel-wise cross-entropy; with class weights, the weighted mean over valid pixels.

    The normaliser is the sum of the weights of the valid pixels (as in
    :func:`torch.nn.functional.cross_entropy`); an all-ignored batch gives 0.
    """

    def _loss(self, logits, masks):
        valid = masks != self.ignore_index
        if not bool(valid.any()):
            return logits.sum() * 0.0
        w = self.class_weights if self.weighted else None
        return F.cross_entropy(logits, masks, weight=w, ignore_index=self.ignore_index)


class DiceLoss(_SegLoss):
    """Soft multi-class Dice loss: ``1 - weighted mean over classes of Dice_c``.

    ``Dice_c = (2 * sum(p_c * t_c) + smooth) / (sum(p_c) + sum(t_c) + smooth)``
    with softmax probabilities ``p`` and one-hot truth ``t``, sums over the
    valid pixels of the whole batch (ignored pixels are removed from both
    sums). A class absent from both prediction and truth scores 1 thanks to
    ``smooth`` (default 1.0). ``include_background=False`` drops class 0.
    """

    def __init__(
        self,
        num_classes,
        class_weights=None,
        ignore_index=IGNORE_INDEX,
        smooth: float = 1.0,
        include_background: bool = True,
    ):
        super().__init__(num_classes, class_weights, ignore_index)
        if smooth < 0:
            raise ValueError(f"smooth={smooth} must be >= 0")
        self.smooth = float(smooth)
        self.include_background = include_background

    def per_class(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Soft Dice per class, (C,) float32 (no weighting, background included)."""
        probs = logits.float().softmax(dim=1)
        valid = (masks != self.ignore_index).unsqueeze(1).to(probs.dtype)  # (N,1,H,W)
        target = F.one_hot(torch.where(masks == self.ignore_index, 0, masks), self.num_classes)
        target = target.permute(0, 3, 1, 2).to(probs.dtype) * valid
        probs = probs * valid
        dims = (0, 2, 3)
        inter = (probs * target).sum(dims)
        denom = probs.sum(dims) + target.sum(dims)
        eps = 1e-7 if self.smooth == 0 else 0.0
        return (2 * inter + self.smooth) / (denom + self.smooth + eps)

    def _loss(self, logits, masks):
        dice = self.per_class(logits, masks)
        w = self.class_weights.to(dice.device).clone()
        if not self.include_background:
            w[0] = 0.0
        return 1.0 - (dice * w).sum() / w.sum().clamp_min(1e-12)


class DiceCELoss(_SegLoss):
    """``ce_weight * CE + dice_weight * Dice`` (the usual default for medical segmentation)."""

    def __init__(
        self,
        num_classes,
        class_weights=None,
        ignore_index=IGNORE_INDEX,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        smooth: float = 1.0,
    ):
        super().__init__(num_classes, class_weights, ignore_index)
        self.ce = CrossEntropyLoss(num_classes, class_weights, ignore_index)
        self.dice = DiceLoss(num_classes, class_weights, ignore_index, smooth=smooth)
        self.ce_weight, self.dice_weight = float(ce_weight), float(dice_weight)

    def _loss(self, logits, masks):
        return self.ce_weight * self.ce._loss(logits, masks) + self.dice_weight * self.dice._loss(
            logits, masks
        )


class FocalLoss(_SegLoss):
    """Softmax focal loss ``-w_t (1 - p_t)^gamma log p_t`` (Lin et al. 2017).

    Weighted mean over valid pixels with the same normaliser as
    :class:`CrossEntropyLoss`, so ``gamma=0`` equals cross-entropy.
    """

    def __init__(
        self, num_classes, class_weights=None, ignore_index=IGNORE_INDEX, gamma: float = 2.0
    ):
        super().__init__(num_classes, class_weights, ignore_index)
        if gamma < 0:
            raise ValueError(f"gamma={gamma} must be >= 0")
        self.gamma = float(gamma)

    def _loss(self, logits, masks):
        valid = masks != self.ignore_index
        if not bool(valid.any()):
            return logits.sum() * 0.0
        target = torch.where(valid, masks, 0)
        logp_t = logits.log_softmax(dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        focal = -((1 - logp_t.exp()).clamp_min(0) ** self.gamma) * logp_t
        w_t = self.class_weights.to(logits.device)[target] * valid
        return (focal * w_t).sum() / w_t.sum().clamp_min(1e-12)


def _lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. sorted errors."""
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if gt_sorted.numel() > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


class LovaszLoss(_SegLoss):
    """Lovasz-softmax loss (Berman et al. 2018), a convex surrogate of 1 - IoU.

    Computed over all valid pixels of the batch; classes absent from the
    truth are skipped (``classes="present"``); class weights give a weighted
    mean over the classes used.
    """

    def _loss(self, logits, masks):
        probs = logits.softmax(dim=1).permute(0, 2, 3, 1).reshape(-1, self.num_classes)
        labels = masks.reshape(-1)
        keep = labels != self.ignore_index
        probs, labels = probs[keep], labels[keep]
        if labels.numel() == 0:
            return logits.sum() * 0.0
        losses, weights = [], []
        for c in range(self.num_classes):
            fg = (labels == c).to(probs.dtype)
            if fg.sum() == 0:
                continue
            errors = (fg - probs[:, c]).abs()
            errors_sorted, perm = torch.sort(errors, descending=True)
            losses.append(torch.dot(errors_sorted, _lovasz_grad(fg[perm])))
            weights.append(self.class_weights[c])
        w = torch.stack(weights).to(probs.device)
        return (torch.stack(losses) * w).sum() / w.sum().clamp_min(1e-12)


_REGISTRY = {
    "ce": CrossEntropyLoss,
    "dice": DiceLoss,
    "dice_ce": DiceCELoss,
    "focal": FocalLoss,
    "lovasz": LovaszLoss,
}


def get_loss(
    name: str,
    num_classes: int,
    class_weights: Sequence[float] | None = None,
    ignore_index: int = IGNORE_INDEX,
    **kwargs,
) -> nn.Module:
    """Build a loss by name.

    Parameters
    ----------
    name : str
        One of ``ce``, ``dice``, ``dice_ce``, ``focal``, ``lovasz``.
    num_classes : int
        Number of classes C (background included).
    class_weights : sequence of C floats, optional
        Relative weight of each class (e.g. to up-weight rare nuclei).
    ignore_index : int
        Label value whose pixels are skipped (default 255).
    **kwargs
        Loss options: ``smooth``/``include_background`` (dice),
        ``ce_weight``/``dice_weight``/``smooth`` (dice_ce), ``gamma`` (focal).

    Returns
    -------
    torch.nn.Module
        Called as ``loss(logits (N,C,H,W) float, masks (N,H,W) int64) -> scalar``.
    """
    key = str(name).lower().replace("-", "_").replace("+", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown loss {name!r}; valid losses: {list(LOSSES)}")
    try:
        return _REGISTRY[key](
            num_classes, class_weights=class_weights, ignore_index=ignore_index, **kwargs
        )
    except TypeError as err:
        raise ValueError(f"loss {name!r}: bad option ({err})") from None
