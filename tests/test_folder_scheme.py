"""A folder dataset is trained with its own ``classes.yaml``: train, predict and evaluate.

Regression tests of issue 10 (item 2, and the folder messages of item 9):
``train --dataset folder`` takes the label scheme from the folder's
``classes.yaml`` (a custom name and 2 classes here), records it in the
checkpoint's ``config.json``, and ``predict`` and evaluation use it; a missing
or malformed ``classes.yaml``, a conflicting ``--scheme``, a missing
``--data-dir`` and empty ``images/``/``masks/`` folders are usage errors
(exit 2) naming the file and the fix. Notebook 06 follows the same path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from papseg_utils.data.base import Sample
from papseg_utils.data.folder import export_folder, load_folder
from papseg_utils.labels import LabelScheme
from papseg_utils.train import cli

TWO = LabelScheme("my_cells", ("background", "nucleus"), ((0, 0, 0), (230, 159, 0)))
TINY = [
    "--dataset", "folder", "--architecture", "unet", "--encoder", "tf_efficientnet_lite0",
    "--pretrained", "none", "--image-size", "32", "--test-fraction", "0", "--val-fraction", "0.25",
    "--epochs", "1", "--batch-size", "2", "--max-steps-per-epoch", "1", "--freeze-epochs", "0",
    "--warmup-epochs", "0", "--device", "cpu", "--augmentation", "none",
]  # fmt: skip


def two_class_folder(root: Path, n: int = 8) -> Path:
    """A folder dataset of ``n`` 32 px images with a bright disc labelled nucleus."""
    rng = np.random.default_rng(0)
    samples = []
    yy, xx = np.mgrid[:32, :32]
    for i in range(n):
        cy, cx = rng.integers(8, 24, 2)
        mask = (((yy - cy) ** 2 + (xx - cx) ** 2) < 36).astype(np.uint8)
        image = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        image[mask == 1] = 220
        samples.append(Sample(image, mask, name=f"img{i}", group="all"))
    return export_folder(samples, TWO, root)


def hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_class_folder_end_to_end(tmp_path, capsys):
    from papseg_utils import predict
    from papseg_utils.metrics.per_image import average, score_images
    from papseg_utils.predict import _scheme_from_config

    data = two_class_folder(tmp_path / "data")
    before = hashes(data)
    run = tmp_path / "run"
    code = cli.main([*TINY, "--data-dir", str(data), "--output-dir", str(run)])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    assert "[my_cells]" in out.out
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["num_classes"] == 2
    assert config["scheme"]["name"] == "my_cells"
    assert config["scheme"]["classes"] == ["background", "nucleus"]
    assert json.loads((run / "train_args.json").read_text())["scheme"] == "my_cells"
    # predict writes 2-class palette masks in the folder's colours
    code = predict.main([str(run), str(data / "images"), "--out", str(tmp_path / "pred")])
    assert code == 0, capsys.readouterr().err
    log = json.loads((tmp_path / "pred" / "predict_log.json").read_text())
    assert log["scheme"] == "my_cells"
    preds, masks = [], []
    for name in sorted(p.name for p in (data / "masks").iterdir()):
        m = Image.open(tmp_path / "pred" / "masks" / name)
        assert m.getpalette()[:6] == [0, 0, 0, 230, 159, 0]
        preds.append(np.asarray(m))
        masks.append(np.asarray(Image.open(data / "masks" / name)))
    assert set(np.unique(np.concatenate([p.ravel() for p in preds]))) <= {0, 1}
    # evaluate with the checkpoint's scheme
    scheme = _scheme_from_config(config)
    table = average(score_images(preds, masks, scheme))
    assert set(table["class"]) >= {"nucleus", "macro"}
    assert "background" not in set(table["class"])  # found from the custom scheme
    assert hashes(data) == before  # nothing in the user's folder changed


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda p: p.unlink(), "classes.yaml: missing"),
        (lambda p: p.write_text("classes: [oops"), "classes.yaml: not valid YAML"),
        (
            lambda p: p.write_text("name: x\nclasses: 3\n"),
            "expected a mapping with a 'classes' list",
        ),
        (
            lambda p: p.write_text(
                "classes:\n  - {name: bg, id: 0, colour: [0, 0, 0]}\n  - {name: n, id: 2, colour: [1, 1, 1]}\n"
            ),
            "class ids must be 0..1 without gaps",
        ),
    ],
)
def test_missing_or_malformed_classes_yaml_is_a_usage_error(tmp_path, capsys, damage, fragment):
    data = two_class_folder(tmp_path / "data", n=4)
    damage(data / "classes.yaml")
    before = hashes(data)
    code = cli.main([*TINY, "--data-dir", str(data), "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err and str(data / "classes.yaml") in err
    assert not (tmp_path / "run").exists()
    assert hashes(data) == before


def test_a_conflicting_scheme_is_refused(tmp_path, capsys):
    data = two_class_folder(tmp_path / "data", n=4)
    code = cli.main([*TINY, "--data-dir", str(data), "--scheme", "herlev3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "classes.yaml" in err and "'my_cells'" in err and "omit --scheme" in err


def test_folder_without_data_dir_says_so(tmp_path, capsys):
    code = cli.main([*TINY, "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "None" not in err
    assert "--data-dir" in err and "classes.yaml" in err


def test_empty_images_and_masks_folders_are_named(tmp_path, capsys):
    data = two_class_folder(tmp_path / "data", n=4)
    for sub in ("images", "masks"):
        for f in (data / sub).iterdir():
            f.unlink()
    code = cli.main([*TINY, "--data-dir", str(data), "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "val-fraction" not in err
    assert str(data / "images") in err and "no images" in err
    with pytest.raises(Exception, match="no images"):
        load_folder(data)


def test_notebook_06_trains_on_the_folder_scheme(tmp_path, repo_root):
    """The chapter's cells take the scheme from classes.yaml too (papermill, a few seconds)."""
    import papermill

    data = two_class_folder(tmp_path / "data", n=8)
    run = tmp_path / "run"
    params = {
        "dataset": "folder", "data_dir": str(data), "pretrained": "none", "image_size": 32,
        "test_fraction": 0.0, "val_fraction": 0.25, "num_epochs": 1, "batch_size": 2,
        "max_steps_per_epoch": 1, "freeze_epochs": 0, "warmup_epochs": 0.0, "num_show": 2,
        "augmentation": "none", "device": "cpu", "output_dir": str(run),
    }  # fmt: skip
    papermill.execute_notebook(
        str(repo_root / "notebooks" / "06_fine_tuning.ipynb"),
        str(tmp_path / "06.ipynb"),
        parameters=params,
        cwd=str(repo_root),
        progress_bar=False,
        kernel_name="python3",
    )
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["scheme"]["name"] == "my_cells" and config["num_classes"] == 2
