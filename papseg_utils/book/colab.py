"""Google Colab: detect it, so that the runner lets the hubs download there.

Elsewhere the runner and the studies run offline by default (``HF_HUB_OFFLINE=1``
unless set), so that CI never touches the network. On Colab the weights of the
paper's set-up (ImageNet ResNet-34, MiT, PVTv2) come from the hubs, so the runner
leaves ``HF_HUB_OFFLINE`` alone there. The notebooks' first cell (written by
``scripts/colab_cell.py``) installs the package on Colab; the ``colab`` profile in
``notebooks/profiles/*.yaml`` is sized for its T4 GPU (16 GB, fp16, no native bf16).
"""

from __future__ import annotations

import importlib.util
import os
import sys

COLAB_ENV_VARS = ("COLAB_RELEASE_TAG", "COLAB_GPU")
"""Environment variables Colab sets in its kernels and in their ``!`` shell commands."""


def on_colab() -> bool:
    """Whether this process runs on Google Colab (its kernel, or a command started from it)."""
    if "google.colab" in sys.modules or any(os.environ.get(v) for v in COLAB_ENV_VARS):
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no "google" package, or a broken namespace
        return False
