"""The checkpoints being scored (members) and the data each was trained on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from papseg_utils.labels import LabelScheme


class ScoringError(ValueError):
    """Checkpoints, split or data that cannot be scored together; the message says why and the fix."""


@dataclass
class Member:
    """One checkpoint: the model in eval mode, its ``config.json``, and its run's split (or None)."""

    path: Path
    model: torch.nn.Module
    config: dict
    split: dict[str, list[str]] | None = None
    train_args: dict = field(default_factory=dict)
    split_info: dict = field(default_factory=dict)  # what split.json says it was made for

    @property
    def scheme(self) -> LabelScheme:
        return LabelScheme.from_dict(self.config["scheme"])

    @property
    def image_labels(self) -> list[str]:
        return list(self.config.get("image_labels") or [])


def load_members(checkpoints: Sequence[str | Path], device: str = "cpu") -> list[Member]:
    """Load every checkpoint folder (or run folder: its ``best/``, else ``last/``).

    All must predict the same label scheme; a different scheme is an error
    naming both checkpoints.
    """
    from papseg_utils.data.splits import read_split
    from papseg_utils.train.checkpoint import load_model

    if not checkpoints:
        raise ScoringError("no checkpoint given; pass one or more checkpoint folders")
    members: list[Member] = []
    for c in checkpoints:
        folder = _checkpoint_folder(Path(c))
        model, config = load_model(folder, device=device)
        run = folder.parent
        split, info = None, {}
        if (run / "split.json").is_file():
            try:
                split, info = read_split(run / "split.json")
            except ValueError as err:
                raise ScoringError(str(err)) from None
        args_file = run / "train_args.json"
        train_args = json.loads(args_file.read_text()) if args_file.is_file() else {}
        members.append(Member(folder, model, config, split, train_args, info))
    first = members[0]
    for m in members[1:]:
        if m.scheme.classes != first.scheme.classes:
            raise ScoringError(
                f"{m.path} predicts {list(m.scheme.classes)} but {first.path} predicts "
                f"{list(first.scheme.classes)}; an ensemble needs one label scheme"
            )
    return members


def _checkpoint_folder(path: Path) -> Path:
    """:func:`~papseg_utils.train.checkpoint.resolve_checkpoint`, with the command's message."""
    from papseg_utils.train.checkpoint import resolve_checkpoint

    try:
        return resolve_checkpoint(path)
    except FileNotFoundError:
        raise ScoringError(
            f"{path}: no checkpoint here (no config.json in it, best/ or last/). Pass a checkpoint "
            "folder written by `python -m papseg_utils train` or the fine-tuning notebook."
        ) from None


def run_data(
    member: Member,
    dataset: str = "",
    scheme: str = "",
    num_images: int = 0,
    image_size: int = 0,
    seed: int | None = None,
) -> dict:
    """The data a checkpoint was trained on, to score it on the same images.

    Each value is the argument when given (non-empty, non-zero, not None),
    else the checkpoint's record: ``config.json``'s ``data`` (written by
    :func:`papseg_utils.train.fit` after
    :func:`~papseg_utils.train.recipe.prepare_training`), then the run's
    ``train_args.json`` (the ``train`` command), then ``config.json``'s
    ``image_size`` and ``train_config.seed``.

    Returns ``{"dataset", "scheme", "num_images", "image_size", "seed"}``;
    ``scheme`` falls back to the checkpoint's label scheme, ``dataset`` to
    ``"synthetic"``. For synthetic data a missing ``num_images`` or
    ``image_size`` raises :class:`ScoringError` (the same names and sizes
    drawn differently would be scored as if they were the run's test images).
    """
    record = dict(member.config.get("data") or {})
    args = member.train_args
    train_config = member.config.get("train_config") or {}

    def pick(given, *recorded):
        if given not in ("", 0, None):
            return given
        return next((v for v in recorded if v not in ("", None)), None)

    out = {
        "dataset": pick(dataset, record.get("dataset"), args.get("dataset")) or "synthetic",
        "scheme": pick(scheme, record.get("scheme"), member.scheme.name),
        "num_images": pick(num_images, record.get("num_images"), args.get("num_train_images")),
        "image_size": pick(
            image_size,
            record.get("image_size"),
            args.get("image_size"),
            member.config.get("image_size"),
        ),
        "seed": seed
        if seed is not None
        else pick(None, record.get("seed"), args.get("seed"), train_config.get("seed")) or 0,
    }
    if out["dataset"] == "synthetic":
        missing = [k for k in ("num_images", "image_size") if not out[k]]
        if missing:
            raise ScoringError(
                f"{member.path}: the checkpoint does not record the synthetic data's "
                f"{' and '.join(missing)}; give the values of the fine-tuning run"
            )
    return out


def load_run_samples(member: Member, data_dir: str = "", **overrides) -> tuple[list, dict]:
    """The samples :func:`run_data` describes, and that description.

    ``data_dir`` is the folder of a dataset on disk (empty: its environment
    variable, else its default location); ``overrides`` go to :func:`run_data`.
    """
    from papseg_utils.data import load_dataset

    data = run_data(member, **overrides)
    kw = {}
    if data["dataset"] == "synthetic":
        kw = {"n": data["num_images"], "seed": data["seed"], "image_size": data["image_size"]}
    samples = load_dataset(data["dataset"], root=data_dir or None, scheme=data["scheme"], **kw)
    return samples, data
