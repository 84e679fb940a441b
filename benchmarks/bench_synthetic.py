"""Synthetic generator speed: images per second on one core.

Run: PYTHONPATH=. python benchmarks/bench_synthetic.py [--size 256] [--n 100] [--repeats 5]
Prints the median over repeats (the CPU may be shared: report medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import torch  # noqa: E402

from papseg_utils.data.synthetic import SyntheticConfig, generate_field  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--difficulty", default="medium")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    cfg = SyntheticConfig(image_size=args.size, difficulty=args.difficulty)
    generate_field(0, cfg)  # warm-up
    rates = []
    for r in range(args.repeats):
        t = time.perf_counter()
        for i in range(args.n):
            generate_field(r * args.n + i, cfg)
        rates.append(args.n / (time.perf_counter() - t))
    print(
        f"synthetic {args.size}x{args.size} {args.difficulty}: median {statistics.median(rates):.1f} "
        f"images/s (min {min(rates):.1f}, max {max(rates):.1f}) over {args.repeats} x {args.n}, 1 thread"
    )


if __name__ == "__main__":
    main()
