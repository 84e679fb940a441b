"""SegFormer (Xie et al. 2021) via Hugging Face ``SegformerForSemanticSegmentation``.

Sizes b0-b5 use the MiT hyper-parameters of the paper (``MIT_CONFIGS``). The registry builds it
with :func:`build_segformer` and loads hub sources (ImageNet, ADE20K) and Hugging Face folders
with :func:`load_segformer_pretrained`; the shipped distilled encoder loads like every
architecture's (``models.registry``). The model's logits come
at 1/4 resolution; :class:`SegFormer` upsamples them bilinearly to the input size so every papseg
model returns (N,C,H,W) at the input resolution.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from . import pretrained as pw
from .errors import ModelConfigError, WeightsUnavailableError

if TYPE_CHECKING:
    from .encoders import EncoderInfo

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


def build_segformer(encoder: EncoderInfo, num_classes: int, **kw) -> SegFormer:
    """A randomly initialised :class:`SegFormer` of MiT size ``encoder.impl_name``.

    ``kw`` overrides ``SegformerConfig`` fields; an unknown field raises :class:`ModelConfigError`.
    """
    from transformers import SegformerForSemanticSegmentation

    cfg = segformer_config(encoder.impl_name, num_classes)
    for k, v in kw.items():
        if not hasattr(cfg, k):
            raise ModelConfigError(
                f"segformer: unknown keyword {k!r} (not a SegformerConfig field)"
            )
        setattr(cfg, k, v)
    return SegFormer(SegformerForSemanticSegmentation(cfg))


def _from_pretrained(repo: str, num_classes: int, local_only: bool) -> nn.Module:
    from transformers import SegformerForSemanticSegmentation  # slow import: after the checks
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" warning is expected
    try:
        return SegformerForSemanticSegmentation.from_pretrained(
            repo, num_labels=num_classes, ignore_mismatched_sizes=True, local_files_only=local_only
        )
    except OSError as err:
        raise WeightsUnavailableError(f"could not load {repo}: {err}. " + pw.HOW_TO_SUPPLY) from err
    finally:
        hf_logging.set_verbosity(verbosity)


def load_segformer_pretrained(
    encoder: EncoderInfo, pretrained: str, num_classes: int, kwargs: dict
) -> tuple[SegFormer, str, str]:
    """SegFormer with weights from ``pretrained``: returns ``(model, weights_source, sha256)``.

    ``pretrained`` is ``"imagenet"`` (MiT encoder), ``"ade20k"`` (whole model but the
    classifier) or a Hugging Face folder. Raises
    :class:`ModelConfigError` for keyword overrides (they only apply to random init) and
    :class:`WeightsUnavailableError` when the weights cannot be had or do not match the size.
    """
    if kwargs:
        raise ModelConfigError("segformer: keyword overrides only with pretrained='none'")
    if Path(pretrained).is_dir():
        repo, local_only = pretrained, True
    else:
        repo = (ADE20K_REPOS if pretrained == "ade20k" else IMAGENET_REPOS)[encoder.impl_name]
        local_only = not pw.hub_online()
        if local_only and not pw.hf_repo_cached(repo):
            raise WeightsUnavailableError(
                f"pretrained weights {repo} (https://huggingface.co/{repo}) are not in the local "
                "cache and the hub cannot be reached. " + pw.HOW_TO_SUPPLY
            )
    hf = _from_pretrained(repo, num_classes, local_only)
    want = MIT_CONFIGS[encoder.impl_name]
    if (
        list(hf.config.hidden_sizes) != want["hidden_sizes"]
        or list(hf.config.depths) != want["depths"]
    ):
        raise WeightsUnavailableError(
            f"{repo} is not a MiT-{encoder.impl_name} model; pick the matching encoder"
        )
    hf.train()
    part = hf.segformer.state_dict() if pretrained != "ade20k" else {
        k: v for k, v in hf.state_dict().items() if not k.startswith("decode_head.classifier")
    }  # fmt: skip
    src = repo if Path(pretrained).is_dir() else f"hf://{repo}"
    return SegFormer(hf), src, pw.state_sha256(part)
