"""Reading and comparing the tables a study writes (see :mod:`papseg_utils.study`).

A study folder holds ``runs.csv`` (one row per run), ``results.csv`` (one row
per run x class x metric x aggregation, with bootstrap 95 % intervals over
images) and ``per_image.csv.gz`` (one row per run x image x class x metric).
The functions here turn them into the comparisons of the results chapter:
a leaderboard, the data-efficiency curve of pre-trained vs scratch, the
architecture families, augmentation, region vs boundary quality, and paired
tests on the same test images. Plots take ``ax=None`` and return the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .labels import condition_colours, get_scheme

#: Metrics where larger is better (the others are distances: smaller is better).
HIGHER_IS_BETTER = {"dice", "iou", "precision", "recall", "nsd", "bf1"}
#: Display names of the metrics in figures.
METRIC_NAMES = {"dice": "Dice", "iou": "IoU", "hd95": "HD95", "hd": "HD", "assd": "ASSD",
                "nsd": "surface Dice (NSD)", "bf1": "boundary F1", "precision": "precision",
                "recall": "recall"}  # fmt: skip


def _name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


FAMILY = {
    "unet": "cnn",
    "unetplusplus": "cnn",
    "attention_unet": "cnn",
    "deeplabv3plus": "cnn",
    "fpn": "cnn",
    "segformer": "transformer",
    "pvt_fpn": "transformer",
    "transunet": "hybrid",
    "unetr": "hybrid",
}


@dataclass
class StudyTables:
    """The three tables of a study folder."""

    runs: pd.DataFrame
    results: pd.DataFrame
    per_image: pd.DataFrame
    source: Path


def load_study(folder: str | Path) -> StudyTables:
    """Read ``runs.csv``, ``results.csv`` and ``per_image.csv.gz`` from ``folder``.

    Raises ``FileNotFoundError`` naming the missing file and how to make it.
    """
    folder = Path(folder)
    missing = [
        n for n in ("runs.csv", "results.csv", "per_image.csv.gz") if not (folder / n).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {', '.join(missing)} not found. Run a study first, e.g. "
            "`python -m papseg_utils study studies/herlev-cpu.yaml`, or point `results_dir` "
            "at a folder holding its tables."
        )
    results = pd.read_csv(folder / "results.csv")
    if "architecture" in results:
        results["family"] = results["architecture"].map(FAMILY).fillna("other")
    return StudyTables(
        runs=pd.read_csv(folder / "runs.csv"),
        results=results,
        per_image=pd.read_csv(folder / "per_image.csv.gz"),
        source=folder,
    )


def select(results: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows of ``results`` whose columns equal the given values (lists mean "any of")."""
    mask = pd.Series(True, index=results.index)
    for key, value in where.items():
        values = value if isinstance(value, list | tuple | set) else [value]
        mask &= results[key].isin(values)
    return results[mask]


def label(row: pd.Series | dict, extra: Sequence[str] = ()) -> str:
    """Short human-readable name of a run: architecture (encoder, weights), plus ``extra`` keys."""
    weights = "ImageNet" if row.get("pretrained") == "imagenet" else "scratch"
    if row.get("pretrained") not in ("imagenet", "none"):
        weights = str(row.get("pretrained"))
    encoder = str(row.get("encoder", "")).replace("tf_efficientnet_", "")
    parts = [f"{row.get('architecture')} ({encoder}, {weights})"]
    for key in extra:
        value = row.get(key)
        if key == "data_fraction":
            parts.append(f"{100 * float(value):g} % data")
        elif key == "seed":
            parts.append(f"seed {value}")
        elif key == "augmentation":
            parts.append(f"aug {value}")
        else:
            parts.append(str(value))
    return ", ".join(parts)


def varying(
    results: pd.DataFrame, keys: Sequence[str] = ("scheme", "augmentation", "data_fraction", "seed")
) -> list[str]:
    """The keys among ``keys`` that take more than one value in ``results``."""
    return [k for k in keys if k in results and results[k].nunique() > 1]


