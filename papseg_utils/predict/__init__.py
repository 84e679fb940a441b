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

The inputs and the outputs' safety are checked in :mod:`papseg_utils.predict.inputs`; the
files are written by :mod:`papseg_utils.predict.outputs`. Their public names are
importable from here too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from papseg_utils.labels import LabelScheme
from papseg_utils.predict.inputs import (  # re-exported for callers
    IMAGE_SUFFIXES,
    check_options,
    check_tile_size,
    check_writable,
    checked_inputs,
    collect_inputs,
    output_jobs,
    unsafe_outputs,
)
from papseg_utils.predict.inputs import PredictStop as _Stop
from papseg_utils.predict.outputs import image_label, save_palette, write_labels, write_log
from papseg_utils.progress import tqdm

__all__ = [
    "IMAGE_SUFFIXES",
    "build_parser",
    "check_options",
    "check_tile_size",
    "collect_inputs",
    "main",
    "predict_image",
    "unsafe_outputs",
]

log = logging.getLogger(__name__)

_PROGRESS_MIN = 4


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m papseg_utils predict",
        description="Segment images with a trained checkpoint; write palette masks and overlays.",
    )
    p.add_argument(
        "checkpoint",
        help="checkpoint folder (model.safetensors + config.json), a run folder with best/, or "
        "a cross-validation folder of run folders (fold0/, fold1/, ...: their probabilities "
        "are averaged, one ensemble)",
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
    p.add_argument("--one-nucleus", action="store_true",
                   help="keep each image's most probable nucleus region only, for one-cell crops "
                   "such as Herlev's (other nucleus regions take their next most probable class)")  # fmt: skip
    p.add_argument(
        "--tile-size",
        type=int,
        default=None,
        help="scale-true checkpoints: the sliding window's side in px at the target spacing "
        "(default: the training patch); letterbox checkpoints: predict in tiles of N px at "
        "native resolution instead of letterboxing",
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


def _scheme_from_config(config: dict) -> LabelScheme:
    """The checkpoint's label scheme; older configs without one get ``class_i`` names in
    the paper's colours (``num_classes`` of them)."""
    if config.get("scheme"):
        return LabelScheme.from_dict(config["scheme"])
    from papseg_utils.labels import PAPER

    n = int(config["num_classes"])
    colours = [PAPER.colours[i % len(PAPER.colours)] for i in range(n)]
    return LabelScheme("checkpoint", tuple(f"class_{i}" for i in range(n)), tuple(colours))


def predict_image(
    model, image: np.ndarray, config: dict, args: argparse.Namespace, pixel_size_um=None
) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) uint8 class ids at the original size (with
    ``args.one_nucleus``: one nucleus region, :func:`papseg_utils.postprocess.keep_one_nucleus`)."""
    from papseg_utils.inference import predict_with_config
    from papseg_utils.postprocess import keep_one_nucleus

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
    if getattr(args, "one_nucleus", False):
        return keep_one_nucleus(probs, _scheme_from_config(config).classes.index("nucleus"))
    return probs.argmax(0).astype(np.uint8)


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


def _main(args: argparse.Namespace) -> int:
    try:
        ckpts, pairs, out = checked_inputs(args)
        jobs = output_jobs(args, pairs, out)
        model, config, scheme = _model(args, ckpts)
        if getattr(args, "one_nucleus", False) and "nucleus" not in scheme.classes:
            raise _Stop(2, f"--one-nucleus: the checkpoint predicts {scheme.name!r} "
                        f"({', '.join(scheme.classes)}), which has no nucleus class; leave the "
                        "option out")  # fmt: skip
        check_writable(out)
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
    write_log(out, args, ckpts, config, scheme, pixel, written, skipped)
    print(f"wrote {len(written)} masks to {out / 'masks'}; skipped {len(skipped)} unreadable files")
    for s in skipped:
        print(f"  skipped {s['file']}: {s['reason']}", file=sys.stderr)
    return 1 if skipped else 0


def _model(args: argparse.Namespace, ckpts: list[Path]):
    """The model, its config and its label scheme, after the tile-size check.

    Several checkpoints (the folds of a cross-validation) become one
    :class:`~papseg_utils.models.ensemble.ProbabilityEnsemble` with the shared config.
    """
    from papseg_utils.models.ensemble import ProbabilityEnsemble, ensemble_config
    from papseg_utils.train.checkpoint import CheckpointError, load_config, load_model

    models, configs = [], []
    try:
        for ckpt in ckpts:
            problem = check_tile_size(args.tile_size, load_config(ckpt))
            if problem:
                raise _Stop(2, problem)
            model, config = load_model(ckpt, device=args.device)
            models.append(model)
            configs.append(config)
        if len(models) > 1:
            config = ensemble_config(configs, [str(c) for c in ckpts])
            model = ProbabilityEnsemble(models).eval()
    except (CheckpointError, ValueError) as err:
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
        save_palette(preds, scheme, targets[0])
        if not args.no_overlay:
            Image.fromarray(overlay(image, preds, scheme)).save(targets[1])
        row = {"input": str(src), "mask": str(targets[0].relative_to(out))}
        row.update(image_label(model, image, preds, config, args, pixel_size, out, targets[0]))
        written.append(row)
    if any("label" in w for w in written):
        write_labels(written, out)
    return written, skipped


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
