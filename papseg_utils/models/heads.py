"""An image-level classification head beside the segmentation head.

A pixel classifier with a small receptive field can call one half of a cell
healthy and the other half unhealthy. Whether a cell is abnormal is an
image-level (per-cell) question, so the Herlev recipe adds a second output:
a linear classifier on the globally pooled deepest encoder features, trained
jointly with the segmentation loss (smp calls this ``aux_params``). Its
prediction then colours every cell pixel of the segmentation
(:func:`papseg_utils.postprocess.cells_from_image_head`).

:class:`ImageHeadModel` wraps any model whose ``encoder`` returns a list of
feature maps (every smp model in the registry, and the attention U-Net) or is
SegFormer's Hugging Face MiT encoder (its ``last_hidden_state``). It
returns a dict ``{"logits": (N, C, H, W), "image_logits": (N, K)}``;
:func:`papseg_utils.inference.predict_logits` and the training engine take
the ``"logits"`` entry wherever a tensor is expected.
"""

from __future__ import annotations

import torch
from torch import nn

from papseg_utils.models.errors import ModelConfigError


class ImageHeadModel(nn.Module):
    """``base`` plus a pooled linear classifier on its deepest encoder features.

    Parameters
    ----------
    base : nn.Module
        A segmentation model with an ``encoder`` whose forward returns a list or
        tuple of feature maps, the last (N, F, h, w) being the deepest, and
        whose ``encoder.out_channels[-1]`` is F.
    num_image_classes : int
        K, the number of image-level classes (2 for healthy / unhealthy).
    dropout : float
        Dropout before the linear layer.

    Forward: images (N, 3, H, W) float32 -> ``{"logits": (N, C, H, W) float32,
    "image_logits": (N, K) float32}``.
    """

    def __init__(self, base: nn.Module, num_image_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        encoder = getattr(base, "encoder", None)
        channels = getattr(encoder, "out_channels", None)
        if not channels and hasattr(getattr(encoder, "config", None), "hidden_sizes"):
            channels = list(encoder.config.hidden_sizes)  # SegFormer's MiT encoder
        if encoder is None or not channels:
            raise ModelConfigError(
                f"{type(base).__name__} has no encoder with out_channels; an image head needs an "
                "smp-style encoder (unet, unetplusplus, attention_unet, deeplabv3plus, fpn) or "
                "SegFormer's MiT encoder"
            )
        if int(num_image_classes) < 2:
            raise ModelConfigError(f"image_classes={num_image_classes}: need at least 2")
        self.base = base
        self.image_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(p=float(dropout)),
            nn.Linear(int(channels[-1]), int(num_image_classes)),
        )
        self._features: torch.Tensor | None = None
        encoder.register_forward_hook(self._keep_deepest)

    @property
    def encoder(self) -> nn.Module:
        """The base model's encoder (frozen, given its own learning rate, etc. by the engine)."""
        return self.base.encoder

    def _keep_deepest(self, _module, _inputs, output) -> None:
        deepest = getattr(output, "last_hidden_state", None)  # Hugging Face MiT: (N, C, h, w)
        if deepest is not None:
            self._features = deepest
            return
        if not isinstance(output, (list, tuple)) or not output:
            raise ModelConfigError(
                f"{type(self.base).__name__}: the encoder returned {type(output).__name__}, "
                "not a list of feature maps; this model cannot carry an image head"
            )
        self._features = output[-1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.base(x)
        features, self._features = self._features, None
        if features is None:
            raise RuntimeError("the encoder hook did not run; is base.encoder used in forward?")
        return {"logits": logits, "image_logits": self.image_head(features)}


def image_logits_of(output) -> torch.Tensor | None:
    """The (N, K) image-level logits of a model output, or None if it has none."""
    if isinstance(output, dict):
        return output.get("image_logits")
    return None
