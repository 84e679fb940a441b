"""The evaluate command: one checkpoint, an ensemble, CV folds, folder data, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from papseg_utils.data.base import Sample
from papseg_utils.data.folder import export_folder
from papseg_utils.data.splits import save_split
from papseg_utils.data.synthetic import generate_samples
from papseg_utils.evaluate import ScoringError, assign_images, load_members, score, summary
from papseg_utils.evaluate.cli import main
from papseg_utils.evaluate.scores import member_fold
from papseg_utils.inference import predict_with_config
from papseg_utils.labels import get_scheme
from papseg_utils.models import build_model
from papseg_utils.train.checkpoint import save_checkpoint

SCHEME = "paper"


def _checkpoint(run: Path, seed: int, split: dict | None = None, image_classes: int = 0) -> Path:
    torch.manual_seed(seed)
    kw = {"image_classes": image_classes} if image_classes else {}
    scheme = get_scheme(SCHEME if not image_classes else "herlev3")
    model = build_model("unet", num_classes=scheme.num_classes, pretrained="none", **kw)
    extra = {"image_labels": ["healthy", "unhealthy"]} if image_classes else None
    save_checkpoint(run / "last", model, num_classes=scheme.num_classes, scheme=scheme,
                    train_config={"image_size": 64}, extra=extra)  # fmt: skip
    if split is not None:
        save_split(split, run / "split.json", seed=0)
    return run / "last"


@pytest.fixture(scope="module")
def folder_data(tmp_path_factory) -> tuple[Path, list[Sample]]:
    samples = generate_samples(6, seed=3, scheme=SCHEME)
    root = tmp_path_factory.mktemp("data") / "lab"
    export_folder(samples, SCHEME, root)
    return root, samples


def test_folder_dataset_single_model_and_ensemble(folder_data, tmp_path, capsys):
    root, samples = folder_data
    a, b = _checkpoint(tmp_path / "a", 0), _checkpoint(tmp_path / "b", 1)
    before = sorted(p.name for p in root.rglob("*"))
    out = tmp_path / "one"
    assert main([str(a), "--dataset", "folder", "--data-dir", str(root), "--split", "all",
                 "--out", str(out), "--device", "cpu", "--n-boot", "200"]) == 0  # fmt: skip
    table = pd.read_csv(out / "per_image.csv")
    assert set(table.image) == {s.name for s in samples}
    assert {"scheme", "fold"} <= set(table.columns) and (table.fold == 0).all()
    summ = pd.read_csv(out / "summary.csv")
    dice = summ[(summ.metric == "dice") & summ["mean"].notna()]
    assert (
        len(dice)
        and (dice.low <= dice["mean"] + 1e-9).all()
        and (dice["mean"] <= dice.high + 1e-9).all()
    )
    assert "macro" in set(summ["class"]) and summ[summ.metric == "dice"].micro.notna().any()
    assert (out / "summary.png").stat().st_size > 0 and (out / "summary.md").is_file()
    record = json.loads((out / "scoring.json").read_text())
    assert record["mode"] == "single model" and record["n_images"] == 6
    assert "data_dir" not in record["options"]  # no machine paths in the record
    assert sorted(p.name for p in root.rglob("*")) == before  # nothing written into the data

    out2 = tmp_path / "two"
    assert main([str(a), str(b), "--dataset", "folder", "--data-dir", str(root), "--split", "all",
                 "--out", str(out2), "--device", "cpu", "--n-boot", "200", "--tta"]) == 0  # fmt: skip
    assert json.loads((out2 / "scoring.json").read_text())["mode"] == "ensemble"
    assert (pd.read_csv(out2 / "per_image.csv").fold == -1).all()
    # the ensemble's prediction is the argmax of the mean of the members' probabilities
    members = load_members([a, b])
    s = samples[0]
    scores = score(members, samples, {s.name: [0, 1]}, tta="flips")
    mean = np.mean(
        [predict_with_config(m.model, s.image, m.config, tta="flips") for m in members], 0
    )
    np.testing.assert_array_equal(scores.preds[s.name], mean.argmax(0))
    one = predict_with_config(members[0].model, s.image, members[0].config, tta="flips").argmax(0)
    assert not np.array_equal(one, mean.argmax(0))  # two different models: the average matters


def test_cv_folds_each_image_scored_by_the_model_that_did_not_train_on_it(tmp_path):
    names = [f"img{i}" for i in range(6)]
    folds = [names[:3], names[3:]]
    members = load_members([
        _checkpoint(tmp_path / f"f{k}", k, {"train": folds[1 - k], "val": [], "test": folds[k]})
        for k in range(2)
    ])  # fmt: skip
    assign = assign_images(members, names, "test")
    assert assign == {n: [0] if n in folds[0] else [1] for n in names}
    # the same test part in both: an ensemble
    same = load_members([
        _checkpoint(tmp_path / f"s{k}", k, {"train": folds[1], "val": [], "test": folds[0]})
        for k in range(2)
    ])  # fmt: skip
    assert assign_images(same, names, "test") == {n: [0, 1] for n in folds[0]}
    # overlapping but different test parts: refused
    mixed = load_members([tmp_path / "f0", _checkpoint(tmp_path / "m", 2, {"train": [], "val": [],
                                                                         "test": names[2:4]})])  # fmt: skip
    with pytest.raises(ScoringError, match="trained on"):
        assign_images(mixed, names, "test")
    with pytest.raises(ScoringError, match="not in the dataset"):
        assign_images(members, names[:4], "test")


def test_a_cv_fold_scored_alone_keeps_its_fold_number(folder_data, tmp_path):
    """``fold`` is the CV fold a checkpoint was trained as, so that folds scored one at a time
    (or three in one command) merge into one table with the right fold of every image."""
    root, samples = folder_data
    names = [s.name for s in samples]
    runs = []
    for k, part in ((3, names[:3]), (4, names[3:])):
        ckpt = _checkpoint(tmp_path / f"fold{k}", k, {"train": [], "val": [], "test": part})
        (ckpt.parent / "train_args.json").write_text(json.dumps({"cv_folds": 5, "fold": k}))
        runs.append(ckpt)
    common = ["--dataset", "folder", "--data-dir", str(root), "--split", "test", "--device", "cpu",
              "--n-boot", "50"]  # fmt: skip
    assert main([str(runs[1]), *common, "--out", str(tmp_path / "alone")]) == 0
    alone = pd.read_csv(tmp_path / "alone" / "per_image.csv")
    assert set(alone.image) == set(names[3:]) and (alone.fold == 4).all()
    assert main([*map(str, runs), *common, "--out", str(tmp_path / "both")]) == 0
    both = pd.read_csv(tmp_path / "both" / "per_image.csv").drop_duplicates("image")
    assert dict(zip(both.image, both.fold, strict=True)) == {n: 3 if n in names[:3] else 4
                                                             for n in names}  # fmt: skip
    plain = load_members([_checkpoint(tmp_path / "plain", 0)])[0]  # no CV: its place in the list
    assert member_fold(plain, 2) == 2


def test_missing_split_json_is_an_error_not_a_new_split(folder_data, tmp_path, capsys):
    root, _ = folder_data
    ckpt = _checkpoint(tmp_path / "nosplit", 0)
    rc = main(
        [str(ckpt), "--dataset", "folder", "--data-dir", str(root), "--out", str(tmp_path / "o")]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "no split.json" in err and "--split all" in err
    assert not (tmp_path / "o").exists()
    rc = main([str(ckpt), "--dataset", "folder", "--data-dir", str(root), "--split", "all",
               "--out", str(root / "scores")])  # fmt: skip
    assert rc == 2 and "inside the data folder" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing"), "--dataset", "folder", "--data-dir", str(root)]) == 2
    assert "no checkpoint here" in capsys.readouterr().err


def test_image_head_scores_the_paper_taxonomy_per_cell(tmp_path):
    ckpt = _checkpoint(tmp_path / "head", 0, image_classes=2)
    members = load_members([ckpt])
    rng = np.random.default_rng(0)
    samples, paper = [], {}
    for i, group in enumerate(["normal_columnar", "severe_dysplastic", "carcinoma_in_situ"]):
        mask = np.zeros((40, 50), np.uint8)
        mask[10:30, 10:40] = 1
        mask[15:25, 20:30] = 2
        image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
        samples.append(Sample(image, mask, f"{group}/{i}", group))
        paper[f"{group}/{i}"] = np.where(
            mask > 0, 1 if group.startswith("normal") else 2, 0
        ).astype(np.uint8)
    scores = score(members, samples, {s.name: [0] for s in samples}, paper_masks=paper)
    assert set(scores.tables) == {"herlev3", "paper_cells"}
    labels = scores.image_labels
    assert list(labels.columns[:3]) == ["image", "group", "fold"]
    assert np.allclose(labels.p_healthy + labels.p_unhealthy, 1, atol=1e-5)
    cells = scores.tables["paper_cells"]
    # every predicted cell pixel carries the head's verdict: one of the two cell classes is empty
    for name in labels.image:
        verdict = labels.set_index("image").loc[name, "predicted"]
        absent = "healthy" if verdict == "unhealthy" else "unhealthy"
        rows = cells[(cells.image == name) & (cells["class"] == absent) & (cells.metric == "tp")]
        assert rows.value.iloc[0] == 0
    s = summary(scores.tables["paper_cells"], n_boot=100)
    assert {"healthy", "unhealthy", "macro"} <= set(s["class"])


def _scale_true_checkpoint(run: Path) -> Path:
    torch.manual_seed(0)
    scheme = get_scheme(SCHEME)
    model = build_model("unet", num_classes=scheme.num_classes, pretrained="none")
    spacing = {"target_spacing_um": 0.5, "patch_size": 64, "pixel_size_um": 0.5,
               "reference": {"class": "foreground", "median_area_um2": 400.0}}  # fmt: skip
    save_checkpoint(run / "last", model, num_classes=scheme.num_classes, scheme=scheme,
                    extra={"spacing": spacing})  # fmt: skip
    return run / "last"


def test_pixel_size_drives_resampling_and_units(folder_data, tmp_path, capsys):
    root, _ = folder_data
    ckpt = _scale_true_checkpoint(tmp_path / "st")
    base = [str(ckpt), "--dataset", "folder", "--data-dir", str(root), "--split", "all",
            "--device", "cpu", "--n-boot", "50"]  # fmt: skip
    assert main(base + ["--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "not known: assuming 0.5 um/px" in err  # the folder has no pixel_size_um: said once
    rec = json.loads((tmp_path / "a" / "scoring.json").read_text())
    assert rec["options"]["pixel_size"]["source"] == "assumed"
    px = pd.read_csv(tmp_path / "a" / "per_image.csv")
    assert main(base + ["--out", str(tmp_path / "b"), "--pixel-size", "0.5",
                        "--distance-unit", "um"]) == 0  # fmt: skip
    um = pd.read_csv(tmp_path / "b" / "per_image.csv")
    hd = (px.metric == "hd95") & px.value.notna() & (px.value > 0)
    assert hd.any()
    np.testing.assert_allclose(um[hd].value.to_numpy(), 0.5 * px[hd].value.to_numpy(), rtol=1e-6)
    assert set(um[um.metric == "hd95"].unit) == {"um"}
    # the deprecated option means the same, and says so
    assert main(base + ["--out", str(tmp_path / "c"), "--spacing-um", "0.5"]) == 0
    assert "deprecated" in capsys.readouterr().err
    dep = pd.read_csv(tmp_path / "c" / "per_image.csv")
    np.testing.assert_allclose(dep[hd].value.to_numpy(), um[hd].value.to_numpy())
    assert main(base + ["--out", str(tmp_path / "d"), "--pixel-size", "0"]) == 2
    assert "--pixel-size" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
