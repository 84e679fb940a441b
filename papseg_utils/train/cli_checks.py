"""Checks of the ``train`` command's options, before any data or model is built.

:func:`check_options` checks names and values, :func:`check_new_run` refuses to overwrite an
earlier run, :func:`resume_folder` and :func:`check_resume` check a ``--resume`` checkpoint
against the options before any weights load. Each raises :class:`UsageError` (exit code 2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from papseg_utils.train.cli_options import PRECISIONS, UsageError
from papseg_utils.train.parameters import PARAMETERS

# what a run writes into its output folder: any of them means the folder holds a run
RUN_FILES = ("best", "last", "history.csv", "train_args.json")


def check_options(p: dict[str, Any]) -> None:
    """Fail fast, before any data or model is built, on names and values we can check cheaply.

    ``p`` is :func:`~papseg_utils.train.cli_options.resolve_args`' mapping; a folder dataset's
    ``scheme`` is set from its classes.yaml. Checks run in a fixed order, so the first problem
    is the one reported.
    """
    _check_names(p)
    _check_dataset(p)
    _check_values(p)
    _check_output_and_device(p)


def _check_names(p: dict[str, Any]) -> None:
    """Architecture, encoder, scheme, augmentation, loss, precision and image head exist."""
    from papseg_utils.augment import POLICIES
    from papseg_utils.data.image_labels import IMAGE_HEADS
    from papseg_utils.labels import SCHEMES
    from papseg_utils.models import ARCHITECTURES, list_models
    from papseg_utils.train.losses import LOSSES

    arch = p["architecture"]
    if arch not in ARCHITECTURES:
        raise UsageError(
            f"unknown architecture {arch!r}; valid architectures: {', '.join(list_models())}"
        )
    enc = p["encoder"]
    if enc != "default" and enc.removeprefix("tu-") not in ARCHITECTURES[arch].encoders:
        raise UsageError(
            f"architecture {arch!r} does not support encoder {enc!r}; valid encoders: "
            f"{', '.join(ARCHITECTURES[arch].encoders)} (or 'default')"
        )
    if p["dataset"] != "folder" and p["scheme"] not in SCHEMES:
        raise UsageError(f"unknown scheme {p['scheme']!r}; valid: {', '.join(sorted(SCHEMES))}")
    for key, valid in (
        ("augmentation", POLICIES),
        ("loss", LOSSES),
        ("precision", PRECISIONS),
        ("image_head", IMAGE_HEADS),
    ):
        if p[key] not in valid:
            raise UsageError(f"unknown {key} {p[key]!r}; valid: {', '.join(valid)}")


def _check_dataset(p: dict[str, Any]) -> None:
    """The dataset exists and its data folder is there; a folder dataset's scheme is read."""
    from papseg_utils.data.registry import get_info, is_available, list_datasets, resolve_root

    datasets = list_datasets()
    if p["dataset"] not in datasets:
        raise UsageError(f"unknown dataset {p['dataset']!r}; valid datasets: {', '.join(datasets)}")
    if p["dataset"] == "folder" and not p["data_dir"]:
        raise UsageError(
            "dataset 'folder' needs --data-dir PATH: the folder holding classes.yaml, images/ and "
            "masks/ (see papseg_utils.data.folder)"
        )
    if not is_available(p["dataset"], p["data_dir"] or None):
        info = get_info(p["dataset"])
        root = resolve_root(p["dataset"], p["data_dir"] or None)
        env = f" or set {info.env_var}" if info.env_var else ""
        raise UsageError(
            f"dataset {p['dataset']!r}: data folder {root} not found. {info.obtain} "
            f"Then pass --data-dir PATH{env}."
        )
    if p["dataset"] == "folder":
        p["scheme"] = _folder_scheme(p)


