"""Model registry, pretrained weights and inspection helpers.

>>> from papseg_utils.models import build_model
>>> model = build_model("unet", num_classes=3, pretrained="imagenet", encoder="tf_efficientnet_lite0")
>>> model.papseg_spec.mean   # normalise inputs with the spec's mean/std
(0.5, 0.5, 0.5)

Modules: ``architectures`` (the architecture table and :func:`register_architecture`),
``encoders`` (the encoder table and :func:`register_encoder`), ``registry`` (:func:`build_model`,
:func:`model_table`, freezing, padding), ``loading`` and ``pretrained`` (weights), the
implementations (``attention_unet``, ``hybrid``, ``segformer``, ``heads``), ``inspect`` and
``plots`` (the chapters' probes and figures).
"""

from .architectures import (
    FAMILIES,
    Architecture,
    architecture_family,
    register_architecture,
    unregister_architecture,
)
from .encoders import EncoderInfo, register_encoder, unregister_encoder
from .errors import ModelConfigError, WeightsUnavailableError
from .registry import (
    ARCHITECTURES,
    ENCODERS,
    ModelSpec,
    build_model,
    count_parameters,
    crop_to,
    fetch_weights,
    freeze_encoder,
    list_models,
    model_table,
    pad_to_multiple,
    parameter_counts,
)

__all__ = [
    "ARCHITECTURES",
    "ENCODERS",
    "FAMILIES",
    "Architecture",
    "EncoderInfo",
    "ModelConfigError",
    "ModelSpec",
    "WeightsUnavailableError",
    "architecture_family",
    "build_model",
    "count_parameters",
    "crop_to",
    "fetch_weights",
    "freeze_encoder",
    "list_models",
    "model_table",
    "pad_to_multiple",
    "parameter_counts",
    "register_architecture",
    "register_encoder",
    "unregister_architecture",
    "unregister_encoder",
]
