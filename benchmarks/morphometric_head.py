"""Healthy or unhealthy from what a cytologist measures, cross-validated on the CV's folds.

Each Herlev image is segmented by the fold model that never saw it (the folds of a
``scripts/herlev_cv.sh`` run), measured at native resolution (nucleus and cytoplasm area in
um^2, nucleus-to-cytoplasm ratio, nucleus roundness: :mod:`papseg_utils.metrics.morphometry`),
and called healthy or unhealthy by a logistic regression fitted on the other folds
(:func:`papseg_utils.evaluate.morphometric_head.cross_validated_calls`). Arms:

* ``image_head``: the network's own healthy/unhealthy head (the CV's ``image_labels.csv``);
* ``measured``: the regression on the measurements of the predicted masks;
* ``measured+head``: the same plus the image head's probability;
* ``truth_masks``: the regression on the measurements of the true masks, the ceiling of
  measurements alone (no segmentation error).

Every arm calls unhealthy at P > 0.5 (no threshold is tuned). Writes into ``--out``:
``measurements.csv`` (per image: group, fold, predicted and true measurements),
``calls.csv`` (per image and arm: P(unhealthy)), ``image_head.csv`` (per arm: accuracy,
sensitivity, specificity with bootstrap 95 % intervals over images), ``by_diagnosis.csv``
(per diagnostic class and arm: the share of images called right) and ``nucleus_area.png``.
The predicted masks are kept in ``build/cache/`` so that a rerun only measures and fits. Usage::

    PYTHONPATH=. python benchmarks/morphometric_head.py --runs build/herlev-st-cv \\
        --cv results/herlev-scale-true-cv --out results/herlev-morphometric-head
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ARMS = ("image_head", "measured", "measured+head", "truth_masks")


def predicted_masks(runs: Path, data_dir: str, tta: str, cache: Path):
    """``({image: predicted (H, W) uint8}, {image: true mask}, {image: fold}, {image: group})``."""
    from papseg_utils.data import load_dataset
    from papseg_utils.evaluate import assign_images, load_members, predict_images

    members = load_members(sorted(runs.glob("fold*/last")))
    samples = load_dataset("herlev", root=data_dir or None, scheme="herlev3", gray="background")
    assignment = assign_images(members, [s.name for s in samples], "test")
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        preds = {n: stored[f"m{i}"] for i, n in enumerate(assignment)}
        fold = {n: int(w[0]) for n, w in assignment.items()}
    else:
        out = predict_images(members, samples, assignment, tta=tta or False, progress=True)
        preds, fold = out.preds, out.fold
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **{f"m{i}": preds[n] for i, n in enumerate(assignment)})
    by_name = {s.name: s for s in samples}
    truth = {n: by_name[n].mask for n in assignment}
    groups = {n: by_name[n].group for n in assignment}
    return preds, truth, fold, groups


def rates(called: pd.Series, truth: pd.Series, n_boot: int, seed: int) -> dict:
    """Accuracy, sensitivity and specificity (unhealthy = positive) with bootstrap 95 % CIs."""
    c, t = called.to_numpy(bool), truth.to_numpy(bool)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), size=(n_boot, len(t)))

    def stats(cc, tt):
        return (cc == tt).mean(), cc[tt].mean(), (~cc[~tt]).mean()

    point = stats(c, t)
    boots = np.array([stats(c[i], t[i]) for i in idx])
    lo, hi = np.nanquantile(boots, [0.025, 0.975], axis=0)
    names = ("accuracy", "sensitivity", "specificity")
    out = {"images": int(len(t))}
    for k, name in enumerate(names):
        out.update(
            {name: float(point[k]), f"{name}_low": float(lo[k]), f"{name}_high": float(hi[k])}
        )
    return out


def figure(table: pd.DataFrame, out: Path) -> None:
    """Nucleus area (um^2) per diagnostic class, true masks beside predicted ones."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns
    from matplotlib import pyplot as plt

    from papseg_utils.data.herlev import CLASSES
    from papseg_utils.labels import CONDITION_COLOURS

    long = pd.concat(
        [
            pd.DataFrame(
                {"group": table.group, "area": table[f"{src}_nucleus_area_um2"], "masks": label}
            )  # fmt: skip
            for src, label in (("truth", "true masks"), ("pred", "predicted masks"))
        ]
    )
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    sns.boxplot(data=long, y="group", x="area", hue="masks", order=list(CLASSES), ax=ax,
                fliersize=2, log_scale=True,
                palette=[tuple(c / 255 for c in CONDITION_COLOURS[k]) for k in (0, 1)])  # fmt: skip
    ax.set_xlabel("nucleus area (um², log scale)", fontsize=12)
    ax.set_ylabel("")
    ax.tick_params(labelsize=11)
    ax.legend(title="", fontsize=11)
    ax.set_title("Nuclear size by diagnosis, measured at Herlev's 0.201 um/px", fontsize=12)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    from papseg_utils.data.registry import dataset_pixel_size
    from papseg_utils.evaluate import health_truth
    from papseg_utils.evaluate.morphometric_head import FEATURES, cross_validated_calls
    from papseg_utils.metrics.morphometry import measurement_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True, help="CV folder with fold*/last")
    ap.add_argument(
        "--cv", type=Path, required=True, help="the CV's evaluate output (image_labels.csv)"
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--tta", default="flips", help='"flips" (as the CV was scored) or ""')
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    cache = Path("build") / "cache" / f"{args.runs.name}-masks-{args.tta or 'none'}.npz"
    preds, truth, fold, groups = predicted_masks(args.runs, args.data_dir, args.tta, cache)
    pixel = dataset_pixel_size("herlev", None)
    pred_m, true_m = measurement_table(preds, pixel), measurement_table(truth, pixel)
    table = pd.concat([pred_m.add_prefix("pred_"), true_m.add_prefix("truth_")], axis=1)
    table.insert(0, "fold", pd.Series(fold))
    table.insert(0, "group", pd.Series(groups))
    unhealthy = health_truth(table.group).astype(bool)
    head = pd.read_csv(args.cv / "image_labels.csv").set_index("image").loc[table.index]
    feats = pred_m.assign(p_head=head.p_unhealthy)
    calls = pd.DataFrame(
        {
            "image_head": head.p_unhealthy,
            "measured": cross_validated_calls(pred_m, unhealthy, table.fold, FEATURES, args.seed),
            "measured+head": cross_validated_calls(
                feats, unhealthy, table.fold, (*FEATURES, "p_head"), args.seed
            ),
            "truth_masks": cross_validated_calls(
                true_m, unhealthy, table.fold, FEATURES, args.seed
            ),
        }
    )
    rows = [{"arm": a, **rates(calls[a] > 0.5, unhealthy, args.n_boot, args.seed)} for a in ARMS]
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "measurements.csv")
    calls.to_csv(args.out / "calls.csv")
    result = pd.DataFrame(rows)
    result.to_csv(args.out / "image_head.csv", index=False)
    right = (calls > 0.5).eq(unhealthy, axis=0).groupby(table.group).mean()
    right.insert(0, "images", table.group.value_counts())
    right.to_csv(args.out / "by_diagnosis.csv")
    figure(table, args.out / "nucleus_area.png")
    print(result.round(4).to_string(index=False))
    print(f"{len(table)} images, {time.perf_counter() - t0:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
