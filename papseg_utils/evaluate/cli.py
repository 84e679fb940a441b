"""The ``evaluate`` command: ``python -m papseg_utils evaluate CKPT [CKPT ...] [options]``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from papseg_utils.evaluate.folds import SPLIT_PARTS, assign_images, assignment_mode
from papseg_utils.evaluate.members import Member, ScoringError, load_members, run_data
from papseg_utils.evaluate.scores import score
from papseg_utils.evaluate.tables import write_outputs
from papseg_utils.inference import predict_with_config


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m papseg_utils evaluate``."""
    ap = argparse.ArgumentParser(
        prog="python -m papseg_utils evaluate",
        description="Score checkpoints (one, an ensemble, or CV folds) on a dataset: per-image "
        "Dice, IoU, HD95 and more, bootstrap 95 % intervals, micro averages and a figure.",
        epilog="Example: python -m papseg_utils evaluate runs/fold*/last --dataset herlev --split test --tta --out results/cv",
    )
    _add_inputs_and_output(ap)
    _add_scoring_options(ap)
    return ap


def _add_inputs_and_output(ap: argparse.ArgumentParser) -> None:
    """What is scored and where the scores go: checkpoints, dataset, split, TTA, --out."""
    ap.add_argument(
        "checkpoints", nargs="+", help="checkpoint folders (or run folders holding best/ or last/)"
    )
    ap.add_argument(
        "--dataset",
        default="herlev",
        help='"herlev", "folder", "synthetic" or another registered dataset',
    )
    ap.add_argument(
        "--data-dir",
        default="",
        help="data folder (herlev: default $PAPSEG_HERLEV_DIR or the default location)",
    )
    ap.add_argument(
        "--split",
        default="test",
        help='"test", "val", "train" (from split.json beside each checkpoint), "all", or a split JSON file',
    )
    ap.add_argument(
        "--tta",
        nargs="?",
        const="flips",
        default="",
        help='average over flips ("flips", the default when given) or "d4"',
    )
    ap.add_argument(
        "--tile-size",
        type=int,
        default=None,
        metavar="PX",
        help="scale-true checkpoints: the sliding window's side at the target spacing (default: "
        "the checkpoint's training patch); letterbox checkpoints: predict at native resolution "
        "in tiles of PX instead of letterboxing",
    )
    ap.add_argument(
        "--out", default="", help="output folder (default: evaluation/ in the current folder)"
    )


def _add_scoring_options(ap: argparse.ArgumentParser) -> None:
    """How it is scored: Herlev's gray zone, pixel size, distance unit, empty masks, bootstrap."""
    ap.add_argument(
        "--gray",
        default="background",
        choices=("background", "ignore"),
        help="Herlev's gray border zone",
    )
    ap.add_argument(
        "--pixel-size",
        default=None,
        metavar="UM|auto",
        help="pixel size of the images in um/px, or auto to estimate it; scale-true checkpoints "
        "resample from it (default: the dataset's, Herlev 0.201 or a folder's classes.yaml)",
    )
    ap.add_argument(
        "--distance-unit",
        default="px",
        choices=("px", "um"),
        help="unit of HD95 and the other distances: px, or um (px times the pixel size)",
    )
    ap.add_argument(
        "--spacing-um",
        default=None,
        help="deprecated: the same as --pixel-size UM --distance-unit um",
    )
    ap.add_argument(
        "--one-nucleus",
        action="store_true",
        help="keep each image's most probable nucleus region only, for one-cell crops such as "
        "Herlev's (other nucleus regions take their next most probable class)",
    )
    ap.add_argument("--empty-policy", default="penalty", choices=("penalty", "nan"))
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    ap.add_argument("--device", default="auto", help='"auto", "cpu", "cuda" or "mps"')
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def _load_samples(args, members: Sequence[Member], scheme: str):
    from papseg_utils.data import load_dataset

    kw: dict = {}
    if args.dataset == "herlev":
        kw["gray"] = args.gray
    if args.dataset == "synthetic":  # regenerate the images the run trained and tested on
        d = run_data(members[0], dataset="synthetic")
        kw = {"n": d["num_images"], "seed": d["seed"], "image_size": d["image_size"]}
    if args.dataset == "folder":
        scheme = None  # its classes.yaml, checked against the checkpoint by check_scheme
    try:
        return load_dataset(args.dataset, root=args.data_dir or None, scheme=scheme, **kw)
    except KeyError as err:  # the dataset cannot give its masks in the checkpoint's scheme
        classes = ", ".join(members[0].scheme.classes)
        raise ScoringError(
            f"{members[0].path} predicts the scheme {scheme!r} ({classes}), which dataset "
            f"{args.dataset!r} does not provide ({err.args[0] if err.args else err}); score it on "
            "the data it was trained on, or score a checkpoint trained on this dataset"
        ) from None


