"""Profile inheritance (``extends:``) in ``notebooks/profiles/*.yaml`` and its readers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from papseg_utils.book.profiles import (
    RunnerError,
    load_profile_file,
    plan,
    profile_parameters,
)

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PROFILE_FILES = sorted((NOTEBOOKS / "profiles").glob("*.yaml"))

#: What a GPU recipe may change of its CPU parent: the sizes of the run, nothing of the recipe.
GPU_SIZED = {"image_size", "num_epochs", "batch_size", "precision", "max_steps_per_epoch"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_takes_the_parent_and_overrides_only_the_keys_given(tmp_path):
    path = _write(
        tmp_path / "01_x.yaml",
        "smoke: {a: 1}\ndefault: {}\nfull: {}\n"
        "base-run: {a: 1, b: 2, c: [1, 2]}\n"
        "bigger: {extends: base-run, b: 3}\n"
        "biggest: {extends: bigger, d: 4}\n",
    )
    data = load_profile_file(path)
    assert data["bigger"] == {"a": 1, "b": 3, "c": [1, 2]}
    assert list(data["bigger"]) == ["a", "b", "c"]  # the parent's order: same injected cell
    assert data["biggest"] == {"a": 1, "b": 3, "c": [1, 2], "d": 4}  # chained
    assert list(data["biggest"]) == ["a", "b", "c", "d"]
    assert data["base-run"] == {"a": 1, "b": 2, "c": [1, 2]}  # the parent is not changed
    data["bigger"]["c"].append(3)
    assert data["base-run"]["c"] == [1, 2]  # nor shared
    assert list(data) == [
        "smoke",
        "default",
        "full",
        "base-run",
        "bigger",
        "biggest",
        "colab",
        "depends_on",
    ]


def test_a_standard_profile_may_extend_another(tmp_path):
    path = _write(
        tmp_path / "01_x.yaml", "smoke: {}\ndefault: {a: 1}\nfull: {}\ncolab: {extends: default}\n"
    )
    assert load_profile_file(path)["colab"] == {"a": 1}


@pytest.mark.parametrize(
    ("text", "profile"),
    [
        ("smoke: {}\ndefault: {}\nfull: {}\nx: {extends: y}\ny: {extends: x}\n", "x"),
        ("smoke: {}\ndefault: {}\nfull: {}\nx: {extends: x, n: 1}\n", "x"),
        ("smoke: {extends: full}\ndefault: {}\nfull: {extends: z}\nz: {extends: smoke}\n", "smoke"),
    ],
    ids=["two", "itself", "three"],
)
def test_a_cycle_is_an_error_naming_the_file_the_profile_and_the_fix(tmp_path, text, profile):
    path = _write(tmp_path / "01_x.yaml", text)
    with pytest.raises(RunnerError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert str(path) in message and f"profile {profile!r}" in message
    assert "extends itself" in message and "remove one of the extends: lines" in message


def test_an_unknown_parent_is_an_error_naming_the_file_the_profile_and_the_fix(tmp_path):
    path = _write(
        tmp_path / "01_x.yaml", "smoke: {}\ndefault: {}\nfull: {}\nbig: {extends: huge}\n"
    )
    with pytest.raises(RunnerError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert str(path) in message and "profile 'big' extends 'huge'" in message
    assert "name one of smoke, default, full" in message and "remove the extends: line" in message


def test_extends_must_be_one_name(tmp_path):
    path = _write(
        tmp_path / "01_x.yaml", "smoke: {}\ndefault: {}\nfull: {extends: [smoke, default]}\n"
    )
    with pytest.raises(RunnerError, match=r"01_x\.yaml: profile 'full' has extends: \['smoke'"):
        load_profile_file(path)


def test_profile_parameters_names_the_valid_profiles(tmp_path):
    (tmp_path / "profiles").mkdir()
    _write(
        tmp_path / "profiles" / "01_x.yaml",
        "smoke: {}\ndefault: {n: 2}\nfull: {extends: default}\n",
    )
    assert profile_parameters("01_x", "full", tmp_path) == {"n": 2}
    with pytest.raises(
        RunnerError, match=r"no profile 'huge'; valid: smoke, default, full, colab$"
    ):
        profile_parameters("01_x", "huge", tmp_path)


def test_resolve_extends_works_on_the_raw_yaml_for_other_readers():
    """``train --profile`` reads the file itself; it resolves with the same function."""
    from papseg_utils.book.profile_extends import resolve_extends

    raw = {"depends_on": ["01_x"], "a": None, "b": {"extends": "a", "n": 1}, "c": {"m": [1]}}
    assert resolve_extends(raw, "f.yaml") == {
        "depends_on": ["01_x"], "a": {}, "b": {"n": 1}, "c": {"m": [1]}
    }  # fmt: skip
    assert raw["b"] == {"extends": "a", "n": 1}  # the input is not changed


# --------------------------------------------------------------------------- the shipped files


def test_no_resolved_profile_keeps_the_extends_key():
    for path in PROFILE_FILES:
        for name, values in load_profile_file(path).items():
            if name != "depends_on":
                assert "extends" not in values, f"{path.name}: {name}"


@pytest.mark.parametrize("path", PROFILE_FILES, ids=[p.stem for p in PROFILE_FILES])
def test_a_profile_that_extends_gives_only_what_differs(path):
    """No copies to drift: every value a child writes differs from its parent's."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    resolved = load_profile_file(path)
    for name, own in raw.items():
        if isinstance(own, dict) and "extends" in own:
            parent = resolved[own["extends"]]
            same = sorted(k for k, v in own.items() if k != "extends" and parent.get(k) == v)
            assert not same, f"{path.name}: {name} repeats {same} of {own['extends']}"


