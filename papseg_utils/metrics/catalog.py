"""The metric catalogue and the columns of the tables the metrics fill: one place for both.

Every fact about a metric lives in its :class:`Metric` record in :data:`CATALOGUE`: its name in
the tables, its label in figures, its unit, which direction is better, how it is computed and
whether the evaluate command's summary reports it. The tables, plots, targets and chapters read
these records through the helpers below (:func:`metric_label`, :func:`higher_is_better`,
:func:`metric_names`, :func:`summary_metrics`) instead of keeping their own lists.

How :func:`papseg_utils.metrics.score_images` uses ``kind``
---------------------------------------------------------
``"overlap"``
    ``compute(tp, fp, fn)`` on the pixel counts of every class at once ((C,) float64 arrays in,
    (C,) float64 out, NaN for a zero denominator). Unit ``fraction``.
``"distance"``
    ``compute(distances, tolerance)`` on the :class:`~papseg_utils.metrics.surface.SurfaceDistances`
    of one image and class, a float in px (um with a pixel size). When one mask is empty it is
    the penalty distance (``"penalty"`` policy) or NaN (``"nan"``).
``"boundary"``
    ``compute(distances, tolerance)`` like a distance, but a fraction in [0, 1] where 1 is
    best; 0 when one mask is empty (``"penalty"``) or NaN (``"nan"``).
``"count"``
    the pixel counts ``tp``, ``fp``, ``fn`` of :func:`~papseg_utils.metrics.class_counts`
    (``compute`` is None). Unit ``count``; used by micro averaging, never summarised.

Adding a metric is one record here plus its function (see ``docs/DEVELOPING.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from papseg_utils.metrics.overlap import (
    dice_from_counts,
    iou_from_counts,
    precision_from_counts,
    recall_from_counts,
)
from papseg_utils.metrics.surface import SurfaceDistances

KINDS: tuple[str, ...] = ("overlap", "distance", "boundary", "count")
_UNITS = {"overlap": "fraction", "distance": "distance", "boundary": "fraction", "count": "count"}


@dataclass(frozen=True)
class Metric:
    """One metric of the per-image table.

    Attributes
    ----------
    name : its name in the tables' ``metric`` column (``"dice"``).
    label : how figures and table rows name it (``"Dice"``).
    kind : ``"overlap"``, ``"distance"``, ``"boundary"`` or ``"count"`` (module docstring).
    higher_is_better : True for scores, False for distances, None for pixel counts.
    in_summary : whether the evaluate command's ``summary.csv`` reports it.
    headline : whether tables and figures show it when no metric is named (Dice, IoU, HD95).
    compute : the function that computes it (signature by ``kind``; None for counts).
    """

    name: str
    label: str
    kind: str
    higher_is_better: bool | None
    in_summary: bool
    headline: bool
    compute: Callable | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.name!r}: kind {self.kind!r} is not one of {KINDS}")

    @property
    def unit(self) -> str:
        """``"fraction"``, ``"count"`` or ``"distance"`` (px, or um when a pixel size is given)."""
        return _UNITS[self.kind]


def _hd95(d: SurfaceDistances, tolerance: float) -> float:
    return d.hd95()


def _hd(d: SurfaceDistances, tolerance: float) -> float:
    return d.hd()


def _assd(d: SurfaceDistances, tolerance: float) -> float:
    return d.assd()


def _nsd(d: SurfaceDistances, tolerance: float) -> float:
    return d.nsd(tolerance)


def _bf1(d: SurfaceDistances, tolerance: float) -> float:
    return d.bf1(tolerance)


#: Every metric :func:`papseg_utils.metrics.score_images` produces, in the order of its rows.
CATALOGUE: tuple[Metric, ...] = (
    # name, label, kind, higher is better, in the summary, headline, compute
    Metric("dice", "Dice", "overlap", True, True, True, dice_from_counts),
    Metric("iou", "IoU", "overlap", True, True, True, iou_from_counts),
    Metric("precision", "precision", "overlap", True, False, False, precision_from_counts),
    Metric("recall", "recall", "overlap", True, False, False, recall_from_counts),
    Metric("hd95", "HD95", "distance", False, True, True, _hd95),
    Metric("hd", "HD (max)", "distance", False, False, False, _hd),
    Metric("assd", "ASSD", "distance", False, False, False, _assd),
    Metric("nsd", "surface Dice (NSD)", "boundary", True, True, False, _nsd),
    Metric("bf1", "boundary F1", "boundary", True, True, False, _bf1),
    Metric("tp", "true positive px", "count", None, False, False),
    Metric("fp", "false positive px", "count", None, False, False),
    Metric("fn", "false negative px", "count", None, False, False),
)


def entries(*kinds: str) -> tuple[Metric, ...]:
    """The records of the given kinds (all when none is given), in catalogue order."""
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"kind {k!r} is not one of {KINDS}")
    return tuple(m for m in CATALOGUE if not kinds or m.kind in kinds)


def metric_names(*kinds: str) -> tuple[str, ...]:
    """Names of the metrics of the given kinds (all when none is given), in catalogue order."""
    return tuple(m.name for m in entries(*kinds))


def metric_record(name: str) -> Metric:
    """The catalogue record of ``name``; ``ValueError`` listing the known names otherwise."""
    for m in CATALOGUE:
        if m.name == name:
            return m
    raise ValueError(
        f"unknown metric {name!r}; the catalogue (papseg_utils.metrics.catalog) has "
        f"{list(metric_names())}: add a Metric record there for a new one"
    )


def metric_label(name: str) -> str:
    """How figures and tables name ``name``: ``metric_label("hd95") == "HD95"``."""
    return metric_record(name).label


def higher_is_better(name: str) -> bool:
    """True for scores (Dice, NSD...), False for distances; ``ValueError`` for a pixel count."""
    better = metric_record(name).higher_is_better
    if better is None:
        raise ValueError(f"{name!r} is a pixel count: neither direction is better")
    return better


def headline_metrics() -> tuple[str, ...]:
    """What tables and figures show when no metric is named: ``("dice", "iou", "hd95")``."""
    return tuple(m.name for m in CATALOGUE if m.headline)


def summary_metrics() -> tuple[str, ...]:
    """The metrics the evaluate command's summary reports: ``("dice", "iou", "hd95", "nsd", "bf1")``."""
    return tuple(m.name for m in CATALOGUE if m.in_summary)


