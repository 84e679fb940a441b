"""Reading evaluate folders: targets, side-by-side tables, paired gains, per-class breakdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils import results as R


def _per_image(shift: float, n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        name = f"{'normal_columnar' if i % 2 else 'carcinoma_in_situ'}/{i:03d}"
        base = rng.uniform(0.8, 0.95)
        for scheme, cls, metric, value in (
            ("herlev3", "nucleus", "dice", base + shift),
            ("herlev3", "cytoplasm", "dice", base - 0.05 + shift),
            ("herlev3", "nucleus", "hd95", 3.0 - 10 * shift + (i % 3)),
        ):
            rows.append(
                {"image": name, "class": cls, "metric": metric, "value": value, "scheme": scheme}
            )
    return pd.DataFrame(rows)


def _summary(mean: float, median: float = np.nan) -> pd.DataFrame:
    return pd.DataFrame([
        {"scheme": "herlev3", "class": "nucleus", "metric": "dice", "mean": mean, "low": mean - 0.01,
         "high": mean + 0.01, "median": mean, "micro": mean},
        {"scheme": "herlev3", "class": "nucleus", "metric": "hd95", "mean": 3.0, "low": 2.5,
         "high": 3.5, "median": median, "micro": np.nan},
    ])  # fmt: skip


def test_cv_targets_report_value_interval_and_gap():
    t = R.cv_targets(_summary(0.96, median=1.5)).set_index("target")
    nucleus = t.loc["nucleus Dice (mean)"]
    assert (
        nucleus.met and nucleus.value == pytest.approx(0.96) and nucleus.gap == pytest.approx(0.005)
    )
    assert nucleus.low == pytest.approx(0.95)
    hd = t.loc["nucleus HD95 (median)"]
    assert (
        hd.met and hd.gap == pytest.approx(0.5) and np.isnan(hd.low)
    )  # a median has no interval here
    assert not t.loc["cytoplasm Dice (mean)"].met and np.isnan(t.loc["cytoplasm Dice (mean)"].value)
    missed = R.cv_targets(_summary(0.94, median=2.5)).set_index("target")
    assert not missed.loc["nucleus Dice (mean)"].met
    assert missed.loc["nucleus Dice (mean)"].gap == pytest.approx(-0.015)
    assert missed.loc["nucleus HD95 (median)"].gap == pytest.approx(-0.5)


def test_scoring_table_puts_scorings_side_by_side():
    table = R.scoring_table({"A": _summary(0.9, 2.0), "B": _summary(0.95, 1.0)})
    assert list(table.columns) == ["A", "B"]
    assert table.loc[("herlev3", "nucleus", "Dice"), "B"] == "0.950 [0.940, 0.960]"
    assert table.loc[("herlev3", "nucleus", "HD95 (px)"), "A"].endswith("median 2.00")
    assert table.loc[("herlev3", "cytoplasm", "Dice"), "A"] == ""  # not scored


def test_paired_gains_see_a_real_shift_and_not_a_null_one():
    a, b, same = _per_image(0.0), _per_image(0.02), _per_image(0.0)
    b["value"] += np.random.default_rng(1).normal(0, 0.005, len(b))  # gains vary per image
    gains = R.paired_gains({"a": a, "b": b, "same": same}, [("b vs a", "a", "b"), ("null", "a", "same")],
                           keys=[("herlev3", "nucleus", "dice"), ("herlev3", "nucleus", "hd95")])  # fmt: skip
    g = gains.set_index(["comparison", "metric"])
    assert g.loc[("b vs a", "dice"), "mean_diff"] == pytest.approx(0.02, abs=0.003)
    assert g.loc[("b vs a", "dice"), "low"] <= 0.02 <= g.loc[("b vs a", "dice"), "high"]
    assert g.loc[("b vs a", "dice"), "p_holm"] < 0.05 and g.loc[("b vs a", "hd95"), "mean_diff"] < 0
    assert g.loc[("null", "dice"), "mean_diff"] == 0 and g.loc[("null", "dice"), "p_value"] == 1.0
    assert (gains.n == 30).all()


def test_by_group_averages_per_diagnostic_class():
    t = R.by_group(_per_image(0.0))
    assert list(t.index) == ["carcinoma_in_situ", "normal_columnar"]
    assert (t["images"] == 15).all() and {"nucleus", "cytoplasm"} <= set(t.columns)


def test_scoring_means_is_a_narrow_table_of_numbers():
    table = R.scoring_means(
        {"A": _summary(0.9, 2.0), "B": _summary(0.95, 1.0)},
        rows=[("herlev3", "nucleus", "dice", "mean"), ("herlev3", "nucleus", "hd95", "median"),
              ("herlev3", "cytoplasm", "dice", "mean")],
    )  # fmt: skip
    assert list(table.columns) == ["A", "B"]
    assert table.loc["nucleus Dice (mean)", "B"] == 0.95
    assert table.loc["nucleus HD95 (median)", "A"] == 2.0
    assert np.isnan(table.loc["cytoplasm Dice (mean)", "A"])
