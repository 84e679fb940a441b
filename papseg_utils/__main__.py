"""Command line: ``papseg <command> [options]`` (or ``python -m papseg_utils <command>``).

``papseg`` is the console command that ``pip install`` creates (``[project.scripts]``
in ``pyproject.toml``); both spellings run :func:`main`.

Commands
--------
run      execute notebooks with papermill under a profile  (:mod:`papseg_utils.book.runner`)
book     render the Jupyter Book from executed notebooks     (:mod:`papseg_utils.book.render`)
predict  segment images with a saved checkpoint              (:mod:`papseg_utils.predict`)
evaluate score checkpoints (model, ensemble or CV folds)     (:mod:`papseg_utils.evaluate`)
study    run a grid study                                    (:mod:`papseg_utils.book.study`)
train    train a model (also under torchrun for several GPUs) (:mod:`papseg_utils.train.cli`)
data     download or check a dataset (Herlev)                (:mod:`papseg_utils.data.cli`)
distill  distil the ImageNet CNN into a MiT encoder          (:mod:`papseg_utils.distill.cli`)

Each command module exposes ``main(argv: list[str] | None = None) -> int``;
``python -m papseg_utils <command> --help`` shows its options.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("papseg_utils.book.runner", "execute notebooks with papermill under a profile"),
    "book": ("papseg_utils.book.render", "render the Jupyter Book from executed notebooks"),
    "predict": ("papseg_utils.predict", "segment images with a saved checkpoint"),
    "evaluate": (
        "papseg_utils.evaluate.cli",
        "score checkpoints: one model, an ensemble or CV folds",
    ),
    "study": ("papseg_utils.book.study", "run a grid study"),
    "train": ("papseg_utils.train.cli", "train a model (also under torchrun for several GPUs)"),
    "data": ("papseg_utils.data.cli", "download or check a dataset (Herlev)"),
    "distill": ("papseg_utils.distill.cli", "distil the ImageNet CNN into a MiT encoder"),
}


def _usage() -> str:
    lines = ["usage: papseg <command> [options]  (or: python -m papseg_utils ...)", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "papseg <command> --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv[0]`` to its command's ``main``; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"unknown command {name!r}; valid commands: {', '.join(COMMANDS)}\n\n{_usage()}",
            file=sys.stderr,
        )
        return 2
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        print(f"command {name!r} is not available yet ({module_name} is missing)", file=sys.stderr)
        return 2
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
