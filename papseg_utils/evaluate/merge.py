"""Merge ``evaluate`` outputs that scored disjoint images, such as CV folds scored one by one.

A cross-validation on a cluster often scores each fold as it finishes (``evaluate
foldK/last --split test --out evalK``). ::

    python -m papseg_utils.evaluate.merge eval0 eval1 eval2 eval3 eval4 --out eval

writes what one ``evaluate`` of the five fold checkpoints would have written: the same
per-image rows, with the summary, the image head and ``scoring.json`` recomputed over all
images. The means are identical; the bootstrap intervals are drawn over the merged row order,
so they can differ from a single run's in the third decimal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from papseg_utils.evaluate.folds import assignment_mode
from papseg_utils.evaluate.tables import _relative, write_tables


class MergeError(ValueError):
    """``evaluate`` outputs that cannot be merged (a missing file, an image twice, other options)."""


def merge_outputs(folders: Sequence[Path], out: Path, n_boot: int = 2000) -> dict:
    """One ``evaluate`` output from several that scored disjoint images with the same options.

    A cross-validation scored fold by fold, as each fold finishes (``evaluate foldK/last
    --split test``), gives the files one ``evaluate`` of every fold checkpoint would: the
    per-image rows are the same, and the summary, the image head and ``scoring.json`` are
    recomputed over the union (see the module docstring). Raises :class:`MergeError` naming the folder when a file is
    missing, an image was scored twice, or the options differ.
    """
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise MergeError(f"give at least two evaluate folders to merge, got {len(folders)}")
    if any(out.resolve() == f.resolve() for f in folders):
        raise MergeError(f"--out {out} is one of the inputs; choose a new folder")
    records, parts, labels = [], [], []
    for f in folders:
        table = next(
            (f / n for n in ("per_image.csv", "per_image.csv.gz") if (f / n).exists()), None
        )
        if table is None or not (f / "scoring.json").exists():
            raise MergeError(f"{f}: not an evaluate output (needs per_image.csv and scoring.json)")
        records.append(json.loads((f / "scoring.json").read_text(encoding="utf-8")))
        parts.append(pd.read_csv(table))
        if (f / "image_labels.csv").exists():
            labels.append(pd.read_csv(f / "image_labels.csv"))
    first = _set_options(records[0]["options"])
    for f, rec in zip(folders[1:], records[1:], strict=True):
        if _set_options(rec["options"]) != first:
            diff = sorted(k for k in {**rec["options"], **records[0]["options"]}
                          if _set_options(rec["options"]).get(k) != first.get(k))  # fmt: skip
            raise MergeError(f"{f}: scored with other options than {folders[0]}: {diff}")
    seen: dict[str, Path] = {}
    for f, part in zip(folders, parts, strict=True):
        for image in part.image.unique():
            if image in seen:
                raise MergeError(f"{image} was scored in both {seen[image]} and {f}")
            seen[image] = f
    if labels and len(labels) != len(folders):
        raise MergeError("some folders have image_labels.csv and others not")
    per_image = pd.concat(parts, ignore_index=True)
    tables = {str(k): t.reset_index(drop=True) for k, t in per_image.groupby("scheme", sort=False)}
    result = write_tables(tables, pd.concat(labels, ignore_index=True) if labels else None, out,
                          records[0]["options"], n_boot=n_boot,
                          figure_scheme=_registered(next(iter(tables))))  # fmt: skip
    result["n_images"] = len(seen)
    result["checkpoints"] = [c for rec in records for c in rec["checkpoints"]]
    result["mode"] = assignment_mode({k: [0] for k in seen}, len(result["checkpoints"]))
    result["merged_from"] = [_relative(f) for f in folders]
    (out / "scoring.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def _registered(name: str):
    """The registered label scheme ``name`` for the figure, or None (a folder's own scheme,
    whose colours live in its ``classes.yaml``: the merge then writes no ``summary.png``)."""
    from papseg_utils.labels import get_scheme

    try:
        return get_scheme(name)
    except (KeyError, ValueError):
        return None


def _set_options(options: dict) -> dict:
    """The options that were given: an option an older ``evaluate`` did not have yet (absent)
    is the same as one left off (False or None)."""
    return {k: v for k, v in options.items() if v is not None and v is not False}


def main(argv: list[str] | None = None) -> int:
    """``python -m papseg_utils.evaluate.merge DIR DIR [...] --out OUT``; 2 on a merge error."""
    ap = argparse.ArgumentParser(prog="python -m papseg_utils.evaluate.merge",
                                 description=__doc__.splitlines()[0])  # fmt: skip
    ap.add_argument("folders", nargs="+", type=Path, help="evaluate output folders")
    ap.add_argument("--out", type=Path, required=True, help="the merged output folder")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap draws (default: 2000)")
    args = ap.parse_args(argv)
    try:
        result = merge_outputs(args.folders, args.out, n_boot=args.n_boot)
    except MergeError as err:
        print(f"merge: {err}", file=sys.stderr)
        return 2
    print((args.out / "summary.md").read_text(encoding="utf-8"))
    print(f"merged {result['n_images']} images from {len(args.folders)} folders into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
