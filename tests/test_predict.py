"""The predict command end to end on a tiny checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils.labels import get_scheme
from papseg_utils.predict import main

checkpoint_mod = pytest.importorskip("papseg_utils.train.checkpoint")
models = pytest.importorskip("papseg_utils.models")


def write_images(folder: Path) -> None:
    rng = np.random.default_rng(0)
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (40, 70, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (50, 30, 3), dtype=np.uint8)).save(
        folder / "sub" / "b.bmp"
    )
    (folder / "broken.png").write_bytes(b"not a png")


def test_predict_end_to_end(tiny_checkpoint, tmp_path, capsys):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_images(inp)
    before = sorted(p.name for p in inp.rglob("*"))
    rc = main([str(tiny_checkpoint), str(inp), "--out", str(out), "-r", "--device", "cpu"])
    assert rc == 1  # the broken file was skipped and reported
    assert "broken.png" in capsys.readouterr().err
    mask = Image.open(out / "masks" / "a.png")
    assert mask.mode == "P" and mask.size == (70, 40)  # original size restored
    assert mask.getpalette()[:9] == get_scheme("herlev3").flat_palette()[:9]
    assert set(np.unique(np.asarray(mask))) <= {0, 1, 2}
    assert Image.open(out / "masks" / "sub" / "b.png").size == (30, 50)  # mirrors the folder layout
    assert Image.open(out / "overlays" / "a.png").mode == "RGB"
    log = json.loads((out / "predict_log.json").read_text())
    assert len(log["written"]) == 2 and len(log["skipped"]) == 1
    assert sorted(p.name for p in inp.rglob("*")) == before  # nothing written next to the inputs
    # refuses to overwrite, then does with --overwrite (tiled + TTA path)
    args = [str(tiny_checkpoint), str(inp / "a.png"), "--out", str(out), "--device", "cpu"]
    assert main(args) == 2  # bad input (issue 24, item 13): nothing is written
    assert main(args + ["--overwrite", "--tile-size", "32", "--tta"]) == 0


def test_predict_errors(tiny_checkpoint, tmp_path, capsys):
    inp = tmp_path / "in"
    write_images(inp)
    assert main([str(tmp_path / "nope"), str(inp), "--out", str(tmp_path / "o")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(tiny_checkpoint), str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no input images" in capsys.readouterr().err
    assert main([str(tiny_checkpoint), str(inp), "--out", str(inp / "x"), "-r"]) == 2
    assert "input folder" in capsys.readouterr().err
    assert (
        main(
            [
                str(tiny_checkpoint),
                str(inp),
                "--out",
                str(tmp_path / "s"),
                "-r",
                "--strict",
                "--device",
                "cpu",
            ]
        )
        == 1
    )
