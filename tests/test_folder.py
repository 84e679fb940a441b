"""Folder format: round trip, validation errors naming files, no overwrite."""

import numpy as np
import pytest
from PIL import Image

from papseg_utils.data import load_dataset
from papseg_utils.data.errors import (
    DataLayoutError,
    MissingMaskError,
    SizeMismatchError,
    UnknownLabelError,
)
from papseg_utils.data.folder import export_folder, load_folder, read_classes, write_classes
from papseg_utils.data.synthetic import SyntheticConfig, generate_samples
from papseg_utils.labels import SCHEMES, get_scheme


@pytest.fixture
def exported(tmp_path):
    samples = generate_samples(3, seed=2, config=SyntheticConfig(image_size=48))
    out = export_folder(samples, "paper", tmp_path / "ds")
    return samples, out


def test_round_trip_is_exact(exported):
    samples, out = exported
    back = load_folder(out)
    assert [s.name for s in back] == sorted(s.name for s in samples)
    by = {s.name: s for s in samples}
    for s in back:
        assert np.array_equal(s.image, by[s.name].image)
        assert np.array_equal(s.mask, by[s.name].mask)
        assert s.group == by[s.name].group
    scheme = read_classes(out / "classes.yaml")
    assert scheme.classes == get_scheme("paper").classes
    assert scheme.colours == get_scheme("paper").colours
    assert Image.open(next((out / "masks").iterdir())).mode == "P"
    assert len(load_dataset("folder", out)) == 3


def test_refuses_to_overwrite(exported):
    samples, out = exported
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_folder(samples, "paper", out)
    export_folder(samples, "paper", out, overwrite=True)


def test_unpaired_files_are_named(exported):
    _, out = exported
    (out / "masks" / "synthetic_field_00000.png").rename(out / "masks" / "orphan.png")
    with pytest.raises(MissingMaskError, match=r"synthetic_field_00000\.png.*orphan\.png"):
        load_folder(out)
    assert len(load_folder(out, strict_pairs=False)) == 2


def test_unknown_label_value_names_file(exported):
    _, out = exported
    p = out / "masks" / "synthetic_field_00001.png"
    Image.fromarray(np.full((48, 48), 7, np.uint8)).save(p)
    with pytest.raises(UnknownLabelError, match=r"synthetic_field_00001\.png.*\[7\]"):
        load_folder(out)


def test_size_mismatch_names_file(exported):
    _, out = exported
    p = out / "masks" / "synthetic_field_00002.png"
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(p)
    with pytest.raises(SizeMismatchError, match="synthetic_field_00002"):
        load_folder(out)


def test_missing_pieces(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataLayoutError, match="classes.yaml"):
        load_folder(tmp_path)
    with pytest.raises(DataLayoutError, match="masks"):
        load_folder(tmp_path, scheme="paper")
    (tmp_path / "classes.yaml").write_text(
        "classes:\n  - {name: bg, id: 0, colour: [0,0,0]}\n  - {name: x, id: 2, colour: [1,1,1]}\n"
    )
    with pytest.raises(ValueError, match="without gaps"):
        read_classes(tmp_path / "classes.yaml")


@pytest.mark.parametrize("name", list(SCHEMES))
def test_classes_yaml_is_one_line_per_class_and_reads_back(tmp_path, name):
    scheme = get_scheme(name)
    path = tmp_path / "classes.yaml"
    write_classes(scheme, path)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 + scheme.num_classes  # name, description, ignore_index, classes:
    assert lines[-1].startswith("  - {name: ") and lines[-1].endswith("]}")
    assert read_classes(path) == scheme
