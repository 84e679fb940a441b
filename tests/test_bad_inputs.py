"""Bad inputs tried against the commands, as a new user would: message and exit code.

Each probe below runs a command (in process) on a small bad input, checks its
exit code and a fragment of its message, and checks that nothing in the
user's folders changed. The table ``docs/BAD_INPUTS.md`` is generated from
these runs: the test fails when the file differs from what the probes print.
Regenerate it with::

    PAPSEG_WRITE_DOCS=1 python -m pytest tests/test_bad_inputs.py
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils import predict
from papseg_utils.book import runner, study
from papseg_utils.data.base import Sample
from papseg_utils.data.folder import export_folder
from papseg_utils.distill import cli as distill_cli
from papseg_utils.evaluate import cli as scoring
from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.train import cli as train_cli

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "BAD_INPUTS.md"
TWO = LabelScheme("my_cells", ("background", "nucleus"), ((0, 0, 0), (230, 159, 0)))
TINY = [
    "--architecture", "unet", "--encoder", "tf_efficientnet_lite0", "--pretrained", "none",
    "--num-train-images", "6", "--image-size", "32", "--test-fraction", "0",
    "--epochs", "1", "--batch-size", "2", "--max-steps-per-epoch", "1",
    "--freeze-epochs", "0", "--warmup-epochs", "0", "--device", "cpu", "--augmentation", "none",
]  # fmt: skip


@dataclass
class Probe:
    """One bad input: how to make it, the command, and what must come out."""

    command: str  # as shown in the table (placeholders in capitals)
    bad_input: str
    argv: Callable[[dict], tuple[Callable, list[str]]]  # world -> (main, argv)
    code: int
    fragment: str
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    show: str = ""  # the table shows the first line holding this (default: the error line)
    absent: str = ""  # a path (under the world's tmp) that must not exist afterwards


def _images(folder: Path, n: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(
            folder / f"img{i}.png"
        )
    return folder


def _folder(root: Path, scheme: LabelScheme = TWO, n: int = 6) -> Path:
    yy, xx = np.mgrid[:32, :32]
    samples = []
    for i in range(n):
        mask = (((yy - 16) ** 2 + (xx - 10 - i) ** 2) < 30).astype(np.uint8)
        image = np.full((32, 32, 3), 40, np.uint8)
        image[mask == 1] = 220
        samples.append(Sample(image, mask, name=f"s{i}", group="all"))
    return export_folder(samples, scheme, root)


def _world(tmp: Path) -> dict:
    """Build every input the probes use, once."""
    from papseg_utils.models import build_model
    from papseg_utils.train.checkpoint import save_checkpoint

    w: dict = {"tmp": tmp}
    model = build_model("unet", num_classes=3, pretrained="none", encoder="tf_efficientnet_lite0")
    w["ckpt"] = save_checkpoint(
        tmp / "ckpt" / "best", model, num_classes=3, scheme=get_scheme("herlev3"),
        train_config={"image_size": 64},
    )  # fmt: skip
    for name, damage in (
        ("truncated", lambda p: p.write_bytes(p.read_bytes()[:20000])),
        ("empty", lambda p: p.write_bytes(b"")),
    ):
        shutil.copytree(w["ckpt"], tmp / name)
        damage(tmp / name / "model.safetensors")
        w[name] = tmp / name
    shutil.copytree(w["ckpt"], tmp / "badjson")
    (tmp / "badjson" / "config.json").write_text("{oops", encoding="utf-8")
    w["badjson"] = tmp / "badjson"
    w["X"] = tmp / "X"
    _images(w["X"] / "masks")
    _images(tmp / "in")
    (tmp / "in" / "broken.png").write_bytes(b"not a png")
    (tmp / "empty_dir").mkdir()
    w["big"] = _images(tmp / "big")
    # folder datasets
    w["data"] = _folder(tmp / "data")
    w["noclasses"] = _folder(tmp / "noclasses")
    (w["noclasses"] / "classes.yaml").unlink()
    w["badclasses"] = _folder(tmp / "badclasses")
    (w["badclasses"] / "classes.yaml").write_text("classes: [oops", encoding="utf-8")
    w["badpixel"] = _folder(tmp / "badpixel")
    with open(w["badpixel"] / "classes.yaml", "a", encoding="utf-8") as fh:
        fh.write("pixel_size_um: -1\n")
    w["emptydata"] = _folder(tmp / "emptydata")
    for sub in ("images", "masks"):
        for f in (w["emptydata"] / sub).iterdir():
            f.unlink()
    w["unpaired"] = _folder(tmp / "unpaired")
    (w["unpaired"] / "masks" / "s0.png").unlink()
    w["corrupt"] = _folder(tmp / "corrupt")
    (w["corrupt"] / "images" / "s1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    # a trained run (5 classes, synthetic) to resume
    w["run"] = tmp / "run"
    assert train_cli.main([*TINY, "--output-dir", str(w["run"])]) == 0
    shutil.copytree(w["run"], tmp / "nostate")
    (tmp / "nostate" / "last" / "trainer_state.pt").unlink()
    w["nostate"] = tmp / "nostate"
    # a Herlev folder whose mask uses an unknown palette index
    cell = tmp / "herlev" / "New database pictures" / "light_dysplastic"
    cell.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(cell / "a.BMP")
    m = np.full((8, 8), 4, np.uint8)
    m[3, 3] = 200
    mask = Image.frombytes("P", (8, 8), m.tobytes())
    mask.putpalette([0, 0, 0, 128, 128, 128, 0, 0, 255, 0, 0, 128, 255, 0, 0] + [0] * 753)
    mask.save(cell / "a-d.bmp")
    w["herlev"] = tmp / "herlev"
    _world2(w)
    return w


def _classes(folder: Path, text: str) -> Path:
    (folder / "classes.yaml").write_text(text, encoding="utf-8")
    return folder


def _world2(w: dict) -> None:
    """Inputs of the second round of probes (issue 24)."""
    tmp = w["tmp"]
    for name, colour in (("colour2", "[0, 158]"), ("colour999", "[0, 158, 999]")):
        w[name] = _classes(_folder(tmp / name), "name: my_cells\nclasses:\n"
                           "  - {name: background, id: 0, colour: [0, 0, 0]}\n"
                           f"  - {{name: nucleus, id: 1, colour: {colour}}}\n")  # fmt: skip
    w["dupcolour"] = _classes(_folder(tmp / "dupcolour"), "name: my_cells\nclasses:\n"
                              "  - {name: background, id: 0, colour: [0, 0, 0]}\n"
                              "  - {name: nucleus, id: 1, colour: [0, 0, 0]}\n")  # fmt: skip
    w["halfid"] = _classes(_folder(tmp / "halfid"), "name: my_cells\nclasses:\n"
                           "  - {name: background, id: 0, colour: [0, 0, 0]}\n"
                           "  - {name: nucleus, id: 0.5, colour: [230, 159, 0]}\n")  # fmt: skip
    w["allbg"] = _folder(tmp / "allbg")
    for f in (w["allbg"] / "masks").iterdir():
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(f)
    # a checkpoint whose weights were changed after saving, one whose config was edited
    shutil.copytree(w["ckpt"], tmp / "tampered")
    weights = tmp / "tampered" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-4000:] = bytes(255 - b for b in data[-4000:])
    weights.write_bytes(bytes(data))
    w["tampered"] = tmp / "tampered"
    shutil.copytree(w["ckpt"], tmp / "edited")
    cfg = json.loads((tmp / "edited" / "config.json").read_text())
    cfg["num_classes"] = 5
    (tmp / "edited" / "config.json").write_text(json.dumps(cfg))
    w["edited"] = tmp / "edited"
    # a run on the folder dataset (2 classes), and a folder of the run's val names in its scheme
    w["frun"] = tmp / "frun"
    assert train_cli.main([*TINY, "--dataset", "folder", "--data-dir", str(w["data"]),
                           "--output-dir", str(w["frun"])]) == 0  # fmt: skip
    val = json.loads((w["run"] / "split.json").read_text())["split"]["val"]
    paper = get_scheme("paper")
    samples = [Sample(np.full((32, 32, 3), 90, np.uint8), np.eye(32, dtype=np.uint8), name=n,
                      group="all") for n in val]  # fmt: skip
    w["samenames"] = export_folder(samples, paper, tmp / "samenames")
    (tmp / "nosplit.json").write_text('{"parts": {}}')
    (tmp / "notjson.json").write_text("oops")
    w["file"] = tmp / "a_file.txt"
    w["file"].write_text("not a folder")
    stems = tmp / "stems"
    _images(stems / "a")
    shutil.copy(stems / "a" / "img0.png", stems / "a" / "img0.jpg")
    w["stems"] = stems
    w["dangling"] = tmp / "gone.png"
    w["dangling"].symlink_to(tmp / "nowhere.png")


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _fit_then_interrupt(monkeypatch):
    import papseg_utils.train as train

    real = train.fit

    def fit(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", fit)


def P(w, *a):  # noqa: N802 - predict argv
    return predict.main, [str(x) for x in a]


def T(w, *a):  # noqa: N802 - train argv
    return train_cli.main, [*TINY, *(str(x) for x in a)]


def E(w, *a):  # noqa: N802 - evaluate argv
    return scoring.main, [str(x) for x in a]


def S(w, *a):  # noqa: N802 - study argv
    return study.main, [str(x) for x in a]


def _sigterm_in(module, name: str):
    """A patch: ``module.name`` sends SIGTERM to this process, as a scheduler's time limit does."""
    import signal

    def patch(mp):
        def send(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM did not stop the command")

        mp.setattr(module, name, send)

    return patch


def _fit_then_sigterm(monkeypatch):
    import signal

    import papseg_utils.train as train

    real = train.fit

    def fit(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(train, "fit", fit)


def _read_only_out(monkeypatch):
    """The output folder refuses writes (a read-only mount; root ignores chmod, so it is simulated)."""
    import tempfile

    real = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        if str(kwargs.get("prefix", "")).startswith(".papseg-write-test"):
            raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)


PROBES: list[Probe] = [
    # predict: never write inputs (item 1)
    Probe("predict CKPT X/masks --out X --overwrite", "output folder holds the input folder",
          lambda w: P(w, w["ckpt"], w["X"] / "masks", "--out", w["X"], "--overwrite"), 2, "outside the inputs"),
    Probe("predict CKPT X/masks/img0.png --out X", "output mask would be the input file",
          lambda w: P(w, w["ckpt"], w["X"] / "masks" / "img0.png", "--out", w["X"]), 2, "is the input image"),
    Probe("predict CKPT X/masks --out X/masks/out", "output inside the input folder",
          lambda w: P(w, w["ckpt"], w["X"] / "masks", "--out", w["X"] / "masks" / "out"), 2, "input folder"),
    # predict: options (item 7)
    Probe("predict CKPT IMAGES --out O --overlap 1.0", "overlap out of range",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--overlap", "1.0"), 2, "--overlap 1.0"),
    Probe("predict CKPT IMAGES --out O --batch-size 0", "batch size 0",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--batch-size", "0"), 2, "--batch-size 0"),
    Probe("predict CKPT IMAGES --out O --tile-size 0", "tile size 0",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--tile-size", "0"), 2, "--tile-size 0"),
    Probe("predict CKPT IMAGES --out O --tile-size 100", "tile size not a multiple of 32",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--tile-size", "100"), 2, "multiple of 32"),
    Probe("predict CKPT IMAGES --out O --device nonsense", "unknown device",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--device", "nonsense"), 2, "--device"),
    Probe("predict CKPT IMAGES --out O --tile-size 100000", "tile larger than the image (clamped)",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o100k", "--tile-size", "100000", "--device", "cpu"), 0, "wrote 1 masks"),
    Probe("train --target-spacing-um -0.2", "target spacing negative",
          lambda w: T(w, "--target-spacing-um", "-0.2", "--output-dir", w["tmp"] / "r_sp"), 2, "--target-spacing-um"),
    Probe("train --architecture unetr --target-spacing-um 0.8", "fixed-input model at true scale",
          lambda w: T(w, "--architecture", "unetr", "--encoder", "default", "--pretrained", "none",
                      "--target-spacing-um", "0.8", "--output-dir", w["tmp"] / "r_unetr"), 2, "letterboxed"),
    Probe("train --dataset folder --data-dir D --target-spacing-um 0.2", "classes.yaml pixel_size_um negative",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["badpixel"], "--target-spacing-um", "0.2",
                      "--output-dir", w["tmp"] / "r_px"), 2, "pixel_size_um"),
    # predict: the images' pixel size (scale-true geometry)
    Probe("predict CKPT IMAGES --out O --pixel-size 0", "pixel size 0",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--pixel-size", "0"), 2, "--pixel-size"),
    Probe("predict CKPT IMAGES --out O --pixel-size nan", "pixel size NaN",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--pixel-size", "nan"), 2, "positive number of um/px"),
    Probe("predict CKPT IMAGES --out O --pixel-size 25", "pixel size absurd (25 um/px)",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--pixel-size", "25"), 2, "outside 0.01-10 um/px"),
    Probe("predict CKPT IMAGES --out O --pixel-size 0.001", "pixel size absurd (0.001 um/px)",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o", "--pixel-size", "0.001"), 2, "outside 0.01-10 um/px"),
    Probe("predict LETTERBOX-CKPT IMAGES --out O --pixel-size 0.2", "pixel size for a letterbox checkpoint",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "opx", "--pixel-size", "0.2", "--device", "cpu"), 0, "does not change its input"),
    # predict: inputs and checkpoints (item 6)
    Probe("predict MISSING IMAGES --out O", "no checkpoint there",
          lambda w: P(w, w["tmp"] / "nope", w["big"], "--out", w["tmp"] / "o"), 2, "no checkpoint"),
    Probe("predict CKPT IMAGES --out O", "model.safetensors truncated",
          lambda w: P(w, w["truncated"], w["big"], "--out", w["tmp"] / "o"), 2, "is truncated"),
    Probe("predict CKPT IMAGES --out O", "model.safetensors empty",
          lambda w: P(w, w["empty"], w["big"], "--out", w["tmp"] / "o"), 2, "is empty"),
    Probe("predict CKPT IMAGES --out O", "config.json not JSON",
          lambda w: P(w, w["badjson"], w["big"], "--out", w["tmp"] / "o"), 2, "is not valid JSON"),
    Probe("predict CKPT EMPTY --out O", "folder without images",
          lambda w: P(w, w["ckpt"], w["tmp"] / "empty_dir", "--out", w["tmp"] / "o"), 2, "no input images"),
    Probe("predict CKPT IN --out O", "an unreadable image among good ones",
          lambda w: P(w, w["ckpt"], w["tmp"] / "in", "--out", w["tmp"] / "oin", "--device", "cpu"), 1, "skipped"),
    Probe("predict CKPT IMAGES --out O, then Ctrl-C", "interrupted (item 5)",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "oint"), 130, "interrupted",
          patch=lambda mp: mp.setattr(predict, "predict_image", _interrupt)),
    # train: folder datasets (items 2 and 9)
    Probe("train --dataset folder", "no --data-dir",
          lambda w: T(w, "--dataset", "folder", "--output-dir", w["tmp"] / "t"), 2, "needs --data-dir"),
    Probe("train --dataset folder --data-dir D", "classes.yaml missing",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["noclasses"], "--output-dir", w["tmp"] / "t"), 2, "classes.yaml: missing"),
    Probe("train --dataset folder --data-dir D", "classes.yaml not YAML",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["badclasses"], "--output-dir", w["tmp"] / "t"), 2, "not valid YAML"),
    Probe("train --dataset folder --data-dir D --scheme herlev3", "scheme other than classes.yaml",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["data"], "--scheme", "herlev3", "--output-dir", w["tmp"] / "t"), 2, "omit --scheme"),
    Probe("train --dataset folder --data-dir D", "empty images/ and masks/",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["emptydata"], "--output-dir", w["tmp"] / "t"), 2, "no images"),
    Probe("train --dataset folder --data-dir D", "an image without its mask",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["unpaired"], "--output-dir", w["tmp"] / "t"), 2, "unpaired files"),
    Probe("train --dataset folder --data-dir D", "a truncated image",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["corrupt"], "--output-dir", w["tmp"] / "t"), 2, "cannot decode"),
    Probe("train --dataset herlev --scheme herlev3 --data-dir D", "mask on an unknown palette index",
          lambda w: T(w, "--dataset", "herlev", "--scheme", "herlev3", "--data-dir", w["herlev"], "--output-dir", w["tmp"] / "t"), 2, "palette indices [200]"),
    Probe("train --dataset herlev --data-dir MISSING", "data folder missing",
          lambda w: T(w, "--dataset", "herlev", "--scheme", "herlev3", "--data-dir", w["tmp"] / "nope", "--output-dir", w["tmp"] / "t"), 2, "not found"),
    # train: options and checkpoints (items 6, 9)
    Probe("train --architecture nope", "unknown architecture",
          lambda w: T(w, "--architecture", "nope", "--output-dir", w["tmp"] / "t"), 2, "unknown architecture"),
    Probe("train --pretrained MISSING.safetensors", "pretrained file missing",
          lambda w: T(w, "--pretrained", w["tmp"] / "w.safetensors", "--output-dir", w["tmp"] / "t"), 2, "no such file"),
    Probe("train --resume RUN/last", "trainer_state.pt missing",
          lambda w: T(w, "--epochs", "2", "--resume", w["nostate"], "--output-dir", w["tmp"] / "t"), 2, "trainer_state.pt not found"),
    Probe("train --scheme herlev3 --resume RUN", "checkpoint of another scheme",
          lambda w: T(w, "--scheme", "herlev3", "--resume", w["run"], "--output-dir", w["tmp"] / "t"), 2, "trained with 5 classes"),
    Probe("train ..., then Ctrl-C after epoch 1", "interrupted (item 5)",
          lambda w: T(w, "--output-dir", w["tmp"] / "tint"), 130, "--resume", patch=_fit_then_interrupt),
    # run (item 8)
    Probe("run 06_fine_tuning -p image_size abc", "value of the wrong type",
          lambda w: (runner.main, ["06_fine_tuning", "-p", "image_size", "abc", "--out", str(w["tmp"] / "r")]), 2, "is not a valid int"),
    Probe("run 06_fine_tuning --profile huge", "unknown profile",
          lambda w: (runner.main, ["06_fine_tuning", "--profile", "huge", "--out", str(w["tmp"] / "r")]), 2, "unknown profile"),
]  # fmt: skip

# ---------------------------------------------------------------- round 2 (issue 24)
PROBES += [
    # 1. never replace a run
    Probe("train --architecture fpn --output-dir RUN", "an earlier run in --output-dir, no --resume",
          lambda w: T(w, "--architecture", "fpn", "--output-dir", w["run"]), 2, "holds an earlier run"),
    # 2. verify what is loaded
    Probe("predict CKPT IMAGES --out O", "weights changed after saving (4,000 bytes flipped)",
          lambda w: P(w, w["tampered"], w["big"], "--out", w["tmp"] / "otamp"), 2, "is not the file that was saved",
          absent="otamp"),
    Probe("evaluate CKPT --dataset folder --data-dir D --split all", "weights changed after saving",
          lambda w: E(w, w["tampered"], "--dataset", "folder", "--data-dir", w["data"], "--split", "all",
                      "--out", w["tmp"] / "etamp"), 2, "is not the file that was saved", absent="etamp"),
    Probe("predict CKPT IMAGES --out O", "config.json edited (num_classes 3 -> 5)",
          lambda w: P(w, w["edited"], w["big"], "--out", w["tmp"] / "oedit"), 2, "does not fit"),
    # 3. honour every option
    Probe("study smoke --set imag_size 64", "misspelt parameter",
          lambda w: S(w, "smoke", "--set", "imag_size", "64", "--out", w["tmp"] / "st"), 2, "did you mean image_size",
          absent="st"),
    Probe("study smoke --set image_size abc", "parameter of the wrong type",
          lambda w: S(w, "smoke", "--set", "image_size", "abc", "--out", w["tmp"] / "st"), 2, "is not a valid int",
          absent="st"),
    Probe("study smoke -j 0", "no runs in parallel",
          lambda w: S(w, "smoke", "-j", "0", "--out", w["tmp"] / "st"), 2, "-j 0", absent="st"),
    Probe("study smoke -j -1", "negative runs in parallel",
          lambda w: S(w, "smoke", "-j", "-1", "--out", w["tmp"] / "st"), 2, "-j -1", absent="st"),
    # 4. stop on any signal
    Probe("train ..., then SIGTERM after epoch 1", "a scheduler's time limit",
          lambda w: T(w, "--output-dir", w["tmp"] / "tterm"), 130, "interrupted (SIGTERM)", patch=_fit_then_sigterm),
    Probe("predict CKPT IMAGES --out O, then SIGTERM", "a scheduler's time limit",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "oterm"), 130, "interrupted (SIGTERM)",
          patch=_sigterm_in(predict, "predict_image")),
    Probe("evaluate CKPT ..., then SIGTERM", "a scheduler's time limit",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--split", "val",
                      "--out", w["tmp"] / "eterm"),
          130, "interrupted (SIGTERM)", patch=_sigterm_in(scoring, "score"), absent="eterm"),
    Probe("distill --out D, then SIGTERM", "a scheduler's time limit",
          lambda w: (distill_cli.main, ["--out", str(w["tmp"] / "dterm")]), 130, "interrupted (SIGTERM)",
          patch=lambda mp: _sigterm_in(__import__("papseg_utils.distill.loop", fromlist=["x"]).Distiller, "run")(mp)),
    # 5. colours of classes.yaml
    Probe("train --dataset folder --data-dir D", "classes.yaml colour [0, 158]",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["colour2"], "--output-dir", w["tmp"] / "t"), 2, "three integers"),
    Probe("train --dataset folder --data-dir D", "classes.yaml colour [0, 158, 999]",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["colour999"], "--output-dir", w["tmp"] / "t"), 2, "from 0 to 255"),
    Probe("train --dataset folder --data-dir D", "classes.yaml: two classes of one colour",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["dupcolour"], "--output-dir", w["tmp"] / "t"), 2, "share the colour"),
    Probe("train --dataset folder --data-dir D", "classes.yaml: class id 0.5",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["halfid"], "--output-dir", w["tmp"] / "t"), 2, "has id 0.5"),
    Probe("train --dataset folder --data-dir D", "every mask background only (warned)",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["allbg"], "--output-dir", w["tmp"] / "tbg"), 0,
          "every mask is background only", show="background only"),
    # 6. a split of another dataset
    Probe("evaluate RUN --dataset folder --data-dir D --split val", "split.json made for another dataset, same file names",
          lambda w: E(w, w["run"], "--dataset", "folder", "--data-dir", w["samenames"], "--split", "val",
                      "--out", w["tmp"] / "esplit"), 2, "was made for dataset 'synthetic'", absent="esplit"),
    # 7. evaluate: messages, not tracebacks
    Probe("evaluate CKPT --dataset folder --data-dir D --split all", "checkpoint of another scheme than the folder's",
          lambda w: E(w, w["ckpt"], "--dataset", "folder", "--data-dir", w["data"], "--split", "all",
                      "--out", w["tmp"] / "e"), 2, "defines the scheme 'my_cells'", absent="e"),
    Probe("evaluate FOLDER-RUN --dataset synthetic --split all", "dataset without the checkpoint's scheme",
          lambda w: E(w, w["frun"], "--dataset", "synthetic", "--split", "all", "--out", w["tmp"] / "e"),
          2, "predicts the scheme 'my_cells'", absent="e"),
    Probe("evaluate CKPT --dataset nope", "unknown dataset",
          lambda w: E(w, w["ckpt"], "--dataset", "nope", "--out", w["tmp"] / "e"), 2, "--dataset 'nope'", absent="e"),
    Probe("evaluate CKPT --tta d8", "unknown TTA",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--tta", "d8",
                      "--out", w["tmp"] / "e"), 2, "--tta 'd8'", absent="e"),
    Probe("evaluate CKPT --n-boot 0", "no bootstrap resamples",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--n-boot", "0",
                      "--out", w["tmp"] / "e"), 2, "--n-boot 0", absent="e"),
    Probe("evaluate CKPT --n-boot -5", "negative bootstrap resamples",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--n-boot", "-5",
                      "--out", w["tmp"] / "e"), 2, "--n-boot -5", absent="e"),
    Probe("evaluate CKPT --tile-size 0", "tile size 0",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--tile-size", "0",
                      "--out", w["tmp"] / "e"), 2, "--tile-size 0", absent="e"),
    Probe("evaluate CKPT --tile-size 100", "tile size not a multiple of 32",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--tile-size", "100",
                      "--out", w["tmp"] / "e"), 2, "multiple of 32", absent="e"),
    Probe("evaluate CKPT --split FILE", "a JSON file without 'split'",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--split",
                      w["tmp"] / "nosplit.json", "--out", w["tmp"] / "e"), 2, "not a split file", absent="e"),
    Probe("evaluate CKPT --split FILE", "a split file that is not JSON",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--split",
                      w["tmp"] / "notjson.json", "--out", w["tmp"] / "e"), 2, "not a split file", absent="e"),
    Probe("evaluate CKPT --dataset folder", "no --data-dir",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--out", w["tmp"] / "e"), 2, "needs --data-dir", absent="e"),
    Probe("evaluate CKPT --dataset folder --data-dir D --split all", "an image without its mask",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["unpaired"], "--split", "all",
                      "--out", w["tmp"] / "e"), 2, "unpaired files", absent="e"),
    # 8. output paths
    Probe("predict CKPT IMAGES --out FILE", "--out is a file",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["file"]), 2, "is a file"),
    Probe("predict CKPT IMAGES --out READ-ONLY", "--out cannot be written",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "oro"), 2, "cannot write there", patch=_read_only_out,
          absent="oro"),
    Probe("train --output-dir FILE", "--output-dir is a file",
          lambda w: T(w, "--output-dir", w["file"]), 2, "is a file"),
    Probe("distill --out FILE", "--out is a file",
          lambda w: (distill_cli.main, ["--out", str(w["file"])]), 2, "is a file"),
    Probe("study smoke --aggregate-only --out MISSING", "no study in that folder",
          lambda w: S(w, "smoke", "--aggregate-only", "--out", w["tmp"] / "nostudy"), 2, "holds no runs",
          absent="nostudy"),
    Probe("evaluate CKPT --out FILE", "--out is a file",
          lambda w: E(w, w["frun"], "--dataset", "folder", "--data-dir", w["data"], "--out", w["file"]), 2, "is a file"),
    # 9. resume with other options
    Probe("train --architecture fpn --resume RUN", "resume with another architecture",
          lambda w: T(w, "--architecture", "fpn", "--resume", w["run"], "--output-dir", w["tmp"] / "t"), 2,
          "trained with architecture unet"),
    Probe("train --image-size 64 --resume RUN", "resume at another --image-size",
          lambda w: T(w, "--image-size", "64", "--resume", w["run"], "--output-dir", w["tmp"] / "t"), 2,
          "trained with 32 px letterbox"),
    # 10. advice in the command's words
    Probe("train --dataset folder --image-head health", "an image head the data cannot label",
          lambda w: T(w, "--dataset", "folder", "--data-dir", w["data"], "--image-head", "health",
                      "--output-dir", w["tmp"] / "t"), 2, "--image-head health"),
    # 11. predict inputs
    Probe("predict CKPT a/ (a/img0.png, a/img0.jpg) --out O", "two inputs with one output name",
          lambda w: P(w, w["ckpt"], w["stems"] / "a", "--out", w["tmp"] / "ostem"), 2, "would all be written to masks/img0.png",
          absent="ostem"),
    Probe("predict CKPT IMAGES DANGLING-LINK --out O", "a named input that is a dangling link",
          lambda w: P(w, w["ckpt"], w["big"], w["dangling"], "--out", w["tmp"] / "olink", "--device", "cpu"), 1,
          "skipped 1"),
    # 12. accepted silently before: now refused or warned
    Probe("train --batch-size 16", "batch larger than the training set (warned)",
          lambda w: T(w, "--batch-size", "16", "--output-dir", w["tmp"] / "tbatch"), 0, "larger than the training set",
          show="--batch-size 16"),
    Probe("train --val-fraction -0.2", "negative validation share",
          lambda w: T(w, "--val-fraction", "-0.2", "--output-dir", w["tmp"] / "t"), 2, "--val-fraction -0.2"),
    Probe("train --val-fraction 0.9 --test-fraction 0.15", "nothing left to train on",
          lambda w: T(w, "--val-fraction", "0.9", "--test-fraction", "0.15", "--output-dir", w["tmp"] / "t"), 2,
          "leaving none to train on"),
    Probe("train --val-fraction 0.6 (no test part)", "only 40 % left to train on (warned)",
          lambda w: T(w, "--val-fraction", "0.6", "--output-dir", w["tmp"] / "tval"), 0, "leave only 40%",
          show="leave only"),
    Probe("train --val-fraction 0.9 (6 images, no test part)", "one image left to train on",
          lambda w: T(w, "--val-fraction", "0.9", "--output-dir", w["tmp"] / "t"), 2, "the training set has 1 image"),
    # 13. exit codes: bad input is 2
    Probe("predict CKPT IMAGES --out O (outputs exist)", "outputs exist, no --overwrite",
          lambda w: P(w, w["ckpt"], w["big"], "--out", w["tmp"] / "o100k"), 2, "pass --overwrite"),
]  # fmt: skip


