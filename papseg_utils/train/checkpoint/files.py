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


def resolve_checkpoints(path: str | Path) -> list[Path]:
    """One checkpoint (:func:`resolve_checkpoint`), or the checkpoint of every subfolder of a
    cross-validation folder (``fold0/``, ``fold1/``, ... each a run folder), in name order."""
    p = Path(path)
    try:
        return [resolve_checkpoint(p)]
    except FileNotFoundError:
        pass
    found = []
    for sub in sorted(q for q in p.iterdir() if q.is_dir()) if p.is_dir() else []:
        try:
            found.append(resolve_checkpoint(sub))
        except FileNotFoundError:
            continue
    if not found:
        raise FileNotFoundError(
            f"no checkpoint at {p}: expected a folder with {WEIGHTS_FILE} and {CONFIG_FILE}, a "
            "training output_dir with best/ or last/, or a cross-validation folder whose "
            "subfolders (fold0/, fold1/, ...) are such output_dirs; train one with "
            "papseg_utils.train.fit"
        )
    return found


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
