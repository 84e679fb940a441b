"""Herlev loader: real dev data (skipped when absent) and small fixture folders."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils.data import load_dataset, validate
from papseg_utils.data.errors import (
    DataFormatError,
    DataLayoutError,
    DatasetNotFoundError,
    MissingMaskError,
    SizeMismatchError,
    UnknownLabelError,
)
from papseg_utils.data.herlev import CLASSES, LoadReport, count_herlev, load_herlev
from papseg_utils.labels import IGNORE_INDEX

DEV_COUNTS = {
    "normal_superficiel": 59,
    "normal_intermediate": 56,
    "normal_columnar": 78,
    "light_dysplastic": 145,
    "moderate_dysplastic": 116,
    "severe_dysplastic": 157,
    "carcinoma_in_situ": 120,
}
PALETTE = [0, 0, 0, 128, 128, 128, 0, 0, 255, 0, 0, 128, 255, 0, 0]


# ----------------------------------------------------------------------------- real data


def test_dev_copy_counts_per_class(herlev_dir):
    counts = count_herlev(herlev_dir)
    if sum(counts.values()) == 731:
        assert counts == DEV_COUNTS
    report = validate("herlev", herlev_dir)
    assert report["carcinoma_in_situ"]["expected"] == 150
    assert sum(v["expected"] for v in report.values()) == 917


def test_real_labels_sizes_and_gray_policy(herlev_dir):
    bg = load_herlev(herlev_dir, gray="background", limit=3)
    ig = load_herlev(herlev_dir, gray="ignore", limit=3)
    assert len(bg) == 3 * len(CLASSES)
    assert {s.group for s in bg} == set(CLASSES)
    for a, b in zip(bg, ig, strict=True):
        assert a.image.shape[:2] == a.mask.shape
        assert set(np.unique(a.mask)) <= {0, 1, 2}
        assert set(np.unique(b.mask)) <= {0, 1, 2, IGNORE_INDEX}
        # gray pixels are background in one, ignore in the other; all else equal
        diff = a.mask != b.mask
        assert (a.mask[diff] == 0).all() and (b.mask[diff] == IGNORE_INDEX).all()
        assert (a.mask == 2).any()
    assert sum((b.mask == IGNORE_INDEX).sum() for b in ig) > 0


def test_real_paper_cells_scheme(herlev_dir):
    samples = load_dataset("herlev", herlev_dir, scheme="paper_cells", limit=1)
    for s in samples:
        expected = 1 if s.group.startswith("normal") else 2
        assert set(np.unique(s.mask)) == {0, expected}


# ----------------------------------------------------------------------------- fixtures


def _write_cell(folder: Path, stem: str, size=(20, 16), mask_size=None, colour_idx=None):
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / f"{stem}.BMP")
    mw, mh = mask_size or size
    m = np.full((mh, mw), 4, np.uint8)
    m[2:-2, 2:-2] = 1
    m[3:-3, 3:-3] = 3
    m[6:-6, 6:-6] = 2
    pal = list(PALETTE)
    if colour_idx is not None:
        m[0, 0] = 5
        pal += [10, 200, 30]
    img = Image.frombytes("P", (mw, mh), m.tobytes())
    img.putpalette(pal)
    img.save(folder / f"{stem}-d.bmp")


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def fake(tmp_path):
    pics = tmp_path / "herlev" / "New database pictures"
    _write_cell(pics / "normal_columnar", "a")
    _write_cell(pics / "carcinoma_in_situ", "b", size=(18, 24))
    return tmp_path / "herlev"


def test_fixture_decodes_known_answer_and_leaves_folder_unchanged(fake):
    before = _tree_hash(fake)
    samples = load_herlev(fake, scheme="herlev5")
    assert _tree_hash(fake) == before
    assert [s.name for s in samples] == ["normal_columnar/a", "carcinoma_in_situ/b"]
    a = samples[0].mask
    assert a[0, 0] == 0 and a[2, 2] == 0 and a[4, 4] == 1 and a[8, 8] == 2  # healthy
    assert samples[1].mask[4, 4] == 3 and samples[1].mask[8, 8] == 4  # unhealthy
    # root may also be the pictures folder itself
    assert len(load_herlev(fake / "New database pictures")) == 2


def test_missing_mask_names_file(fake):
    os.remove(fake / "New database pictures" / "normal_columnar" / "a-d.bmp")
    with pytest.raises(MissingMaskError, match="a.BMP"):
        load_herlev(fake)
    rep = LoadReport()
    assert len(load_herlev(fake, on_error="skip", report=rep)) == 1
    assert len(rep.skipped) == 1 and "a.BMP" in rep.skipped[0][0]


def test_corrupt_image_names_file(fake):
    (fake / "New database pictures" / "carcinoma_in_situ" / "b.BMP").write_bytes(b"not a bitmap")
    with pytest.raises(DataFormatError, match="b.BMP"):
        load_herlev(fake)


def test_size_mismatch_names_file(tmp_path):
    _write_cell(tmp_path / "New database pictures" / "light_dysplastic", "c", mask_size=(21, 16))
    with pytest.raises(SizeMismatchError, match="c-d.bmp"):
        load_herlev(tmp_path)


def test_unknown_colour_names_file_and_skip_reports(tmp_path):
    _write_cell(tmp_path / "New database pictures" / "light_dysplastic", "d", colour_idx=5)
    _write_cell(tmp_path / "New database pictures" / "light_dysplastic", "e")
    with pytest.raises(UnknownLabelError, match=r"d-d\.bmp.*\(10, 200, 30\)"):
        load_herlev(tmp_path)
    rep = LoadReport()
    assert [s.name for s in load_herlev(tmp_path, on_error="skip", report=rep)] == [
        "light_dysplastic/e"
    ]
    assert "d-d.bmp" in str(rep)


def test_wrong_layout_and_absent_folder(tmp_path):
    (tmp_path / "something").mkdir()
    with pytest.raises(DataLayoutError, match="New database pictures"):
        load_herlev(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="PAPSEG_HERLEV_DIR"):
        load_herlev(tmp_path / "nope")
    with pytest.raises(DatasetNotFoundError, match="smear2005"):
        load_dataset("herlev", tmp_path / "nope")


def test_is_available_means_a_herlev_folder(fake, tmp_path):
    from papseg_utils.data import is_available

    assert is_available("herlev", fake)
    assert is_available("herlev", fake / "New database pictures")
    (tmp_path / "empty").mkdir()
    assert not is_available("herlev", tmp_path / "empty")  # exists, but holds no Herlev
    assert not is_available("herlev", tmp_path / "nope")


def test_list_image_sizes_reads_headers(fake):
    from papseg_utils.data.herlev import list_image_sizes

    assert list_image_sizes(fake) == [
        {"name": "normal_columnar/a", "group": "normal_columnar", "width": 20, "height": 16},
        {"name": "carcinoma_in_situ/b", "group": "carcinoma_in_situ", "width": 18, "height": 24},
    ]


def test_describe_keeps_the_layout_placeholders_visible_in_html():
    from markdown_it import MarkdownIt

    from papseg_utils.data import describe

    html = MarkdownIt("commonmark").render(describe("herlev"))
    assert "New database pictures/&lt;class&gt;/&lt;id&gt;.BMP" in html
    assert "<class>" not in html and "<id>" not in html
