"""Synthetic generator: determinism, valid labels, labelling rules, cytology."""

import re

import numpy as np
import pytest

from papseg_utils.data.synthetic import (
    CELL_TYPES,
    SyntheticConfig,
    generate_cell,
    generate_field,
    generate_samples,
    labels_from_layers,
)
from papseg_utils.labels import get_scheme

SMALL = SyntheticConfig(image_size=96, num_cells=(3, 6), difficulty="hard")


def test_same_seed_same_output_and_different_seed_differs():
    a = generate_field(3, SMALL)
    b = generate_field(3, SMALL)
    c = generate_field(4, SMALL)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("scheme", ["paper", "paper_cells", "herlev3", "herlev5"])
def test_shapes_dtypes_and_valid_labels(scheme):
    image, mask, meta = generate_field(1, SyntheticConfig(image_size=(64, 80)), scheme=scheme)
    assert image.shape == (64, 80, 3) and image.dtype == np.uint8
    assert mask.shape == (64, 80) and mask.dtype == np.uint8
    assert mask.max() < get_scheme(scheme).num_classes


def test_both_only_where_healthy_and_unhealthy_overlap():
    seen_both = 0
    for seed in range(6):
        _, mask, meta = generate_field(seed, SMALL)
        both = mask == 4
        assert np.array_equal(both, meta["healthy"] & meta["unhealthy"])
        # healthy-over-healthy stays healthy; rubbish never overrides cells
        assert not (meta["healthy"] & ~meta["unhealthy"] & (mask != 1)).any()
        assert not ((mask == 3) & (meta["healthy"] | meta["unhealthy"])).any()
        seen_both += int(both.sum())
    assert seen_both > 0  # hard difficulty overlaps cells


def test_relabelling_rules_on_handmade_layers():
    layers = {
        "healthy": np.array([[1, 1, 0, 0, 0]], bool),
        "unhealthy": np.array([[0, 1, 1, 0, 0]], bool),
        "nucleus": np.array([[1, 0, 1, 0, 1]], bool),
        "rubbish": np.array([[0, 0, 0, 1, 1]], bool),
    }
    assert labels_from_layers(layers, "paper").tolist() == [[1, 4, 2, 3, 3]]
    assert labels_from_layers(layers, "paper_cells").tolist() == [[1, 2, 2, 0, 0]]
    assert labels_from_layers(layers, "herlev3").tolist() == [[2, 1, 2, 0, 0]]
    assert labels_from_layers(layers, "herlev5").tolist() == [[2, 3, 4, 0, 0]]


def test_unhealthy_nuclei_larger_than_healthy():
    healthy, unhealthy = [], []
    for seed in range(5):
        *_, meta = generate_field(seed, SyntheticConfig(image_size=128))
        for c in meta["cells"]:
            (healthy if c["healthy"] else unhealthy).append(c["nucleus_area"] / c["cell_area"])
    assert np.mean(unhealthy) > 3 * np.mean(healthy)


def test_cell_crops_follow_herlev_nc_ordering():
    nc = {}
    for d in ("normal_intermediate", "moderate_dysplastic", "carcinoma_in_situ"):
        vals = []
        for seed in range(4):
            image, mask, meta = generate_cell(seed, d, scheme="herlev3")
            n, c = (mask == 2).sum(), (mask == 1).sum()
            vals.append(n / (n + c))
            assert image.shape[:2] == mask.shape
        nc[d] = np.median(vals)
    assert nc["normal_intermediate"] < 0.06 < nc["moderate_dysplastic"] < nc["carcinoma_in_situ"]


def test_generate_samples_cell_mode_cycles_classes_and_names_unique():
    samples = generate_samples(8, seed=1, mode="cell", scheme="herlev3")
    assert [s.group for s in samples[:7]] == list(CELL_TYPES)
    assert len({s.name for s in samples}) == 8


def test_difficulty_increases_noise():
    def roughness(d):
        img, *_ = generate_field(
            0, SyntheticConfig(image_size=96, difficulty=d, num_cells=(0, 0), rubbish_amount=0)
        )
        g = img.astype(float).mean(2)
        return np.abs(np.diff(g, axis=1)).mean()

    assert roughness("hard") > roughness("easy")


@pytest.mark.parametrize(
    "kwargs",
    [{"difficulty": "extreme"}, {"difficulty": 2.0}, {"num_cells": (5, 2)}, {"image_size": 8}],
)
def test_bad_config_is_rejected_with_the_value(kwargs):
    with pytest.raises(ValueError, match=re.escape(str(next(iter(kwargs.values()))))):
        SyntheticConfig(**kwargs)
