"""The architecture study's leaderboard (papseg_utils.results.architectures) on a tiny folder."""

from __future__ import annotations

import pandas as pd
import pytest

from papseg_utils.results.architectures import (
    ARM_COLUMNS,
    architecture_board,
    arm_label,
    load_architecture_study,
)


def _arm(name, arch, enc, pre, seed, family, acc):
    return dict(zip(ARM_COLUMNS, [name, f"x/{name}", arch, enc, pre, seed, family, "0", 4, "ab", acc,
                                  1.0, 0.5], strict=True))  # fmt: skip


def _write(tmp_path, costs=True):
    pd.DataFrame([_arm("unet", "unet", "tf_efficientnet_lite0", "imagenet", 0, "cnn", 0.75),
                  _arm("seg", "segformer", "mit_b0", "distilled", 0, "transformer", 0.5),
                  _arm("unet-seed1", "unet", "tf_efficientnet_lite0", "imagenet", 1, "cnn", 1.0)]
                 ).to_csv(tmp_path / "arms.csv", index=False)  # fmt: skip
    rows = []
    for arm, nucleus in (("unet on seg's images", 0.9), ("seg", 0.8), ("unet on unet-seed1's images", 0.9),
                         ("unet-seed1", 0.95)):  # fmt: skip
        rows.append({"arm": arm, "taxonomy": "herlev3", "class": "nucleus", "metric": "dice", "n": 4,
                     "mean": nucleus, "low": nucleus - 0.1, "high": nucleus + 0.05})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "summary.csv", index=False)
    pd.DataFrame([{"comparison": "seg - U-Net", "taxonomy": "herlev3", "class": "nucleus",
                   "metric": "dice", "mean_diff": -0.1, "low": -0.2, "high": -0.01}]
                 ).to_csv(tmp_path / "paired.csv", index=False)  # fmt: skip
    if costs:
        pd.DataFrame([{"arm": a, "params_M": 5.0, "gmacs_256": 2.5, "infer_ms_256": 300.0,
                       "epoch_s": 60.0} for a in ("unet", "seg", "unet-seed1")]
                     ).to_csv(tmp_path / "costs.csv", index=False)  # fmt: skip


def test_board_groups_by_family_and_reads_every_table(tmp_path):
    _write(tmp_path)
    board = architecture_board(load_architecture_study(tmp_path))
    assert list(board.model) == ["unet (lite0, ImageNet), seed 1",
                                 "unet (lite0, ImageNet), seed 0 (the reference)",
                                 "segformer (mit_b0, distilled)"]  # fmt: skip
    seg = board.iloc[2]
    assert seg["nucleus Dice"] == "0.800 [0.700, 0.850]"
    assert seg["nucleus Dice vs U-Net"] == "-0.100 [-0.200, -0.010]"
    assert seg["image head"] == "50.0 %" and seg["GMACs"] == "2.50" and seg["ms / image"] == "300"
    assert board.iloc[1]["nucleus Dice vs U-Net"] == ""  # the reference has no paired row
    assert board.iloc[0]["cytoplasm Dice"] == ""  # not in summary.csv: blank, not an error


def test_costs_are_optional_and_missing_tables_are_named(tmp_path):
    _write(tmp_path, costs=False)
    assert "params (M)" not in architecture_board(load_architecture_study(tmp_path)).columns
    (tmp_path / "paired.csv").unlink()
    with pytest.raises(FileNotFoundError, match="paired.csv.*architecture_pairs"):
        load_architecture_study(tmp_path)


def test_arm_label_names_a_second_seed():
    row = {
        "architecture": "fpn",
        "encoder": "tf_efficientnet_lite0",
        "pretrained": "none",
        "seed": 2,
    }
    assert arm_label(row) == "fpn (lite0, scratch), seed 2"


def test_paper_claims_are_computed_from_the_tables(tmp_path):
    from papseg_utils.results.architectures import paper_claims

    _write(tmp_path)
    claims = paper_claims(load_architecture_study(tmp_path)).set_index("claim")["verdict"]
    assert claims.tolist() == ["not supported"] * 3
    # make the distilled SegFormer the best, with a paired interval above 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    summary.loc[summary.arm == "seg", ["mean", "low", "high"]] = [0.97, 0.96, 0.98]
    summary.to_csv(tmp_path / "summary.csv", index=False)
    paired = pd.read_csv(tmp_path / "paired.csv")
    paired[["mean_diff", "low", "high"]] = [0.07, 0.05, 0.09]
    paired.to_csv(tmp_path / "paired.csv", index=False)
    out = paper_claims(load_architecture_study(tmp_path))
    assert out.verdict.tolist() == ["supported", "supported", "not supported"]
    assert "segformer (mit_b0, distilled) (transformer), 0.970" in out.measured[0]


def test_missed_nuclei_counts_failures_by_diagnosis(tmp_path):
    from papseg_utils.results.architectures import missed_nuclei

    _write(tmp_path)
    (tmp_path / "seg").mkdir()
    values = {"superficial/a": 0.02, "superficial/b": 0.05, "dysplastic/c": 0.0,
              "dysplastic/d": 0.9, "dysplastic/e": 0.7}  # fmt: skip
    rows = [{"image": im, "class": "nucleus", "metric": "dice", "value": v, "unit": "fraction",
             "empty_case": "none", "scheme": "herlev3", "fold": 0} for im, v in values.items()]  # fmt: skip
    rows.append({**rows[0], "class": "cytoplasm", "value": 0.9})  # another class: not counted
    pd.DataFrame(rows).to_csv(tmp_path / "seg" / "per_image.csv", index=False)
    got = missed_nuclei(load_architecture_study(tmp_path), ["seg"]).iloc[0]
    assert got["images"] == 5 and got["missed"] == 3
    assert got["median"] == pytest.approx(0.05)
    assert got["mean without missed"] == pytest.approx(0.8)
    assert got["missed in"] == "superficial 2, dysplastic 1"
