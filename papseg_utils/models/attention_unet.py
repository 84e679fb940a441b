"""Attention U-Net (Oktay et al. 2018) on a pretrained-capable encoder.

The decoder is a U-Net decoder whose skip connections pass through additive attention gates
(Oktay et al., 2018, Fig. 2): the skip ``x`` (fine) is projected with a stride-2 1x1 conv to the
gating signal's grid, the gating signal ``g`` (coarse decoder feature) with a 1x1 conv; their sum
goes through ReLU, a 1x1 conv to one channel and a sigmoid, and the resulting coefficients
``alpha`` (N,1,H,W) in [0, 1] are upsampled and multiply the skip before concatenation.

Why not MONAI's ``AttentionUnet``: it has attention gates too but only a from-scratch encoder.
Building the gates on an smp encoder keeps the ImageNet (and offline Lite0) encoders usable, which
is the point of this tutorial. The encoder is any segmentation-models-pytorch encoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class AttentionGate(nn.Module):
    """Additive attention gate: ``forward(x, g) -> (x * alpha, alpha)``.

    ``x`` (N,Cx,H,W) skip features, ``g`` (N,Cg,H/2,W/2) gating features (any smaller size is
    resampled). ``alpha`` is (N,1,H,W) float in [0, 1].
    """

    def __init__(self, x_channels: int, g_channels: int, inter_channels: int | None = None):
        super().__init__()
        inter = inter_channels or max(x_channels // 2, 1)
        self.theta_x = nn.Conv2d(x_channels, inter, 1, stride=2, bias=False)
        self.phi_g = nn.Conv2d(g_channels, inter, 1, bias=True)
        self.psi = nn.Conv2d(inter, 1, 1, bias=True)
        self.out = nn.Sequential(nn.Conv2d(x_channels, x_channels, 1), nn.BatchNorm2d(x_channels))

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = self.theta_x(x)
        phi = F.interpolate(
            self.phi_g(g), size=theta.shape[-2:], mode="bilinear", align_corners=False
        )
        alpha = torch.sigmoid(self.psi(F.relu(theta + phi)))
        alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(x * alpha), alpha


class AttentionDecoderBlock(nn.Module):
    """Upsample ``g`` x2, gate the skip with ``g``, concatenate, two 3x3 conv-BN-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.gate = AttentionGate(skip_channels, in_channels) if skip_channels else None
        self.conv = nn.Sequential(
            _conv_bn_relu(in_channels + skip_channels, out_channels),
            _conv_bn_relu(out_channels, out_channels),
        )
        self.last_alpha: torch.Tensor | None = None

    def forward(self, g: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        if skip is not None and self.gate is not None:
            skip, self.last_alpha = self.gate(skip, g)
            up = F.interpolate(g, size=skip.shape[-2:], mode="nearest")
            return self.conv(torch.cat([up, skip], dim=1))
        return self.conv(F.interpolate(g, scale_factor=2, mode="nearest"))


class AttentionUNet(nn.Module):
    """U-Net with attention-gated skips on an smp encoder.

    ``forward(images (N,3,H,W) float32) -> logits (N,num_classes,H,W)``; H and W must be
    divisible by 32. After a forward pass, ``attention_maps()`` returns each gate's
    coefficients (coarse to fine), (N,1,h,w) each.
    """

    def __init__(
        self,
        encoder_name: str = "resnet34",
        num_classes: int = 3,
        decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
        in_channels: int = 3,
    ):
        super().__init__()
        from segmentation_models_pytorch.encoders import get_encoder

        self.encoder = get_encoder(encoder_name, in_channels=in_channels, depth=5, weights=None)
        enc = list(self.encoder.out_channels)  # e.g. [3, 64, 64, 128, 256, 512]
        skips = enc[1:-1][::-1] + [0]  # skip channels at 1/16, 1/8, 1/4, 1/2, none at 1/1
        ins = [enc[-1], *decoder_channels[:-1]]
        self.blocks = nn.ModuleList(
            AttentionDecoderBlock(i, s, o)
            for i, s, o in zip(ins, skips, decoder_channels, strict=True)
        )
        self.head = nn.Conv2d(decoder_channels[-1], num_classes, 3, padding=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.encoder(images)
        x = features[-1]
        skips = features[1:-1][::-1] + [None]
        for block, skip in zip(self.blocks, skips, strict=True):
            x = block(x, skip)
        return self.head(x)

    def attention_maps(self) -> list[torch.Tensor]:
        """Gate coefficients of the last forward pass, coarse to fine, each (N,1,h,w) float."""
        return [b.last_alpha for b in self.blocks if b.last_alpha is not None]