def leaderboard(
    results: pd.DataFrame,
    metrics: Sequence[str] = ("dice", "iou", "hd95"),
    spacing_um: float | None = None,
    **where,
) -> pd.DataFrame:
    """One row per run, one column per class x metric: ``value [low, high]`` strings.

    Uses the per-image means (``aggregation == "image-mean"``) with their
    bootstrap 95 % intervals. Distances stored in um are also given in px
    when ``spacing_um`` is set. Rows are sorted by the mean foreground Dice.
    """
    sub = select(results, aggregation="image-mean", **where)
    sub = sub[sub["metric"].isin(metrics)]
    if sub.empty:
        return pd.DataFrame()
    rows = []
    for run_id, grp in sub.groupby("run_id", sort=False):
        first = grp.iloc[0]
        row = {"run": label(first), "family": FAMILY.get(first["architecture"], "other")}
        for key in ("scheme", "augmentation", "data_fraction", "seed"):
            if key in grp:
                row[key] = first[key]
        for rec in grp.to_dict("records"):
            key = f"{rec['class']} {rec['metric']}"
            row[key] = _fmt(rec["value"], rec["ci_low"], rec["ci_high"], rec["metric"])
            if rec["unit"] == "um" and spacing_um:
                lo, mid, hi = (rec[k] / spacing_um for k in ("ci_low", "value", "ci_high"))
                row[f"{key} (px)"] = _fmt(mid, lo, hi, "px")
        dice = grp[grp.metric == "dice"]["value"]
        row["_sort"] = dice.mean() if len(dice) else np.nan
        row["run_id"] = run_id
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("_sort", ascending=False).drop(columns="_sort")
    return table.set_index("run").reset_index()


