"""SegmentationDataset, letterbox round trip, registry, stats and sample plots."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch

from papseg_utils.data import Sample, describe, list_datasets, load_dataset
from papseg_utils.data.dataset import SegmentationDataset
from papseg_utils.data.resize import letterbox, unletterbox
from papseg_utils.data.stats import class_pixel_frequencies, colour_stats, image_sizes, nc_ratios
from papseg_utils.labels import IGNORE_INDEX
from papseg_utils.viz import overlay, show_samples


def _sample(h, w, name="s"):
    rng = np.random.default_rng(h * w)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1
    mask[h // 2 - 2 : h // 2 + 2, w // 2 - 2 : w // 2 + 2] = 2
    return Sample(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), mask, name, "g")


def test_items_shapes_dtypes_and_normalisation():
    ds = SegmentationDataset([_sample(30, 50), _sample(60, 20, "t")], image_size=32)
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert item["mask"].shape == (32, 32) and item["mask"].dtype == torch.int64
    assert item["name"] == "s"
    assert -1.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert (item["mask"] == IGNORE_INDEX).any()  # padding is ignored
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, 32, 32)


def test_transform_is_applied_and_tensors_refused():
    flip = lambda image, mask: {"image": image[:, ::-1], "mask": mask[:, ::-1]}  # noqa: E731
    s = _sample(16, 16)
    ds = SegmentationDataset([s], transform=flip, mean=(0, 0, 0), std=(1, 1, 1))
    x = ds[0]["image"].numpy().transpose(1, 2, 0) * 255
    assert np.allclose(x, s.image[:, ::-1], atol=1e-3)
    bad = SegmentationDataset(
        [s], transform=lambda image, mask: {"image": torch.zeros(1), "mask": mask}
    )
    with pytest.raises(TypeError, match="ToTensorV2"):
        bad[0]


@pytest.mark.parametrize("hw", [(30, 50), (61, 17), (40, 40), (300, 120)])
def test_letterbox_round_trip(hw):
    s = _sample(*hw)
    img, mask, geo = letterbox(s.image, s.mask, 64)
    assert img.shape == (64, 64, 3) and mask.shape == (64, 64)
    assert max(geo.new_h, geo.new_w) == 64
    back = unletterbox(mask, geo)
    assert back.shape == hw
    agree = (back == s.mask).mean()
    assert agree > 0.95
    logits = np.stack([(mask == k).astype(np.float32) for k in range(3)])
    assert unletterbox(logits, geo.to_dict()).shape == (3, *hw)


def test_letterbox_identity_at_native_size():
    s = _sample(64, 32)
    img, mask, geo = letterbox(s.image, s.mask, 64)
    assert (geo.top, geo.left) == (0, 16)
    assert np.array_equal(img[:, 16:48], s.image)
    assert np.array_equal(unletterbox(mask, geo), s.mask)


def test_registry_lists_and_loads_synthetic():
    assert {"synthetic", "herlev", "folder"} <= set(list_datasets())
    samples = load_dataset("synthetic", n=2, seed=0, image_size=32)
    assert len(samples) == 2 and samples[0].image.shape == (32, 32, 3)
    assert "917" in describe("herlev")
    with pytest.raises(KeyError, match="registered"):
        load_dataset("nope")


def test_stats_known_answers():
    s = _sample(40, 40)  # cytoplasm 20x20 minus nucleus 4x4
    freq = class_pixel_frequencies([s, s], "herlev3").set_index("class")
    assert freq.loc["nucleus", "pixels"] == 32 and freq.loc["cytoplasm", "pixels"] == 2 * (400 - 16)
    assert freq.loc["background", "share"] == pytest.approx(1200 * 2 / 3200)
    nc = nc_ratios([s], "herlev3")
    assert nc.loc[0, "nc_ratio"] == pytest.approx(16 / 400)
    sizes = image_sizes([_sample(10, 30)])
    assert sizes.loc[0, "aspect"] == pytest.approx(3.0)
    col = colour_stats([s], "herlev3").set_index("class")
    assert col.loc["nucleus", "R"] == pytest.approx(s.image[18:22, 18:22, 0].mean())


def test_overlay_and_show_samples():
    s = _sample(20, 20)
    out = overlay(s.image, s.mask, "herlev3", alpha=1.0)
    assert np.array_equal(out[0, 0], s.image[0, 0])  # background untouched
    assert tuple(out[10, 10]) == (0, 114, 178)  # nucleus colour from labels.py
    fig = show_samples([s.image] * 3, [s.mask] * 3, "herlev3", titles=["a", "b", "c"], ncols=2)
    assert len(fig.axes) == 4
