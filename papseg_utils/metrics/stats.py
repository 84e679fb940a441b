"""Uncertainty and comparisons over images: bootstrap CIs, the paired comparison, Holm.

The unit of resampling is the image: images are the independent samples, the
pixels within one image are not. Every paired table of the package (study runs, evaluate
scorings, the distillation arms) is :func:`paired_differences` on the per-image values of two
arms; :func:`paired_test` is its one row, which the scale recipes' per-group table
(:func:`papseg_utils.results.scale.compare_by`) calls for each group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from papseg_utils.metrics.catalog import metric_names

CI_METHODS: tuple[str, ...] = ("percentile", "bca")


def bootstrap_mean_ci(
    values: np.ndarray,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    method: str = "percentile",
) -> tuple[float, float, float]:
    """Mean of ``values`` and its bootstrap CI over the samples.

    Parameters
    ----------
    values : (n,) float; NaNs are dropped first.
    n_boot : number of bootstrap resamples.
    confidence : e.g. 0.95.
    seed : seeds ``numpy.random.default_rng``; a ``Generator`` is used as it is (its stream
        goes on).
    method : ``"percentile"`` (vectorised resampling) or ``"bca"``
        (bias-corrected and accelerated, via ``scipy.stats.bootstrap``).

    Returns
    -------
    (mean, low, high) floats; NaN when no value is left, the mean itself twice
    when all values are equal or only one is left.
    """
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(v.mean())
    if v.size == 1 or np.all(v == v[0]):
        return (mean, mean, mean)
    rng = np.random.default_rng(seed)
    alpha = 1 - confidence
    if method == "percentile":
        idx = rng.integers(0, v.size, size=(n_boot, v.size))
        boots = v[idx].mean(axis=1)
        lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
        return (mean, float(lo), float(hi))
    res = sps.bootstrap(
        (v,), np.mean, n_resamples=n_boot, confidence_level=confidence, method="BCa", rng=rng
    )
    return (mean, float(res.confidence_interval.low), float(res.confidence_interval.high))


def bootstrap_ci(
    df: pd.DataFrame,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "percentile",
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Bootstrap CI of the per-image mean for every class and metric of a tidy table.

    ``df`` is the output of :func:`papseg_utils.metrics.score_images`. Returns one
    row per class x metric with ``class, metric, mean, low, high, unit, n, n_nan,
    confidence, method, n_boot`` (``reduction`` is ``"image"``: images are
    resampled). Count metrics (tp/fp/fn) are skipped.
    """
    body = df[~df.metric.isin(metric_names("count"))]
    if metrics is not None:
        body = body[body.metric.isin(metrics)]
    rows = []
    for (cls, metric), g in body.groupby(["class", "metric"], sort=False):
        vals = g["value"].to_numpy(dtype=np.float64)
        mean, lo, hi = bootstrap_mean_ci(vals, n_boot, confidence, seed, method)
        rows.append(
            (
                cls,
                metric,
                mean,
                lo,
                hi,
                g["unit"].iloc[0],
                int((~np.isnan(vals)).sum()),
                int(np.isnan(vals).sum()),
            )
        )
    out = pd.DataFrame(
        rows, columns=["class", "metric", "mean", "low", "high", "unit", "n", "n_nan"]
    )
    out["reduction"] = "image"
    out["confidence"] = confidence
    out["method"] = method
    out["n_boot"] = n_boot
    return out


@dataclass
class PairedResult:
    """Paired comparison of two models on the same images, differences ``a - b`` per image.

    Attributes: ``n`` pairs; ``mean_diff``, the mean difference, with its bootstrap interval
    (``ci_low``, ``ci_high``, :func:`bootstrap_mean_ci` over the images); ``median_diff``;
    the Wilcoxon signed-rank ``statistic`` and two-sided ``p_value``; ``rank_biserial``, the
    matched-pairs rank-biserial correlation in [-1, 1] (positive = ``a`` larger).
    """

    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    median_diff: float
    statistic: float
    p_value: float
    rank_biserial: float

    def to_dict(self) -> dict:
        return asdict(self)