def _fmt(value: float, low: float, high: float, metric: str) -> str:
    digits = 3 if metric in HIGHER_IS_BETTER else 2
    if np.isnan(low) or np.isnan(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def compact_board(
    results: pd.DataFrame,
    metrics: Sequence[str] = ("dice",),
    digits: int = 3,
    **where,
) -> pd.DataFrame:
    """Per-image means, one row per run, one column per (metric, class): a table that fits a page.

    The row label is :func:`label` plus only the keys that vary among the runs
    (:func:`varying`), so constant settings are not repeated on every row.
    Values are rounded to ``digits``; rows are sorted by the mean foreground
    Dice (the order of :func:`leaderboard`). Intervals are left to the figures
    (:func:`plot_leaderboard`) and the paired tests.
    """
    sub = select(results, aggregation="image-mean", **where)
    sub = sub[sub["metric"].isin(metrics)]
    if sub.empty:
        return pd.DataFrame()
    runs = sub.drop_duplicates("run_id").set_index("run_id")
    extra = varying(runs.reset_index())
    names = {r: label(row, extra) for r, row in runs.iterrows()}
    table = sub.pivot_table(index="run_id", columns=["metric", "class"], values="value")
    table = table.reindex(columns=[m for m in metrics if m in table.columns.levels[0]], level=0)
    dice = select(results, aggregation="image-mean", metric="dice", **where)
    order = dice.groupby("run_id")["value"].mean().reindex(table.index)
    table = table.loc[order.sort_values(ascending=False).index]
    table.index = pd.Index([names[r] for r in table.index], name="run")
    table.columns.names = [None, None]
    return table.round(digits)


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of a study, one short row each: what varies, the status if any failed, minutes.

    Columns: ``run`` (:func:`label`), then those of ``scheme``,
    ``augmentation``, ``data %``, ``epochs`` and ``seed`` that take more than
    one value, ``status`` and ``error`` only when some run is not done, and
    ``minutes`` of wall time.
    """
    t = runs.rename(columns=lambda c: c.removeprefix("param."))
    out = pd.DataFrame({"run": [label(r) for r in t.to_dict("records")]}, index=t.index)
    wanted = {"scheme": "scheme", "augmentation": "augmentation", "data_fraction": "data %",
              "num_epochs": "epochs", "seed": "seed"}  # fmt: skip
    for key, name in wanted.items():
        if key in t and t[key].nunique() > 1:
            out[name] = (100 * t[key]).map("{:g}".format) if key == "data_fraction" else t[key]
    if "status" in t and (t["status"] != "done").any():
        out["status"], out["error"] = t["status"], t.get("error", "")
    out["minutes"] = (t["wall_s"] / 60).round(1)
    return out.reset_index(drop=True)


def seed_summary(results: pd.DataFrame, by: Sequence[str], metric: str, cls: str) -> pd.DataFrame:
    """Mean over seeds of the per-run image-means, with the min and max over seeds.

    Returns columns ``*by, value, seed_min, seed_max, n_seeds, ci_low, ci_high``
    where the interval is the mean of the runs' bootstrap bounds (a rough band;
    the paired tests are the real comparison).
    """
    sub = select(results, aggregation="image-mean", metric=metric)
    sub = sub[sub["class"] == cls]
    out = (
        sub.groupby(list(by), sort=True)
        .agg(
            value=("value", "mean"),
            seed_min=("value", "min"),
            seed_max=("value", "max"),
            n_seeds=("value", "size"),
            ci_low=("ci_low", "mean"),
            ci_high=("ci_high", "mean"),
        )
        .reset_index()
    )
    return out


def per_image_values(
    per_image: pd.DataFrame, run_ids: Sequence[str], metric: str, cls: str
) -> pd.Series:
    """Per-image values of ``metric`` for ``cls``, averaged over ``run_ids`` (e.g. seeds).

    Index: image name. Images where a run has NaN (both masks empty) are dropped.
    """
    sub = per_image[
        per_image["run_id"].isin(run_ids)
        & (per_image["metric"] == metric)
        & (per_image["class"] == cls)
    ]
    wide = sub.pivot_table(index="image", columns="run_id", values="value", aggfunc="first")
    return wide.dropna().mean(axis=1)


def paired_comparisons(
    tables: StudyTables,
    pairs: Sequence[tuple[str, dict, dict]],
    metrics: Sequence[str] = ("dice",),
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Wilcoxon signed-rank tests of B vs A on the same test images, Holm-corrected.

    ``pairs`` holds ``(name, where_a, where_b)``: each ``where`` selects runs
    (e.g. ``{"pretrained": "none", "data_fraction": 0.1}``); several runs (seeds)
    are averaged per image first. Returns one row per pair x class x metric with
    the median difference (B - A) and its 95 % CI, the rank-biserial effect size,
    n images, p and the Holm-adjusted p over all rows.
    """
    from .metrics.stats import holm, paired_test

    rows = []
    for name, where_a, where_b in pairs:
        runs_a = select(tables.results, **where_a)["run_id"].unique()
        runs_b = select(tables.results, **where_b)["run_id"].unique()
        if not len(runs_a) or not len(runs_b):
            raise ValueError(
                f"comparison {name!r}: no run matches {where_a if not len(runs_a) else where_b}"
            )
        scheme_classes = select(tables.results, run_id=list(runs_a))["class"].unique()
        for cls in classes or scheme_classes:
            for metric in metrics:
                a = per_image_values(tables.per_image, runs_a, metric, cls)
                b = per_image_values(tables.per_image, runs_b, metric, cls)
                common = a.index.intersection(b.index)
                res = paired_test(b[common].to_numpy(), a[common].to_numpy())  # B - A
                rows.append(
                    {
                        "comparison": name,
                        "class": cls,
                        "metric": metric,
                        "n_images": res.n,
                        "mean_a": float(a[common].mean()),
                        "mean_b": float(b[common].mean()),
                        "median_diff": res.median_diff,
                        "diff_ci_low": res.ci_low,
                        "diff_ci_high": res.ci_high,
                        "rank_biserial": res.rank_biserial,
                        "p_value": res.p_value,
                        "runs_a": len(runs_a),
                        "runs_b": len(runs_b),
                    }
                )
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = holm(out["p_value"].to_numpy())
    return out


def target_check(results: pd.DataFrame, aggregation: str = "image-mean", **where) -> pd.DataFrame:
    """The project's Herlev targets against one or more runs (herlev3 scheme).

    Targets: nucleus Dice >= 0.95, cytoplasm Dice >= 0.90, mean IoU over
    cytoplasm and nucleus >= 0.85, under ``aggregation``: ``"image-mean"``
    (mean over test images) or ``"micro"`` (pixel counts pooled over images).
    """
    sub = select(results, aggregation=aggregation, scheme="herlev3", **where)
    rows = []
    for run_id, grp in sub.groupby("run_id", sort=False):
        val = grp.set_index(["class", "metric"])["value"]
        miou = np.mean([val.get(("cytoplasm", "iou"), np.nan), val.get(("nucleus", "iou"), np.nan)])
        first = grp.iloc[0]
        for what, got, target in (
            ("nucleus Dice", val.get(("nucleus", "dice"), np.nan), 0.95),
            ("cytoplasm Dice", val.get(("cytoplasm", "dice"), np.nan), 0.90),
            ("mean IoU (cytoplasm, nucleus)", miou, 0.85),
        ):
            rows.append(
                {
                    "run": label(first),
                    "run_id": run_id,
                    "aggregation": aggregation,
                    "target": what,
                    "value": got,
                    "goal": target,
                    "met": bool(got >= target),
                }
            )
    return pd.DataFrame(rows)


