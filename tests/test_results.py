"""Comparisons over study tables: known answers on small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils import results as R
from papseg_utils.book import study as st


def _write_study(root, runs: dict[str, tuple[dict, dict[str, list[float]]]]):
    """runs: run_id -> (params, {class: per-image dice values}) for images img0..imgN."""
    for run_id, (params, per_class) in runs.items():
        run = root / "runs" / run_id
        (run / "eval").mkdir(parents=True)
        rec = {"run_id": run_id, **{f"param.{k}": v for k, v in params.items()}}
        rec.update(status="done", error="", wall_s=1.0)
        pd.Series(rec).to_json(run / "status.json")
        rows = []
        for cls, values in per_class.items():
            for i, v in enumerate(values):
                rows.append((f"img{i}", cls, "dice", v, "fraction", "none"))
                rows.append((f"img{i}", cls, "iou", v / (2 - v), "fraction", "none"))
                rows.append((f"img{i}", cls, "hd95", 10 * (1 - v), "um", "none"))
                for m, c in (("tp", 10 * v), ("fp", 10 * (1 - v)), ("fn", 0)):
                    rows.append((f"img{i}", cls, m, c, "count", "none"))
        cols = ["image", "class", "metric", "value", "unit", "empty_case"]
        pd.DataFrame(rows, columns=cols).to_csv(run / "eval" / "metrics.csv", index=False)
    st.aggregate(root, n_boot=200)
    return R.load_study(root)


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    base = {"scheme": "herlev3", "augmentation": "medical", "encoder": "tf_efficientnet_lite0"}
    runs = {}
    for pretrained, shift in (("imagenet", 0.08), ("none", 0.0)):
        for seed in (0, 1):
            params = {**base, "architecture": "unet", "pretrained": pretrained}
            params.update(seed=seed, data_fraction=1.0)
            nuc = np.clip(0.85 + shift + rng.normal(0, 0.01, 30), 0, 1)
            cyt = np.clip(0.75 + shift + rng.normal(0, 0.01, 30), 0, 1)
            runs[f"unet_{pretrained}_s{seed}"] = (params, {"nucleus": nuc, "cytoplasm": cyt})
    params = {**base, "architecture": "segformer", "pretrained": "none", "encoder": "mit_b0"}
    params.update(seed=0, data_fraction=1.0)
    runs["segformer"] = (params, {"nucleus": np.full(30, 0.7), "cytoplasm": np.full(30, 0.6)})
    return _write_study(tmp_path, runs)


def test_load_study_names_missing_tables(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.csv"):
        R.load_study(tmp_path)


def test_leaderboard_sorted_by_foreground_dice_with_intervals(tables):
    board = R.leaderboard(tables.results, spacing_um=0.2)
    assert board["run"].iloc[0].startswith("unet (lite0, ImageNet)")
    assert board["run"].iloc[-1].startswith("segformer (mit_b0, scratch)")
    assert "[" in board["nucleus dice"].iloc[0]  # value [low, high]
    assert "nucleus hd95 (px)" in board  # um converted to px
    assert set(board["family"]) == {"cnn", "transformer"}


def test_best_run_and_targets(tables):
    best = R.best_run(tables.results)
    assert best["pretrained"] == "imagenet"
    check = R.target_check(tables.results, run_id=best["run_id"])
    nucleus = check[check.target == "nucleus Dice"].iloc[0]
    assert nucleus["value"] == pytest.approx(0.93, abs=0.01)
    assert not nucleus["met"]  # 0.93 < 0.955
    micro = R.target_check(tables.results, aggregation="micro", run_id=best["run_id"])
    assert set(micro["aggregation"]) == {"micro"} and set(micro["statistic"]) == {"pooled"}
    assert "nucleus HD95 (px)" not in set(check.target)  # a median needs the per-image table
    with_hd = R.target_check(tables.results, per_image=tables.per_image, spacing_um=0.2,
                             run_id=best["run_id"]).set_index("target")  # fmt: skip
    hd = with_hd.loc["nucleus HD95 (px)"]
    values = tables.per_image
    values = values[(values.run_id == best["run_id"]) & (values["class"] == "nucleus")
                    & (values.metric == "hd95")]["value"]  # fmt: skip
    assert hd["statistic"] == "median" and hd["value"] == pytest.approx(values.median() / 0.2)
    with pytest.raises(ValueError, match="spacing_um"):
        R.target_check(tables.results, per_image=tables.per_image, run_id=best["run_id"])


def test_one_set_of_targets_for_both_checks(tables):
    """target_check (study tables) and cv_targets (evaluate summaries) use CV_TARGETS."""
    from papseg_utils.results.targets import CV_TARGETS, targets_text

    goals = {(c, m): g for _, c, m, _, g in CV_TARGETS}
    best = R.best_run(tables.results)
    check = R.target_check(tables.results, run_id=best["run_id"]).set_index("target")
    assert check.loc["nucleus Dice", "goal"] == goals[("nucleus", "dice")] == 0.955
    assert check.loc["cytoplasm Dice", "goal"] == goals[("cytoplasm", "dice")] == 0.88
    assert check.loc["foreground mean IoU", "goal"] == goals[("macro", "iou")]
    assert R.CV_TARGETS is CV_TARGETS
    text = targets_text()
    assert "nucleus Dice (mean) >= 0.955" in text and "cytoplasm Dice (mean) >= 0.88" in text
    assert "nucleus HD95 (median) <= 2 px" in text and "healthy Dice (mean) >= 0.9" in text


def test_paired_comparison_reports_b_minus_a(tables):
    tests = R.paired_comparisons(
        tables,
        [
            (
                "imagenet vs scratch",
                {"pretrained": "none", "architecture": "unet"},
                {"pretrained": "imagenet"},
            )
        ],
        metrics=("dice", "hd95"),
    )
    dice = tests[(tests.metric == "dice") & (tests["class"] == "nucleus")].iloc[0]
    assert dice["mean_diff"] == pytest.approx(0.08, abs=0.01)  # B - A, B better
    assert dice["mean_diff"] == pytest.approx(dice["mean_b"] - dice["mean_a"], abs=1e-12)
    assert dice["low"] < dice["mean_diff"] < dice["high"] and dice["median_diff"] > 0.06
    assert dice["p_holm"] < 0.001 and dice["runs_a"] == 2 and dice["n"] == 30
    hd = tests[(tests.metric == "hd95") & (tests["class"] == "nucleus")].iloc[0]
    assert hd["mean_diff"] < 0 and hd["median_diff"] < 0  # smaller distances for B
    shown = R.format_tests(tests)
    assert "runs_a" not in shown and isinstance(shown["p_value"].iloc[0], str)


def test_paired_comparison_without_matching_runs_says_which(tables):
    with pytest.raises(ValueError, match="no run matches"):
        R.paired_comparisons(tables, [("x", {"pretrained": "ade20k"}, {"pretrained": "none"})])


def test_seed_summary_averages_seeds(tables):
    s = R.seed_summary(tables.results, ["pretrained"], "dice", "nucleus")
    row = s[s.pretrained == "imagenet"].iloc[0]
    assert row["n_seeds"] == 2 and row["seed_min"] <= row["value"] <= row["seed_max"]


def test_plots_draw(tables):
    import matplotlib

    matplotlib.use("Agg")
    fig = R.plot_leaderboard(tables.results)
    assert fig.axes[0].get_title().startswith("herlev3")
    fig = R.plot_region_vs_boundary(tables.results)
    assert "HD95" in fig.axes[0].get_ylabel() and "µm" in fig.axes[0].get_ylabel()


def test_compact_board_keeps_what_varies_and_rounds(tables):
    board = R.compact_board(tables.results, metrics=("dice", "hd95"))
    assert board.index[0].startswith("unet (lite0, ImageNet), seed")  # sorted by foreground Dice
    assert board.index[-1] == "segformer (mit_b0, scratch), seed 0"
    assert "aug" not in board.index[0]  # one policy for all: not repeated
    assert list(board.columns.get_level_values(0).unique()) == ["dice", "hd95"]
    assert (board.round(3) == board).all().all()


def test_run_table_shows_only_what_varies(tables):
    table = R.run_table(tables.runs)
    assert list(table.columns) == ["run", "seed", "minutes"]  # scheme, policy, data are constant
    failed = tables.runs.assign(status=["done"] * 4 + ["failed"], error=[""] * 4 + ["OOM"])
    assert {"status", "error"} <= set(R.run_table(failed).columns)


def test_forest_plot_shows_intervals_and_p_values(tables):
    import matplotlib

    matplotlib.use("Agg")
    tests = R.paired_comparisons(
        tables,
        [("scratch", {"pretrained": "imagenet", "architecture": "unet"}, {"pretrained": "none"})],
        metrics=("dice", "hd95"),
    )
    fig = R.plot_forest(tests)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 4  # 2 classes x 2 metrics
    texts = [t.get_text() for ax in shown for t in ax.texts]
    assert all(t.startswith("p ") for t in texts) and len(texts) == 4
    titles = [ax.get_title() for ax in shown]
    assert any(t.endswith("HD95 (µm)") for t in titles)
    labels = [ax.get_xlabel() for ax in shown]
    assert "mean B - A; B better < 0" in labels and "mean B - A; B better > 0" in labels


def test_forest_markers_follow_the_interval_not_the_p_value():
    """Filled: the plotted interval excludes 0, whatever the (separate) p-value says."""
    import matplotlib

    matplotlib.use("Agg")
    rows = [  # (interval, p): across 0 but p < 0.05; excludes 0 but p > 0.05; touches 0; clear
        ("across", -0.003, -0.015, 0.004, 0.013),
        ("excludes", 0.027, 0.0002, 0.077, 0.46),
        ("touches", 0.1, 0.0, 0.2, 0.01),
        ("clear", -0.09, -0.12, -0.06, 1e-9),
    ]
    tests = pd.DataFrame(
        [{"comparison": n, "class": "nucleus", "metric": "dice", "mean_diff": d, "low": lo,
          "high": hi, "p_holm": p} for n, d, lo, hi, p in rows]
    )  # fmt: skip
    fig = R.plot_forest(tests, diff="mean_diff", low="low", high="high", panels=("class",))
    markers = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    filled = [line.get_markerfacecolor() != "white" for line in markers]
    assert filled == [False, True, False, True]
    legend = fig.legends[0]
    assert "Wilcoxon" in legend.get_title().get_text()
    assert [t.get_text() for t in legend.get_texts()] == [
        "95 % interval excludes 0", "interval across 0"]  # fmt: skip


def test_metric_correlation_per_class(tables):
    r = R.metric_correlation(tables.results, "dice", "hd95").set_index("class")
    assert r.loc["nucleus", "runs"] == 5
    assert r.loc["nucleus", "r"] < -0.9  # hd95 = 10 (1 - dice) per image


def test_family_comes_from_the_model_registry(tables):
    assert dict(zip(tables.results.architecture, tables.results.family, strict=True)) == {
        "unet": "cnn", "segformer": "transformer"}  # fmt: skip
    unknown = tables.results.assign(architecture="resnet")
    with pytest.raises(ValueError, match="valid models"):
        R.leaderboard(unknown)
    pair = ("same", {"pretrained": "none"}, {"pretrained": "imagenet"})
    with pytest.raises(ValueError, match="unique"):
        R.paired_comparisons(tables, [pair, pair])
