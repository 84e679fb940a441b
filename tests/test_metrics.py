"""Overlap metrics, the tidy evaluation table, empty-class policies, reductions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils.labels import IGNORE_INDEX
from papseg_utils.metrics import (
    average,
    class_counts,
    confusion_matrix,
    dice_score,
    iou_score,
    score_images,
)


def label_pair() -> tuple[np.ndarray, np.ndarray]:
    """10x10 herlev3 masks: cytoplasm 4x4 squares one px apart, nucleus identical."""
    truth = np.zeros((10, 10), np.uint8)
    truth[2:6, 2:6] = 1
    truth[7:9, 7:9] = 2
    pred = np.zeros((10, 10), np.uint8)
    pred[2:6, 3:7] = 1
    pred[7:9, 7:9] = 2
    return pred, truth


def value(df: pd.DataFrame, cls: str, metric: str, image: str = "0") -> float:
    sel = df[(df["image"] == image) & (df["class"] == cls) & (df["metric"] == metric)]
    assert len(sel) == 1
    return float(sel["value"].iloc[0])


def test_confusion_and_counts_known():
    pred, truth = label_pair()
    cm = confusion_matrix(pred, truth, 3)
    assert cm[1, 1] == 12 and cm[1, 0] == 4 and cm[0, 1] == 4 and cm[2, 2] == 4
    assert cm.sum() == 100
    c = class_counts(cm)
    assert (
        c["tp"].tolist() == [76, 12, 4]
        and c["fp"].tolist() == [4, 4, 0]
        and c["fn"].tolist() == [4, 4, 0]
    )


def test_dice_iou_known():
    pred, truth = label_pair()
    assert dice_score(pred == 1, truth == 1) == 0.75  # 2*12 / (16 + 16)
    assert iou_score(pred == 1, truth == 1) == 0.6  # 12 / 20
    assert np.isnan(dice_score(np.zeros((3, 3)), np.zeros((3, 3))))


def test_evaluate_tidy_known_values():
    pred, truth = label_pair()
    df = score_images([pred], [truth], "herlev3")
    assert list(df.columns) == ["image", "class", "metric", "value", "unit", "empty_case"]
    assert set(df["class"]) == {"cytoplasm", "nucleus"}  # background excluded by default
    assert value(df, "cytoplasm", "dice") == 0.75
    assert value(df, "cytoplasm", "iou") == 0.6
    assert value(df, "cytoplasm", "hd95") == 1.0
    assert value(df, "cytoplasm", "assd") == 0.5
    assert value(df, "nucleus", "dice") == 1.0
    assert value(df, "nucleus", "hd95") == 0.0
    assert df.loc[df.metric == "hd95", "unit"].unique().tolist() == ["px"]
    um = score_images([pred], [truth], "herlev3", spacing_um=0.201)
    assert value(um, "cytoplasm", "hd95") == pytest.approx(0.201)
    assert um.loc[um.metric == "hd95", "unit"].unique().tolist() == ["um"]


def test_empty_cases_penalty_policy():
    truth = np.zeros((30, 40), np.uint8)
    truth[5:10, 5:10] = 1  # cytoplasm present, nucleus absent
    pred = np.zeros_like(truth)  # misses the cytoplasm ...
    pred[20:22, 20:22] = 2  # ... and invents a nucleus
    df = score_images([pred, truth], [truth, truth], "herlev3", names=["bad", "good"])
    diag = 50.0  # hypot(30, 40)
    assert value(df, "cytoplasm", "dice", "bad") == 0
    assert value(df, "cytoplasm", "hd95", "bad") == diag
    assert value(df, "cytoplasm", "nsd", "bad") == 0
    assert np.isnan(value(df, "cytoplasm", "precision", "bad"))
    assert value(df, "nucleus", "dice", "bad") == 0
    assert value(df, "nucleus", "hd", "bad") == diag
    assert value(df, "nucleus", "precision", "bad") == 0
    cases = df[df.metric == "dice"].set_index(["image", "class"])["empty_case"]
    assert cases[("bad", "cytoplasm")] == "pred_empty"
    assert cases[("bad", "nucleus")] == "truth_empty"
    assert cases[("good", "nucleus")] == "both_empty"
    assert np.isnan(value(df, "nucleus", "dice", "good"))  # both empty: excluded
    s = average(df).set_index(["class", "metric"])
    assert s.loc[("nucleus", "dice"), "n"] == 1 and s.loc[("nucleus", "dice"), "n_nan"] == 1
    assert s.loc[("nucleus", "dice"), "n_both_empty"] == 1
    assert s.loc[("nucleus", "dice"), "n_truth_empty"] == 1
    assert s.loc[("cytoplasm", "hd95"), "value"] == pytest.approx(diag / 2)  # (50 + 0) / 2
    custom = score_images([pred], [truth], "herlev3", penalty=7.0)
    assert value(custom, "cytoplasm", "hd95") == 7.0


def test_nan_policy_drops_missed_classes():
    truth = np.zeros((30, 40), np.uint8)
    truth[5:10, 5:10] = 1
    pred = np.zeros_like(truth)
    df = score_images(
        [pred, truth], [truth, truth], "herlev3", empty_policy="nan", names=["bad", "good"]
    )
    assert value(df, "cytoplasm", "dice", "bad") == 0  # Dice stays defined
    assert np.isnan(value(df, "cytoplasm", "hd95", "bad"))
    s = average(df).set_index(["class", "metric"])
    assert s.loc[("cytoplasm", "hd95"), "value"] == 0.0  # the miss vanished from the mean
    assert s.loc[("cytoplasm", "hd95"), "n_pred_empty"] == 1


def test_ignore_pixels_are_excluded():
    pred, truth = label_pair()
    masked = truth.copy()
    masked[:, 6] = IGNORE_INDEX  # the column where the prediction overshoots
    masked[:, 2] = IGNORE_INDEX  # and where it falls short
    df = score_images([pred], [masked], "herlev3")
    assert value(df, "cytoplasm", "dice") == 1.0
    assert value(df, "cytoplasm", "hd95") == 0.0


def test_summarise_micro_differs_from_image_mean():
    big_t = np.zeros((20, 20), np.uint8)
    big_t[:10, :10] = 1
    big_p = big_t.copy()
    small_t = np.zeros((20, 20), np.uint8)
    small_t[0, 0:2] = 1
    small_p = np.zeros_like(small_t)
    small_p[0, 0] = 1
    small_p[5, 5] = 1
    df = score_images([big_p, small_p], [big_t, small_t], "herlev3", surface=False)
    img = average(df, "image").set_index(["class", "metric"])
    mic = average(df, "micro").set_index(["class", "metric"])
    assert img.loc[("cytoplasm", "dice"), "value"] == pytest.approx((1.0 + 0.5) / 2)
    assert mic.loc[("cytoplasm", "dice"), "value"] == pytest.approx(2 * 101 / (2 * 101 + 1 + 1))
    assert img.loc[("cytoplasm", "dice"), "reduction"] == "image"
    assert mic.loc[("macro", "dice"), "reduction"] == "micro+macro"


def test_bad_inputs_raise_clear_errors():
    pred, truth = label_pair()
    with pytest.raises(ValueError, match="differ in shape"):
        score_images([pred[:5]], [truth], "herlev3")
    with pytest.raises(ValueError, match="not in scheme"):
        score_images([pred + 5], [truth], "herlev3")
    with pytest.raises(ValueError, match="empty_policy"):
        score_images([pred], [truth], "herlev3", empty_policy="drop")
