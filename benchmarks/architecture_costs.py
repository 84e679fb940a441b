"""What each architecture of the study costs: parameters, MACs and CPU time, one table.

For every arm of ``arms.csv`` in ``--study`` (written by ``benchmarks/architecture_pairs.py``: each
arm's folder holds ``folds/foldK/train_args.json`` and ``history.csv`` for each fold K it
trained), rebuilds the network from its fold-0 train arguments with
random weights (the weights do not change the cost; the image head is included when the arm
trained one) and measures, in one process:

* ``params_M``: parameters, millions;
* ``gmacs_256``: multiply-accumulates of one forward pass on a 1 x 3 x 256 x 256 input, in
  billions (``torch.utils.flop_counter``: counted FLOPs / 2, convolutions, matrix products and
  attention; element-wise operations are not counted);
* ``infer_ms_256``: the median wall time of a forward pass on that input over ``--repeats``
  passes after five warm-up passes, in ms, with ``--threads`` CPU threads;
* ``epoch_s``: the median epoch time over the arm's training runs (every fold's
  ``history.csv``), which ran on the same machine, one job at a time.

Writes ``costs.csv`` into ``--study`` with ``arm`` and the columns above, plus ``costs.json``
with the machine and the options. Run it on a quiet machine (no training beside it). Usage::

    PYTHONPATH=. python benchmarks/architecture_costs.py --study results/architectures
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd


def _network(args: dict):
    from papseg_utils.labels import get_scheme
    from papseg_utils.models import build_model

    kwargs = {}
    if args.get("image_head", "none") != "none":
        kwargs["image_classes"] = 2
    if args["architecture"] == "unetr":
        kwargs["image_size"] = int(args["image_size"])
    return build_model(args["architecture"], num_classes=len(get_scheme(args["scheme"]).classes),
                       pretrained="none", encoder=args["encoder"], **kwargs).eval()  # fmt: skip


def _measure(model, size: int, repeats: int) -> tuple[float, float]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, size, size)
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            model(x)
        macs = counter.get_total_flops() / 2
        for _ in range(5):
            model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return macs, statistics.median(times)


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", type=Path, required=True, help="the folder holding arms.csv")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    _measure(torch.nn.Conv2d(3, 8, 3), args.size, 3)  # the process's one-time start-up costs
    arms_file = args.study / "arms.csv"
    if not arms_file.is_file():
        raise SystemExit(f"{arms_file}: not found; benchmarks/architecture_pairs.py writes it")
    for arm, folder in pd.read_csv(arms_file)[["arm", "folder"]].itertuples(index=False):
        folder = Path(folder)
        train = json.loads((folder / "folds" / "fold0" / "train_args.json").read_text())
        history = pd.concat(
            [pd.read_csv(f) for f in sorted(folder.glob("folds/fold*/history.csv"))]
        )
        model = _network(train)
        macs, seconds = _measure(model, args.size, args.repeats)
        rows.append({"arm": arm, "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
                     f"gmacs_{args.size}": macs / 1e9, f"infer_ms_{args.size}": seconds * 1e3,
                     "epoch_s": float(history["epoch_time_s"].median())})  # fmt: skip
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False, header=len(rows) == 1))
    pd.DataFrame(rows).to_csv(args.study / "costs.csv", index=False, float_format="%.4g")
    meta = {"torch": torch.__version__, "threads": args.threads, "python": platform.python_version(),
            "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
            "size": args.size, "repeats": args.repeats}  # fmt: skip
    (args.study / "costs.json").write_text(json.dumps(meta, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
