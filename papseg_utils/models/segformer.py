"""SegFormer (Xie et al. 2021) via Hugging Face ``SegformerForSemanticSegmentation``.

Sizes b0-b5 use the MiT hyper-parameters of the paper (``MIT_CONFIGS``). The model's logits come
at 1/4 resolution; :class:`SegFormer` upsamples them bilinearly to the input size so every papseg
model returns (N,C,H,W) at the input resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# depths, hidden sizes and decoder width of MiT-b0..b5 (Xie et al. 2021, Table 6)
MIT_CONFIGS: dict[str, dict] = {
    "b0": {"depths": [2, 2, 2, 2], "hidden_sizes": [32, 64, 160, 256], "decoder_hidden_size": 256},
    "b1": {"depths": [2, 2, 2, 2], "hidden_sizes": [64, 128, 320, 512], "decoder_hidden_size": 256},
    "b2": {"depths": [3, 4, 6, 3], "hidden_sizes": [64, 128, 320, 512], "decoder_hidden_size": 768},
    "b3": {
        "depths": [3, 4, 18, 3],
        "hidden_sizes": [64, 128, 320, 512],
        "decoder_hidden_size": 768,
    },
    "b4": {
        "depths": [3, 8, 27, 3],
        "hidden_sizes": [64, 128, 320, 512],
        "decoder_hidden_size": 768,
    },
    "b5": {
        "depths": [3, 6, 40, 3],
        "hidden_sizes": [64, 128, 320, 512],
        "decoder_hidden_size": 768,
    },
}

ADE20K_REPOS = {
    k: f"nvidia/segformer-{k}-finetuned-ade-{'640-640' if k == 'b5' else '512-512'}"
    for k in MIT_CONFIGS
}
IMAGENET_REPOS = {k: f"nvidia/mit-{k}" for k in MIT_CONFIGS}


def segformer_config(size: str, num_classes: int):
    """A ``SegformerConfig`` for MiT size ``size`` ("b0".."b5") and ``num_classes`` labels."""
    from transformers import SegformerConfig

    cfg = MIT_CONFIGS[size]
    return SegformerConfig(
        num_labels=num_classes,
        depths=cfg["depths"],
        hidden_sizes=cfg["hidden_sizes"],
        decoder_hidden_size=cfg["decoder_hidden_size"],
        num_attention_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1],
        mlp_ratios=[4, 4, 4, 4],
    )


class SegFormer(nn.Module):
    """Wrapper: ``forward(images (N,3,H,W) float32) -> logits (N,num_classes,H,W)``.

    ``.hf`` is the Hugging Face model, ``.encoder`` its MiT encoder (``hf.segformer``), exposed as
    a property so the parameters are registered once (safetensors rejects shared tensors).
    """

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf = hf_model

    @property
    def encoder(self) -> nn.Module:
        return self.hf.segformer

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.hf(pixel_values=images).logits
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
