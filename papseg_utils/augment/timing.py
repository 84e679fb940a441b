"""How long a policy takes on one image and mask."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def time_policy(
    policy: Callable[..., dict], image: np.ndarray, mask: np.ndarray, n: int = 50
) -> dict[str, float]:
    """Median and 90th-percentile time (ms) of ``policy`` on one pair over ``n`` calls.

    ``image`` (H, W, 3) uint8 and ``mask`` (H, W) uint8; one warm-up call is not timed.
    """
    policy(image=image, mask=mask)  # warm-up
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        policy(image=image, mask=mask)
        times[i] = time.perf_counter() - t0
    return {
        "median_ms": float(np.median(times) * 1e3),
        "p90_ms": float(np.percentile(times, 90) * 1e3),
    }
