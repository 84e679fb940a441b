"""Splits: stratification, determinism, disjointness, nesting, JSON round trip."""

import json
from collections import Counter

import pytest

from papseg_utils.data.splits import (
    fraction_subset,
    fraction_subsets,
    kfold,
    load_split,
    save_split,
    stratified_split,
)

NAMES = [f"img{i:03d}" for i in range(200)]
GROUPS = ["a"] * 100 + ["b"] * 60 + ["c"] * 40


def test_stratified_split_is_disjoint_complete_stratified_and_deterministic():
    s1 = stratified_split(NAMES, val=0.15, test=0.15, seed=3, groups=GROUPS)
    s2 = stratified_split(NAMES, val=0.15, test=0.15, seed=3, groups=GROUPS)
    s3 = stratified_split(NAMES, val=0.15, test=0.15, seed=4, groups=GROUPS)
    assert s1 == s2 and s1 != s3
    parts = [set(v) for v in s1.values()]
    assert sum(map(len, parts)) == 200 and set().union(*parts) == set(NAMES)
    assert len(s1["test"]) == 30 and len(s1["val"]) == 30
    g = dict(zip(NAMES, GROUPS, strict=True))
    assert Counter(g[n] for n in s1["test"]) == {"a": 15, "b": 9, "c": 6}


def test_kfold_every_name_validated_once_and_stratified():
    folds = kfold(NAMES, k=5, seed=0, groups=GROUPS)
    vals = [n for f in folds for n in f["val"]]
    assert sorted(vals) == NAMES
    g = dict(zip(NAMES, GROUPS, strict=True))
    for f in folds:
        assert not set(f["train"]) & set(f["val"])
        assert Counter(g[n] for n in f["val"]) == {"a": 20, "b": 12, "c": 8}


def test_fraction_subsets_are_nested_stratified_and_deterministic():
    subs = fraction_subsets(NAMES, GROUPS, (0.1, 0.25, 0.5, 1.0), seed=1)
    assert [len(subs[f]) for f in (0.1, 0.25, 0.5, 1.0)] == [20, 50, 100, 200]
    assert set(subs[0.1]) <= set(subs[0.25]) <= set(subs[0.5]) <= set(subs[1.0])
    g = dict(zip(NAMES, GROUPS, strict=True))
    assert Counter(g[n] for n in subs[0.1]) == {"a": 10, "b": 6, "c": 4}
    # asking for one fraction alone gives the same subset
    assert fraction_subset(NAMES, GROUPS, 0.25, seed=1) == subs[0.25]
    assert fraction_subset(NAMES, GROUPS, 0.25, seed=2) != subs[0.25]


def test_save_load_round_trip_and_tamper_detection(tmp_path):
    split = stratified_split(NAMES, seed=0, groups=GROUPS)
    p = tmp_path / "split.json"
    doc = save_split(split, p, seed=0, groups=dict(zip(NAMES, GROUPS, strict=True)), fraction=1.0)
    assert doc["counts"]["test"]["total"] == 30 and doc["info"] == {"fraction": 1.0}
    assert load_split(p) == split
    data = json.loads(p.read_text())
    data["split"]["train"].pop()
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="hash mismatch"):
        load_split(p)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unique"):
        stratified_split(["x", "x", "y"])
    with pytest.raises(ValueError, match="val"):
        stratified_split(NAMES, val=0.6, test=0.5, groups=GROUPS)
