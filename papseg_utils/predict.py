"""``python -m papseg_utils predict``: segment images with a saved checkpoint.

    python -m papseg_utils predict CHECKPOINT INPUT... --out DIR [--recursive]
        [--pixel-size UM|auto] [--tta] [--tile-size N] [--overlap F] [--device auto]
        [--batch-size N] [--overwrite] [--strict] [--no-overlay]

For every input image it writes, under ``--out`` (never next to the inputs):

* ``masks/<name>.png``    palette PNG of class ids (colours of the checkpoint's scheme)
* ``overlays/<name>.png`` the image with the coloured mask blended in
* ``predict_log.json``    checkpoint, options, files written and files skipped

* ``labels.csv``          for checkpoints with a healthy/unhealthy image head: one row per
  image (``image``, ``label``, ``probability`` of that label)
* ``paper_masks/<name>.png`` the same heads' cells in the paper's taxonomy (background /
  healthy cell / unhealthy cell: every cell pixel takes the image's label)

``<name>`` mirrors the input: the file name for a file argument, the path
relative to the folder for a folder argument.

Geometry. A scale-true checkpoint (the ``herlev-scale-true`` recipe) resamples each image from
its pixel size to the checkpoint's target spacing, predicts it whole (a sliding window
beyond the training patch size) and resamples the probabilities back: give the images'
pixel size with ``--pixel-size`` (um/px), or ``--pixel-size auto`` to estimate it from the
predicted nucleus sizes; without it the training images' pixel size is assumed, and the
command says so. An older letterbox checkpoint letterboxes each image to its ``image_size``
and maps the prediction back; with ``--tile-size`` it predicts at native resolution in
overlapping tiles instead (large fields).

Every option is checked before the checkpoint is loaded. An output path that
is an input file or lies inside an input folder is refused, whatever
``--overwrite`` says (paths are compared after resolving symlinks). A tile
larger than the image is clamped to it; tiled images show a progress bar.

Exit codes: 0 all images written; 1 some inputs were skipped (unreadable
images, named files that are missing or dangling links) or ``--strict``
stopped at the first one; 2 bad usage (missing, damaged or modified
checkpoint, no input images, invalid option, outputs that exist without
``--overwrite``, an output that would overwrite an input or cannot be
written, inputs that share an output name); 130 interrupted (Ctrl-C, SIGTERM
or SIGHUP).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from papseg_utils.cli_text import for_command_line
from papseg_utils.labels import LabelScheme
from papseg_utils.progress import tqdm

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_PROGRESS_MIN = 4


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m papseg_utils predict",
        description="Segment images with a trained checkpoint; write palette masks and overlays.",
    )
    p.add_argument(
        "checkpoint",
        help="checkpoint folder (model.safetensors + config.json) or a run folder with best/",
    )
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    p.add_argument(
        "--out", required=True, help="output folder (created; must not be an input folder)"
    )
    p.add_argument("-r", "--recursive", action="store_true", help="search folders recursively")
    p.add_argument(
        "--pixel-size",
        default=None,
        metavar="UM|auto",
        help="pixel size of the images in um/px, or auto to estimate it (default: that of the "
        "checkpoint's training images)",
    )
    p.add_argument("--tta", action="store_true", help="average predictions over 4 flips")
    p.add_argument(
        "--tile-size", type=int, default=None, help="predict in tiles of N px at native resolution"
    )
    p.add_argument(
        "--overlap", type=float, default=0.25, help="tile overlap fraction (default 0.25)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default auto)")
    p.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass (default 4)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable image")
    p.add_argument("--no-overlay", action="store_true", help="write masks only")
    return p


def collect_inputs(
    inputs: list[str], recursive: bool = False
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Expand files and folders into (path, relative output name) pairs.

    Returns the pairs (sorted within each folder) and a list of problems
    (missing paths, dangling links, files that are not images, folders without
    images), each ``(path, reason)``.
    """
    pairs: list[tuple[Path, Path]] = []
    problems: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            it = p.rglob("*") if recursive else p.iterdir()
            found = sorted(f for f in it if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                hint = "" if recursive else " (use --recursive to search sub-folders)"
                problems.append(
                    (p, f"folder holds no images with suffix {'/'.join(IMAGE_SUFFIXES)}{hint}")
                )
            pairs += [(f, f.relative_to(p)) for f in found]
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(
                    (
                        p,
                        f"not an image file (suffix {p.suffix!r}; expected {', '.join(IMAGE_SUFFIXES)})",
                    )
                )
            else:
                pairs.append((p, Path(p.name)))
        elif p.is_symlink():
            problems.append((p, f"a link to {os.readlink(p)}, which does not exist"))
        else:
            problems.append((p, "no such file or folder"))
    return pairs, problems


def _scheme_from_config(config: dict) -> LabelScheme:
    if config.get("scheme"):
        return LabelScheme.from_dict(config["scheme"])
    from papseg_utils.labels import PAPER

    n = int(config["num_classes"])
    colours = [PAPER.colours[i % len(PAPER.colours)] for i in range(n)]
    return LabelScheme("checkpoint", tuple(f"class_{i}" for i in range(n)), tuple(colours))


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def predict_image(
    model, image: np.ndarray, config: dict, args: argparse.Namespace, pixel_size_um=None
) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) uint8 class ids at the original size."""
    from papseg_utils.inference import predict_with_config

    probs = predict_with_config(
        model,
        image,
        config,
        tile_size=args.tile_size,
        overlap=args.overlap,
        tta=args.tta,
        batch_size=args.batch_size,
        device=args.device,
        progress=True,
        pixel_size_um=pixel_size_um,
    )
    return probs.argmax(0).astype(np.uint8)


def check_options(args: argparse.Namespace) -> str | None:
    """Validate the numeric and device options before any work; return an error or None."""
    if args.tile_size is not None and args.tile_size < 1:
        return (
            f"--tile-size {args.tile_size} must be a positive number of px (e.g. 512); "
            "omit it to predict whole images"
        )
    if not 0 <= args.overlap <= 0.9:
        return f"--overlap {args.overlap} must be a fraction in [0, 0.9] (default 0.25)"
    if args.batch_size < 1:
        return f"--batch-size {args.batch_size} must be >= 1 (default 4)"
    from papseg_utils.data.spacing import PixelSizeError
    from papseg_utils.scale_estimate import parse_pixel_size

    try:
        args.pixel_size = parse_pixel_size(args.pixel_size)
    except PixelSizeError as err:
        return str(err)
    from papseg_utils.device import resolve_device

    try:
        resolve_device(args.device)
    except ValueError as err:
        return f"--device: {err}"
    return None


def check_tile_size(tile_size: int | None, config: dict) -> str | None:
    """``--tile-size`` must be a multiple of the network's size multiple (from ``config``)."""
    multiple = int((config.get("spec_extra") or {}).get("size_multiple") or 32)
    if tile_size is not None and tile_size % multiple:
        lower = max(multiple, tile_size // multiple * multiple)
        return (
            f"--tile-size {tile_size} must be a multiple of {multiple} for "
            f"{config.get('architecture')}; use {lower} or {lower + multiple}"
        )
    return None


def unsafe_outputs(targets: list[Path], inputs: list[str], files: list[Path]) -> str | None:
    """Refuse outputs that are an input file or lie inside an input folder.

    ``targets`` are the files predict would write, ``inputs`` the arguments
    given, ``files`` the input images found. Paths are compared after
    resolving symlinks and relative parts, so ``--overwrite`` can never
    replace a user's image. Returns an error message or None.
    """
    folders = [Path(raw).resolve() for raw in inputs if Path(raw).is_dir()]
    sources = {f.resolve() for f in files}
    for t in targets:
        real = t.resolve()
        if real in sources:
            return (
                f"--out would write {t}, which is the input image {real}; choose an output "
                "folder outside the inputs (inputs are never written to, even with --overwrite)"
            )
        for folder in folders:
            if real == folder or _inside(real, folder):
                return (
                    f"--out would write {t} inside the input folder {folder}; choose an output "
                    "folder outside the inputs (inputs are never written to, even with --overwrite)"
                )
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the predict command; returns the exit code (130 when interrupted with Ctrl-C)."""
    from papseg_utils import signals

    args = build_parser().parse_args(argv)
    signals.stop_on_signals()
    try:
        return _main(args)
    except KeyboardInterrupt:
        out = Path(args.out)
        print(
            f"interrupted ({signals.received()}): masks written so far are in {out / 'masks'}; "
            "run the same command with --overwrite to redo them",
            file=sys.stderr,
        )
        return 130


class _Stop(Exception):
    """Ends the command: exit ``code`` after printing ``error: message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _main(args: argparse.Namespace) -> int:
    try:
        ckpt, pairs, out = _inputs(args)
        jobs = _jobs(args, pairs, out)
        model, config, scheme = _model(args, ckpt)
        _check_writable(out)
        pixel = _pixel_size(args, jobs, model, config, scheme)
        written, skipped = _predict_all(args, jobs, model, config, scheme, out, pixel)
    except _Stop as stop:
        print(f"error: {stop.message}", file=sys.stderr)
        return stop.code
    except OSError as err:  # the disk filled up, the folder was removed or made read-only
        print(f"error: cannot write the predictions: {err}; the masks written so far are in "
              f"{Path(args.out) / 'masks'}", file=sys.stderr)  # fmt: skip
        return 1
    skipped = args.unreadable + skipped
    record = {
        "checkpoint": str(ckpt),
        "checkpoint_sha256": config.get("checkpoint_sha256"),
        "architecture": config.get("architecture"),
        "scheme": scheme.name,
        "pixel_size": pixel,
        "options": {
            k: v for k, v in vars(args).items() if k not in ("inputs", "checkpoint", "out")
        },
        "written": written,
        "skipped": skipped,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "predict_log.json").write_text(json.dumps(record, indent=2))
    print(f"wrote {len(written)} masks to {out / 'masks'}; skipped {len(skipped)} unreadable files")
    for s in skipped:
        print(f"  skipped {s['file']}: {s['reason']}", file=sys.stderr)
    return 1 if skipped else 0


def _inputs(args: argparse.Namespace):
    """The checkpoint folder, the (image, relative name) pairs and the output folder."""
    from papseg_utils.train.checkpoint import resolve_checkpoint

    problem = check_options(args)
    if problem:
        raise _Stop(2, problem)
    try:
        ckpt = resolve_checkpoint(args.checkpoint)
    except FileNotFoundError as err:
        raise _Stop(2, for_command_line(str(err))) from None
    pairs, problems = collect_inputs(args.inputs, args.recursive)
    for path, reason in problems:
        print(f"warning: {path}: {reason}", file=sys.stderr)
    if not pairs:
        raise _Stop(2, "no input images found; pass image files or folders of images")
    # a named input that cannot be read is skipped like an unreadable image (exit 1)
    args.unreadable = [{"file": str(p), "reason": r} for p, r in problems if not p.is_dir()]
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise _Stop(2, f"--out {args.out} is a file; pass a folder (created if missing)")
    for raw in args.inputs:
        p = Path(raw).resolve()
        folder = p if p.is_dir() else p.parent
        if out == folder or (p.is_dir() and _inside(out, p)):
            raise _Stop(
                2,
                f"--out {args.out} is (inside) the input folder {folder}; "
                "choose a separate output folder (inputs are never written to)",
            )
    return ckpt, pairs, out


def _jobs(args: argparse.Namespace, pairs, out: Path) -> list:
    """``(source, relative name, [mask file, overlay file])`` per image; refuses unsafe outputs."""
    jobs = []
    for src, rel in pairs:
        name = rel.with_suffix(".png")
        targets = [out / "masks" / name] + ([] if args.no_overlay else [out / "overlays" / name])
        jobs.append((src, rel, targets))
    all_targets = [t for _, _, ts in jobs for t in ts] + [out / "predict_log.json"]
    problem = unsafe_outputs(all_targets, args.inputs, [src for src, _ in pairs])
    if problem:
        raise _Stop(2, problem)
    by_name: dict[str, list[Path]] = {}
    for src, rel, _ in jobs:
        by_name.setdefault(rel.with_suffix(".png").as_posix(), []).append(src)
    clashes = {name: srcs for name, srcs in by_name.items() if len(srcs) > 1}
    if clashes:
        name, srcs = next(iter(clashes.items()))
        raise _Stop(
            2,
            f"{', '.join(map(str, srcs))} would all be written to masks/{name} (same stem"
            + (f"; {len(clashes)} names clash" if len(clashes) > 1 else "")
            + "); rename them, or predict them in separate runs with separate --out folders",
        )
    existing = [t for _, _, ts in jobs for t in ts if t.exists()]
    if existing and not args.overwrite:
        shown = ", ".join(str(t) for t in existing[:3])
        raise _Stop(
            2,
            f"{len(existing)} output files exist (e.g. {shown}); pass --overwrite to replace them",
        )
    return jobs


def _check_writable(out: Path) -> None:
    """Try a folder in ``out`` (or the nearest folder above it that exists); remove it again.

    A read-only, immutable or full place fails here, exit 2, before any image is
    predicted, and nothing is left behind.
    """
    import tempfile

    base = out
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise _Stop(2, f"--out {out}: {base} is a file, not a folder; choose another --out")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".papseg-write-test", dir=base))
    except OSError as err:
        raise _Stop(
            2,
            f"--out {out}: cannot write there ({err.strerror or err}); choose a folder you can "
            "write to",
        ) from None


