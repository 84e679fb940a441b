"""The architecture table: one :func:`register_architecture` call per architecture.

An architecture declares here everything the rest of papseg reads about it: its name (what
``build_model``, the training parameters and the command line take), its family (``"cnn"``,
``"transformer"`` or ``"hybrid"``: chapter 5's table and the results study group by it), the
encoders it accepts and its default one, the builder, and the facts chapter 5's model table
shows (implementation, citation, input-size rule). The nine built-in architectures register
themselves at the bottom of this module, exactly as a newcomer's would::

    from papseg_utils.models import build_model, register_architecture

    def build_tiny(encoder, num_classes, **kwargs):   # encoder: an EncoderInfo
        return TinyNet(num_classes, **kwargs)         # (N,3,H,W) -> (N,num_classes,H,W), .encoder

    register_architecture("tiny", build_tiny, family="cnn", default_encoder="tiny_conv",
                          encoders=("tiny_conv",), citation="me2026")
    model = build_model("tiny", num_classes=3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from .encoders import CNN_ENCODERS, ENCODERS, MIT, PVT, EncoderInfo
from .errors import ModelConfigError

FAMILIES = ("cnn", "transformer", "hybrid")

# the model table's cache (``registry.model_table``), emptied whenever the table changes
TABLE_CACHE: dict[tuple, object] = {}


@dataclass(frozen=True)
class Architecture:
    """A registry entry (made by :func:`register_architecture`).

    ``builder(encoder: EncoderInfo, num_classes: int, **kwargs) -> nn.Module`` returns a model
    mapping float32 images (N,3,H,W) to logits (N,num_classes,H,W) with an ``.encoder``
    submodule. ``fixed_input_size(kwargs) -> int`` is given for models that accept one square
    input size only; ``load_pretrained(encoder, pretrained, num_classes, kwargs) -> (model,
    weights_source, sha256)`` for models that load a whole pretrained network by source name
    (or from a Hugging Face folder) instead of loading encoder weights into a fresh model.
    """

    name: str
    family: str
    default_encoder: str
    encoders: tuple[str, ...]
    implementation: str
    builder: Callable[..., nn.Module]
    citation: str
    description: str
    size_multiple: int = 32
    input_note: str | None = None  # model table "input" column; None: "H, W divisible by N"
    fixed_input_size: Callable[[dict], int] | None = None
    load_pretrained: Callable[..., tuple[nn.Module, str, str]] | None = None

    @property
    def input_rule(self) -> str:
        """What inputs the model takes, for the model table (e.g. "H, W divisible by 32")."""
        return self.input_note or f"H, W divisible by {self.size_multiple}"


ARCHITECTURES: dict[str, Architecture] = {}


def _check_entry(name, family, default_encoder, encoders, size_multiple) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ModelConfigError(f"architecture name must be a Python identifier, got {name!r}")
    if name in ARCHITECTURES:
        raise ModelConfigError(
            f"architecture {name!r} is already registered; pick another name or call "
            f"unregister_architecture({name!r}) first"
        )
    if family not in FAMILIES:
        raise ModelConfigError(f"architecture {name!r}: family {family!r} is not one of {FAMILIES}")
    unknown = [e for e in encoders if e not in ENCODERS]
    if unknown:
        raise ModelConfigError(
            f"architecture {name!r}: unknown encoders {unknown}; register them with "
            f"register_encoder(EncoderInfo(...)) or pick from {list(ENCODERS)}"
        )
    if default_encoder not in encoders:
        raise ModelConfigError(
            f"architecture {name!r}: default encoder {default_encoder!r} is not among its "
            f"encoders {list(encoders)}"
        )
    if not isinstance(size_multiple, int) or size_multiple < 1:
        raise ModelConfigError(
            f"architecture {name!r}: size_multiple must be a positive int, got {size_multiple!r}"
        )


def register_architecture(
    name: str,
    builder: Callable[..., nn.Module],
    *,
    family: str,
    default_encoder: str,
    encoders: Sequence[str] | None = None,
    implementation: str | None = None,
    citation: str = "",
    description: str = "",
    size_multiple: int = 32,
    input_note: str | None = None,
    fixed_input_size: Callable[[dict], int] | None = None,
    load_pretrained: Callable[..., tuple[nn.Module, str, str]] | None = None,
) -> Architecture:
    """Register architecture ``name`` so that ``build_model(name, ...)`` builds it; return its entry.

    ``builder`` and the hooks are described in :class:`Architecture`. ``encoders`` (names in
    :data:`~papseg_utils.models.encoders.ENCODERS`) defaults to ``(default_encoder,)``;
    ``implementation`` defaults to the builder's qualified name. The architecture then appears
    in :func:`list_models`, ``model_table()``, :func:`architecture_family`, the training
    parameters' and the command line's checks. Raises :class:`ModelConfigError` for a taken
    name, a family outside :data:`FAMILIES`, an unknown encoder or a bad ``size_multiple``.
    """
    encoders = tuple(encoders) if encoders is not None else (default_encoder,)
    _check_entry(name, family, default_encoder, encoders, size_multiple)
    if implementation is None:
        implementation = f"{builder.__module__}.{builder.__qualname__}"
    arch = Architecture(
        name, family, default_encoder, encoders, implementation, builder, citation, description,
        size_multiple, input_note, fixed_input_size, load_pretrained,
    )  # fmt: skip
    ARCHITECTURES[name] = arch
    TABLE_CACHE.clear()
    return arch


def unregister_architecture(name: str) -> Architecture:
    """Remove architecture ``name`` from the registry and return its entry (tests clean up)."""
    if name not in ARCHITECTURES:
        raise ModelConfigError(f"unknown model {name!r}; valid models: {list_models()}")
    TABLE_CACHE.clear()
    return ARCHITECTURES.pop(name)


def list_models() -> list[str]:
    """Registered architecture names, in registration order."""
    return list(ARCHITECTURES)


def architecture_family(name: str) -> str:
    """The family of registered architecture ``name``: ``"cnn"``, ``"transformer"`` or ``"hybrid"``.

    Raises :class:`ModelConfigError` (a ``ValueError``) listing the valid names for an unknown one.
    """
    if name not in ARCHITECTURES:
        raise ModelConfigError(f"unknown model {name!r}; valid models: {list_models()}")
    return ARCHITECTURES[name].family


def resolve(name: str, encoder: str | None) -> tuple[Architecture, EncoderInfo]:
    """The entry of ``name`` and its encoder (``None``: the default; a ``tu-`` prefix is dropped).

    Raises :class:`ModelConfigError` listing the valid models or the model's valid encoders.
    """
    if name not in ARCHITECTURES:
        raise ModelConfigError(f"unknown model {name!r}; valid models: {list_models()}")
    arch = ARCHITECTURES[name]
    enc = arch.default_encoder if encoder is None else encoder.removeprefix("tu-")
    if enc not in arch.encoders:
        raise ModelConfigError(
            f"model {name!r} does not support encoder {encoder!r}; valid encoders: {list(arch.encoders)}"
        )
    return arch, ENCODERS[enc]


# --------------------------------------------------------------------------- built-in builders
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
    from .segformer import build_segformer

    return build_segformer(encoder, num_classes, **kw)


def _segformer_pretrained(encoder: EncoderInfo, pretrained: str, num_classes: int, kwargs: dict):
    from .segformer import load_segformer_pretrained

    return load_segformer_pretrained(encoder, pretrained, num_classes, kwargs)


# --------------------------------------------------------------------------- built-in entries
# (in the order of chapter 5's table)
_CNN = dict(family="cnn", default_encoder="resnet34", encoders=CNN_ENCODERS)
register_architecture(
    "unet",
    _smp("Unet"),
    **_CNN,
    implementation="smp.Unet",
    citation="ronneberger2015",
    description="encoder-decoder with skip connections",
)
register_architecture(
    "unetplusplus",
    _smp("UnetPlusPlus"),
    **_CNN,
    implementation="smp.UnetPlusPlus",
    citation="zhou2018",
    description="nested, densely connected skips",
)
register_architecture(
    "attention_unet",
    _attention_unet,
    **_CNN,
    implementation="papseg AttentionUNet (Oktay gates on an smp encoder)",
    citation="oktay2018",
    description="U-Net whose skips pass through attention gates",
)
register_architecture(
    "deeplabv3plus",
    _smp("DeepLabV3Plus"),
    **_CNN,
    implementation="smp.DeepLabV3Plus",
    citation="chen2018deeplab",
    description="atrous spatial pyramid pooling + light decoder",
)
register_architecture(
    "fpn",
    _smp("FPN"),
    family="cnn",
    default_encoder="tf_efficientnet_lite0",
    encoders=CNN_ENCODERS,
    implementation="smp.FPN",
    citation="lin2017fpn",
    description="feature pyramid, summed and upsampled",
)
register_architecture(
    "segformer",
    _segformer,
    family="transformer",
    default_encoder="mit_b0",
    encoders=MIT,
    implementation="transformers.SegformerForSemanticSegmentation",
    citation="xie2021segformer",
    description="hierarchical Transformer + all-MLP decoder",
    load_pretrained=_segformer_pretrained,
)
register_architecture(
    "pvt_fpn",
    _smp("FPN"),
    family="transformer",
    default_encoder="pvt_v2_b0",
    encoders=PVT,
    implementation="smp.FPN + timm pvt_v2",
    citation="wang2022pvtv2",
    description="pyramid vision Transformer v2 + FPN decoder",
)
register_architecture(
    "transunet",
    _transunet,
    **{**_CNN, "family": "hybrid"},
    implementation="papseg TransUNet (smp encoder + ViT bottleneck + smp UnetDecoder)",
    citation="chen2021transunet",
    description="CNN encoder, Transformer bottleneck, U-Net decoder",
)
register_architecture(
    "unetr",
    _unetr,
    family="hybrid",
    default_encoder="vit",
    implementation="papseg UNETR2D (torch ViT + MONAI UNETR blocks)",
    citation="hatamizadeh2022unetr",
    description="ViT encoder, convolutional decoder",
    size_multiple=16,
    input_note="= image_size, /16",
    fixed_input_size=lambda kw: kw.get("image_size", 256),
)
