"""Figures of a training run: per-class Dice under the predictions of the fine-tuning chapter."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from papseg_utils.train.plots import per_class_dice, plot_predictions

matplotlib.use("Agg")


def _pair() -> tuple[np.ndarray, np.ndarray]:
    """Truth: a healthy cell (16 px) and a rubbish speck (1 px); the prediction misses the speck."""
    mask = np.zeros((8, 8), dtype=np.int64)
    mask[:4, :4] = 1
    mask[7, 7] = 3
    mask[0, 7] = 255  # ignored
    pred = np.zeros_like(mask)
    pred[:4, :4] = 1
    pred[0, 7] = 2  # on an ignored pixel: not counted
    return pred, mask


def test_per_class_dice_scores_each_class_and_leaves_absent_ones_out():
    pred, mask = _pair()
    dice = per_class_dice(pred, mask, "paper")
    assert list(dice) == ["healthy", "unhealthy", "rubbish", "both"]
    assert dice["healthy"] == 1.0 and dice["rubbish"] == 0.0
    assert np.isnan(dice["unhealthy"]) and np.isnan(dice["both"])


def test_prediction_panels_show_dice_per_class_and_their_mean():
    pred, mask = _pair()
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    dice = per_class_dice(pred, mask, "paper")
    fig = plot_predictions([image], [mask], [pred], "paper", names=["a"], dice=[dice])
    text = fig.axes[2].get_xlabel()
    assert "healthy 1.00" in text and "rubbish 0.00" in text and "both –" in text
    assert text.endswith("mean of the scored classes 0.50")
    assert "per class" in fig._suptitle.get_text()
    plain = plot_predictions([image], [mask], [pred], "paper", names=["a"], dice=[0.5])
    assert plain.axes[0].get_ylabel() == "a\nDice 0.50"


def test_mismatched_lengths_are_refused():
    pred, mask = _pair()
    with pytest.raises(ValueError, match="equally many"):
        plot_predictions([np.zeros((8, 8, 3), np.uint8)], [mask, mask], [pred], "paper")
