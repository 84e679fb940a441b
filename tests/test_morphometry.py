"""Cell measurements at true scale, and the cross-validated call made from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils.evaluate.morphometric_head import cross_validated_calls
from papseg_utils.metrics.morphometry import MEASUREMENTS, cell_measurements, measurement_table


def _cell(size=40, nucleus=(10, 20), cyto=(0, 40)):
    """A square cell: cytoplasm over ``cyto`` rows/cols, a square nucleus over ``nucleus``."""
    m = np.zeros((size, size), np.uint8)
    m[cyto[0] : cyto[1], cyto[0] : cyto[1]] = 1
    m[nucleus[0] : nucleus[1], nucleus[0] : nucleus[1]] = 2
    return m


def test_areas_scale_with_the_square_of_the_pixel_size():
    m = _cell()  # 10 x 10 nucleus, 40 x 40 cell
    at_half = cell_measurements(m, 0.5)
    assert at_half["nucleus_area_um2"] == pytest.approx(100 * 0.25)
    assert at_half["cytoplasm_area_um2"] == pytest.approx((1600 - 100) * 0.25)
    assert at_half["nc_ratio"] == pytest.approx(100 / 1600)
    assert cell_measurements(m, 1.0)["nucleus_area_um2"] == pytest.approx(100.0)
    assert cell_measurements(m, 0.5)["nc_ratio"] == cell_measurements(m, 1.0)["nc_ratio"]


def test_a_disc_is_rounder_than_a_sliver_and_components_are_counted():
    yy, xx = np.mgrid[:64, :64]
    disc = np.where((yy - 32) ** 2 + (xx - 32) ** 2 <= 15**2, 2, 1).astype(np.uint8)
    sliver = np.ones((64, 64), np.uint8)
    sliver[30:33, 5:60] = 2
    r_disc = cell_measurements(disc, 0.2)["nucleus_roundness"]
    r_sliver = cell_measurements(sliver, 0.2)["nucleus_roundness"]
    assert r_disc > 0.85 and r_sliver < 0.3
    two = _cell()
    two[30:35, 30:35] = 2
    assert cell_measurements(two, 0.2)["nucleus_components"] == 2


def test_no_nucleus_and_no_cell_give_nan_not_zero_division():
    empty = np.zeros((8, 8), np.uint8)
    got = cell_measurements(empty, 0.2)
    assert got["nucleus_area_um2"] == 0 and got["nucleus_components"] == 0
    assert np.isnan(got["nc_ratio"]) and np.isnan(got["nucleus_roundness"])


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_bad_pixel_size_is_refused(bad):
    with pytest.raises(ValueError, match="pixel_size_um"):
        cell_measurements(_cell(), bad)


def test_table_has_one_row_per_image_in_order():
    t = measurement_table({"b": _cell(), "a": _cell(nucleus=(5, 25))}, 1.0)
    assert list(t.index) == ["b", "a"] and list(t.columns) == list(MEASUREMENTS)
    assert t.loc["a", "nucleus_area_um2"] == 400


def test_calls_are_out_of_fold_and_separate_a_separable_set():
    rng = np.random.default_rng(0)
    n = 60
    unhealthy = pd.Series(np.arange(n) % 2 == 1, index=[f"i{k}" for k in range(n)])
    table = pd.DataFrame(
        {
            "nucleus_area_um2": np.where(unhealthy, 80.0, 20.0) + rng.normal(0, 2, n),
            "cytoplasm_area_um2": 500 + rng.normal(0, 20, n),
            "nc_ratio": np.where(unhealthy, 0.4, 0.05),
            "nucleus_roundness": np.r_[np.nan, rng.uniform(0.7, 0.9, n - 1)],
        },
        index=unhealthy.index,
    )
    folds = pd.Series(np.arange(n) % 3, index=unhealthy.index)
    p = cross_validated_calls(table, unhealthy, folds)
    assert ((p > 0.5) == unhealthy).all()
    # a label flip inside fold 0 changes fold 0's training data only for the other folds
    flipped = unhealthy.copy()
    flipped.iloc[0] = not flipped.iloc[0]
    p2 = cross_validated_calls(table, flipped, folds)
    assert np.allclose(p2[folds == 0], p[folds == 0])
    assert not np.allclose(p2[folds != 0], p[folds != 0])


def test_a_fold_whose_others_hold_one_class_is_refused():
    idx = ["a", "b", "c"]
    table = pd.DataFrame({"nucleus_area_um2": [1.0, 2.0, 3.0]}, index=idx)
    truth = pd.Series([False, False, True], index=idx)
    folds = pd.Series([0, 0, 1], index=idx)
    with pytest.raises(ValueError, match="only one class"):
        cross_validated_calls(table, truth, folds, columns=("nucleus_area_um2",))
