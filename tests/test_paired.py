"""The one paired comparison (metrics.stats.paired_differences) on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from papseg_utils import results as R
from papseg_utils.metrics.stats import (
    PAIRED_COLUMNS,
    bootstrap_mean_ci,
    holm,
    paired_differences,
    paired_test,
)


def test_paired_test_on_differences_one_to_four():
    b = np.zeros(4)
    a = np.array([1.0, 2.0, 3.0, 4.0])  # a - b = 1, 2, 3, 4
    res = paired_test(a, b, n_boot=500)
    assert res.n == 4 and res.mean_diff == 2.5 and res.median_diff == 2.5
    assert res.rank_biserial == 1.0  # every difference positive
    # exact two-sided Wilcoxon for n = 4, all ranks positive: 2 * (1 / 2**4)
    assert res.p_value == pytest.approx(0.125)
    assert res.p_value == pytest.approx(sps.wilcoxon(a - b).pvalue)
    assert (res.ci_low, res.ci_high) == bootstrap_mean_ci(a - b, n_boot=500)[1:]
    assert 1.0 <= res.ci_low < 2.5 < res.ci_high <= 4.0


def test_paired_test_matches_scipy_with_ties_and_negatives():
    d = np.array([0.5, -1.0, 2.0, 2.0, -0.25, 3.0, 1.5])
    res = paired_test(d, np.zeros_like(d))
    ref = sps.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    assert res.p_value == pytest.approx(ref.pvalue) and res.statistic == pytest.approx(
        ref.statistic
    )
    assert res.mean_diff == pytest.approx(d.mean()) and res.median_diff == 1.5
    same = paired_test(d, d.copy())
    assert same.p_value == 1.0 and same.mean_diff == 0.0 and same.ci_low == same.ci_high == 0.0
    assert paired_test([np.nan], [1.0]).n == 0


def test_holm_on_known_p_values():
    # sorted: 0.005 * 4, 0.01 * 3, 0.03 * 2, 0.04 * 1 -> 0.02, 0.03, 0.06, max(0.04, 0.06)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.2]), [0.2])


def _values() -> pd.DataFrame:
    """Two groups; group x has one image scored by A only and one by B only (NaN)."""
    return pd.DataFrame(
        {
            "comparison": ["x"] * 4 + ["y"] * 5,
            "a": [0.5, 0.7, np.nan, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            "b": [0.6, 0.9, 0.8, np.nan, 1.5, 2.0, 3.5, 5.0, 5.5],
        }
    )


def test_paired_differences_uses_the_images_both_arms_scored():
    out = paired_differences(_values(), ["comparison"], n_boot=300, seed=0)
    assert list(out.columns) == ["comparison", *PAIRED_COLUMNS]
    x, y = out.iloc[0], out.iloc[1]
    assert x.comparison == "x" and x.n == 2  # the NaN rows of A and of B are left out
    assert x.mean_a == pytest.approx(0.6) and x.mean_b == pytest.approx(0.75)  # same images
    assert x.mean_diff == pytest.approx(0.15) and x.median_diff == pytest.approx(0.15)
    assert y.n == 5 and y.mean_diff == pytest.approx(0.5) and y.median_diff == pytest.approx(0.5)
    np.testing.assert_allclose(out.p_holm, holm(out.p_value))
    # each group draws its resamples from a generator seeded afresh: its own interval
    first = bootstrap_mean_ci(np.array([0.1, 0.2]), n_boot=300, seed=0)
    second = bootstrap_mean_ci(np.array([0.5, 0.0, 0.5, 1.0, 0.5]), n_boot=300, seed=0)
    assert (x.low, x.high) == pytest.approx(first[1:]) and (y.low, y.high) == pytest.approx(
        second[1:]
    )


def test_a_groups_interval_does_not_move_when_other_groups_are_added():
    values = _values()
    alone = paired_differences(values[values.comparison == "y"], ["comparison"], n_boot=300)
    extra = pd.DataFrame({"comparison": "w", "a": np.linspace(0, 1, 9), "b": np.linspace(1, 0, 9)})
    grown = paired_differences(pd.concat([extra, values]), ["comparison"], n_boot=300)
    y = grown[grown.comparison == "y"].iloc[0]
    assert (y.low, y.high) == (alone.low.iloc[0], alone.high.iloc[0])
    assert y.p_holm >= alone.p_holm.iloc[0]  # Holm still corrects over the rows of its table


def _table(values: dict[str, float], cls: str = "nucleus") -> pd.DataFrame:
    return pd.DataFrame([{"image": k, "class": cls, "metric": "dice", "value": v,
                          "scheme": "herlev3"} for k, v in values.items()])  # fmt: skip


def test_paired_gains_is_a_selector_of_paired_differences():
    a = _table({"i": 0.5, "j": 0.7, "k": np.nan, "l": 0.2})
    b = _table({"i": 0.6, "j": 0.9, "k": 0.8})
    gains = R.paired_gains({"A": a, "B": b}, [("B vs A", "A", "B")],
                           keys=[("herlev3", "nucleus", "dice")], n_boot=300)  # fmt: skip
    values = pd.DataFrame({"comparison": "B vs A", "taxonomy": "herlev3", "class": "nucleus",
                           "metric": "dice", "a": [0.5, 0.7], "b": [0.6, 0.9]})  # fmt: skip
    ref = paired_differences(values, ["comparison", "taxonomy", "class", "metric"], n_boot=300)
    pd.testing.assert_frame_equal(gains, ref)
    assert gains.n.iloc[0] == 2 and gains.mean_a.iloc[0] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="unique"):
        R.paired_gains({"A": a, "B": b}, [("c", "A", "B"), ("c", "B", "A")])


def _cases(values: dict[str, tuple[float, str]], metric: str = "dice") -> pd.DataFrame:
    return pd.DataFrame([{"image": k, "class": "healthy", "metric": metric, "value": v,
                          "empty_case": case, "scheme": "paper_cells"}
                         for k, (v, case) in values.items()])  # fmt: skip


def test_a_correct_empty_answer_is_kept_at_the_perfect_value():
    from papseg_utils.metrics.catalog import metric_pairs, perfect_value

    nan = np.nan
    # i: both arms scored; j: A rightly predicts no healthy cell, B wrongly does (Dice 0);
    # k: both rightly empty (dropped); l: a NaN of the "nan" empty policy stays NaN
    a = _cases({"i": (0.8, "none"), "j": (nan, "both_empty"), "k": (nan, "both_empty"),
                "l": (nan, "pred_empty")})  # fmt: skip
    b = _cases({"i": (0.6, "none"), "j": (0.0, "truth_empty"), "k": (nan, "both_empty"),
                "l": (0.5, "none")})  # fmt: skip
    pairs = metric_pairs(a, b, "healthy", "dice", "paper_cells")
    assert pairs.loc["j"].tolist() == [1.0, 0.0]
    assert pairs.loc["k"].isna().all() and np.isnan(pairs.loc["l", "a"])
    gains = R.paired_gains({"A": a, "B": b}, [("B vs A", "A", "B")],
                           keys=[("paper_cells", "healthy", "dice")], n_boot=200)  # fmt: skip
    assert gains.n.iloc[0] == 2  # i and j: B's false healthy cell on j counts against it
    assert gains.mean_diff.iloc[0] == pytest.approx(((0.6 - 0.8) + (0.0 - 1.0)) / 2)
    assert perfect_value("dice") == 1.0 and perfect_value("hd95") == 0.0
    with pytest.raises(ValueError, match="pixel count"):
        perfect_value("tp")


def test_study_pairs_treat_a_correct_empty_answer_alike():
    from papseg_utils.results.study import per_image_values

    nan = np.nan
    rows = []
    for run, vals in {"a1": {"i": (0.8, "none"), "j": (nan, "both_empty"), "k": (nan, "both_empty")},
                      "a2": {"i": (0.6, "none"), "j": (0.0, "truth_empty"), "k": (nan, "both_empty")}}.items():  # fmt: skip
        rows += [r | {"run_id": run} for r in _cases(vals).to_dict("records")]
    table = pd.DataFrame(rows)
    both = per_image_values(table, ["a1", "a2"], "dice", "healthy", empty_as_perfect=True)
    assert both["i"] == pytest.approx(0.7) and both["j"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert np.isnan(both["k"])  # every run rightly empty: no value
    plain = per_image_values(table, ["a1", "a2"], "dice", "healthy")
    assert list(plain.index) == ["i"]  # the old reading drops j and k
