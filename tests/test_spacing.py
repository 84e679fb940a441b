"""Scale-true geometry: pixel sizes, resampling round trips, patches, sliding-window seams,
the one inference path for scale-true and letterbox checkpoints, and ``--pixel-size``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

from papseg_utils.data.dataset import SegmentationDataset
from papseg_utils.data.registry import dataset_pixel_size, synthetic_pixel_size
from papseg_utils.data.spacing import (
    PixelSizeError,
    check_pixel_size,
    resample_image,
    resample_mask,
    resample_probs,
    resampled_shape,
    sample_patch,
    to_target_spacing,
)
from papseg_utils.inference import input_factor, predict_proba, predict_with_config
from papseg_utils.labels import IGNORE_INDEX, get_scheme
from papseg_utils.scale_estimate import estimate_pixel_size, reference_area, resolve_pixel_size

SPACING = {"target_spacing_um": 0.2, "patch_size": 64, "pixel_size_um": 0.2,
           "reference": {"class": "nucleus", "median_area_um2": 50.0}}  # fmt: skip


def _cells(h: int = 90, w: int = 120) -> np.ndarray:
    """A herlev3-like mask: background, an elliptic cell (1) with a round nucleus (2)."""
    yy, xx = np.mgrid[:h, :w]
    m = np.zeros((h, w), np.uint8)
    m[((yy - h / 2) / (h * 0.4)) ** 2 + ((xx - w / 2) / (w * 0.4)) ** 2 < 1] = 1
    m[(yy - h / 2) ** 2 + (xx - w / 2 + 10) ** 2 < 12**2] = 2
    return m


@pytest.mark.parametrize("bad", [0, -0.2, float("nan"), "abc", 11.0, 0.001, None])
def test_bad_pixel_sizes_name_the_option(bad):
    with pytest.raises(PixelSizeError, match="--pixel-size"):
        check_pixel_size(bad)


def test_good_pixel_sizes():
    assert check_pixel_size("0.201") == pytest.approx(0.201)
    assert check_pixel_size(10) == 10.0 and check_pixel_size(0.01) == 0.01


def test_dataset_pixel_sizes(tmp_path):
    assert dataset_pixel_size("herlev") == pytest.approx(0.201)
    assert dataset_pixel_size("synthetic", field_px=128) == pytest.approx(synthetic_pixel_size(128))
    assert synthetic_pixel_size(256) == pytest.approx(0.8)
    from papseg_utils.data.errors import DataFormatError
    from papseg_utils.data.folder import write_classes

    write_classes(get_scheme("herlev3"), tmp_path / "classes.yaml")
    assert dataset_pixel_size("folder", tmp_path) is None  # optional
    with open(tmp_path / "classes.yaml", "a") as fh:
        fh.write("pixel_size_um: 0.25\n")
    assert dataset_pixel_size("folder", tmp_path) == 0.25
    (tmp_path / "classes.yaml").write_text(
        (tmp_path / "classes.yaml").read_text().replace("0.25", "-3")
    )
    with pytest.raises(DataFormatError, match="classes.yaml.*pixel_size_um"):
        dataset_pixel_size("folder", tmp_path)


def _boundary_band(mask: np.ndarray, width: int) -> np.ndarray:
    size = 2 * width + 1
    return ndimage.maximum_filter(mask, size) != ndimage.minimum_filter(mask, size)


@pytest.mark.parametrize("factor", [0.5, 0.71, 1.41, 2.0])
def test_mask_round_trip_differs_only_on_boundaries(factor):
    mask = _cells()
    mask[:5, :7] = IGNORE_INDEX
    there = resample_mask(mask, resampled_shape(mask.shape, factor))
    back = resample_mask(there, mask.shape)
    assert back.shape == mask.shape and set(np.unique(back)) <= set(np.unique(mask))
    wrong = back != mask
    band = _boundary_band(mask, width=math.ceil(1 / min(factor, 1)) + 1)
    assert wrong.sum() > 0 or factor > 1  # a round trip through a coarser grid loses something
    assert not (wrong & ~band).any()  # ... but only next to an outline
    if factor > 1:  # through a finer grid: exact up to a handful of outline pixels
        assert wrong.mean() < 0.005


def test_resample_image_and_probs():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    assert resample_image(image, 2.0).shape == (60, 100, 3)
    assert resample_image(image, 0.5).shape == (15, 25, 3)
    assert resample_image(image, 1.0) is image
    p = rng.random((3, 20, 30)).astype(np.float32)
    p /= p.sum(0, keepdims=True)
    q = resample_probs(p, (41, 57))
    assert q.shape == (3, 41, 57) and q.dtype == np.float32
    np.testing.assert_allclose(q.sum(0), 1.0, atol=1e-5)
    img, msk = to_target_spacing(image, np.zeros((30, 50), np.uint8), 0.4, 0.2)
    assert img.shape[:2] == msk.shape == (60, 100)


def test_patches_pad_with_ignore_and_find_foreground():
    mask = _cells(40, 30)
    image = np.full((40, 30, 3), 200, np.uint8)
    img, msk = sample_patch(image, mask, 64, rng=None)  # central, deterministic
    assert img.shape == (64, 64, 3) and msk.shape == (64, 64)
    assert (msk != IGNORE_INDEX).sum() == mask.size  # the whole image, not rescaled
    assert tuple(img[0, 0]) == (128, 128, 128) and msk[0, 0] == IGNORE_INDEX
    big = np.zeros((400, 400), np.uint8)
    big[300:310, 20:30] = 2  # one small nucleus far from the centre
    rng = np.random.default_rng(0)
    hits = [
        (sample_patch(np.zeros((400, 400, 3), np.uint8), big, 64, rng, (2,), 1.0)[1] == 2).any()
        for _ in range(20)
    ]
    assert all(hits)  # foreground oversampling always shows it
    plain = [(sample_patch(np.zeros((400, 400, 3), np.uint8), big, 64, rng)[1] == 2).any()
             for _ in range(20)]  # fmt: skip
    assert sum(plain) < 20


def test_scale_true_dataset_keeps_scale():
    from papseg_utils.data.base import Sample

    s = Sample(np.full((40, 30, 3), 90, np.uint8), _cells(40, 30), "a", "g")
    ds = SegmentationDataset([s], target_spacing_um=0.2, pixel_size_um=0.4, patch_size=96)
    assert ds.prepared(0)[0].shape == (80, 60, 3)  # resampled to the target spacing
    item = ds[0]
    assert item["image"].shape == (3, 96, 96) and item["mask"].shape == (96, 96)
    assert int((item["mask"] != IGNORE_INDEX).sum()) == 80 * 60
    with pytest.raises(ValueError, match="not both"):
        SegmentationDataset([s], image_size=64, target_spacing_um=0.2, patch_size=64)


class _Constant(nn.Module):
    """Fixed logits everywhere, whatever the input: records the input sizes it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor([0.3, -1.0, 2.0]))
        self.seen: list[tuple[int, int]] = []

    def forward(self, x):
        self.seen.append(tuple(x.shape[-2:]))
        return self.logits.view(1, 3, 1, 1).expand(x.shape[0], 3, *x.shape[-2:]).clone()


