"""Data-loader throughput: decode/letterbox + augment + normalise + collate, in images/s.

Run: PYTHONPATH=. python benchmarks/bench_loader.py [--sizes 224 512] [--workers 0 2]
Uses Herlev when present (letterboxed), else synthetic fields; the augmentation
is ``papseg_utils.augment.get_policy("medical")`` when that module exists, else
a basic albumentations pipeline (printed). Compare with the training step rate
in docs (Lite0 U-Net: about 10 images/s at 256 px on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from papseg_utils.data.dataset import SegmentationDataset  # noqa: E402


def get_transform(size: int):
    try:
        from papseg_utils.augment import get_policy

        return get_policy("medical", image_size=size), "papseg_utils.augment medical"
    except (ImportError, AttributeError, TypeError) as err:
        basic = A.Compose(
            [
                A.HorizontalFlip(p=0.5),
                A.VerticalFlip(p=0.5),
                A.RandomRotate90(p=0.5),
                A.Affine(scale=(0.9, 1.1), rotate=(-15, 15), p=0.5),
                A.HueSaturationValue(10, 15, 10, p=0.5),
                A.RandomBrightnessContrast(p=0.5),
                A.GaussNoise(std_range=(0.01, 0.04), p=0.3),
            ]
        )
        return basic, f"basic albumentations pipeline (augment unavailable: {err})"


def load(n: int):
    from papseg_utils.data.herlev import default_root, load_herlev

    if default_root().exists():
        return load_herlev(limit=max(1, n // 7)), "herlev"
    from papseg_utils.data.synthetic import SyntheticConfig, generate_samples

    return generate_samples(n, 0, SyntheticConfig(image_size=512)), "synthetic 512"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    samples, source = load(args.n)
    print(f"data: {source}, {len(samples)} images")
    for size in args.sizes:
        transform, tname = get_transform(size)
        print(f"augmentation at {size}px: {tname}")
        for workers in args.workers:
            ds = SegmentationDataset(samples, transform=transform, image_size=size, cache=True)
            dl = DataLoader(
                ds,
                batch_size=args.batch_size,
                shuffle=True,
                num_workers=workers,
                persistent_workers=workers > 0,
            )
            rates = []
            for epoch in range(args.epochs + 1):
                t = time.perf_counter()
                n = sum(b["image"].shape[0] for b in dl)
                if epoch:  # epoch 0 fills the cache / starts workers
                    rates.append(n / (time.perf_counter() - t))
            print(
                f"  {size}px workers={workers}: median {statistics.median(rates):.0f} images/s "
                f"(min {min(rates):.0f}, max {max(rates):.0f}, {args.epochs} epochs of {n})"
            )


if __name__ == "__main__":
    main()