def check_options(args) -> None:
    """Refuse bad option values before any checkpoint or data is read (ScoringError)."""
    from papseg_utils.data.registry import list_datasets
    from papseg_utils.inference import D4

    datasets = list_datasets()
    if args.dataset not in datasets:
        raise ScoringError(f"--dataset {args.dataset!r}: unknown; valid: {', '.join(datasets)}")
    if args.dataset == "folder" and not args.data_dir:
        raise ScoringError(
            "--dataset folder needs --data-dir PATH: the folder holding classes.yaml, images/ "
            "and masks/"
        )
    if args.tta not in ("", "flips", "d4"):
        raise ScoringError(
            f"--tta {args.tta!r}: use --tta (the 4 flips), --tta flips or --tta d4 (the "
            f"{len(D4)} flips and rotations)"
        )
    if args.tile_size is not None and args.tile_size < 1:
        raise ScoringError(
            f"--tile-size {args.tile_size} must be a positive number of px (e.g. 640); omit it "
            "for the checkpoint's own geometry"
        )
    if args.n_boot < 1:
        raise ScoringError(
            f"--n-boot {args.n_boot} must be >= 1 bootstrap resamples (default 2000)"
        )
    out = Path(args.out or "evaluation")
    if out.exists() and not out.is_dir():
        raise ScoringError(f"--out {out} is a file; pass a folder for the scores")
    _check_pixel_options(args)


def _check_tile_size(tile_size: int | None, members: Sequence[Member]) -> None:
    """``--tile-size`` must be a multiple of every member network's size multiple."""
    from papseg_utils.predict.inputs import check_tile_size

    for m in members:
        problem = check_tile_size(tile_size, m.config)
        if problem:
            raise ScoringError(f"{m.path}: {problem}")


def check_scheme(args, members: Sequence[Member]) -> str:
    """The scheme to load the data in: the checkpoint's, checked against a folder's classes.yaml."""
    from papseg_utils.data.errors import DatasetError
    from papseg_utils.data.registry import dataset_scheme

    ours = members[0].scheme
    if getattr(args, "one_nucleus", False) and "nucleus" not in ours.classes:
        raise ScoringError(
            f"--one-nucleus: {members[0].path} predicts {ours.name!r} ({', '.join(ours.classes)}), "
            "which has no nucleus class; leave the option out"
        )
    if args.dataset != "folder":
        return ours.name
    try:
        theirs = dataset_scheme("folder", args.data_dir)
    except DatasetError as err:
        raise ScoringError(str(err)) from None
    if theirs.classes != ours.classes:
        raise ScoringError(
            f"{Path(args.data_dir) / 'classes.yaml'} defines the scheme {theirs.name!r} "
            f"({', '.join(theirs.classes)}), but {members[0].path} predicts {ours.name!r} "
            f"({', '.join(ours.classes)}); score a checkpoint trained on this folder's classes, "
            "or a folder whose classes.yaml has the checkpoint's classes"
        )
    return theirs.name


def check_split_data(args, members: Sequence[Member]) -> None:
    """Refuse ``--split PART`` / ``--split FILE`` on another dataset than the split was made for.

    A run's ``split.json`` records its dataset and scheme (older ones: the
    checkpoint's ``data`` record or ``train_args.json``). Scoring its test part on
    another dataset would score whichever images happen to share file names.
    """
    from papseg_utils.data.splits import read_split

    if args.split == "all":
        return
    if args.split in SPLIT_PARTS:
        recorded = [(m.path.parent / "split.json", _made_for(m)) for m in members]
    else:
        recorded = [(Path(args.split), _split_file_info(Path(args.split), read_split))]
    wanted = {"dataset": args.dataset}
    if args.dataset == "folder":
        wanted["scheme"] = check_scheme(args, members)
    for path, info in recorded:
        clash = {k: info[k] for k in wanted if info.get(k) and info[k] != wanted[k]}
        if clash:
            made = ", ".join(f"{k} {v!r}" for k, v in info.items() if k in wanted and v)
            asked = ", ".join(f"{k} {wanted[k]!r}" for k in clash)
            raise ScoringError(
                f"--split {args.split}: {path} was made for {made}, not {asked}; its images "
                f"are not this dataset's. Score on the dataset it was made for (--dataset "
                f"{info['dataset']}), or pass --split all for data no model saw"
            )


def _made_for(member: Member) -> dict:
    record = {**(member.train_args or {}), **(member.config.get("data") or {})}
    return {
        "dataset": member.split_info.get("dataset") or record.get("dataset"),
        "scheme": member.split_info.get("scheme") or record.get("scheme"),
    }


def _split_file_info(path: Path, read_split) -> dict:
    if not path.is_file():
        return {}
    try:
        return read_split(path)[1]
    except ValueError as err:
        raise ScoringError(f"--split: {err}") from None


def _check_pixel_options(args) -> None:
    """Parse ``--pixel-size`` / ``--spacing-um`` before any work (ScoringError names the option)."""
    from papseg_utils.data.spacing import PixelSizeError
    from papseg_utils.scale_estimate import parse_pixel_size

    try:
        args.pixel_size = parse_pixel_size(args.pixel_size)
        args.spacing_um = parse_pixel_size(args.spacing_um, "--spacing-um")
    except PixelSizeError as err:
        raise ScoringError(str(err)) from None
    if args.spacing_um == "auto":
        raise ScoringError("--spacing-um takes um/px; use --pixel-size auto --distance-unit um")


