"""The project's own folder format, for bringing your own data.

Layout::

    <root>/classes.yaml
    <root>/images/<stem>.png|jpg|jpeg|bmp|tif|tiff
    <root>/masks/<stem>.png            single-channel label PNG (or palette PNG: index = label)
    <root>/groups.csv                  optional: "name,group" per line, for stratified splits

``classes.yaml``::

    name: my_dataset
    ignore_index: 255
    classes:
      - {name: background, id: 0, colour: [0, 0, 0]}
      - {name: nucleus, id: 1, colour: [0, 114, 178]}
    pixel_size_um: 0.25      # optional: the size of one pixel in micrometres

Ids must run 0..N-1 with 0 the background. Every image needs a mask of the
same stem and size; unpaired files, unknown label values and size mismatches
are reported by name. :func:`export_folder` writes any list of samples in this
format (palette PNGs, so the masks look right in an image viewer).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import yaml

from papseg_utils.data.base import Sample
from papseg_utils.data.errors import (
    DataFormatError,
    DataLayoutError,
    DatasetNotFoundError,
    MissingMaskError,
    SizeMismatchError,
    UnknownLabelError,
)
from papseg_utils.data.io import IMAGE_SUFFIXES, read_image, read_label_mask, save_label_mask
from papseg_utils.labels import IGNORE_INDEX, LabelScheme, get_scheme

log = logging.getLogger(__name__)

CLASSES_FILE = "classes.yaml"


def read_classes(path: str | Path) -> LabelScheme:
    """Parse ``classes.yaml`` into a :class:`LabelScheme`, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataLayoutError(
            f"{path}: missing. Write a classes.yaml with 'name', 'classes' (name, id, colour) and "
            "'ignore_index' (see papseg_utils.data.folder's docstring)."
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise DataFormatError(f"{path}: not valid YAML ({what}{where}).") from err
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise DataFormatError(f"{path}: expected a mapping with a 'classes' list.")
    entries = data["classes"]
    try:
        for c in entries:
            if not isinstance(c["id"], int) or isinstance(c["id"], bool):
                raise DataFormatError(
                    f"{path}: class {c.get('name')!r} has id {c['id']!r}; ids are the integers "
                    "0, 1, 2, ... stored in the mask PNGs."
                )
        entries = sorted(entries, key=lambda c: c["id"])
        ids = [c["id"] for c in entries]
        names = tuple(str(c["name"]) for c in entries)
        colours = tuple(_colour(path, c) for c in entries)
    except DataFormatError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise DataFormatError(
            f"{path}: each class needs 'name', integer 'id' and 'colour' [r, g, b] ({err})."
        ) from err
    if ids != list(range(len(ids))):
        raise DataFormatError(
            f"{path}: class ids must be 0..{len(ids) - 1} without gaps, got {ids}."
        )
    seen: dict[tuple, str] = {}
    for name, colour in zip(names, colours, strict=True):
        if colour in seen:
            raise DataFormatError(
                f"{path}: classes {seen[colour]!r} and {name!r} share the colour {list(colour)}; "
                "give each class its own colour, or the overlays and palette masks cannot tell "
                "them apart."
            )
        seen[colour] = name
    try:
        return LabelScheme(
            name=str(data.get("name", path.parent.name)),
            classes=names,
            colours=colours,
            description=str(data.get("description", "")),
            ignore_index=int(data.get("ignore_index", IGNORE_INDEX)),
        )
    except ValueError as err:
        raise DataFormatError(f"{path}: {err}") from err


def _colour(path: Path, entry: dict) -> tuple[int, int, int]:
    """A class's ``colour`` as three integers in 0..255 (DataFormatError naming the class)."""
    raw = entry.get("colour", entry.get("color"))
    ok = (
        isinstance(raw, list | tuple)
        and len(raw) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in raw)
    )
    if not ok:
        raise DataFormatError(
            f"{path}: class {entry.get('name')!r} has colour {raw!r}; a colour is [r, g, b], "
            "three integers from 0 to 255 (e.g. [0, 114, 178])."
        )
    return tuple(raw)


def read_pixel_size(path: str | Path) -> float | None:
    """The optional ``pixel_size_um`` of a ``classes.yaml`` (um/px), or None when it has none.

    A value that cannot be a pixel size (<= 0, NaN, text, outside 0.01-10 um/px) raises
    :class:`DataFormatError` naming the file.
    """
    from papseg_utils.data.spacing import PixelSizeError, check_pixel_size

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError:
        return None  # read_classes reports the syntax error with its line
    value = data.get("pixel_size_um") if isinstance(data, dict) else None
    if value is None:
        return None
    try:
        return check_pixel_size(value, "pixel_size_um")
    except PixelSizeError as err:
        raise DataFormatError(f"{path}: {err}") from None


def write_classes(scheme: LabelScheme, path: str | Path) -> None:
    """Write ``scheme`` as a ``classes.yaml``, one line per class (the layout shown above)."""
    head = {
        "name": scheme.name,
        "description": scheme.description,
        "ignore_index": scheme.ignore_index,
    }
    lines = [yaml.safe_dump(head, sort_keys=False, width=10_000).rstrip("\n"), "classes:"]
    for i, (n, c) in enumerate(zip(scheme.classes, scheme.colours, strict=True)):
        entry = {"name": n, "id": i, "colour": list(c)}
        flow = yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=10_000)
        lines.append(f"  - {flow.strip()}")
    Path(path).write_text("\n".join(lines) + "\n")


