"""benchmarks/architecture_pairs.py: arms paired with the U-Net on the images of the same folds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bench():
    spec = importlib.util.spec_from_file_location(
        "pairs", ROOT / "benchmarks/architecture_pairs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arm(path: Path, folds: dict[int, list[str]], nucleus: float, sha: str = "s") -> Path:
    """An evaluate output scored on ``folds`` (fold -> images) with its folds/ records."""
    rows = [{"image": im, "class": cls, "metric": "dice", "value": nucleus + 0.01 * i,
             "unit": "fraction", "empty_case": "none", "scheme": "herlev3", "fold": k}
            for k, images in folds.items() for i, im in enumerate(images)
            for cls in ("nucleus", "cytoplasm")]  # fmt: skip
    path.mkdir()
    pd.DataFrame(rows).to_csv(path / "per_image.csv.gz", index=False)
    train = {"architecture": "unet", "encoder": "tf_efficientnet_lite0", "pretrained": "imagenet",
             "seed": 0}  # fmt: skip
    for k in range(5):
        (path / "folds" / f"fold{k}").mkdir(parents=True)
        (path / "folds" / f"fold{k}" / "split.json").write_text(json.dumps({"sha256": f"{sha}{k}"}))
        (path / "folds" / f"fold{k}" / "train_args.json").write_text(json.dumps(train))
    return path


FOLDS = {k: [f"g/im{k}-{i}" for i in range(4)] for k in range(5)}


def test_folds_keeps_every_arm_to_the_same_images(bench, tmp_path):
    ref = _arm(tmp_path / "ref", FOLDS, 0.90)
    five = _arm(tmp_path / "five", FOLDS, 0.92)
    two = _arm(tmp_path / "two", {k: FOLDS[k] for k in (0, 1)}, 0.85)
    common = ["--reference", str(ref), "--arm", f"five={five}", "--arm", f"two={two}",
              "--n-boot", "200"]  # fmt: skip
    bench.main([*common, "--out", str(tmp_path / "all")])
    bench.main([*common, "--folds", "0", "1", "--out", str(tmp_path / "f01")])
    arms = {d: pd.read_csv(tmp_path / d / "arms.csv").set_index("arm") for d in ("all", "f01")}
    assert (
        arms["all"].loc["five", "images"] == 20 and arms["all"].loc["five", "folds"] == "0 1 2 3 4"
    )
    assert arms["f01"].loc["five", "images"] == 8 and arms["f01"].loc["five", "folds"] == "0 1"
    assert arms["f01"].loc["two", "images"] == 8
    paired = pd.read_csv(tmp_path / "f01" / "paired.csv").set_index(["comparison", "class"])
    assert paired.loc[("five - U-Net", "nucleus"), "n"] == 8
    assert paired.loc[("five - U-Net", "nucleus"), "mean_diff"] == pytest.approx(0.02)


def test_folds_with_no_image_and_a_foreign_split_stop(bench, tmp_path):
    ref = _arm(tmp_path / "ref", FOLDS, 0.90)
    two = _arm(tmp_path / "two", {k: FOLDS[k] for k in (0, 1)}, 0.85)
    with pytest.raises(SystemExit, match=r"two: no image of folds \[3\]"):
        bench.main(["--reference", str(ref), "--arm", f"two={two}", "--folds", "3",
                    "--out", str(tmp_path / "out")])  # fmt: skip
    other = _arm(tmp_path / "other", {0: FOLDS[0]}, 0.85, sha="t")
    with pytest.raises(SystemExit, match="other: fold 0 was trained on another split"):
        bench.main(
            ["--reference", str(ref), "--arm", f"other={other}", "--out", str(tmp_path / "o")]
        )
    assert not (tmp_path / "o").exists()
