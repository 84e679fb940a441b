"""What the predict command writes under ``--out`` (see :mod:`papseg_utils.predict`).

* ``masks/<name>.png``: palette PNG of class ids (:func:`save_palette`);
* ``paper_masks/<name>.png`` and ``labels.csv``: a healthy/unhealthy image head's verdict
  per image (:func:`image_label`, :func:`write_labels`);
* ``predict_log.json``: checkpoint, options, files written and skipped (:func:`write_log`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from papseg_utils.labels import LabelScheme


def save_palette(labels: np.ndarray, scheme: LabelScheme, path: Path) -> None:
    """Write ``labels`` ((H, W) uint8 class ids) as a palette PNG in ``scheme``'s colours."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(labels, mode="P")
    img.putpalette(scheme.flat_palette())
    img.save(path)


def image_label(
    model,
    image: np.ndarray,
    preds: np.ndarray,
    config: dict,
    args: argparse.Namespace,
    pixel_size: float | None,
    out: Path,
    mask_file: Path,
) -> dict[str, Any]:
    """A healthy/unhealthy head's verdict and the paper-taxonomy mask; {} without such a head.

    ``image`` is (H, W, 3) uint8, ``preds`` its (H, W) uint8 class ids. Writes
    ``paper_masks/<name>.png`` beside ``masks/<name>.png`` (``mask_file``) and returns
    ``{"label", "probability" (of that label), "paper_mask" (relative to out)}``.
    """
    from papseg_utils.inference import image_probabilities
    from papseg_utils.labels import get_scheme
    from papseg_utils.postprocess import cells_from_image_head

    names = config.get("image_labels") or []
    if names != ["healthy", "unhealthy"]:
        return {}
    p = image_probabilities(model, image, config, args.tta, pixel_size_um=pixel_size)
    if p is None:
        return {}
    k = int(np.argmax(p))
    paper = out / "paper_masks" / mask_file.relative_to(out / "masks")
    save_palette(cells_from_image_head(preds, float(p[1])), get_scheme("paper_cells"), paper)
    return {
        "label": names[k],
        "probability": float(p[k]),
        "paper_mask": str(paper.relative_to(out)),
    }


def write_labels(written: list[dict], out: Path) -> None:
    """``labels.csv``: image, label, probability (of that label), one row per written image."""
    import csv

    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "label", "probability"])
        for row in written:
            if "label" in row:
                w.writerow([Path(row["mask"]).relative_to("masks").with_suffix("").as_posix(),
                            row["label"], f"{row['probability']:.4f}"])  # fmt: skip


def write_log(
    out: Path,
    args: argparse.Namespace,
    ckpts: list[Path],
    config: dict,
    scheme: LabelScheme,
    pixel: dict,
    written: list[dict],
    skipped: list[dict],
) -> None:
    """``predict_log.json``: the checkpoint(s), the scheme, the pixel size, the options, and
    the files written and skipped (``{"file", "reason"}`` each). An ensemble records every
    member with its SHA-256 under ``members``."""
    single = [{"path": str(ckpts[0]), "sha256": config.get("checkpoint_sha256")}]
    record = {
        "checkpoint": str(ckpts[0]) if len(ckpts) == 1 else str(args.checkpoint),
        "checkpoint_sha256": config.get("checkpoint_sha256"),
        "members": config.get("ensemble") or single,
        "architecture": config.get("architecture"),
        "scheme": scheme.name,
        "pixel_size": pixel,
        "options": {
            k: v for k, v in vars(args).items() if k not in ("inputs", "checkpoint", "out")
        },
        "written": written,
        "skipped": skipped,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "predict_log.json").write_text(json.dumps(record, indent=2))