def _check_values(p: dict[str, Any]) -> None:
    """Pre-trained weights, sizes, folds, spacing and the data fractions are valid."""
    pretrained = p["pretrained"]
    named = ("none", "imagenet", "ade20k", "distilled")
    if pretrained not in named and not Path(pretrained).exists():
        raise UsageError(
            f"--pretrained {pretrained}: no such file or folder; pass a local .safetensors/.pth "
            "file or Hugging Face folder, or one of: imagenet, ade20k, distilled, none"
        )
    for key in ("image_size", "num_train_images", "num_epochs", "batch_size"):
        if p[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')} {p[key]} must be >= 1")
    if p["cv_folds"] and not (p["cv_folds"] >= 2 and 0 <= p["fold"] < p["cv_folds"]):
        raise UsageError(
            f"--cv-folds {p['cv_folds']} --fold {p['fold']}: need cv-folds >= 2 and "
            "0 <= fold < cv-folds (or --cv-folds 0 for a plain train/val/test split)"
        )
    if p["target_spacing_um"]:  # 0 is the letterbox geometry; anything else must be a spacing
        from papseg_utils.data.spacing import PixelSizeError, check_pixel_size

        try:
            check_pixel_size(p["target_spacing_um"], "--target-spacing-um")
        except PixelSizeError as err:
            raise UsageError(f"{err}; or 0 to letterbox every image to --image-size") from None
        from papseg_utils.train.recipe import check_scale_true_architecture

        try:
            check_scale_true_architecture(p["architecture"])
        except ValueError as err:
            raise UsageError(str(err)) from None
    if not 0 < p["data_fraction"] <= 1:
        raise UsageError(f"--data-fraction {p['data_fraction']} must be in (0, 1]")
    _check_fractions(p)


def _check_output_and_device(p: dict[str, Any]) -> None:
    """The output folder is not a file, the step limit and device are valid, the batch splits."""
    out = Path(p["output_dir"])
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--output-dir {out} is a file; pass a folder (created if missing) for the run"
        )
    if p["max_steps_per_epoch"] < 0:
        raise UsageError(f"--max-steps-per-epoch {p['max_steps_per_epoch']} must be >= 0")
    from papseg_utils.device import resolve_device

    try:
        resolve_device(p["device"])
    except ValueError as err:
        raise UsageError(f"--device: {err}") from None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if p["batch_size"] % world:
        raise UsageError(
            f"--batch-size {p['batch_size']} is the global batch and must be a multiple of the "
            f"number of processes ({world})"
        )


def _check_fractions(p: dict[str, Any]) -> None:
    """Validation and test shares: each in [0, 1), together below 1 (warn when under half trains)."""
    for key in ("val_fraction", "test_fraction"):
        if not 0 <= p[key] < 1:
            raise UsageError(
                f"--{key.replace('_', '-')} {p[key]} must be a share of the images in [0, 1) "
                f"(default {PARAMETERS[key][1]})"
            )
    held = p["val_fraction"] + p["test_fraction"]
    if p["cv_folds"] == 0 and held >= 1:
        raise UsageError(
            f"--val-fraction {p['val_fraction']} and --test-fraction {p['test_fraction']} hold out "
            f"{held:.0%} of the images, leaving none to train on; their sum must be below 1"
        )
    if p["cv_folds"] == 0 and held > 0.5:
        print(f"warning: --val-fraction {p['val_fraction']} and --test-fraction "
              f"{p['test_fraction']} leave only {1 - held:.0%} of the images for training",
              file=sys.stderr)  # fmt: skip


def check_new_run(p: dict[str, Any], overwrite: bool) -> None:
    """Refuse to train into the folder of an earlier run unless ``--resume`` or ``--overwrite``."""
    out = Path(p["output_dir"])
    if p["resume"] or overwrite or not out.is_dir():
        return
    earlier = [n for n in RUN_FILES if (out / n).exists()]
    if earlier:
        raise UsageError(
            f"--output-dir {out} holds an earlier run ({', '.join(earlier)}); training again would "
            f"replace it. Continue it with --resume {out / 'last'}, train into a new "
            "--output-dir, or pass --overwrite to replace it"
        )


