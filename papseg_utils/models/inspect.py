"""Look inside networks: ImageNet predictions, first-layer filters, feature maps, receptive fields.

Used by the transfer-learning and architecture chapters; everything here is cheap on a CPU.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn


def preprocess(
    image: np.ndarray,
    size: int = 224,
    mean: tuple[float, ...] = (0.5, 0.5, 0.5),
    std: tuple[float, ...] = (0.5, 0.5, 0.5),
) -> torch.Tensor:
    """(H,W,3) uint8 RGB -> (1,3,size,size) float32: short side to ``size``, centre crop, normalise.

    The default mean = std = 0.5 maps pixels to [-1, 1] (the EfficientNet-Lite convention).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H,W,3) uint8 RGB image, got {image.shape} {image.dtype}")
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    h, w = x.shape[-2:]
    s = size / min(h, w)
    x = F.interpolate(x, size=(max(size, round(h * s)), max(size, round(w * s))), mode="bilinear",
                      antialias=True, align_corners=False)  # fmt: skip
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    x = x[..., top : top + size, left : left + size]
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def imagenet_names() -> list[str]:
    """The 1000 ImageNet-1k class names (first lemma of each synset), offline from timm."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i).split(",")[0] for i in range(1000)]


@torch.no_grad()
def imagenet_topk(model: nn.Module, image: np.ndarray, k: int = 5, **pre) -> pd.DataFrame:
    """Top-``k`` ImageNet classes of classifier ``model`` on ``image`` (H,W,3) uint8.

    Returns a DataFrame with columns rank, class_id, name, probability.
    """
    model.eval()
    probs = model(preprocess(image, **pre)).softmax(-1)[0]
    p, idx = probs.topk(k)
    names = imagenet_names()
    return pd.DataFrame({
        "rank": range(1, k + 1), "class_id": idx.tolist(),
        "name": [names[i] for i in idx.tolist()], "probability": p.numpy().round(4),
    })  # fmt: skip


def first_conv(module: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` taking 3 input channels in ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and m.in_channels == 3:
            return m
    raise ValueError("no Conv2d with 3 input channels found in the module")


def filter_grid(conv: nn.Conv2d, ncols: int = 8) -> np.ndarray:
    """First-layer filters as one RGB mosaic (rows*(k+1), ncols*(k+1), 3) float in [0, 1].

    Each filter is scaled symmetrically around 0.5 by its own max |weight|, so colour shows sign
    and hue the colour preference (e.g. red-green opponency).
    """
    w = conv.weight.detach().float().cpu().numpy()  # (O,3,k,k)
    o, _, kh, kw = w.shape
    rows = -(-o // ncols)
    grid = np.ones((rows * (kh + 1), ncols * (kw + 1), 3), dtype=np.float32)
    for i in range(o):
        f = w[i].transpose(1, 2, 0)
        f = 0.5 + 0.5 * f / (np.abs(f).max() + 1e-8)
        r, c = divmod(i, ncols)
        grid[r * (kh + 1) : r * (kh + 1) + kh, c * (kw + 1) : c * (kw + 1) + kw] = f
    return grid


def filter_stats(conv: nn.Conv2d) -> dict[str, float]:
    """How structured the filters are: mean |spatial autocorrelation| of neighbouring taps.

    Pretrained filters are smooth (edges, blobs: high neighbour correlation); random ones are not.
    """
    w = conv.weight.detach().float()
    a, b = w[..., :, :-1].reshape(-1), w[..., :, 1:].reshape(-1)
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    return {"neighbour_correlation": round(corr, 3), "weight_std": round(w.std().item(), 4)}


@torch.no_grad()
def encoder_features(encoder: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Feature maps of an smp encoder for (N,3,H,W) float32 images, fine to coarse (stem dropped)."""
    encoder.eval()
    feats = encoder(images)
    return [f for f in feats if f.shape[1] != images.shape[1] or f.shape[-1] != images.shape[-1]]


def feature_mosaic(features: torch.Tensor, n: int = 8) -> np.ndarray:
    """The ``n`` most active channels of one (1,C,h,w) map, each min-max scaled: (n,h,w) float."""
    f = features[0]
    idx = f.flatten(1).std(1).argsort(descending=True)[:n]
    sel = f[idx]
    lo = sel.flatten(1).min(1).values.view(-1, 1, 1)
    hi = sel.flatten(1).max(1).values.view(-1, 1, 1)
    return ((sel - lo) / (hi - lo + 1e-8)).cpu().numpy()


def effective_receptive_field(
    model: nn.Module, image_size: int = 256, num_samples: int = 4, seed: int = 0
) -> np.ndarray:
    """Gradient-based effective receptive field (Luo et al. 2016) of the centre output pixel.

    Sums |d logits[:, :, c, c] / d input| over random inputs (N(0,1), ``num_samples``), channels
    and classes. Returns (image_size, image_size) float64 normalised to max 1. The model is put
    in eval mode (BatchNorm uses running stats) and left there.
    """
    g = torch.Generator().manual_seed(seed)
    model.eval()
    c = image_size // 2
    total = torch.zeros(image_size, image_size, dtype=torch.float64)
    for _ in range(num_samples):
        x = torch.randn(1, 3, image_size, image_size, generator=g, requires_grad=True)
        out = model(x)
        out[:, :, c, c].sum().backward()
        total += x.grad.abs().sum(dim=(0, 1)).double()
    return (total / total.max()).numpy()


def erf_radius(erf: np.ndarray, mass: float = 0.9) -> float:
    """Radius (px) around the centre holding ``mass`` of the ERF's total gradient magnitude."""
    h, w = erf.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h // 2, xx - w // 2).ravel()
    order = np.argsort(r)
    cum = np.cumsum(erf.ravel()[order])
    return float(r[order][np.searchsorted(cum, mass * cum[-1])])
