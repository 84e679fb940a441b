"""``python -m papseg_utils train``: the fine-tuning chapter's training run as a command.

    python -m papseg_utils train [--architecture unet] [--encoder tf_efficientnet_lite0]
        [--pretrained imagenet] [--dataset synthetic] [--data-dir DIR] [--scheme paper]
        [--augmentation medical] [--image-size 128] [--num-train-images 96]
        [--val-fraction 0.2] [--test-fraction 0.15] [--split-seed 0] [--data-fraction 1.0]
        [--seed 0] [--output-dir runs/fine_tuning] [--epochs 20] [--batch-size 8]
        [--lr 1e-3] [--lr-encoder 1e-4] [--freeze-epochs 1] [--warmup-epochs 1.0]
        [--loss dice_ce] [--precision auto] [--max-steps-per-epoch 0] [--device auto]
        [--resume PATH] [--config YAML]

Options and defaults are the parameters of ``notebooks/06_fine_tuning.ipynb``
(``--epochs`` is its ``num_epochs``); the set-up is
:func:`papseg_utils.train.recipe.prepare_training` and the loop
:func:`papseg_utils.train.fit`, so the command and the notebook train the same
model. ``--config`` reads a YAML mapping of the same keys (``num_epochs`` or
``epochs``, underscores or dashes); flags given on the command line win.

Several GPUs: the same command under ``torchrun`` (one process per GPU,
``--batch-size`` is the global batch, split across the processes)::

    torchrun --standalone --nproc_per_node 4 -m papseg_utils train --batch-size 32 ...

Writes to ``--output-dir``: ``split.json``, ``train_args.json`` (the resolved
options), ``history.csv``/``history.json`` and the ``best/`` and ``last/``
checkpoints. Prints one summary line at the end (rank 0 only).

With ``--dataset folder`` the label scheme is the folder's ``classes.yaml``
(any name and number of classes; ``--scheme`` may be left out). ``--resume``
keeps the earlier ``train_args.json`` as ``train_args.N.json``. A run that
fails before its first checkpoint removes the output folder it created.

Exit codes: 0 trained; 1 training failed (pretrained weights unavailable,
non-finite loss, out of memory); 2 bad usage (unknown name, missing data
folder or file, missing or malformed classes.yaml, invalid value, damaged or
incompatible checkpoint); 130 interrupted (Ctrl-C: one line says how to
continue with ``--resume``; SIGTERM, as a scheduler's time limit sends it, and
SIGHUP stop it the same way). An ``--output-dir`` that holds an earlier run is
refused unless ``--resume`` or ``--overwrite`` is given; ``--resume`` refuses a
checkpoint whose architecture, encoder, classes or geometry differ from the
options, before any weights are loaded.

The options are parsed by :mod:`papseg_utils.train.cli_options` and checked by
:mod:`papseg_utils.train.cli_checks`; this module runs the training.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from papseg_utils.cli_text import for_command_line
from papseg_utils.train.cli_checks import (
    RUN_FILES,
    check_new_run,
    check_options,
    check_resume,
    resume_folder,
)
from papseg_utils.train.cli_options import (
    ALIASES,
    FLAGS,
    IGNORED,
    PATHS,
    PRECISIONS,
    UsageError,
    build_parser,
    read_config,
    read_profile,
    resolve_args,
)
from papseg_utils.train.parameters import PARAMETERS, TRAIN_KEYS, train_config

__all__ = [
    "ALIASES",
    "FLAGS",
    "IGNORED",
    "PARAMETERS",
    "PATHS",
    "PRECISIONS",
    "RUN_FILES",
    "UsageError",
    "build_parser",
    "main",
    "read_config",
    "read_profile",
    "resolve_args",
]


def _summary(p: dict[str, Any], history, world: int, seconds: float) -> str:
    """The one line printed at the end: what was trained, how long, the best score, where."""
    epochs = len(history.rows)
    head = (
        f"trained {p['architecture']}/{p['encoder']} ({p['pretrained']}) on {p['dataset']} "
        f"[{p['scheme']}], {world} process(es), {epochs} epoch(s) in {seconds:.1f} s"
    )
    if history.best_epoch is not None:
        score = f"best epoch {history.best_epoch}, val mean Dice {history.best_score:.3f}"
    else:
        score = "no validation"
    return f"{head}: {score} ({history.stop_reason}); outputs in {p['output_dir']}"


def main(argv: list[str] | None = None) -> int:
    """Run the train command; returns the exit code (0 ok, 1 training failed, 2 bad usage)."""
    from papseg_utils import signals

    signals.stop_on_signals()  # SIGTERM (a Slurm time limit) and SIGHUP stop it like Ctrl-C
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    prefix = f"[rank {rank}] " if world > 1 else ""

    def fail(err: BaseException | str, code: int) -> int:
        msg = err if isinstance(err, str) else (err.args[0] if err.args else str(err))
        print(f"{prefix}error: {for_command_line(str(msg))}", file=sys.stderr)
        return code

    try:
        p = resolve_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a malformed flag (2, message printed)
        return int(exit_.code or 0)
    except UsageError as err:
        return fail(err, 2)
    overwrite = p.pop("overwrite", False)
    try:
        check_options(p)
        if rank == 0:
            check_new_run(p, overwrite)
        resume = resume_folder(p["resume"]) if p["resume"] else None
        if resume is not None:
            check_resume(p, resume)
    except UsageError as err:
        return fail(err, 2)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("papseg_utils").setLevel(logging.INFO if rank == 0 else logging.WARNING)

    try:
        config = train_config(p, progress=sys.stderr.isatty())
    except ValueError as err:
        return fail(err, 2)

    output_dir = Path(p["output_dir"])
    created = rank == 0 and not output_dir.exists()
    try:
        code = _train(p, config, resume, argv, rank, world, fail)
    except KeyboardInterrupt:
        code = 130
        print(f"{prefix}{_interrupted(output_dir)}", file=sys.stderr, flush=True)
    if code != 0 and created:
        _remove_unfinished(output_dir)
    return code


def _set_up(p: dict[str, Any], rank: int, fail) -> tuple | int:
    """:func:`~papseg_utils.train.recipe.prepare_training` with its failures as exit codes.

    Returns ``(model, train_ds, val_ds, scheme)``, or the exit code (1 or 2, the error
    printed by ``fail``) when the run cannot be set up or its training set is too small.
    """
    from papseg_utils.data import DatasetError
    from papseg_utils.data.splits import SplitError
    from papseg_utils.models import ModelConfigError, WeightsUnavailableError
    from papseg_utils.train.recipe import prepare_training

    try:
        model, train_ds, val_ds, scheme, _split = prepare_training(
            **{k: p[k] for k in PARAMETERS if k not in ("resume", *TRAIN_KEYS)}
        )
    except (KeyError, ModelConfigError, DatasetError, FileNotFoundError) as err:
        return fail(err, 2)
    except SplitError as err:  # a split too small for its fractions
        return fail(
            f"cannot set up the run: {err} (with few images, change --val-fraction, "
            "--test-fraction or --num-train-images)",
            2,
        )
    except ValueError as err:  # e.g. an image head the data cannot label
        return fail(f"cannot set up the run: {err}", 2)
    except WeightsUnavailableError as err:
        return fail(err, 1)
    if len(train_ds) == 0:
        return fail("the training set is empty; lower --val-fraction/--test-fraction", 2)
    if len(train_ds) < 2:
        return fail(
            f"the training set has {len(train_ds)} image; batch normalisation needs at least 2. "
            "Lower --val-fraction/--test-fraction or give more images",
            2,
        )
    if rank == 0 and p["batch_size"] > len(train_ds):
        print(f"warning: --batch-size {p['batch_size']} is larger than the training set "
              f"({len(train_ds)} images): every step uses all {len(train_ds)}",
              file=sys.stderr)  # fmt: skip
    return model, train_ds, val_ds, scheme


def _train(p, config, resume, argv, rank: int, world: int, fail) -> int:
    """Set up and run :func:`fit` (the body of :func:`main`); returns the exit code."""
    from papseg_utils.train import NonFiniteLossError, TrainingOOMError, fit
    from papseg_utils.train.checkpoint import CheckpointError, check_resumable

    start = time.perf_counter()
    set_up = _set_up(p, rank, fail)
    if isinstance(set_up, int):
        return set_up
    model, train_ds, val_ds, scheme = set_up
    try:
        if resume is not None:
            check_resumable(resume, scheme.num_classes)
    except CheckpointError as err:
        return fail(err, 2)

    output_dir = Path(p["output_dir"])
    if rank == 0:
        _write_train_args(output_dir, {**p, "world_size": world}, argv)
    try:
        history = fit(
            model,
            train_ds,
            val_ds if len(val_ds) else None,
            config,
            output_dir,
            scheme=scheme,
            resume_from=resume,
        )
    except (NonFiniteLossError, TrainingOOMError) as err:
        return fail(err, 1)
    except CheckpointError as err:
        return fail(err, 2)
    if rank == 0:
        print(_summary(p, history, world, time.perf_counter() - start), flush=True)
    return 0


def _write_train_args(output_dir: Path, record: dict[str, Any], argv: list[str] | None) -> None:
    """Write the resolved options and the command line to ``output_dir/train_args.json``."""
    record = {**record, "argv": list(sys.argv if argv is None else argv)}
    _keep_previous(output_dir / "train_args.json")
    (output_dir / "train_args.json").write_text(json.dumps(record, indent=1))


def _keep_previous(path: Path) -> None:
    """Rename an earlier ``train_args.json`` to ``train_args.N.json`` (a resumed run keeps both)."""
    if not path.is_file():
        return
    n = 1
    while path.with_name(f"{path.stem}.{n}{path.suffix}").exists():
        n += 1
    path.rename(path.with_name(f"{path.stem}.{n}{path.suffix}"))


def _interrupted(output_dir: Path) -> str:
    """The one line printed on Ctrl-C: where the last checkpoint is and how to continue."""
    from papseg_utils.train.checkpoint import CONFIG_FILE

    last = output_dir / "last"
    from papseg_utils.signals import received

    if (last / CONFIG_FILE).is_file():
        return (
            f"interrupted ({received()}): the last checkpoint is {last}; continue with the same "
            f"command and --resume {last}"
        )
    return f"interrupted ({received()}) before the first checkpoint was written; nothing to resume"


def _remove_unfinished(output_dir: Path) -> None:
    """Remove what a failed run created in a new ``output_dir`` when it holds no checkpoint."""
    if not output_dir.is_dir() or any((output_dir / s).exists() for s in ("best", "last")):
        return
    ours = {"split.json", "train_args.json", "history.csv", "history.json"}
    if all(f.name in ours and f.is_file() for f in output_dir.iterdir()):
        for f in output_dir.iterdir():
            f.unlink()
        output_dir.rmdir()


if __name__ == "__main__":
    sys.exit(main())
