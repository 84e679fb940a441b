"""Evaluation figures: they draw, carry titles and units, and the illustrations hold their numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from papseg_utils.metrics import confusion_matrix, evaluate
from papseg_utils.viz.boundaries import (
    dice_vs_hd95_example,
    error_map,
    hd_vs_hd95_example,
    plot_contour_comparison,
    plot_dice_vs_hd95,
    plot_error_maps,
)
from papseg_utils.viz.evaluation import (
    empty_policy_example,
    plot_confusion,
    plot_metric_distributions,
    plot_uncertainty,
    plot_worst_cases,
    worst_cases,
)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    truth = np.zeros((32, 40), np.uint8)
    truth[5:20, 5:20] = 1
    truth[8:12, 8:12] = 2
    pred = np.roll(truth, 2, axis=1)
    return img, truth, pred


def test_illustrations_hold_their_claims():
    ex = dice_vs_hd95_example()
    assert ex["metrics"]["near"]["dice"] == ex["metrics"]["far"]["dice"]
    assert ex["metrics"]["far"]["hd95"] > 10 * ex["metrics"]["near"]["hd95"]
    ex2 = hd_vs_hd95_example()
    assert ex2["metrics"]["outlier"]["hd95"] == ex2["metrics"]["clean"]["hd95"]
    assert ex2["metrics"]["outlier"]["hd"] > 20 * ex2["metrics"]["clean"]["hd"]
    t = empty_policy_example(n_images=10).set_index(["missed", "policy"])["mean_hd95_px"]
    assert t[(8, "nan")] < t[(0, "nan")] < t[(8, "penalty")]  # the MONAI #9095 effect


def test_error_map_codes(pair):
    _, truth, pred = pair
    em = error_map(truth, pred, 1)
    assert (em == 2).sum() == ((pred == 1) & (truth != 1)).sum()
    assert (em == 3).sum() == ((truth == 1) & (pred != 1)).sum()


def test_figures_draw_with_titles_and_units(pair):
    img, truth, pred = pair
    df = evaluate([pred, truth], [truth, truth], "herlev3", names=["a", "b"])
    figs = [
        plot_contour_comparison(img, truth, pred, "herlev3"),
        plot_error_maps(img, truth, pred, "herlev3"),
        plot_confusion(confusion_matrix(pred, truth, 3), "herlev3"),
        plot_metric_distributions(df, "herlev3"),
        plot_worst_cases(
            {"a": img, "b": img},
            {"a": truth, "b": truth},
            {"a": pred, "b": truth},
            df,
            "herlev3",
            n=2,
        ),
        plot_uncertainty(img, np.zeros((32, 40)), np.zeros((32, 40)), truth, "herlev3"),
        plot_dice_vs_hd95(),
    ]
    dist = figs[3]
    assert any(ax.get_ylabel() == "HD95 (px)" for ax in dist.axes)
    assert worst_cases(df, "hd95", n=1)["image"].iloc[0] == "a"
    for fig in figs:
        titled = fig.get_suptitle() or any(ax.get_title() for ax in fig.axes)
        assert titled
        plt.close(fig)
