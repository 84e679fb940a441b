"""Scale robustness: the same cells as another microscope would image them.

Each cross-validation test image (and its mask) is resized by a factor (0.5, 0.71, 1, 1.41,
2: a microscope with a coarser or finer pixel) and segmented by the fold model that never saw
it, in three ways:

* ``given``: the scale-true recipe told the right pixel size (0.201 / factor um/px);
* ``auto``: the scale-true recipe with ``--pixel-size auto`` (one estimate per fold and
  factor, from that fold's resized test images);
* ``letterbox``: a letterbox checkpoint (``--letterbox``), which rescales by image size.

Per-image Dice is scored on the resized grid (the new microscope's native grid). Usage::

    PYTHONPATH=. python benchmarks/scale_robustness.py --cv build/herlev-st-cv \\
        [--letterbox build/herlev-lb-cv] --out results/herlev-scale-robustness

Writes ``per_image.csv.gz`` (fold, image, diagnosis, factor, mode, class, dice),
``auto.csv`` (the estimated pixel sizes), ``summary.csv`` (per factor and mode: images and
per-image mean Dice with a bootstrap 95 % interval) and ``scale_robustness.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FACTORS = (0.5, 0.71, 1.0, 1.41, 2.0)
HERLEV_PX = 0.201


def _dice(pred: np.ndarray, mask: np.ndarray, cls: int) -> float:
    """Dice of class ``cls`` outside the ignored pixels; NaN when both are empty."""
    from papseg_utils.labels import IGNORE_INDEX
    from papseg_utils.metrics.overlap import dice_score

    valid = mask != IGNORE_INDEX
    return dice_score((pred == cls) & valid, (mask == cls) & valid)


def _members(folder: Path):
    from papseg_utils.evaluate import load_members

    ckpts = sorted(folder.glob("fold*/last"))
    if not ckpts:
        sys.exit(f"{folder}: no fold*/last checkpoints (scripts/herlev_cv.sh writes them)")
    return load_members(ckpts)


def run(args) -> pd.DataFrame:
    import torch

    from papseg_utils.data import load_dataset
    from papseg_utils.data.spacing import resample_image, resample_mask, resampled_shape
    from papseg_utils.evaluate import assign_images
    from papseg_utils.inference import predict_with_config
    from papseg_utils.scale_estimate import estimate_pixel_size

    torch.set_num_threads(args.threads)
    arms = {"given": _members(args.cv)}
    if args.letterbox:
        arms["letterbox"] = _members(args.letterbox)
    samples = load_dataset("herlev", scheme="herlev3")
    names = [s.name for s in samples]
    by_name = {s.name: s for s in samples}
    rows, autos = [], []
    t0 = time.perf_counter()
    for arm, members in arms.items():
        assignment = assign_images(members, names, "test")
        folds = sorted({who[0] for who in assignment.values()})
        folds = [k for k in folds if args.folds is None or k in args.folds]
        for k in folds:
            m = members[k]
            test = [n for n, who in assignment.items() if who == [k]][: args.max_images or None]
            for f in args.factors:
                resized = {}
                for n in test:
                    s = by_name[n]
                    img = resample_image(s.image, f)
                    resized[n] = (img, resample_mask(s.mask, resampled_shape(s.mask.shape, f)))
                modes = {"letterbox": None} if arm == "letterbox" else {"given": HERLEV_PX / f}
                if arm == "given" and not args.no_auto:
                    est = estimate_pixel_size(
                        lambda im, px, m=m: predict_with_config(
                            m.model, im, m.config, pixel_size_um=px
                        ).argmax(0),
                        [v[0] for v in resized.values()], m.config, m.scheme,
                    )  # fmt: skip
                    modes["auto"] = est["pixel_size_um"]
                    autos.append({"fold": k, "factor": f, "true_um": HERLEV_PX / f, **est})
                for mode, px in modes.items():
                    for n, (img, mask) in resized.items():
                        pred = predict_with_config(m.model, img, m.config, pixel_size_um=px)
                        pred = pred.argmax(0)
                        for cls, cid in (("nucleus", 2), ("cytoplasm", 1)):
                            rows.append({"fold": k, "image": n, "diagnosis": by_name[n].group,
                                         "factor": f, "mode": mode, "class": cls,
                                         "dice": _dice(pred, mask, cid)})  # fmt: skip
                print(f"{arm} fold {k} factor {f}: {len(test)} images, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
            _save(args.out, rows, autos)  # after every fold: an interrupted run keeps its folds
    _save(args.out, rows, autos)
    return pd.DataFrame(rows)


def _save(out: Path, rows: list, autos: list) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "per_image.csv.gz", index=False)
    if autos:
        pd.DataFrame(autos).to_csv(out / "auto.csv", index=False)


def by_factor(df: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per mode, class and factor: images, per-image mean Dice [95 % CI], and its change from 1x."""
    from papseg_utils.metrics.stats import bootstrap_mean_ci

    rows = []
    for (mode, cls, f), g in df.groupby(["mode", "class", "factor"]):
        v = g.dice.dropna().to_numpy()
        ci = bootstrap_mean_ci(v, n_boot=n_boot, seed=seed)
        rows.append({"mode": mode, "class": cls, "factor": f, "images": len(v),
                     "dice": float(v.mean()), "ci_low": ci[1], "ci_high": ci[2]})  # fmt: skip
    out = pd.DataFrame(rows)
    base = out[out.factor == 1.0].set_index(["mode", "class"]).dice
    out["change_from_1x"] = [r.dice - base.get((r["mode"], r["class"]), np.nan)
                             for _, r in out.iterrows()]  # fmt: skip
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", type=Path, required=True, help="scale-true CV folder (fold*/last)")
    ap.add_argument("--letterbox", type=Path, default=None, help="letterbox CV folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--factors", type=float, nargs="+", default=list(FACTORS))
    ap.add_argument("--folds", type=int, nargs="+", default=None)
    ap.add_argument("--max-images", type=int, default=0, help="per fold; 0: all")
    ap.add_argument("--no-auto", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--summary-only", action="store_true", help="re-summarise per_image.csv.gz")
    args = ap.parse_args(argv)
    df = pd.read_csv(args.out / "per_image.csv.gz") if args.summary_only else run(args)
    summary = by_factor(df)
    summary.to_csv(args.out / "summary.csv", index=False)
    print(summary.round(4).to_string(index=False))
    from papseg_utils.results.scale import plot_scale_robustness

    fig = plot_scale_robustness(summary)
    fig.savefig(args.out / "scale_robustness.png", dpi=110, bbox_inches="tight")
    return 0


if __name__ == "__main__":
    sys.exit(main())
