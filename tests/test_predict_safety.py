"""predict never writes its inputs, checks every option before loading the model, stops cleanly.

Regression tests of issue 10 (items 1, 5 and 7): an output path that is an
input file or lies inside an input folder is refused whatever ``--overwrite``
says (symlinks and relative paths included); bad ``--overlap``,
``--batch-size``, ``--tile-size`` and ``--device`` values are refused before
the checkpoint is read; a tile larger than the image is clamped to it; Ctrl-C
prints one line and exits 130.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from papseg_utils import predict
from papseg_utils.inference import predict_proba

checkpoint_mod = pytest.importorskip("papseg_utils.train.checkpoint")
models = pytest.importorskip("papseg_utils.models")


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (symlinks followed), by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def user_folder(root: Path) -> Path:
    """``root/X`` with an RGB image in ``X/masks/img.png`` (the issue's reproduction)."""
    rng = np.random.default_rng(0)
    (root / "X" / "masks").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(
        root / "X" / "masks" / "img.png"
    )
    return root / "X"


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_inside_an_input_folder_is_refused(tiny_checkpoint, tmp_path, capsys, overwrite):
    x = user_folder(tmp_path)
    before = hashes(x)
    argv = [str(tiny_checkpoint), str(x / "masks"), "--out", str(x), "--device", "cpu"]
    code = predict.main(argv + (["--overwrite"] if overwrite else []))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "outside the inputs" in err and "even with --overwrite" in err
    assert "pass --overwrite" not in err  # never advise overwriting an input
    assert hashes(x) == before


def test_output_equal_to_an_input_file_is_refused(tiny_checkpoint, tmp_path, capsys):
    x = user_folder(tmp_path)
    before = hashes(x)
    code = predict.main(
        [str(tiny_checkpoint), str(x / "masks" / "img.png"), "--out", str(x), "--overwrite"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "is the input image" in err, err
    assert hashes(x) == before


def test_relative_paths_and_symlinks_are_resolved(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    x = user_folder(tmp_path)
    before = hashes(x)
    monkeypatch.chdir(x / "masks")
    code = predict.main([str(tiny_checkpoint), ".", "--out", "..", "--overwrite"])
    assert code == 2 and "outside the inputs" in capsys.readouterr().err
    # an output folder whose masks/ is a symlink to the input folder
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(x / "masks", out / "masks")
    code = predict.main([str(tiny_checkpoint), str(x / "masks"), "--out", str(out), "--overwrite"])
    assert code == 2 and "outside the inputs" in capsys.readouterr().err
    # an input given through a symlinked folder
    os.symlink(x, tmp_path / "link")
    code = predict.main(
        [str(tiny_checkpoint), str(tmp_path / "link" / "masks"), "--out", str(x), "--overwrite"]
    )
    assert code == 2 and "outside the inputs" in capsys.readouterr().err
    assert hashes(x) == before


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--overlap", "1.0"], "--overlap 1.0 must be a fraction in [0, 0.9]"),
        (["--batch-size", "0"], "--batch-size 0 must be >= 1"),
        (["--tile-size", "0"], "--tile-size 0 must be a positive number"),
        (["--tile-size", "-32"], "--tile-size -32 must be a positive number"),
        (["--tile-size", "100"], "--tile-size 100 must be a multiple of 32"),
        (["--device", "nonsense"], "--device: device 'nonsense' is not a torch device name"),
    ],
)
def test_bad_options_are_refused_before_loading(
    tiny_checkpoint, tmp_path, capsys, monkeypatch, option, fragment
):
    def no_load(*a, **k):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(checkpoint_mod, "load_model", no_load)
    x = user_folder(tmp_path)
    code = predict.main([str(tiny_checkpoint), str(x), "-r", "--out", str(tmp_path / "o"), *option])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_usage_error(tiny_checkpoint, tmp_path, capsys):
    x = user_folder(tmp_path)
    code = predict.main(
        [str(tiny_checkpoint), str(x), "--out", str(tmp_path / "o"), "--device", "cuda"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "CUDA is not available" in err, err


class ShapeSpy(nn.Module):
    """1x1 convolution that records the input sizes it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[-2:]))
        return self.conv(x)


def test_tile_larger_than_the_image_is_clamped():
    image = np.zeros((40, 70, 3), np.uint8)
    spy = ShapeSpy()
    probs = predict_proba(spy, image, tile_size=4096, device="cpu")
    assert probs.shape == (2, 40, 70)
    assert max(max(s) for s in spy.sizes) <= 96  # not 4096 x 4096


def test_tiled_prediction_shows_progress(capsys):
    image = np.zeros((320, 320, 3), np.uint8)
    predict_proba(ShapeSpy(), image, tile_size=32, overlap=0.25, device="cpu", progress=True)
    assert "tiles" in capsys.readouterr().err


def test_ctrl_c_prints_one_line_and_exits_130(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    x = user_folder(tmp_path)
    before = hashes(x)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict, "predict_image", interrupted)
    code = predict.main([str(tiny_checkpoint), str(x), "--out", str(tmp_path / "o"), "-r"])
    err = capsys.readouterr().err
    assert code == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted"), err
    assert hashes(x) == before


def test_an_immutable_output_folder_exits_2_and_writes_nothing(tiny_checkpoint, tmp_path, capsys):
    """Issue 24, item 8, on a real filesystem: ``chattr +i`` stops even root from writing."""
    import shutil
    import subprocess

    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if subprocess.run(["chattr", "+i", str(frozen)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here (needs root on ext2/3/4, XFS or Btrfs)")
    try:
        inp = user_folder(tmp_path) / "masks"
        code = predict.main([str(tiny_checkpoint), str(inp), "--out", str(frozen / "out")])
        err = capsys.readouterr().err
        assert code == 2 and "cannot write there" in err and "Traceback" not in err, err
        assert list(frozen.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=True)
