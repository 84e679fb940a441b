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


def _side_by_side():
    cells = [[np.zeros((20, 30, 3), np.uint8)] * 4 for _ in HERLEV_CLASSES]
    return plot_side_by_side(cells, cells, list(HERLEV_CLASSES))


FIGURES = {
    "ch1 scheme swatches": plot_scheme_swatches,
    "ch1 gallery": _gallery,
    "ch3 transforms": _transforms,
    "ch3 policy": _policy,
    "ch3 hue shifts": _hue,
    "ch4 top-k": _topk,
    "ch4 feature maps": _feature_maps,
    "ch2 side by side": _side_by_side,
    "ch5 architectures": plots.plot_architectures,
    "ch5 receptive fields": _erfs,
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
