"""``python -m papseg_utils train``: the fine-tuning recipe as a command, alone and under torchrun.

Tiny synthetic runs (8 images of 64 px, 1 epoch, 2 steps, random init) so each
test takes seconds on a CPU; the torchrun test uses 2 processes and gloo.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from papseg_utils.train import cli

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--architecture", "unet", "--encoder", "tf_efficientnet_lite0", "--pretrained", "none",
    "--num-train-images", "8", "--image-size", "64", "--test-fraction", "0",
    "--epochs", "1", "--batch-size", "2", "--max-steps-per-epoch", "2",
    "--freeze-epochs", "0", "--warmup-epochs", "0", "--device", "cpu",
]  # fmt: skip


def _run(cmd: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "NO_ALBUMENTATIONS_UPDATE": "1",
    }
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _summary_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("trained unet/")]


def test_single_process_writes_checkpoint_history_and_split(tmp_path):
    out = tmp_path / "run"
    res = _run([sys.executable, "-m", "papseg_utils", "train", *TINY, "--output-dir", str(out)])
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert (out / "best" / "model.safetensors").is_file()
    assert (out / "last" / "model.safetensors").is_file()
    assert (out / "history.csv").is_file()
    split = json.loads((out / "split.json").read_text())["split"]
    assert len(split["train"]) == 6 and len(split["val"]) == 2 and split["test"] == []
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["image_size"] == 64  # recorded for inference
    lines = _summary_lines(res.stdout)
    assert len(lines) == 1 and "1 process(es), 1 epoch(s)" in lines[0], res.stdout


def test_unknown_architecture_lists_valid_names(tmp_path, capsys):
    from papseg_utils.models import list_models

    code = cli.main(["--architecture", "nope", "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown architecture 'nope'" in err
    assert all(name in err for name in list_models())
    assert not (tmp_path / "run").exists()  # nothing written on bad input


def test_missing_data_folder_says_how_to_get_it(tmp_path, capsys):
    missing = tmp_path / "no_such_folder"
    code = cli.main(["--dataset", "herlev", "--scheme", "herlev3", "--data-dir", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(missing) in err and "--data-dir" in err and "PAPSEG_HERLEV_DIR" in err
    assert "smear2005" in err  # how to obtain it


def test_config_file_is_overridden_by_flags(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("epochs: 3\nlr: 1e-4\nimage-size: 96\nnum_show: 2\n")
    params = cli.resolve_args(["--config", str(cfg), "--epochs", "5"])
    assert params["num_epochs"] == 5 and params["lr"] == 1e-4 and params["image_size"] == 96
    assert params["architecture"] == "unet" and params["batch_size"] == 8  # notebook defaults
    cfg.write_text("bogus: 1\n")
    assert cli.main(["--config", str(cfg)]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    out = tmp_path / "run"
    res = _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",  # what the torchrun script runs
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "papseg_utils",
            "train",
            *TINY,
            "--output-dir",
            str(out),
        ],
        timeout=180,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    lines = _summary_lines(res.stdout)
    assert len(lines) == 1 and "2 process(es)" in lines[0], res.stdout  # rank 0 only
    assert sorted(p.name for p in out.iterdir()) == [
        "best",
        "history.csv",
        "history.json",
        "last",
        "split.json",
        "train_args.json",
    ]
    assert sorted(p.name for p in (out / "last").iterdir()) == [
        "config.json",
        "model.safetensors",
        "trainer_state.pt",
    ]
    assert json.loads((out / "train_args.json").read_text())["world_size"] == 2


def test_defaults_match_the_notebook_parameters():
    import ast

    nb = json.loads((REPO / "notebooks" / "06_fine_tuning.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    nb_params = {n.target.id: ast.literal_eval(n.value) for n in tree.body}
    cli_params = cli.resolve_args([])
    for name, value in nb_params.items():
        if name in cli.IGNORED:
            continue
        assert cli_params[name] == value, (
            f"{name}: notebook {value!r}, command {cli_params[name]!r}"
        )


def test_profile_reads_the_notebook_recipe_and_flags_win():
    params = cli.resolve_args(["--profile", "herlev-best", "--epochs", "3", "--cv-folds", "5"])
    assert params["image_head"] == "health" and params["image_size"] == 224
    scale_true = cli.resolve_args(["--profile", "herlev-scale-true"])
    assert scale_true["target_spacing_um"] == 0.201 and scale_true["image_size"] == 256
    assert params["num_epochs"] == 3 and params["cv_folds"] == 5
    assert params["output_dir"] == cli.PARAMETERS["output_dir"][1]  # the templated path is left out
    with pytest.raises(cli.UsageError, match="no such profile"):
        cli.resolve_args(["--profile", "nope"])


def test_parameters_are_declared_once():
    """The notebook's parameters cell, the command and prepare_training all come from PARAMETERS."""
    import inspect

    import nbformat

    from papseg_utils.train import parameters as P
    from papseg_utils.train.recipe import prepare_training

    nb = nbformat.read(REPO / "notebooks" / "06_fine_tuning.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert cell.source == P.parameters_cell(), (
        "the parameters cell of notebook 06 differs from papseg_utils.train.parameters: run "
        "python -m papseg_utils.train.parameters"
    )
    assert list(inspect.signature(prepare_training).parameters) == ["params"]
    with pytest.raises(TypeError, match="unknown parameter.*epochs"):
        prepare_training(epochs=3)
    options = {a.dest for a in cli.build_parser()._actions if a.dest != "help"}
    assert set(P.PARAMETERS) <= options
    config = P.train_config({"num_epochs": 3, "max_steps_per_epoch": 0})
    assert config.num_epochs == 3 and config.max_steps_per_epoch is None
    assert config.lr == P.PARAMETERS["lr"][1]


def test_papermill_parses_every_rendered_parameter():
    """A help text papermill cannot parse (e.g. one with "=") would drop a parameter silently."""
    import papermill

    from papseg_utils.train import parameters as P

    declared = papermill.inspect_notebook(str(REPO / "notebooks" / "06_fine_tuning.ipynb"))
    expected = [k for k in P.PARAMETERS if k not in P.COMMAND_ONLY] + list(P.NOTEBOOK_ONLY)
    assert sorted(declared) == sorted(expected)