def check_resume(p: dict[str, Any], folder: Path) -> None:
    """Compare the checkpoint's recorded set-up with this run's options, before any weights load."""
    from papseg_utils.data.registry import dataset_scheme
    from papseg_utils.models import ARCHITECTURES
    from papseg_utils.train.checkpoint import CheckpointError, load_config

    try:
        c = load_config(folder)
    except CheckpointError as err:
        raise UsageError(str(err)) from None
    data = c.get("data") or {}
    spacing = (c.get("spacing") or {}).get("target_spacing_um") or 0.0
    encoder = p["encoder"]
    if encoder == "default" and p["architecture"] in ARCHITECTURES:
        encoder = ARCHITECTURES[p["architecture"]].default_encoder
    try:
        classes = dataset_scheme(p["dataset"], p["data_dir"] or None, p["scheme"]).num_classes
    except (KeyError, ValueError):
        classes = c["num_classes"]  # reported by the data set-up itself
    size = data.get("image_size", c.get("image_size"))
    theirs = {
        "classes": f"{int(c['num_classes'])} classes",
        "architecture": f"architecture {c.get('architecture')}",
        "encoder": f"encoder {(c.get('encoder') or '').removeprefix('tu-')}",
        "geometry": f"{spacing:g} um/px" if spacing else f"{size} px letterbox",
    }
    ours = {
        "classes": f"{classes} classes",
        "architecture": f"architecture {p['architecture']}",
        "encoder": f"encoder {encoder.removeprefix('tu-')}",
        "geometry": f"{p['target_spacing_um']:g} um/px"
        if p["target_spacing_um"]
        else f"{p['image_size']} px letterbox",
    }
    if "image_head" in data:
        theirs["head"] = f"image head {data['image_head']}"
        ours["head"] = f"image head {p['image_head']}"
    if not spacing and size is None:
        del theirs["geometry"]  # an old checkpoint that does not record it
    differ = [k for k in theirs if theirs[k] != ours[k]]
    if differ:
        raise UsageError(
            f"--resume {folder}: the checkpoint was trained with "
            f"{', '.join(theirs[k] for k in differ)}, this run has "
            f"{', '.join(ours[k] for k in differ)}. Resume with the checkpoint's options (they "
            f"are in {folder.parent / 'train_args.json'}), or start a new run in another "
            "--output-dir"
        )


def _folder_scheme(p: dict[str, Any]) -> str:
    """The scheme name of a folder dataset: its classes.yaml, checked against ``--scheme``."""
    from papseg_utils.data import DatasetError
    from papseg_utils.data.folder import CLASSES_FILE
    from papseg_utils.data.registry import FOLDER_DEFAULT_SCHEME, dataset_scheme

    try:
        scheme = dataset_scheme("folder", p["data_dir"])
    except DatasetError as err:
        raise UsageError(str(err)) from None
    if p["scheme"] not in (FOLDER_DEFAULT_SCHEME, scheme.name):
        path = Path(p["data_dir"]).expanduser() / CLASSES_FILE
        raise UsageError(
            f"--scheme {p['scheme']!r} conflicts with {path}, which defines the scheme "
            f"{scheme.name!r}; omit --scheme (a folder's classes.yaml is its scheme) or pass "
            f"--scheme {scheme.name}"
        )
    return scheme.name


def resume_folder(path: str) -> Path:
    """``path`` if it is a checkpoint folder, else ``path/last`` of a run folder."""
    from papseg_utils.train.checkpoint import CONFIG_FILE

    p = Path(path)
    for folder in (p, p / "last"):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise UsageError(
        f"--resume {path}: no checkpoint there (expected {CONFIG_FILE} in it or in its last/); "
        "pass the last/ folder of an earlier run"
    )