def _pixel_size(args, members: Sequence[Member], samples, assignment) -> dict:
    """The images' pixel size (``--pixel-size``, ``auto``, the dataset's, or assumed); said once."""
    from papseg_utils.data.registry import dataset_pixel_size
    from papseg_utils.scale_estimate import resolve_pixel_size

    if args.spacing_um is not None:
        print("evaluate: --spacing-um is deprecated; it means --pixel-size "
              f"{args.spacing_um} --distance-unit um", file=sys.stderr)  # fmt: skip
        if args.pixel_size is None:
            args.pixel_size = args.spacing_um
        args.distance_unit = "um"
    known = None
    if args.dataset != "synthetic":
        known = dataset_pixel_size(args.dataset, args.data_dir or None)
    else:  # the fields the run was trained on
        known = dataset_pixel_size("synthetic", field_px=run_data(members[0])["image_size"])
    m = members[0]
    todo = [s.image for s in samples if s.name in assignment]
    pixel = resolve_pixel_size(
        args.pixel_size, m.config, m.scheme, lambda: todo,
        lambda im, px: predict_with_config(m.model, im, m.config, pixel_size_um=px).argmax(0),
        known=known,
    )  # fmt: skip
    if pixel["note"]:
        print(f"evaluate: note: {pixel['note']}", file=sys.stderr)
    return pixel


def _distance_spacing(args, pixel: dict) -> float | None:
    """The spacing that distances are measured in: None (px) or the pixel size (um)."""
    if args.distance_unit != "um":
        return None
    value = pixel["pixel_size_um"] or (args.pixel_size if args.pixel_size != "auto" else None)
    if value is None:
        raise ScoringError(
            "--distance-unit um needs the pixel size: pass --pixel-size UM (the dataset has none)"
        )
    return float(value)


def run(args: argparse.Namespace) -> dict:
    """The ``evaluate`` command on parsed arguments; returns what ``scoring.json`` holds."""
    from papseg_utils.data.registry import resolve_root
    from papseg_utils.device import resolve_device

    check_options(args)
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise ScoringError(f"--device: {err}") from None
    members = load_members(args.checkpoints, device=str(device))
    _check_tile_size(args.tile_size, members)
    scheme = check_scheme(args, members)
    check_split_data(args, members)
    out = Path(args.out or "evaluation").resolve()
    root = (
        resolve_root(args.dataset, args.data_dir or None) if args.dataset != "synthetic" else None
    )
    if root is not None and (out == root.resolve() or root.resolve() in out.parents):
        raise ScoringError(
            f"--out {out} lies inside the data folder {root}; choose a folder outside it"
        )
    samples = _load_samples(args, members, scheme)
    assignment = assign_images(members, [s.name for s in samples], args.split)
    paper = None
    if args.dataset == "herlev" and any(
        m.image_labels == ["healthy", "unhealthy"] for m in members
    ):
        paper_samples = _load_samples(args, members, "paper_cells")
        paper = {s.name: s.mask for s in paper_samples if s.name in assignment}
    pixel = _pixel_size(args, members, samples, assignment)
    print(f"scoring {len(assignment)} images with {len(members)} checkpoint(s): "
          f"{assignment_mode(assignment, len(members))}", flush=True)  # fmt: skip
    scores = score(members, samples, assignment, tta=args.tta or False, paper_masks=paper,
                   spacing_um=_distance_spacing(args, pixel), empty_policy=args.empty_policy,
                   progress=True, pixel_size_um=pixel["pixel_size_um"],
                   one_nucleus=args.one_nucleus, tile_size=args.tile_size)  # fmt: skip
    # no machine paths in the record: the data folder and output folder are left out
    options = {k: v for k, v in vars(args).items() if k not in ("checkpoints", "data_dir", "out")}
    options["pixel_size"] = pixel
    result = write_outputs(scores, out, members, options, n_boot=args.n_boot)
    print((out / "summary.md").read_text(encoding="utf-8"))
    print(f"wrote {out}")
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m papseg_utils evaluate``; returns the exit code (2 for bad input, 130 on Ctrl-C)."""
    from papseg_utils import signals
    from papseg_utils.cli_text import for_command_line
    from papseg_utils.data.errors import DatasetError
    from papseg_utils.train.checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    signals.stop_on_signals()
    logging.basicConfig(level=logging.WARNING)
    try:
        run(args)
    except KeyboardInterrupt:
        print(f"interrupted ({signals.received()}): nothing else was written", file=sys.stderr)
        return 130
    except (ScoringError, DatasetError, CheckpointError, FileNotFoundError) as err:
        print(f"error: {for_command_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:  # an output folder that cannot be written
        print(f"error: cannot write the scores: {err}; choose another --out", file=sys.stderr)
        return 2
    return 0
