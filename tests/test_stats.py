"""Bootstrap coverage, paired tests and Holm correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils.metrics.stats import (
    bootstrap_ci,
    bootstrap_mean_ci,
    holm,
    paired_test,
    rank_biserial,
)


def test_bootstrap_percentile_covers_truth_at_nominal_rate():
    rng = np.random.default_rng(0)
    true_mean, hits, reps = 0.8, 0, 200
    for i in range(reps):
        sample = rng.beta(8, 2, size=40)  # mean 0.8, skewed like Dice values
        _, lo, hi = bootstrap_mean_ci(sample, n_boot=500, seed=i)
        hits += lo <= true_mean <= hi
    assert 0.88 <= hits / reps <= 0.99


def test_bootstrap_bca_and_degenerate_cases():
    rng = np.random.default_rng(1)
    m, lo, hi = bootstrap_mean_ci(rng.normal(5, 1, 50), n_boot=500, method="bca")
    assert lo < m < hi and 4.4 < m < 5.6
    assert bootstrap_mean_ci(np.array([2.0, 2.0, 2.0])) == (2.0, 2.0, 2.0)
    assert all(np.isnan(bootstrap_mean_ci(np.array([np.nan]))))
    with pytest.raises(ValueError, match="method"):
        bootstrap_mean_ci(np.ones(3), method="normal")


def test_bootstrap_ci_from_tidy_table():
    df = pd.DataFrame(
        {
            "image": [str(i) for i in range(20)] * 2,
            "class": ["nucleus"] * 40,
            "metric": ["dice"] * 20 + ["hd95"] * 20,
            "value": np.r_[np.linspace(0.8, 1.0, 20), np.linspace(1, 5, 19), np.nan],
            "unit": ["fraction"] * 20 + ["px"] * 20,
            "empty_case": ["none"] * 40,
        }
    )
    ci = bootstrap_ci(df, n_boot=300).set_index("metric")
    assert ci.loc["dice", "mean"] == pytest.approx(0.9)
    assert ci.loc["dice", "low"] < 0.9 < ci.loc["dice", "high"]
    assert ci.loc["hd95", "n"] == 19 and ci.loc["hd95", "n_nan"] == 1
    assert ci.loc["hd95", "unit"] == "px"


def test_paired_test_detects_shift_not_identity():
    rng = np.random.default_rng(2)
    a = rng.normal(0.85, 0.05, 40)
    shifted = paired_test(a + 0.03 + rng.normal(0, 0.01, 40), a, n_boot=500)
    assert shifted.p_value < 0.001 and shifted.rank_biserial > 0.9
    assert shifted.ci_low < 0.03 < shifted.ci_high and shifted.n == 40
    same = paired_test(a, a.copy(), n_boot=100)
    assert same.p_value == 1.0 and same.rank_biserial == 0.0 and same.median_diff == 0.0


def test_rank_biserial_and_holm_known():
    assert rank_biserial(np.array([1.0, 2.0, -3.0])) == pytest.approx((1 + 2 - 3) / 6)
    assert rank_biserial(np.array([1.0, 2.0])) == 1.0
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