def plot_data_efficiency(
    results: pd.DataFrame,
    metric: str = "dice",
    classes: Sequence[str] = ("nucleus", "cytoplasm"),
    ax=None,
    **where,
):
    """``metric`` vs training-data fraction, pre-trained vs scratch, one panel per class.

    Points are runs (seeds); the line joins the seed means; the band is the mean
    bootstrap 95 % interval over test images.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(1, len(classes), figsize=(5.2 * len(classes), 3.8), squeeze=False)
        axes = axes[0]
    else:
        axes, fig = np.atleast_1d(ax), np.atleast_1d(ax)[0].figure
    sub = select(results, **where)
    colours = condition_colours(["imagenet", "none"])
    styles = {
        "imagenet": (colours["imagenet"], "ImageNet-pretrained"),
        "none": (colours["none"], "from scratch"),
    }
    for axis, cls in zip(axes, classes, strict=True):
        for weights, (colour, name) in styles.items():
            s = seed_summary(select(sub, pretrained=weights), ["data_fraction"], metric, cls)
            if s.empty:
                continue
            pct = 100 * s["data_fraction"]
            axis.plot(pct, s["value"], "-o", color=colour, label=name)
            axis.fill_between(pct, s["ci_low"], s["ci_high"], color=colour, alpha=0.15, lw=0)
            runs = select(sub, pretrained=weights, metric=metric, aggregation="image-mean")
            runs = runs[runs["class"] == cls]
            axis.scatter(100 * runs["data_fraction"], runs["value"], color=colour, s=12, alpha=0.6)
        axis.set_xscale("log")
        axis.set_xticks([10, 25, 50, 100], ["10", "25", "50", "100"])
        axis.set_xlabel("training images used (%)")
        unit = "" if metric in HIGHER_IS_BETTER else " (µm)"
        axis.set_ylabel(f"{_name(metric)}{unit}, mean over test images")
        axis.set_title(f"{cls}")
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right" if metric in HIGHER_IS_BETTER else "upper right", fontsize=8)
    fig.suptitle(
        f"Data efficiency: {_name(metric)} vs training-set size (band: 95 % CI over test images)"
    )
    fig.tight_layout()
    return fig


def plot_leaderboard(
    results: pd.DataFrame, metric: str = "dice", scheme: str = "herlev3", ax=None, **where
):
    """Per-class ``metric`` with 95 % intervals, one row per run, coloured by class."""
    import matplotlib.pyplot as plt

    sub = select(results, aggregation="image-mean", metric=metric, scheme=scheme, **where)
    labels = get_scheme(scheme)
    runs = sub.drop_duplicates("run_id").copy()
    extra = varying(runs)
    runs["name"] = runs.apply(lambda r: label(r, extra), axis=1)
    order = (
        sub.groupby("run_id")["value"]
        .mean()
        .sort_values(ascending=metric not in HIGHER_IS_BETTER)
        .index
    )
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.6))
    else:
        fig = ax.figure
    classes = [c for c in labels.foreground if c in set(sub["class"])]
    height = 0.8 / max(len(classes), 1)
    for k, cls in enumerate(classes):
        c = sub[sub["class"] == cls].set_index("run_id").reindex(order)
        y = np.arange(len(order)) + k * height
        ax.errorbar(
            c["value"], y, xerr=[c["value"] - c["ci_low"], c["ci_high"] - c["value"]], fmt="o",
            color=labels.colour(labels.ids[cls], 1.0), label=cls, capsize=2,
        )  # fmt: skip
    names = runs.set_index("run_id").reindex(order)["name"]
    ax.set_yticks(np.arange(len(order)) + height * (len(classes) - 1) / 2, names)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"{_name(metric)}{'' if metric in HIGHER_IS_BETTER else ' (µm)'} (95 % CI over test images)"
    )
    ax.set_title(f"{scheme}: {_name(metric)} per class")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_region_vs_boundary(
    results: pd.DataFrame,
    region: str = "dice",
    boundary: str = "hd95",
    scheme: str = "herlev3",
    ax=None,
    **where,
):
    """Each run as a point: region quality (x) against boundary quality (y), per class."""
    import matplotlib.pyplot as plt

    sub = select(results, aggregation="image-mean", scheme=scheme, **where)
    wide = sub.pivot_table(
        index=["run_id", "class"], columns="metric", values="value"
    ).reset_index()
    labels = get_scheme(scheme)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.2))
    else:
        fig = ax.figure
    meta = sub.drop_duplicates("run_id").set_index("run_id")
    markers = {"cnn": "o", "transformer": "s", "hybrid": "^"}
    for cls in labels.foreground:
        c = wide[wide["class"] == cls]
        for rec in c.itertuples():
            fam = FAMILY.get(meta.loc[rec.run_id, "architecture"], "cnn")
            ax.scatter(
                getattr(rec, region), getattr(rec, boundary), color=labels.colour(labels.ids[cls], 1.0),
                marker=markers.get(fam, "o"), s=36, alpha=0.8, edgecolor="k", linewidth=0.3,
            )  # fmt: skip
    for cls in labels.foreground:
        ax.scatter([], [], color=labels.colour(labels.ids[cls], 1.0), label=cls)
    present = {FAMILY.get(a, "cnn") for a in meta["architecture"]}
    for fam, m in markers.items():
        if fam in present:
            ax.scatter([], [], color="gray", marker=m, label=fam)
    unit = "" if boundary in HIGHER_IS_BETTER else " (µm)"
    ax.set_xlabel(f"{_name(region)} (region)")
    ax.set_ylabel(f"{_name(boundary)}{unit} (boundary)")
    ax.set_title("Region vs boundary quality, one point per run and class")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def metric_correlation(
    results: pd.DataFrame, a: str = "dice", b: str = "hd95", **where
) -> pd.DataFrame:
    """Pearson correlation of two metrics over runs, per class (per-image means).

    One point per run and class, as in :func:`plot_region_vs_boundary`.
    Returns columns ``class``, ``r`` and ``runs``.
    """
    sub = select(results, aggregation="image-mean", metric=[a, b], **where)
    wide = sub.pivot_table(index=["class", "run_id"], columns="metric", values="value")
    rows = [
        {"class": cls, "r": float(g[a].corr(g[b])), "runs": len(g)}
        for cls, g in wide.groupby(level="class")
    ]
    return pd.DataFrame(rows, columns=["class", "r", "runs"])


def best_run(results: pd.DataFrame, metric: str = "dice", **where) -> pd.Series:
    """The run with the highest mean foreground ``metric`` (per-image means) among ``where``."""
    sub = select(results, aggregation="image-mean", metric=metric, **where)
    if sub.empty:
        raise ValueError(f"no run matches {where}")
    scores = sub.groupby("run_id")["value"].mean()
    best = scores.idxmax() if metric in HIGHER_IS_BETTER else scores.idxmin()
    return sub[sub["run_id"] == best].iloc[0]


def plot_side_by_side_predictions(
    study_dir: str | Path,
    run_ids: Sequence[str],
    titles: Sequence[str],
    samples: Sequence,
    per_image: pd.DataFrame | None = None,
    device: str = "auto",
):
    """Predictions of several runs on the same cells: one row per cell, one column per run.

    Needs the study's checkpoints (``<study_dir>/runs/<run_id>/train/best``) and the
    images (``samples``: :class:`~papseg_utils.data.base.Sample` list). Each panel
    shows the true (solid) and predicted (dashed) contours, titled with that run's
    per-image Dice of the smallest foreground class when ``per_image`` is given.
    """
    import matplotlib.pyplot as plt

    from .inference import predict_with_config
    from .labels import LabelScheme
    from .train.checkpoint import load_model
    from .viz.boundaries import plot_contour_comparison

    models = []
    for run_id in run_ids:
        ckpt = Path(study_dir) / "runs" / run_id / "train" / "best"
        if not ckpt.is_dir():
            raise FileNotFoundError(
                f"{ckpt}: checkpoint not found; rerun the study (checkpoints are not committed)"
            )
        models.append(load_model(ckpt, device=device))
    scheme = LabelScheme.from_dict(models[0][1]["scheme"])
    fig, axes = plt.subplots(
        len(samples), len(run_ids), figsize=(3.6 * len(run_ids), 3.4 * len(samples)), squeeze=False
    )
    for i, sample in enumerate(samples):
        for j, (model, config) in enumerate(models):
            pred = predict_with_config(model, sample.image, config, device=device).argmax(0)
            ax = axes[i, j]
            plot_contour_comparison(sample.image, sample.mask, pred, scheme, ax=ax, linewidth=1.2)
            title = titles[j] if i == 0 else ""
            if per_image is not None:
                rows = per_image[
                    (per_image["run_id"] == run_ids[j])
                    & (per_image["image"] == sample.name)
                    & (per_image["metric"] == "dice")
                ]
                scores = ", ".join(
                    f"{r['class']} {r['value']:.2f}" for r in rows.to_dict("records")
                )
                title = f"{title}\n{scores}" if title else scores
            ax.set_title(title, fontsize=8)
            if ax.get_legend() is not None and (i, j) != (0, len(run_ids) - 1):
                ax.get_legend().remove()
            ax.set_xlabel("")
            ax.set_ylabel(sample.name.split("/")[0] if j == 0 else "", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(
        "Same test cells, different models: truth solid, prediction dashed (Dice per class)"
    )
    fig.tight_layout()
    return fig


def format_tests(tests: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Readable copy of a :func:`paired_comparisons` table: numbers rounded, p-values as ``%.2g``."""
    out = tests.drop(columns=[c for c in ("runs_a", "runs_b") if c in tests])
    for col in out.columns:
        if col in ("p_value", "p_holm"):
            out[col] = out[col].map(lambda p: f"{p:.2g}")
        elif out[col].dtype.kind == "f":
            out[col] = out[col].round(digits)
    return out


