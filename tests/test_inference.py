"""Inference: tiled == whole for a small receptive field, TTA inverts correctly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from papseg_utils.inference import (
    boundary_share,
    entropy,
    predict_proba,
    tta_probabilities,
    uncertainty_maps,
)


def tiny_cnn(seed: int = 0, num_classes: int = 3) -> nn.Module:
    """Two 3x3 convolutions: receptive-field radius 2 px."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, num_classes, 3, padding=1)
    ).eval()


def symmetric_cnn(num_classes: int = 3) -> nn.Module:
    """A 3x3 conv whose kernels are invariant under flips and 90-degree rotations."""
    torch.manual_seed(1)
    conv = nn.Conv2d(3, num_classes, 3, padding=1)
    with torch.no_grad():
        k = conv.weight
        k.copy_((k + k.flip(-1) + k.flip(-2) + k.flip(-1, -2)) / 4)
        k.copy_((k + k.transpose(-2, -1)) / 2)
    return conv.eval()


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("blend", ["gaussian", "linear"])
def test_tiled_equals_whole_when_receptive_field_fits_in_trim(blend):
    # radius 2 px <= trim (8 px): each weighted pixel sees the same neighbours as in the whole image
    model, img = tiny_cnn(), image(96, 160)
    whole = predict_proba(model, img, device="cpu")
    tiled = predict_proba(
        model, img, tile_size=64, overlap=0.5, blend=blend, device="cpu", batch_size=3
    )
    assert whole.shape == tiled.shape == (3, 96, 160) and whole.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_tiles_without_trim_show_seams():
    # the same model with trim=0 gives the tile-edge pixels weight: no longer equal (the test can fail)
    model, img = tiny_cnn(), image(96, 160)
    whole = predict_proba(model, img, device="cpu")
    tiled = predict_proba(model, img, tile_size=64, overlap=0.25, trim=0, device="cpu")
    assert np.abs(tiled - whole).max() > 1e-4


def test_odd_size_image_is_padded_and_cropped():
    model, img = tiny_cnn(), image(45, 77)
    for kw in ({}, {"tile_size": 32, "overlap": 0.5}):
        p = predict_proba(model, img, device="cpu", **kw)
        assert p.shape == (3, 45, 77)
        np.testing.assert_allclose(p.sum(0), 1.0, atol=1e-5)


def test_tta_of_equivariant_model_equals_plain():
    model, img = symmetric_cnn(), image(64, 96)
    plain = predict_proba(model, img, device="cpu")
    for tta in (True, "d4"):
        np.testing.assert_allclose(
            predict_proba(model, img, tta=tta, device="cpu"), plain, atol=1e-5
        )
    stack = tta_probabilities(model, img, tta="d4", device="cpu")
    assert stack.shape == (8, 3, 64, 96)
    np.testing.assert_allclose(stack, np.broadcast_to(plain, stack.shape), atol=1e-5)


def test_tta_changes_a_non_equivariant_model():
    model, img = tiny_cnn(), image(64, 64)
    assert (
        np.abs(
            predict_proba(model, img, tta=True, device="cpu")
            - predict_proba(model, img, device="cpu")
        ).max()
        > 1e-4
    )


def test_uncertainty_maps_and_entropy():
    probs = np.array([[[1.0, 0.5]], [[0.0, 0.5]]])
    np.testing.assert_allclose(entropy(probs), [[0.0, np.log(2)]], atol=1e-6)
    u = uncertainty_maps(tiny_cnn(), image(32, 64), tta="flips", device="cpu")
    assert u["entropy"].shape == u["variance"].shape == (32, 64)
    assert (u["variance"] >= 0).all() and (u["entropy"] <= np.log(3) + 1e-6).all()


def test_boundary_share_of_a_map_bright_only_on_outlines():
    mask = np.zeros((20, 20), dtype=np.int64)
    mask[5:15, 5:15] = 1
    mask[0, :] = 255  # ignored: counts nowhere
    outline = np.zeros((20, 20))
    outline[5, 5:15] = outline[14, 5:15] = outline[5:15, 5] = outline[5:15, 14] = 1.0
    outline[0, :] = 100.0  # on ignored pixels
    share = boundary_share(outline, mask, width=1)
    assert share["band_uncertainty"] == pytest.approx(1.0)
    assert share["band_pixels"] == pytest.approx((12 * 12 - 8 * 8) / (19 * 20))
    flat = boundary_share(np.ones((20, 20)), mask, width=1)
    assert flat["band_uncertainty"] == pytest.approx(flat["band_pixels"])
    with pytest.raises(ValueError, match="differ"):
        boundary_share(np.ones((4, 4)), mask)


def test_bad_inputs():
    model = tiny_cnn()
    with pytest.raises(ValueError, match="uint8"):
        predict_proba(model, image(32, 32).astype(np.float32), device="cpu")
    with pytest.raises(ValueError, match="multiple of 32"):
        predict_proba(model, image(32, 32), tile_size=50, device="cpu")
    with pytest.raises(ValueError, match="unknown TTA"):
        predict_proba(model, image(32, 32), tta=["spin"], device="cpu")
