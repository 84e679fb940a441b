"""The fine-tuning recipe's set-up: data, split, model and datasets, from the chapter's parameters.

:func:`prepare_training` is what ``notebooks/06_fine_tuning.ipynb`` does before it
calls :func:`~papseg_utils.train.fit`, so the notebook and the command line
(``python -m papseg_utils train``, :mod:`papseg_utils.train.cli`) train the
same model on the same images::

    model, train_ds, val_ds, scheme, split = prepare_training(output_dir="runs/unet")
    history = fit(model, train_ds, val_ds, TrainConfig(...), "runs/unet", scheme=scheme)

Under ``torchrun`` every process calls it (each builds the same data and
model from the same seeds); only rank 0 writes ``split.json``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from papseg_utils.augment import get_policy
from papseg_utils.data import load_dataset
from papseg_utils.data.dataset import SegmentationDataset
from papseg_utils.data.image_labels import image_labels
from papseg_utils.data.registry import dataset_pixel_size, dataset_scheme
from papseg_utils.data.spacing import check_pixel_size
from papseg_utils.data.splits import fraction_subset, kfold, save_split, stratified_split
from papseg_utils.data.synthetic import SyntheticConfig, generate_samples
from papseg_utils.labels import LabelScheme
from papseg_utils.models import build_model
from papseg_utils.train.parameters import recipe_parameters

log = logging.getLogger(__name__)


def _is_main_process() -> bool:
    """Rank 0 of a torchrun/accelerate launch, or a process without a launcher."""
    return int(os.environ.get("RANK", "0")) == 0


def data_record(
    dataset: str, scheme: str, image_size: int, num_train_images: int, seed: int
) -> dict:
    """What a checkpoint records of its data (``config.json``, key ``data``).

    ``{"dataset", "scheme", "image_size", "num_images", "seed"}``;
    ``num_images`` and ``seed`` (the generator's) only for ``"synthetic"``,
    else None. The data folder is left out: it is a path on one machine.

    >>> data_record("synthetic", "paper", 128, 48, 0)["num_images"]
    48
    """
    synthetic = dataset == "synthetic"
    return {
        "dataset": dataset,
        "scheme": scheme,
        "image_size": int(image_size),
        "num_images": int(num_train_images) if synthetic else None,
        "seed": int(seed) if synthetic else None,
    }


def prepare_training(
    **params: Any,
) -> tuple[nn.Module, SegmentationDataset, SegmentationDataset, LabelScheme, dict[str, list[str]]]:
    """Build the model and the training/validation datasets of one fine-tuning run.

    Steps (the set-up cells of the fine-tuning chapter): seed torch with
    ``seed``; generate ``num_train_images`` synthetic fields of ``image_size``
    px (``dataset="synthetic"``) or load ``dataset`` from ``data_dir`` (empty:
    its env var, e.g. ``$PAPSEG_HERLEV_DIR``, else its default folder); split
    with :func:`~papseg_utils.data.splits.stratified_split` (``val_fraction``,
    ``test_fraction``, ``split_seed``) and write it to
    ``output_dir/split.json`` (rank 0 only); keep the nested
    ``data_fraction`` of the training names
    (:func:`~papseg_utils.data.splits.fraction_subset`, seed ``split_seed``);
    build ``architecture`` with ``encoder`` (``"default"``: the
    architecture's own) and ``pretrained`` weights (UNETR gets
    ``image_size``); wrap the samples in
    :class:`~papseg_utils.data.dataset.SegmentationDataset` letterboxed to
    ``image_size``, normalised with the model's ``papseg_spec.mean/std``, the
    training set augmented by policy ``augmentation`` (seeded with ``seed``).

    Cross-validation: with ``cv_folds`` = k >= 2 the images are split into k
    folds stratified by group (:func:`~papseg_utils.data.splits.kfold`, seed
    ``split_seed``); fold ``fold`` is the test part and ``test_fraction`` is
    not used; ``val_fraction`` of all images is then taken from the other folds
    for validation (0: none, train on all of them). Running ``fold`` = 0..k-1
    scores every image exactly once, by a model that never saw it.

    Image head: ``image_head`` = ``"health"`` or ``"diagnosis"`` builds the
    model with an image-level head (``image_classes``) and gives every item a
    ``"label"`` (:mod:`papseg_utils.data.image_labels`).

    Data record: ``train_ds.record["data"]`` (:func:`data_record` plus the split
    parameters) names the images the run was made from; ``fit`` writes it to the
    checkpoint's ``config.json`` under ``data``, so the evaluation chapter and the
    ``evaluate`` command regenerate the same synthetic fields.

    Parameters: keyword arguments named in
    :data:`papseg_utils.train.parameters.RECIPE_KEYS`; each one left out takes its default from
    :data:`~papseg_utils.train.parameters.PARAMETERS`, the one declaration shared with the
    ``train`` command and the chapter's parameters cell. An unknown name raises ``TypeError``.

    Returns
    -------
    model : nn.Module
        In train mode on the CPU; maps images (N, 3, image_size, image_size)
        float32 to logits (N, scheme.num_classes, image_size, image_size)
        float32. ``model.papseg_spec`` describes it.
    train_ds, val_ds : SegmentationDataset
        Items ``{"image": (3, image_size, image_size) float32, "mask":
        (image_size, image_size) int64, "name": str}``; masks hold class ids
        and ``IGNORE_INDEX`` (255) in the letterbox padding. ``val_ds`` is
        empty when ``val_fraction`` is 0.
    scheme : LabelScheme
        The label scheme ``scheme``; for ``dataset="folder"`` the folder's
        ``classes.yaml`` (see :func:`~papseg_utils.data.registry.dataset_scheme`).
    split : dict
        ``{"train": [...], "val": [...], "test": [...]}`` sorted sample names,
        as written to ``split.json``; ``"train"`` is the full training part
        (before ``data_fraction``).

    Raises
    ------
    KeyError
        Unknown label ``scheme`` or ``dataset`` (the message lists valid names).
    papseg_utils.data.DatasetNotFoundError
        The data folder is missing (the message says how to obtain the data).
    papseg_utils.models.errors.ModelConfigError
        Unknown architecture, encoder or pretrained source (lists valid ones).
    papseg_utils.models.errors.WeightsUnavailableError
        Pretrained weights are not cached and cannot be downloaded.
    """
    p = recipe_parameters(params)
    torch.manual_seed(p["seed"])
    size, out = p["image_size"], Path(p["output_dir"])
    label_scheme = dataset_scheme(
        p["dataset"], p["data_dir"] or None, p["scheme"]
    )  # folder: its yaml
    samples = _load_samples(p, label_scheme)
    split = _split(samples, p["val_fraction"], p["test_fraction"], p["split_seed"], p["cv_folds"],
                   p["fold"])  # fmt: skip
    by_name = {s.name: s for s in samples}
    train_names = split["train"]
    if p["data_fraction"] < 1:
        groups = [by_name[n].group for n in train_names]
        train_names = fraction_subset(train_names, groups, p["data_fraction"], seed=p["split_seed"])
    if _is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        cv = {"cv_folds": p["cv_folds"], "fold": p["fold"]} if p["cv_folds"] else {}
        groups = {s.name: s.group for s in samples}
        save_split(split, out / "split.json", seed=p["split_seed"], groups=groups,
                   dataset=p["dataset"], scheme=label_scheme.name, **cv)  # fmt: skip
    log.info("%d images: %d for training, %d for validation, %d held out for the test",
             len(samples), len(train_names), len(split["val"]), len(split["test"]))  # fmt: skip

    labels, label_names = image_labels(samples, p["image_head"])
    label_of = dict(zip([s.name for s in samples], labels or [], strict=False))
    if p["target_spacing_um"]:
        check_scale_true_architecture(p["architecture"])
    model = _build(p, label_scheme, label_names)
    spec = model.papseg_spec

    scale_true = bool(p["target_spacing_um"])
    geometry = scale_true_geometry(p, label_scheme) if scale_true else {"image_size": size}

    def subset(names, transform=None, random_patches=False):
        patches = {"random_patches": random_patches, "seed": p["seed"],
                   "size_multiple": spec.size_multiple} if scale_true else {}  # fmt: skip
        return SegmentationDataset(
            [by_name[n] for n in names], transform=transform, mean=spec.mean, std=spec.std,
            labels=[label_of[n] for n in names] if label_names else None, **geometry, **patches,
        )  # fmt: skip

    # scale-true patches are already (size, size): the policy keeps their size
    policy = get_policy(p["augmentation"], image_size=None if scale_true else size, seed=p["seed"])
    train_ds = subset(train_names, policy, random_patches=True)
    record = data_record(p["dataset"], label_scheme.name, size, p["num_train_images"], p["seed"])
    record.update({k: p[k] for k in SPLIT_PARAMETERS}, train_images=len(train_names))
    train_ds.record = {"data": record}  # fit saves it in every checkpoint's config.json
    if scale_true:
        train_ds.record["spacing"] = spacing_record(
            geometry, [by_name[n] for n in train_names], label_scheme
        )
    return model, train_ds, subset(split["val"]), label_scheme, split


def check_scale_true_architecture(architecture: str) -> None:
    """Refuse an architecture that takes one input size (UNETR) for the scale-true geometry.

    Scale-true batches hold whole images of varying size (padded to a multiple of 32 px per
    batch), which a model built for one square input cannot take. Raises ValueError naming the
    architecture and the fix (the letterbox geometry, ``target_spacing_um`` 0).
    """
    from papseg_utils.models.architectures import ARCHITECTURES

    arch = ARCHITECTURES.get(architecture)
    if arch is not None and arch.fixed_input_size is not None:
        raise ValueError(
            f"{architecture} takes one square input size (image_size x image_size), but the "
            "scale-true geometry (target_spacing_um > 0) trains on whole images of varying "
            "size; train it letterboxed (target_spacing_um 0, --target-spacing-um 0)"
        )


def scale_true_geometry(p: dict, label_scheme: LabelScheme) -> dict:
    """The :class:`SegmentationDataset` keywords of the scale-true geometry of parameters ``p``.

    ``target_spacing_um``, ``pixel_size_um`` (the dataset's, from
    :func:`~papseg_utils.data.registry.dataset_pixel_size`; when unknown the images are taken
    to be at the target spacing already, and a warning says so), ``patch_size``
    (``image_size``) and ``foreground`` (the nucleus id, else every foreground id).
    """
    target = check_pixel_size(p["target_spacing_um"], "target_spacing_um")
    field = p["image_size"] if p["dataset"] == "synthetic" else None
    pixel = dataset_pixel_size(p["dataset"], p["data_dir"] or None, field_px=field)
    if pixel is None:
        log.warning(
            "the pixel size of %s is unknown: its images are taken to be at the target spacing "
            "(%g um/px); add pixel_size_um to its classes.yaml to resample them",
            p["data_dir"] or p["dataset"], target,
        )  # fmt: skip
    return {
        "target_spacing_um": target,
        "pixel_size_um": pixel,
        "patch_size": int(p["image_size"]),
        "foreground": oversampled_classes(label_scheme),
    }


def oversampled_classes(scheme: LabelScheme) -> tuple[int, ...]:
    """The ids that training patches are centred on: the nucleus, else every foreground class."""
    from papseg_utils.scale_estimate import reference_class

    return tuple(reference_class(scheme)[1])


def spacing_record(geometry: dict, samples: list, scheme: LabelScheme) -> dict:
    """What a scale-true checkpoint records of its geometry (``config.json``, key ``spacing``).

    ``target_spacing_um``, ``patch_size``, ``window`` (the sliding window of inference:
    twice the patch, since a fully convolutional network given more context than its
    patches did better on the large Herlev cells), ``pixel_size_um`` (of the training
    images; None when unknown) and ``reference`` (for ``--pixel-size auto``,
    :mod:`papseg_utils.scale_estimate`): the class measured (``nucleus`` or ``foreground``)
    and the median over the training images of its area per image in um^2.
    """
    from papseg_utils.scale_estimate import reference_area

    pixel = geometry["pixel_size_um"] or geometry["target_spacing_um"]
    cls, area = reference_area([s.mask for s in samples], scheme, pixel)
    return {
        "target_spacing_um": geometry["target_spacing_um"],
        "patch_size": geometry["patch_size"],
        "window": 2 * geometry["patch_size"],
        "pixel_size_um": geometry["pixel_size_um"],
        "reference": {"class": cls, "median_area_um2": area},
    }


# recorded beside data_record's keys: how the images were split and used
SPLIT_PARAMETERS = ("val_fraction", "test_fraction", "split_seed", "data_fraction", "cv_folds",
                    "fold", "augmentation", "image_head")  # fmt: skip


def _load_samples(p: dict, label_scheme: LabelScheme) -> list:
    """Synthetic fields, or the samples of a registered dataset / user folder."""
    if p["dataset"] == "synthetic":
        config = SyntheticConfig(image_size=p["image_size"])
        return generate_samples(p["num_train_images"], seed=p["seed"], config=config,
                                scheme=p["scheme"])  # fmt: skip
    scheme = label_scheme if p["dataset"] == "folder" else p["scheme"]
    return load_dataset(p["dataset"], root=p["data_dir"] or None, scheme=scheme)


def _build(p: dict, label_scheme: LabelScheme, label_names) -> nn.Module:
    """The model of the run (a fixed-input model such as UNETR gets the image size; an image
    head when labels exist)."""
    from papseg_utils.models.architectures import ARCHITECTURES

    fixed = ARCHITECTURES[p["architecture"]].fixed_input_size is not None
    kwargs = {"image_size": p["image_size"]} if fixed else {}
    if label_names:
        kwargs["image_classes"] = len(label_names)
    model = build_model(p["architecture"], num_classes=label_scheme.num_classes,
                        pretrained=p["pretrained"],
                        encoder=None if p["encoder"] == "default" else p["encoder"],
                        **kwargs)  # fmt: skip
    model.papseg_image_labels = label_names  # recorded in checkpoints (config.json)
    return model


def _split(samples, val_fraction, test_fraction, split_seed, cv_folds, fold) -> dict:
    """train/val/test names: a stratified split, or fold ``fold`` of ``cv_folds`` as the test part."""
    if not cv_folds:
        return stratified_split(samples, val=val_fraction, test=test_fraction, seed=split_seed)
    if cv_folds < 2 or not 0 <= fold < cv_folds:
        raise ValueError(
            f"cv_folds={cv_folds}, fold={fold}: need cv_folds >= 2, 0 <= fold < cv_folds"
        )
    part = kfold(samples, k=cv_folds, seed=split_seed)[fold]
    by_name = {s.name: s for s in samples}
    rest = part["train"]
    inner = stratified_split(
        rest,
        val=val_fraction * len(samples) / len(rest),
        test=0,
        seed=split_seed,
        groups=[by_name[n].group for n in rest],
    )
    return {"train": inner["train"], "val": inner["val"], "test": part["val"]}