def plot_forest(
    tests: pd.DataFrame,
    diff: str = "median_diff",
    low: str = "diff_ci_low",
    high: str = "diff_ci_high",
    p: str = "p_holm",
    label_col: str = "comparison",
    panels: Sequence[str] = ("class", "metric"),
    ncols: int = 2,
    title: str | None = None,
    distance_unit: str = "µm",
):
    """Forest plot of paired tests: one panel per ``panels`` value, one row per comparison.

    Each row is the difference B - A (``diff``) with its 95 % interval
    (``low``, ``high``) and, at the right of the panel, the p-value ``p``.
    Filled markers: ``p < 0.05``. The dotted line is "no difference"; the
    panel title says which side favours B (above 0 for Dice-like metrics,
    below 0 for distances, in ``distance_unit``: µm in the study tables, px
    in the ``evaluate`` command's without a pixel size). Takes the tables of
    :func:`paired_comparisons` and :func:`paired_gains`; returns the figure.
    """
    import matplotlib.pyplot as plt

    keys = list(tests[list(panels)].drop_duplicates().itertuples(index=False, name=None))
    rows = list(dict.fromkeys(tests[label_col]))
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(7.2, nrows * (0.32 * len(rows) + 0.9) + 0.5),
        sharey=True, squeeze=False,
    )  # fmt: skip
    y = {name: i for i, name in enumerate(rows)}
    for ax, key in zip(axes.flat, keys, strict=False):
        t = tests[(tests[list(panels)] == pd.Series(key, index=list(panels))).all(axis=1)]
        metric = t["metric"].iloc[0] if "metric" in t else ""
        for rec in t.to_dict("records"):
            sig = rec[p] < 0.05
            yy = y[rec[label_col]]
            ax.errorbar(rec[diff], yy, xerr=[[rec[diff] - rec[low]], [rec[high] - rec[diff]]],
                        fmt="o", color="#0072B2", mfc="#0072B2" if sig else "white", capsize=2)  # fmt: skip
            ax.text(0.99, yy, f"p {rec[p]:.2g}", transform=ax.get_yaxis_transform(),
                    ha="right", va="center", fontsize=7)  # fmt: skip
        lo, hi = min(t[low].min(), 0.0), max(t[high].max(), 0.0)
        span = (hi - lo) or 1.0
        ax.set_xlim(lo - 0.05 * span, hi + 0.6 * span)  # room for the p-values
        ax.axvline(0, color="0.4", ls=":", lw=1)
        side = "> 0" if metric in HIGHER_IS_BETTER else "< 0"
        unit = "" if metric in HIGHER_IS_BETTER or not metric else f" ({distance_unit})"
        name = " ".join(str(k) for k in key if k != metric)
        ax.set_title(f"{name} {_name(metric)}{unit}: B better {side}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    stat = "median" if "median" in diff else "mean"
    for ax in axes[-1]:
        ax.set_xlabel(f"{stat} difference B - A", fontsize=8)
    axes[0, 0].set_yticks(range(len(rows)), rows)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title or f"B - A with 95 % interval; filled: {p} < 0.05", fontsize=10)
    fig.tight_layout()
    return fig


