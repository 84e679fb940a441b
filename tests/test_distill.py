"""Distillation (papseg_utils.distill): sources, schedule, resume, export, loading, agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from papseg_utils.distill import (
    DISTILL_IMAGES,
    HELD_OUT_IMAGES,
    DistillConfig,
    Distiller,
    load_image,
    lr_at,
)
from papseg_utils.distill import cli as distill_cli
from papseg_utils.distill.agreement import agreement
from papseg_utils.distill.networks import Teacher
from papseg_utils.models import WeightsUnavailableError, build_model
from papseg_utils.models import pretrained as pw

TINY = dict(steps=4, batch_size=4, image_size=64, warmup_steps=1, save_every=2,
            images=["skimage:coffee", "skimage:chelsea"])  # fmt: skip


@pytest.fixture(scope="module")
def teacher():
    torch.set_num_threads(1)
    return Teacher()


def test_source_sets_are_disjoint_licensed_and_load_offline():
    train = {i.name for i in DISTILL_IMAGES}
    held = {i.name for i in HELD_OUT_IMAGES}
    assert not train & held
    for item in DISTILL_IMAGES + HELD_OUT_IMAGES:
        assert item.licence and item.credit
    img = load_image("skimage:camera")  # a grey image becomes RGB
    assert img.shape == (512, 512, 3) and img.dtype.name == "uint8"
    with pytest.raises(ValueError, match="unknown image source"):
        load_image("flickr:cat.jpg")


def test_schedule_warms_up_then_decays_to_zero():
    cfg = DistillConfig(steps=100, warmup_steps=10, lr=1e-3)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(5e-4)
    assert lr_at(100, cfg) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="multiple of 32"):
        DistillConfig(image_size=100)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, teacher):
    whole = Distiller(DistillConfig(**TINY), tmp_path / "whole", teacher=teacher)
    assert whole.run() is True
    part = Distiller(DistillConfig(**TINY), tmp_path / "part", teacher=teacher)
    assert part.run(max_minutes=0) is False  # stops after one step, with a checkpoint
    assert part.step == 1
    again = Distiller(DistillConfig(**TINY), tmp_path / "part", teacher=teacher)
    assert again.step == 1
    assert again.run() is True
    a, b = whole.student.state_dict(), again.student.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    rows = (tmp_path / "part" / "history.csv").read_text().splitlines()
    assert rows[0].startswith("step,kl,feature") and rows[-1].startswith("4,")
    with pytest.raises(ValueError, match="other settings.*steps"):
        Distiller(DistillConfig(**{**TINY, "steps": 8}), tmp_path / "part", teacher=teacher)


def test_export_is_float16_with_provenance_and_loads_strictly(tmp_path, teacher):
    d = Distiller(DistillConfig(**{**TINY, "steps": 1}), tmp_path, teacher=teacher)
    d.run()
    path = d.export(tmp_path / "mit.safetensors", command="papseg distill --out X")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["teacher"]["arch"] == "tf_efficientnet_lite0"
    assert meta["steps_done"] == 1 and meta["command"] == "papseg distill --out X"
    assert {s["name"] for s in meta["source_images"]} == set(TINY["images"])
    assert all(s.get("licence") for s in meta["source_images"] if s["name"] != "skimage:chelsea")
    state = pw.read_state_dict(path)
    assert {t.dtype for t in state.values()} == {torch.float16}
    model = build_model("segformer", num_classes=3, pretrained=str(path))
    got = model.encoder.state_dict()
    assert all(torch.equal(got[k], state[k].float()) for k in state)


def test_student_agrees_with_a_copy_of_the_teacher_and_not_with_noise(teacher):
    images = HELD_OUT_IMAGES[:2]
    same = agreement(teacher, teacher, images, views=3, size=64)
    assert same["top1"] == 1.0 and same["views"] == 6 and same["images"] == 2

    class Constant(torch.nn.Module):  # always predicts class 0 ("tench")
        def forward(self, x):
            logits = torch.zeros(len(x), 1000)
            logits[:, 0] = 1.0
            return logits, []

    other = agreement(Constant(), teacher, images, views=3, size=64)
    assert other["top1"] < 0.5


@pytest.mark.parametrize(("architecture", "encoder"), [("segformer", "mit_b0"),
                                                        ("pvt_fpn", "pvt_v2_b0")])  # fmt: skip
def test_shipped_distilled_encoder_loads_offline(monkeypatch, architecture, encoder):
    path = pw.distilled_weights_path(encoder)
    if path is None:
        pytest.skip(f"the distilled {encoder} weights are not in papseg_utils/weights")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert path.stat().st_size <= 15e6 and meta["bytes"] == path.stat().st_size
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["file_sha256"]
    assert not meta.get("cytology"), "weights distilled on Herlev must not ship"
    assert all(s.get("licence") for s in meta["source_images"])
    model = build_model(architecture, num_classes=3, pretrained="distilled", encoder=encoder)
    assert model.papseg_spec.weights_source == f"papseg_utils/weights/{path.name}"
    assert model.papseg_spec.weights_sha256 == meta["tensors_sha256"]
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    monkeypatch.setattr(pw, "distilled_weights_path", lambda enc: None)
    with pytest.raises(WeightsUnavailableError, match="papseg distill"):
        build_model(architecture, num_classes=3, pretrained="distilled", encoder=encoder)


def test_segformer_carries_an_image_head():
    model = build_model("segformer", num_classes=3, image_classes=2)
    out = model(torch.rand(2, 3, 64, 64))
    assert out["logits"].shape == (2, 3, 64, 64) and out["image_logits"].shape == (2, 2)


def test_cli_rejects_bad_settings_and_resumes_only_the_same_run(tmp_path, capsys):
    assert distill_cli.main(["--out", str(tmp_path), "--image-size", "100"]) == 2
    assert "multiple of 32" in capsys.readouterr().err
    args = ["--out", str(tmp_path / "r"), "--steps", "1", "--batch-size", "2",
            "--image-size", "64", "--views", "2", "--max-minutes", "0"]  # fmt: skip
    assert distill_cli.main(args) == 0  # 1 step: done, exported, measured
    report = json.loads((tmp_path / "r" / "agreement.json").read_text())
    assert report["held_out"]["images"] == len(HELD_OUT_IMAGES)
    assert report["held_out"]["views"] == 2 * len(HELD_OUT_IMAGES)
    assert set(report["predictions"]) == {i.name for i in HELD_OUT_IMAGES}
    assert (tmp_path / "r" / "encoder.safetensors").is_file()
    code = distill_cli.main([*args[:3], "2", *args[4:]])
    assert code == 2 and "other settings" in capsys.readouterr().err  # bad input: exit 2


def test_report_reads_the_committed_comparison():
    """The chapter's tables come from the committed runs: 3 arms x 2 fractions x 2 seeds."""
    from pathlib import Path

    from papseg_utils.distill import report as D

    runs = D.load_runs(Path(__file__).resolve().parents[1] / "results" / "distilled-vs-scratch")
    assert runs.groupby(["arm", "fraction"]).seed.nunique().eq(2).all()
    assert set(runs.arm) == set(D.ARMS) and set(runs.fraction) == {1.0, 0.1}
    table = D.arm_table(runs)
    assert list(table.arm[:3]) == list(D.ARMS) and table.shape == (6, 6)
    paired = D.paired_table(runs, n_boot=200)
    row = paired[(paired.comparison == "distilled - scratch") & (paired["class"] == "nucleus")]
    assert len(row) == 2
    assert (row.mean_diff - (row.mean_b - row.mean_a)).abs().max() < 1e-12
    assert (row.low <= row.mean_diff).all() and (row.mean_diff <= row.high).all()
    with pytest.raises(FileNotFoundError, match="no runs"):
        D.load_runs(Path(__file__).parent)