def test_sliding_window_of_a_constant_model_is_constant():
    model = _Constant()
    image = np.random.default_rng(1).integers(0, 256, (300, 230, 3), dtype=np.uint8)
    probs = predict_with_config(model, image, {"spacing": SPACING})
    assert probs.shape == (3, 300, 230)
    assert max(max(s) for s in model.seen) == 64  # tiled in windows of the patch size
    expected = torch.softmax(model.logits, 0).numpy()
    np.testing.assert_allclose(probs, expected[:, None, None] * np.ones((1, 300, 230)), atol=1e-5)


def test_tile_size_sets_the_window_through_evaluate(monkeypatch):
    """``evaluate --tile-size`` reaches the sliding window: larger windows, or the image whole."""
    from types import SimpleNamespace

    import papseg_utils.evaluate.scores as scores

    monkeypatch.setattr(scores, "image_probabilities", lambda *a, **k: None)
    image = np.random.default_rng(1).integers(0, 256, (300, 230, 3), dtype=np.uint8)
    sample = SimpleNamespace(name="a", image=image, group="g")
    seen = {}
    for tile in (None, 128, 320):
        model = _Constant()
        member = SimpleNamespace(model=model, config={"spacing": SPACING},
                                 scheme=get_scheme("herlev3"))  # fmt: skip
        out = scores.predict_images([member], [sample], {"a": [0]}, tile_size=tile)
        assert out.preds["a"].shape == (300, 230)
        seen[tile] = model.seen
    assert max(max(s) for s in seen[None]) == 64  # the checkpoint's patch size
    assert max(max(s) for s in seen[128]) == 128
    assert seen[320] == [(320, 256)]  # a window larger than the image: one pass, padded to 32


@pytest.mark.parametrize("tile, message", [(0, "positive number of px"),
                                           (100, "must be a multiple of 32")])  # fmt: skip
