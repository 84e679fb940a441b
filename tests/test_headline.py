"""The paper's headline set-up (studies/paper-headline.yaml) and the hub weights it needs.

Nothing is downloaded here. The hub path is exercised up to the download: a tiny
randomly initialised SegFormer (MiT-b0) is saved with ``save_pretrained`` into a local
folder and loaded through the registry, and the same files laid out as a Hugging Face
cache entry of ``nvidia/mit-b0`` are loaded with ``pretrained="imagenet"`` offline,
exactly as a run does after the study fetched the weights once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from papseg_utils.book import study as st
from papseg_utils.models import build_model
from papseg_utils.models import pretrained as pw

REPO_ROOT = Path(__file__).resolve().parent.parent
HEADLINE = REPO_ROOT / "studies" / "paper-headline.yaml"


def _env(**extra: str) -> dict:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def test_headline_study_is_the_papers_comparison():
    study = st.Study.from_yaml(HEADLINE)
    arms = {
        (p["architecture"], p["encoder"], p["pretrained"], p["data_fraction"])
        for p in (s.params for s in study.expand())
    }
    models = [
        ("segformer", "mit_b2", "imagenet"),
        ("segformer", "mit_b2", "ade20k"),
        ("pvt_fpn", "pvt_v2_b2", "imagenet"),
        ("unet", "resnet34", "imagenet"),
        ("deeplabv3plus", "resnet34", "imagenet"),
    ]
    assert arms == {(*m, f) for m in models for f in (1.0, 0.1)}
    assert study.base["dataset"] == "herlev" and study.profile == "full"


def test_set_overrides_the_dataset_of_every_run(capsys):
    assert st.main([str(HEADLINE), "--list", "--set", "dataset", "folder"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert all(json.loads(line.split(" ", 1)[1])["dataset"] == "folder" for line in lines)


def test_headline_offline_fails_fast_before_any_run(tmp_path):
    out = tmp_path / "out"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "papseg_utils", "study", str(HEADLINE), "--out", str(out)],
        cwd=REPO_ROOT,
        env=_env(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty-cache")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "nvidia/mit-b2" in proc.stderr and "not in the local cache" in proc.stderr
    assert "To supply them" in proc.stderr  # the message teaches the fix
    assert not (out / "runs").exists()  # no run started
    assert wall < 60, f"offline failure took {wall:.0f} s"


def _tiny_segformer(num_labels: int = 150):
    """A randomly initialised MiT-b0 SegFormer (3.7 M parameters), as the hub would serve it."""
    from transformers import SegformerForSemanticSegmentation

    from papseg_utils.models.segformer import segformer_config

    torch.manual_seed(0)
    return SegformerForSemanticSegmentation(segformer_config("b0", num_labels))


@pytest.fixture(scope="module")
def saved_segformer(tmp_path_factory) -> tuple[Path, str]:
    """A ``save_pretrained`` folder and the SHA-256 of its encoder tensors."""
    folder = tmp_path_factory.mktemp("segformer-b0")
    hf = _tiny_segformer()
    hf.save_pretrained(folder)
    return folder, pw.state_sha256(hf.segformer.state_dict())


def test_segformer_loads_a_local_model_folder_through_the_registry(saved_segformer):
    folder, encoder_sha = saved_segformer
    model = build_model("segformer", 3, pretrained=str(folder), encoder="mit_b0")
    spec = model.papseg_spec
    assert spec.weights_source == str(folder)
    assert spec.weights_sha256 == encoder_sha  # the saved encoder, tensor for tensor
    assert model.hf.config.num_labels == 3  # a new head for the task's classes
    logits = model(torch.zeros(1, 3, 64, 64))
    assert logits.shape == (1, 3, 64, 64)


def test_a_folder_of_another_mit_size_is_refused(saved_segformer):
    from papseg_utils.models import WeightsUnavailableError

    folder, _ = saved_segformer
    with pytest.raises(WeightsUnavailableError, match="not a MiT-b2"):
        build_model("segformer", 3, pretrained=str(folder), encoder="mit_b2")


def _as_hub_cache(folder: Path, cache: Path, repo_id: str) -> None:
    """Lay out ``folder``'s files as the Hugging Face cache holds a downloaded ``repo_id``."""
    revision = "0" * 40
    entry = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = entry / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for f in folder.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(revision)


def test_hub_weights_in_the_cache_load_offline_as_a_study_run_loads_them(saved_segformer, tmp_path):
    folder, encoder_sha = saved_segformer
    cache = tmp_path / "hub"
    _as_hub_cache(folder, cache, "nvidia/mit-b0")
    code = (
        "import json\n"
        "from papseg_utils.models import build_model, fetch_weights\n"
        "from papseg_utils.book.study import RunSpec, fetch_study_weights\n"
        "m = build_model('segformer', 3, pretrained='imagenet', encoder='mit_b0')\n"
        "spec = RunSpec('r', {'architecture': 'segformer', 'encoder': 'mit_b0', 'pretrained': 'imagenet'})\n"
        "print(json.dumps({'source': m.papseg_spec.weights_source, 'sha': m.papseg_spec.weights_sha256,\n"
        "                  'fetched': fetch_study_weights([spec])}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=_env(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["source"] == "hf://nvidia/mit-b0"
    assert result["sha"] == encoder_sha
    assert result["fetched"] == ["hf://nvidia/mit-b0"]