# --------------------------------------------------------------------------- in-domain, PVTv2
def _split_file(path, train, test):
    from papseg_utils.data.splits import save_split

    save_split({"train": train, "val": [], "test": test}, path)
    return path


def test_cytology_images_are_the_training_images_of_every_split(tmp_path):
    from papseg_utils.distill.sources import train_names

    a = _split_file(tmp_path / "a.json", ["x", "y", "z"], ["w"])
    b = _split_file(tmp_path / "b.json", ["w", "x", "y"], ["z"])
    names, hashes = train_names([a, b])
    assert names == ["x", "y"]  # neither fold's test image (w, z) is seen
    assert len(hashes) == 2 and hashes[0] != hashes[1]
    with pytest.raises(ValueError, match="--train-of"):
        train_names([])
    c = _split_file(tmp_path / "c.json", ["w"], ["x", "y", "z"])
    with pytest.raises(ValueError, match="no image is a training image"):
        train_names([a, b, c])


def test_small_cytology_images_are_padded_not_resized():
    import numpy as np

    from papseg_utils.distill.sources import _pad_to

    img = np.arange(40 * 30 * 3, dtype=np.uint8).reshape(40, 30, 3)
    out = _pad_to(img, 128)  # more than twice the side: padded in rounds
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    y0, x0 = (128 - 40) // 2, (128 - 30) // 2
    found = [(y, x) for y in range(y0 - 30, y0 + 30) for x in range(x0 - 20, x0 + 20)
             if np.array_equal(out[y : y + 40, x : x + 30], img)]  # fmt: skip
    assert found, "the original pixels are kept at scale 1 inside the padding"
    big = np.zeros((200, 300, 3), np.uint8)
    assert _pad_to(big, 128) is big


