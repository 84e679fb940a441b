"""Training speed per architecture: images/s, step time (data wait vs compute), peak memory.

Examples
--------
CPU (2 threads)::

    python benchmarks/bench_train_speed.py --device cpu --threads 2 --batch-size 4 \
        --image-size 256 --steps 3 --json /tmp/bench_cpu.json

GPU, fp32 baseline vs bf16 + channels_last in one run::

    python benchmarks/bench_train_speed.py --device cuda --batch-size 16 --image-size 512 \
        --steps 30 --compare-amp --workers 4 --json bench_gpu.json

Models whose optional dependency (segmentation-models-pytorch, monai, transformers) is missing
are skipped with a message. Random data through a real DataLoader (workers, pinned memory on
CUDA); one AdamW step with cross-entropy per iteration; the first ``--warmup`` steps are dropped.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from papseg_utils.models import build_model, list_models  # noqa: E402
from papseg_utils.models.architectures import ARCHITECTURES  # noqa: E402


class RandomSegmentation(torch.utils.data.Dataset):
    """Random images (3,S,S) float32 and masks (S,S) int64 with ``num_classes`` labels."""

    def __init__(self, n: int, size: int, num_classes: int):
        self.n, self.size, self.c = n, size, num_classes

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        g = torch.Generator().manual_seed(i)
        return (
            torch.randn(3, self.size, self.size, generator=g),
            torch.randint(0, self.c, (self.size, self.size), generator=g),
        )


class SyntheticPipeline(torch.utils.data.Dataset):
    """The real input pipeline: synthetic Pap smear fields, decoded once and cached,
    augmented with a named policy and normalised per item (what ``fit`` sees)."""

    def __init__(self, n: int, size: int, policy: str, num_classes: int):
        from papseg_utils.augment import get_policy
        from papseg_utils.data.dataset import SegmentationDataset
        from papseg_utils.data.synthetic import SyntheticConfig, generate_samples

        scheme = {3: "herlev3", 5: "paper"}.get(num_classes, "herlev3")
        n_unique = min(n, 64)  # a small cached set, as for Herlev-sized data
        samples = generate_samples(
            n_unique, seed=0, config=SyntheticConfig(image_size=size), scheme=scheme
        )
        self.n = n
        self.ds = SegmentationDataset(
            samples, transform=get_policy(policy, image_size=size, seed=0)
        )

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        item = self.ds[i % len(self.ds)]
        return item["image"], item["mask"]


def gpu_utilisation() -> float | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5,
        )  # fmt: skip
        return float(out.stdout.split()[0])
    except Exception:
        return None


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_one(name: str, args, device: torch.device, precision: str, channels_last: bool) -> dict:
    fixed = ARCHITECTURES[name].fixed_input_size is not None  # one input size (UNETR)
    kw = {"image_size": args.image_size} if fixed else {}
    model = build_model(name, args.num_classes, **kw).to(device)
    model.train()
    mf = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=mf)
    step_model = torch.compile(model) if args.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    n = args.batch_size * (args.steps + args.warmup)
    if args.data == "random":
        data = RandomSegmentation(n, args.image_size, args.num_classes)
    else:
        data = SyntheticPipeline(n, args.image_size, args.data.split(":", 1)[1], args.num_classes)
    if device.type == "cuda":
        # "plain fp32" really is fp32: no TF32 tensor-core shortcut unless asked for
        tf32 = precision != "fp32" or args.tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    loader = torch.utils.data.DataLoader(
        data, batch_size=args.batch_size,
        num_workers=args.workers, pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0, drop_last=True,
    )  # fmt: skip
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16" and device.type == "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    waits, computes, utils = [], [], []
    it = iter(loader)
    for step in range(args.steps + args.warmup):
        t0 = time.perf_counter()
        images, masks = next(it)
        images = images.to(device, non_blocking=True).to(memory_format=mf)
        masks = masks.to(device, non_blocking=True)
        sync()
        t1 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(step_model(images), masks, ignore_index=255)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sync()
        t2 = time.perf_counter()
        if step >= args.warmup:
            waits.append(t1 - t0)
            computes.append(t2 - t1)
            if device.type == "cuda" and step == args.warmup + args.steps // 2:
                utils.append(gpu_utilisation())
    step_s = [w + c for w, c in zip(waits, computes, strict=True)]
    med = statistics.median(step_s)
    row = {
        "model": name, "encoder": model.papseg_spec.encoder, "params_M": round(model.papseg_spec.params / 1e6, 2),
        "precision": precision, "channels_last": channels_last, "batch_size": args.batch_size,
        "image_size": args.image_size, "steps": args.steps, "step_s_median": round(med, 4),
        "data_wait_s_median": round(statistics.median(waits), 4),
        "compute_s_median": round(statistics.median(computes), 4),
        "images_per_s": round(args.batch_size / med, 2), "loss": round(loss.item(), 4),
        "data": args.data, "workers": args.workers,
        "data_wait_share": round(sum(waits) / max(sum(step_s), 1e-12), 4),
    }  # fmt: skip
    if device.type == "cuda":
        row["peak_mem_MiB"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        row["gpu_util_pct"] = utils[0] if utils else None
    else:
        row["peak_rss_MiB"] = round(peak_rss_mib(), 1)  # process-wide high-water mark
    del model, step_model, opt, loader
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def resolve(device: str) -> torch.device:
    if device == "auto":
        try:
            from papseg_utils.device import resolve_device

            return resolve_device("auto")
        except ImportError:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="all", help="comma-separated names or 'all'")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=3, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=3)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--compare-amp", action="store_true", help="fp32 vs bf16+channels_last")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument(
        "--data",
        default="random",
        help="'random' tensors, or 'synthetic:POLICY' for the real pipeline "
        "(synthetic fields + augmentation policy, e.g. synthetic:medical)",
    )
    p.add_argument("--tf32", action="store_true", help="allow TF32 in the fp32 runs (CUDA)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = resolve(args.device)
    names = list_models() if args.models == "all" else args.models.split(",")
    configs = [(args.precision, args.channels_last)]
    if args.compare_amp:
        configs = [("fp32", False), ("bf16", True)]
    rows, skipped = [], {}
    for name in names:
        for prec, cl in configs:
            try:
                row = bench_one(name, args, device, prec, cl)
            except ImportError as err:
                skipped[name] = f"missing optional dependency: {err}"
                print(f"skip {name}: {skipped[name]}", file=sys.stderr)
                break
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    cols = ["model", "params_M", "precision", "channels_last", "images_per_s", "step_s_median",
            "data_wait_s_median", "compute_s_median", "peak_mem_MiB" if device.type == "cuda" else "peak_rss_MiB"]  # fmt: skip
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c)) for c in cols) + " |")
    if args.compare_amp:
        for name in names:
            pair = [r for r in rows if r["model"] == name]
            if len(pair) == 2:
                print(f"{name}: bf16+channels_last / fp32 throughput = "
                      f"{pair[1]['images_per_s'] / pair[0]['images_per_s']:.2f}x")  # fmt: skip
    meta = {
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "platform": platform.platform(), "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows, "skipped": skipped}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
