"""Seconds per training step: the project's ``fit`` against a plain PyTorch loop, same model and data.

The plain loop is what a practitioner writes first: Herlev letterboxed once to
uint8 tensors in memory, random flips and 90-degree rotations in torch, smp U-Net
with the PyPI EfficientNet-Lite0 ImageNet encoder, cross-entropy + Dice, AdamW.
``fit`` runs on the same images through :func:`papseg_utils.train.recipe.prepare_training`
with each augmentation policy given. Both use ``--threads`` torch threads and run
``--steps`` optimiser steps (batch ``--batch-size``) per trial; trials alternate
between the arms and the median is reported, with the ratio to the plain loop.

    python benchmarks/bench_epoch.py --steps 30 --trials 3 --json results/bench_epoch.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from papseg_utils.data.herlev import default_root  # noqa: E402
from papseg_utils.train import TrainConfig, fit  # noqa: E402
from papseg_utils.train.recipe import prepare_training  # noqa: E402


def plain_loop(train_ds, model, steps: int, batch_size: int, seed: int) -> float:
    """Seconds for ``steps`` steps of the plain loop over ``train_ds``'s letterboxed uint8 arrays."""
    images = torch.stack([torch.from_numpy(train_ds.prepared(i)[0]) for i in range(len(train_ds))])
    masks = torch.stack([torch.from_numpy(train_ds.prepared(i)[1]) for i in range(len(train_ds))])
    images = images.permute(0, 3, 1, 2).contiguous()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=g)
        x = images[idx].float().div_(127.5).sub_(1.0)
        y = masks[idx].long()
        if torch.rand(1, generator=g) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        k = int(torch.randint(4, (1,), generator=g))
        x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (1, 2))
        logits = model(x)
        valid = y != 255
        ce = F.cross_entropy(logits, y, ignore_index=255)
        p = logits.softmax(1)
        onehot = F.one_hot(y.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2)
        v = valid[:, None].float()
        inter = (p * onehot * v).sum((0, 2, 3))
        dice = 1 - (2 * inter + 1) / ((p * v).sum((0, 2, 3)) + (onehot * v).sum((0, 2, 3)) + 1)
        loss = ce + dice.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def engine(train_ds, model, steps: int, batch_size: int, seed: int) -> float:
    """Seconds for ``steps`` steps of :func:`papseg_utils.train.fit` (no validation, no checkpoints)."""
    cfg = TrainConfig(
        num_epochs=1, batch_size=batch_size, max_steps_per_epoch=steps, seed=seed, device="cpu",
        progress=False, save_best=False, save_last=False, freeze_epochs=0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit(model, train_ds, None, cfg, tmp, scheme="herlev3")
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(default_root()))
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--policies", nargs="+", default=["basic", "medical"])
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    arms: dict[str, list[float]] = {"plain": [], **{f"fit/{p}": [] for p in args.policies}}
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(args.trials):
            for arm in arms:
                policy = arm.split("/")[1] if "/" in arm else "none"
                model, train_ds, _, _, _ = prepare_training(
                    dataset="herlev", data_dir=args.data_dir, scheme="herlev3",
                    image_size=args.image_size, augmentation=policy, val_fraction=0.15,
                    test_fraction=0.15, seed=trial, output_dir=tmp,
                )  # fmt: skip
                for i in range(len(train_ds)):  # letterbox outside the timed part in both arms
                    train_ds.prepared(i)
                run = plain_loop if arm == "plain" else engine
                sec = run(train_ds, model, args.steps, args.batch_size, trial)
                arms[arm].append(sec / args.steps)
                print(f"trial {trial} {arm}: {sec / args.steps:.3f} s/step", flush=True)
    plain = statistics.median(arms["plain"])
    out = {
        "what": "seconds per optimiser step, median over trials",
        "image_size": args.image_size, "batch_size": args.batch_size, "steps": args.steps,
        "trials": args.trials, "threads": args.threads, "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "arms": {a: {"median_s_per_step": statistics.median(v), "all": v,
                     "ratio_to_plain": statistics.median(v) / plain} for a, v in arms.items()},
    }  # fmt: skip
    print(json.dumps(out["arms"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
