"""Transfer learning on Herlev, on the CPU: ImageNet-pretrained vs from-scratch Lite0 U-Net.

Both arms get the same budget (epochs, images, seed, recipe); only the encoder's
initial weights differ. Validation Dice per class (cytoplasm, nucleus) is scored
at the *original* image size: predictions are made on the letterboxed image and
mapped back with ``unletterbox`` before comparing with the original mask.

Reads Herlev from ``--herlev-dir``, ``$PAPSEG_HERLEV_DIR`` or ``../shared/data/herlev``
(relative to the repo root). Writes ``results.json`` and ``per_image.csv`` to ``--out``.

    python benchmarks/herlev_transfer.py --epochs 20 --image-size 224          # the real run (~45 min, 2 cores)
    python benchmarks/herlev_transfer.py --epochs 1 --image-size 96 --max-train-images 32 --max-val-images 16  # smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from papseg_utils.augment import get_policy  # noqa: E402
from papseg_utils.data import load_dataset  # noqa: E402
from papseg_utils.data.dataset import SegmentationDataset  # noqa: E402
from papseg_utils.data.resize import letterbox, unletterbox  # noqa: E402
from papseg_utils.data.splits import fraction_subset, stratified_split  # noqa: E402
from papseg_utils.labels import get_scheme  # noqa: E402
from papseg_utils.models import build_model  # noqa: E402
from papseg_utils.train import TrainConfig, confusion_matrix, dice_from_confusion, fit, load_model  # noqa: E402

log = logging.getLogger("herlev_transfer")


def herlev_root(arg: str | None) -> Path:
    root = Path(
        arg or os.environ.get("PAPSEG_HERLEV_DIR") or REPO.parent / "shared" / "data" / "herlev"
    )
    if not root.is_dir():
        raise SystemExit(
            f"Herlev folder {root} not found: pass --herlev-dir or set PAPSEG_HERLEV_DIR"
        )
    return root


@torch.no_grad()
def score_at_original_size(model, samples, image_size, mean, std, scheme) -> pd.DataFrame:
    """Per-image, per-class Dice of ``model`` on ``samples`` at their original size."""
    mean_t = torch.tensor(mean).view(1, 3, 1, 1) * 255
    std_t = torch.tensor(std).view(1, 3, 1, 1) * 255
    rows, total = [], np.zeros((scheme.num_classes,) * 2, dtype=np.int64)
    for s in samples:
        img, _, geom = letterbox(s.image, None, image_size)
        x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() - mean_t) / std_t
        logits = model(x)[0].float().numpy()
        pred = unletterbox(logits, geom).argmax(0)
        cm = confusion_matrix(
            torch.from_numpy(pred),
            torch.from_numpy(s.mask.astype(np.int64)),
            scheme.num_classes,
            scheme.ignore_index,
        ).numpy()
        total += cm
        dice = dice_from_confusion(cm)
        for c in range(1, scheme.num_classes):
            rows.append(
                {"name": s.name, "group": s.group, "class": scheme.classes[c], "dice": dice[c]}
            )
    df = pd.DataFrame(rows)
    df.attrs["pooled"] = dict(zip(scheme.classes, dice_from_confusion(total).tolist(), strict=True))
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--max-train-images", type=int, default=0, help="0 = all training images")
    ap.add_argument("--max-val-images", type=int, default=0, help="0 = all validation images")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-encoder", type=float, default=3e-4)
    ap.add_argument(
        "--val", type=float, default=0.15, help="validation share (stratified by class)"
    )
    ap.add_argument("--gray", choices=["background", "ignore"], default="background")
    ap.add_argument("--augmentation", default="medical")
    ap.add_argument("--arms", default="imagenet,none", help="pretrained sources to compare")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--herlev-dir", default=None)
    ap.add_argument("--out", default=str(REPO / "runs" / "benchmarks" / "herlev_transfer"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(max(1, torch.get_num_threads()))

    scheme = get_scheme("herlev3")
    samples = load_dataset(
        "herlev", root=herlev_root(args.herlev_dir), scheme="herlev3", gray=args.gray
    )
    split = stratified_split(samples, val=args.val, test=0.0, seed=args.seed)
    by_name = {s.name: s for s in samples}
    train_names, val_names = split["train"], split["val"]
    if args.max_train_images and args.max_train_images < len(train_names):
        frac = args.max_train_images / len(train_names)
        train_names = fraction_subset(
            train_names, [by_name[n].group for n in train_names], frac, args.seed
        )
    if args.max_val_images:
        val_names = val_names[: args.max_val_images]
    train, val = [by_name[n] for n in train_names], [by_name[n] for n in val_names]
    log.info(
        "%d training, %d validation images, %d px, %d epochs",
        len(train),
        len(val),
        args.image_size,
        args.epochs,
    )

    out = Path(args.out)
    results, tables = (
        {"args": vars(args), "num_train": len(train), "num_val": len(val), "arms": {}},
        [],
    )
    for pretrained in args.arms.split(","):
        torch.manual_seed(args.seed)
        model = build_model(
            "unet", num_classes=3, pretrained=pretrained, encoder="tf_efficientnet_lite0"
        )
        spec = model.papseg_spec
        train_ds = SegmentationDataset(
            train,
            transform=get_policy(args.augmentation, args.image_size, args.seed),
            image_size=args.image_size,
            mean=spec.mean,
            std=spec.std,
        )
        val_ds = SegmentationDataset(val, image_size=args.image_size, mean=spec.mean, std=spec.std)
        cfg = TrainConfig(
            num_epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_encoder=args.lr_encoder,
            warmup_epochs=min(1.0, args.epochs / 4),
            loss="dice_ce",
            device="cpu",
            seed=args.seed,
            image_size=args.image_size,
            patience=None,
            progress=False,
        )
        t0 = time.perf_counter()
        history = fit(model, train_ds, val_ds, cfg, out / pretrained, scheme=scheme)
        train_s = time.perf_counter() - t0
        best, _ = load_model(out / pretrained / "best", model=model)
        df = score_at_original_size(best, val, args.image_size, spec.mean, spec.std, scheme)
        df.insert(0, "pretrained", pretrained)
        tables.append(df)
        per_class = df.groupby("class")["dice"].mean().to_dict()
        results["arms"][pretrained] = {
            "dice_mean_per_image": per_class,
            "dice_pooled": {k: v for k, v in df.attrs["pooled"].items() if k != "background"},
            "best_epoch": history.best_epoch,
            "val_mean_dice_letterboxed": history.best_score,
            "train_seconds": round(train_s, 1),
            "seconds_per_epoch": round(float(history.to_frame()["epoch_time_s"].median()), 1),
        }
        log.info("%s: %s", pretrained, json.dumps(results["arms"][pretrained]))
    out.mkdir(parents=True, exist_ok=True)
    pd.concat(tables).to_csv(out / "per_image.csv", index=False)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results["arms"], indent=2))  # a script's result on stdout
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
