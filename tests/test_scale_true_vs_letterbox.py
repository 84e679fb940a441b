"""benchmarks/scale_true_vs_letterbox.py: paired tables on the images both folders scored."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bench(monkeypatch):
    import papseg_utils.data.herlev as herlev

    sizes = [{"name": f"severe_dysplastic/im{i}", "group": "severe_dysplastic",
              "width": 100, "height": 90} for i in range(6)]  # fmt: skip
    monkeypatch.setattr(herlev, "list_image_sizes", lambda root=None: sizes)
    spec = importlib.util.spec_from_file_location(
        "bench", ROOT / "benchmarks/scale_true_vs_letterbox.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _folder(path: Path, images: list[str], nucleus: float, predicted: str) -> Path:
    path.mkdir()
    rows = [{"image": im, "class": cls, "metric": m, "value": nucleus if cls == "nucleus" else 0.8,
             "unit": "fraction", "empty_case": "none", "scheme": "herlev3", "fold": 0}
            for im in images for cls in ("nucleus", "cytoplasm") for m in ("dice", "hd95")]  # fmt: skip
    pd.DataFrame(rows).to_csv(path / "per_image.csv.gz", index=False)
    labels = pd.DataFrame({"image": images, "group": "severe_dysplastic", "fold": 0,
                           "p_healthy": 0.1, "p_unhealthy": 0.9, "predicted": predicted})  # fmt: skip
    labels.to_csv(path / "image_labels.csv", index=False)
    return path


def test_fewer_folds_and_names(bench, tmp_path, capsys):
    every = [f"severe_dysplastic/im{i}" for i in range(6)]
    a = _folder(tmp_path / "a", every, 0.90, "healthy")  # every head answer wrong
    b = _folder(tmp_path / "b", every[:4], 0.95, "unhealthy")  # fewer folds: 4 images
    # the first two images of A are right, so on B's four images A's accuracy is 2 / 4
    labels = pd.read_csv(a / "image_labels.csv")
    labels.loc[:1, "predicted"] = "unhealthy"
    labels.to_csv(a / "image_labels.csv", index=False)
    out = tmp_path / "out"
    assert bench.main(["--letterbox", str(a), "--scale-true", str(b), "--out", str(out),
                       "--names", "native,fine", "--n-boot", "50"]) == 0  # fmt: skip
    overall = pd.read_csv(out / "overall.csv")
    row = overall[(overall["class"] == "nucleus") & (overall.metric == "dice")].iloc[0]
    assert row.images == 4 and {"native", "fine"} <= set(overall.columns)
    assert row["diff"] == pytest.approx(0.05)
    head = pd.read_csv(out / "image_head.csv").set_index("recipe")
    assert head.loc["native", "images"] == 4 and head.loc["fine", "images"] == 4
    assert head.loc["native", "accuracy"] == pytest.approx(0.5)
    assert head.loc["fine", "accuracy"] == pytest.approx(1.0)
    by_bin = pd.read_csv(out / "image_head_by_scale.csv")  # 100 px images: factor 2.24, "> 2"
    assert list(by_bin.group) == ["> 2", "> 2"] and list(by_bin.recipe) == ["native", "fine"]
    assert list(by_bin.accuracy) == pytest.approx([0.5, 1.0]) and list(by_bin.images) == [4, 4]


def test_evaluate_output_read_as_written_and_a_folder_without_scores_named(bench, tmp_path):
    """An ``evaluate`` output keeps ``per_image.csv`` uncompressed; both forms are read."""
    every = [f"severe_dysplastic/im{i}" for i in range(6)]
    a = _folder(tmp_path / "a", every, 0.90, "unhealthy")
    b = _folder(tmp_path / "b", every, 0.93, "unhealthy")
    pd.read_csv(b / "per_image.csv.gz").to_csv(b / "per_image.csv", index=False)
    (b / "per_image.csv.gz").unlink()
    out = tmp_path / "out"
    assert bench.main(["--letterbox", str(a), "--scale-true", str(b), "--out", str(out),
                       "--n-boot", "50"]) == 0  # fmt: skip
    row = pd.read_csv(out / "overall.csv").query("`class` == 'nucleus' and metric == 'dice'")
    assert row["diff"].iloc[0] == pytest.approx(0.03)
    (b / "per_image.csv").unlink()
    with pytest.raises(FileNotFoundError, match=f"{b}: no per_image.csv"):
        bench.main(["--letterbox", str(a), "--scale-true", str(b), "--out", str(out)])


@pytest.mark.parametrize("names", ["a", "a,a", "a,"])
def test_bad_names(bench, tmp_path, names):
    with pytest.raises(SystemExit):
        bench.main(
            ["--letterbox", "x", "--scale-true", "y", "--out", str(tmp_path), "--names", names]
        )


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"benchmarks/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipes_compare_every_arm_on_the_images_all_scored(tmp_path):
    """benchmarks/scale_recipes.py: one table of arms, each minus the letterbox recipe."""
    every = [f"severe_dysplastic/im{i}" for i in range(6)]
    lb = _folder(tmp_path / "lb", every, 0.90, "unhealthy")
    a = _folder(tmp_path / "a", every[:5], 0.92, "unhealthy")
    b = _folder(tmp_path / "b", every[1:], 0.95, "healthy")  # shares im1..im4 with a
    out = tmp_path / "out"
    argv = ["--letterbox", str(lb), "--arm", f"A={a}", "--arm", f"B={b}", "--out", str(out),
            "--n-boot", "50"]  # fmt: skip
    assert _load("scale_recipes").main(argv) == 0
    arms = pd.read_csv(out / "arms.csv")
    nucleus = arms[(arms["class"] == "nucleus") & (arms.metric == "dice")].set_index("group")
    assert (nucleus.images == 4).all()
    assert nucleus.loc["A", "diff"] == pytest.approx(0.02) and nucleus.loc[
        "B", "diff"
    ] == pytest.approx(0.05)
    heads = pd.read_csv(out / "heads.csv").set_index("recipe")
    assert list(heads.index) == ["letterbox", "A", "B"] and (heads.images == 4).all()
    assert heads.loc["B", "accuracy"] == 0.0 and heads.loc["A", "accuracy"] == 1.0
    assert (pd.read_csv(out / "medians.csv").images == 4).all()


@pytest.mark.parametrize("arm", ["A", "=x", "letterbox=x"])
def test_recipes_refuse_bad_arms(tmp_path, arm):
    with pytest.raises(SystemExit):
        _load("scale_recipes").main(
            ["--letterbox", str(tmp_path), "--arm", arm, "--out", str(tmp_path)]
        )
