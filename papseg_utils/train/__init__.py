"""Training engine: losses, transfer-learning optimisation, checkpoints, resume, DDP.

Typical use (see the fine-tuning chapter, ``notebooks/06_fine_tuning.ipynb``)::

    from papseg_utils.train import TrainConfig, fit, load_model
    config = TrainConfig(num_epochs=20, batch_size=8, lr=1e-3, lr_encoder=1e-4, freeze_epochs=2)
    history = fit(model, train_ds, val_ds, config, "runs/unet", scheme="herlev3")
    model, info = load_model("runs/unet/best")

Another loss or optimiser: subclass :class:`Trainer`, override ``build_loss`` /
``build_optimizer`` / ``build_scheduler``, and call ``fit(..., trainer_cls=MyTrainer)``.
"""

from papseg_utils.train.checkpoint import (
    load_config,
    load_model,
    load_trainer_state,
    load_weights,
    save_checkpoint,
)
from papseg_utils.train.config import TrainConfig
from papseg_utils.train.engine import (
    NonFiniteLossError,
    TrainingOOMError,
    fit,
    score_loader,
    seed_everything,
    set_deterministic,
    worker_init_fn,
)
from papseg_utils.train.history import History
from papseg_utils.train.losses import LOSSES, get_loss
from papseg_utils.train.optim import build_optimizer, build_scheduler, lr_factor, param_groups
from papseg_utils.train.trainer import Trainer

__all__ = [
    "LOSSES",
    "History",
    "NonFiniteLossError",
    "TrainConfig",
    "Trainer",
    "TrainingOOMError",
    "build_optimizer",
    "build_scheduler",
    "score_loader",
    "fit",
    "get_loss",
    "load_config",
    "load_model",
    "load_trainer_state",
    "load_weights",
    "lr_factor",
    "param_groups",
    "save_checkpoint",
    "seed_everything",
    "set_deterministic",
    "worker_init_fn",
]