def test_evaluate_refuses_bad_tile_sizes(head_checkpoint, tmp_path, capsys, tile, message):
    from papseg_utils.evaluate.cli import main

    args = [str(head_checkpoint), "--dataset", "synthetic", "--out", str(tmp_path / "o"),
            "--tile-size", str(tile), "--device", "cpu"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--tile-size" in err and message in err
    assert not (tmp_path / "o").exists()


def test_pixel_wise_model_tiled_equals_whole():
    conv = nn.Conv2d(3, 3, 1)
    image = np.random.default_rng(2).integers(0, 256, (200, 150, 3), dtype=np.uint8)
    tiled = predict_with_config(conv, image, {"spacing": SPACING})
    whole = predict_proba(conv, image)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_pixel_size_drives_the_network_input():
    model = _Constant()
    image = np.zeros((40, 50, 3), np.uint8)
    config = {"spacing": {**SPACING, "patch_size": 256}}
    predict_with_config(model, image, config, pixel_size_um=0.4)  # 2x coarser: enlarged 2x
    assert model.seen[-1] == (96, 128)  # 80x100 padded to a multiple of 32
    assert input_factor(config, 0.4) == 2.0 and input_factor(config) == 1.0
    assert input_factor({"image_size": 64}, 0.4) == 1.0  # letterbox: not by pixel size


def test_letterbox_checkpoint_predicts_as_before():
    from papseg_utils.data.resize import letterbox, unletterbox

    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1)).eval()
    image = np.random.default_rng(3).integers(0, 256, (50, 90, 3), dtype=np.uint8)
    boxed, _, geom = letterbox(image, None, 64)
    before = unletterbox(predict_proba(conv, boxed), geom)
    np.testing.assert_allclose(predict_with_config(conv, image, {"image_size": 64}), before)
    pixel = resolve_pixel_size(0.3, {"image_size": 64}, get_scheme("herlev3"), list, None)
    assert pixel["pixel_size_um"] is None and "letterbox" in pixel["note"]


