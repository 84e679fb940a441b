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
from papseg_utils import run as runner
from papseg_utils.data.base import Sample
from papseg_utils.data.folder import export_folder
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
    return w


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
    logger = logging.getLogger("papseg_utils.run")
    logger.addHandler(handler)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
            code = main(argv)
    finally:
        logger.removeHandler(handler)
    return code, err.getvalue()


def _message(text: str, tmp: Path) -> str:
    """The line of the output that says what went wrong, with paths made generic."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    keys = ("error", "interrupted", "wrote", "skipped")
    line = next((x for x in lines if x.startswith(keys)), lines[-1] if lines else "")
    line = line.replace(str(tmp.resolve()), "TMP").replace(str(tmp), "TMP")
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
        "1 failed or some inputs skipped, 2 bad input (nothing was run or written), 130 Ctrl-C.",
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
            "unpaired", "corrupt", "herlev", "big", "badpixel")}  # fmt: skip
    before = {k: _hash_tree(v) for k, v in user.items()}
    rows = []
    for probe in PROBES:
        with monkeypatch.context() as mp:
            if probe.patch is not None:
                probe.patch(mp)
            main, argv = probe.argv(world)
            code, text = _call(main, argv)
        msg = _message(text, world["tmp"])
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
