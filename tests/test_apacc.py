"""APACC YOLO labels: parsing, validation, class mapping by name, pairing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils.data import apacc
from papseg_utils.data.errors import DataFormatError, DatasetNotFoundError
from papseg_utils.labels import PAPER


def test_documented_example_box():
    box = apacc.parse_yolo_line("0 0.07175 0.52325 0.1435 0.2105", 2000, 2000)
    assert box.label == "healthy" and box.paper_class == "healthy"
    assert box.width == pytest.approx(287) and box.height == pytest.approx(421)
    assert box.center == pytest.approx((143.5, 1046.5))
    assert (box.x0, box.y0) == pytest.approx((0.0, 836.0))


@pytest.mark.parametrize(
    "cls,name,paper",
    [
        (0, "healthy", "healthy"),
        (1, "rubbish", "rubbish"),
        (2, "unhealthy", "unhealthy"),
        (3, "bothcells", "both"),
    ],
)
def test_class_ids_map_by_name(cls, name, paper):
    box = apacc.parse_yolo_line(f"{cls} 0.5 0.5 0.2 0.2", 100, 100)
    assert box.label == name and box.paper_id == PAPER.ids[paper]


def test_non_square_slice_uses_width_and_height():
    box = apacc.parse_yolo_line("2 0.5 0.5 0.5 0.5", 200, 100)
    assert (box.x0, box.x1, box.y0, box.y1) == pytest.approx((50, 150, 25, 75))


@pytest.mark.parametrize(
    "line,match",
    [
        ("0 0.5 0.5 0.1", "expected 5 fields"),
        ("7 0.5 0.5 0.1 0.1", "unknown class id 7"),
        ("0 1.5 0.5 0.1 0.1", "outside"),
        ("0 0.5 0.5 0 0.1", "must be positive"),
        ("x 0.5 0.5 0.1 0.1", "cannot parse"),
        ("0 100 120 40 40", "divide cx"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, match):
    path = tmp_path / "s.txt"
    path.write_text("1 0.5 0.5 0.2 0.2\n\n" + line + "\n")
    with pytest.raises(DataFormatError, match=match) as err:
        apacc.parse_yolo_labels(path, 100, 100)
    assert f"{path}:3" in str(err.value)


def test_edge_boxes_within_tolerance_are_clipped():
    box = apacc.parse_yolo_line("0 0.0502 0.5 0.1006 0.2", 1000, 1000)
    assert box.x0 == 0.0 and box.x1 == pytest.approx(100.5)


def write_apacc(root: Path, slices: dict[str, list[str]], size=(64, 64)):
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    for stem, lines in slices.items():
        Image.fromarray(np.full((size[1], size[0], 3), 230, np.uint8)).save(
            root / "images" / f"{stem}.png"
        )
        if lines is not None:
            (root / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")


def test_index_pairs_by_stem_and_reports_orphans(tmp_path):
    write_apacc(
        tmp_path,
        {
            "10030_18_0_0": ["0 0.5 0.5 0.5 0.5"],
            "10030_18_1_0": ["2 0.25 0.25 0.5 0.5", "3 0.75 0.75 0.5 0.5"],
            "no_label": None,
        },
    )
    (tmp_path / "labels" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    index = apacc.index_apacc(tmp_path)
    assert [it.name for it in index] == ["10030_18_0_0", "10030_18_1_0"]
    assert index[0].group == "10030"
    assert index.report.unpaired_images == [str(Path("images") / "no_label.png")]
    assert index.report.unpaired_masks == [str(Path("labels") / "orphan.txt")]
    boxes = index.boxes(1)
    assert [b.label for b in boxes] == ["unhealthy", "bothcells"]
    assert (boxes[1].x0, boxes[1].y1) == pytest.approx((32, 64))
    image, boxes2 = index.load(1)
    assert image.shape == (64, 64, 3) and boxes2 == boxes


def test_missing_folder_says_where_to_get_it(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetNotFoundError, match="fp2xe"):
        apacc.index_apacc(tmp_path)
