"""The metric catalogue: it covers what score_images produces, and a new metric is one record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils.metrics import catalog, score_images
from papseg_utils.metrics.catalog import (
    PER_IMAGE_COLUMNS,
    SCORING_COLUMNS,
    SUMMARY_COLUMNS,
    Metric,
    check_columns,
    headline_metrics,
    higher_is_better,
    metric_label,
    metric_names,
    metric_record,
    metric_values,
    summary_metrics,
)


def _pair() -> tuple[np.ndarray, np.ndarray]:
    """12x12 herlev3 masks: a 6x6 cytoplasm square shifted by 2 px, the nucleus missed."""
    truth = np.zeros((12, 12), np.uint8)
    truth[2:8, 2:8] = 1
    truth[9:11, 9:11] = 2
    pred = np.zeros_like(truth)
    pred[2:8, 4:10] = 1
    return pred, truth


def test_catalogue_covers_exactly_what_score_images_produces_in_its_order():
    pred, truth = _pair()
    df = score_images([pred], [truth], "herlev3", spacing_um=0.5)
    assert list(df.columns) == list(PER_IMAGE_COLUMNS)
    for cls in ("cytoplasm", "nucleus"):
        produced = df[df["class"] == cls]
        assert tuple(produced["metric"]) == metric_names()  # every metric once, catalogue order
        units = dict(zip(produced["metric"], produced["unit"], strict=True))
        for m in catalog.CATALOGUE:
            assert units[m.name] == ("um" if m.unit == "distance" else m.unit)


def test_helpers_read_the_records():
    assert metric_label("hd95") == "HD95" and metric_label("nsd") == "surface Dice (NSD)"
    assert higher_is_better("dice") and higher_is_better("bf1") and not higher_is_better("assd")
    with pytest.raises(ValueError, match="pixel count"):
        higher_is_better("tp")
    with pytest.raises(ValueError, match=r"unknown metric 'dsc'.*'dice'"):
        metric_record("dsc")
    assert summary_metrics() == ("dice", "iou", "hd95", "nsd", "bf1")
    assert headline_metrics() == ("dice", "iou", "hd95")
    assert metric_names("distance") == ("hd95", "hd", "assd")
    assert metric_names("count") == ("tp", "fp", "fn")
    assert metric_record("nsd").unit == "fraction" and metric_record("hd").unit == "distance"
    with pytest.raises(ValueError, match="kind"):
        Metric("x", "X", "area", True, False, False)


def test_summary_and_scoring_columns_are_the_declared_ones():
    from papseg_utils.evaluate import summary

    pred, truth = _pair()
    df = score_images([pred, truth], [truth, truth], "herlev3", names=["a", "b"])
    table = df.assign(scheme="herlev3", fold=0)[list(SCORING_COLUMNS)]
    out = summary(table, n_boot=50)
    assert tuple(out.columns) == SUMMARY_COLUMNS
    assert set(out["metric"]) == set(summary_metrics())
    cyto = out[(out["class"] == "cytoplasm") & (out.metric == "dice")].iloc[0]
    # image a: 24 of 36 px overlap each way -> Dice 24/36; image b: 1
    assert cyto["mean"] == pytest.approx((24 / 36 + 1) / 2) and cyto["n"] == 2


def test_check_columns_names_the_file_and_what_is_missing():
    t = pd.DataFrame({"image": ["a"], "class": ["nucleus"], "value": [1.0]})
    with pytest.raises(ValueError, match=r"runs/x.csv: missing column\(s\) \['metric', 'unit'"):
        check_columns(t, PER_IMAGE_COLUMNS, "runs/x.csv")
    full = t.assign(metric="dice", unit="fraction", empty_case="none", scheme="herlev3")
    assert check_columns(full, PER_IMAGE_COLUMNS, "ok") is full
    both = pd.concat([full, full.assign(scheme="paper_cells", value=0.5)])
    assert metric_values(both, "nucleus", "dice", "paper_cells").to_dict() == {"a": 0.5}


def _f2(tp, fp, fn):
    """F2 score: recall weighted four times precision, ``5 TP / (5 TP + 4 FN + FP)``."""
    from papseg_utils.metrics.overlap import _ratio

    return _ratio(5 * tp, 5 * tp + 4 * fn + fp)


def _hd_mean_directed(d, tolerance):
    """Mean of the two directed mean surface distances (an older ASSD)."""
    return float((d.pred_to_truth.mean() + d.truth_to_pred.mean()) / 2)


def test_a_new_metric_is_one_record_and_one_function(monkeypatch):
    """The worked example of docs/DEVELOPING.md: F2 (from counts) and a distance."""
    extra = (
        Metric("f2", "F2", "overlap", True, True, False, _f2),
        Metric("masd", "MASD", "distance", False, False, False, _hd_mean_directed),
    )
    monkeypatch.setattr(catalog, "CATALOGUE", catalog.CATALOGUE + extra)
    pred, truth = _pair()
    df = score_images([pred], [truth], "herlev3")
    v = df.set_index(["class", "metric"])["value"]
    # cytoplasm: tp 24, fp 12, fn 12 -> F2 = 120 / (120 + 48 + 12)
    assert v[("cytoplasm", "f2")] == pytest.approx(120 / 180)
    assert v[("cytoplasm", "masd")] > 0
    # nucleus missed: a distance gets the penalty (the image diagonal); F2 from the counts is 0
    assert v[("nucleus", "masd")] == pytest.approx(np.hypot(12, 12))
    assert v[("nucleus", "f2")] == 0.0
    assert "f2" in summary_metrics() and metric_label("masd") == "MASD"
    units = df.set_index(["class", "metric"])["unit"]
    assert units[("nucleus", "masd")] == "px" and units[("nucleus", "f2")] == "fraction"
