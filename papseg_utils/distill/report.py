"""Tables and figures of the distillation results (the results chapter and the closing numbers).

Reads what ``scripts/distilled_vs_scratch.sh`` and ``papseg distill`` write (committed under
``results/distilled-vs-scratch/`` and beside the shipped weights):

* :func:`load_runs` - the per-image tables of every ``<arm>-f<fraction>-s<seed>`` run;
* :func:`arm_table` - per arm and data fraction: the mean Dice of each seed and their mean;
* :func:`paired_table` - paired differences between arms on the test images both scored
  (per-image values averaged over the seeds first), with each arm's mean on those images,
  bootstrap intervals, Wilcoxon and Holm p-values
  (draw them with :func:`papseg_utils.results.plot_forest`, ``panels=("data", "class")``);
* :func:`agreement_table` - teacher agreement of the shipped encoder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

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
    command's output, :data:`~papseg_utils.metrics.catalog.SCORING_COLUMNS`). Raises
    ``FileNotFoundError`` naming the folder when it holds no run, ``ValueError`` naming the file
    when a table lacks a column.
    """
    from papseg_utils.book.profiles import project_file
    from papseg_utils.metrics.catalog import SCORING_COLUMNS, check_columns

    folder = project_file(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: no such folder; scripts/distilled_vs_scratch.sh writes the runs there"
        )
    frames = []
    for run in sorted(folder.iterdir()):
        m = _RUN.match(run.name)
        files = [run / sub / name for sub in ("", "eval")
                 for name in ("per_image.csv.gz", "per_image.csv") if (run / sub / name).is_file()]  # fmt: skip
        if not m or not files:
            continue
        t = check_columns(pd.read_csv(files[0]), SCORING_COLUMNS, str(files[0]))
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
    """Mean per-image Dice per arm and fraction: the mean over seeds, then each seed's mean.

    One row per (fraction, arm); one column per class, e.g. ``0.836 (0.836 / 0.835)``. Each
    seed's mean is over the images that run scored: an image whose class is in neither the
    truth nor the prediction has no value, so two arms may be averaged over different images
    (:func:`paired_table` compares them on the same ones).
    """
    rows = []
    for (frac, arm), t in runs.groupby(["fraction", "arm"], sort=False):
        row = {"data": f"{frac:.0%}", "arm": arm}
        for key in keys:
            per_seed = _select(t, key).groupby("seed")["value"].mean()
            seeds = " / ".join(f"{v:.3f}" for v in per_seed)
            row[key[1]] = f"{per_seed.mean():.3f} ({seeds})" if len(per_seed) else ""
        rows.append(row)
    order = {a: i for i, a in enumerate(ARMS)}
    out = pd.DataFrame(rows)
    out["_o"] = out.arm.map(order)
    out["_f"] = -out["data"].str.rstrip("%").astype(float)
    return out.sort_values(["_f", "_o"]).drop(columns=["_o", "_f"]).reset_index(drop=True)


def paired_table(runs: pd.DataFrame, pairs=PAIRS, keys=KEYS, n_boot: int = 2000,
                 seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Paired differences ``B - A`` per data fraction (per-image values averaged over seeds).

    Columns of :func:`papseg_utils.results.paired_gains` (``n`` images both arms scored,
    ``mean_a`` and ``mean_b`` on those images, ``mean_diff`` with ``low``, ``high``,
    ``median_diff``, ``rank_biserial``, ``p_value``, ``p_holm``) plus ``fraction`` and ``data``
    (e.g. ``"100 % data"``); Holm's correction runs over all rows of one fraction. A seed that
    rightly predicts none of a class the image lacks counts as perfect in the seed average, and
    an image is compared when at least one arm scored it
    (:func:`papseg_utils.metrics.catalog.average_runs`, ``metric_pairs``).
    """
    from papseg_utils.metrics.catalog import average_runs
    from papseg_utils.results import paired_gains

    out = []
    for frac, t in runs.groupby("fraction"):
        mean = average_runs(t, ["arm", "scheme", "class", "metric", "image"])
        tables = {arm: g for arm, g in mean.groupby("arm")}
        usable = [p for p in pairs if p[1] in tables and p[2] in tables]
        if usable:
            gains = paired_gains(tables, usable, keys, n_boot=n_boot, seed=seed)
            out.append(gains.assign(fraction=frac, data=f"{frac:.0%} data".replace("%", " %")))
    if not out:
        return pd.DataFrame()
    out = pd.concat(out, ignore_index=True)
    return out.sort_values("fraction", ascending=False, kind="stable").reset_index(drop=True)


def agreement_table(provenance: str | Path | dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agreement, predictions) tables from the shipped weights' provenance JSON.

    ``provenance`` is that JSON (its ``agreement``), or a distillation's ``agreement.json``
    itself. ``agreement``: top-1/top-5 agreement with the teacher on the held-out photographs,
    the distillation photographs (when the student saw any), unseen Herlev images (for a
    student distilled on cytology) and for a randomly initialised student. ``predictions``:
    teacher and student top-2 classes for each held-out photograph.
    """
    meta = provenance if isinstance(provenance, dict) else json.loads(Path(provenance).read_text())
    rep = meta.get("agreement", meta)
    rows = []
    for key, what in (("held_out", "held-out photographs (distilled student)"),
                      ("distill_images", "distillation photographs (distilled student)"),
                      ("held_out_cytology", "unseen Herlev images (distilled student)"),
                      ("random_init_held_out", "held-out photographs (random-init student)"),
                      ("random_init_held_out_cytology", "unseen Herlev images (random-init student)"),
                      ):  # fmt: skip
        r = rep.get(key)
        if not r:
            continue
        rows.append({"views of": what, "images": r["images"], "views": r["views"],
                     "top-1 agreement": round(r["top1"], 3),
                     "top-5 agreement": round(r["top5"], 3)})  # fmt: skip
    preds = [{"image (shows)": p["shows"],
              "teacher, top 2": ", ".join(f"{c} ({v:.2f})" for c, v in p["teacher"][:2]),
              "student, top 2": ", ".join(f"{c} ({v:.2f})" for c, v in p["student"][:2])}
             for p in rep["predictions"].values()]  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(preds)


def plot_views(views, ncols: int = 4, title: str = "Augmented views: all the student ever sees"):
    """Grid of distillation views ``(N, 3, H, W)`` float in [0, 1]; returns the figure."""
    import matplotlib.pyplot as plt

    n = len(views)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.7 * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, v in zip(axes.flat, views, strict=False):
        ax.imshow(v.permute(1, 2, 0).clamp(0, 1).numpy())
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