def _model(args: argparse.Namespace, ckpt: Path):
    """The model, its config and its label scheme, after the tile-size check."""
    from papseg_utils.train.checkpoint import CheckpointError, load_config, load_model

    try:
        problem = check_tile_size(args.tile_size, load_config(ckpt))
        if problem:
            raise _Stop(2, problem)
        model, config = load_model(ckpt, device=args.device)
    except CheckpointError as err:
        raise _Stop(2, str(err)) from None
    return model, config, _scheme_from_config(config)


def _pixel_size(args, jobs, model, config, scheme) -> dict:
    """The pixel size the images are resampled from (see ``resolve_pixel_size``); says why once."""
    from papseg_utils.data.io import read_image
    from papseg_utils.scale_estimate import resolve_pixel_size

    def images():
        out = []
        for src, _rel, _targets in jobs:
            try:
                out.append(read_image(src))
            except (OSError, ValueError):
                continue  # reported when the images are predicted
        return out

    try:
        pixel = resolve_pixel_size(
            args.pixel_size, config, scheme, images,
            lambda im, px: predict_image(model, im, config, args, pixel_size_um=px),
        )  # fmt: skip
    except ValueError as err:
        raise _Stop(2, str(err)) from None
    if pixel["note"]:
        print(f"note: {pixel['note']}", file=sys.stderr)
    return pixel