@pytest.mark.parametrize(
    ("child", "parent", "changed"),
    [
        ("herlev-best-gpu", "herlev-best", {"num_epochs": 40, "batch_size": 16}),
        (
            "herlev-scale-true-gpu",
            "herlev-scale-true",
            {"image_size": 512, "num_epochs": 40, "batch_size": 16},
        ),
    ],
)
def test_the_gpu_recipes_differ_from_their_cpu_parents_only_in_gpu_sized_keys(
    child, parent, changed
):
    raw = yaml.safe_load((NOTEBOOKS / "profiles" / "06_fine_tuning.yaml").read_text())
    assert raw[child]["extends"] == parent
    assert {k: v for k, v in raw[child].items() if k != "extends"} == changed
    assert set(changed) <= GPU_SIZED
    gpu = profile_parameters("06_fine_tuning", child, NOTEBOOKS)
    cpu = profile_parameters("06_fine_tuning", parent, NOTEBOOKS)
    assert set(gpu) == set(cpu)
    assert {k for k in gpu if gpu[k] != cpu[k]} == set(changed)


def test_the_gpu_recipes_resolve_to_the_recipes_they_were_before_extends():
    """The literal recipes of the profile file before it used ``extends:`` (issue 22)."""
    shared = {
        "architecture": "unet", "encoder": "tf_efficientnet_lite0", "pretrained": "imagenet",
        "dataset": "herlev", "scheme": "herlev3", "image_head": "health", "augmentation": "basic",
    }  # fmt: skip
    tail = {
        "lr": 0.001, "lr_encoder": 0.001, "freeze_epochs": 0, "warmup_epochs": 1.0,
        "loss": "dice_ce", "val_fraction": 0.15, "output_dir": "{build}/runs/fine_tuning",
    }  # fmt: skip
    best = {**shared, "image_size": 224, "num_epochs": 40, "batch_size": 16, **tail}
    scale = {**shared, "target_spacing_um": 0.201, "image_size": 512, "num_epochs": 40,
             "batch_size": 16, **tail}  # fmt: skip
    for name, expected in (("herlev-best-gpu", best), ("herlev-scale-true-gpu", scale)):
        got = profile_parameters("06_fine_tuning", name, NOTEBOOKS)
        assert got == expected and list(got) == list(expected), name


def test_the_evaluation_recipes_score_like_herlev_best():
    best = profile_parameters("07_evaluation", "herlev-best", NOTEBOOKS)
    assert best["split"] == "test" and best["tta"] is True
    for name in ("herlev-best-gpu", "herlev-scale-true", "herlev-scale-true-gpu",
                 "herlev-scale-true-fine"):  # fmt: skip
        got = profile_parameters("07_evaluation", name, NOTEBOOKS)
        assert got == best and list(got) == list(best), name


def test_plan_injects_the_resolved_recipe(tmp_path):
    [job] = plan(
        ["06_fine_tuning"], "herlev-best-gpu", {}, tmp_path / "out",
        notebooks_dir=NOTEBOOKS, cwd=tmp_path,
    )  # fmt: skip
    assert "extends" not in job.parameters
    assert job.parameters["num_epochs"] == 40 and job.parameters["image_size"] == 224
    assert job.parameters["output_dir"] == "out/runs/fine_tuning"


def test_herlev_cv_reads_the_epochs_through_the_loader(tmp_path):
    """``scripts/herlev_cv.sh`` with a stand-in python that records the commands it is given."""
    log = tmp_path / "commands.txt"
    fake = _write(
        tmp_path / "python",
        f'#!/usr/bin/env bash\nif [[ $1 == -m ]]; then echo "$@" >> "{log}"; exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n',
    )
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake), "FOLDS": "1", "PROFILE": "herlev-best-gpu",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    run = subprocess.run(
        ["bash", str(REPO / "scripts" / "herlev_cv.sh"), str(tmp_path / "cv")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    train = log.read_text().splitlines()[0]
    assert "--profile herlev-best-gpu" in train and "--epochs 40 " in train
    bad = subprocess.run(
        ["bash", str(REPO / "scripts" / "herlev_cv.sh"), str(tmp_path / "cv2")],
        env={**env, "PROFILE": "huge"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode != 0 and "PROFILE=huge" in bad.stderr and "valid: smoke" in bad.stderr
