"""Four-class mask reconstruction from boxes: known answers on drawn cells."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from papseg_utils.data.apacc import Box
from papseg_utils.data.paper_masks import PaperMaskConfig, box_foreground, build_paper_mask
from papseg_utils.data.registry import load_dataset
from papseg_utils.labels import IGNORE_INDEX, PAPER

ID = PAPER.ids
H = W = 120


def two_cells():
    """Two overlapping dark discs on a pale background, and their binary cell mask."""
    image = np.full((H, W, 3), 235, np.uint8)
    cells = np.zeros((H, W), np.uint8)
    for cx in (45, 75):
        cv2.circle(cells, (cx, 60), 22, 1, -1)
    image[cells > 0] = (90, 110, 170)
    return image, cells


HEALTHY = Box("healthy", 20, 35, 68, 85)
UNHEALTHY = Box("unhealthy", 52, 35, 100, 85)


def test_overlap_of_healthy_and_unhealthy_boxes_is_both_exactly():
    image, cells = two_cells()
    mask = build_paper_mask(image, [HEALTHY, UNHEALTHY], cell_mask=cells)
    fg = cells > 0
    in_h = np.zeros((H, W), bool)
    in_h[35:85, 20:68] = True
    in_u = np.zeros((H, W), bool)
    in_u[35:85, 52:100] = True
    expected = np.zeros((H, W), np.uint8)
    expected[fg & in_h] = ID["healthy"]
    expected[fg & in_u] = ID["unhealthy"]
    expected[fg & in_h & in_u] = ID["both"]
    np.testing.assert_array_equal(mask, expected)
    assert (mask == ID["both"]).sum() == (fg & in_h & in_u).sum() > 0


def test_overlap_label_is_a_parameter():
    image, cells = two_cells()
    cfg = PaperMaskConfig(overlap_label="unhealthy")
    mask = build_paper_mask(image, [HEALTHY, UNHEALTHY], cell_mask=cells, config=cfg)
    assert ID["both"] not in mask
    assert mask[60, 60] == ID["unhealthy"]


def test_bothcells_box_paints_both_and_background_stays_background():
    image, cells = two_cells()
    mask = build_paper_mask(image, [Box("bothcells", 20, 35, 100, 85)], cell_mask=cells)
    np.testing.assert_array_equal(mask == ID["both"], cells > 0)
    assert (mask[cells == 0] == 0).all()


def test_rubbish_priority():
    image, cells = two_cells()
    boxes = [HEALTHY, Box("rubbish", 30, 50, 40, 70)]
    cells_win = build_paper_mask(image, boxes, cell_mask=cells)
    rubbish_wins = build_paper_mask(
        image, boxes, cell_mask=cells, config=PaperMaskConfig(rubbish_wins=True)
    )
    assert cells_win[60, 35] == ID["healthy"]
    assert rubbish_wins[60, 35] == ID["rubbish"]
    alone = build_paper_mask(image, [Box("rubbish", 30, 50, 40, 70)], cell_mask=cells)
    assert alone[60, 35] == ID["rubbish"]


def test_unboxed_foreground_is_ignored_by_default():
    image, cells = two_cells()
    mask = build_paper_mask(image, [HEALTHY], cell_mask=cells)
    assert mask[60, 90] == IGNORE_INDEX  # the right disc has no box of its own
    mask0 = build_paper_mask(image, [HEALTHY], cell_mask=cells, config=PaperMaskConfig(unboxed=0))
    assert mask0[60, 90] == 0
    PAPER.check(mask)


def test_box_margin_grows_class_regions():
    image, cells = two_cells()
    tight = Box("healthy", 30, 45, 60, 75)
    grown = build_paper_mask(image, [tight], cell_mask=cells, config=PaperMaskConfig(box_margin=5))
    plain = build_paper_mask(image, [tight], cell_mask=cells)
    assert (grown == ID["healthy"]).sum() > (plain == ID["healthy"]).sum()


@pytest.mark.parametrize("channel", ["od", "saturation", "gray"])
def test_threshold_foreground_recovers_drawn_cells(channel):
    image, cells = two_cells()
    rng = np.random.default_rng(0)
    noisy = np.clip(image.astype(int) + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    fg = box_foreground(noisy, [HEALTHY, UNHEALTHY], PaperMaskConfig(channel=channel))
    truth = cells.astype(bool) & ((np.arange(W) >= 20) & (np.arange(W) < 100))[None, :]
    iou = (fg & truth).sum() / (fg | truth).sum()
    assert iou > 0.95


def test_needs_an_image_or_a_cell_mask():
    with pytest.raises(ValueError, match="cell_mask or an image"):
        build_paper_mask(None, [HEALTHY])
    with pytest.raises(ValueError, match="channel"):
        PaperMaskConfig(channel="hue")


def test_registry_builds_masks_for_apacc_folders(tmp_path: Path):
    image, cells = two_cells()
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "cellmasks").mkdir()
    Image.fromarray(image).save(tmp_path / "images" / "s1.png")
    Image.fromarray(cells * 255).save(tmp_path / "cellmasks" / "s1.png")
    lines = [f"0 {44 / W} {60 / H} {48 / W} {50 / H}", f"2 {76 / W} {60 / H} {48 / W} {50 / H}"]
    (tmp_path / "labels" / "s1.txt").write_text("\n".join(lines))
    (s,) = load_dataset(
        "apacc", root=tmp_path, image_size=None, cell_mask_dir=tmp_path / "cellmasks"
    )
    assert s.meta["mask_source"] == "cell_mask"
    np.testing.assert_array_equal(
        s.mask, build_paper_mask(image, [HEALTHY, UNHEALTHY], cell_mask=cells)
    )
    (small,) = load_dataset("apacc", root=tmp_path, image_size=60)
    assert small.mask.shape == (60, 60) and small.meta["mask_source"] == "otsu"
    assert {ID["healthy"], ID["unhealthy"], ID["both"]} <= set(np.unique(small.mask).tolist())
