"""Copy a finished study's tables into results/<name>/ for the book (no data, no weights).

    python scripts/publish_study.py build/studies/herlev-cpu results/herlev-cpu

Writes runs.csv, results.csv, per_image.csv.gz and provenance.json (machine, package
versions, git commit, total wall time, taken from the runs' provenance files).
Absolute paths are replaced by paths relative to the study folder.
"""

import json
import shutil
import sys
from pathlib import Path

import pandas as pd


def main(src: str, dst: str) -> None:
    src_dir, dst_dir = Path(src).resolve(), Path(dst)
    dst_dir.mkdir(parents=True, exist_ok=True)
    for name in ("results.csv", "per_image.csv.gz"):
        shutil.copy2(src_dir / name, dst_dir / name)
    runs = pd.read_csv(src_dir / "runs.csv")
    runs["error"] = runs["error"].fillna("").str.replace(str(src_dir), "<study>", regex=False)
    runs.to_csv(dst_dir / "runs.csv", index=False)
    provs = sorted(src_dir.glob("runs/*/*.provenance.json"))
    docs = [json.loads(p.read_text()) for p in provs]
    if not docs:
        raise SystemExit(f"{src_dir}: no provenance files found")
    summary = {
        "study": src_dir.name,
        "runs": int(len(runs)),
        "runs_done": int((runs["status"] == "done").sum()),
        "wall_s_total": float(runs["wall_s"].sum()),
        "started": min(d["started"] for d in docs),
        "device": {k: v for k, v in docs[0]["device"].items() if k != "env"},
        "versions": docs[0]["versions"],
        "git_commits": sorted({d["git"]["commit"] for d in docs if d.get("git")}),
        "notebooks": sorted({d["notebook"] for d in docs}),
    }
    (dst_dir / "provenance.json").write_text(json.dumps(summary, indent=1))
    print(f"published {summary['runs_done']}/{summary['runs']} runs to {dst_dir}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
