"""Tables and figures of the distillation results (the results chapter and the closing numbers).

Reads what ``scripts/distilled_vs_scratch.sh`` and ``papseg distill`` write (committed under
``results/distilled-vs-scratch/`` and beside the shipped weights):

* :func:`load_runs` - the per-image tables of every ``<arm>-f<fraction>-s<seed>`` run;
* :func:`arm_table` - per arm and data fraction: the mean Dice of each seed and their mean;
* :func:`paired_table` - paired differences between arms on the same test images (per-image
  values averaged over the seeds first), with bootstrap intervals, Wilcoxon and Holm p-values;
* :func:`plot_paired` - those differences as a forest plot;
* :func:`agreement_table` - teacher agreement of the shipped encoder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

ARMS = ("segformer-scratch", "segformer-distilled", "unet-lite0")
KEYS = (("herlev3", "nucleus", "dice"), ("herlev3", "cytoplasm", "dice"),
        ("paper_cells", "healthy", "dice"), ("paper_cells", "unhealthy", "dice"))  # fmt: skip
PAIRS = (("distilled - scratch", "segformer-scratch", "segformer-distilled"),
         ("distilled - U-Net Lite0", "unet-lite0", "segformer-distilled"),
         ("scratch - U-Net Lite0", "unet-lite0", "segformer-scratch"))  # fmt: skip
_RUN = re.compile(r"^(?P<arm>.+)-f(?P<fraction>[0-9.]+)-s(?P<seed>\d+)$")


def load_runs(folder: str | Path) -> pd.DataFrame:
    """Every run's per-image table with ``arm``, ``fraction`` and ``seed`` columns added.

    ``folder`` holds ``<arm>-f<fraction>-s<seed>/[eval/]per_image.csv[.gz]`` (the evaluate
    command's output). Raises ``FileNotFoundError`` naming the folder when it holds no run.
    """
    frames = []
    for run in sorted(Path(folder).iterdir()):
        m = _RUN.match(run.name)
        files = [run / sub / name for sub in ("", "eval")
                 for name in ("per_image.csv.gz", "per_image.csv") if (run / sub / name).is_file()]  # fmt: skip
        if not m or not files:
            continue
        t = pd.read_csv(files[0])
        frames.append(t.assign(arm=m["arm"], fraction=float(m["fraction"]), seed=int(m["seed"])))
    if not frames:
        raise FileNotFoundError(
            f"no runs in {folder}: expected <arm>-f<fraction>-s<seed>/per_image.csv folders "
            "(scripts/distilled_vs_scratch.sh writes them)"
        )
    return pd.concat(frames, ignore_index=True)


def _select(runs: pd.DataFrame, key: tuple[str, str, str]) -> pd.DataFrame:
    scheme, cls, metric = key
    return runs[(runs.scheme == scheme) & (runs["class"] == cls) & (runs.metric == metric)]


def arm_table(runs: pd.DataFrame, keys=KEYS) -> pd.DataFrame:
    """Mean per-image Dice per arm, fraction and seed, and the mean over seeds.

    One row per (fraction, arm); columns ``<class>`` (seed mean) and ``<class> seeds`` (the
    per-seed means, e.g. ``0.931 / 0.925``), rounded to 3 digits.
    """
    rows = []
    for (frac, arm), t in runs.groupby(["fraction", "arm"], sort=False):
        row = {"data": f"{frac:.0%}", "arm": arm, "seeds": t.seed.nunique()}
        for key in keys:
            per_seed = _select(t, key).groupby("seed")["value"].mean()
            row[key[1]] = round(float(per_seed.mean()), 3) if len(per_seed) else np.nan
            row[f"{key[1]} seeds"] = " / ".join(f"{v:.3f}" for v in per_seed)
        rows.append(row)
    order = {a: i for i, a in enumerate(ARMS)}
    out = pd.DataFrame(rows)
    out["_o"] = out.arm.map(order)
    out["_f"] = -out["data"].str.rstrip("%").astype(float)
    return out.sort_values(["_f", "_o"]).drop(columns=["_o", "_f"]).reset_index(drop=True)


def paired_table(runs: pd.DataFrame, pairs=PAIRS, keys=KEYS, n_boot: int = 2000,
                 seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Paired differences ``B - A`` per data fraction (per-image values averaged over seeds).

    Columns of :func:`papseg_utils.results.paired_gains` plus ``fraction``; Holm's correction
    runs over all rows of one fraction.
    """
    from papseg_utils.results import paired_gains

    out = []
    for frac, t in runs.groupby("fraction"):
        mean = (t.groupby(["arm", "scheme", "class", "metric", "image"], as_index=False)["value"]
                .mean())  # fmt: skip
        tables = {arm: g for arm, g in mean.groupby("arm")}
        usable = [p for p in pairs if p[1] in tables and p[2] in tables]
        if usable:
            out.append(paired_gains(tables, usable, keys, n_boot=n_boot, seed=seed)
                       .assign(fraction=frac))  # fmt: skip
    if not out:
        return pd.DataFrame()
    out = pd.concat(out, ignore_index=True)
    return out.sort_values("fraction", ascending=False, kind="stable").reset_index(drop=True)


def plot_paired(paired: pd.DataFrame, title: str = "Paired differences in per-image Dice"):
    """Forest plot: one panel per data fraction, a row per comparison and class, 95 % CI, p_holm."""
    import matplotlib.pyplot as plt

    fractions = sorted(paired.fraction.unique(), reverse=True)
    n_rows = paired.groupby("fraction").size().max()
    size = (4.2 * len(fractions) + 2.4, 0.42 * n_rows + 1.4)
    fig, axes = plt.subplots(1, len(fractions), figsize=size, sharey=True, squeeze=False)
    for ax, frac in zip(axes[0], fractions, strict=True):
        t = paired[paired.fraction == frac].reset_index(drop=True)
        y = np.arange(len(t))[::-1]
        for yi, row in zip(y, t.itertuples(), strict=True):  # filled: the CI excludes 0
            excludes = row.low > 0 or row.high < 0
            ax.plot([row.low, row.high], [yi, yi], color="#333333", lw=1.4)
            ax.plot(row.mean_diff, yi, "o", ms=5, color="#333333",
                    markerfacecolor="#333333" if excludes else "white")  # fmt: skip
        ax.axvline(0, color="black", lw=0.8)
        lo, hi = min(float(t.low.min()), 0.0), max(float(t.high.max()), 0.0)
        pad = 0.08 * (hi - lo) + 1e-3
        ax.set_xlim(lo - pad, hi + pad)
        for yi, p in zip(y, t.p_holm, strict=True):
            ax.annotate(
                f"p={p:.2g}",
                (1.0, yi),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(y, [f"{c}: {k}" for c, k in zip(t.comparison, t["class"], strict=True)],
                      fontsize=9)  # fmt: skip
        ax.set_xlabel("mean difference in Dice (95 % CI)")
        ax.set_title(f"{frac:.0%} of the training images", fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def agreement_table(provenance: str | Path | dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agreement, predictions) tables from the shipped weights' provenance JSON.

    ``agreement``: top-1/top-5 agreement with the teacher on the held-out images, the
    distillation images and for a randomly initialised student. ``predictions``: teacher and
    student top-3 classes for each held-out image.
    """
    meta = provenance if isinstance(provenance, dict) else json.loads(Path(provenance).read_text())
    rep = meta["agreement"]
    rows = []
    for key, what in (("held_out", "held-out images (distilled student)"),
                      ("distill_images", "distillation images (distilled student)"),
                      ("random_init_held_out", "held-out images (random-init student)")):  # fmt: skip
        r = rep[key]
        rows.append({"views of": what, "images": r["images"], "views": r["views"],
                     "top-1 agreement": round(r["top1"], 3),
                     "top-5 agreement": round(r["top5"], 3)})  # fmt: skip
    preds = [{"image": name.split(":")[1], "shows": p["shows"],
              "teacher": ", ".join(f"{c} ({v:.2f})" for c, v in p["teacher"]),
              "student": ", ".join(f"{c} ({v:.2f})" for c, v in p["student"])}
             for name, p in rep["predictions"].items()]  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(preds)
