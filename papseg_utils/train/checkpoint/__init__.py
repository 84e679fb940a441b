"""Checkpoint folders: weights, a JSON description, and the trainer state.

A checkpoint is a folder::

    model.safetensors   the model's weights (safetensors: no code on load)
    config.json         what is needed to rebuild and use the model: architecture,
                        encoder, num_classes, label scheme, normalisation mean/std,
                        image_size, model kwargs, pre-training source and hash,
                        epoch, validation metrics, training config, versions,
                        and the data it was trained on (``data``, from
                        :func:`papseg_utils.train.recipe.data_record`)
    trainer_state.pt    optimiser, scheduler, GradScaler, RNG states, epoch, step,
                        history and early-stopping state: only tensors and plain
                        Python values, loaded with ``torch.load(weights_only=True)``
                        so loading never unpickles arbitrary objects

:func:`load_model` rebuilds the network with
``papseg_utils.models.build_model(..., pretrained="none")`` and loads the weights
strictly; :func:`papseg_utils.train.fit` with ``resume_from=`` continues a run.

A damaged folder (empty or truncated weights, invalid ``config.json``, an
unreadable ``trainer_state.pt``) raises :class:`CheckpointError`, whose message
names the file and says what to do. :func:`save_checkpoint` replaces an
existing folder without a moment where it is missing (an atomic exchange of
the two folders where the system supports it; otherwise Ctrl-C is held back
between the two renames).

Modules: :mod:`~papseg_utils.train.checkpoint.files` (the folder's files, finding it,
``config.json``, the errors), :mod:`~papseg_utils.train.checkpoint.save` (writing a folder
atomically), :mod:`~papseg_utils.train.checkpoint.load` (weights, model, trainer state),
:mod:`~papseg_utils.train.checkpoint.verify` (weights header, recorded hash, resumability),
:mod:`~papseg_utils.train.checkpoint.record` (what ``config.json`` says about the model) and
:mod:`~papseg_utils.train.checkpoint.rng` (RNG states for the trainer state).
"""

from papseg_utils.train.checkpoint.files import (
    CONFIG_FILE,
    FORMAT_VERSION,
    REQUIRED_CONFIG_KEYS,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    MissingTrainerStateError,
    load_config,
    resolve_checkpoint,
    resolve_checkpoints,
)
from papseg_utils.train.checkpoint.load import load_model, load_trainer_state, load_weights
from papseg_utils.train.checkpoint.record import model_description, versions
from papseg_utils.train.checkpoint.rng import get_rng_state, set_rng_state
from papseg_utils.train.checkpoint.save import save_checkpoint
from papseg_utils.train.checkpoint.verify import (
    check_resumable,
    check_weights_file,
    sha256_file,
    verify_weights,
)

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "REQUIRED_CONFIG_KEYS",
    "STATE_FILE",
    "WEIGHTS_FILE",
    "CheckpointError",
    "MissingTrainerStateError",
    "check_resumable",
    "check_weights_file",
    "get_rng_state",
    "load_config",
    "load_model",
    "load_trainer_state",
    "load_weights",
    "model_description",
    "resolve_checkpoint",
    "resolve_checkpoints",
    "save_checkpoint",
    "set_rng_state",
    "sha256_file",
    "verify_weights",
    "versions",
]
