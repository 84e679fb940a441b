"""Library messages rewritten for the command line.

Library errors teach the Python call (``on_error='skip'``,
``strict_pairs=False``, ``pretrained='/path'``). A command-line user cannot
pass those keywords, so the commands print errors through
:func:`for_command_line`, which replaces each Python hint with what the
command offers (or drops it when the command has no equivalent).
"""

from __future__ import annotations

PYTHON_HINTS: dict[str, str] = {
    " (or use on_error='skip')": "",
    " (or pass strict_pairs=False)": "",
    ", or load with on_error='skip' to skip it": ", or remove it from the folder",
    "pass its path: pretrained='/path/to/weights.safetensors'": (
        "pass its path: --pretrained /path/to/weights.safetensors"
    ),
    "use pretrained='imagenet' with encoder='tf_efficientnet_lite0'": (
        "use --pretrained imagenet with --encoder tf_efficientnet_lite0"
    ),
    "use encoder='tf_efficientnet_lite0'": "use --encoder tf_efficientnet_lite0",
    "or pretrained='none'": "or --pretrained none",
    "train one with papseg_utils.train.fit": "train one with python -m papseg_utils train",
    " Pass root=...": " Pass --data-dir PATH",
    "as the data folder (data_dir)": "as --data-dir PATH",
    "image_head='health'": "--image-head health",
    "image_head='diagnosis'": "--image-head diagnosis",
}
"""Python hint in a library message -> its command-line form ("" drops it)."""


def for_command_line(message: str) -> str:
    """``message`` with every Python-only hint of :data:`PYTHON_HINTS` replaced."""
    for python, command in PYTHON_HINTS.items():
        message = message.replace(python, command)
    return message