def _index(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."):
            if p.stem in out:
                raise DataLayoutError(
                    f"{p}: two files share the stem {p.stem!r} ({out[p.stem].name}, {p.name}); "
                    "keep one per stem."
                )
            out[p.stem] = p
    return out


def load_folder(
    root: str | Path, scheme: str | LabelScheme | None = None, strict_pairs: bool = True
) -> list[Sample]:
    """Load a dataset in the folder format.

    Parameters
    ----------
    root : path
        Folder with ``classes.yaml``, ``images/`` and ``masks/``.
    scheme : optional
        Check against this scheme instead of ``classes.yaml`` (which may then be absent).
    strict_pairs : bool
        Raise when images lack masks or masks lack images (all are named);
        ``False`` logs them and loads the pairs.

    Returns
    -------
    list[Sample]
        ``group`` from ``groups.csv`` when present, else ``"all"``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"{root}: no such folder. Pass the folder that holds images/ and masks/."
        )
    if scheme is None:
        scheme = read_classes(root / CLASSES_FILE)
    else:
        scheme = get_scheme(scheme)
    img_dir, mask_dir = root / "images", root / "masks"
    for d in (img_dir, mask_dir):
        if not d.is_dir():
            raise DataLayoutError(
                f"{d}: missing. The folder format is images/<stem>.<png|jpg|bmp|tif> with "
                "masks/<stem>.png and classes.yaml (see papseg_utils.data.folder)."
            )
    images = _index(img_dir, IMAGE_SUFFIXES)
    masks = _index(mask_dir, (".png",))
    if not images:
        raise DataLayoutError(
            f"{img_dir}: no images ({', '.join(IMAGE_SUFFIXES)}); put the images there, each with "
            f"a mask of the same stem in {mask_dir} (see papseg_utils.data.folder)."
        )
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(set(masks) - set(images))
    if no_mask or no_image:
        msg = (
            f"{root}: unpaired files: images without a mask {[images[s].name for s in no_mask]}, "
            f"masks without an image {[masks[s].name for s in no_image]}. Add the missing files "
            "or remove the extras (or pass strict_pairs=False)."
        )
        if strict_pairs:
            raise MissingMaskError(msg)
        log.warning(msg)
    groups: dict[str, str] = {}
    gfile = root / "groups.csv"
    if gfile.is_file():
        with gfile.open(newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 2 and row[0] != "name":
                    groups[row[0]] = row[1]
    samples = []
    for stem in sorted(set(images) & set(masks)):
        image = read_image(images[stem])
        mask = read_label_mask(masks[stem])
        if mask.shape != image.shape[:2]:
            raise SizeMismatchError(
                f"{masks[stem]}: mask is {mask.shape[1]}x{mask.shape[0]} px but "
                f"{images[stem].name} is {image.shape[1]}x{image.shape[0]} px; they must agree."
            )
        try:
            scheme.check(mask, where=str(masks[stem]))
        except ValueError as err:
            raise UnknownLabelError(str(err)) from None
        samples.append(
            Sample(image, mask, name=stem, group=groups.get(stem, "all"), path=str(images[stem]))
        )
    _warn_background_only(samples, mask_dir, scheme)
    return samples


def _warn_background_only(samples: list[Sample], mask_dir: Path, scheme: LabelScheme) -> None:
    """Say when masks hold no class but the background (all of them: nothing to learn)."""
    empty = [s.name for s in samples if not np.isin(s.mask, np.arange(1, scheme.num_classes)).any()]
    if not empty:
        return
    if len(empty) == len(samples):
        log.warning("%s: every mask is background only (id 0): a model trained on them learns "
                    "no class; check that the masks hold the ids of classes.yaml", mask_dir)  # fmt: skip
    else:
        log.warning("%s: %d of %d masks are background only (e.g. %s)", mask_dir, len(empty),
                    len(samples), empty[0])  # fmt: skip


def export_folder(
    samples: list[Sample],
    scheme: str | LabelScheme,
    out_dir: str | Path,
    overwrite: bool = False,
    image_format: str = "png",
) -> Path:
    """Write ``samples`` in the folder format; returns ``out_dir``.

    Refuses to write into a non-empty folder unless ``overwrite=True`` (which
    replaces same-named files but deletes nothing).
    """
    scheme = get_scheme(scheme)
    out = Path(out_dir).expanduser()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out}: folder is not empty; choose an empty folder or pass overwrite=True."
        )
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    write_classes(scheme, out / CLASSES_FILE)
    from PIL import Image

    rows = []
    for s in samples:
        scheme.check(s.mask, where=f"sample {s.name!r}")
        stem = s.name.replace("/", "__")
        Image.fromarray(s.image).save(out / "images" / f"{stem}.{image_format}")
        save_label_mask(s.mask, out / "masks" / f"{stem}.png", palette=scheme.flat_palette())
        rows.append((stem, s.group))
    with (out / "groups.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "group"])
        w.writerows(rows)
    return out
