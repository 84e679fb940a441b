"""The training entry point: ``fit(model, train_ds, val_ds, config, output_dir)``.

One loop for every architecture and every machine:

* **CPU** (students): plain single-process PyTorch, fp32, no worker processes.
* **GPU**: autocast in bf16 (or fp16 with a GradScaler), channels-last memory
  format, TF32, optional ``torch.compile``, pinned-memory DataLoader workers.
* **Several GPUs**: run the same script under ``torchrun --nproc_per_node N``
  or ``accelerate launch``; :mod:`~papseg_utils.train.distributed` wraps the
  model in DDP and splits each global batch across the processes.

Every epoch ends with a validation pass (per-class Dice from a confusion
matrix accumulated over the validation set, ignored pixels excluded), early
stopping on the mean foreground Dice, and ``best``/``last`` checkpoint
folders (see :mod:`~papseg_utils.train.checkpoint`) from which
``fit(..., resume_from=...)`` continues exactly (single process, ``num_workers=0``).

The loop itself lives in :class:`~papseg_utils.train.trainer.Trainer` (subclass it to change the
loss, optimiser or schedule, and pass ``trainer_cls=``); validation in
:mod:`~papseg_utils.train.validation`; seeding in :mod:`~papseg_utils.train.seeding`.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from papseg_utils.device import (
    autocast_dtype,
    configure_backends,
    resolve_device,
    resolve_precision,
)
from papseg_utils.evaluate.loader import score_loader
from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.train.config import TrainConfig
from papseg_utils.train.distributed import cleanup, init_distributed
from papseg_utils.train.history import History
from papseg_utils.train.seeding import seed_everything, set_deterministic, worker_init_fn
from papseg_utils.train.trainer import (
    NonFiniteLossError,
    Placement,
    Trainer,
    TrainingOOMError,
)

__all__ = [
    "NonFiniteLossError",
    "TrainingOOMError",
    "score_loader",
    "fit",
    "seed_everything",
    "set_deterministic",
    "worker_init_fn",
]


def fit(
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset | None,
    config: TrainConfig | dict,
    output_dir: str | Path,
    scheme: LabelScheme | str | None = None,
    resume_from: str | Path | None = None,
    callbacks: list | None = None,
    record: dict | None = None,
    trainer_cls: type[Trainer] = Trainer,
) -> History:
    """Train ``model`` on ``train_ds``, validating on ``val_ds`` after every ``val_every`` epochs.

    Parameters
    ----------
    model : nn.Module
        Maps images (N, 3, H, W) float32 to logits (N, C, H, W). Its
        ``encoder`` attribute (if any) gets ``lr_encoder`` and can be frozen.
        Trained in place; at the end it holds the *last* weights (the best are
        in ``output_dir/best``; load them with :func:`~papseg_utils.train.checkpoint.load_model`).
    train_ds, val_ds : Dataset
        Items are dicts ``{"image": (3, H, W) float32, "mask": (H, W) int64, ...}``
        or tuples ``(image, mask)``; all items of a dataset share one size.
        ``val_ds=None`` skips validation (no early stopping, no ``best``).
        What the loop reads from ``train_ds`` itself, never from a wrapped dataset:
        ``scheme`` (when ``scheme`` is not given), ``image_size`` and ``record`` (a dict,
        both saved in the checkpoints) and ``reseed(seed)`` (called every epoch; see
        :func:`papseg_utils.train.seeding.reseed_dataset`).
    config : TrainConfig or dict
    output_dir : folder for ``history.csv``, ``history.json``, ``best/``, ``last/``.
    scheme : label scheme (name or object); default ``train_ds.scheme``. Its
        ``num_classes`` must match the model's output channels.
    resume_from : checkpoint folder (normally ``output_dir/last``) to continue from.
    callbacks : callables ``f(row) -> bool`` or objects with
        ``on_epoch_end(row, history) -> bool``, called on the main process
        after each epoch's checkpoint is written; ``True`` stops training.
    record : JSON-serialisable facts saved under ``extra`` in every checkpoint's
        ``config.json``, besides ``train_ds.record`` (where
        :func:`~papseg_utils.train.recipe.prepare_training` puts the dataset parameters under
        ``"data"``), so that a checkpoint says what it was trained on.
    trainer_cls : a subclass of :class:`~papseg_utils.train.trainer.Trainer` to train with,
        e.g. one whose ``build_loss`` / ``build_optimizer`` / ``build_scheduler`` give another
        loss, optimiser or schedule (``docs/DEVELOPING.md``, "How to change the loss or the
        optimizer"). The default builds the configured loss, AdamW and schedule.

    Returns
    -------
    History
        One row per epoch; also written to ``output_dir``.

    Raises
    ------
    NonFiniteLossError
        The loss became NaN/inf (message: epoch, step and what to try);
        ``output_dir/last`` still holds the last good epoch.
    TrainingOOMError
        CUDA out of memory, with a hint on what to shrink.
    """
    if not (isinstance(trainer_cls, type) and issubclass(trainer_cls, Trainer)):
        raise TypeError(
            f"trainer_cls must be papseg_utils.train.trainer.Trainer or a subclass of it, got "
            f"{trainer_cls!r}; subclass Trainer and override build_loss/build_optimizer"
        )
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    if scheme is None:
        scheme = getattr(train_ds, "scheme", None)
        if scheme is None:
            raise ValueError(
                "fit() needs the label scheme: pass scheme='herlev3' (or the LabelScheme of your "
                "masks)"
            )
    scheme = get_scheme(scheme)
    device = resolve_device(cfg.device)
    dist_ctx = init_distributed(device)
    precision = resolve_precision(cfg.precision, dist_ctx.device)
    where = Placement(
        device=dist_ctx.device,
        dist=dist_ctx,
        precision=precision,
        amp_dtype=autocast_dtype(precision),
        channels_last=cfg.channels_last and dist_ctx.device.type == "cuda",
    )
    restore_determinism = set_deterministic(cfg.deterministic)
    configure_backends(where.device, cfg.deterministic)
    try:
        trainer = trainer_cls(model, train_ds, val_ds, cfg, Path(output_dir), scheme, where,
                              callbacks, record)  # fmt: skip
        if resume_from is not None:
            trainer.resume(resume_from)
        return trainer.run()
    finally:
        restore_determinism()
        cleanup(dist_ctx)