def _disc(h, w, r):
    yy, xx = np.mgrid[:h, :w]
    m = np.zeros((h, w), np.uint8)
    m[(yy - h // 2) ** 2 + (xx - w // 2) ** 2 < r**2] = 2
    return m


@pytest.mark.parametrize("true_px", [0.1, 0.2, 0.4])
def test_auto_pixel_size_recovers_known_scales(true_px):
    """An oracle segmenter: the estimate is the pixel size that matches the training area."""
    scheme = get_scheme("herlev3")
    train = [_disc(100, 100, r) for r in (18, 20, 22)]  # at 0.2 um/px
    _, area = reference_area(train, scheme, 0.2)
    config = {"spacing": {**SPACING, "reference": {"class": "nucleus", "median_area_um2": area}}}
    factor = 0.2 / true_px  # the same cells imaged at true_px
    masks = {i: resample_mask(m, resampled_shape(m.shape, factor)) for i, m in enumerate(train)}
    images = [np.full((*m.shape, 3), i, np.uint8) for i, m in masks.items()]
    est = estimate_pixel_size(lambda im, px: masks[int(im[0, 0, 0])], images, config, scheme)
    assert est["pixel_size_um"] == pytest.approx(true_px, rel=0.03)
    assert est["start_um"] == 0.2 and len(est["passes"]) == 2


def test_auto_needs_a_reference():
    with pytest.raises(ValueError, match="scale-true checkpoint"):
        estimate_pixel_size(lambda im, px: im, [], {"image_size": 64}, get_scheme("herlev3"))


def test_unknown_pixel_size_is_said_once():
    pixel = resolve_pixel_size(None, {"spacing": SPACING}, get_scheme("herlev3"), list, None)
    assert pixel["source"] == "assumed" and pixel["pixel_size_um"] == 0.2
    assert "not known" in pixel["note"] and "--pixel-size" in pixel["note"]
    known = resolve_pixel_size(None, {"spacing": SPACING}, get_scheme("herlev3"), list, None, 0.3)
    assert known["source"] == "dataset" and known["pixel_size_um"] == 0.3 and not known["note"]


@pytest.fixture(scope="module")
def head_checkpoint(tmp_path_factory):
    """An untrained scale-true herlev3 U-Net with a healthy/unhealthy head."""
    from papseg_utils.models import build_model
    from papseg_utils.train.checkpoint import save_checkpoint

    model = build_model("unet", num_classes=3, pretrained="none", image_classes=2)
    path = tmp_path_factory.mktemp("st") / "best"
    save_checkpoint(path, model, num_classes=3, scheme=get_scheme("herlev3"),
                    extra={"image_labels": ["healthy", "unhealthy"], "spacing": SPACING})  # fmt: skip
    return path


def test_predict_writes_labels_and_paper_masks(head_checkpoint, tmp_path, capsys):
    from papseg_utils.predict import main

    inp = tmp_path / "in"
    inp.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(inp / "a.png")
    Image.fromarray(rng.integers(0, 256, (150, 90, 3), dtype=np.uint8)).save(inp / "b.png")
    out = tmp_path / "out"
    assert main([str(head_checkpoint), str(inp), "--out", str(out), "--device", "cpu"]) == 0
    assert "assuming 0.2 um/px" in capsys.readouterr().err  # said once, with the fix
    lines = (out / "labels.csv").read_text().splitlines()
    assert lines[0] == "image,label,probability" and len(lines) == 3
    name, label, prob = lines[1].split(",")
    assert name == "a" and label in ("healthy", "unhealthy") and 0.5 <= float(prob) <= 1
    paper = np.asarray(Image.open(out / "paper_masks" / "b.png"))
    assert paper.shape == (150, 90) and set(np.unique(paper)) <= {0, 1, 2}
    log = json.loads((out / "predict_log.json").read_text())
    assert log["pixel_size"]["source"] == "assumed"
    out2 = tmp_path / "out2"
    args = [str(head_checkpoint), str(inp), "--out", str(out2), "--pixel-size", "0.1"]
    assert main(args) == 0
    assert json.loads((out2 / "predict_log.json").read_text())["pixel_size"]["pixel_size_um"] == 0.1


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "12", "x"])
def test_predict_refuses_bad_pixel_sizes(head_checkpoint, tmp_path, capsys, bad):
    from papseg_utils.predict import main

    assert main([str(head_checkpoint), str(tmp_path), "--out", str(tmp_path / "o"),
                 "--pixel-size", bad]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--pixel-size" in err and "auto" in err
    assert not (tmp_path / "o").exists()


def test_train_records_the_spacing(tmp_path):
    from papseg_utils.train.cli import main

    out = tmp_path / "run"
    rc = main(["--dataset", "synthetic", "--num-train-images", "6", "--image-size", "64",
               "--target-spacing-um", "3.2", "--epochs", "1", "--max-steps-per-epoch", "1",
               "--batch-size", "2", "--pretrained", "none", "--output-dir", str(out),
               "--device", "cpu"])  # fmt: skip
    assert rc == 0
    config = json.loads((out / "last" / "config.json").read_text())
    spacing = config["spacing"]
    assert spacing["target_spacing_um"] == 3.2 and spacing["patch_size"] == 64
    assert spacing["pixel_size_um"] == pytest.approx(synthetic_pixel_size(64))
    assert spacing["reference"]["median_area_um2"] > 0
    assert config["image_size"] is None  # nothing is letterboxed


def test_whole_images_batched_by_size():
    """Scale-true items are whole images padded to a multiple of 32; batches share a size."""
    from papseg_utils.data.base import Sample
    from papseg_utils.train.distributed import ShardedBatchSampler

    shapes = [(40, 30), (100, 70), (45, 60), (300, 200), (95, 90), (33, 33)]
    samples = [Sample(np.full((*hw, 3), 90, np.uint8), _cells(*hw), f"s{i}", "g")
               for i, hw in enumerate(shapes)]  # fmt: skip
    ds = SegmentationDataset(samples, target_spacing_um=0.2, pixel_size_um=0.2, patch_size=256,
                             random_patches=True, foreground=(2,))  # fmt: skip
    assert ds.sizes == [64, 128, 64, 256, 96, 64]  # padded to 32 px steps, capped at 256
    assert ds[3]["image"].shape == (3, 256, 256)  # the large one gives a patch
    batch = ds.collate([ds[0], ds[4]])
    assert batch["image"].shape == (2, 3, 96, 96) and batch["mask"].shape == (2, 96, 96)
    assert int((batch["mask"][0] != IGNORE_INDEX).sum()) == 40 * 30  # padding is ignored
    gray = (128 / 255 - 0.5) / 0.5
    assert float(batch["image"][0, 0, 0, 0]) == pytest.approx(gray, abs=1e-6)
    sampler = ShardedBatchSampler(len(ds), 3, seed=0, drop_last=False, sizes=ds.sizes)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert {0, 2, 5} in [set(b) for b in batches]  # the three 64 px images go together