def scoring_means(
    summaries: dict[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str, str]] = (
        ("herlev3", "nucleus", "dice", "mean"),
        ("herlev3", "cytoplasm", "dice", "mean"),
        ("herlev3", "macro", "iou", "mean"),
        ("herlev3", "nucleus", "hd95", "median"),
        ("paper_cells", "healthy", "dice", "mean"),
        ("paper_cells", "unhealthy", "dice", "mean"),
    ),  # fmt: skip
    digits: int = 3,
) -> pd.DataFrame:
    """Scorings side by side as numbers: one column per scoring, one row per target.

    ``summaries`` maps a column name to an evaluate ``summary.csv``; ``rows``
    are ``(taxonomy, class, metric, statistic)``. NaN where a scoring lacks
    the row (e.g. no image head: no healthy/unhealthy cells). Intervals are
    left out to keep the table narrow; :func:`scoring_table` has them.
    """
    index = [f"{cls} {_name(metric)} ({stat})" for _, cls, metric, stat in rows]
    out = {}
    for name, summ in summaries.items():
        s = summ.set_index(["scheme", "class", "metric"])
        out[name] = [
            float(s.loc[(t, c, m), stat]) if (t, c, m) in s.index else np.nan
            for t, c, m, stat in rows
        ]
    return pd.DataFrame(out, index=pd.Index(index, name="target")).round(digits)


