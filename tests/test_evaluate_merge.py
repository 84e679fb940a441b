"""papseg_utils.evaluate.merge: CV folds scored one by one give one evaluate output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from papseg_utils.evaluate.merge import MergeError, main, merge_outputs

OPTIONS = {"dataset": "herlev", "split": "test", "tta": "flips", "seed": 0}


def _evaluation(folder, images, fold, rng, options=OPTIONS):
    """A folder as ``evaluate`` writes it, for ``images`` scored by fold ``fold``: random
    herlev3 masks and predictions, scored by the package's own per-image table."""
    from papseg_utils.evaluate.scores import _table
    from papseg_utils.labels import get_scheme
    from papseg_utils.metrics import score_images

    scheme = get_scheme("herlev3")
    masks = [np.repeat(np.repeat(rng.integers(0, 3, (4, 4)), 4, 0), 4, 1) for _ in images]
    preds = [
        np.where(rng.uniform(size=m.shape) < 0.2, rng.integers(0, 3, m.shape), m) for m in masks
    ]
    tidy = score_images(preds, masks, scheme, names=images)
    table = _table(tidy, scheme, dict.fromkeys(images, fold))
    folder.mkdir()
    table.to_csv(folder / "per_image.csv", index=False)
    p = rng.uniform(size=len(images))
    labels = pd.DataFrame({"image": images, "group": "severe_dysplastic", "fold": fold,
                           "p_healthy": 1 - p, "p_unhealthy": p,
                           "predicted": np.where(p > 0.5, "unhealthy", "healthy")})  # fmt: skip
    labels.to_csv(folder / "image_labels.csv", index=False)
    record = {"options": options, "n_images": len(images), "mode": "single model",
              "checkpoints": [{"path": f"fold{fold}/last", "sha256": str(fold), "epoch": 12}]}  # fmt: skip
    (folder / "scoring.json").write_text(json.dumps(record))
    return folder


@pytest.fixture()
def folds(tmp_path):
    rng = np.random.default_rng(0)
    return [_evaluation(tmp_path / f"eval{k}", [f"severe_dysplastic/im{k}_{i}" for i in range(8)], k, rng)
            for k in range(2)]  # fmt: skip


def test_merged_summary_is_over_every_image(folds, tmp_path):
    out = tmp_path / "merged"
    result = merge_outputs(folds, out, n_boot=100)
    whole = pd.concat([pd.read_csv(f / "per_image.csv") for f in folds])
    summary = pd.read_csv(out / "summary.csv").set_index(["class", "metric"])
    expected = whole[whole.metric.isin(["dice", "hd95"])].groupby(["class", "metric"]).value.mean()
    for key, mean in expected.items():
        assert summary.loc[key, "mean"] == pytest.approx(mean)
        assert summary.loc[key, "n"] + summary.loc[key, "n_nan"] == 16
    assert result["n_images"] == 16 and len(result["checkpoints"]) == 2
    assert result["mode"].startswith("cross-validation")
    assert len(pd.read_csv(out / "per_image.csv")) == len(whole)
    labels = pd.concat([pd.read_csv(f / "image_labels.csv") for f in folds])
    right = (labels.predicted == "unhealthy").mean()  # every image here is unhealthy
    assert result["image_head"]["accuracy"] == pytest.approx(right)
    assert json.loads((out / "scoring.json").read_text())["n_images"] == 16
    assert (out / "summary.png").stat().st_size > 0 and "nucleus" in (
        out / "summary.md"
    ).read_text()


def test_an_image_scored_twice_is_refused(folds, tmp_path):
    rng = np.random.default_rng(1)
    again = _evaluation(tmp_path / "again", ["severe_dysplastic/im0_3"], 1, rng)
    with pytest.raises(MergeError, match="im0_3 was scored in both"):
        merge_outputs([folds[0], again], tmp_path / "out")


def test_other_options_are_refused(folds, tmp_path):
    rng = np.random.default_rng(2)
    other = _evaluation(
        tmp_path / "notta", ["severe_dysplastic/x"], 2, rng, {**OPTIONS, "tta": "none"}
    )
    with pytest.raises(MergeError, match=r"other options .*\['tta'\]"):
        merge_outputs([folds[0], other], tmp_path / "out")


def test_an_option_an_older_evaluate_lacked_counts_as_off(folds, tmp_path):
    rng = np.random.default_rng(3)
    newer = _evaluation(tmp_path / "newer", ["severe_dysplastic/y"], 2, rng,
                        {**OPTIONS, "one_nucleus": False})  # fmt: skip
    assert merge_outputs([folds[0], newer], tmp_path / "out", n_boot=50)["n_images"] == 9
    on = _evaluation(
        tmp_path / "on", ["severe_dysplastic/z"], 3, rng, {**OPTIONS, "one_nucleus": True}
    )
    with pytest.raises(MergeError, match=r"\['one_nucleus'\]"):
        merge_outputs([folds[0], on], tmp_path / "out2")


def test_cli_names_the_bad_folder(folds, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(folds[0]), str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "empty: not an evaluate output" in capsys.readouterr().err
    assert main([str(folds[0]), str(folds[1]), "--out", str(folds[1])]) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_folder_scheme_merges_without_the_figure(folds, tmp_path):
    """A folder's own label scheme is not registered: the merge writes every table, no figure."""
    for f in folds:
        table = pd.read_csv(f / "per_image.csv")
        table.assign(scheme="my_lab").to_csv(f / "per_image.csv", index=False)
    result = merge_outputs(folds, tmp_path / "merged", n_boot=50)
    assert result["n_images"] == 16 and (tmp_path / "merged" / "summary.csv").is_file()
    assert not (tmp_path / "merged" / "summary.png").exists()
