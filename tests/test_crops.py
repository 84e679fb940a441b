"""Random and sliding-window crops of large fields, decoded lazily."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from papseg_utils.augment import get_policy
from papseg_utils.data import crops
from papseg_utils.data.base import Sample
from papseg_utils.labels import IGNORE_INDEX


def field(seed: int, h: int = 90, w: int = 110) -> Sample:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[20:40, 30:60] = 1 + seed % 4
    return Sample(image, mask, f"f{seed}", "g")


def write_fields(tmp_path, n=3):
    items = []
    for k in range(n):
        s = field(k)
        ip, mp = tmp_path / f"f{k}.png", tmp_path / f"f{k}_m.png"
        Image.fromarray(s.image).save(ip)
        Image.fromarray(s.mask).save(mp)
        items.append((str(ip), str(mp)))
    return items


def test_random_crops_are_views_of_the_field():
    samples = [field(0), field(1)]
    ds = crops.RandomCropDataset(samples, crop_size=32, crops_per_field=5, seed=3, foreground_p=0.0)
    assert len(ds) == 10
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (32, 32) and item["mask"].dtype == torch.int64
        y, x = item["origin"].tolist()
        src = samples[item["field"]]
        np.testing.assert_array_equal(item["mask"].numpy(), src.mask[y : y + 32, x : x + 32])
        expected = (src.image[y : y + 32, x : x + 32].astype(np.float32) / 255 - 0.5) / 0.5
        np.testing.assert_allclose(item["image"].numpy(), expected.transpose(2, 0, 1), atol=1e-6)


def test_deterministic_per_seed_and_epoch():
    samples = [field(0), field(1), field(2)]
    a = crops.RandomCropDataset(samples, crop_size=32, crops_per_field=2, seed=1)
    b = crops.RandomCropDataset(samples, crop_size=32, crops_per_field=2, seed=1)
    origins = [a[i]["origin"].tolist() + [a[i]["field"]] for i in range(len(a))]
    assert origins == [b[i]["origin"].tolist() + [b[i]["field"]] for i in range(len(b))]
    a.set_epoch(1)
    assert origins != [a[i]["origin"].tolist() + [a[i]["field"]] for i in range(len(a))]


def test_foreground_bias_centres_on_labels():
    ds = crops.RandomCropDataset([field(0)], crop_size=16, crops_per_field=20, foreground_p=1.0)
    assert all((ds[i]["mask"] > 0).any() for i in range(len(ds)))


def test_small_fields_are_padded_with_ignore():
    ds = crops.RandomCropDataset([field(0, h=20, w=30)], crop_size=40, crops_per_field=1)
    m = ds[0]["mask"].numpy()
    assert m.shape == (40, 40)
    assert (m == IGNORE_INDEX).sum() == 40 * 40 - 20 * 30


def test_lazy_decoding_one_field_at_a_time(tmp_path, monkeypatch):
    items = write_fields(tmp_path, n=3)
    decoded = []
    original = crops.read_image
    monkeypatch.setattr(crops, "read_image", lambda p: decoded.append(p) or original(p))
    ds = crops.RandomCropDataset(items, crop_size=32, crops_per_field=4, cache_size=1)
    assert decoded == []  # building the dataset decodes nothing
    for i in range(len(ds)):
        ds[i]
    assert len(decoded) == 3 and ds.cache.decodes == 3
    assert len(ds.cache._cache) == 1


def test_mask_builder_and_transform(tmp_path):
    (ip, _), *_ = write_fields(tmp_path, n=1)
    builder = lambda im: (im[..., 0] > 127).astype(np.uint8)  # noqa: E731
    ds = crops.RandomCropDataset(
        [(ip, builder)], crop_size=48, crops_per_field=3, transform=get_policy("medical", seed=0)
    )
    for i in range(3):
        assert set(np.unique(ds[i]["mask"].numpy())) <= {0, 1, IGNORE_INDEX}


@pytest.mark.parametrize(
    "length,window,stride,expected",
    [(100, 40, 30, [0, 30, 60]), (100, 40, 40, [0, 40, 60]), (30, 40, 10, [0]), (40, 40, 10, [0])],
)
def test_window_positions(length, window, stride, expected):
    assert crops.window_positions(length, window, stride) == expected


def test_sliding_windows_cover_and_stitch_back(tmp_path):
    items = write_fields(tmp_path, n=2)
    ds = crops.SlidingWindowDataset(items, window=48, overlap=0.25)
    assert ds.stride == 36
    assert len(ds) == 2 * len(crops.window_positions(90, 48, 36)) * len(
        crops.window_positions(110, 48, 36)
    )
    for f in range(2):
        idx = ds.windows_of(f)
        batch = [ds[i] for i in idx]
        onehot = torch.nn.functional.one_hot(torch.stack([b["mask"] for b in batch]), 5)
        logits = onehot.permute(0, 3, 1, 2).float()
        full = crops.stitch(logits, [b["origin"].tolist() for b in batch], ds.field_shapes[f])
        assert full.shape == (5, 90, 110)
        np.testing.assert_array_equal(full.argmax(0), field(f).mask)
        np.testing.assert_allclose(full.sum(0), 1.0, atol=1e-5)


def test_stitch_refuses_partial_coverage():
    with pytest.raises(ValueError, match="cover"):
        crops.stitch(np.zeros((1, 2, 8, 8)), [(0, 0)], (8, 16))


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="field 0"):
        crops.RandomCropDataset([42])
    with pytest.raises(ValueError, match="no mask_path"):
        crops.as_field_refs([("x.png", None)])[0].load()
