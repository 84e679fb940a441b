"""scripts/publish_cv.sh: a run's scores and fold records into results/, nothing else."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_copies_the_scores_and_the_fold_records_but_not_logs_or_checkpoints(tmp_path):
    src, dst = tmp_path / "run", tmp_path / "results" / "arm"
    (src / "fold0" / "last").mkdir(parents=True)
    (src / "fold0" / "last" / "model.safetensors").write_bytes(b"weights")
    for name in ("history.csv", "split.json", "train_args.json"):
        (src / "fold0" / name).write_text(name)
    (src / "fold0.train.log").write_text("a log beside the fold folder")
    (src / "fold0" / "eval").mkdir()
    (src / "fold0" / "eval" / "per_image.csv").write_text("image,value\na,1\n")
    (src / "fold0" / "eval" / "summary.csv").write_text("summary")
    subprocess.run([str(ROOT / "scripts" / "publish_cv.sh"), str(src), str(dst), "fold0/eval"],
                   check=True, capture_output=True)  # fmt: skip
    assert sorted(p.name for p in (dst / "folds").iterdir()) == ["fold0"]
    assert sorted(p.name for p in (dst / "folds" / "fold0").iterdir()) == [
        "history.csv", "split.json", "train_args.json"]  # fmt: skip
    assert gzip.decompress((dst / "per_image.csv.gz").read_bytes()) == b"image,value\na,1\n"
    assert (dst / "summary.csv").read_text() == "summary"


def test_stops_with_the_command_to_run_when_the_run_is_not_scored(tmp_path):
    (tmp_path / "run" / "fold0").mkdir(parents=True)
    done = subprocess.run([str(ROOT / "scripts" / "publish_cv.sh"), str(tmp_path / "run"),
                           str(tmp_path / "out")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "score the run with evaluate --out" in done.stderr
    assert not (tmp_path / "out").exists()
