"""The study runner: grid expansion, validation, aggregation, and an end-to-end smoke study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from papseg_utils.book import study as st

REPO = Path(__file__).resolve().parent.parent


def write_study(path: Path, **overrides) -> Path:
    data = {
        "name": "t",
        "profile": "smoke",
        "notebooks": ["06_fine_tuning", "07_evaluation"],
        "base": {"dataset": "synthetic"},
        "grids": [{"architecture": ["unet"], "pretrained": ["imagenet", "none"], "seed": [0, 1]}],
    }
    data.update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path


def test_expand_is_the_deduplicated_union_of_grids(tmp_path):
    grids = [
        {"architecture": ["unet"], "pretrained": ["imagenet", "none"], "seed": [0, 1]},
        {"architecture": ["unet", "segformer"], "pretrained": ["none"], "seed": [0]},
    ]
    study = st.Study.from_yaml(write_study(tmp_path / "s.yaml", grids=grids))
    runs = study.expand()
    # 4 from the first grid, 2 from the second, one of which (unet/none/0) repeats
    assert len(runs) == 5
    ids = [r.run_id for r in runs]
    assert len(set(ids)) == len(ids)
    seg = [r for r in runs if r.params["architecture"] == "segformer"]
    assert seg and seg[0].params["dataset"] == "synthetic"  # base is merged in
    assert seg[0].run_id.startswith("segformer_none_s0_")


def test_run_ids_are_stable(tmp_path):
    path = write_study(tmp_path / "s.yaml")
    a = [r.run_id for r in st.Study.from_yaml(path).expand()]
    b = [r.run_id for r in st.Study.from_yaml(path).expand()]
    assert a == b


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grids": []}, "at least one grid"),
        ({"notebooks": ["99_nope"]}, "99_nope"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_bad_study_files_say_what_is_wrong(tmp_path, change, message):
    path = write_study(tmp_path / "s.yaml", **change)
    with pytest.raises(st.StudyError, match=message):
        st.Study.from_yaml(path)


def test_missing_study_file_lists_the_shipped_ones(tmp_path):
    with pytest.raises(st.StudyError, match="smoke"):
        st.Study.from_yaml(tmp_path / "nope.yaml")


def test_shipped_studies_parse_and_target_declared_parameters():
    for path in sorted((REPO / "studies").glob("*.yaml")):
        study = st.Study.from_yaml(path)
        declared = set().union(*(st.declared_parameters(nb) for nb in study.notebooks))
        for spec in study.expand():
            unknown = set(spec.params) - declared
            assert not unknown, (
                f"{path.name}: {unknown} are parameters of none of {study.notebooks}"
            )
        for nb, params in study.per_notebook.items():
            assert set(params) <= st.declared_parameters(nb), f"{path.name}: {nb} {params}"


def _fake_run(root: Path, run_id: str, status: str, dice: list[float], params: dict) -> None:
    run = root / "runs" / run_id
    (run / "eval").mkdir(parents=True)
    rec = {"run_id": run_id, **{f"param.{k}": v for k, v in params.items()}}
    rec.update(status=status, error="" if status == "done" else "boom", wall_s=1.0)
    (run / "status.json").write_text(json.dumps(rec))
    rows = []
    for i, d in enumerate(dice):
        rows.append(
            (f"img{i}", "nucleus", "dice", d, "fraction", "both_empty" if np.isnan(d) else "none")
        )
        for m, v in (("tp", 8), ("fp", 2), ("fn", 0)):
            rows.append((f"img{i}", "nucleus", m, v, "px", "both_empty" if np.isnan(d) else "none"))
    cols = ["image", "class", "metric", "value", "unit", "empty_case"]
    pd.DataFrame(rows, columns=cols).to_csv(run / "eval" / "metrics.csv", index=False)


def test_aggregate_gives_one_row_per_run_class_metric(tmp_path):
    _fake_run(tmp_path, "a", "done", [0.8, 0.9, 1.0, float("nan")], {"architecture": "unet"})
    _fake_run(tmp_path, "b", "failed", [0.1], {"architecture": "segformer"})
    runs = st.aggregate(tmp_path, n_boot=500)
    assert set(runs["status"]) == {"done", "failed"}
    res = pd.read_csv(tmp_path / "results.csv")
    assert set(res["run_id"]) == {"a"}  # failed runs have no results
    mean = res[(res.metric == "dice") & (res.aggregation == "image-mean")].iloc[0]
    assert mean["value"] == pytest.approx(0.9)
    assert mean["ci_low"] <= 0.9 <= mean["ci_high"]
    assert mean["n_images"] == 3 and mean["n_both_empty"] == 1
    assert mean["architecture"] == "unet"
    micro = res[(res.metric == "dice") & (res.aggregation == "micro")].iloc[0]
    assert micro["value"] == pytest.approx(2 * 32 / (2 * 32 + 8))  # tp 32, fp 8, fn 0
    assert not (res.metric.isin(["tp", "fp", "fn"])).any()
    assert (tmp_path / "per_image.csv.gz").is_file()


@pytest.mark.slow
def test_smoke_study_end_to_end_is_resumable_and_records_failures(tmp_path):
    path = write_study(
        tmp_path / "s.yaml",
        grids=[
            {"architecture": ["unet"], "pretrained": ["imagenet", "none"]},
            {"architecture": ["no_such_model"], "pretrained": ["none"]},
        ],
        base={"dataset": "synthetic", "encoder": "tf_efficientnet_lite0"},
        per_notebook={
            "06_fine_tuning": {"output_dir": "{run}/train"},
            "07_evaluation": {"checkpoint": "{run}/train/best", "output_dir": "{run}/eval"},
        },
    )
    out = tmp_path / "out"
    code = st.main([str(path), "--out", str(out), "-j", "2"])
    assert code == 1  # one run fails
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["status"]) == ["done", "done", "failed"]
    failed = runs[runs.status == "failed"].iloc[0]
    assert "no_such_model" in failed["error"]
    res = pd.read_csv(out / "results.csv")
    assert res["run_id"].nunique() == 2
    assert set(res["pretrained"]) == {"imagenet", "none"}
    assert {"dice", "iou", "hd95"} <= set(res["metric"])
    # each done run keeps its executed notebooks and their provenance
    for run_id in runs[runs.status == "done"]["run_id"]:
        assert (out / "runs" / run_id / "06_fine_tuning.ipynb").is_file()
        assert (out / "runs" / run_id / "07_evaluation.provenance.json").is_file()
    # resuming runs nothing that finished; the failed run is skipped without --retry-failed
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/status.json")}
    assert st.main([str(path), "--out", str(out)]) == 1
    assert stamps == {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/status.json")}
