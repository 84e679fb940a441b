"""Tests of the training engine (papseg_utils.train) with a tiny model on random data."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from papseg_utils.device import dataloader_kwargs, resolve_device, resolve_precision
from papseg_utils.labels import IGNORE_INDEX, get_scheme
from papseg_utils.metrics import confusion_matrix, dice_from_confusion, iou_from_confusion
from papseg_utils.train import (
    NonFiniteLossError,
    TrainConfig,
    fit,
    lr_factor,
    param_groups,
)
from papseg_utils.train.checkpoint import load_trainer_state
from papseg_utils.train.distributed import ShardedBatchSampler

SCHEME = get_scheme("herlev3")


class TinyNet(nn.Module):
    """Encoder (conv + BN) and a 1x1 head; optional dropout to exercise the RNG."""

    def __init__(self, num_classes=3, bn=True, dropout=0.0):
        super().__init__()
        layers = [nn.Conv2d(3, 8, 3, padding=1)]
        if bn:
            layers.append(nn.BatchNorm2d(8))
        layers.append(nn.ReLU())
        self.encoder = nn.Sequential(*layers)
        self.drop = nn.Dropout2d(dropout)
        self.head = nn.Conv2d(8, num_classes, 1)

    def forward(self, x):
        return self.head(self.drop(self.encoder(x)))


class ThresholdData(Dataset):
    """Images (3,H,W) float32; mask = 1 where channel 0 > 0, 2 where channel 1 > 0.7 (learnable)."""

    def __init__(self, n=16, size=12, seed=0, ignore_border=False):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 3, size, size, generator=g)
        masks = (self.images[:, 0] > 0).long()
        masks[self.images[:, 1] > 0.7] = 2
        if ignore_border:
            masks[:, 0, :] = IGNORE_INDEX
        self.masks = masks

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "mask": self.masks[i], "name": f"img{i}"}


def _cfg(**kw):
    base = dict(
        num_epochs=3,
        batch_size=4,
        lr=0.05,
        lr_encoder=0.05,
        loss="ce",
        device="cpu",
        num_workers=0,
        progress=False,
        patience=None,
        max_grad_norm=None,
        schedule="constant",
    )
    base.update(kw)
    return TrainConfig(**base)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_fit_learns_and_writes_outputs(tmp_path):
    torch.manual_seed(0)
    model = TinyNet()
    hist = fit(
        model,
        ThresholdData(32),
        ThresholdData(8, seed=1),
        _cfg(num_epochs=6),
        tmp_path,
        scheme=SCHEME,
    )
    df = hist.to_frame()
    assert list(df["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert list(df["step"]) == [8, 16, 24, 32, 40, 48]  # 32 images / batch 4
    assert df["train_loss"].iloc[-1] < 0.6 * df["train_loss"].iloc[0]
    assert df["val_mean_dice"].iloc[-1] > 0.8
    for c in SCHEME.classes:
        assert f"val_dice_{c}" in df
    assert {
        "lr_encoder",
        "lr_decoder",
        "lr_decoder_no_decay",
        "encoder_frozen",
        "epoch_time_s",
    } <= set(df)
    for f in (
        "history.csv",
        "history.json",
        "best/model.safetensors",
        "best/config.json",
        "last/trainer_state.pt",
        "last/config.json",
    ):
        assert (tmp_path / f).is_file(), f
    assert hist.best_epoch == int(df["val_mean_dice"].idxmax()) + 1
    assert model.training is False


def test_resume_equals_uninterrupted_run(tmp_path):
    """Interrupt after epoch 2 of 4, resume from last/: same history and bit-identical weights."""
    cfg = _cfg(
        num_epochs=4,
        schedule="cosine",
        warmup_steps=3,
        deterministic=True,
        max_grad_norm=1.0,
        loss="dice_ce",
    )
    train, val = ThresholdData(16), ThresholdData(8, seed=1, ignore_border=True)

    torch.manual_seed(0)
    full = TinyNet(dropout=0.2)
    h_full = fit(full, train, val, cfg, tmp_path / "full", scheme=SCHEME)

    def interrupt(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    torch.manual_seed(0)
    part = TinyNet(dropout=0.2)
    with pytest.raises(KeyboardInterrupt):
        fit(part, train, val, cfg, tmp_path / "part", scheme=SCHEME, callbacks=[interrupt])
    assert load_trainer_state(tmp_path / "part" / "last")["epoch"] == 2

    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = TinyNet(dropout=0.2)
    h_res = fit(
        resumed,
        train,
        val,
        cfg,
        tmp_path / "part",
        scheme=SCHEME,
        resume_from=tmp_path / "part" / "last",
    )

    drop = ["epoch_time_s"]
    a = h_full.to_frame().drop(columns=drop)
    b = h_res.to_frame().drop(columns=drop)
    assert len(b) == 4
    assert a.equals(b), (a, b)
    wa, wb = _weights(full), _weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_same_seed_same_result_and_different_seed_differs(tmp_path):
    out = []
    for i, seed in enumerate((0, 0, 1)):
        torch.manual_seed(0)
        m = TinyNet(dropout=0.2)
        fit(
            m,
            ThresholdData(8),
            None,
            _cfg(num_epochs=1, seed=seed),
            tmp_path / str(i),
            scheme=SCHEME,
        )
        out.append(_weights(m))
    assert all(torch.equal(out[0][k], out[1][k]) for k in out[0])
    assert not all(torch.equal(out[0][k], out[2][k]) for k in out[0])


def test_freeze_encoder_then_unfreeze(tmp_path):
    torch.manual_seed(0)
    model = TinyNet()
    before = _weights(model)
    snap = {}

    def grab(row):
        snap[row["epoch"]] = _weights(model)

    hist = fit(
        model,
        ThresholdData(8),
        ThresholdData(4, seed=1),
        _cfg(num_epochs=2, freeze_epochs=1),
        tmp_path,
        scheme=SCHEME,
        callbacks=[grab],
    )
    enc = [k for k in before if k.startswith("encoder.")]
    head = [k for k in before if k.startswith("head.")]
    # epoch 1: encoder (weights AND BatchNorm running stats) untouched, head trained
    assert all(torch.equal(before[k], snap[1][k]) for k in enc)
    assert not all(torch.equal(before[k], snap[1][k]) for k in head)
    # epoch 2: encoder trained, running stats updated
    assert not torch.equal(snap[1]["encoder.0.weight"], snap[2]["encoder.0.weight"])
    assert not torch.equal(snap[1]["encoder.1.running_mean"], snap[2]["encoder.1.running_mean"])
    assert list(hist.to_frame()["encoder_frozen"]) == [True, False]
    assert all(p.requires_grad for p in model.parameters())


def test_freeze_without_encoder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no .encoder"):
        fit(
            nn.Conv2d(3, 3, 1),
            ThresholdData(4),
            None,
            _cfg(freeze_epochs=1),
            tmp_path,
            scheme=SCHEME,
        )


def test_gradient_accumulation_matches_large_batch(tmp_path):
    """Global batch 2 x 4 accumulation steps == batch 8 in one step (no BN, CE, equal pixel counts)."""
    res = []
    for i, (bs, acc) in enumerate(((8, 1), (2, 4))):
        torch.manual_seed(0)
        m = TinyNet(bn=False)
        h = fit(
            m,
            ThresholdData(16),
            None,
            _cfg(num_epochs=2, batch_size=bs, accumulate_steps=acc, max_grad_norm=0.5),
            tmp_path / str(i),
            scheme=SCHEME,
        )
        assert list(h.to_frame()["step"]) == [2, 4]
        res.append(_weights(m))
    assert all(torch.allclose(res[0][k], res[1][k], atol=1e-5) for k in res[0])


def test_max_steps_per_epoch_and_history_steps(tmp_path):
    h = fit(
        TinyNet(),
        ThresholdData(16),
        ThresholdData(4),
        _cfg(num_epochs=2, max_steps_per_epoch=1, accumulate_steps=1),
        tmp_path,
        scheme=SCHEME,
    )
    assert list(h.to_frame()["step"]) == [1, 2]


def test_early_stopping(tmp_path):
    """lr tiny and constant: no improvement beyond min_delta, so it stops after patience rounds."""
    h = fit(
        TinyNet(),
        ThresholdData(8),
        ThresholdData(4, seed=1),
        _cfg(num_epochs=10, lr=1e-9, lr_encoder=1e-9, patience=2, min_delta=0.01),
        tmp_path,
        scheme=SCHEME,
    )
    assert h.stop_reason == "early_stopping"
    assert len(h.rows) == 3 and h.best_epoch == 1


class NaNAfter(nn.Module):
    def __init__(self, after_calls):
        super().__init__()
        self.encoder = nn.Conv2d(3, 3, 1)
        self.calls, self.after = 0, after_calls

    def forward(self, x):
        if self.training:
            self.calls += 1
        y = self.encoder(x)
        return y * float("nan") if self.training and self.calls > self.after else y


def test_nan_loss_stops_with_message_and_keeps_last_checkpoint(tmp_path):
    model = NaNAfter(after_calls=2)  # 2 batches per epoch: epoch 2 batch 1 is NaN
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 1.*lower lr.*fp32") as err:
        fit(model, ThresholdData(8), ThresholdData(4), _cfg(num_epochs=3), tmp_path, scheme=SCHEME)
    assert str(tmp_path / "last") in str(err.value)
    assert load_trainer_state(tmp_path / "last")["epoch"] == 1


def test_param_groups_lr_and_no_decay():
    m = TinyNet()
    groups = {g["name"]: g for g in param_groups(m, lr=1e-3, lr_encoder=1e-4, weight_decay=0.05)}
    assert set(groups) == {"encoder", "encoder_no_decay", "decoder", "decoder_no_decay"}
    assert groups["encoder"]["lr"] == 1e-4 and groups["decoder"]["lr"] == 1e-3
    assert (
        groups["encoder_no_decay"]["weight_decay"] == 0.0
        and groups["encoder"]["weight_decay"] == 0.05
    )
    ids = lambda name: {id(p) for p in groups[name]["params"]}  # noqa: E731
    assert ids("encoder") == {id(m.encoder[0].weight)}
    assert ids("encoder_no_decay") == {
        id(m.encoder[0].bias),
        id(m.encoder[1].weight),
        id(m.encoder[1].bias),
    }
    assert ids("decoder") == {id(m.head.weight)} and ids("decoder_no_decay") == {id(m.head.bias)}


def test_lr_schedule_known_values():
    assert lr_factor(0, 100, warmup_steps=10) == pytest.approx(0.1)
    assert lr_factor(9, 100, warmup_steps=10) == pytest.approx(1.0)
    assert lr_factor(10, 100, warmup_steps=10, schedule="cosine") == pytest.approx(1.0)
    assert lr_factor(55, 100, warmup_steps=10, schedule="cosine") == pytest.approx(0.5)
    assert lr_factor(
        100, 100, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1
    ) == pytest.approx(0.1)
    assert lr_factor(50, 100, schedule="poly", power=1.0) == pytest.approx(0.5)
    assert lr_factor(70, 100, schedule="constant") == 1.0


def test_sharded_batch_sampler_splits_global_batches():
    whole = list(ShardedBatchSampler(10, 4, seed=3))
    parts = [list(ShardedBatchSampler(10, 4, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(whole) == 2 and all(len(b) == 4 for b in whole)  # last partial batch dropped
    for i, batch in enumerate(whole):
        assert parts[0][i] + parts[1][i] == batch
    s = ShardedBatchSampler(10, 4, seed=3)
    s.set_epoch(1)
    assert list(s) != whole
    assert (
        list(ShardedBatchSampler(3, 8)) == [[0, 1, 2]] or len(list(ShardedBatchSampler(3, 8))) == 1
    )
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        ShardedBatchSampler(10, 3, world_size=2)


def test_confusion_dice_iou_known_values():
    masks = torch.tensor([[0, 0, 1, 1, 2, 255]])
    preds = torch.tensor([[0, 1, 1, 1, 0, 2]])
    cm = confusion_matrix(preds, masks, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    dice = dice_from_confusion(cm)
    assert dice[0] == pytest.approx(2 / 4) and dice[1] == pytest.approx(4 / 5) and dice[2] == 0
    iou = iou_from_confusion(cm)
    assert iou[1] == pytest.approx(2 / 3)
    assert math.isnan(dice_from_confusion(torch.tensor([[3, 0], [0, 0]]))[1])


def test_config_and_device_errors():
    with pytest.raises(ValueError, match="num_epochs"):
        TrainConfig(num_epochs=0)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="unknown settings"):
        TrainConfig.from_dict({"epochs": 3})
    assert TrainConfig.from_dict(TrainConfig(lr=0.1).to_dict()) == TrainConfig(lr=0.1)
    assert TrainConfig(lr=1e-3).encoder_lr == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
        assert resolve_device("auto").type in ("cpu", "mps")
        assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    kw = dataloader_kwargs(torch.device("cpu"), "auto")
    assert kw == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    with pytest.raises(ValueError, match="num_workers"):
        dataloader_kwargs(torch.device("cpu"), -1)


def test_wrong_num_classes_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="3 classes"):
        fit(
            TinyNet(num_classes=5),
            ThresholdData(4),
            None,
            _cfg(num_epochs=1),
            tmp_path,
            scheme=SCHEME,
        )


def _architecture_params():
    try:
        from papseg_utils.models import list_models
    except ImportError:  # pragma: no cover
        return []
    return list_models()


@pytest.mark.slow
@pytest.mark.parametrize("architecture", _architecture_params())
def test_notebook_every_architecture(architecture, tmp_path):
    """The fine-tuning chapter trains every registered architecture (smoke profile, random init)."""
    import os
    from pathlib import Path

    import papermill as pm

    from papseg_utils.book.profiles import profile_parameters
    from papseg_utils.models import model_table

    repo = Path(__file__).resolve().parents[1]
    profile = profile_parameters("06_fine_tuning", "smoke", repo / "notebooks")
    table = model_table().set_index("model")
    lite0 = "tf_efficientnet_lite0" in str(table.loc[architecture, "offline"])
    params = {
        **profile,
        "architecture": architecture,
        "pretrained": "none",
        "encoder": "tf_efficientnet_lite0" if lite0 else "default",
        "output_dir": str(tmp_path / "run"),
    }
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pm.execute_notebook(
        str(repo / "notebooks/06_fine_tuning.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters=params,
        cwd=str(repo),
        kernel_name="python3",
        progress_bar=False,
    )
    cfg = __import__("json").loads((tmp_path / "run/best/config.json").read_text())
    assert cfg["architecture"] == architecture and cfg["num_classes"] == 5
    assert (tmp_path / "run/history.csv").is_file()
