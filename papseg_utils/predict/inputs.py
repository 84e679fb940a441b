"""The predict command's inputs and outputs, checked before anything is loaded or written.

:func:`collect_inputs` expands the image files and folders given; :func:`check_options`
and :func:`check_tile_size` validate the numbers; :func:`checked_inputs`,
:func:`output_jobs` and :func:`check_writable` decide what :mod:`papseg_utils.predict`
will write and refuse, with :class:`PredictStop` (exit 2), an output that is an input or
lies in an input folder, outputs that exist without ``--overwrite``, inputs that share an
output name, and a place that cannot be written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from papseg_utils.cli_text import for_command_line

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class PredictStop(Exception):
    """Ends the command: exit ``code`` after printing ``error: message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def collect_inputs(
    inputs: list[str], recursive: bool = False
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Expand files and folders into (path, relative output name) pairs.

    Returns the pairs (sorted within each folder) and a list of problems
    (missing paths, dangling links, files that are not images, folders without
    images), each ``(path, reason)``.
    """
    pairs: list[tuple[Path, Path]] = []
    problems: list[tuple[Path, str]] = []
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


def _inside(child: Path, parent: Path) -> bool:
    """Whether path ``child`` is ``parent`` or lies below it (no resolving here)."""
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


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


def checked_inputs(args: argparse.Namespace) -> tuple[list[Path], list[tuple[Path, Path]], Path]:
    """The checkpoint folders, the (image, relative name) pairs and the output folder.

    The checkpoint argument is one checkpoint (or run folder), or a cross-validation folder
    whose subfolders are run folders: its checkpoints predict as one ensemble.

    Warns on stderr about each input that cannot be used and records the named files
    among them in ``args.unreadable`` (skipped like unreadable images: exit 1).
    Raises :class:`PredictStop` (exit 2) for a bad option, a missing checkpoint, no
    images, or an ``--out`` that is a file or an input folder.
    """
    from papseg_utils.train.checkpoint import resolve_checkpoints

    problem = check_options(args)
    if problem:
        raise PredictStop(2, problem)
    try:
        ckpts = resolve_checkpoints(args.checkpoint)
    except FileNotFoundError as err:
        raise PredictStop(2, for_command_line(str(err))) from None
    pairs, problems = collect_inputs(args.inputs, args.recursive)
    for path, reason in problems:
        print(f"warning: {path}: {reason}", file=sys.stderr)
    if not pairs:
        raise PredictStop(2, "no input images found; pass image files or folders of images")
    # a named input that cannot be read is skipped like an unreadable image (exit 1)
    args.unreadable = [{"file": str(p), "reason": r} for p, r in problems if not p.is_dir()]
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise PredictStop(2, f"--out {args.out} is a file; pass a folder (created if missing)")
    for raw in args.inputs:
        p = Path(raw).resolve()
        folder = p if p.is_dir() else p.parent
        if out == folder or (p.is_dir() and _inside(out, p)):
            raise PredictStop(
                2,
                f"--out {args.out} is (inside) the input folder {folder}; "
                "choose a separate output folder (inputs are never written to)",
            )
    return ckpts, pairs, out


def output_jobs(
    args: argparse.Namespace, pairs: list[tuple[Path, Path]], out: Path
) -> list[tuple[Path, Path, list[Path]]]:
    """``(source, relative name, [mask file, overlay file])`` per image; refuses unsafe outputs.

    Raises :class:`PredictStop` (exit 2) for an output that is an input or lies in an
    input folder, inputs that share an output name, or outputs that exist without
    ``--overwrite``.
    """
    jobs = []
    for src, rel in pairs:
        name = rel.with_suffix(".png")
        targets = [out / "masks" / name] + ([] if args.no_overlay else [out / "overlays" / name])
        jobs.append((src, rel, targets))
    all_targets = [t for _, _, ts in jobs for t in ts] + [out / "predict_log.json"]
    problem = unsafe_outputs(all_targets, args.inputs, [src for src, _ in pairs])
    if problem:
        raise PredictStop(2, problem)
    by_name: dict[str, list[Path]] = {}
    for src, rel, _ in jobs:
        by_name.setdefault(rel.with_suffix(".png").as_posix(), []).append(src)
    clashes = {name: srcs for name, srcs in by_name.items() if len(srcs) > 1}
    if clashes:
        name, srcs = next(iter(clashes.items()))
        raise PredictStop(
            2,
            f"{', '.join(map(str, srcs))} would all be written to masks/{name} (same stem"
            + (f"; {len(clashes)} names clash" if len(clashes) > 1 else "")
            + "); rename them, or predict them in separate runs with separate --out folders",
        )
    existing = [t for _, _, ts in jobs for t in ts if t.exists()]
    if existing and not args.overwrite:
        shown = ", ".join(str(t) for t in existing[:3])
        raise PredictStop(
            2,
            f"{len(existing)} output files exist (e.g. {shown}); pass --overwrite to replace them",
        )
    return jobs


def check_writable(out: Path) -> None:
    """Try a folder in ``out`` (or the nearest folder above it that exists); remove it again.

    A read-only, immutable or full place fails here (:class:`PredictStop`, exit 2),
    before any image is predicted, and nothing is left behind.
    """
    import tempfile

    base = out
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise PredictStop(2, f"--out {out}: {base} is a file, not a folder; choose another --out")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".papseg-write-test", dir=base))
    except OSError as err:
        raise PredictStop(
            2,
            f"--out {out}: cannot write there ({err.strerror or err}); choose a folder you can "
            "write to",
        ) from None