def test_cytology_distillation_refuses_missing_or_stray_splits(tmp_path, capsys):
    code = distill_cli.main(["--out", str(tmp_path / "c"), "--source", "cytology"])
    assert code == 2 and "--train-of" in capsys.readouterr().err
    split = _split_file(tmp_path / "s.json", ["a"], ["b"])
    code = distill_cli.main(["--out", str(tmp_path / "n"), "--train-of", str(split)])
    assert code == 2 and "--source cytology" in capsys.readouterr().err
    code = distill_cli.main(["--out", str(tmp_path / "m"), "--source", "cytology",
                             "--train-of", str(split), "--data-dir", str(tmp_path / "none"),
                             "--steps", "1"])  # fmt: skip
    assert code == 1 and "herlev" in capsys.readouterr().err.lower()


def test_pvt_student_exports_an_encoder_that_pvt_fpn_loads(tmp_path, teacher):
    d = Distiller(DistillConfig(**{**TINY, "steps": 1, "student": "pvt_v2_b0"}), tmp_path,
                  teacher=teacher)  # fmt: skip
    logits, feats = d.student(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 1000)
    assert [f.shape[1] for f in feats] == list(teacher.channels)
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]  # strides 4 to 32
    d.run()
    path = d.export(tmp_path / "pvt.safetensors")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["what"].startswith("PVTv2-b0 encoder (timm state dict")
    state = pw.read_state_dict(path)
    assert not any(k.startswith("head.") for k in state)
    model = build_model("pvt_fpn", num_classes=3, pretrained=str(path))
    got = model.encoder.state_dict()
    assert len(got) == len(state)
    assert torch.equal(got["model.stages_1.blocks.0.attn.kv.weight"],
                       state["stages.1.blocks.0.attn.kv.weight"].float())  # fmt: skip


def test_timm_names_map_onto_smp_feature_names():
    st = {"stages.0.blocks.1.norm.weight": 0, "patch_embed.proj.bias": 0, "conv_stem.weight": 0}
    assert pw.timm_key("model.stages_0.blocks.1.norm.weight", st) == "stages.0.blocks.1.norm.weight"
    assert pw.timm_key("model.patch_embed.proj.bias", st) == "patch_embed.proj.bias"
    assert pw.timm_key("model.conv_stem.weight", st) == "conv_stem.weight"


COMMITTED_CYTOLOGY_START = (
    Path(__file__).resolve().parents[1] / "results" / "architectures" / "segformer-cytology"
)


@pytest.mark.skipif(not (COMMITTED_CYTOLOGY_START / "start.json").is_file(),
                    reason="the cytology-distilled SegFormer arm is not committed")  # fmt: skip
def test_the_cytology_start_saw_no_test_image_of_the_folds_it_was_scored_on():
    from papseg_utils.data.splits import read_split, split_hash

    start = json.loads((COMMITTED_CYTOLOGY_START / "start.json").read_text())
    seen = set(start["config"]["cytology"])
    assert start["cytology"]["images"] == len(seen) > 0
    for k in (0, 1):
        split, _ = read_split(COMMITTED_CYTOLOGY_START / "folds" / f"fold{k}" / "split.json")
        assert split_hash(split) in start["cytology"]["splits"]
        assert not seen & set(split["test"]), f"fold {k}'s test images were distilled on"
        assert seen <= set(split["train"])


def test_a_checkpoint_from_before_the_cytology_fields_still_resumes(tmp_path, teacher):
    d = Distiller(DistillConfig(**TINY), tmp_path, teacher=teacher)
    assert d.run(max_minutes=0) is False
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    for key in ("cytology", "cytology_splits"):  # written by an older papseg
        del state["config"][key]
    torch.save(state, tmp_path / "checkpoint.pt")
    again = Distiller(DistillConfig(**TINY), tmp_path, teacher=teacher)
    assert again.step == 1
