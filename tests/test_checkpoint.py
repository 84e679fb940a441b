"""Checkpoint folders: safetensors weights, config.json, weights-only trainer state, RNG round trip."""

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from papseg_utils.labels import get_scheme
from papseg_utils.train.checkpoint import (
    get_rng_state,
    load_config,
    load_model,
    load_trainer_state,
    save_checkpoint,
    set_rng_state,
)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.head(self.encoder(x))


def _save(tmp_path, model, **kw):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    state = {
        "epoch": 3,
        "optimizer": opt.state_dict(),
        "rng": get_rng_state(),
        "history": {"rows": []},
    }
    return save_checkpoint(
        tmp_path / "ck",
        model,
        num_classes=3,
        scheme=get_scheme("herlev3"),
        epoch=3,
        metrics={"val_mean_dice": 0.5, "val_dice_nucleus": float("nan")},
        train_config={"image_size": 64, "lr": 1e-3},
        trainer_state=state,
        extra={"mean": [0.5] * 3, "std": [0.5] * 3},
        **kw,
    ), opt


def test_round_trip_weights_config_and_state(tmp_path):
    torch.manual_seed(0)
    model = Tiny()
    path, opt = _save(tmp_path, model)
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "model.safetensors",
        "trainer_state.pt",
    ]
    cfg = json.loads((path / "config.json").read_text())  # strict JSON: NaN became null
    assert cfg["architecture"] == "Tiny" and cfg["num_classes"] == 3 and cfg["epoch"] == 3
    assert cfg["scheme"]["classes"] == ["background", "cytoplasm", "nucleus"]
    assert cfg["image_size"] == 64 and cfg["mean"] == [0.5] * 3 and cfg["std"] == [0.5] * 3
    assert cfg["metrics"]["val_dice_nucleus"] is None
    assert cfg["versions"]["torch"] and len(cfg["checkpoint_sha256"]) == 64
    assert load_config(tmp_path / "ck") == cfg

    fresh = Tiny()
    loaded, cfg2 = load_model(path, model=fresh)
    assert cfg2 == cfg and not loaded.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k

    state = load_trainer_state(path)  # weights_only=True inside
    opt2 = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    assert torch.equal(
        opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )


def test_rng_states_round_trip_through_weights_only_load(tmp_path):
    random.seed(1)
    np.random.seed(2)  # noqa: NPY002
    torch.manual_seed(3)
    torch.save(get_rng_state(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    random.seed(9)
    np.random.seed(9)  # noqa: NPY002
    torch.manual_seed(9)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_overwrite_is_atomic_and_leaves_no_temp_folders(tmp_path):
    m = Tiny()
    _save(tmp_path, m)
    with torch.no_grad():
        m.head.weight.fill_(1.0)
    path, _ = _save(tmp_path, m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert torch.equal(load_model(path, model=Tiny())[0].head.weight, m.head.weight)


def test_errors_name_the_path_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*fit"):
        load_model(tmp_path / "nothing", model=Tiny())
    path, _ = _save(tmp_path, Tiny())
    with pytest.raises(ValueError, match="does not fit"):
        load_model(path, model=nn.Sequential(nn.Conv2d(3, 3, 1)))
    # a run folder resolves to its best/ checkpoint
    run = tmp_path / "run"
    run.mkdir()
    path.rename(run / "best")
    assert load_config(run)["epoch"] == 3


def test_load_model_rebuilds_registered_architecture(tmp_path):
    models = pytest.importorskip(
        "papseg_utils.models", reason="papseg_utils.models not available yet"
    )
    name = "unet" if "unet" in models.list_models() else models.list_models()[0]
    try:
        model = models.build_model(
            name, num_classes=3, pretrained="none", encoder="tf_efficientnet_lite0"
        )
    except Exception as err:  # pragma: no cover - depends on the models package
        pytest.skip(f"build_model({name!r}) failed here: {err}")
    save_checkpoint(tmp_path / "m", model, num_classes=3, scheme=get_scheme("herlev3"))
    cfg = load_config(tmp_path / "m")
    assert cfg["architecture"] == name
    rebuilt, _ = load_model(tmp_path / "m")
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), rebuilt(x), atol=1e-5)
