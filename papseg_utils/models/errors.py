"""Errors raised by the model registry and the weight loaders."""

from __future__ import annotations


class ModelConfigError(ValueError):
    """An unknown architecture, encoder or pretrained source (the message lists valid ones)."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights cannot be obtained (offline and not cached, or a bad local file).

    The message names the weights (Hugging Face repo id, URL or file) and how to supply
    them: download once with network into the Hugging Face / torch cache, or pass a local
    file or folder as ``pretrained="/path/to/weights.safetensors"``. The registry never
    falls back to random initialisation silently.
    """
