"""Natural images for distillation and for checking teacher agreement, with their licences.

Every image installs with a package (scikit-image, scikit-learn, matplotlib), so distillation
runs offline. Two disjoint sets: :data:`DISTILL_IMAGES` feed the student, :data:`HELD_OUT_IMAGES`
only measure how well it agrees with the teacher on pictures it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

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
