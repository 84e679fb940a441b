"""Uncertainty and comparisons over images: bootstrap CIs, paired tests, Holm.

The unit of resampling is the image: images are the independent samples, the
pixels within one image are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from papseg_utils.metrics.per_image import COUNT_METRICS

CI_METHODS: tuple[str, ...] = ("percentile", "bca")


def bootstrap_mean_ci(
    values: np.ndarray,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "percentile",
) -> tuple[float, float, float]:
    """Mean of ``values`` and its bootstrap CI over the samples.

    Parameters
    ----------
    values : (n,) float; NaNs are dropped first.
    n_boot : number of bootstrap resamples.
    confidence : e.g. 0.95.
    seed : seeds ``numpy.random.default_rng``.
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
    body = df[~df.metric.isin(COUNT_METRICS)]
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
    """Paired comparison of two models on the same images (``a - b``).

    Attributes: ``n`` pairs, ``median_diff`` and its bootstrap CI
    (``ci_low``, ``ci_high``), Wilcoxon signed-rank ``statistic`` and
    ``p_value`` (two-sided), ``rank_biserial`` matched-pairs rank-biserial
    correlation in [-1, 1] (positive = ``a`` larger).
    """

    n: int
    median_diff: float
    ci_low: float
    ci_high: float
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
    a: np.ndarray, b: np.ndarray, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> PairedResult:
    """Wilcoxon signed-rank test of ``a`` vs ``b`` (paired, same images).

    Parameters
    ----------
    a, b : (n,) float, one value per image (same order). Pairs with a NaN are
        dropped (so apply an empty-class policy that gives values first).

    Returns
    -------
    PairedResult. With no non-zero difference the test is undefined:
    ``p_value`` is 1.0 and the effect 0.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same length: {a.size} vs {b.size}")
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    n = int(d.size)
    if n == 0:
        return PairedResult(0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan)
    med = float(np.median(d))
    rng = np.random.default_rng(seed)
    boots = np.median(d[rng.integers(0, n, size=(n_boot, n))], axis=1)
    alpha = 1 - confidence
    lo, hi = (float(x) for x in np.quantile(boots, [alpha / 2, 1 - alpha / 2]))
    if np.all(d == 0):
        return PairedResult(n, med, lo, hi, 0.0, 1.0, 0.0)
    res = sps.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return PairedResult(n, med, lo, hi, float(res.statistic), float(res.pvalue), rank_biserial(d))


def paired_from_tables(
    df_a: pd.DataFrame, df_b: pd.DataFrame, metric: str, cls: str, **kwargs
) -> PairedResult:
    """:func:`paired_test` on one metric and class of two tidy tables, matched by image name."""
    sel = [
        (d[(d.metric == metric) & (d["class"] == cls)].set_index("image")["value"])
        for d in (df_a, df_b)
    ]
    joined = pd.concat(sel, axis=1, keys=["a", "b"], join="inner")
    if joined.empty:
        raise ValueError(f"no images in common for metric {metric!r}, class {cls!r}")
    return paired_test(joined["a"].to_numpy(), joined["b"].to_numpy(), **kwargs)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