def rank_biserial(diff: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences (zeros dropped).

    ``r = (sum of ranks of positive diffs - sum of ranks of negative diffs) /
    total rank sum`` (Kerby 2014), ranks of ``|diff|`` with ties averaged.
    """
    d = np.asarray(diff, dtype=np.float64)
    d = d[(d != 0) & ~np.isnan(d)]
    if d.size == 0:
        return 0.0
    ranks = sps.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> PairedResult:
    """One paired comparison of ``a`` and ``b`` (same images, same order): differences ``a - b``.

    Parameters
    ----------
    a, b : (n,) float, one value per image. Pairs with a NaN are dropped (so apply an
        empty-class policy that gives values first).
    n_boot, confidence, seed : of the bootstrap interval of the mean difference
        (:func:`bootstrap_mean_ci`, percentile method).

    Returns
    -------
    PairedResult. With no pair left every field is NaN (``n`` 0); with no non-zero difference
    the test is undefined: ``p_value`` is 1.0 and the effect 0.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length: {a.size} vs {b.size}")
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    n = int(d.size)
    if n == 0:
        return PairedResult(0, *([np.nan] * 7))
    mean, lo, hi = bootstrap_mean_ci(d, n_boot=n_boot, confidence=confidence, seed=seed)
    med = float(np.median(d))
    if np.all(d == 0):
        return PairedResult(n, mean, lo, hi, med, 0.0, 1.0, 0.0)
    res = sps.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    stat, p = float(res.statistic), float(res.pvalue)
    return PairedResult(n, mean, lo, hi, med, stat, p, rank_biserial(d))


#: The columns :func:`paired_differences` adds after the group keys.
PAIRED_COLUMNS: tuple[str, ...] = (
    "n", "mean_a", "mean_b", "mean_diff", "low", "high", "median_diff", "rank_biserial",
    "p_value", "p_holm",
)  # fmt: skip


def paired_differences(
    values: pd.DataFrame,
    by: Sequence[str],
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """The paired comparison of arms A and B, per group of rows: differences ``B - A`` per image.

    Parameters
    ----------
    values : one row per group x image, with the columns ``by`` (the group: comparison,
        class, metric...), ``a`` and ``b`` (float64: the image's value under each arm). A row
        with a NaN is dropped (pairwise), so each group compares the images both arms scored.
    by : the group columns; groups keep the order of their first row.
    n_boot, confidence : of the bootstrap intervals.
    seed : seeds a fresh ``numpy.random.default_rng`` for each group, so a group's interval
        depends on its own pairs and the seed alone: adding an arm or a class to a table
        leaves every other row as it was, and a table of one group gives that row exactly.

    Returns
    -------
    pandas.DataFrame
        One row per group with at least one pair: the ``by`` columns, then
        :data:`PAIRED_COLUMNS`: ``n`` images, ``mean_a`` and ``mean_b`` (each arm's mean on
        those same images), ``mean_diff`` (= ``mean_b - mean_a``) with its bootstrap interval
        ``low``, ``high`` (:func:`bootstrap_mean_ci` of the per-image differences),
        ``median_diff``, ``rank_biserial``, the Wilcoxon signed-rank ``p_value`` and
        ``p_holm``, Holm's correction over all rows of the table.

    Why the mean
    ------------
    The tables and the project's targets report per-image means; the interval is on the
    mean of the per-image differences, so it is an interval on the difference of the
    headline numbers themselves (``mean_b - mean_a`` of the images compared). The median
    difference is given too: the Wilcoxon test ranks the differences, so it can see a shift
    in most images that a few large changes the other way hide from the mean.
    """
    rows = []
    for key, g in values.dropna(subset=["a", "b"]).groupby(list(by), sort=False):
        res = paired_test(g["b"].to_numpy(), g["a"].to_numpy(), n_boot, confidence, seed=seed)
        rows.append({**dict(zip(by, key, strict=True)), "n": res.n,
                     "mean_a": float(g["a"].mean()), "mean_b": float(g["b"].mean()),
                     "mean_diff": res.mean_diff, "low": res.ci_low, "high": res.ci_high,
                     "median_diff": res.median_diff, "rank_biserial": res.rank_biserial,
                     "p_value": res.p_value})  # fmt: skip
    out = pd.DataFrame(rows, columns=[*by, *PAIRED_COLUMNS[:-1]])
    out["p_holm"] = holm(out["p_value"].fillna(1.0).to_numpy()) if len(out) else []
    return out


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