def _predict_all(args, jobs, model, config, scheme, out: Path, pixel=None) -> tuple[list, list]:
    """Predict and write every image; returns (written, skipped) records."""
    from papseg_utils.data.io import read_image
    from papseg_utils.viz.samples import overlay

    pixel_size = (pixel or {}).get("pixel_size_um")
    written, skipped = [], []
    bar = tqdm(jobs, desc="predict", unit="image", disable=len(jobs) < _PROGRESS_MIN)
    for src, _rel, targets in bar:
        try:
            image = read_image(src)
        except (OSError, ValueError) as err:
            if args.strict:
                raise _Stop(1, f"{err} (--strict: stopping)") from None
            skipped.append({"file": str(src), "reason": str(err)})
            log.warning("skipped %s: %s", src, err)
            continue
        preds = predict_image(model, image, config, args, pixel_size_um=pixel_size)
        for t in targets:
            t.parent.mkdir(parents=True, exist_ok=True)
        _save_palette(preds, scheme, targets[0])
        if not args.no_overlay:
            Image.fromarray(overlay(image, preds, scheme)).save(targets[1])
        row = {"input": str(src), "mask": str(targets[0].relative_to(out))}
        row.update(_image_label(model, image, preds, config, args, pixel_size, out, targets[0]))
        written.append(row)
    if any("label" in w for w in written):
        _write_labels(written, out)
    return written, skipped