# --------------------------------------------------------------------------- evaluate folders

#: The Herlev recipe's targets (cross-validated, per-image): (taxonomy, class, metric, statistic, goal).
#: ``macro`` is the mean over the foreground classes of each image; HD95 is in px.
CV_TARGETS: tuple[tuple[str, str, str, str, float], ...] = (
    ("herlev3", "nucleus", "dice", "mean", 0.955),
    ("herlev3", "cytoplasm", "dice", "mean", 0.88),
    ("herlev3", "macro", "iou", "mean", 0.85),
    ("herlev3", "nucleus", "hd95", "median", 2.0),
    ("paper_cells", "healthy", "dice", "mean", 0.90),
    ("paper_cells", "unhealthy", "dice", "mean", 0.90),
)


@dataclass
class Scoring:
    """The files the ``evaluate`` command writes (see :mod:`papseg_utils.scoring`)."""

    per_image: pd.DataFrame
    summary: pd.DataFrame
    image_labels: pd.DataFrame | None
    record: dict
    source: Path


def load_scoring(folder: str | Path) -> Scoring:
    """Read ``per_image.csv`` (or ``.csv.gz``), ``summary.csv``, ``image_labels.csv`` and ``scoring.json``."""
    import json

    folder = Path(folder)
    per_image = next(
        (folder / n for n in ("per_image.csv.gz", "per_image.csv") if (folder / n).is_file()), None
    )
    if per_image is None or not (folder / "summary.csv").is_file():
        raise FileNotFoundError(
            f"{folder}: no per_image.csv(.gz) and summary.csv; write them with "
            "`python -m papseg_utils evaluate ... --out {folder}`"
        )
    labels = folder / "image_labels.csv"
    record = folder / "scoring.json"
    return Scoring(
        pd.read_csv(per_image),
        pd.read_csv(folder / "summary.csv"),
        pd.read_csv(labels) if labels.is_file() else None,
        json.loads(record.read_text()) if record.is_file() else {},
        folder,
    )


def cv_targets(summary: pd.DataFrame, targets=CV_TARGETS) -> pd.DataFrame:
    """Each target with the measured value, its bootstrap 95 % interval (means only), goal and gap."""
    rows = []
    s = summary.set_index(["scheme", "class", "metric"])
    for scheme, cls, metric, stat, goal in targets:
        key = (scheme, cls, metric)
        if key not in s.index:
            rows.append({"taxonomy": scheme, "target": f"{cls} {_name(metric)} ({stat})", "value": np.nan,
                         "low": np.nan, "high": np.nan, "goal": goal, "met": False, "gap": np.nan})  # fmt: skip
            continue
        r = s.loc[key]
        value = float(r[stat])
        low, high = (float(r["low"]), float(r["high"])) if stat == "mean" else (np.nan, np.nan)
        higher = metric in HIGHER_IS_BETTER
        met = value >= goal if higher else value <= goal
        rows.append({"taxonomy": scheme, "target": f"{cls} {_name(metric)} ({stat})", "value": value,
                     "low": low, "high": high, "goal": goal, "met": bool(met),
                     "gap": value - goal if higher else goal - value})  # fmt: skip
    return pd.DataFrame(rows)


