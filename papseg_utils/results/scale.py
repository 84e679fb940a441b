"""Where a recipe wins or loses by the scale of the image: letterbox factor bins, diagnosis
groups, and paired per-image differences between two recipes scored on the same images.

The letterbox recipe scales an image of long side ``L`` px by ``224 / L``
(:func:`letterbox_factor`); :data:`SCALE_BINS` groups the images by that factor, the groups
that the scale-true recipe should lift (a factor far from 1 means the cells were shrunk or
blown up). Inputs are the per-image tables of the ``evaluate`` command (``per_image.csv``:
``image``, ``class``, ``metric``, ``value``, ``scheme``...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from papseg_utils.metrics.catalog import metric_pairs, metric_record, metric_values

from .scorings import GAIN_KEYS

#: (label, lower, upper]: letterbox factor bins, as in the scale issue's table
SCALE_BINS: tuple[tuple[str, float, float], ...] = (
    ("<= 0.5", 0.0, 0.5),
    ("0.5-0.8", 0.5, 0.8),
    ("0.8-1.25", 0.8, 1.25),
    ("1.25-2", 1.25, 2.0),
    ("> 2", 2.0, float("inf")),
)


def letterbox_factor(long_side: float, size: int = 224) -> float:
    """How much the letterbox recipe rescales an image of ``long_side`` px: ``size / long_side``."""
    return float(size) / float(long_side)


def scale_bin(factor: float) -> str:
    """The :data:`SCALE_BINS` label of a letterbox factor.

    >>> scale_bin(224 / 768), scale_bin(1.0), scale_bin(224 / 95)
    ('<= 0.5', '0.8-1.25', '> 2')
    """
    for label, lo, hi in SCALE_BINS:
        if lo < factor <= hi:
            return label
    raise ValueError(f"factor {factor} is not positive")


def values(table: pd.DataFrame, scheme: str, cls: str, metric: str) -> pd.Series:
    """``image -> value`` of one (scheme, class, metric) of a per-image table."""
    return metric_values(table, cls, metric, scheme)


#: The (scheme, class, metric) keys the scale benchmarks compare (benchmarks/scale_*.py): the
#: same as the paired gains of the recipe's scorings.
COMPARED_KEYS: tuple[tuple[str, str, str], ...] = GAIN_KEYS


def head_rows(folders: Mapping[str, object], images) -> list[dict]:
    """Per recipe folder with an ``image_labels.csv``: ``recipe``, ``images``, accuracy,
    sensitivity and specificity of its healthy/unhealthy head over ``images`` only (no row
    when it scored none of them)."""
    from pathlib import Path

    from papseg_utils.evaluate import image_accuracy

    rows = []
    for label, folder in folders.items():
        f = Path(folder) / "image_labels.csv"
        if f.exists():
            labels = pd.read_csv(f)
            acc = image_accuracy(labels[labels.image.isin(images)])
            if acc is None:  # none of ``images`` (an empty scale bin)
                continue
            acc.pop("unlabelled")  # Herlev: every image has its class
            rows.append({"recipe": label, "images": acc.pop("n"), **acc})
    return rows


def compare_by(
    tables: Mapping[str, pd.DataFrame],
    groups: pd.Series,
    keys: Sequence[tuple[str, str, str]] = (
        ("herlev3", "nucleus", "dice"),
        ("herlev3", "cytoplasm", "dice"),
        ("herlev3", "nucleus", "hd95"),
    ),
    n_boot: int = 2000,
    seed: int = 0,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per group: images, each recipe's per-image mean and the paired difference (B - A).

    Parameters
    ----------
    tables : exactly two per-image tables, ``{label_a: table_a, label_b: table_b}``.
    groups : ``image -> group`` (a scale bin, a diagnosis; ``"all"`` for one row).
    keys : (scheme, class, metric) triples.
    order : the groups in the order of the rows (default: sorted).

    Returns
    -------
    DataFrame with ``group``, ``scheme``, ``class``, ``metric``, ``images``, one column per
    recipe (its mean), ``diff`` (mean of B - A over the images both scored, with NaN values
    dropped pairwise, a correct empty answer next to a scored one counting as perfect:
    :func:`papseg_utils.metrics.catalog.metric_pairs`), ``ci_low``, ``ci_high`` (bootstrap 95 % over images, each row drawn
    from its own generator seeded by ``seed``; NaN for fewer than two images): the mean
    difference and interval of :func:`papseg_utils.metrics.stats.paired_test`.
    """
    from papseg_utils.metrics.stats import paired_test

    if len(tables) != 2:
        raise ValueError(f"compare_by needs two tables, got {list(tables)}")
    (la, ta), (lb, tb) = tables.items()
    rows = []
    wanted = list(order) if order is not None else sorted(groups.unique())
    for scheme, cls, metric in keys:
        both = metric_pairs(ta, tb, cls, metric, scheme).dropna()
        both["group"] = groups.reindex(both.index).to_numpy()
        for g in wanted:
            sel = both[both.group == g]
            res = paired_test(sel.b.to_numpy(), sel.a.to_numpy(), n_boot=n_boot, seed=seed)
            lo, hi = (res.ci_low, res.ci_high) if res.n >= 2 else (np.nan, np.nan)
            rows.append({"group": g, "scheme": scheme, "class": cls, "metric": metric,
                         "images": len(sel), la: sel.a.mean(), lb: sel.b.mean(),
                         "diff": res.mean_diff, "ci_low": lo, "ci_high": hi})  # fmt: skip
    return pd.DataFrame(rows)


