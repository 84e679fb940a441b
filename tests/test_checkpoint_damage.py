"""Damaged checkpoints give one clear error naming the file; saving never leaves a gap.

Regression tests of issue 10 (items 5, 6 and 10): a truncated or empty
``model.safetensors``, an invalid ``config.json`` and a missing or garbled
``trainer_state.pt`` raise :class:`CheckpointError` naming the file (and
``predict`` exits 2 with one line); while :func:`save_checkpoint` replaces a
folder, the folder always holds a complete checkpoint; weights are written
with the same permissions as their neighbours.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

from papseg_utils import predict
from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.train import checkpoint as ckpt
from papseg_utils.train.checkpoint import (
    CheckpointError,
    load_config,
    load_model,
    load_trainer_state,
    save_checkpoint,
)
from papseg_utils.train.checkpoint import save as ckpt_save


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv(x)


def _save(folder: Path) -> Path:
    return save_checkpoint(
        folder, Tiny(), num_classes=3, scheme=get_scheme("herlev3"), trainer_state={"epoch": 1}
    )


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _garble(p: Path) -> None:
    p.write_text("{ not json", encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "damage", "fragment"),
    [
        ("model.safetensors", _truncate, "is truncated"),
        ("model.safetensors", _empty, "is empty (0 bytes)"),
        ("model.safetensors", _garble, "not a readable safetensors file"),
        ("config.json", _garble, "is not valid JSON"),
        ("config.json", lambda p: p.write_text("[1, 2]"), "not a mapping"),
        ("config.json", lambda p: p.write_text('{"epoch": 1}'), "lacks the keys"),
    ],
)
def test_damaged_files_are_named(tmp_path, file, damage, fragment):
    folder = _save(tmp_path / "ck")
    damage(folder / file)
    with pytest.raises(CheckpointError) as info:
        load_model(folder, model=Tiny())
    msg = str(info.value)
    assert str(folder / file) in msg and fragment in msg
    assert "use another checkpoint" in msg


def test_trainer_state_missing_or_garbled(tmp_path):
    folder = _save(tmp_path / "ck")
    (folder / "trainer_state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt cannot be read"):
        load_trainer_state(folder)
    (folder / "trainer_state.pt").unlink()
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt not found.*last/"):
        load_trainer_state(folder)


def test_predict_on_a_damaged_checkpoint_exits_2_with_one_line(tmp_path, capsys):
    from PIL import Image

    models = pytest.importorskip("papseg_utils.models")
    model = models.build_model(
        "unet", num_classes=3, pretrained="none", encoder="tf_efficientnet_lite0"
    )
    folder = save_checkpoint(tmp_path / "best", model, num_classes=3)
    _truncate(folder / "model.safetensors")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    code = predict.main([str(folder), str(tmp_path / "a.png"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "model.safetensors is truncated" in err, err


def test_replacing_a_checkpoint_never_leaves_the_folder_missing(tmp_path, monkeypatch):
    folder = _save(tmp_path / "last")
    seen: list[bool] = []

    def complete() -> bool:
        return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()

    real_replace, real_rmtree = os.replace, ckpt_save._rmtree

    def spy_replace(a, b):
        real_replace(a, b)
        seen.append(complete())

    def spy_rmtree(p):
        real_rmtree(p)
        seen.append(complete())

    monkeypatch.setattr(ckpt_save.os, "replace", spy_replace)
    monkeypatch.setattr(ckpt_save, "_rmtree", spy_rmtree)
    _save(folder)
    assert seen and all(seen), seen
    assert load_config(folder)["num_classes"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_fallback_without_atomic_exchange_holds_back_ctrl_c(tmp_path, monkeypatch):
    """Where the exchange is unsupported, SIGINT between the two renames is deferred."""
    import signal

    folder = _save(tmp_path / "last")
    monkeypatch.setattr(ckpt_save, "_exchange", lambda a, b: False)
    real_replace = os.replace
    calls = []

    def replace_with_sigint(a, b):
        real_replace(a, b)
        calls.append(b)
        if len(calls) == 1:  # between the two renames
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ckpt_save.os, "replace", replace_with_sigint)
    with pytest.raises(KeyboardInterrupt):
        _save(folder)
    assert len(calls) == 2  # both renames happened before the interrupt surfaced
    assert load_config(folder)["num_classes"] == 3


def test_weights_have_the_permissions_of_their_neighbours(tmp_path):
    folder = _save(tmp_path / "ck")
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert mode["model.safetensors"] == mode["config.json"], mode


def test_resume_with_another_scheme_names_the_class_counts(tmp_path):
    from papseg_utils.train import TrainConfig, fit

    torch.manual_seed(0)
    images = torch.randn(4, 3, 16, 16)
    masks = torch.randint(0, 3, (4, 16, 16))
    data = torch.utils.data.TensorDataset(images, masks)
    cfg = TrainConfig(num_epochs=1, batch_size=2, device="cpu", progress=False)
    fit(Tiny(), data, None, cfg, tmp_path / "run", scheme=get_scheme("herlev3"))

    class Two(Tiny):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)

    with pytest.raises(CheckpointError, match="trained with 3 classes, this run has 2"):
        fit(
            Two(),
            torch.utils.data.TensorDataset(images, masks.clamp(max=1)),
            None,
            cfg,
            tmp_path / "run2",
            scheme=LabelScheme("two", ("background", "nucleus"), ((0, 0, 0), (0, 0, 255))),
            resume_from=tmp_path / "run" / "last",
        )


def _flip(p: Path, n: int = 16) -> None:
    data = bytearray(p.read_bytes())
    data[-n:] = bytes(255 - b for b in data[-n:])  # tensor bytes: the header still parses
    p.write_bytes(bytes(data))


def test_weights_changed_after_saving_are_refused_on_every_load(tmp_path):
    folder = _save(tmp_path / "ck")
    _flip(folder / "model.safetensors")
    for load in (lambda: load_model(folder, model=Tiny()),
                 lambda: ckpt.load_weights(Tiny(), folder)):  # fmt: skip
        with pytest.raises(CheckpointError, match="is not the file that was saved"):
            load()
    # a hand-written config without a hash loads, and reports the hash of the file it loaded
    cfg = load_config(folder)
    del cfg["checkpoint_sha256"]
    (folder / "config.json").write_text(__import__("json").dumps(cfg))
    _, loaded = load_model(folder, model=Tiny())
    assert loaded["checkpoint_sha256"] == ckpt.sha256_file(folder / "model.safetensors")


def test_predict_records_the_hash_of_the_file_it_loaded(tmp_path):
    import json

    import numpy as np
    from PIL import Image

    from papseg_utils.models import build_model

    model = build_model("unet", num_classes=3, pretrained="none", encoder="tf_efficientnet_lite0")
    folder = save_checkpoint(tmp_path / "ck", model, num_classes=3, scheme=get_scheme("herlev3"),
                             train_config={"image_size": 32})  # fmt: skip
    images = tmp_path / "in"
    images.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(images / "a.png")
    assert predict.main([str(folder), str(images), "--out", str(tmp_path / "o"),
                         "--device", "cpu"]) == 0  # fmt: skip
    log = json.loads((tmp_path / "o" / "predict_log.json").read_text())
    assert log["checkpoint_sha256"] == ckpt.sha256_file(folder / "model.safetensors")
    _flip(folder / "model.safetensors")
    assert predict.main([str(folder), str(images), "--out", str(tmp_path / "o2")]) == 2
    assert not (tmp_path / "o2").exists()
