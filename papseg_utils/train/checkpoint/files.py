"""A checkpoint folder's files, finding the folder, reading its ``config.json``, the errors."""

from __future__ import annotations

import json
from pathlib import Path

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "trainer_state.pt"
FORMAT_VERSION = 1
REQUIRED_CONFIG_KEYS = ("architecture", "num_classes")


class CheckpointError(ValueError):
    """A checkpoint file is damaged or does not fit; the message names the file and the fix."""


class MissingTrainerStateError(CheckpointError, FileNotFoundError):
    """``trainer_state.pt`` is absent: the checkpoint has weights only and cannot be resumed."""


DAMAGED = (
    "the checkpoint is damaged (an interrupted copy or a full disk?); use another checkpoint "
    "of the run (best/ or last/) or train again"
)


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: itself, or ``path/best`` / ``path/last`` of a run folder."""
    p = Path(path)
    if (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file():
        return p
    for sub in ("best", "last"):
        if (p / sub / CONFIG_FILE).is_file():
            return p / sub
    raise FileNotFoundError(
        f"no checkpoint at {p}: expected a folder with {WEIGHTS_FILE} and {CONFIG_FILE} "
        "(or a training output_dir with best/ or last/); train one with papseg_utils.train.fit"
    )


def load_config(path: str | Path) -> dict:
    """Read ``config.json`` of a checkpoint folder (:class:`CheckpointError` when damaged)."""
    p = resolve_checkpoint(path) / CONFIG_FILE
    try:
        config = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{p} is not valid JSON ({err}); {DAMAGED}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{p} holds {type(config).__name__}, not a mapping; {DAMAGED}")
    missing = [k for k in REQUIRED_CONFIG_KEYS if k not in config]
    if missing:
        raise CheckpointError(f"{p} lacks the keys {missing}; {DAMAGED}")
    return config