def image_groups(sizes: Sequence[dict], size: int = 224) -> pd.DataFrame:
    """``image``, ``diagnosis``, ``long_side``, ``factor`` and ``scale_bin`` per image.

    ``sizes`` are :func:`papseg_utils.data.herlev.list_image_sizes` rows.
    """
    df = pd.DataFrame(sizes).rename(columns={"name": "image", "group": "diagnosis"})
    df["long_side"] = df[["width", "height"]].max(axis=1)
    df["factor"] = [letterbox_factor(v, size) for v in df.long_side]
    df["scale_bin"] = [scale_bin(f) for f in df.factor]
    return df.set_index("image")


MODE_COLOURS = ("#0072B2", "#E69F00", "#009E73")  # Okabe-Ito blue, orange, green
MODE_LABELS: dict[str, str] = {
    "given": "scale-true, right pixel size",
    "auto": "scale-true, --pixel-size auto",
    "letterbox": "letterbox recipe",
}


def plot_scale_robustness(summary: pd.DataFrame, classes: Sequence[str] = ("nucleus", "cytoplasm")):
    """Dice against the image scale factor, one panel per class, one line per mode (and recipe).

    ``summary`` has ``mode``, ``class``, ``factor``, ``dice``, ``ci_low``, ``ci_high`` (the
    scale benchmark's ``summary.csv``), and optionally ``recipe``: several benchmarks'
    summaries stacked, one line style per recipe in order of appearance (solid first), one
    colour per mode. The x axis is logarithmic (0.5x and 2x equally far from 1x); the band
    around the 1x value of the first line is the +-0.01 target.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(classes), figsize=(7.0, 3.6), sharex=True)
    axes = np.atleast_1d(axes)
    summary = summary.assign(recipe=summary["recipe"] if "recipe" in summary else "")
    recipes = list(dict.fromkeys(summary["recipe"]))
    modes = [m for m in MODE_LABELS if m in set(summary["mode"])]
    styles = ("-", "--", ":", "-.")
    for ax, cls in zip(axes, classes, strict=False):
        sub = summary[summary["class"] == cls]
        first = True
        for j, recipe in enumerate(recipes):
            for i, mode in enumerate(modes):
                s = sub[(sub["mode"] == mode) & (sub["recipe"] == recipe)].sort_values("factor")
                if s.empty:
                    continue
                colour = MODE_COLOURS[i % len(MODE_COLOURS)]
                label = f"{recipe}, {MODE_LABELS[mode]}" if recipe else MODE_LABELS[mode]
                ax.errorbar(s.factor, s.dice, yerr=[s.dice - s.ci_low, s.ci_high - s.dice],
                            marker="o" if j == 0 else "s", ms=4, capsize=2, color=colour,
                            ls=styles[j % len(styles)], label=label)  # fmt: skip
                if first and (s.factor == 1.0).any():
                    at1 = float(s[s.factor == 1.0].dice.iloc[0])
                    ax.axhspan(at1 - 0.01, at1 + 0.01, color=colour, alpha=0.12, lw=0)
                first = False
        ax.set_xscale("log")
        ax.set_xticks(sorted(summary.factor.unique()))
        ax.set_xticklabels([f"{f:g}x" for f in sorted(summary.factor.unique())])
        ax.minorticks_off()
        ax.set_title(cls)
        ax.set_xlabel("image scale factor")
    axes[0].set_ylabel("per-image mean Dice")
    handles, labels = axes[0].get_legend_handles_labels()  # one legend under both panels
    ncol = len(modes) if len(recipes) == 1 else 2
    rows = -(-len(labels) // ncol)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.045 + 0.045 * rows, 1, 1))
    return fig


def _cell(r: dict, a: str, b: str) -> str:
    """``"A -> B (diff [low, high])"``: 3 digits, 1 for a distance (HD95 in px)."""
    nd = 1 if metric_record(r["metric"]).kind == "distance" else 3
    return (f"{r[a]:.{nd}f} -> {r[b]:.{nd}f} ({r['diff']:+.{nd}f} "
            f"[{r['ci_low']:+.{nd}f}, {r['ci_high']:+.{nd}f}])")  # fmt: skip


def _key(r: dict) -> str:
    """``"nucleus dice"``; another taxonomy than herlev3 is named: ``"healthy (paper_cells) dice"``."""
    if r["scheme"] == "herlev3":
        return f"{r['class']} {r['metric']}"
    return f"{r['class']} ({r['scheme']}) {r['metric']}"


def compact(
    df: pd.DataFrame,
    a: str = "letterbox",
    b: str = "scale_true",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A :func:`compare_by` table as one row per group and one column per (class, metric).

    Each cell reads ``"A -> B (diff [low, high])"``, rounded to 3 digits (HD95 to 1). ``columns``
    picks the keys shown (e.g. ``["nucleus dice", "nucleus hd95"]``; default: all). ``images``
    is the number of images of the group, which every shown key must share: keys scored on
    different images (the paper's healthy and unhealthy cells) raise ``ValueError``; show them
    with :func:`compact_by_key`, which gives each key its own count.
    """
    rows: dict[str, dict] = {}
    counts: dict[str, set] = {}
    for r in df.to_dict("records"):
        key = _key(r)
        if columns is not None and key not in columns:
            continue
        rows.setdefault(r["group"], {"images": r["images"]})[key] = _cell(r, a, b)
        counts.setdefault(r["group"], set()).add(int(r["images"]))
    mixed = {g: sorted(c) for g, c in counts.items() if len(c) > 1}
    if mixed:
        raise ValueError(
            f"compact: the keys of a group are scored on different numbers of images {mixed}; "
            "pick keys with columns=[...] or use compact_by_key"
        )
    out = pd.DataFrame.from_dict(rows, orient="index")
    if columns is not None:
        out = out[["images", *[c for c in columns if c in out.columns]]]
    out.index.name = "group"
    return out


def compact_by_key(df: pd.DataFrame, a: str = "letterbox", b: str = "scale_true") -> pd.DataFrame:
    """A :func:`compare_by` table as one row per (class, metric) with its own image count.

    Columns ``images`` and ``"A -> B"``, whose cells read ``"A -> B (diff [low, high])"`` as in
    :func:`compact`.
    The index is the key (``"nucleus dice"``), or (group, key) when ``df`` has several groups.
    """
    rows = [{"group": r["group"], "key": _key(r), "images": int(r["images"]),
             f"{a} -> {b}": _cell(r, a, b)}
            for r in df.to_dict("records")]  # fmt: skip
    out = pd.DataFrame(rows)
    if out["group"].nunique() == 1:
        return out.drop(columns="group").set_index("key")
    return out.set_index(["group", "key"])
