"""``train`` on interrupts, damaged checkpoints and bad options: one line, the right exit code.

Regression tests of issue 10 (items 5, 6, 9 and 10): Ctrl-C prints one line
naming ``--resume <run>/last`` and exits 130 with a consistent checkpoint; a
damaged or incompatible ``--resume`` checkpoint exits 2 naming the file; a
missing ``--pretrained`` file exits 2; command-line messages never advise
Python-only keywords; a failed run leaves no empty output folder; ``--resume``
keeps the earlier ``train_args.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from papseg_utils import cli_text
from papseg_utils.train import checkpoint as ckpt
from papseg_utils.train import cli

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--architecture", "unet", "--encoder", "tf_efficientnet_lite0", "--pretrained", "none",
    "--num-train-images", "6", "--image-size", "32", "--test-fraction", "0",
    "--epochs", "1", "--batch-size", "2", "--max-steps-per-epoch", "1",
    "--freeze-epochs", "0", "--warmup-epochs", "0", "--device", "cpu", "--augmentation", "none",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished 1-epoch run (last/ and best/)."""
    out = tmp_path_factory.mktemp("run") / "run"
    assert cli.main([*TINY, "--output-dir", str(out)]) == 0
    return out


def _stderr_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_ctrl_c_after_a_checkpoint_names_resume(tmp_path, capsys, monkeypatch):
    import papseg_utils.train as train

    real_fit = train.fit

    def fit_then_ctrl_c(*args, **kwargs):
        real_fit(*args, **kwargs)  # writes last/ and best/
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", fit_then_ctrl_c)
    out = tmp_path / "run"
    code = cli.main([*TINY, "--output-dir", str(out)])
    lines = _stderr_lines(capsys)
    assert code == 130
    assert len(lines) == 1, lines
    assert f"--resume {out / 'last'}" in lines[0]
    assert ckpt.load_config(out / "last")["epoch"] == 1  # the checkpoint is consistent
    assert ckpt.load_trainer_state(out / "last")["epoch"] == 1


def test_ctrl_c_before_any_checkpoint_leaves_nothing(tmp_path, capsys, monkeypatch):
    import papseg_utils.train as train

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", ctrl_c)
    out = tmp_path / "run"
    code = cli.main([*TINY, "--output-dir", str(out)])
    lines = _stderr_lines(capsys)
    assert code == 130 and len(lines) == 1 and "nothing to resume" in lines[0], lines
    assert not out.exists()  # item 10: no empty folder left behind


def test_failed_run_removes_the_output_folder_it_created(tmp_path, capsys, monkeypatch):
    import papseg_utils.train as train
    from papseg_utils.train import NonFiniteLossError

    def diverge(*args, **kwargs):
        raise NonFiniteLossError("loss became nan at step 1; lower --lr")

    monkeypatch.setattr(train, "fit", diverge)
    out = tmp_path / "run"
    assert cli.main([*TINY, "--output-dir", str(out)]) == 1
    assert "nan" in capsys.readouterr().err
    assert not out.exists()
    # a folder that existed before is left alone
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main([*TINY, "--output-dir", str(out)]) == 1
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("damage", "fragment", "file"),
    [
        (
            lambda f: (f / "trainer_state.pt").unlink(),
            "trainer_state.pt not found",
            "trainer_state.pt",
        ),
        (
            lambda f: (f / "model.safetensors").write_bytes(b""),
            "is empty (0 bytes)",
            "model.safetensors",
        ),
        (
            lambda f: (f / "model.safetensors").write_bytes(
                (f / "model.safetensors").read_bytes()[:5000]
            ),
            "is truncated",
            "model.safetensors",
        ),
        (lambda f: (f / "config.json").write_text("{oops"), "is not valid JSON", "config.json"),
    ],
)
def test_damaged_resume_checkpoint_exits_2(run_dir, tmp_path, capsys, damage, fragment, file):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    damage(copy / "last")
    out = tmp_path / "again"
    code = cli.main(
        [*TINY, "--epochs", "2", "--output-dir", str(out), "--resume", str(copy / "last")]
    )
    lines = _stderr_lines(capsys)
    assert code == 2
    assert len(lines) == 1 and fragment in lines[0] and str(copy / "last" / file) in lines[0], lines


def test_resume_with_another_scheme_exits_2(run_dir, tmp_path, capsys):
    code = cli.main(
        [
            *TINY,
            "--scheme",
            "herlev3",
            "--output-dir",
            str(tmp_path / "o"),
            "--resume",
            str(run_dir),
        ]
    )
    lines = _stderr_lines(capsys)
    assert code == 2
    assert len(lines) == 1 and "trained with 5 classes, this run has 3" in lines[0], lines
    assert "Missing key" not in lines[0]


def test_resume_keeps_the_earlier_train_args(run_dir, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    first = json.loads((run / "train_args.json").read_text())
    code = cli.main([*TINY, "--epochs", "2", "--output-dir", str(run), "--resume", str(run)])
    assert code == 0, capsys.readouterr().err
    assert json.loads((run / "train_args.1.json").read_text()) == first
    assert json.loads((run / "train_args.json").read_text())["resume"] == str(run)


def test_missing_pretrained_file_exits_2(tmp_path, capsys):
    missing = tmp_path / "weights.safetensors"
    code = cli.main([*TINY, "--pretrained", str(missing), "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(missing) in err and "no such file" in err
    assert not (tmp_path / "o").exists()


def test_messages_give_command_line_options_not_python_keywords(tmp_path, capsys):
    import numpy as np

    from papseg_utils.data.base import Sample
    from papseg_utils.data.folder import export_folder
    from papseg_utils.labels import get_scheme

    data = export_folder(
        [
            Sample(
                np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), name=f"s{i}", group="all"
            )
            for i in range(4)
        ],
        get_scheme("herlev3"),
        tmp_path / "data",
    )
    (data / "masks" / "s0.png").unlink()  # an image without its mask
    code = cli.main(
        [*TINY, "--dataset", "folder", "--data-dir", str(data), "--output-dir", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "unpaired files" in err
    assert "strict_pairs" not in err and "=False" not in err


def test_every_python_hint_rewritten_exists_in_the_library():
    """The rewrite table stays true: each Python hint it replaces is in papseg_utils' messages."""
    source = "".join(p.read_text(encoding="utf-8") for p in (REPO / "papseg_utils").rglob("*.py"))
    source = source.replace('"\n', "").replace('    "', "")  # join implicitly concatenated strings
    missing = [hint for hint in cli_text.PYTHON_HINTS if hint not in source]
    assert not missing, f"hints no longer in any message: {missing}"
    assert "--pretrained none" in cli_text.for_command_line("... or pretrained='none'.")
