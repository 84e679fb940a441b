"""The extension points of docs/DEVELOPING.md: a new architecture, loss/optimiser, dataset.

Each test registers (or subclasses) the smallest thing that works, uses it through the public
entry points (``build_model``, ``fit``, ``load_dataset``) and removes its registration again.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

from papseg_utils.data import (
    DatasetInfo,
    Sample,
    describe,
    list_datasets,
    load_dataset,
    register_dataset,
    unregister_dataset,
)
from papseg_utils.labels import get_scheme
from papseg_utils.models import (
    FAMILIES,
    EncoderInfo,
    ModelConfigError,
    architecture_family,
    build_model,
    list_models,
    model_table,
    register_architecture,
    register_encoder,
    unregister_architecture,
    unregister_encoder,
)
from papseg_utils.train import TrainConfig, Trainer, fit, get_loss
from papseg_utils.train import optim as train_optim

torch.set_num_threads(2)
SCHEME = get_scheme("herlev3")


# --------------------------------------------------------------------------- architecture
class ToyNet(nn.Module):
    """(N,3,H,W) float32 -> (N,num_classes,H,W): a conv encoder and a 1x1 head."""

    def __init__(self, num_classes: int, width: int = 4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x):
        return self.head(self.encoder(x))


def build_toy(encoder: EncoderInfo, num_classes: int, **kwargs) -> nn.Module:
    return ToyNet(num_classes, **kwargs)


@pytest.fixture
def toy_architecture():
    register_encoder(EncoderInfo("toy_conv", "toy_conv", (0.5,) * 3, (0.25,) * 3, sources={}))
    try:
        arch = register_architecture(
            "toy_net",
            build_toy,
            family="hybrid",
            default_encoder="toy_conv",
            citation="toy2026",
            description="one conv and a 1x1 head",
            size_multiple=8,
        )
        yield arch
    finally:
        if "toy_net" in list_models():
            unregister_architecture("toy_net")
        unregister_encoder("toy_conv")


def test_a_registered_architecture_builds_runs_and_is_listed(toy_architecture):
    model = build_model("toy_net", num_classes=3, width=6)
    logits = model(torch.rand(2, 3, 32, 40))
    assert logits.shape == (2, 3, 32, 40) and logits.dtype == torch.float32
    spec = model.papseg_spec
    assert (spec.family, spec.encoder, spec.size_multiple) == ("hybrid", "toy_conv", 8)
    assert (spec.mean, spec.std, spec.kwargs) == ((0.5,) * 3, (0.25,) * 3, {"width": 6})
    assert spec.params == 3 * 6 * 9 + 6 + 6 * 3 + 3
    assert spec.implementation.endswith("build_toy")
    assert list_models()[-1] == "toy_net"
    assert architecture_family("toy_net") == "hybrid"
    row = model_table().set_index("model").loc["toy_net"]
    assert (row["family"], row["encoder"], row["citation"]) == ("hybrid", "toy_conv", "toy2026")
    assert row["input"] == "H, W divisible by 8" and row["pretrained"] == "none"
    assert row["params_M"] == round(spec.params / 1e6, 2)


def test_registration_checks_and_clean_up(toy_architecture):
    with pytest.raises(ModelConfigError, match="'toy_net' is already registered"):
        register_architecture("toy_net", build_toy, family="cnn", default_encoder="toy_conv")
    with pytest.raises(ModelConfigError, match=r"family 'rnn' is not one of \('cnn'"):
        register_architecture("toy_b", build_toy, family="rnn", default_encoder="toy_conv")
    with pytest.raises(ModelConfigError, match="unknown encoders \\['nope'\\]"):
        register_architecture("toy_b", build_toy, family="cnn", default_encoder="nope")
    with pytest.raises(ModelConfigError, match="used by \\['toy_net'\\]"):
        unregister_encoder("toy_conv")
    with pytest.raises(ModelConfigError, match="has no pretrained source 'imagenet'"):
        build_model("toy_net", 3, pretrained="imagenet")
    assert "toy_b" not in list_models() and FAMILIES == ("cnn", "transformer", "hybrid")
    assert "toy_net" in set(model_table()["model"])
    unregister_architecture("toy_net")
    assert "toy_net" not in set(model_table()["model"])  # the cached table was emptied
    with pytest.raises(ValueError, match="valid models:"):
        architecture_family("toy_net")


def test_a_builder_without_an_encoder_is_refused(toy_architecture):
    register_architecture(
        "toy_flat", lambda enc, n: nn.Conv2d(3, n, 1), family="cnn", default_encoder="toy_conv"
    )
    try:
        with pytest.raises(ModelConfigError, match="without an .encoder module"):
            build_model("toy_flat", 2)
    finally:
        unregister_architecture("toy_flat")


# --------------------------------------------------------------------------- loss and optimiser
class Blobs(Dataset):
    """Images (3,32,32) float32; mask 1 where channel 0 > 0.5 and 2 where channel 1 > 0.8."""

    def __init__(self, n: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, 32, 32, generator=g)
        masks = (self.images[:, 0] > 0.5).long()
        masks[self.images[:, 1] > 0.8] = 2
        self.masks = masks

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "mask": self.masks[i], "name": f"b{i}"}


def _cfg(**kw) -> TrainConfig:
    base = dict(num_epochs=1, batch_size=2, lr=0.05, lr_encoder=0.01, loss="dice_ce",
                device="cpu", num_workers=0, progress=False, patience=None, seed=0)  # fmt: skip
    return TrainConfig(**{**base, **kw})


class CountingCE(nn.Module):
    """Plain cross-entropy that counts its calls with and without gradients."""

    def __init__(self):
        super().__init__()
        self.calls = {"train": 0, "eval": 0}

    def forward(self, logits, masks):
        self.calls["train" if torch.is_grad_enabled() else "eval"] += 1
        return nn.functional.cross_entropy(logits.float(), masks, ignore_index=255)


class SGDTrainer(Trainer):
    seen: list[Trainer] = []

    def build_loss(self) -> nn.Module:
        return CountingCE()

    def build_optimizer(self) -> torch.optim.Optimizer:
        SGDTrainer.seen.append(self)
        return torch.optim.SGD(self.model.parameters(), lr=self.cfg.lr, momentum=0.9)


def test_fit_trains_with_the_subclass_loss_and_optimizer(tmp_path):
    SGDTrainer.seen.clear()
    torch.manual_seed(0)
    model = ToyNet(3)
    before = [p.detach().clone() for p in model.parameters()]
    hist = fit(model, Blobs(6), Blobs(2, seed=1), _cfg(max_steps_per_epoch=2), tmp_path,
               scheme=SCHEME, trainer_cls=SGDTrainer)  # fmt: skip
    (trainer,) = SGDTrainer.seen
    assert type(trainer.optimizer) is torch.optim.SGD
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.9
    assert isinstance(trainer.loss_fn, CountingCE)
    assert trainer.loss_fn.calls == {"train": 2, "eval": 1}  # 2 steps, 1 validation batch
    assert trainer.global_step == 2
    row = hist.rows[0]
    assert "lr_group0" in row and "lr_decoder" not in row  # one unnamed SGD group
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


class Spy(Trainer):
    seen: list[Trainer] = []

    def run(self):
        Spy.seen.append(self)
        return super().run()


def test_the_default_hooks_build_the_configured_loss_and_adamw_groups(tmp_path):
    Spy.seen.clear()
    cfg = _cfg(max_steps_per_epoch=1, weight_decay=0.03, schedule="cosine", warmup_steps=1)
    model = ToyNet(3)
    fit(model, Blobs(4), None, cfg, tmp_path, scheme=SCHEME, trainer_cls=Spy)
    (trainer,) = Spy.seen
    assert type(trainer.loss_fn) is type(get_loss("dice_ce", 3))
    reference = train_optim.build_optimizer(ToyNet(3), 0.05, 0.01, 0.03)
    assert type(trainer.optimizer) is torch.optim.AdamW
    got, want = trainer.optimizer.param_groups, reference.param_groups
    assert [g["name"] for g in got] == [g["name"] for g in want]
    assert [g["name"] for g in got] == [
        "encoder",
        "encoder_no_decay",
        "decoder",
        "decoder_no_decay",
    ]
    assert [len(g["params"]) for g in got] == [len(g["params"]) for g in want]
    assert [g["initial_lr"] for g in got] == [0.01, 0.01, 0.05, 0.05]
    assert [g["weight_decay"] for g in got] == [0.03, 0.0, 0.03, 0.0]
    assert type(trainer.scheduler) is torch.optim.lr_scheduler.LambdaLR


def test_trainer_cls_must_be_a_trainer(tmp_path):
    with pytest.raises(TypeError, match="subclass of it, got <class 'object'>"):
        fit(ToyNet(3), Blobs(4), None, _cfg(), tmp_path, scheme=SCHEME, trainer_cls=object)


def test_the_trainer_logs_under_its_own_module_name(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="papseg_utils.train"):
        fit(ToyNet(3), Blobs(4), None, _cfg(max_steps_per_epoch=1), tmp_path, scheme=SCHEME)
    names = {r.name for r in caplog.records if r.getMessage().startswith("epoch 1/1: train_loss")}
    assert names == {"papseg_utils.train.trainer"}


# --------------------------------------------------------------------------- dataset
def load_toy_folder(root, scheme="herlev3", **kw) -> list[Sample]:
    """Every ``<stem>.png`` of ``root`` with ``<stem>_mask.png`` (class ids 0..2)."""
    samples = []
    for path in sorted(root.glob("*.png")):
        if path.stem.endswith("_mask"):
            continue
        image = np.asarray(Image.open(path).convert("RGB"))
        mask = np.asarray(Image.open(root / f"{path.stem}_mask.png"))
        samples.append(Sample(image, mask, name=path.stem, group="toy", path=str(path)))
    return samples


def test_a_registered_dataset_loads_through_load_dataset(tmp_path):
    rng = np.random.default_rng(0)
    for stem in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            tmp_path / f"{stem}.png"
        )
        Image.fromarray(rng.integers(0, 3, (40, 48), dtype=np.uint8)).save(
            tmp_path / f"{stem}_mask.png"
        )
    info = DatasetInfo(name="toy_folder", description="two random images", default_scheme="herlev3",
                       env_var="PAPSEG_TOY_FOLDER_DIR")  # fmt: skip
    register_dataset(info, load_toy_folder)
    try:
        assert "toy_folder" in list_datasets()
        assert describe("toy_folder").startswith("**toy_folder**: two random images")
        samples = load_dataset("toy_folder", root=tmp_path)
        assert [s.name for s in samples] == ["a", "b"]
        assert samples[0].image.shape == (40, 48, 3) and samples[0].mask.dtype == np.uint8
        assert int(samples[1].mask.max()) == 2
        with pytest.raises(ValueError, match="'toy_folder' is already registered"):
            register_dataset(info, load_toy_folder)
    finally:
        unregister_dataset("toy_folder")
    with pytest.raises(KeyError, match="unknown dataset 'toy_folder'; registered: .*'synthetic'"):
        load_dataset("toy_folder", root=tmp_path)


def test_register_dataset_needs_a_loader():
    with pytest.raises(ValueError, match="'toy_none' has no loader"):
        register_dataset(DatasetInfo(name="toy_none", description="nothing"))
    assert "toy_none" not in list_datasets()
