"""Hybrid CNN-Transformer models: a TransUNet-style network and a 2-D UNETR.

``TransUNet`` (after Chen et al. 2021): a CNN encoder (any smp encoder: ResNet-34 by default,
the offline Lite0 too) whose 1/32 bottleneck features are projected to tokens, passed through
Transformer layers (pre-norm, learnable 2-D position embeddings resampled to the grid size) and
projected back, then a U-Net decoder with the CNN skips. The original uses ResNet-50 + ViT-B/16
at 1/16 with ImageNet-21k ViT weights; here the Transformer layers start from random init (only
the CNN encoder can be pretrained), and the depth/width default to a CPU-friendly size.

``UNETR2D`` (Hatamizadeh et al. 2022): a plain ViT on 16x16 patches whose hidden states feed
MONAI's UNETR decoder blocks (MONAI's own ``UNETR`` needs ``einops``, which we do not ship). Its position embedding is fixed to
``image_size``: inputs must be exactly ``image_size`` x ``image_size`` (resize or pad first).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ViTBottleneck(nn.Module):
    """Transformer layers over a feature map: (N,C,h,w) -> (N,C,h,w)."""

    def __init__(
        self,
        channels: int,
        hidden_size: int = 384,
        num_layers: int = 4,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        grid: int = 16,
    ):
        super().__init__()
        self.proj_in = nn.Conv2d(channels, hidden_size, 1)
        self.pos = nn.Parameter(torch.zeros(1, hidden_size, grid, grid))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            hidden_size, num_heads, int(hidden_size * mlp_ratio), dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )  # fmt: skip
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden_size)
        self.proj_out = nn.Sequential(
            nn.Conv2d(hidden_size, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        t = self.proj_in(x)
        pos = self.pos
        if pos.shape[-2:] != (h, w):
            pos = F.interpolate(pos, size=(h, w), mode="bicubic", align_corners=False)
        t = (t + pos).flatten(2).transpose(1, 2)  # (N, h*w, D)
        t = self.norm(self.layers(t))
        t = t.transpose(1, 2).reshape(n, -1, h, w)
        return self.proj_out(t)


class TransUNet(nn.Module):
    """CNN encoder + Transformer bottleneck + U-Net decoder (smp ``UnetDecoder``).

    ``forward(images (N,3,H,W) float32) -> logits (N,num_classes,H,W)``; H, W divisible by 32.
    """

    def __init__(
        self,
        encoder_name: str = "resnet34",
        num_classes: int = 3,
        hidden_size: int = 384,
        num_layers: int = 4,
        num_heads: int = 6,
        decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
    ):
        super().__init__()
        import segmentation_models_pytorch as smp

        unet = smp.Unet(
            encoder_name, encoder_weights=None, classes=num_classes,
            decoder_channels=decoder_channels,
        )  # fmt: skip
        self.encoder = unet.encoder
        self.bottleneck = ViTBottleneck(
            self.encoder.out_channels[-1], hidden_size, num_layers, num_heads
        )
        self.decoder = unet.decoder
        self.segmentation_head = unet.segmentation_head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = list(self.encoder(images))
        features[-1] = self.bottleneck(features[-1])
        return self.segmentation_head(self.decoder(features))


class ViTEncoder(nn.Module):
    """Plain ViT for UNETR: 16x16 patch embedding, learnable position embedding, pre-norm layers.

    ``forward(images (N,3,S,S)) -> (last (N,T,D) normed, hidden states: list of (N,T,D))``.
    """

    def __init__(
        self, image_size: int, in_channels: int, hidden_size: int, mlp_dim: int,
        num_heads: int, num_layers: int = 12, patch_size: int = 16, dropout: float = 0.0,
    ):  # fmt: skip
        super().__init__()
        self.patch_embed = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size)
        self.pos = nn.Parameter(torch.zeros(1, (image_size // patch_size) ** 2, hidden_size))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                hidden_size,
                num_heads,
                mlp_dim,
                dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )  # fmt: skip
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_size)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        return self.norm(x), hidden


class UNETR2D(nn.Module):
    """2-D UNETR: a ViT encoder whose layers 4, 7, 10, 12 feed MONAI's UNETR decoder blocks.

    The same wiring as ``monai.networks.nets.UNETR(spatial_dims=2)`` (whose ViT needs the
    ``einops`` package, not in our lock); the ViT here is built from ``torch.nn`` layers.
    ``forward(images (N,3,S,S) float32) -> logits (N,num_classes,S,S)`` with ``S = image_size``.
    """

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 256,
        feature_size: int = 16,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_heads: int = 12,
        in_channels: int = 3,
        norm_name: str = "instance",
    ):
        super().__init__()
        from monai.networks.blocks import (
            UnetOutBlock,
            UnetrBasicBlock,
            UnetrPrUpBlock,
            UnetrUpBlock,
        )

        if image_size % 16:
            raise ValueError(f"UNETR image_size={image_size} must be a multiple of 16 (patch size)")
        self.image_size, self.grid, self.hidden_size = image_size, image_size // 16, hidden_size
        self.vit = ViTEncoder(image_size, in_channels, hidden_size, mlp_dim, num_heads)
        fs, kw = feature_size, dict(spatial_dims=2, norm_name=norm_name, res_block=True)
        pr = dict(kernel_size=3, stride=1, upsample_kernel_size=2, conv_block=True, **kw)
        up = dict(kernel_size=3, upsample_kernel_size=2, **kw)
        self.encoder1 = UnetrBasicBlock(
            in_channels=in_channels, out_channels=fs, kernel_size=3, stride=1, **kw
        )
        self.encoder2 = UnetrPrUpBlock(
            in_channels=hidden_size, out_channels=fs * 2, num_layer=2, **pr
        )
        self.encoder3 = UnetrPrUpBlock(
            in_channels=hidden_size, out_channels=fs * 4, num_layer=1, **pr
        )
        self.encoder4 = UnetrPrUpBlock(
            in_channels=hidden_size, out_channels=fs * 8, num_layer=0, **pr
        )
        self.decoder5 = UnetrUpBlock(in_channels=hidden_size, out_channels=fs * 8, **up)
        self.decoder4 = UnetrUpBlock(in_channels=fs * 8, out_channels=fs * 4, **up)
        self.decoder3 = UnetrUpBlock(in_channels=fs * 4, out_channels=fs * 2, **up)
        self.decoder2 = UnetrUpBlock(in_channels=fs * 2, out_channels=fs, **up)
        self.out = UnetOutBlock(spatial_dims=2, in_channels=fs, out_channels=num_classes)

    @property
    def encoder(self) -> nn.Module:
        """The ViT (patch embedding + 12 Transformer layers)."""
        return self.vit

    def _grid(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[0]
        return tokens.transpose(1, 2).reshape(n, self.hidden_size, self.grid, self.grid)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"UNETR was built for {self.image_size}x{self.image_size} inputs but got "
                f"{tuple(images.shape[-2:])}; resize/letterbox to image_size or rebuild with "
                f"build_model('unetr', ..., image_size={images.shape[-1]})"
            )
        x, hidden = self.vit(images)
        enc1 = self.encoder1(images)
        enc2 = self.encoder2(self._grid(hidden[3]))
        enc3 = self.encoder3(self._grid(hidden[6]))
        enc4 = self.encoder4(self._grid(hidden[9]))
        dec3 = self.decoder5(self._grid(x), enc4)
        dec2 = self.decoder4(dec3, enc3)
        dec1 = self.decoder3(dec2, enc2)
        return self.out(self.decoder2(dec1, enc1))
