"""Evaluation figures: they draw, carry titles and units, and the illustrations hold their numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from papseg_utils.metrics import confusion_matrix, score_images
from papseg_utils.viz.boundaries import (
    dice_vs_hd95_example,
    error_map,
    hd_vs_hd95_example,
    plot_contour_comparison,
    plot_dice_vs_hd95,
    plot_error_maps,
)
from papseg_utils.viz.evaluation import (
    empty_case_counts,
    empty_policy_example,
    plot_confusion,
    plot_error_grid,
    plot_metric_distributions,
    plot_uncertainty,
    plot_worst_cases,
    worst_cases,
    worst_image,
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
    df = score_images([pred, truth], [truth, truth], "herlev3", names=["a", "b"])
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


def test_worst_cases_can_leave_the_penalty_cases_out(pair):
    """An image that misses a class gets the penalty (image diagonal): first by construction."""
    img, truth, pred = pair
    missed = np.where(pred == 2, 0, pred)  # no nucleus predicted: pred_empty
    far = np.roll(truth, 6, axis=1)  # every class present, boundaries 6 px off
    df = score_images([missed, far, truth], [truth, truth, truth], "herlev3", names=["m", "f", "t"])
    penalty = worst_cases(df, "hd95", n=1).iloc[0]
    assert penalty["image"] == "m" and penalty["empty_case"] == "pred_empty"
    assert penalty["value"] == pytest.approx(np.hypot(32, 40))  # the image diagonal
    real = worst_cases(df, "hd95", n=2, with_empty=False)
    assert list(real["image"]) == ["f", "f"] and (real["empty_case"] == "none").all()
    assert worst_image(df) == "f" and worst_image(df, with_empty=True) == "m"
    counts = empty_case_counts(df, "hd95")
    assert counts.loc["nucleus"].tolist() == [3, 1, 0]  # scored, pred_empty, truth_empty
    assert counts.loc["cytoplasm"].tolist() == [3, 0, 0]
    fig = plot_worst_cases({"m": img, "f": img, "t": img}, {"m": truth, "f": truth, "t": truth},
                           {"m": missed, "f": far, "t": truth}, df, "herlev3", n=2)  # fmt: skip
    assert fig.get_suptitle() == "Worst 2 images by HD95; 1 empty-class case left out"
    captions = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert captions[0].startswith("1. f: ") and "px" in captions[0]
    plt.close(fig)


def test_error_grid_puts_two_classes_a_row(pair):
    img, truth, pred = pair
    fig = plot_error_grid(img, truth, pred, "paper", title="errors")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 4 and fig.get_suptitle() == "errors"
    assert shown[0].get_position().y0 > shown[2].get_position().y0  # 2 x 2, not 1 x 4
    plt.close(fig)


def test_worst_first_follows_the_catalogue_direction():
    """The smallest score and the largest distance are the worst; a partial table is refused."""
    rows = [("a", "nucleus", "dice", 0.9, "fraction", "none"),
            ("b", "nucleus", "dice", 0.4, "fraction", "none"),
            ("a", "nucleus", "assd", 1.0, "px", "none"),
            ("b", "nucleus", "assd", 7.0, "px", "none")]  # fmt: skip
    df = pd.DataFrame(rows, columns=["image", "class", "metric", "value", "unit", "empty_case"])
    assert list(worst_cases(df, "dice")["image"]) == ["b", "a"]
    assert list(worst_cases(df, "assd")["value"]) == [7.0, 1.0]
    with pytest.raises(ValueError, match="worst_cases: the table: missing column"):
        worst_cases(df.drop(columns="empty_case"), "dice")
