"""Model registry: every architecture builds, runs forward/backward at input resolution, errors."""

from __future__ import annotations

import pytest
import torch

from papseg_utils.models import (
    ARCHITECTURES,
    ModelConfigError,
    architecture_family,
    build_model,
    crop_to,
    freeze_encoder,
    list_models,
    model_table,
    pad_to_multiple,
    parameter_counts,
)

torch.set_num_threads(2)

# small variants so the whole file runs in seconds on a laptop CPU
SMALL = {
    "unet": dict(encoder="resnet18"),
    "unetplusplus": dict(encoder="resnet18"),
    "attention_unet": dict(encoder="resnet18"),
    "deeplabv3plus": dict(encoder="resnet18"),
    "fpn": dict(encoder="tf_efficientnet_lite0"),
    "segformer": dict(encoder="mit_b0"),
    "pvt_fpn": dict(encoder="pvt_v2_b0"),
    "transunet": dict(encoder="resnet18", hidden_size=64, num_layers=1, num_heads=2),
    "unetr": dict(image_size=64, hidden_size=64, mlp_dim=128, num_heads=2, feature_size=8),
}


def test_registry_has_the_promised_architectures():
    assert set(list_models()) == set(SMALL)
    fams = {n: a.family for n, a in ARCHITECTURES.items()}
    assert {fams["unet"], fams["segformer"], fams["transunet"]} == {"cnn", "transformer", "hybrid"}


def test_architecture_family_reads_the_registry_and_lists_valid_names():
    assert architecture_family("unet") == "cnn"
    assert architecture_family("segformer") == "transformer"
    assert architecture_family("pvt_fpn") == "transformer"
    assert architecture_family("unetr") == "hybrid"
    with pytest.raises(ValueError, match="valid models:.*'transunet'"):
        architecture_family("resnet")


@pytest.mark.parametrize("name", list(SMALL))
def test_forward_backward_at_input_resolution(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=4, **SMALL[name])
    x = torch.randn(2, 3, 64, 64)
    logits = model(x)
    assert logits.shape == (2, 4, 64, 64)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    logits.square().mean().backward()
    enc_grads = [p.grad for p in model.encoder.parameters() if p.requires_grad]
    assert enc_grads and all(g is not None for g in enc_grads[:1])
    assert sum(g.abs().sum().item() for g in enc_grads if g is not None) > 0
    # encoder is a proper subset of the model, and registered only once
    enc_ids = {id(p) for p in model.encoder.parameters()}
    all_ids = [id(p) for p in model.parameters()]
    assert enc_ids < set(all_ids) and len(all_ids) == len(set(all_ids))
    spec = model.papseg_spec
    assert spec.name == name and spec.num_classes == 4
    assert spec.params == sum(p.numel() for p in model.parameters())
    assert len(spec.mean) == 3 and len(spec.std) == 3 and min(spec.std) > 0
    assert spec.weights_source == "random-init" and spec.weights_sha256 is None


def test_normalisation_follows_the_encoder():
    lite = build_model("fpn", 3, encoder="tf_efficientnet_lite0").papseg_spec
    res = build_model("unet", 3, encoder="resnet18").papseg_spec
    assert lite.mean == lite.std == (0.5, 0.5, 0.5)
    assert res.mean == pytest.approx((0.485, 0.456, 0.406))


def test_segformer_upsamples_quarter_resolution_logits():
    model = build_model("segformer", 3).eval()
    x = torch.randn(1, 3, 96, 64)
    raw = model.hf(pixel_values=x).logits
    assert raw.shape[-2:] == (24, 16)
    assert model(x).shape == (1, 3, 96, 64)


def test_unknown_name_encoder_source_list_valid_choices():
    with pytest.raises(ModelConfigError, match="valid models: .*unet"):
        build_model("unet3000", 3)
    with pytest.raises(ModelConfigError, match="valid encoders: .*resnet34"):
        build_model("unet", 3, encoder="vgg11")
    with pytest.raises(ModelConfigError, match="valid: .*imagenet"):
        build_model("unet", 3, pretrained="ade20k")
    with pytest.raises(ModelConfigError, match="ade20k"):
        build_model("segformer", 3, pretrained="coco")
    with pytest.raises(ModelConfigError, match="positive int"):
        build_model("unet", 0)


def test_unetr_rejects_other_sizes_with_a_fix():
    model = build_model("unetr", 3, **SMALL["unetr"])
    with pytest.raises(ValueError, match="image_size=96"):
        model(torch.randn(1, 3, 96, 96))


def test_pad_to_multiple_round_trip():
    x = torch.randn(1, 3, 50, 70)
    padded, size = pad_to_multiple(x, 32)
    assert padded.shape[-2:] == (64, 96) and size == (50, 70)
    assert torch.equal(crop_to(padded, size), x)
    model = build_model("fpn", 2).eval()
    assert crop_to(model(padded), size).shape == (1, 2, 50, 70)


def test_freeze_encoder_counts():
    model = build_model("fpn", 3)
    total = sum(p.numel() for p in model.parameters())
    enc = sum(p.numel() for p in model.encoder.parameters())
    assert freeze_encoder(model) == total - enc
    assert freeze_encoder(model, frozen=False) == total


def test_parameter_counts_follow_the_encoder_and_leave_the_model_as_found():
    lite = build_model("unet", 3, encoder="tf_efficientnet_lite0")
    resnet = build_model("unet", 3, encoder="resnet34")
    freeze_encoder(resnet, frozen=True)
    a, b = parameter_counts(lite), parameter_counts(resnet)
    assert a["total"] != b["total"] and a["frozen"] != b["frozen"]
    for counts, model in ((a, lite), (b, resnet)):
        enc = sum(p.numel() for p in model.encoder.parameters())
        assert counts["all"] == counts["total"] == sum(p.numel() for p in model.parameters())
        assert counts["frozen"] == counts["total"] - enc
    assert not any(p.requires_grad for p in resnet.encoder.parameters())  # still frozen
    assert all(p.requires_grad for p in lite.encoder.parameters())


def test_attention_gates_produce_coefficients():
    model = build_model("attention_unet", 2, encoder="resnet18").eval()
    model(torch.randn(1, 3, 64, 64))
    maps = model.attention_maps()
    assert [m.shape[-1] for m in maps] == [4, 8, 16, 32]
    assert all(0 <= m.min() and m.max() <= 1 for m in maps)


def test_model_table_counts_parameters():
    table = model_table()
    assert list(table["model"]) == list_models()
    row = table.set_index("model").loc["fpn"]
    assert row["params_M"] == pytest.approx(
        build_model("fpn", 3).papseg_spec.params / 1e6, abs=0.01
    )
    assert row["family"] == "cnn" and "imagenet" in row["offline"]


def test_one_freeze_function_for_smp_and_other_models():
    """smp models keep a frozen encoder in eval mode through train(); the others re-freeze."""
    unet = build_model("unet", num_classes=3, encoder="tf_efficientnet_lite0", image_classes=2)
    trainable = freeze_encoder(unet)
    unet.train()
    norms = [m for m in unet.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms) and unet.base.decoder.training
    assert trainable == sum(p.numel() for p in unet.parameters() if p.requires_grad)
    freeze_encoder(unet, frozen=False)
    unet.train()
    assert all(m.training for m in norms)
    seg = build_model("segformer", num_classes=3)
    freeze_encoder(seg)
    assert not any(p.requires_grad for p in seg.encoder.parameters())
    with pytest.raises(ValueError, match="no .encoder"):
        freeze_encoder(torch.nn.Conv2d(3, 3, 1))