def _hash_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _call(main, argv: list[str]) -> tuple[int, str]:
    """Run ``main(argv)``; return its exit code and what it printed or logged to stderr."""
    err = io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.ERROR)
    logger = logging.getLogger("papseg_utils.book.runner")
    logger.addHandler(handler)
    warnings = logging.StreamHandler(err)  # what the data loaders warn about
    warnings.setLevel(logging.WARNING)
    data_logger = logging.getLogger("papseg_utils.data")
    data_logger.addHandler(warnings)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
            code = main(argv)
    finally:
        logger.removeHandler(handler)
        data_logger.removeHandler(warnings)
    return code, err.getvalue()


def _message(text: str, tmp: Path, show: str = "") -> str:
    """The line of the output that says what went wrong, with paths made generic.

    ``show``: the first line holding it instead (a warning of a command that goes on).
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    keys = ("error", "interrupted", "wrote", "skipped")
    line = next((x for x in lines if x.startswith(keys)), lines[-1] if lines else "")
    if show:
        line = next(x for x in lines if show in x)
    line = line.replace(str(tmp.resolve()), "TMP").replace(str(tmp), "TMP")
    line = re.sub(r"\b[0-9a-f]{16}\.\.\.", "HASH...", line)  # differs between runs
    return re.sub(r"\d+(\.\d+)? s\b", "N s", line)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: list[tuple[Probe, int, str]]) -> str:
    """The markdown table of ``docs/BAD_INPUTS.md``."""
    head = [
        "# Bad inputs: messages and exit codes",
        "",
        "Generated by `tests/test_bad_inputs.py` from the probes it runs (do not edit by hand;",
        "regenerate with `PAPSEG_WRITE_DOCS=1 python -m pytest tests/test_bad_inputs.py`).",
        "Paths under the test's temporary folder are shown as `TMP`. Exit codes: 0 done,",
        "1 failed or some inputs skipped, 2 bad input (nothing was run or written), 130 stopped",
        "by Ctrl-C, SIGTERM (a scheduler's time limit, `timeout`, `kill`) or SIGHUP.",
        "In every case the user's folders are unchanged (checked with hashes).",
        "",
        "| Command | Bad input | Exit | Message |",
        "|---|---|---|---|",
    ]
    body = [f"| `{p.command}` | {p.bad_input} | {code} | {_cell(msg)} |" for p, code, msg in rows]
    return "\n".join(head + body) + "\n"


def test_bad_inputs_give_clear_messages_and_the_table_is_current(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    world = _world(tmp_path / "w")
    user = {k: v for k, v in world.items() if k in ("X", "data", "noclasses", "badclasses",
            "unpaired", "corrupt", "herlev", "big", "badpixel", "run", "frun", "colour2",
            "colour999", "dupcolour", "halfid", "allbg", "samenames", "stems", "tampered",
            "edited")}  # fmt: skip
    before = {k: _hash_tree(v) for k, v in user.items()}
    rows = []
    for probe in PROBES:
        with monkeypatch.context() as mp:
            if probe.patch is not None:
                probe.patch(mp)
            main, argv = probe.argv(world)
            code, text = _call(main, argv)
        msg = _message(text, world["tmp"], probe.show)
        if probe.absent:
            assert not (world["tmp"] / probe.absent).exists(), (
                f"{probe.command}: wrote {probe.absent}"
            )
        assert code == probe.code, (
            f"{probe.command} ({probe.bad_input}): exit {code}\n{text[-2000:]}"
        )
        assert probe.fragment in text, f"{probe.command} ({probe.bad_input}): {text[-2000:]}"
        assert "Traceback" not in text, text
        rows.append((probe, code, msg))
    assert {k: _hash_tree(v) for k, v in user.items()} == before  # nothing in them changed
    table = render(rows)
    if os.environ.get("PAPSEG_WRITE_DOCS"):
        DOC.write_text(table, encoding="utf-8")
    assert DOC.is_file() and DOC.read_text(encoding="utf-8") == table, (
        f"{DOC} is out of date; regenerate it with "
        "PAPSEG_WRITE_DOCS=1 python -m pytest tests/test_bad_inputs.py"
    )
