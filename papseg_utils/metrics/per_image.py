"""Per-image, per-class evaluation into one tidy table, and named reductions.

:func:`score_images` returns one row per image x class x metric with the columns
:data:`~papseg_utils.metrics.catalog.PER_IMAGE_COLUMNS` (``image, class, metric, value, unit,
empty_case``), the metrics of :data:`~papseg_utils.metrics.catalog.CATALOGUE` in its order.
:func:`average` reduces it and says how (``reduction`` column). Nothing here averages silently.

Empty-class policy
------------------
For each image and class, after dropping ``ignore_index`` pixels:

================  ==============================  ==============================
case              ``"penalty"`` (default)         ``"nan"`` (drop, MONAI-style)
================  ==============================  ==============================
both empty        every metric NaN (excluded), empty_case="both_empty", counted
pred empty        Dice 0, IoU 0, recall 0,        Dice 0, IoU 0, recall 0,
(truth present)   HD95/HD/ASSD = penalty,         HD95/HD/ASSD/NSD/BF1 NaN
                  NSD 0, BF1 0
truth empty       Dice 0, IoU 0, precision 0,     Dice 0, IoU 0, precision 0,
(pred present)    HD95/HD/ASSD = penalty,         HD95/HD/ASSD/NSD/BF1 NaN
                  NSD 0, BF1 0
================  ==============================  ==============================

The default penalty is the image diagonal (the largest distance possible in
the image): ``sqrt(H**2 + W**2)`` px, or with spacing
``sqrt((H*dy)**2 + (W*dx)**2)`` um. Precision with an empty prediction and
recall with an empty truth are 0/0 and stay NaN under both policies.

Why a penalty: with ``"nan"``, a model that misses a class entirely drops
out of the HD95 average, so HD95 *improves* as the model misses more (MONAI
issue #9095). :func:`average` reports the counts of each empty case next to
every mean, whichever policy is used.

Ignore pixels
-------------
Pixels whose truth is ``ignore_index`` are removed from the counts (overlap)
and set to background in both the prediction and the truth before surfaces are
extracted (boundary metrics). A cell cut by an ignore band therefore gets a
surface along the band in both masks, at distance 0 from each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.metrics.catalog import PER_IMAGE_COLUMNS, entries, metric_names
from papseg_utils.metrics.confusion import class_counts, confusion_matrix
from papseg_utils.metrics.overlap import overlap_from_counts
from papseg_utils.metrics.surface import _spacing, surface_distances

EMPTY_POLICIES: tuple[str, ...] = ("penalty", "nan")
#: The pixel-count metrics (``tp, fp, fn``), read from the catalogue; kept as a name for
#: :mod:`papseg_utils.book.study` (use ``metric_names("count")`` in new code).
_COUNTS: tuple[str, ...] = metric_names("count")


def _as_list(arrays, what: str) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray):
        if arrays.ndim == 2:
            return [arrays]
        if arrays.ndim != 3:
            raise ValueError(
                f"{what}: expected (H, W) or (N, H, W) arrays, got shape {arrays.shape}"
            )
        return list(arrays)
    return [np.asarray(a) for a in arrays]


def _empty_case(pred_any: bool, truth_any: bool) -> str:
    if pred_any and truth_any:
        return "none"
    if not pred_any and not truth_any:
        return "both_empty"
    return "pred_empty" if truth_any else "truth_empty"


def _inputs(preds, masks, names) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """The images as lists of (H, W) arrays, and their names; ``ValueError`` if they disagree."""
    preds_l, masks_l = _as_list(preds, "preds"), _as_list(masks, "masks")
    if len(preds_l) != len(masks_l):
        raise ValueError(f"{len(preds_l)} predictions but {len(masks_l)} masks")
    names = [str(i) for i in range(len(preds_l))] if names is None else [str(n) for n in names]
    if len(names) != len(preds_l):
        raise ValueError(f"{len(names)} names for {len(preds_l)} images")
    return preds_l, masks_l, names


def _check_image(name: str, pred: np.ndarray, mask: np.ndarray, scheme: LabelScheme) -> None:
    if pred.shape != mask.shape:
        raise ValueError(
            f"image {name!r}: prediction {pred.shape} and mask {mask.shape} differ in shape; "
            "map predictions back to the original size before scoring"
        )
    scheme.check(pred, where=f"prediction of {name!r}")
    scheme.check(mask, where=f"mask of {name!r}")
    if np.any(pred == scheme.ignore_index):
        raise ValueError(f"prediction of {name!r} contains the ignore label {scheme.ignore_index}")


def _class_values(
    case: str, overlap: dict[str, float], pc, tc, sp, tolerance: float, pen: float,
    empty_policy: str, surface: bool,
) -> dict[str, float]:  # fmt: skip
    """One class of one image: ``{metric: float}`` of the catalogue's non-count metrics.

    ``overlap`` holds the class's overlap values from its counts; ``pc``, ``tc`` are the
    predicted and true (H, W) bool masks of the class (ignore pixels removed); ``sp`` the
    (row, col) spacing as a (2,) float64 array or None; ``case`` its empty case; ``pen`` the
    penalty distance.
    """
    vals = dict.fromkeys(overlap, np.nan) if case == "both_empty" else dict(overlap)
    if not surface:
        return vals
    if case == "none":
        vals.update(surface_distances(pc, tc, sp).all(tolerance))
    elif case == "both_empty" or empty_policy == "nan":
        vals.update({m.name: np.nan for m in entries("distance", "boundary")})
    else:  # one mask empty, "penalty": the worst value, the penalty distance or a score of 0
        vals.update(
            {m.name: pen if m.kind == "distance" else 0.0 for m in entries("distance", "boundary")}
        )
    return vals


def _image_rows(name, pred, mask, scheme, first, sp, opts: dict) -> list[tuple]:
    """The rows (PER_IMAGE_COLUMNS tuples) of one image, every class from ``first``, every metric.

    ``pred``, ``mask``: (H, W) integer labels of ``scheme``; ``sp``: (2,) float64 spacing in um
    or None (px); ``opts``: ``penalty``, ``tolerance`` (in the output unit), ``empty_policy``,
    ``surface`` of :func:`score_images`.
    """
    keep = mask != scheme.ignore_index
    counts = class_counts(confusion_matrix(pred, mask, scheme.num_classes, scheme.ignore_index))
    overlap = overlap_from_counts(counts["tp"], counts["fp"], counts["fn"])
    h, w = mask.shape
    diag = float(np.hypot(h, w)) if sp is None else float(np.hypot(h * sp[0], w * sp[1]))
    pen = diag if opts["penalty"] is None else float(opts["penalty"])
    unit = "px" if sp is None else "um"
    distances = set(metric_names("distance"))
    rows: list[tuple] = []
    for c in range(first, scheme.num_classes):
        cname = scheme.classes[c]
        pc, tc = (pred == c) & keep, (mask == c) & keep
        case = _empty_case(bool(pc.any()), bool(tc.any()))
        vals = _class_values(case, {m: float(v[c]) for m, v in overlap.items()}, pc, tc, sp,
                             opts["tolerance"], pen, opts["empty_policy"], opts["surface"])  # fmt: skip
        for m, v in vals.items():
            rows.append((name, cname, m, v, unit if m in distances else "fraction", case))
        for m in _COUNTS:
            rows.append((name, cname, m, float(counts[m][c]), "count", case))
    return rows


def score_images(
    preds: Sequence[np.ndarray] | np.ndarray,
    masks: Sequence[np.ndarray] | np.ndarray,
    scheme: LabelScheme | str,
    spacing_um: float | tuple[float, float] | None = None,
    empty_policy: str = "penalty",
    tolerance_px: float = 2.0,
    penalty: float | None = None,
    names: Sequence[str] | None = None,
    include_background: bool = False,
    surface: bool = True,
) -> pd.DataFrame:
    """Score predictions against masks, per image and per class.

    Parameters
    ----------
    preds : sequence of (H_i, W_i) integer arrays, or (N, H, W)
        Predicted class ids of ``scheme``.
    masks : same shapes
        True class ids; ``scheme.ignore_index`` marks ignored pixels.
    scheme : LabelScheme or its name
    spacing_um : pixel size in um (one number, or (row, col)); distances are
        then reported in um, else in px.
    empty_policy : ``"penalty"`` (default) or ``"nan"``; see the module docstring.
    tolerance_px : tolerance of the normalised surface Dice (``nsd``) and the
        boundary F1 (``bf1``), in px. With a spacing it is converted to um
        (``tolerance_px * mean(spacing)``).
    penalty : distance given to HD95/HD/ASSD when exactly one mask is empty,
        in the output unit; default ``None`` = the image diagonal.
    names : image names (default ``"0", "1", ...``).
    include_background : also score class 0.
    surface : compute boundary metrics (set False for a fast overlap-only table).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~papseg_utils.metrics.catalog.PER_IMAGE_COLUMNS` (``image, class,
        metric, value, unit, empty_case``); the metrics of the catalogue in its order:
        ``dice, iou, precision, recall`` (unit ``fraction``), ``hd95, hd, assd`` (``px`` or
        ``um``), ``nsd, bf1`` (``fraction``), and the pixel counts ``tp, fp, fn`` (``count``,
        used by micro averaging). ``df.attrs`` holds the policy, penalty rule, tolerance and
        spacing.
    """
    scheme = get_scheme(scheme)
    if empty_policy not in EMPTY_POLICIES:
        raise ValueError(f"empty_policy must be one of {EMPTY_POLICIES}, got {empty_policy!r}")
    if tolerance_px < 0:
        raise ValueError(f"tolerance_px must be >= 0, got {tolerance_px}")
    preds_l, masks_l, names = _inputs(preds, masks, names)
    sp = _spacing(spacing_um)
    unit = "px" if sp is None else "um"
    tolerance = tolerance_px if sp is None else tolerance_px * float(sp.mean())
    opts = {"penalty": penalty, "tolerance": tolerance, "empty_policy": empty_policy,
            "surface": surface}  # fmt: skip
    first = 0 if include_background else 1
    rows: list[tuple] = []
    for name, pred, mask in zip(names, preds_l, masks_l, strict=True):
        _check_image(name, pred, mask, scheme)
        rows += _image_rows(name, pred, mask, scheme, first, sp, opts)
    df = pd.DataFrame(rows, columns=list(PER_IMAGE_COLUMNS))
    df.attrs.update(
        scheme=scheme.name,
        background=scheme.classes[0],  # custom schemes (a folder's classes.yaml) are not registered
        empty_policy=empty_policy,
        penalty="image diagonal" if penalty is None else f"{penalty} {unit}",
        tolerance=tolerance,
        tolerance_unit=unit,
        spacing_um=None if sp is None else sp.tolist(),
    )
    return df


def average(
    df: pd.DataFrame,
    reduction: str = "image",
    include_background: bool = False,
    background: str | None = None,
) -> pd.DataFrame:
    """Reduce a table from :func:`score_images` over images, and over classes.

    Parameters
    ----------
    df : tidy table of :func:`score_images`.
    reduction : ``"image"`` (metric per image, mean over images, NaN skipped)
        or ``"micro"`` (``tp/fp/fn`` summed over images, then Dice, IoU,
        precision, recall; boundary metrics have no micro form and are left out).
    include_background : keep the background class in the class mean.
    background : name of the background class (default: the first class in ``df``
        order of the scheme, taken from ``df.attrs['background']`` or ``df.attrs['scheme']``).

    Returns
    -------
    pandas.DataFrame
        Columns ``reduction, class, metric, value, unit, n, n_nan, n_both_empty,
        n_pred_empty, n_truth_empty``. Per-class rows have reduction ``image``
        or ``micro``; the class mean rows (``class == "macro"``) have
        ``image+macro`` or ``micro+macro`` (mean over the per-class values).
        ``n`` counts images with a value, ``n_nan`` those left out as NaN.
    """
    if reduction not in ("image", "micro"):
        raise ValueError(f"reduction must be 'image' or 'micro', got {reduction!r}")
    if background is None:
        background = df.attrs.get("background")
    if background is None and "scheme" in df.attrs:
        background = get_scheme(df.attrs["scheme"]).classes[0]
    cases = (
        df[df.metric == "tp"]
        .groupby("class", sort=False)["empty_case"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=["both_empty", "pred_empty", "truth_empty"], fill_value=0)
        .add_prefix("n_")
    )
    out = _image_means(df) if reduction == "image" else _micro(df)
    out = out.join(cases, on="class")
    out.insert(0, "reduction", reduction)
    fg = out if include_background or background is None else out[out["class"] != background]
    res = pd.concat([out, _class_mean(fg, reduction)[out.columns]], ignore_index=True)
    for col in ("n", "n_nan", "n_both_empty", "n_pred_empty", "n_truth_empty"):
        res[col] = res[col].astype(int)
    return res


def _image_means(df: pd.DataFrame) -> pd.DataFrame:
    """Per class and metric: the mean over images (NaN skipped), ``unit``, ``n``, ``n_nan``."""
    body = df[~df.metric.isin(_COUNTS)]
    g = body.groupby(["class", "metric"], sort=False)
    out = g.agg(value=("value", "mean"), unit=("unit", "first"), n=("value", "count"))
    out["n_nan"] = g["value"].apply(lambda v: int(v.isna().sum()))
    return out.reset_index()


def _micro(df: pd.DataFrame) -> pd.DataFrame:
    """Per class: Dice, IoU, precision and recall of the ``tp/fp/fn`` summed over images."""
    counts = df[df.metric.isin(_COUNTS)].pivot_table(
        index="class", columns="metric", values="value", aggfunc="sum", sort=False
    )
    n_img = df[df.metric == "tp"].groupby("class", sort=False).size()
    ov = overlap_from_counts(
        counts["tp"].to_numpy(), counts["fp"].to_numpy(), counts["fn"].to_numpy()
    )
    return pd.DataFrame(
        [
            (cls, m, float(ov[m][i]), "fraction", int(n_img[cls]), 0)
            for i, cls in enumerate(counts.index)
            for m in ov
        ],
        columns=["class", "metric", "value", "unit", "n", "n_nan"],
    )


def _class_mean(fg: pd.DataFrame, reduction: str) -> pd.DataFrame:
    """The ``macro`` rows: per metric, the mean of the per-class values of ``fg``, counts summed."""
    macro = fg.groupby("metric", sort=False).agg(
        value=("value", "mean"),
        unit=("unit", "first"),
        n=("n", "sum"),
        n_nan=("n_nan", "sum"),
        n_both_empty=("n_both_empty", "sum"),
        n_pred_empty=("n_pred_empty", "sum"),
        n_truth_empty=("n_truth_empty", "sum"),
    )
    macro = macro.reset_index()
    macro.insert(0, "class", "macro")
    macro.insert(0, "reduction", f"{reduction}+macro")
    return macro


def wide(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Pivot the tidy table to one row per image x class and one column per metric."""
    sub = df if metrics is None else df[df.metric.isin(metrics)]
    return sub.pivot_table(
        index=["image", "class"], columns="metric", values="value", sort=False, dropna=False
    ).reset_index()