# ------------------------------------------------------------------------ the tables' columns

#: The tidy per-image table of :func:`papseg_utils.metrics.score_images`: one row per image x
#: class x metric. ``value`` float64 (NaN: not scored), ``unit`` a :attr:`Metric.unit` with
#: ``"distance"`` written as ``"px"`` or ``"um"``, ``empty_case`` ``"none"``, ``"both_empty"``,
#: ``"pred_empty"`` or ``"truth_empty"`` (``""`` on the per-image ``macro`` rows of a scoring).
PER_IMAGE_COLUMNS: tuple[str, ...] = ("image", "class", "metric", "value", "unit", "empty_case")
#: The evaluate command's ``per_image.csv``: the tidy table plus the taxonomy (``scheme``) and
#: the index of the member that scored the image (``fold``, int; ``-1`` for an ensemble).
SCORING_COLUMNS: tuple[str, ...] = (*PER_IMAGE_COLUMNS, "scheme", "fold")
#: The evaluate command's ``summary.csv`` (:func:`papseg_utils.evaluate.summary`): per scheme,
#: class and metric the per-image ``mean`` with its bootstrap 95 % interval (``low``,
#: ``high``), the ``median``, the pooled ``micro`` value (overlap metrics only, else NaN), the
#: ``unit``, ``n`` images with a value and ``n_nan`` without.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "scheme", "class", "metric", "mean", "low", "high", "median", "micro", "unit", "n", "n_nan",
)  # fmt: skip


