"""Fuzz the image and mask loaders with corrupt and odd files (Hypothesis).

Every generated file (truncated, 1 px, 16-bit, RGBA, huge declared sides, odd
palettes, random bytes, in PNG/BMP/TIFF/JPEG) must end in either a valid
result or a :class:`papseg_utils.data.DatasetError` naming the file; never a
raw exception from PIL, OpenCV or NumPy. The loaders only read: the folder's
files are hashed before and after.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from papseg_utils.data import DatasetError
from papseg_utils.data.folder import load_folder
from papseg_utils.data.herlev import load_herlev
from papseg_utils.data.io import read_image, read_label_mask, read_palette_mask
from papseg_utils.labels import get_scheme

MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "PA", "I;16", "I", "F", "CMYK", "YCbCr")
FORMATS = ("PNG", "BMP", "TIFF", "JPEG")


def _png_with_sides(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` px but holds a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@st.composite
def image_files(draw) -> bytes:
    """Bytes of an image file: well-formed, truncated, garbled, huge or random."""
    kind = draw(st.sampled_from(["valid", "valid", "truncated", "garbled", "huge", "random"]))
    if kind == "huge":
        side = draw(st.sampled_from([1, 70_000, 200_000, 2**31 - 1]))
        other = draw(st.sampled_from([1, 3, 70_000]))
        return _png_with_sides(side, other)
    if kind == "random":
        return draw(st.binary(min_size=0, max_size=200))
    mode = draw(st.sampled_from(MODES))
    fmt = draw(st.sampled_from(FORMATS))
    w, h = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if mode in ("I;16", "I", "F"):
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        top = draw(st.sampled_from([1, 255, 256, 65535]))
        arr = rng.integers(0, top + 1, (h, w)).astype(dtype)
        img = Image.fromarray(arr, mode=mode) if mode != "I;16" else Image.fromarray(arr)
    else:
        bands = len(Image.new(mode, (1, 1)).getbands())
        arr = rng.integers(0, 256, (h, w, bands), dtype=np.uint8)
        img = (
            Image.frombytes(mode, (w, h), arr.tobytes()) if mode != "1" else Image.new("1", (w, h))
        )
        if mode in ("P", "PA"):
            n = draw(st.integers(1, 256))  # odd palettes: short, with repeated or black slots
            pal = rng.integers(0, 256, 3 * n).tolist() if draw(st.booleans()) else [0] * (3 * n)
            img.putpalette(pal)
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        img.convert("RGB").save(buf, format="PNG")
    data = buf.getvalue()
    if kind == "truncated":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "garbled":
        pos = draw(st.integers(0, len(data) - 1))
        return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1 :]
    return data


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def _ok_or_clear(fn, *args, **kw):
    """Run a loader: return its result, or None after a DatasetError that names the file."""
    try:
        return fn(*args, **kw)
    except DatasetError as err:
        assert str(args[0]) in str(err) or "folder" in str(err) or "/" in str(err), err
        return None


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=image_files(), suffix=st.sampled_from([".png", ".bmp", ".tif", ".jpg"]))
def test_readers_return_valid_arrays_or_clear_errors(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(data)
        image = _ok_or_clear(read_image, path)
        if image is not None:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        mask = _ok_or_clear(read_label_mask, path)
        if mask is not None:
            assert mask.dtype == np.uint8 and mask.ndim == 2
        pair = _ok_or_clear(read_palette_mask, path)
        if pair is not None:
            idx, rgb = pair
            assert idx.shape == rgb.shape[:2] and rgb.dtype == np.uint8
        assert path.read_bytes() == data


@SETTINGS
@given(data=image_files(), role=st.sampled_from(["image", "mask"]))
def test_folder_loader_gives_samples_or_clear_errors(data, role):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "images").mkdir()
        (root / "masks").mkdir()
        from papseg_utils.data.folder import write_classes

        write_classes(get_scheme("herlev3"), root / "classes.yaml")
        good_image = Image.new("RGB", (8, 8))
        good_mask = Image.new("L", (8, 8))
        if role == "image":
            (root / "images" / "a.png").write_bytes(data)
            good_mask.save(root / "masks" / "a.png")
        else:
            good_image.save(root / "images" / "a.png")
            (root / "masks" / "a.png").write_bytes(data)
        before = _hashes(root)
        samples = _ok_or_clear(load_folder, root)
        if samples is not None:
            (s,) = samples
            assert s.image.dtype == np.uint8 and s.mask.shape == s.image.shape[:2]
            assert set(np.unique(s.mask)) <= {0, 1, 2, 255}
        assert _hashes(root) == before


@SETTINGS
@given(data=image_files())
def test_herlev_loader_gives_samples_or_clear_errors(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "New database pictures" / "light_dysplastic"
        folder.mkdir(parents=True)
        (folder / "c.BMP").write_bytes(data)
        Image.new("P", (8, 8)).save(folder / "c-d.bmp")
        (folder / "d.BMP").write_bytes(b"")  # and one empty image
        Image.new("RGB", (8, 8)).save(folder / "e.BMP")
        (folder / "e-d.bmp").write_bytes(data)
        (folder / "d-d.bmp").write_bytes(data)
        before = _hashes(Path(tmp))
        samples = _ok_or_clear(load_herlev, Path(tmp), on_error="raise")
        for s in samples or []:
            assert s.image.dtype == np.uint8 and s.mask.shape == s.image.shape[:2]
        load_herlev(Path(tmp), on_error="skip")  # skipping never raises for a bad file
        assert _hashes(Path(tmp)) == before
