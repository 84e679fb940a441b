"""The committed morphometric-head results say what their files hold (no Herlev needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papseg_utils.evaluate import health_truth
from papseg_utils.metrics.morphometry import MEASUREMENTS

RESULTS = Path(__file__).resolve().parents[1] / "results" / "herlev-morphometric-head"


@pytest.fixture(scope="module")
def files():
    return {
        "head": pd.read_csv(RESULTS / "image_head.csv").set_index("arm"),
        "calls": pd.read_csv(RESULTS / "calls.csv", index_col=0),
        "measures": pd.read_csv(RESULTS / "measurements.csv", index_col=0),
        "by_class": pd.read_csv(RESULTS / "by_diagnosis.csv", index_col=0),
    }


def test_every_image_once_with_both_measurement_sets(files):
    m = files["measures"]
    assert len(m) == 731 and m.index.is_unique
    for src in ("pred", "truth"):
        assert {f"{src}_{k}" for k in MEASUREMENTS} <= set(m.columns)
    assert sorted(m.fold.unique()) == [0, 1, 2, 3, 4]
    assert list(files["calls"].index) == list(m.index)


def test_rates_are_recomputed_from_the_calls(files):
    truth = health_truth(files["measures"].group).astype(bool)
    for arm, row in files["head"].iterrows():
        called = files["calls"][arm] > 0.5
        assert row.accuracy == pytest.approx((called == truth).mean())
        assert row.sensitivity == pytest.approx(called[truth].mean())
        assert row.specificity == pytest.approx((~called[~truth]).mean())
        assert row.accuracy_low <= row.accuracy <= row.accuracy_high


def test_per_class_shares_add_up_to_the_accuracy(files):
    b = files["by_class"]
    assert b.images.sum() == 731
    for arm in files["head"].index:
        weighted = float(np.average(b[arm], weights=b.images))
        assert weighted == pytest.approx(files["head"].loc[arm, "accuracy"])


def test_the_image_head_arm_is_the_cvs_own_head(files):
    labels = pd.read_csv(RESULTS.parent / "herlev-scale-true-cv" / "image_labels.csv")
    p = labels.set_index("image").p_unhealthy.loc[files["calls"].index]
    assert np.allclose(p.to_numpy(), files["calls"]["image_head"].to_numpy())