def scoring_table(
    summaries: dict[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str]] = (
        ("herlev3", "nucleus", "dice"),
        ("herlev3", "cytoplasm", "dice"),
        ("herlev3", "macro", "iou"),
        ("herlev3", "nucleus", "hd95"),
        ("paper_cells", "healthy", "dice"),
        ("paper_cells", "unhealthy", "dice"),
    ),  # fmt: skip
) -> pd.DataFrame:
    """One column per scoring (``{label: summary}``), one row per (taxonomy, class, metric):
    ``mean [low, high]`` per image; HD95 rows add the median."""
    out = {}
    for name, summ in summaries.items():
        s = summ.set_index(["scheme", "class", "metric"])
        col = []
        for key in rows:
            if key not in s.index:
                col.append("")
                continue
            r = s.loc[key]
            text = f"{r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
            if key[2] == "hd95":
                text += f"; median {r['median']:.2f}"
            col.append(text)
        out[name] = col
    index = pd.MultiIndex.from_tuples(
        [(t, c, _name(m) + (" (px)" if m == "hd95" else "")) for t, c, m in rows],
        names=["taxonomy", "class", "metric"],
    )
    return pd.DataFrame(out, index=index)


def paired_gains(
    tables: dict[str, pd.DataFrame],
    pairs: Sequence[tuple[str, str, str]],
    keys: Sequence[tuple[str, str, str]] = (
        ("herlev3", "nucleus", "dice"),
        ("herlev3", "cytoplasm", "dice"),
        ("herlev3", "nucleus", "hd95"),
        ("paper_cells", "healthy", "dice"),
        ("paper_cells", "unhealthy", "dice"),
    ),  # fmt: skip
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired gains ``B - A`` on the images both scored, for each ``(name, A, B)`` of ``pairs``.

    ``tables`` maps a label to a per-image table of the evaluate command.
    Columns: the mean difference with its bootstrap 95 % interval over images,
    the median difference, the Wilcoxon signed-rank p-value and its Holm
    correction over all rows. A pair whose tables lack a key is skipped.
    """
    from .metrics.stats import holm, paired_test

    rows = []
    rng = np.random.default_rng(seed)
    for name, a, b in pairs:
        for scheme, cls, metric in keys:
            vals = []
            for lab in (a, b):
                t = tables[lab]
                sel = t[(t.scheme == scheme) & (t["class"] == cls) & (t.metric == metric)]
                vals.append(sel.set_index("image")["value"])
            joined = pd.concat(vals, axis=1, keys=["a", "b"], join="inner").dropna()
            if joined.empty:
                continue
            d = (joined["b"] - joined["a"]).to_numpy()
            boots = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
            lo, hi = np.quantile(boots, [0.025, 0.975])
            test = paired_test(
                joined["a"].to_numpy(), joined["b"].to_numpy(), n_boot=200, seed=seed
            )
            rows.append({"comparison": name, "taxonomy": scheme, "class": cls, "metric": metric,
                         "n": int(d.size), "mean_a": float(joined["a"].mean()),
                         "mean_b": float(joined["b"].mean()), "mean_diff": float(d.mean()),
                         "low": float(lo), "high": float(hi), "median_diff": float(np.median(d)),
                         "p_value": test.p_value})  # fmt: skip
    columns = ["comparison", "taxonomy", "class", "metric", "n", "mean_a", "mean_b", "mean_diff",
               "low", "high", "median_diff", "p_value"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    out["p_holm"] = holm(out["p_value"].fillna(1.0).to_numpy()) if len(out) else []
    return out


def by_group(
    per_image: pd.DataFrame, scheme: str = "herlev3", metric: str = "dice"
) -> pd.DataFrame:
    """Per-image mean of ``metric`` per diagnostic class (the folder part of the image name) and class."""
    t = per_image[(per_image.scheme == scheme) & (per_image.metric == metric)]
    t = t.assign(group=t["image"].str.split("/").str[0])
    table = t.pivot_table(index="group", columns="class", values="value", aggfunc="mean")
    table.insert(0, "images", t.groupby("group")["image"].nunique())
    return table
