"""Herlev masks are decoded by palette index; unknown indices are reported by file.

Regression test of issue 10 (item 3): a mask pixel on palette index 200,
whose slot is black (the padding of an 8-bit palette), used to be read as
cytoplasm because black is a Herlev colour (index 0). Now each used index must
be the palette's own slot for a Herlev colour; anything else raises
:class:`UnknownLabelError` naming the file and the indices.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils.data.errors import UnknownLabelError
from papseg_utils.data.herlev import LoadReport, load_herlev

PALETTE = [0, 0, 0, 128, 128, 128, 0, 0, 255, 0, 0, 128, 255, 0, 0]  # indices 0..4


def write_cell(folder: Path, stem: str, stray: int | None = None, palette=None, rgb=False) -> None:
    """A 20x16 cell: red background, gray border, navy cytoplasm, blue nucleus, black spot."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (16, 20, 3), dtype=np.uint8)).save(folder / f"{stem}.BMP")
    m = np.full((16, 20), 4, np.uint8)
    m[2:-2, 2:-2] = 1
    m[3:-3, 3:-3] = 3
    m[6:-6, 6:-6] = 2
    m[4, 4] = 0  # black: cytoplasm (Martin 2003)
    if stray is not None:
        m[5, 5] = stray
    img = Image.frombytes("P", (20, 16), m.tobytes())
    img.putpalette((palette or PALETTE) + [0, 0, 0] * (256 - len(palette or PALETTE) // 3))
    if rgb:
        img = img.convert("RGB")
    img.save(folder / f"{stem}-d.bmp")


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_index_on_an_unused_black_slot_is_reported_by_file(tmp_path):
    pics = tmp_path / "New database pictures" / "light_dysplastic"
    write_cell(pics, "bad", stray=200)
    write_cell(pics, "good")
    before = tree_hash(tmp_path)
    with pytest.raises(UnknownLabelError) as info:
        load_herlev(tmp_path)
    msg = str(info.value)
    assert "bad-d.bmp" in msg and "[200]" in msg and "1 pixel" in msg
    rep = LoadReport()
    samples = load_herlev(tmp_path, on_error="skip", report=rep)
    assert [s.name for s in samples] == ["light_dysplastic/good"]
    assert "bad-d.bmp" in str(rep) and "[200]" in str(rep)
    assert tree_hash(tmp_path) == before


def test_known_indices_decode_as_before(tmp_path):
    write_cell(tmp_path / "New database pictures" / "normal_columnar", "a")
    mask = load_herlev(tmp_path, scheme="herlev3")[0].mask
    assert mask[0, 0] == 0 and mask[2, 2] == 0  # background, gray border -> background
    assert mask[4, 4] == 1 and mask[3, 10] == 1  # black and navy -> cytoplasm
    assert mask[8, 8] == 2  # nucleus


def test_rgb_and_reordered_palettes_still_decode_by_colour(tmp_path):
    pics = tmp_path / "New database pictures" / "normal_columnar"
    write_cell(pics, "rgb", rgb=True)
    # the same colours at other indices: decode follows the file's own palette
    write_cell(tmp_path / "x", "tmp")
    reordered = [255, 0, 0, 0, 0, 128, 0, 0, 255, 128, 128, 128, 0, 0, 0]  # red 0 ... black 4
    m = np.asarray(Image.open(tmp_path / "x" / "tmp-d.bmp"))
    remap = np.array([4, 3, 2, 1, 0], np.uint8)[m]
    img = Image.frombytes("P", (20, 16), remap.tobytes())
    img.putpalette(reordered + [0, 0, 0] * 251)
    pics.mkdir(parents=True, exist_ok=True)
    img.save(pics / "re-d.bmp")
    (tmp_path / "x" / "tmp.BMP").rename(pics / "re.BMP")
    a, b = (s.mask for s in load_herlev(tmp_path, scheme="herlev3"))
    assert np.array_equal(a, b)
    assert a[4, 4] == 1 and a[8, 8] == 2 and a[0, 0] == 0
