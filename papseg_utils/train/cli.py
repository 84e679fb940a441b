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
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from papseg_utils.cli_text import for_command_line
from papseg_utils.train.parameters import PARAMETERS, TRAIN_KEYS, train_config

# flag -> parameter where they differ
FLAGS = {"num_epochs": ("--epochs", "--num-epochs")}
# keys a --config file may hold besides PARAMETERS: aliases, and notebook-only knobs ignored here
ALIASES = {"epochs": "num_epochs"}
IGNORED = {"num_show"}  # plots only
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PATHS = ("data_dir", "output_dir", "resume")
# what a run writes into its output folder: any of them means the folder holds a run
RUN_FILES = ("best", "last", "history.csv", "train_args.json")


class UsageError(Exception):
    """Bad options: printed as ``error: ...``, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m papseg_utils train",
        description="Fine-tune a segmentation network (the fine-tuning chapter as a command); "
        "run it under torchrun for several GPUs.",
        epilog="Multi-GPU: torchrun --standalone --nproc_per_node N -m papseg_utils train ...",
        argument_default=argparse.SUPPRESS,  # only flags given appear: they override --config
    )
    for name, (typ, default, help_) in PARAMETERS.items():
        flags = FLAGS.get(name, ("--" + name.replace("_", "-"),))
        metavar = {int: "N", float: "X"}.get(typ, "PATH" if name in PATHS else "NAME")
        p.add_argument(
            *flags, dest=name, type=typ, metavar=metavar, help=f"{help_} (default: {default!r})"
        )
    p.add_argument("--config", metavar="YAML", help="YAML file of the same keys; flags win")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in --output-dir (without it, train refuses; see --resume)",
    )
    p.add_argument(
        "--profile",
        metavar="NAME",
        help="a profile of notebooks/profiles/06_fine_tuning.yaml (e.g. herlev-best); "
        "--config and flags win over it",
    )
    return p


def _coerce(key: str, value: Any, origin: str) -> Any:
    """``value`` of a ``--config`` file as the parameter's type; bad values raise :class:`UsageError`."""
    typ = PARAMETERS[key][0]
    if value is None and key in ("data_dir", "resume"):
        return ""
    ok = not isinstance(value, bool) and (
        (typ is int and isinstance(value, int))
        or (typ is float and isinstance(value, int | float | str))
        or (typ is str and isinstance(value, str | int | float))
    )
    try:
        if ok:
            return typ(value)  # float("1e-4"): YAML reads 1e-4 (no dot) as a string
    except ValueError:
        pass
    raise UsageError(f"{origin}: {key}={value!r} is not a valid {typ.__name__}")


def read_profile(name: str) -> dict[str, Any]:
    """The parameters of profile ``name`` of ``notebooks/profiles/06_fine_tuning.yaml``.

    The notebook's profiles are the recipes; the command reads the same file, so
    a profile trains the same model here and under papermill. Templated paths
    (``output_dir: "{build}/..."``) are left out: pass ``--output-dir``.
    """
    import yaml

    from papseg_utils.book.runner import repo_root

    path = repo_root() / "notebooks" / "profiles" / "06_fine_tuning.yaml"
    try:
        profiles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise UsageError(
            f"--profile {name}: cannot read {path} ({err.strerror or err}); run from the repository "
            "or set PAPSEG_ROOT to it"
        ) from err
    if name not in profiles:
        raise UsageError(f"--profile {name!r}: no such profile; valid: {', '.join(profiles)}")
    data = {k: v for k, v in profiles[name].items() if not (isinstance(v, str) and "{" in v)}
    return _parameters(data, f"profile {name} of {path.name}")


