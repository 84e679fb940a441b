"""Boundary metrics: known answers, and equality with medpy (the reference)."""

from __future__ import annotations

import numpy as np
import pytest
from medpy.metric import binary as mb

from papseg_utils.metrics.surface import (
    assd,
    boundary_f1,
    hausdorff,
    hd95,
    normalised_surface_dice,
    surface_coords,
    surface_distances,
)


def squares(offset: int = 1) -> tuple[np.ndarray, np.ndarray]:
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True
    pred = np.zeros((10, 10), bool)
    pred[2:6, 2 + offset : 6 + offset] = True
    return pred, truth


def test_squares_offset_by_one_pixel_known_answers():
    # 4x4 squares, one px apart: each 12-pixel surface has 6 pixels at distance 0
    # and 6 at distance 1 from the other surface (worked out by hand).
    pred, truth = squares(1)
    s = surface_distances(pred, truth)
    assert sorted(s.pred_to_truth.tolist()) == [0.0] * 6 + [1.0] * 6
    assert hd95(pred, truth) == 1.0
    assert hausdorff(pred, truth) == 1.0
    assert assd(pred, truth) == 0.5
    assert normalised_surface_dice(pred, truth, tolerance=1.0) == 1.0
    assert normalised_surface_dice(pred, truth, tolerance=0.0) == 0.5
    assert boundary_f1(pred, truth, tolerance=0.0) == 0.5


def test_far_speck_hd_vs_hd95():
    pred, truth = squares(0)
    pred = pred.copy()
    pred[9, 9] = True  # one stray pixel at distance hypot(4, 4) from the truth surface
    assert hausdorff(pred, truth) == pytest.approx(np.hypot(4, 4))
    assert hd95(pred, truth) == 0.0  # 1 outlier among 25 distances: below the 95th percentile


def test_surface_of_single_pixel_and_full_image():
    single = np.zeros((5, 7), bool)
    single[0, 0] = True
    assert surface_coords(single).tolist() == [[0, 0]]
    full = np.ones((4, 6), bool)
    # every pixel on the image border is surface (outside counts as background, as in medpy)
    assert len(surface_coords(full)) == 2 * 4 + 2 * 6 - 4


def test_empty_masks_raise():
    empty = np.zeros((4, 4), bool)
    some = empty.copy()
    some[1, 1] = True
    with pytest.raises(ValueError, match="prediction mask is empty"):
        hd95(empty, some)
    with pytest.raises(ValueError, match="truth mask is empty"):
        hd95(some, empty)


def test_bad_spacing_and_shapes_raise():
    pred, truth = squares()
    with pytest.raises(ValueError, match="spacing"):
        hd95(pred, truth, spacing=(0.0, 1.0))
    with pytest.raises(ValueError, match="differ in shape"):
        hd95(pred, truth[:5])


def _random_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    kind = rng.integers(0, 4)
    if kind == 0:  # salt noise, ragged surfaces
        return rng.random(shape) < rng.uniform(0.05, 0.9)
    if kind == 1:  # a single pixel anywhere, also on the border
        m = np.zeros(shape, bool)
        m[rng.integers(0, shape[0]), rng.integers(0, shape[1])] = True
        return m
    if kind == 2:  # rectangle clipped by the image border
        m = np.zeros(shape, bool)
        r0, c0 = rng.integers(-3, shape[0]), rng.integers(-3, shape[1])
        m[max(r0, 0) : r0 + rng.integers(1, 20), max(c0, 0) : c0 + rng.integers(1, 20)] = True
        return m
    yy, xx = np.mgrid[: shape[0], : shape[1]]  # disc, possibly leaving the image
    cy, cx, r = rng.uniform(-5, shape[0] + 5), rng.uniform(-5, shape[1] + 5), rng.uniform(1, 15)
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def test_equals_medpy_on_random_masks():
    rng = np.random.default_rng(1234)
    checked = 0
    while checked < 400:
        shape = (int(rng.integers(1, 48)), int(rng.integers(1, 48)))  # non-square, thin, 1-px wide
        pred, truth = _random_mask(rng, shape), _random_mask(rng, shape)
        if not pred.any() or not truth.any():
            continue
        spacing = None if checked % 3 == 0 else tuple(rng.uniform(0.05, 3.0, 2))  # anisotropic
        if checked % 3 == 1:
            spacing = float(rng.uniform(0.1, 2.0))
        s = surface_distances(pred, truth, spacing)
        ours = [s.hd95(), s.hd(), s.assd()]
        ref = [
            mb.hd95(pred, truth, spacing),
            mb.hd(pred, truth, spacing),
            mb.assd(pred, truth, spacing),
        ]
        np.testing.assert_allclose(
            ours, ref, rtol=1e-9, atol=0, err_msg=f"case {checked}, {shape}, {spacing}"
        )
        checked += 1


def test_cropping_keeps_border_behaviour():
    # The same object touching the image border, and moved inside a larger image:
    # medpy treats the image border as background, so the two differ, and we must match both.
    truth = np.zeros((30, 30), bool)
    truth[0:10, 0:10] = True
    pred = np.zeros((30, 30), bool)
    pred[0:12, 0:8] = True
    pred[25, 25] = True
    big_t = np.pad(truth, 5)
    big_p = np.pad(pred, 5)
    for p, t in ((pred, truth), (big_p, big_t)):
        assert hd95(p, t) == pytest.approx(mb.hd95(p, t), rel=1e-12)
        assert assd(p, t) == pytest.approx(mb.assd(p, t), rel=1e-12)
    assert hd95(pred, truth) == pytest.approx(hd95(big_p, big_t))


def test_spacing_scales_distances():
    pred, truth = squares(2)
    assert hd95(pred, truth, spacing=0.201) == pytest.approx(0.201 * hd95(pred, truth))
    # row spacing does not matter for a purely horizontal shift's column distances
    assert hausdorff(pred, truth, spacing=(5.0, 0.5)) == pytest.approx(
        mb.hd(pred, truth, (5.0, 0.5))
    )
