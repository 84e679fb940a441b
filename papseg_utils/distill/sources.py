"""Natural images for distillation and for checking teacher agreement, with their licences.

Every image installs with a package (scikit-image, scikit-learn, matplotlib), so distillation
runs offline. Two disjoint sets: :data:`DISTILL_IMAGES` feed the student, :data:`HELD_OUT_IMAGES`
only measure how well it agrees with the teacher on pictures it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class NaturalImage:
    """One sample image: ``name`` (``package:item``), what it shows, licence and credit."""

    name: str
    shows: str
    licence: str
    credit: str

    def to_dict(self) -> dict:
        return {"name": self.name, "shows": self.shows, "licence": self.licence,
                "credit": self.credit}  # fmt: skip


_SK = "scikit-image sample data"
DISTILL_IMAGES: tuple[NaturalImage, ...] = (
    NaturalImage("skimage:astronaut", "astronaut portrait", "public domain (NASA)", _SK),
    NaturalImage("skimage:coffee", "coffee cup on wood", "CC0 (Rachel Michetti)", _SK),
    NaturalImage("skimage:rocket", "rocket launch", "public domain (SpaceX)", _SK),
    NaturalImage("skimage:hubble_deep_field", "galaxies", "public domain (NASA)", _SK),
    NaturalImage("skimage:immunohistochemistry", "stained tissue", "no known restrictions", _SK),
    NaturalImage("skimage:coins", "Greek coins (grey)", "no known restrictions", _SK),
    NaturalImage("skimage:brick", "brick wall (grey)", "CC0 (CC0Textures)", _SK),
    NaturalImage("skimage:grass", "grass (grey)", "CC0 (linolafett)", _SK),
    NaturalImage("skimage:gravel", "gravel (grey)", "CC0 (CC0Textures)", _SK),
    NaturalImage(
        "sklearn:china.jpg",
        "temple and trees",
        "CC BY 2.0 (danielbuechele, Flickr)",
        "scikit-learn sample images",
    ),  # fmt: skip
)
HELD_OUT_IMAGES: tuple[NaturalImage, ...] = (
    NaturalImage("skimage:chelsea", "tabby cat", "CC0 (Stefan van der Walt)", _SK),
    NaturalImage(
        "sklearn:flower.jpg",
        "flower",
        "CC BY 2.0 (vultilion, Flickr)",
        "scikit-learn sample images",
    ),
    NaturalImage(
        "matplotlib:grace_hopper.jpg",
        "Grace Hopper in uniform",
        "public domain (U.S. Navy photograph)",
        "matplotlib sample data",
    ),  # fmt: skip
    NaturalImage("skimage:camera", "photographer with camera (grey)", "CC0 (Lav Varshney)", _SK),
    NaturalImage("skimage:clock", "wall clock, motion blur (grey)", "public domain", _SK),
    NaturalImage("skimage:retina", "fundus photograph", "CC0 (Mikael Häggström)", _SK),
)


def load_image(name: str) -> np.ndarray:
    """The image ``package:item`` as ``(H, W, 3) uint8`` RGB (grey images are repeated).

    Raises ``ValueError`` for an unknown name and ``FileNotFoundError`` (naming the package to
    install) when the package that ships it is missing.
    """
    package, _, item = name.partition(":")
    try:
        if package == "skimage":
            import skimage.data

            if not hasattr(skimage.data, item):
                raise ValueError(f"scikit-image has no sample image {item!r}")
            img = getattr(skimage.data, item)()
        elif package == "sklearn":
            from sklearn.datasets import load_sample_image

            img = load_sample_image(item)
        elif package == "matplotlib":
            import matplotlib.cbook
            from PIL import Image

            with matplotlib.cbook.get_sample_data(item) as f:
                img = np.asarray(Image.open(f).convert("RGB"))
        else:
            raise ValueError(
                f"unknown image source {name!r}: use skimage:<item>, sklearn:<file> or "
                "matplotlib:<file>"
            )
    except ImportError as err:
        raise FileNotFoundError(
            f"image {name!r} needs the package {err.name!r}: pip install {err.name}"
        ) from err
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def load_images(images: tuple[NaturalImage, ...]) -> list[np.ndarray]:
    """:func:`load_image` for each entry, in order."""
    return [load_image(i.name) for i in images]


# --------------------------------------------------------------------------- cytology
def train_names(split_paths: list[str | Path]) -> tuple[list[str], list[str]]:
    """The images in the ``train`` part of every split file, and their split hashes.

    ``split_paths`` are ``split.json`` files written by training runs (for example two CV folds
    of the same study). An image is kept only when it is a training image of **every** split, so a
    student distilled on the result never saw a test image of any of those folds, labelled or not.
    Returns ``(sorted names, [split hash per file])``. Raises ``ValueError`` when no split is
    given or nothing is left.
    """
    from ..data.splits import read_split, split_hash

    if not split_paths:
        raise ValueError(
            "cytology distillation needs --train-of SPLIT.json (the split of each fold it will be "
            "fine-tuned on), so that no test image of those folds is used"
        )
    kept: set[str] | None = None
    hashes = []
    for path in split_paths:
        split, _ = read_split(path)
        names = set(split.get("train", [])) | set(split.get("val", []))
        kept = names if kept is None else kept & names
        hashes.append(split_hash(split))
    if not kept:
        raise ValueError(f"no image is a training image of every split in {list(split_paths)}")
    return sorted(kept), hashes


def load_cytology(names: list[str], root: str | Path | None = None, min_size: int = 128
                  ) -> list[np.ndarray]:  # fmt: skip
    """The Herlev development images ``names`` as ``(H, W, 3) uint8`` RGB, at native scale.

    Images smaller than ``min_size`` on a side are reflect-padded up to it (not resized), so the
    views cut from them stay near true scale instead of blowing a small cell up. Raises
    ``KeyError`` naming the first image that the Herlev folder at ``root`` lacks.
    """
    from ..data.registry import load_dataset

    by_name = {s.name: s for s in load_dataset("herlev", root=root)}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(
            f"{len(missing)} image(s) of the split are not in the Herlev folder, first "
            f"{missing[0]!r}; pass the Herlev folder the split was made from (--data-dir)"
        )
    return [_pad_to(by_name[n].image, min_size) for n in names]


def _pad_to(img: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad ``img`` (H, W, 3) so that both sides are at least ``size``."""
    h, w = img.shape[:2]
    ph, pw = max(0, size - h), max(0, size - w)
    if not (ph or pw):
        return img
    while ph or pw:  # reflect padding may not exceed the side, so pad in rounds
        dh, dw = min(ph, img.shape[0] - 1), min(pw, img.shape[1] - 1)
        img = np.pad(img, ((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)),
                     mode="reflect")  # fmt: skip
        ph, pw = ph - dh, pw - dw
    return np.ascontiguousarray(img)
