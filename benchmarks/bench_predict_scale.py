"""``predict`` time per megapixel of a scale-true checkpoint: whole image vs sliding window.

Times :func:`papseg_utils.inference.predict_with_config` on a synthetic field of SIZE x SIZE px
at the checkpoint's target spacing (so no resampling), in one pass and in the checkpoint's
sliding window, and reports the median of REPEATS runs in seconds per megapixel, with the
ratio measured in the same run, and the peak resident memory. Usage::

    PYTHONPATH=. python benchmarks/bench_predict_scale.py CHECKPOINT [--size 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time


def main(argv=None) -> int:
    import torch

    from papseg_utils.data.synthetic import SyntheticConfig, generate_field
    from papseg_utils.inference import predict_with_config
    from papseg_utils.train.checkpoint import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, config = load_model(args.checkpoint, device="cpu")
    image = generate_field(0, SyntheticConfig(image_size=args.size))[0]
    spacing = config["spacing"]
    px = spacing["target_spacing_um"]
    mp = args.size**2 / 1e6
    window = int(spacing.get("window") or spacing["patch_size"])
    arms = {"whole image": args.size + 32, f"sliding window {window} px": window}
    out = {"size_px": args.size, "threads": args.threads, "s_per_megapixel": {}}
    for name, tile in arms.items():
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            predict_with_config(model, image, config, tile_size=tile, pixel_size_um=px)
            times.append(time.perf_counter() - t)
        out["s_per_megapixel"][name] = statistics.median(times) / mp
    a, b = out["s_per_megapixel"].values()
    out["window_over_whole"] = b / a
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
