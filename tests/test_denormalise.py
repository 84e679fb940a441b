"""to_uint8 undoes the datasets' normalisation (known values, and a round trip)."""

import numpy as np
import torch

from papseg_utils.data.denormalise import to_uint8


def test_known_values_are_clipped_and_truncated():
    # mean 0.5, std 0.25: x -> (0.25 x + 0.5) * 255, clipped to 0..255, truncated
    x = torch.tensor([0.0, 1.0, 2.0, -3.0], dtype=torch.float32).view(1, 1, 2, 2).repeat(2, 3, 1, 1)
    out = to_uint8(x, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert len(out) == 2
    assert out[0].shape == (2, 2, 3) and out[0].dtype == np.uint8
    np.testing.assert_array_equal(out[1][..., 0], [[127, 191], [255, 0]])


def test_per_channel_mean_and_std_and_round_trip():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = (image.astype(np.float32) / 255 - np.float32(mean)) / np.float32(std)
    batch = torch.from_numpy(x).permute(2, 0, 1)[None]
    (back,) = to_uint8(batch, mean, std)
    assert np.abs(back.astype(int) - image.astype(int)).max() <= 1  # float rounding, truncated
    assert to_uint8(torch.zeros(1, 3, 1, 1), mean, std)[0][0, 0].tolist() == [123, 116, 103]
