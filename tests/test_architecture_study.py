"""The architecture study's plan: every registry architecture, one split per fold, one budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from papseg_utils.book.study_plan import Study
from papseg_utils.models import list_models

STUDIES = Path(__file__).resolve().parents[1] / "studies"
SPLIT_KEYS = ("dataset", "scheme", "split_seed", "cv_folds", "val_fraction")
BUDGET_KEYS = ("num_epochs", "batch_size", "lr", "lr_encoder", "loss", "augmentation")


@pytest.fixture(params=["architectures", "architectures-gpu"])
def study(request):
    return Study.from_yaml(STUDIES / f"{request.param}.yaml")


#: The top three of folds 0 and 1 by nucleus Dice (results/architectures/summary.csv), on all five.
TOP_THREE = {("unet", "imagenet", 0), ("unetplusplus", "imagenet", 0), ("transunet", "imagenet", 0)}


def test_every_registry_architecture_is_an_arm_on_folds_0_and_1_the_top_three_on_five(study):
    runs = study.expand()
    assert {r.params["architecture"] for r in runs} == set(list_models())
    arms: dict[tuple, set] = {}
    for r in runs:
        key = tuple(r.params.get(k) for k in ("architecture", "pretrained", "seed"))
        arms.setdefault(key, set()).add(r.params["fold"])
    assert {a for a, folds in arms.items() if folds == set(range(5))} == TOP_THREE, arms
    assert all(folds == {0, 1} for a, folds in arms.items() if a not in TOP_THREE), arms
    assert ("unet", "imagenet", 1) in arms  # the second seed: the seed-to-seed yardstick
    assert {("segformer", "distilled", 0), ("segformer", "none", 0)} <= set(arms)
    # the three Transformer starts (scratch, distilled on photographs, on cytology) and PVTv2's two
    assert ("segformer", "build/distill/mit-b0-cytology/encoder.safetensors", 0) in arms
    assert {("pvt_fpn", "distilled", 0), ("pvt_fpn", "none", 0)} <= set(arms)


def test_all_arms_share_one_split_and_one_budget(study):
    runs = study.expand()
    training = study.per_notebook["06_fine_tuning"]
    for keys, where in ((SPLIT_KEYS, "split"), (BUDGET_KEYS, "budget")):
        values = {tuple(r.params.get(k, training.get(k)) for k in keys) for r in runs}
        assert len(values) == 1, f"the arms differ in their {where}: {values}"


def test_only_the_fixed_input_architecture_leaves_the_scale_true_geometry(study):
    from papseg_utils.models.architectures import ARCHITECTURES

    for r in study.expand():
        fixed = ARCHITECTURES[r.params["architecture"]].fixed_input_size is not None
        assert (r.params["target_spacing_um"] == 0.0) == fixed, r.run_id
        assert (r.params["image_head"] == "none") == fixed, r.run_id


def test_the_gpu_variant_differs_only_in_its_size():
    cpu, gpu = (
        Study.from_yaml(STUDIES / f"{n}.yaml") for n in ("architectures", "architectures-gpu")
    )
    assert cpu.grids == gpu.grids
    assert {k: v for k, v in cpu.base.items() if k != "image_size"} == {
        k: v for k, v in gpu.base.items() if k != "image_size"
    }
    a, b = cpu.per_notebook["06_fine_tuning"], gpu.per_notebook["06_fine_tuning"]
    changed = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert changed == {"num_epochs", "batch_size", "precision"}
    assert cpu.per_notebook["07_evaluation"] == gpu.per_notebook["07_evaluation"]
