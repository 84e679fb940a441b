"""Heavily augmented views of a few images: the student's whole training set.

Each view is a random resized crop (8-100 % of the area, as in Inception training) of one of the
source images, flipped, colour-jittered, sometimes grey; then CutMix or mixup across the batch,
as Asano & Saeed (2022) do. The teacher labels every view itself, so nothing needs a label.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms import v2


class AugmentedViews:
    """Draw batches of views: ``sample(n) -> (n, 3, size, size) float32 in [0, 1]``.

    ``images`` are ``(H, W, 3) uint8`` arrays; ``generator`` makes the draw reproducible (the
    torchvision transforms use torch's global generator, seeded by the caller).
    """

    def __init__(self, images: list[np.ndarray], size: int = 128, cutmix_p: float = 0.5,
                 mixup_p: float = 0.25, strong: bool = True):  # fmt: skip
        if not images:
            raise ValueError("no source images to draw views from")
        self.images = [torch.from_numpy(np.array(i, copy=True)).permute(2, 0, 1) for i in images]
        self.size, self.cutmix_p, self.mixup_p = int(size), float(cutmix_p), float(mixup_p)
        steps = [v2.RandomResizedCrop(self.size, scale=(0.08, 1.0), antialias=True),
                 v2.RandomHorizontalFlip()]  # fmt: skip
        if strong:
            steps += [
                v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                v2.RandomGrayscale(p=0.1),
                v2.RandomApply([v2.GaussianBlur(9, sigma=(0.1, 2.0))], p=0.2),
            ]
        self.transform = v2.Compose(steps)

    def sample(self, n: int) -> torch.Tensor:
        idx = torch.randint(len(self.images), (n,))
        x = torch.stack([self.transform(self.images[i]) for i in idx.tolist()])
        x = x.float().div_(255.0)
        u = float(torch.rand(()))
        if u < self.cutmix_p:
            x = _cutmix(x)
        elif u < self.cutmix_p + self.mixup_p:
            lam = float(torch.distributions.Beta(1.0, 1.0).sample())
            x = lam * x + (1 - lam) * x[torch.randperm(n)]
        return x


def _cutmix(x: torch.Tensor) -> torch.Tensor:
    """Paste a random box of a shuffled copy of the batch into every view (Yun et al. 2019)."""
    n, _, h, w = x.shape
    lam = float(torch.rand(()))
    bh, bw = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
    if bh == 0 or bw == 0:
        return x
    y0, x0 = int(torch.randint(h - bh + 1, ())), int(torch.randint(w - bw + 1, ()))
    out = x.clone()
    out[:, :, y0 : y0 + bh, x0 : x0 + bw] = x[torch.randperm(n)][:, :, y0 : y0 + bh, x0 : x0 + bw]
    return out
