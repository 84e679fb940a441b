"""The book's figures are legible at the page width, and their titles stay off other panels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from papseg_utils import augment as au
from papseg_utils.data.herlev import CLASSES as HERLEV_CLASSES
from papseg_utils.data.synthetic import SyntheticConfig, generate_field, generate_samples
from papseg_utils.models import plots
from papseg_utils.viz import augment as vaug
from papseg_utils.viz.legibility import (
    MIN_TEXT_PX,
    min_text_px,
    page_scale,
    text_sizes,
    title_overlaps,
)
from papseg_utils.viz.samples import plot_scheme_swatches, plot_side_by_side, show_samples

RNG = np.random.default_rng(0)


def _field():
    image, mask, _ = generate_field(0, SyntheticConfig(image_size=64))
    return image, mask


def _gallery():
    samples = generate_samples(4, seed=0, config=SyntheticConfig(image_size=64))
    titles = [f"{s.name} ({s.group.replace('_', ' ')})" for s in samples]
    return show_samples([s.image for s in samples], [s.mask for s in samples], "paper", titles)


def _transforms():
    image, mask = _field()
    return vaug.show_transforms(image, mask, "paper", au.medical_transforms("medical"))


def _policy():
    image, mask = _field()
    return vaug.show_policy(image, mask, "paper", au.get_policy("medical", seed=0), n=8)


def _hue():
    image, mask = _field()
    return vaug.show_hue_shifts(image, mask, "paper")


def _erfs():
    names = "unet,attention_unet,deeplabv3plus,segformer,pvt_fpn,transunet,unetr".split(",")
    erfs = {n: RNG.random((32, 32)) for n in names}
    return plots.plot_erfs(erfs, dict.fromkeys(names, 10.0))


def _feature_maps():
    rows = {"ImageNet": RNG.random((16, 8, 8)), "random": RNG.random((16, 8, 8))}
    return plots.plot_feature_maps(np.zeros((32, 32, 3), np.uint8), rows, 4)


def _topk():
    table = pd.DataFrame({"name": ["tabby cat", "lynx"], "probability": [0.7, 0.1]})
    return plots.plot_topk(np.zeros((32, 32, 3), np.uint8), table, "a photo")


def _distill_losses():
    history = pd.DataFrame(
        {"step": [10, 20, 30], "kl": [30.2, 34.9, 29.8], "feature": [1.2, 1.1, 1.0]}
    )
    return plots.plot_distill_losses(history, "60 distillation steps (64 px, batch 16)")


def _side_by_side():
    cells = [[np.zeros((20, 30, 3), np.uint8)] * 4 for _ in HERLEV_CLASSES]
    return plot_side_by_side(cells, cells, list(HERLEV_CLASSES))


def _history():
    from papseg_utils.train.plots import plot_history

    rows = [
        {"epoch": e, "step": 12 * e, "train_loss": 1 / e, "val_loss": 1.2 / e,
         "val_mean_dice": 0.5, "encoder_frozen": e == 1, "lr_encoder": 1e-4, "lr_decoder": 1e-3,
         **{f"val_dice_{c}": 0.4 + 0.02 * e for c in ("healthy", "unhealthy", "rubbish", "both")}}
        for e in range(1, 21)
    ]  # fmt: skip
    return plot_history(pd.DataFrame(rows), "paper", title="unet (lite0, imagenet) on synthetic")


def _evaluated(n: int = 4):
    """Synthetic fields, predictions shifted by a few px (the first misses a class), their table."""
    from papseg_utils.metrics import score_images

    samples = generate_samples(n, seed=0, config=SyntheticConfig(image_size=64))
    images = {s.name: s.image for s in samples}
    masks = {s.name: s.mask for s in samples}
    preds = {s.name: np.roll(s.mask, 2 + i, axis=1) for i, s in enumerate(samples)}
    first = samples[0].name
    preds[first] = np.where(preds[first] == 2, 0, preds[first])  # an empty-class case
    names = list(images)
    df = score_images([preds[k] for k in names], [masks[k] for k in names], "paper", names=names)
    return images, masks, preds, df


def _predictions():
    from papseg_utils.train.plots import per_class_dice, plot_predictions

    images, masks, preds, _ = _evaluated()
    names = list(images)
    dice = [per_class_dice(preds[k], masks[k], "paper") for k in names]
    return plot_predictions([images[k] for k in names], [masks[k] for k in names],
                            [preds[k] for k in names], "paper", names=names, dice=dice)  # fmt: skip


def _worst_cases():
    from papseg_utils.viz.evaluation import plot_worst_cases

    images, masks, preds, df = _evaluated()
    return plot_worst_cases(images, masks, preds, df, "paper", metric="hd95", n=3)


def _error_grid():
    from papseg_utils.viz.evaluation import plot_error_grid

    images, masks, preds, _ = _evaluated(1)
    name = next(iter(images))
    return plot_error_grid(
        images[name], masks[name], preds[name], "paper", title=f"Errors on {name}"
    )


def _uncertainty():
    from papseg_utils.viz.evaluation import plot_uncertainty

    image, mask = _field()
    return plot_uncertainty(image, RNG.random(mask.shape), RNG.random(mask.shape), mask, "paper")


def _confusion():
    from papseg_utils.viz.evaluation import plot_confusion

    return plot_confusion(RNG.integers(1, 10_000, (5, 5)), "paper")


def _distributions():
    from papseg_utils.viz.evaluation import plot_metric_distributions

    *_, df = _evaluated()
    return plot_metric_distributions(df, "paper", metrics=("dice", "iou", "hd95", "nsd"))


def _empty_policy():
    from papseg_utils.viz.evaluation import empty_policy_example, plot_empty_policy

    return plot_empty_policy(empty_policy_example(n_images=10))


def _study_results() -> pd.DataFrame:
    """A results table of a small study: U-Nets (ImageNet, scratch) at four fractions, two seeds."""
    rows = []
    for pre in ("imagenet", "none"):
        for frac in (0.1, 0.25, 0.5, 1.0):
            for seed in (0, 1):
                run = f"unet_{pre}_f{frac}_s{seed}"
                for cls, base in (("nucleus", 0.85), ("cytoplasm", 0.75)):
                    for metric, unit in (("dice", "fraction"), ("hd95", "um"), ("nsd", "fraction")):
                        v = base + 0.05 * frac + (0.03 if pre == "imagenet" else 0.0)
                        v = 10 * (1 - v) if metric == "hd95" else v
                        rows.append({"run_id": run, "class": cls, "metric": metric,
                                     "aggregation": "image-mean", "value": v, "ci_low": 0.97 * v,
                                     "ci_high": 1.03 * v, "unit": unit, "scheme": "herlev3",
                                     "architecture": "attention_unet" if seed else "unet",
                                     "encoder": "tf_efficientnet_lite0", "pretrained": pre,
                                     "data_fraction": frac, "seed": seed,
                                     "augmentation": "medical"})  # fmt: skip
    return pd.DataFrame(rows)


def _forest():
    from papseg_utils.results import plot_forest

    rows = [
        {"comparison": name, "class": cls, "metric": metric, "mean_diff": d,
         "low": d - 0.02, "high": d + 0.02, "p_holm": 10 ** -k}
        for k, name in enumerate(["Attention U-Net", "DeepLabV3+", "PVTv2-b0 FPN (scratch)",
                                  "SegFormer-b0 (scratch)", "U-Net, seed 1"])
        for cls in ("cytoplasm", "nucleus")
        for metric, d in (("dice", -0.01 * k), ("hd95", 0.3 * k))
    ]  # fmt: skip
    return plot_forest(pd.DataFrame(rows), title="Against U-Net (lite0, ImageNet), seed 0")


def _data_efficiency():
    from papseg_utils.results import plot_data_efficiency

    return plot_data_efficiency(_study_results(), metric="dice")


def _leaderboard():
    from papseg_utils.results import plot_leaderboard

    return plot_leaderboard(_study_results(), metric="dice")


def _region_vs_boundary():
    from papseg_utils.results import plot_region_vs_boundary

    return plot_region_vs_boundary(_study_results(), region="dice", boundary="hd95")


FIGURES = {
    "ch1 scheme swatches": plot_scheme_swatches,
    "ch1 gallery": _gallery,
    "ch3 transforms": _transforms,
    "ch3 policy": _policy,
    "ch3 hue shifts": _hue,
    "ch4 top-k": _topk,
    "ch4 feature maps": _feature_maps,
    "ch4 distillation losses": _distill_losses,
    "ch2 side by side": _side_by_side,
    "ch5 architectures": plots.plot_architectures,
    "ch5 receptive fields": _erfs,
    "ch6 learning curves": _history,
    "ch6 predictions with Dice per class": _predictions,
    "ch7 confusion": _confusion,
    "ch7 metric distributions": _distributions,
    "ch7 empty-class policy": _empty_policy,
    "ch7 error maps": _error_grid,
    "ch7 worst cases": _worst_cases,
    "ch7 uncertainty": _uncertainty,
    "ch7 Dice vs HD95": lambda: __import__(
        "papseg_utils.viz.boundaries", fromlist=["x"]
    ).plot_dice_vs_hd95(),
    "ch7 HD vs HD95": lambda: __import__(
        "papseg_utils.viz.boundaries", fromlist=["x"]
    ).plot_hd_vs_hd95(),
    "ch8 forest plot": _forest,
    "ch8 data efficiency": _data_efficiency,
    "ch8 leaderboard": _leaderboard,
    "ch8 region vs boundary": _region_vs_boundary,
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_text_is_readable_on_the_page(name: str) -> None:
    fig = FIGURES[name]()
    try:
        small = [t for t in text_sizes(fig) if t.px < MIN_TEXT_PX]
        assert not small, f"{name}: text below {MIN_TEXT_PX} px on the page: {small[:5]}"
        assert not title_overlaps(fig), f"{name}: {title_overlaps(fig)}"
    finally:
        plt.close(fig)


def test_the_checks_catch_a_wide_figure_and_a_crowded_grid() -> None:
    wide, axes = plt.subplots(1, 3, figsize=(17, 3.8))
    for ax in axes:
        ax.set_title("a title", fontsize=8)
    assert min_text_px(wide) < 6  # 8 pt shrunk to a 700 px page
    crowded, axes = plt.subplots(2, 1, figsize=(3, 3))
    for ax in axes:
        ax.imshow(np.zeros((8, 8)))
    crowded.subplots_adjust(hspace=0.0)
    axes[1].set_title("runs into the panel above", fontsize=14)
    assert title_overlaps(crowded) == ["title 'runs into the panel above' overlaps panel 0"]
    plt.close("all")


@pytest.mark.parametrize("scheme", ["paper", "herlev3", "herlev5"])
def test_a_class_legend_never_widens_a_sample_figure_past_the_page(scheme: str) -> None:
    image, mask, _ = generate_field(0, SyntheticConfig(image_size=32), scheme=scheme)
    fig = show_samples([image], [mask], scheme, titles=[scheme], ncols=1, panel_size=3.2)
    try:
        assert page_scale(fig) == 1.0  # the tight PNG fits 700 px: nothing is shrunk
    finally:
        plt.close(fig)


def test_many_feature_maps_wrap_onto_lines_of_eight() -> None:
    """Chapter 4's exercise raises num_maps to 16: the channels wrap, their titles stay apart."""
    rows = {"ImageNet": RNG.random((16, 8, 8)), "random": RNG.random((16, 8, 8))}
    fig = plots.plot_feature_maps(np.zeros((32, 32, 3), np.uint8), rows, 4)
    try:
        titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("ch.")]
        assert titles == [f"ch. {k}" for k in range(1, 17)]
        assert len(fig.axes) == 4 * 9  # two sources x two lines x (input + 8 channels)
        assert page_scale(fig) == 1.0
    finally:
        plt.close(fig)
