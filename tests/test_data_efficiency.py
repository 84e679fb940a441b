"""Data efficiency at true scale: the study plan, benchmarks/data_efficiency.py and its tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from papseg_utils import results as R
from papseg_utils.book.study_plan import Study

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "data-efficiency.yaml"
COMMITTED = ROOT / "results" / "data-efficiency"
#: Epochs per share of the training images: fewer images, more epochs (as in herlev-cpu.yaml).
EPOCHS = {0.1: 40, 0.25: 24, 0.5: 16, 1.0: 12}


@pytest.fixture()
def bench():
    spec = importlib.util.spec_from_file_location("eff", ROOT / "benchmarks/data_efficiency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TRAIN = [f"{g}/t{i}" for g in ("a", "b") for i in range(10)]
TEST = [f"{g}/im{i}" for g in ("a", "b") for i in range(5)]


def _arm(path: Path, architecture: str, pretrained: str, fraction: float, nucleus: float,
         sha: str = "s", images=TEST) -> Path:  # fmt: skip
    """An evaluate output of fold 0 with its folds/fold0 records (10 training images a group)."""
    rows = [{"image": im, "class": cls, "metric": "dice", "value": nucleus + 0.01 * i,
             "unit": "fraction", "empty_case": "none", "scheme": "herlev3", "fold": 0}
            for i, im in enumerate(images) for cls in ("nucleus", "cytoplasm")]  # fmt: skip
    path.mkdir()
    pd.DataFrame(rows).to_csv(path / "per_image.csv.gz", index=False)
    split = {"sha256": sha, "seed": 0, "split": {"train": TRAIN, "val": [], "test": list(images)},
             "counts": {"train": {"total": 20, "a": 10, "b": 10}}}  # fmt: skip
    train = {"architecture": architecture, "encoder": "e", "pretrained": pretrained,
             "data_fraction": fraction, "num_epochs": EPOCHS[fraction], "seed": 0}  # fmt: skip
    (path / "folds" / "fold0").mkdir(parents=True)
    (path / "folds" / "fold0" / "split.json").write_text(json.dumps(split))
    (path / "folds" / "fold0" / "train_args.json").write_text(json.dumps(train))
    return path


def _study(tmp_path: Path, segformer_scratch_10: float = 0.60) -> list[str]:
    """Two architectures x two starts x (10, 100 %); the pretrained start ahead but where said."""
    specs = []
    for architecture, pre in (("unet", "imagenet"), ("segformer", "distilled")):
        for fraction in (0.1, 1.0):
            scratch = 0.80 if fraction == 1 else 0.60
            if architecture == "segformer" and fraction == 0.1:
                scratch = segformer_scratch_10
            for start, dice in ((pre, 0.85), ("none", scratch)):
                name = f"{architecture}-{start}-{fraction:g}"
                specs.append(f"{name}={_arm(tmp_path / name, architecture, start, fraction, dice)}")
    return specs


def test_pairs_each_start_with_scratch_at_each_fraction(bench, tmp_path):
    bench.main(["--folds", "0", "--n-boot", "200", "--out", str(tmp_path / "out"),
                *[a for s in _study(tmp_path) for a in ("--arm", s)]])  # fmt: skip
    study = R.load_efficiency_study(tmp_path / "out")
    arms = study.arms.set_index("arm")
    assert arms.loc["unet-none-0.1", "train_images"] == 2  # 10 % of 10 images in each group
    assert arms.loc["unet-none-1", "train_images"] == 20 and (arms.images == 10).all()
    paired = study.paired.set_index(["comparison", "class"])
    gain = paired.loc[("unet 10 %: ImageNet - scratch", "nucleus")]
    assert gain.n == 10 and gain.mean_diff == pytest.approx(0.25)
    assert paired.loc[("segformer 100 %: distilled - scratch", "cytoplasm"), "mean_diff"] == (
        pytest.approx(0.05)
    )
    board = R.efficiency_board(study)
    assert list(board.architecture) == ["unet", "unet", "segformer", "segformer"]
    assert list(board.data) == ["10 %", "100 %"] * 2
    assert board.loc[0, "nucleus gain"].startswith("+0.250 [")
    assert board.loc[0, "start"] == "ImageNet" and board.loc[2, "start"] == "distilled"
    claim = R.efficiency_claim(study).iloc[0]
    assert claim.verdict == "supported"  # every gain at 10 % lies above 0
    assert (
        "unet at 10 %: nucleus +0.250 [" in claim.measured
        and "segformer at 100 %" in claim.measured
    )
    fig = R.plot_efficiency(study)
    assert len(fig.axes) == 4
    assert all(len(ax.containers) == 2 for ax in fig.axes)  # both starts in every panel


def test_the_claim_is_not_supported_when_one_gain_at_the_smallest_share_is_not_above_0(
    bench, tmp_path
):
    bench.main(["--folds", "0", "--n-boot", "200", "--out", str(tmp_path / "out"),
                *[a for s in _study(tmp_path, segformer_scratch_10=0.85) for a in ("--arm", s)]])  # fmt: skip
    claim = R.efficiency_claim(R.load_efficiency_study(tmp_path / "out")).iloc[0]
    assert claim.verdict == "not supported"
    assert "segformer at 10 %: nucleus +0.000 [+0.000, +0.000]" in claim.measured


def test_stops_on_another_split_and_on_a_missing_start(bench, tmp_path):
    a = _arm(tmp_path / "a", "unet", "imagenet", 0.1, 0.8)
    b = _arm(tmp_path / "b", "unet", "none", 0.1, 0.7, sha="other")
    c = _arm(tmp_path / "c", "unet", "imagenet", 1.0, 0.9)
    common = ["--folds", "0", "--n-boot", "50", "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit, match="b: fold 0 was trained on another split"):
        bench.main([*common, "--arm", f"a={a}", "--arm", f"b={b}"])
    with pytest.raises(SystemExit, match="unet at 100 % of the training images: arms c"):
        bench.main([*common, "--arm", f"c={c}"])
    d = _arm(tmp_path / "d", "unet", "none", 0.1, 0.7, images=TEST[:4])
    with pytest.raises(SystemExit, match="scored on different images"):
        bench.main([*common, "--arm", f"a={a}", "--arm", f"d={d}"])
    assert not (tmp_path / "out").exists()


def test_the_plan_pairs_both_starts_at_every_fraction_on_one_split_and_budget():
    runs = Study.from_yaml(STUDY).expand()
    arms = {(r.params["architecture"], r.params["pretrained"], r.params["data_fraction"])
            for r in runs}  # fmt: skip
    assert arms == {(a, s, f) for a, pre in (("unet", "imagenet"), ("segformer", "distilled"))
                    for s in (pre, "none") for f in EPOCHS}  # fmt: skip
    assert all(r.params["num_epochs"] == EPOCHS[r.params["data_fraction"]] for r in runs)
    split = {tuple(r.params[k] for k in ("dataset", "split_seed", "cv_folds", "fold", "seed"))
             for r in runs}  # fmt: skip
    assert split == {("herlev", 0, 5, 0, 0)}


@pytest.mark.skipif(
    not (COMMITTED / "arms.csv").is_file(), reason="results/data-efficiency not committed yet"
)
def test_the_committed_arms_are_the_plan_on_one_fold_and_one_split():
    study = R.load_efficiency_study(COMMITTED)
    plan = {(r.params["architecture"], r.params["pretrained"], r.params["data_fraction"]):
            r.params for r in Study.from_yaml(STUDY).expand()}  # fmt: skip
    seen = set()
    for _, arm in study.arms.iterrows():
        train = json.loads((ROOT / arm.folder / "folds/fold0/train_args.json").read_text())
        key = (train["architecture"], train["pretrained"], float(train.get("data_fraction", 1)))
        assert key in plan, f"{arm.arm}: {key} is not an arm of {STUDY.name}"
        for k in ("encoder", "num_epochs", "target_spacing_um", "image_head", "seed"):
            assert train[k] == plan[key][k], (arm.arm, k)
        assert arm.folds == 0 and arm.images == 147 and arm.epochs == train["num_epochs"]
        seen.add(key)
    assert seen == set(plan)
    assert study.arms.split_sha256.nunique() == 1
    for _, group in study.arms.groupby(["architecture", "pretrained"]):
        sizes = group.sort_values("data_fraction").train_images.astype(int).tolist()
        assert sizes == sorted(sizes) and sizes[-1] == 584, sizes  # nested, up to all of fold 0
    assert len(study.paired.comparison.unique()) == len(EPOCHS) * 2
