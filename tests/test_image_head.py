"""The image-level head, image labels, per-cell post-processing and the k-fold split of a run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from papseg_utils.data.base import Sample
from papseg_utils.data.image_labels import image_label_names, image_labels
from papseg_utils.models import build_model
from papseg_utils.models.errors import ModelConfigError
from papseg_utils.models.heads import ImageHeadModel, image_logits_of
from papseg_utils.postprocess import cells_from_image_head, vote_per_cell
from papseg_utils.train.checkpoint import load_model, save_checkpoint


def _sample(name: str, group: str) -> Sample:
    return Sample(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), name, group)


def test_head_model_returns_segmentation_and_image_logits():
    model = build_model("unet", num_classes=3, pretrained="none", image_classes=2).eval()
    assert isinstance(model, ImageHeadModel)
    out = model(torch.zeros(2, 3, 64, 64))
    assert out["logits"].shape == (2, 3, 64, 64)
    assert image_logits_of(out).shape == (2, 2)
    assert image_logits_of(out["logits"]) is None
    assert model.papseg_spec.name == "unet"  # the spec survives the wrapping


def test_head_needs_an_encoder_with_feature_maps():
    class NoEncoder(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ModelConfigError, match="no encoder"):
        ImageHeadModel(NoEncoder(), 2)
    with pytest.raises(ModelConfigError, match="at least 2"):
        build_model("unet", num_classes=3, pretrained="none", image_classes=1)


def test_checkpoint_round_trip_rebuilds_the_head(tmp_path):
    from papseg_utils.labels import get_scheme

    torch.manual_seed(0)
    model = build_model("unet", num_classes=3, pretrained="none", image_classes=2).eval()
    save_checkpoint(tmp_path / "best", model, num_classes=3, scheme=get_scheme("herlev3"))
    loaded, config = load_model(tmp_path / "best")
    assert config["model_kwargs"]["image_classes"] == 2
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    torch.testing.assert_close(a["image_logits"], b["image_logits"])
    torch.testing.assert_close(a["logits"], b["logits"])


def test_health_labels_follow_herlev_classes():
    samples = [
        _sample("a", "normal_columnar"),
        _sample("b", "severe_dysplastic"),
        _sample("c", "carcinoma_in_situ"),
    ]
    labels, names = image_labels(samples, "health")
    assert labels == [0, 1, 1] and names == ["healthy", "unhealthy"]
    labels, names = image_labels(samples, "diagnosis")
    assert names == ["carcinoma_in_situ", "normal_columnar", "severe_dysplastic"]
    assert labels == [1, 2, 0]
    assert image_labels(samples, "none") == (None, [])
    with pytest.raises(ValueError, match="not a Herlev diagnostic class"):
        image_labels([_sample("x", "mostly_healthy")], "health")
    with pytest.raises(ValueError, match="image_head='bogus'"):
        image_label_names("bogus")


def test_cells_from_image_head_colours_every_cell_pixel():
    pred = np.array([[0, 1, 2], [0, 2, 2]], np.uint8)  # herlev3: cytoplasm and nucleus
    np.testing.assert_array_equal(cells_from_image_head(pred, 0.9), [[0, 2, 2], [0, 2, 2]])
    np.testing.assert_array_equal(cells_from_image_head(pred, 0.1), [[0, 1, 1], [0, 1, 1]])
    assert cells_from_image_head(pred, 0.5).max() == 2  # the threshold itself is unhealthy
    with pytest.raises(ValueError, match="probability"):
        cells_from_image_head(pred, 1.5)


def test_vote_per_cell_gives_each_component_one_class():
    pred = np.zeros((6, 9), np.uint8)
    pred[1:5, 1:4] = 1
    pred[1:3, 1:3] = 2  # cell 1: 8 healthy, 4 unhealthy pixels -> healthy
    pred[1:5, 6:8] = 2
    pred[4, 7] = 1  # cell 2: 7 unhealthy, 1 healthy -> unhealthy
    out = vote_per_cell(pred)
    assert set(np.unique(out[1:5, 1:4])) == {1}
    assert set(np.unique(out[1:5, 6:8])) == {2}
    assert (out[pred == 0] == 0).all()
    # a soft vote can overturn the pixel count
    probs = np.zeros((3, 6, 9), np.float32)
    probs[2][pred > 0] = 0.45
    probs[1][pred > 0] = 0.40
    probs[2][1:3, 1:3] = 0.99
    probs[1][1:3, 1:3] = 0.0
    assert set(np.unique(vote_per_cell(pred, probs)[1:5, 1:4])) == {2}
    with pytest.raises(ValueError, match="label values"):
        vote_per_cell(np.full((2, 2), 7, np.uint8))


def test_cv_folds_score_every_image_once(tmp_path):
    from papseg_utils.train.recipe import prepare_training

    tests, trains = [], []
    for fold in range(3):
        _, train_ds, val_ds, _, split = prepare_training(
            dataset="synthetic", num_train_images=18, image_size=32, scheme="paper",
            cv_folds=3, fold=fold, val_fraction=0.0, pretrained="none",
            output_dir=tmp_path / f"f{fold}",
        )  # fmt: skip
        assert not set(split["test"]) & set(split["train"])
        assert len(val_ds) == 0 and len(train_ds) == len(split["train"])
        tests.append(split["test"])
        trains.append(split["train"])
    every = [n for t in tests for n in t]
    assert len(every) == len(set(every)) == 18  # a partition of all images
    _, _, _, _, with_val = prepare_training(
        dataset="synthetic", num_train_images=18, image_size=32, scheme="paper", cv_folds=3,
        fold=0, val_fraction=0.2, pretrained="none", output_dir=tmp_path / "v",
    )  # fmt: skip
    assert with_val["test"] == tests[0] and with_val["val"]  # validation is carved from training
    assert not set(with_val["val"]) & set(with_val["test"])


def test_joint_training_moves_the_image_head(tmp_path):
    from torch.utils.data import Dataset

    from papseg_utils.train import TrainConfig, fit

    class Toy(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return {
                "image": torch.randn(3, 32, 32, generator=g),
                "mask": torch.randint(0, 3, (32, 32), generator=g),
                "name": str(i),
                "label": torch.tensor(i % 2),
            }

    torch.manual_seed(0)
    model = build_model("unet", num_classes=3, pretrained="none", image_classes=2)
    before = model.image_head[-1].weight.detach().clone()
    cfg = TrainConfig(num_epochs=1, batch_size=4, device="cpu", progress=False, freeze_epochs=0,
                      save_best=False, save_last=False, image_loss_weight=1.0)  # fmt: skip
    history = fit(model, Toy(), None, cfg, tmp_path, scheme="herlev3")
    assert np.isfinite(history.to_frame()["train_loss"]).all()
    assert not torch.equal(before, model.image_head[-1].weight.detach())


def test_image_loss_is_weighted_cross_entropy():
    from papseg_utils.train.trainer import image_loss

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0])
    out = {"logits": torch.zeros(2, 3, 4, 4), "image_logits": logits}
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.isclose(image_loss(out, labels, 0.5, "cpu"), 0.5 * ce)
    assert image_loss(out, None, 0.5, "cpu") == 0.0  # no labels in the batch
    assert image_loss(out["logits"], labels, 0.5, "cpu") == 0.0  # no head
    assert image_loss(out, labels, 0.0, "cpu") == 0.0


def test_evaluate_reports_head_accuracy_only_for_images_with_diagnostic_labels(tmp_path, capsys):
    """Issue 23: an unlabelled folder gets the predicted labels, never "accuracy 1.000"."""
    import json
    import re

    from papseg_utils.data.folder import export_folder
    from papseg_utils.evaluate import cli as scoring
    from papseg_utils.labels import get_scheme

    torch.manual_seed(0)
    model = build_model("unet", num_classes=3, pretrained="none", image_classes=2).eval()
    ckpt = save_checkpoint(tmp_path / "ckpt", model, num_classes=3, scheme=get_scheme("herlev3"),
                           train_config={"image_size": 32},
                           extra={"image_labels": ["healthy", "unhealthy"]})  # fmt: skip
    rng = np.random.default_rng(0)

    def folder(name, groups):
        samples = [Sample(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                          np.eye(32, dtype=np.uint8) * 2, name=f"c{i}", group=g)
                   for i, g in enumerate(groups)]  # fmt: skip
        return export_folder(samples, get_scheme("herlev3"), tmp_path / name)

    cases = {
        "unlabelled": (["all"] * 4, None),
        "labelled": (["healthy", "unhealthy", "healthy", "unhealthy"], 4),
        "half": (["healthy", "all", "unhealthy", "all"], 2),
    }
    for name, (groups, n_labelled) in cases.items():
        data = folder(name, groups)
        out = tmp_path / f"eval_{name}"
        argv = [str(ckpt), "--dataset", "folder", "--data-dir", str(data), "--split", "all",
                "--out", str(out), "--n-boot", "10", "--device", "cpu"]  # fmt: skip
        assert scoring.main(argv) == 0
        printed = capsys.readouterr().out
        summary = (out / "summary.md").read_text()
        head = json.loads((out / "scoring.json").read_text())["image_head"]
        assert (out / "image_labels.csv").is_file()  # the predicted labels, always
        if n_labelled is None:
            assert head is None and not re.search(r"accuracy \d", summary + printed)
            assert "none of the 4 images has a diagnostic label" in summary
        else:
            assert head["n"] == n_labelled and head["unlabelled"] == 4 - n_labelled
            assert f"{n_labelled} images" in summary and re.search(r"accuracy \d", summary)