def check_columns(table: pd.DataFrame, columns: Sequence[str], source: str) -> pd.DataFrame:
    """``table`` unchanged if it has every one of ``columns``; else ``ValueError`` naming ``source``."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{source}: missing column(s) {missing} (has {list(table.columns)}); expected the "
            "table papseg_utils.metrics.score_images or the evaluate command writes"
        )
    return table


def metric_values(
    table: pd.DataFrame, cls: str, metric_name: str, scheme: str | None = None
) -> pd.Series:
    """``image -> value`` (float64) of one class and metric (and scheme) of a per-image table.

    NaN values are kept (pair two tables with :func:`metric_pairs`, which knows the empty cases).
    """
    keep = (table["class"] == cls) & (table["metric"] == metric_name)
    if scheme is not None:
        keep &= table["scheme"] == scheme
    return table.loc[keep].set_index("image")["value"]


def perfect_value(metric_name: str) -> float:
    """The value of ``metric_name`` for a perfect prediction: 1.0 for scores, 0.0 for distances.

    ``ValueError`` for a pixel count, which has no best value.
    """
    record = metric_record(metric_name)
    if record.higher_is_better is None:
        raise ValueError(f"metric {metric_name!r} is a pixel count; it has no perfect value")
    return 1.0 if record.higher_is_better else 0.0


def metric_pairs(
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    cls: str,
    metric_name: str,
    scheme: str | None = None,
) -> pd.DataFrame:
    """The values of two per-image tables side by side, ready for a paired test.

    Returns a frame indexed by image with float64 columns ``a`` and ``b``, one row per image
    both tables hold. A ``both_empty`` value (neither truth nor prediction has the class: NaN in
    the tables, a correct empty answer) becomes :func:`perfect_value` when the other arm
    scored the image, so an arm that wrongly predicts a class the image lacks is compared
    against the arm that rightly predicts none, instead of the image being dropped. Images
    where both arms are ``both_empty`` stay NaN and are dropped pairwise. Other NaN values
    (for example from the ``"nan"`` empty policy) are left as they are. Tables without an
    ``empty_case`` column are paired as they are.
    """
    sides = {}
    for side, table in (("a", table_a), ("b", table_b)):
        keep = (table["class"] == cls) & (table["metric"] == metric_name)
        if scheme is not None:
            keep &= table["scheme"] == scheme
        sub = table.loc[keep].set_index("image")
        empty = sub["empty_case"] if "empty_case" in sub else pd.Series("", index=sub.index)
        sides[side] = sub["value"].astype("float64")
        sides[side + "_empty"] = empty.eq("both_empty") & sub["value"].isna()
    out = pd.concat(sides, axis=1, join="inner")
    both = out["a_empty"] & out["b_empty"]
    best = perfect_value(metric_name)
    for side in ("a", "b"):
        out.loc[out[side + "_empty"] & ~both, side] = best
    return out[["a", "b"]].astype("float64")


def average_runs(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per-image values averaged over runs (seeds), keeping what :func:`metric_pairs` needs.

    ``table`` holds rows of several runs with the columns ``by`` (which must include
    ``image`` and ``metric``), ``value`` and ``empty_case``. A run's ``both_empty`` value (a
    correct empty answer) counts as :func:`perfect_value` in the average; an image where every
    run is ``both_empty`` keeps NaN and ``empty_case="both_empty"``, so :func:`metric_pairs`
    still pairs it against an arm that scored it. Other NaN values are skipped in the mean.
    Returns one row per group: the ``by`` columns, ``value`` (float64) and ``empty_case``
    (``"both_empty"`` or ``"none"``).
    """
    empty = table["empty_case"].eq("both_empty") & table["value"].isna()
    best = table["metric"].map(lambda m: perfect_value(m) if metric_record(m).higher_is_better
                               is not None else float("nan"))  # fmt: skip
    filled = table.assign(value=table["value"].where(~empty, best), _empty=empty)
    out = filled.groupby(list(by), as_index=False, sort=False).agg(
        value=("value", "mean"), _empty=("_empty", "all")
    )
    out.loc[out["_empty"], "value"] = float("nan")
    out["empty_case"] = out.pop("_empty").map({True: "both_empty", False: "none"})
    return out
