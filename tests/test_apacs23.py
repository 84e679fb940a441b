"""APACS23 loader on tiny fixture folders in the real layout."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils.data import apacs23
from papseg_utils.data.errors import DatasetNotFoundError, SizeMismatchError
from papseg_utils.data.registry import load_dataset, validate

SIZE = 48


def _field(k: int) -> tuple[np.ndarray, np.ndarray]:
    """A field whose dark square has side 6 + 3k px: identifies the pair."""
    image = np.full((SIZE, SIZE, 3), 235, np.uint8)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    side = 6 + 3 * k
    image[4 : 4 + side, 4 : 4 + side] = (60, 40, 120)
    mask[4 : 4 + side, 4 : 4 + side] = 255
    return image, mask


def write_apacs23(root: Path, split: str = "training", stems=None, extra_images=(), extra_masks=()):
    img_dir, mask_dir = (root / d for d in apacs23.SPLITS[split])
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    stems = stems or ["f_c", "f_a", "f_b"]
    for k, stem in enumerate(stems):
        image, mask = _field(k)
        Image.fromarray(image).save(img_dir / f"{stem}.jpg", quality=95)
        Image.fromarray(mask).save(mask_dir / f"{stem}.png")
    for k, stem in enumerate(extra_images):
        Image.fromarray(_field(k)[0]).save(img_dir / f"{stem}.jpg")
    for k, stem in enumerate(extra_masks):
        Image.fromarray(_field(k)[1]).save(mask_dir / f"{stem}.png")
    return stems


def test_pairs_by_stem_not_listing_order(tmp_path, caplog):
    # "a_orphan.jpg" sorts first among images and "0_orphan.png" first among masks:
    # pairing by listing order would shift every pair by one.
    stems = write_apacs23(tmp_path, extra_images=["a_orphan"], extra_masks=["0_orphan", "zz"])
    with caplog.at_level(logging.WARNING):
        index = apacs23.index_apacs23(tmp_path)
    assert [it.name for it in index] == ["training/f_a", "training/f_b", "training/f_c"]
    assert index.report.unpaired_images == [
        str(Path(apacs23.SPLITS["training"][0]) / "a_orphan.jpg")
    ]
    assert [Path(p).name for p in index.report.unpaired_masks] == ["0_orphan.png", "zz.png"]
    assert "a_orphan" in caplog.text
    for i, it in enumerate(index):
        k = stems.index(Path(it.image_path).stem)
        sample = index.load(i)
        assert sample.mask.sum() == (6 + 3 * k) ** 2  # binary 0/1, the right partner
        assert set(np.unique(sample.mask)) == {0, 1}
        dark = sample.image.mean(axis=2) < 150
        assert (dark == sample.mask.astype(bool)).mean() > 0.98


def test_index_decodes_nothing(tmp_path, monkeypatch):
    write_apacs23(tmp_path)

    def boom(path):
        raise AssertionError(f"decoded {path}")

    monkeypatch.setattr(apacs23, "read_image", boom)
    monkeypatch.setattr(apacs23, "read_label_mask", boom)
    assert len(apacs23.index_apacs23(tmp_path)) == 3


def test_mask_threshold_is_above_zero(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.array([[0, 1], [2, 255]], np.uint8)).save(path)
    np.testing.assert_array_equal(apacs23.read_binary_mask(path), [[0, 1], [1, 1]])


def test_size_mismatch_names_the_file(tmp_path):
    write_apacs23(tmp_path)
    bad = tmp_path / apacs23.SPLITS["training"][1] / "f_a.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(bad)
    index = apacs23.index_apacs23(tmp_path)
    with pytest.raises(SizeMismatchError, match="f_a.png"):
        index.load(0)


def test_missing_folders_explain_layout_and_source(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cka2f"):
        apacs23.index_apacs23(tmp_path / "nope")
    write_apacs23(tmp_path, split="training")
    with pytest.raises(DatasetNotFoundError, match="APACS23_Test_Input"):
        apacs23.index_apacs23(tmp_path, split="test")


def test_all_splits_and_registry(tmp_path):
    write_apacs23(tmp_path, "training")
    write_apacs23(tmp_path, "test", stems=["t1", "t2"])
    assert len(apacs23.index_apacs23(tmp_path, "all")) == 5
    samples = load_dataset("apacs23", root=tmp_path, split="test", image_size=24)
    assert [s.name for s in samples] == ["test/t1", "test/t2"]
    assert samples[0].image.shape == (24, 24, 3) and samples[0].group == "test"
    counts = validate("apacs23", tmp_path)
    assert counts["training"]["found"] == 3 and counts["test"]["found"] == 2