def read_config(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML mapping; unknown keys raise :class:`UsageError` listing valid ones."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise UsageError(f"cannot read --config {path}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise UsageError(f"--config {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise UsageError(f"--config {path} must hold a mapping of parameter: value")
    return _parameters(data, f"--config {path}")


def _parameters(data: dict, origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw, value in data.items():
        key = str(raw).replace("-", "_")
        key = ALIASES.get(key, key)
        if key in IGNORED:
            continue
        if key not in PARAMETERS:
            raise UsageError(f"{origin}: unknown key {raw!r}; valid keys: {', '.join(PARAMETERS)}")
        out[key] = _coerce(key, value, origin)
    return out


def resolve_args(argv: list[str] | None) -> dict[str, Any]:
    """Defaults < ``--config`` file < command-line flags; returns ``{parameter: value}``."""
    ns = vars(build_parser().parse_args(argv))
    params = {name: spec[1] for name, spec in PARAMETERS.items()}
    params["overwrite"] = ns.pop("overwrite", False)
    profile = ns.pop("profile", None)
    if profile:
        params.update(read_profile(profile))
    config = ns.pop("config", None)
    if config:
        params.update(read_config(config))
    params.update(ns)
    return params


def _check(p: dict[str, Any]) -> None:
    """Fail fast, before any data or model is built, on names and values we can check cheaply."""
    from papseg_utils.augment import POLICIES
    from papseg_utils.data.image_labels import IMAGE_HEADS
    from papseg_utils.data.registry import get_info, is_available, list_datasets, resolve_root
    from papseg_utils.labels import SCHEMES
    from papseg_utils.models import ARCHITECTURES, list_models
    from papseg_utils.train.losses import LOSSES

    arch = p["architecture"]
    if arch not in ARCHITECTURES:
        raise UsageError(
            f"unknown architecture {arch!r}; valid architectures: {', '.join(list_models())}"
        )
    enc = p["encoder"]
    if enc != "default" and enc.removeprefix("tu-") not in ARCHITECTURES[arch].encoders:
        raise UsageError(
            f"architecture {arch!r} does not support encoder {enc!r}; valid encoders: "
            f"{', '.join(ARCHITECTURES[arch].encoders)} (or 'default')"
        )
    if p["dataset"] != "folder" and p["scheme"] not in SCHEMES:
        raise UsageError(f"unknown scheme {p['scheme']!r}; valid: {', '.join(sorted(SCHEMES))}")
    for key, valid in (
        ("augmentation", POLICIES),
        ("loss", LOSSES),
        ("precision", PRECISIONS),
        ("image_head", IMAGE_HEADS),
    ):
        if p[key] not in valid:
            raise UsageError(f"unknown {key} {p[key]!r}; valid: {', '.join(valid)}")
    datasets = list_datasets()
    if p["dataset"] not in datasets:
        raise UsageError(f"unknown dataset {p['dataset']!r}; valid datasets: {', '.join(datasets)}")
    if p["dataset"] == "folder" and not p["data_dir"]:
        raise UsageError(
            "dataset 'folder' needs --data-dir PATH: the folder holding classes.yaml, images/ and "
            "masks/ (see papseg_utils.data.folder)"
        )
    if not is_available(p["dataset"], p["data_dir"] or None):
        info = get_info(p["dataset"])
        root = resolve_root(p["dataset"], p["data_dir"] or None)
        env = f" or set {info.env_var}" if info.env_var else ""
        raise UsageError(
            f"dataset {p['dataset']!r}: data folder {root} not found. {info.obtain} "
            f"Then pass --data-dir PATH{env}."
        )
    if p["dataset"] == "folder":
        p["scheme"] = _folder_scheme(p)
    pretrained = p["pretrained"]
    named = ("none", "imagenet", "ade20k", "distilled")
    if pretrained not in named and not Path(pretrained).exists():
        raise UsageError(
            f"--pretrained {pretrained}: no such file or folder; pass a local .safetensors/.pth "
            "file or Hugging Face folder, or one of: imagenet, ade20k, distilled, none"
        )
    for key in ("image_size", "num_train_images", "num_epochs", "batch_size"):
        if p[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')} {p[key]} must be >= 1")
    if p["cv_folds"] and not (p["cv_folds"] >= 2 and 0 <= p["fold"] < p["cv_folds"]):
        raise UsageError(
            f"--cv-folds {p['cv_folds']} --fold {p['fold']}: need cv-folds >= 2 and "
            "0 <= fold < cv-folds (or --cv-folds 0 for a plain train/val/test split)"
        )
    if p["target_spacing_um"]:  # 0 is the letterbox geometry; anything else must be a spacing
        from papseg_utils.data.spacing import PixelSizeError, check_pixel_size

        try:
            check_pixel_size(p["target_spacing_um"], "--target-spacing-um")
        except PixelSizeError as err:
            raise UsageError(f"{err}; or 0 to letterbox every image to --image-size") from None
    if not 0 < p["data_fraction"] <= 1:
        raise UsageError(f"--data-fraction {p['data_fraction']} must be in (0, 1]")
    _check_fractions(p)
    out = Path(p["output_dir"])
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--output-dir {out} is a file; pass a folder (created if missing) for the run"
        )
    if p["max_steps_per_epoch"] < 0:
        raise UsageError(f"--max-steps-per-epoch {p['max_steps_per_epoch']} must be >= 0")
    from papseg_utils.device import resolve_device

    try:
        resolve_device(p["device"])
    except ValueError as err:
        raise UsageError(f"--device: {err}") from None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if p["batch_size"] % world:
        raise UsageError(
            f"--batch-size {p['batch_size']} is the global batch and must be a multiple of the "
            f"number of processes ({world})"
        )


def _check_fractions(p: dict[str, Any]) -> None:
    """Validation and test shares: each in [0, 1), together below 1 (warn when under half trains)."""
    for key in ("val_fraction", "test_fraction"):
        if not 0 <= p[key] < 1:
            raise UsageError(
                f"--{key.replace('_', '-')} {p[key]} must be a share of the images in [0, 1) "
                f"(default {PARAMETERS[key][1]})"
            )
    held = p["val_fraction"] + p["test_fraction"]
    if p["cv_folds"] == 0 and held >= 1:
        raise UsageError(
            f"--val-fraction {p['val_fraction']} and --test-fraction {p['test_fraction']} hold out "
            f"{held:.0%} of the images, leaving none to train on; their sum must be below 1"
        )
    if p["cv_folds"] == 0 and held > 0.5:
        print(f"warning: --val-fraction {p['val_fraction']} and --test-fraction "
              f"{p['test_fraction']} leave only {1 - held:.0%} of the images for training",
              file=sys.stderr)  # fmt: skip


def _check_new_run(p: dict[str, Any], overwrite: bool) -> None:
    """Refuse to train into the folder of an earlier run unless ``--resume`` or ``--overwrite``."""
    out = Path(p["output_dir"])
    if p["resume"] or overwrite or not out.is_dir():
        return
    earlier = [n for n in RUN_FILES if (out / n).exists()]
    if earlier:
        raise UsageError(
            f"--output-dir {out} holds an earlier run ({', '.join(earlier)}); training again would "
            f"replace it. Continue it with --resume {out / 'last'}, train into a new "
            "--output-dir, or pass --overwrite to replace it"
        )


def _check_resume(p: dict[str, Any], folder: Path) -> None:
    """Compare the checkpoint's recorded set-up with this run's options, before any weights load."""
    from papseg_utils.data.registry import dataset_scheme
    from papseg_utils.models import ARCHITECTURES
    from papseg_utils.train.checkpoint import CheckpointError, load_config

    try:
        c = load_config(folder)
    except CheckpointError as err:
        raise UsageError(str(err)) from None
    data = c.get("data") or {}
    spacing = (c.get("spacing") or {}).get("target_spacing_um") or 0.0
    encoder = p["encoder"]
    if encoder == "default" and p["architecture"] in ARCHITECTURES:
        encoder = ARCHITECTURES[p["architecture"]].default_encoder
    try:
        classes = dataset_scheme(p["dataset"], p["data_dir"] or None, p["scheme"]).num_classes
    except (KeyError, ValueError):
        classes = c["num_classes"]  # reported by the data set-up itself
    size = data.get("image_size", c.get("image_size"))
    theirs = {
        "classes": f"{int(c['num_classes'])} classes",
        "architecture": f"architecture {c.get('architecture')}",
        "encoder": f"encoder {(c.get('encoder') or '').removeprefix('tu-')}",
        "geometry": f"{spacing:g} um/px" if spacing else f"{size} px letterbox",
    }
    ours = {
        "classes": f"{classes} classes",
        "architecture": f"architecture {p['architecture']}",
        "encoder": f"encoder {encoder.removeprefix('tu-')}",
        "geometry": f"{p['target_spacing_um']:g} um/px"
        if p["target_spacing_um"]
        else f"{p['image_size']} px letterbox",
    }
    if "image_head" in data:
        theirs["head"] = f"image head {data['image_head']}"
        ours["head"] = f"image head {p['image_head']}"
    if not spacing and size is None:
        del theirs["geometry"]  # an old checkpoint that does not record it
    differ = [k for k in theirs if theirs[k] != ours[k]]
    if differ:
        raise UsageError(
            f"--resume {folder}: the checkpoint was trained with "
            f"{', '.join(theirs[k] for k in differ)}, this run has "
            f"{', '.join(ours[k] for k in differ)}. Resume with the checkpoint's options (they "
            f"are in {folder.parent / 'train_args.json'}), or start a new run in another "
            "--output-dir"
        )


def _folder_scheme(p: dict[str, Any]) -> str:
    """The scheme name of a folder dataset: its classes.yaml, checked against ``--scheme``."""
    from papseg_utils.data import DatasetError
    from papseg_utils.data.folder import CLASSES_FILE
    from papseg_utils.data.registry import FOLDER_DEFAULT_SCHEME, dataset_scheme

    try:
        scheme = dataset_scheme("folder", p["data_dir"])
    except DatasetError as err:
        raise UsageError(str(err)) from None
    if p["scheme"] not in (FOLDER_DEFAULT_SCHEME, scheme.name):
        path = Path(p["data_dir"]).expanduser() / CLASSES_FILE
        raise UsageError(
            f"--scheme {p['scheme']!r} conflicts with {path}, which defines the scheme "
            f"{scheme.name!r}; omit --scheme (a folder's classes.yaml is its scheme) or pass "
            f"--scheme {scheme.name}"
        )
    return scheme.name


def _resume_folder(path: str) -> Path:
    """``path`` if it is a checkpoint folder, else ``path/last`` of a run folder."""
    from papseg_utils.train.checkpoint import CONFIG_FILE

    p = Path(path)
    for folder in (p, p / "last"):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise UsageError(
        f"--resume {path}: no checkpoint there (expected {CONFIG_FILE} in it or in its last/); "
        "pass the last/ folder of an earlier run"
    )


def _summary(p: dict[str, Any], history, world: int, seconds: float) -> str:
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
        _check(p)
        if rank == 0:
            _check_new_run(p, overwrite)
        resume = _resume_folder(p["resume"]) if p["resume"] else None
        if resume is not None:
            _check_resume(p, resume)
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


def _train(p, config, resume, argv, rank: int, world: int, fail) -> int:
    """Set up and run :func:`fit` (the body of :func:`main`); returns the exit code."""
    from papseg_utils.data import DatasetError
    from papseg_utils.data.splits import SplitError
    from papseg_utils.models import ModelConfigError, WeightsUnavailableError
    from papseg_utils.train import NonFiniteLossError, TrainingOOMError, fit
    from papseg_utils.train.checkpoint import CheckpointError, check_resumable
    from papseg_utils.train.recipe import prepare_training

    start = time.perf_counter()
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
    try:
        if resume is not None:
            check_resumable(resume, scheme.num_classes)
    except CheckpointError as err:
        return fail(err, 2)

    output_dir = Path(p["output_dir"])
    if rank == 0:
        record = {**p, "world_size": world, "argv": list(sys.argv if argv is None else argv)}
        _keep_previous(output_dir / "train_args.json")
        (output_dir / "train_args.json").write_text(json.dumps(record, indent=1))
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
