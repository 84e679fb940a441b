"""Chapters 6 and 7 agree: 07 scores what 06 wrote, on the images 06 drew, under every profile."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from papseg_utils.book.profiles import load_profile_file
from papseg_utils.evaluate import ScoringError, load_members, load_run_samples, run_data

REPO = Path(__file__).resolve().parents[1]
DATA_KEYS = ("dataset", "num_images", "image_size")


def _defaults(stem: str) -> dict:
    nb = json.loads((REPO / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {n.target.id: ast.literal_eval(n.value) for n in tree.body}


def _profiles(stem: str) -> dict:
    """Every profile of ``stem`` as the runner reads it (``extends:`` resolved)."""
    data = load_profile_file(REPO / "notebooks" / "profiles" / f"{stem}.yaml")
    return {k: v for k, v in data.items() if k != "depends_on"}


def test_notebook_defaults_point_07_at_what_06_writes():
    fine, evaluation = _defaults("06_fine_tuning"), _defaults("07_evaluation")
    assert evaluation["checkpoint"] == f"{fine['output_dir']}/best"
    assert all(evaluation[k] in ("", 0) for k in DATA_KEYS)  # taken from the checkpoint


def test_every_06_profile_has_a_07_profile_reading_its_checkpoint():
    fine, evaluation = _profiles("06_fine_tuning"), _profiles("07_evaluation")
    assert set(fine) == set(evaluation)
    for name, params in fine.items():
        assert evaluation[name]["checkpoint"] == f"{params['output_dir']}/best", name
        assert not set(DATA_KEYS) & set(evaluation[name]), name  # no second copy to drift
        no_test = params.get("test_fraction", 0.15) == 0 and not params.get("cv_folds")
        assert evaluation[name]["split"] == ("all" if no_test else "test"), name


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A fine-tuning run as chapter 6 makes it: prepare_training, then fit (2 steps)."""
    from papseg_utils.train import TrainConfig, fit
    from papseg_utils.train.recipe import prepare_training

    out = tmp_path_factory.mktemp("run")
    model, train_ds, val_ds, scheme, _ = prepare_training(
        pretrained="none", image_size=64, num_train_images=10, seed=3, output_dir=out
    )
    config = TrainConfig(num_epochs=1, batch_size=2, max_steps_per_epoch=2, freeze_epochs=0,
                         warmup_epochs=0.0, device="cpu", image_size=64, progress=False)  # fmt: skip
    fit(model, train_ds, val_ds, config, out, scheme=scheme)
    return out


def test_07_regenerates_the_images_06_trained_on(tiny_run):
    from papseg_utils.data.synthetic import SyntheticConfig, generate_samples

    member = load_members([tiny_run / "best"])[0]
    recorded = member.config["data"]
    assert {k: recorded[k] for k in ("dataset", "scheme", "image_size", "num_images", "seed")} == {
        "dataset": "synthetic",
        "scheme": "paper",
        "image_size": 64,
        "num_images": 10,
        "seed": 3,
    }
    assert recorded["val_fraction"] == 0.2 and recorded["train_images"] == len(
        member.split["train"]
    )
    samples, data = load_run_samples(member)  # the chapter's empty parameters
    assert data == {k: recorded[k] for k in data}
    drawn = generate_samples(10, seed=3, config=SyntheticConfig(image_size=64))
    assert [s.name for s in samples] == [s.name for s in drawn]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(samples, drawn, strict=True))
    assert set(member.split["test"]) <= {s.name for s in samples}
    assert run_data(member, num_images=4, image_size=32)["num_images"] == 4  # explicit wins
    assert run_data(member, seed=0)["seed"] == 0


def test_a_checkpoint_without_a_data_record_is_refused_for_synthetic_data(tiny_checkpoint):
    member = load_members([tiny_checkpoint])[0]
    with pytest.raises(ScoringError, match="num_images"):
        run_data(member, dataset="synthetic")
    assert run_data(member, dataset="synthetic", num_images=5)["image_size"] == 64
    assert run_data(member, dataset="herlev")["scheme"] == "herlev3"
