"""Model registry, pretrained weights and inspection helpers.

>>> from papseg_utils.models import build_model
>>> model = build_model("unet", num_classes=3, pretrained="imagenet", encoder="tf_efficientnet_lite0")
>>> model.papseg_spec.mean   # normalise inputs with the spec's mean/std
(0.5, 0.5, 0.5)
"""

from .errors import ModelConfigError, WeightsUnavailableError
from .registry import (
    ARCHITECTURES,
    ENCODERS,
    ModelSpec,
    architecture_family,
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
]
