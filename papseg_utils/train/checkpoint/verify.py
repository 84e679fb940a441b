"""Checking a checkpoint's files: the weights header, the recorded hash, whether it resumes."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from papseg_utils.train.checkpoint.files import (
    CONFIG_FILE,
    DAMAGED,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    MissingTrainerStateError,
    load_config,
    resolve_checkpoint,
)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_weights_file(path: str | Path) -> None:
    """Raise :class:`CheckpointError` if a ``.safetensors`` file is empty, truncated or garbled.

    Reads only the header (8-byte length, JSON table of tensors) and compares
    the data size it announces with the file size.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p} is missing; {DAMAGED}")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p} is empty (0 bytes); {DAMAGED}")
    try:
        with open(p, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8 and n < 1 << 27:  # a plausible header cut short
                raise CheckpointError(
                    f"{p} is truncated ({size} bytes, its header alone announces {n + 8}); "
                    f"{DAMAGED}"
                )
            if n > size - 8:
                raise ValueError(f"its first 8 bytes announce a header of {n} bytes")
            header = json.loads(f.read(n))
        end = max(
            (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
            default=0,
        )
    except CheckpointError:
        raise
    except (struct.error, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        raise CheckpointError(
            f"{p} is not a readable safetensors file ({err}); {DAMAGED}"
        ) from None
    if 8 + n + end > size:
        raise CheckpointError(
            f"{p} is truncated ({size} bytes, its header announces {8 + n + end}); {DAMAGED}"
        )


def check_resumable(path: str | Path, num_classes: int) -> Path:
    """Check, before any training, that ``path`` can be resumed by a run of ``num_classes``.

    Reads ``config.json`` and the weights header and looks for
    ``trainer_state.pt``; raises :class:`CheckpointError` naming the file.
    Returns the checkpoint folder.
    """
    folder = resolve_checkpoint(path)
    config = load_config(folder)
    if int(config["num_classes"]) != int(num_classes):
        raise CheckpointError(
            f"{folder} was trained with {config['num_classes']} classes, this run has "
            f"{num_classes}; resume with the same label scheme (or start a new run)"
        )
    check_weights_file(folder / WEIGHTS_FILE)
    if not (folder / STATE_FILE).is_file():
        raise MissingTrainerStateError(
            f"{folder / STATE_FILE} not found: this checkpoint has weights only and cannot be "
            "resumed; resume from the last/ folder of a run written by train, or start a new run"
        )
    return folder


def verify_weights(path: str | Path, config: dict | None = None) -> str:
    """The SHA-256 of a checkpoint's ``model.safetensors``, checked against its ``config.json``.

    ``save_checkpoint`` records the hash of the file it wrote; a file that was
    edited, damaged in place or swapped for another run's since then has another
    hash and raises :class:`CheckpointError`. A config without a recorded hash
    (written by hand) passes. Hashing costs about 30 ms for Lite0's 20 MB.
    """
    folder = resolve_checkpoint(path)
    config = load_config(folder) if config is None else config
    weights = folder / WEIGHTS_FILE
    actual = sha256_file(weights)
    recorded = config.get("checkpoint_sha256")
    if recorded and actual != recorded:
        raise CheckpointError(
            f"{weights} is not the file that was saved: its SHA-256 is {actual[:16]}..., "
            f"{folder / CONFIG_FILE} records {str(recorded)[:16]}...; the weights were edited, "
            "damaged in place or copied from another checkpoint. Use another checkpoint of the run "
            "(best/ or last/) or train again"
        )
    return actual
