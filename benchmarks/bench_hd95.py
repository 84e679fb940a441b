"""Benchmark: papseg_utils HD95 vs medpy's on 512x512 random blob masks.

Run from the repo root::

    PYTHONPATH=. python benchmarks/bench_hd95.py [--calls 50] [--size 512]

For each blob radius, builds random pairs of blob masks (a few overlapping
discs and ellipses, the prediction perturbed from the truth), times both
implementations over ``--calls`` calls each (median per call), checks the values
are equal (rtol 1e-9) and prints a table with the speed-up.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from medpy.metric import binary as medpy_binary

from papseg_utils.metrics.surface import hd95


def blob_pair(rng: np.random.Generator, size: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth and perturbed prediction, (size, size) bool each, made of 1-4 ellipses."""
    truth = np.zeros((size, size), np.uint8)
    pred = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.integers(radius // 2, size - radius // 2, 2)
        ax = tuple(int(v) for v in rng.integers(max(1, radius // 2), radius + 1, 2))
        ang = float(rng.uniform(0, 180))
        cv2.ellipse(truth, (int(cx), int(cy)), ax, ang, 0, 360, 1, -1)
        jitter = rng.integers(-3, 4, 2)
        ax2 = tuple(max(1, a + int(rng.integers(-3, 4))) for a in ax)
        cv2.ellipse(pred, (int(cx + jitter[0]), int(cy + jitter[1])), ax2, ang, 0, 360, 1, -1)
    if rng.random() < 0.5:  # a stray false-positive speck
        y, x = rng.integers(0, size, 2)
        pred[y : y + 2, x : x + 2] = 1
    return pred.astype(bool), truth.astype(bool)


def median_time(fn, pairs) -> tuple[float, list[float]]:
    times, values = [], []
    for p, t in pairs:
        t0 = time.perf_counter()
        values.append(fn(p, t))
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--radii", type=int, nargs="+", default=[8, 32, 96, 160])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"HD95 on {args.size}x{args.size} random blob masks, median of {args.calls} calls")
    print(f"{'radius px':>9} {'medpy ms':>9} {'papseg ms':>10} {'speed-up':>9} {'equal':>6}")
    ratios = []
    for radius in args.radii:
        pairs = [blob_pair(rng, args.size, radius) for _ in range(args.calls)]
        hd95(*pairs[0])  # warm-up (imports, caches)
        t_ref, v_ref = median_time(medpy_binary.hd95, pairs)
        t_new, v_new = median_time(hd95, pairs)
        equal = bool(np.allclose(v_ref, v_new, rtol=1e-9, atol=0))
        ratios.append(t_ref / t_new)
        print(
            f"{radius:>9} {t_ref * 1e3:>9.2f} {t_new * 1e3:>10.3f} {t_ref / t_new:>8.1f}x {str(equal):>6}"
        )
        if not equal:
            raise SystemExit(f"values differ from medpy at radius {radius}")
    print(f"median speed-up over radii: {np.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
