"""How well a student agrees with its teacher on images it was not trained on.

Agreement, not accuracy: offline there are no labelled ImageNet images, so the teacher's own
top-1 class is the reference. ``top1`` = fraction of views where the student's top-1 equals the
teacher's; ``top5`` = fraction where the teacher's top-1 is among the student's five best.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms import v2

from .sources import NaturalImage, load_image


def fixed_views(image: np.ndarray, n: int, size: int, seed: int) -> torch.Tensor:
    """``n`` reproducible views of ``image``: the whole picture, then random crops (25-100 %).

    Returns ``(n, 3, size, size) float32`` in [0, 1].
    """
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    whole = v2.functional.resize(t, [size, size], antialias=True)
    crop = v2.Compose([v2.RandomResizedCrop(size, scale=(0.25, 1.0), antialias=True),
                       v2.RandomHorizontalFlip()])  # fmt: skip
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        views = [whole] + [crop(t) for _ in range(n - 1)]
    finally:
        torch.set_rng_state(state)
    return torch.stack(views).float().div_(255.0)


@torch.no_grad()
def agreement(student, teacher, images: tuple[NaturalImage, ...] | dict[str, np.ndarray],
              views: int = 32, size: int = 128, seed: int = 0) -> dict:  # fmt: skip
    """Top-1/top-5 agreement of ``student`` with ``teacher`` over ``views`` views of each image.

    ``images`` are sample images (:class:`NaturalImage`) or a mapping name -> ``(H, W, 3) uint8``
    array (cytology). Both nets are called as ``net(x01) -> (logits, ...)``. Returns ``{"top1",
    "top5", "images", "views", "per_image": {name: {"top1", "top5"}}}`` (fractions in [0, 1]).
    """
    was = student.training
    student.eval()
    pairs = images.items() if isinstance(images, dict) else (
        (i.name, load_image(i.name)) for i in images)  # fmt: skip
    per, hits1, hits5, total = {}, 0, 0, 0
    for k, (name, array) in enumerate(pairs):
        x = fixed_views(array, views, size, seed + k)
        t = teacher(x)[0].argmax(1)
        s5 = student(x)[0].topk(5, dim=1).indices
        h1 = int((s5[:, 0] == t).sum())
        h5 = int((s5 == t[:, None]).any(1).sum())
        per[name] = {"top1": h1 / len(x), "top5": h5 / len(x)}
        hits1, hits5, total = hits1 + h1, hits5 + h5, total + len(x)
    student.train(was)
    return {"top1": hits1 / total, "top5": hits5 / total, "images": len(images), "views": total,
            "per_image": per}  # fmt: skip


@torch.no_grad()
def top_classes(net, image: np.ndarray, size: int = 128, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most likely ImageNet classes for the whole ``image``: ``[(name, prob), ...]``."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    was = getattr(net, "training", False)
    net.eval()
    x = fixed_views(image, 1, size, 0)
    p = net(x)[0].softmax(1)[0]
    net.train(was)
    vals, idx = p.topk(k)
    return [(info.index_to_description(int(i)).split(",")[0], round(float(v), 3))
            for v, i in zip(vals, idx, strict=True)]  # fmt: skip
