"""Every committed CV scoring says which fold scored each image, as its folds' split.json does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _scorings() -> list[tuple[Path, Path]]:
    """(scoring folder, the folds/ folder of its run) for every committed per_image.csv.gz."""
    out = []
    for table in sorted(RESULTS.rglob("per_image.csv.gz")):
        folder = table.parent
        folds = next((d / "folds" for d in (folder, folder.parent) if (d / "folds").is_dir()), None)
        if folds is not None:
            out.append((folder, folds))
    return out


@pytest.mark.parametrize(
    "folder,folds", _scorings(), ids=lambda p: p.relative_to(RESULTS).as_posix()
)
def test_the_fold_column_is_the_fold_whose_test_part_holds_the_image(folder, folds):
    test_fold = {}
    for split in sorted(folds.glob("fold*/split.json")):
        k = int(split.parent.name.removeprefix("fold"))
        test_fold |= dict.fromkeys(json.loads(split.read_text())["split"]["test"], k)
    for name in ("per_image.csv.gz", "image_labels.csv"):
        if (folder / name).is_file():
            t = pd.read_csv(folder / name, usecols=["image", "fold"]).drop_duplicates("image")
            wrong = t[t.fold != t.image.map(test_fold)]
            assert wrong.empty, (
                f"{folder / name}: {len(wrong)} images with another fold, e.g. {wrong.iloc[0].tolist()}"
            )
