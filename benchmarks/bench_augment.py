"""Per-image time of each augmentation policy and each medical transform, on one core.

Usage (from the repo root)::

    PYTHONPATH=. NO_ALBUMENTATIONS_UPDATE=1 python benchmarks/bench_augment.py [--size 512] [--n 200]

Inputs are synthetic fields (papseg_utils.data.synthetic) when available, else
random images with blocky masks. Reports median and p90 in ms per image; the
goal is ``medical`` median < 10 ms at 512x512. OpenCV is limited to one thread.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from papseg_utils import augment as au  # noqa: E402


def inputs(size: int, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        from papseg_utils.data.synthetic import SyntheticConfig, generate_field

        cfg = SyntheticConfig(image_size=size)
        return [generate_field(seed + i, cfg)[:2] for i in range(k)]
    except Exception:  # noqa: BLE001 - any failure: fall back to random inputs
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(k):
            coarse = rng.integers(0, 5, (8, 8), dtype=np.uint8)
            mask = np.kron(coarse, np.ones((size // 8, size // 8), np.uint8))
            out.append((rng.integers(0, 256, (size, size, 3), dtype=np.uint8), mask))
        return out


def time_it(fn, pairs, n: int) -> np.ndarray:
    for image, mask in pairs[:3]:  # warm-up
        fn(image=image, mask=mask)
    times = np.empty(n)
    for i in range(n):
        image, mask = pairs[i % len(pairs)]
        t0 = time.perf_counter()
        fn(image=image, mask=mask)
        times[i] = time.perf_counter() - t0
    return times * 1e3


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    pairs = inputs(args.size, 16)
    rows = []
    for name in au.POLICIES:
        t = time_it(au.get_policy(name, seed=0), pairs, args.n)
        rows.append(
            {"what": f"policy:{name}", "median_ms": np.median(t), "p90_ms": np.percentile(t, 90)}
        )
    for name, transform in au.medical_transforms("medical"):
        transform.set_random_seed(0)
        t = time_it(transform, pairs, args.n)
        rows.append({"what": name, "median_ms": np.median(t), "p90_ms": np.percentile(t, 90)})
    df = pd.DataFrame(rows)
    print(f"{args.size}x{args.size}, {args.n} images each, cv2 threads = 1")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return df


if __name__ == "__main__":
    main()