def _save_palette(labels: np.ndarray, scheme: LabelScheme, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(labels, mode="P")
    img.putpalette(scheme.flat_palette())
    img.save(path)


def _image_label(model, image, preds, config, args, pixel_size, out: Path, mask_file: Path):
    """A healthy/unhealthy head's verdict and the paper-taxonomy mask; {} without such a head."""
    from papseg_utils.inference import image_probabilities
    from papseg_utils.labels import get_scheme
    from papseg_utils.postprocess import cells_from_image_head

    names = config.get("image_labels") or []
    if names != ["healthy", "unhealthy"]:
        return {}
    p = image_probabilities(model, image, config, args.tta, pixel_size_um=pixel_size)
    if p is None:
        return {}
    k = int(np.argmax(p))
    paper = out / "paper_masks" / mask_file.relative_to(out / "masks")
    _save_palette(cells_from_image_head(preds, float(p[1])), get_scheme("paper_cells"), paper)
    return {
        "label": names[k],
        "probability": float(p[k]),
        "paper_mask": str(paper.relative_to(out)),
    }


def _write_labels(written: list[dict], out: Path) -> None:
    """``labels.csv``: image, label, probability (of that label), one row per written image."""
    import csv

    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "label", "probability"])
        for row in written:
            if "label" in row:
                w.writerow([Path(row["mask"]).relative_to("masks").with_suffix("").as_posix(),
                            row["label"], f"{row['probability']:.4f}"])  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
