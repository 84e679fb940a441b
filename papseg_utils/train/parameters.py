"""The fine-tuning run's parameters, declared once.

``PARAMETERS`` maps each name to ``(type, default, help)``. Everything else derives from it:

* the options of the ``train`` command (:mod:`papseg_utils.train.cli`);
* the defaults of :func:`~papseg_utils.train.recipe.prepare_training` (the data, split and model
  keys, ``RECIPE_KEYS``) and :func:`train_config` (the optimisation keys, ``TRAIN_KEYS``);
* the parameters cell of ``notebooks/06_fine_tuning.ipynb`` (papermill needs literals in the
  notebook): :func:`parameters_cell` renders it and ``python -m papseg_utils.train.parameters
  NOTEBOOK`` rewrites it; a test fails when the notebook's cell differs.
"""

from __future__ import annotations

import sys
from typing import Any

PARAMETERS: dict[str, tuple[type, Any, str]] = {
    "architecture": (str, "unet", "any name from papseg_utils.models.list_models()"),
    "encoder": (
        str,
        "tf_efficientnet_lite0",
        'encoder name, or "default" for the architecture\'s own',
    ),
    "pretrained": (
        str,
        "imagenet",
        '"imagenet", "ade20k", "distilled", "none" or a weights file',
    ),
    "dataset": (str, "synthetic", 'data source: "synthetic", "herlev" or "folder"'),
    "data_dir": (str, "", "data folder; empty: $PAPSEG_HERLEV_DIR, else the default location"),
    "scheme": (
        str,
        "paper",
        '"paper" (synthetic); "herlev3", "herlev5", "paper_cells" (Herlev); folder: its classes.yaml',
    ),
    "augmentation": (str, "medical", '"none", "basic", "medical" or "strong"'),
    "image_size": (
        int,
        128,
        "input side in px: letterbox side, or largest side at target_spacing_um",
    ),
    "target_spacing_um": (
        float,
        0.0,
        "um/px of the scale-true geometry; 0: letterbox to image_size",
    ),
    "num_train_images": (int, 96, "synthetic only: images generated (training + validation)"),
    "val_fraction": (float, 0.2, "share of the images held out for validation"),
    "test_fraction": (float, 0.15, "share held out for the final test, never used in training"),
    "split_seed": (int, 0, "split seed, fixed across runs"),
    "data_fraction": (float, 1.0, "share of the training images used"),
    "seed": (int, 0, "seed of the data, augmentation and initialisation"),
    "output_dir": (str, "runs/fine_tuning", "checkpoints, history and split.json go here"),
    "cv_folds": (
        int,
        0,
        "folds of a k-fold cross-validation (2 or more), fold is the test part; 0: off",
    ),
    "fold": (int, 0, "which fold (0 .. cv_folds-1) is held out for the test"),
    "image_head": (str, "none", '"none", "health" (healthy/unhealthy cell) or "diagnosis"'),
    "num_epochs": (int, 20, "passes over the training set"),
    "batch_size": (int, 8, "images per optimiser step, all processes together (global batch)"),
    "lr": (float, 1e-3, "learning rate of the decoder and head"),
    "lr_encoder": (float, 1e-4, "learning rate of the pre-trained encoder"),
    "freeze_epochs": (int, 1, "epochs with the encoder frozen"),
    "warmup_epochs": (float, 1.0, "linear warm-up length in epochs"),
    "loss": (str, "dice_ce", '"ce", "dice", "dice_ce", "focal" or "lovasz"'),
    "precision": (str, "auto", '"auto" (bf16/fp16 on GPUs, fp32 on CPUs), "fp32", "bf16", "fp16"'),
    "max_steps_per_epoch": (int, 0, "cap on batches per epoch, 0 for no cap (smoke runs)"),
    "device": (str, "auto", '"auto", "cpu", "cuda" or "mps"'),
    "resume": (str, "", "checkpoint folder (or a run folder: its last/) to continue from"),
}
# parameters that go to TrainConfig (train_config) rather than prepare_training
TRAIN_KEYS = ("num_epochs", "batch_size", "lr", "lr_encoder", "freeze_epochs", "warmup_epochs",
              "loss", "precision", "max_steps_per_epoch", "device")  # fmt: skip
# command-line only (not in the notebook)
COMMAND_ONLY = ("resume",)
# prepare_training's keys
RECIPE_KEYS = tuple(k for k in PARAMETERS if k not in TRAIN_KEYS + COMMAND_ONLY)
# the notebook's own knobs (plots), beside PARAMETERS
NOTEBOOK_ONLY: dict[str, tuple[type, Any, str]] = {
    "num_show": (int, 4, "validation predictions shown at the end"),
}


def defaults(keys=None) -> dict[str, Any]:
    """``{name: default}`` for ``keys`` (all of ``PARAMETERS`` when None)."""
    return {k: PARAMETERS[k][1] for k in (keys or PARAMETERS)}


def recipe_parameters(given: dict[str, Any]) -> dict[str, Any]:
    """``prepare_training``'s parameters: the defaults updated with ``given``.

    Raises ``TypeError`` naming an unknown key and listing the valid ones.
    """
    unknown = sorted(set(given) - set(RECIPE_KEYS))
    if unknown:
        raise TypeError(
            f"prepare_training: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(RECIPE_KEYS)}"
        )
    return {**defaults(RECIPE_KEYS), **given}


def train_config(p: dict[str, Any], **overrides):
    """The :class:`~papseg_utils.train.TrainConfig` of parameters ``p`` (``TRAIN_KEYS``, ``seed``,
    ``image_size``; missing keys take their defaults), with ``overrides`` (e.g. ``progress``)."""
    from papseg_utils.train.config import TrainConfig

    q = {**defaults(), **{k: v for k, v in p.items() if k in PARAMETERS}}
    kw = {k: q[k] for k in TRAIN_KEYS}
    kw["max_steps_per_epoch"] = kw["max_steps_per_epoch"] or None
    size = None if q["target_spacing_um"] else q["image_size"]  # scale-true: no fixed size
    return TrainConfig(**kw, seed=q["seed"], image_size=size, **overrides)


def _literal(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def parameters_cell() -> str:
    """The source of notebook 06's parameters cell: ``name: type = default  # help`` lines."""
    specs = {k: v for k, v in PARAMETERS.items() if k not in COMMAND_ONLY} | NOTEBOOK_ONLY
    return "\n".join(
        f"{name}: {typ.__name__} = {_literal(default)}  # {help_}"
        for name, (typ, default, help_) in specs.items()
    )


def write_parameters_cell(notebook: str) -> bool:
    """Rewrite the ``parameters``-tagged cell of ``notebook``; True if it changed."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    new = parameters_cell()
    if cell.source == new:
        return False
    cell.source = new
    nbformat.write(nb, notebook)
    return True


if __name__ == "__main__":
    for path in sys.argv[1:] or ["notebooks/06_fine_tuning.ipynb"]:
        print(path, "rewritten" if write_parameters_cell(path) else "already current")
