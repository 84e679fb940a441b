"""Fold ensembles: several checkpoints predict as one model, their probabilities averaged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from papseg_utils.inference import predict_with_config
from papseg_utils.labels import get_scheme
from papseg_utils.models import build_model
from papseg_utils.models.ensemble import ProbabilityEnsemble, ensemble_config
from papseg_utils.predict import main
from papseg_utils.train.checkpoint import load_model, resolve_checkpoints, save_checkpoint


def _checkpoint(path: Path, seed: int, image_size: int = 64, with_head: bool = False) -> Path:
    torch.manual_seed(seed)
    kw = {"image_classes": 2} if with_head else {}
    model = build_model("unet", num_classes=3, pretrained="none",
                        encoder="tf_efficientnet_lite0", **kw)  # fmt: skip
    if with_head:
        model.papseg_image_labels = ["healthy", "unhealthy"]
    save_checkpoint(path, model, num_classes=3, scheme=get_scheme("herlev3"),
                    train_config={"image_size": image_size})  # fmt: skip
    return path


@pytest.fixture(scope="module")
def cv_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cv")
    for k in range(2):
        _checkpoint(root / f"fold{k}" / "last", seed=k)
    (root / "eval").mkdir()  # an evaluate output beside the folds is not a member
    return root


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (40, 56, 3), dtype=np.uint8)


def test_a_cv_folder_resolves_to_its_folds_in_order(cv_folder):
    assert resolve_checkpoints(cv_folder) == [
        cv_folder / "fold0" / "last",
        cv_folder / "fold1" / "last",
    ]
    assert resolve_checkpoints(cv_folder / "fold1") == [cv_folder / "fold1" / "last"]
    with pytest.raises(FileNotFoundError, match="cross-validation folder"):
        resolve_checkpoints(cv_folder / "eval")


def test_ensemble_probabilities_are_the_members_mean(cv_folder):
    members = [load_model(c) for c in resolve_checkpoints(cv_folder)]
    config = ensemble_config([c for _, c in members], ["a", "b"])
    ensemble = ProbabilityEnsemble([m for m, _ in members]).eval()
    image = _image()
    for kw in ({}, {"tta": True}, {"tile_size": 32}):
        got = predict_with_config(ensemble, image, config, **kw)
        want = np.mean([predict_with_config(m, image, c, **kw) for m, c in members], axis=0)
        assert got.shape == (3, 40, 56)
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert [m["path"] for m in config["ensemble"]] == ["a", "b"]
    assert config["checkpoint_sha256"] is None


def test_the_image_head_is_averaged_too(tmp_path):
    from papseg_utils.inference import image_probabilities

    paths = [_checkpoint(tmp_path / f"f{k}", seed=k, with_head=True) for k in range(2)]
    members = [load_model(p) for p in paths]
    ensemble = ProbabilityEnsemble([m for m, _ in members]).eval()
    config = ensemble_config([c for _, c in members], ["a", "b"])
    image = _image(1)
    got = image_probabilities(ensemble, image, config)
    want = np.mean([image_probabilities(m, image, c) for m, c in members], axis=0)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_members_of_different_recipes_are_refused(tmp_path, capsys):
    _checkpoint(tmp_path / "cv" / "fold0" / "last", seed=0, image_size=64)
    _checkpoint(tmp_path / "cv" / "fold1" / "last", seed=1, image_size=96)
    Image.fromarray(_image()).save(tmp_path / "a.png")
    rc = main([str(tmp_path / "cv"), str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
               "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "image_size (96 against 64)" in err and "one cross-validation" in err
    assert not (tmp_path / "out" / "masks").exists()


def test_predict_takes_a_cv_folder_and_logs_every_member(cv_folder, tmp_path):
    Image.fromarray(_image()).save(tmp_path / "a.png")
    out = tmp_path / "out"
    assert (
        main([str(cv_folder), str(tmp_path / "a.png"), "--out", str(out), "--device", "cpu"]) == 0
    )
    log = json.loads((out / "predict_log.json").read_text())
    assert [Path(m["path"]).parent.name for m in log["members"]] == ["fold0", "fold1"]
    assert all(len(m["sha256"]) == 64 for m in log["members"])
    mask = np.asarray(Image.open(out / "masks" / "a.png"))
    members = [load_model(c) for c in resolve_checkpoints(cv_folder)]
    probs = np.mean([predict_with_config(m, _image(), c) for m, c in members], axis=0)
    assert np.array_equal(mask, probs.argmax(0))
    # one fold alone is a single model, as before
    single = tmp_path / "single"
    shutil.copytree(cv_folder / "fold0", single)
    assert (
        main(
            [str(single), str(tmp_path / "a.png"), "--out", str(tmp_path / "o1"), "--device", "cpu"]
        )
        == 0
    )
    log1 = json.loads((tmp_path / "o1" / "predict_log.json").read_text())
    assert len(log1["members"]) == 1 and log1["checkpoint_sha256"] == log1["members"][0]["sha256"]


def test_folds_may_differ_in_their_training_statistics_only():
    base = {"num_classes": 3, "mean": [0.5] * 3, "std": [0.5] * 3, "image_size": None,
            "scheme": {"classes": ["background", "cytoplasm", "nucleus"]},
            "spacing": {"target_spacing_um": 0.201, "reference": {"median_area_um2": 104.6}}}  # fmt: skip
    other = {
        **base,
        "spacing": {"target_spacing_um": 0.201, "reference": {"median_area_um2": 103.5}},
    }
    assert ensemble_config([base, other], ["f0", "f1"])["spacing"] == base["spacing"]
    coarser = {**base, "spacing": {"target_spacing_um": 0.4, "reference": {}}}
    with pytest.raises(ValueError, match="spacing"):
        ensemble_config([base, coarser], ["f0", "f1"])
