"""The training loop: ``fit(model, train_ds, val_ds, config, output_dir)``.

One loop for every architecture and every machine:

* **CPU** (students): plain single-process PyTorch, fp32, no worker processes.
* **GPU**: autocast in bf16 (or fp16 with a GradScaler), channels-last memory
  format, TF32, optional ``torch.compile``, pinned-memory DataLoader workers.
* **Several GPUs**: run the same script under ``torchrun --nproc_per_node N``
  or ``accelerate launch``; :mod:`~papseg_utils.train.distributed` wraps the
  model in DDP and splits each global batch across the processes.

Every epoch ends with a validation pass (per-class Dice from a confusion
matrix accumulated over the validation set, ignored pixels excluded), early
stopping on the mean foreground Dice, and ``best``/``last`` checkpoint
folders (see :mod:`~papseg_utils.train.checkpoint`) from which
``fit(..., resume_from=...)`` continues exactly (single process, ``num_workers=0``).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, get_worker_info
from tqdm import tqdm

from papseg_utils.device import (
    autocast_dtype,
    configure_backends,
    dataloader_kwargs,
    resolve_device,
    resolve_precision,
)
from papseg_utils.inference import logits_of
from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.models.heads import image_logits_of
from papseg_utils.train import checkpoint as ckpt
from papseg_utils.train.config import TrainConfig
from papseg_utils.train.distributed import (
    ShardedBatchSampler,
    all_reduce_sum,
    barrier,
    cleanup,
    init_distributed,
)
from papseg_utils.train.history import History
from papseg_utils.train.losses import get_loss
from papseg_utils.train.optim import (
    build_optimizer,
    build_scheduler,
    set_encoder_trainable,
    set_norm_eval,
)

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingOOMError(RuntimeError):
    """The GPU ran out of memory; the message says what to shrink."""


# --------------------------------------------------------------------------- reproducibility


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and all GPUs)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - libraries still use the global RNG
    torch.manual_seed(seed)


def set_deterministic(enabled: bool = True, warn_only: bool = True) -> Callable[[], None]:
    """Switch PyTorch's deterministic mode on; return a function that restores the previous mode.

    Sets ``torch.use_deterministic_algorithms(True, warn_only=warn_only)``
    (ops without a deterministic kernel warn instead of failing when
    ``warn_only``), ``cudnn.deterministic = True``, ``cudnn.benchmark = False``
    and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (needed by cuBLAS, if not set).
    Slower on GPUs; on the CPU the default kernels are already deterministic.
    """
    prev = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=warn_only)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

    def restore() -> None:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev[2], prev[3]

    return restore


def _epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 10_007 + int(rank) * 101) % 2**31


def _reseed_transform(dataset, seed: int) -> None:
    """Reseed an albumentations ``transform`` found on ``dataset`` (or a wrapped ``.dataset``)."""
    seen = 0
    while dataset is not None and seen < 5:
        transform = getattr(dataset, "transform", None)
        if hasattr(transform, "set_random_seed"):
            transform.set_random_seed(int(seed))
            return
        dataset, seen = getattr(dataset, "dataset", None), seen + 1


def worker_init_fn(worker_id: int) -> None:
    """DataLoader worker seeding: NumPy, ``random`` and the dataset's albumentations transform.

    Each worker gets ``torch.initial_seed()``, which PyTorch derives from the
    loader's generator and the worker id, so workers differ from each other
    and from epoch to epoch, yet a seeded run repeats exactly.
    """
    s = torch.initial_seed() % 2**32
    np.random.seed(s)  # noqa: NPY002
    random.seed(s)
    info = get_worker_info()
    if info is not None:
        _reseed_transform(info.dataset, s)


# --------------------------------------------------------------------------- metrics


def confusion_matrix(
    preds: torch.Tensor, masks: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """(C, C) int64 counts, rows = truth, columns = prediction, ignored pixels excluded.

    ``preds`` and ``masks`` are integer tensors of the same shape, e.g. (N, H, W).
    """
    valid = masks != ignore_index
    t = masks[valid].long()
    p = preds[valid].long()
    return torch.bincount(t * num_classes + p, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def dice_from_confusion(cm: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-class Dice ``2TP / (2TP + FP + FN)`` (C,) float64; NaN where a class is absent from truth and prediction."""
    cm = np.asarray(cm.cpu() if isinstance(cm, torch.Tensor) else cm, dtype=np.float64)
    tp = np.diag(cm)
    denom = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def iou_from_confusion(cm: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-class IoU ``TP / (TP + FP + FN)`` (C,) float64; NaN where a class is absent."""
    cm = np.asarray(cm.cpu() if isinstance(cm, torch.Tensor) else cm, dtype=np.float64)
    tp = np.diag(cm)
    denom = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / denom, np.nan)


def _image_labels(batch) -> torch.Tensor | None:
    """The (N,) int64 image-level labels of a dict batch, or None."""
    return batch.get("label") if isinstance(batch, dict) else None


def _unpack(batch) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(batch, dict):
        return batch["image"], batch["mask"]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(
        f"a batch must be a dict with 'image' and 'mask' or a tuple (images, masks); got {type(batch).__name__}"
    )


def _to_device(images, masks, device, channels_last):
    images = images.to(device, non_blocking=True).float()
    masks = masks.to(device, non_blocking=True).long()
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, masks


@torch.no_grad()
def evaluate_loader(
    model: nn.Module,
    loader: Iterable,
    num_classes: int,
    loss_fn: nn.Module | None = None,
    ignore_index: int = 255,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    max_batches: int | None = None,
) -> dict:
    """Validation pass: confusion matrix and mean loss over ``loader`` (this process only).

    Returns
    -------
    dict
        ``confusion`` (C, C) int64 tensor, ``loss_sum`` and ``num_images``
        (float64 tensors, so they can be summed across processes).
    """
    device = torch.device(device)
    dtype = autocast_dtype(precision)
    was_training = model.training
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    n = torch.zeros((), dtype=torch.float64, device=device)
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        images, masks = _to_device(*_unpack(batch), device, channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = logits_of(model(images))
        logits = logits.float()
        if loss_fn is not None:
            loss_sum += loss_fn(logits, masks).double() * images.shape[0]
        n += images.shape[0]
        cm += confusion_matrix(logits.argmax(1), masks, num_classes, ignore_index)
    model.train(was_training)
    return {"confusion": cm, "loss_sum": loss_sum, "num_images": n}


def _image_loss(output, labels, cfg: TrainConfig, device) -> torch.Tensor | float:
    """``image_loss_weight`` x cross-entropy of the image head, or 0 without head or labels."""
    image_logits = image_logits_of(output)
    if image_logits is None or labels is None or cfg.image_loss_weight == 0:
        return 0.0
    return cfg.image_loss_weight * nn.functional.cross_entropy(
        image_logits.float(), labels.to(device, non_blocking=True).long()
    )


# --------------------------------------------------------------------------- fit


def _oom_hint(cfg: TrainConfig, precision: str) -> str:
    return (
        f"out of GPU memory (batch_size={cfg.batch_size}, image_size={cfg.image_size}, "
        f"precision={precision}, accumulate_steps={cfg.accumulate_steps}). Try: a smaller batch_size "
        "with accumulate_steps to keep the effective batch, a smaller image_size, precision='bf16' or "
        "'fp16', channels_last=True, or a lighter architecture/encoder."
    )


def _call_callbacks(callbacks, row: dict, history: History) -> bool:
    stop = False
    for cb in callbacks or ():
        hook = getattr(cb, "on_epoch_end", None)
        result = hook(row, history) if hook is not None else cb(row)
        stop = stop or bool(result)
    return stop


def fit(
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset | None,
    config: TrainConfig | dict,
    output_dir: str | Path,
    scheme: LabelScheme | str | None = None,
    resume_from: str | Path | None = None,
    callbacks: list | None = None,
) -> History:
    """Train ``model`` on ``train_ds``, validating on ``val_ds`` after every ``val_every`` epochs.

    Parameters
    ----------
    model : nn.Module
        Maps images (N, 3, H, W) float32 to logits (N, C, H, W). Its
        ``encoder`` attribute (if any) gets ``lr_encoder`` and can be frozen.
        Trained in place; at the end it holds the *last* weights (the best are
        in ``output_dir/best``; load them with :func:`~papseg_utils.train.checkpoint.load_model`).
    train_ds, val_ds : Dataset
        Items are dicts ``{"image": (3, H, W) float32, "mask": (H, W) int64, ...}``
        or tuples ``(image, mask)``; all items of a dataset share one size.
        ``val_ds=None`` skips validation (no early stopping, no ``best``).
    config : TrainConfig or dict
    output_dir : folder for ``history.csv``, ``history.json``, ``best/``, ``last/``.
    scheme : label scheme (name or object); default ``train_ds.scheme``. Its
        ``num_classes`` must match the model's output channels.
    resume_from : checkpoint folder (normally ``output_dir/last``) to continue from.
    callbacks : callables ``f(row) -> bool`` or objects with
        ``on_epoch_end(row, history) -> bool``, called on the main process
        after each epoch's checkpoint is written; ``True`` stops training.

    Returns
    -------
    History
        One row per epoch; also written to ``output_dir``.

    Raises
    ------
    NonFiniteLossError
        The loss became NaN/inf (message: epoch, step and what to try);
        ``output_dir/last`` still holds the last good epoch.
    TrainingOOMError
        CUDA out of memory, with a hint on what to shrink.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    scheme = get_scheme(scheme if scheme is not None else _dataset_scheme(train_ds))
    num_classes = scheme.num_classes
    output_dir = Path(output_dir)

    device = resolve_device(cfg.device)
    dist_ctx = init_distributed(device)
    device = dist_ctx.device
    precision = resolve_precision(cfg.precision, device)
    amp_dtype = autocast_dtype(precision)
    channels_last = cfg.channels_last and device.type == "cuda"
    restore_determinism = set_deterministic(cfg.deterministic)
    configure_backends(device, cfg.deterministic)
    try:
        return _fit(
            model,
            train_ds,
            val_ds,
            cfg,
            output_dir,
            scheme,
            num_classes,
            device,
            dist_ctx,
            precision,
            amp_dtype,
            channels_last,
            resume_from,
            callbacks,
        )
    finally:
        restore_determinism()
        cleanup(dist_ctx)


def _dataset_scheme(ds):
    for obj in (ds, getattr(ds, "dataset", None)):
        s = getattr(obj, "scheme", None)
        if s is not None:
            return s
    raise ValueError(
        "fit() needs the label scheme: pass scheme='herlev3' (or the LabelScheme of your masks)"
    )


def _fit(
    model,
    train_ds,
    val_ds,
    cfg,
    output_dir,
    scheme,
    num_classes,
    device,
    dist_ctx,
    precision,
    amp_dtype,
    channels_last,
    resume_from,
    callbacks,
) -> History:
    rank, world = dist_ctx.rank, dist_ctx.world_size
    seed_everything(cfg.seed + rank)
    base = model.to(device)
    if channels_last:
        base = base.to(memory_format=torch.channels_last)
    loss_fn = get_loss(
        cfg.loss, num_classes, cfg.class_weights, cfg.ignore_index, **cfg.loss_kwargs
    ).to(device)
    if cfg.freeze_epochs > 0:
        set_encoder_trainable(base, True)  # raises early if there is no encoder
    optimizer = build_optimizer(base, cfg.lr, cfg.encoder_lr, cfg.weight_decay)

    loader_kw = dataloader_kwargs(device, cfg.num_workers, world)
    if cfg.deterministic:
        loader_kw["persistent_workers"] = False  # fresh, epoch-seeded workers every epoch
    sampler = ShardedBatchSampler(
        len(train_ds),
        cfg.batch_size,
        seed=cfg.seed,
        shuffle=True,
        drop_last=True,
        rank=rank,
        world_size=world,
    )
    generator = torch.Generator()
    train_loader = DataLoader(
        train_ds,
        batch_sampler=sampler,
        worker_init_fn=worker_init_fn,
        generator=generator,
        **loader_kw,
    )
    val_loader = None
    if val_ds is not None:
        if len(val_ds) == 0:
            raise ValueError("the validation set is empty; pass val_ds=None or fix the split")
        shard = Subset(val_ds, list(range(rank, len(val_ds), world))) if world > 1 else val_ds
        val_loader = DataLoader(
            shard,
            batch_size=max(1, cfg.batch_size // world),
            shuffle=False,
            worker_init_fn=worker_init_fn,
            **loader_kw,
        )

    micro_per_epoch = len(sampler)
    if micro_per_epoch == 0:
        raise ValueError(
            f"no training batches: {len(train_ds)} images, batch_size={cfg.batch_size}"
        )
    if cfg.max_steps_per_epoch is not None:
        micro_per_epoch = min(micro_per_epoch, cfg.max_steps_per_epoch)
    steps_per_epoch = math.ceil(micro_per_epoch / cfg.accumulate_steps)
    total_steps = cfg.num_epochs * steps_per_epoch
    warmup = cfg.warmup_steps or round(cfg.warmup_epochs * steps_per_epoch)
    scheduler = build_scheduler(optimizer, total_steps, warmup, cfg.schedule, cfg.min_lr_ratio)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    history = History(output_dir=str(output_dir))
    early = {"best_score": None, "best_epoch": None, "bad_rounds": 0}
    start_epoch, global_step = 1, 0
    if resume_from is not None:
        start_epoch, global_step, early = _resume(
            resume_from, base, optimizer, scheduler, scaler, history, cfg, dist_ctx, num_classes
        )
    fwd = torch.compile(base) if cfg.compile else base
    train_module, ddp = fwd, None
    frozen: bool | None = None
    group_names = [g.get("name", f"group{i}") for i, g in enumerate(optimizer.param_groups)]
    if dist_ctx.is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
        log.info(
            "training %s on %s (%s, %d process(es)): %d images, %d steps/epoch, %d epochs",
            type(base).__name__,
            device,
            precision,
            world,
            len(train_ds),
            steps_per_epoch,
            cfg.num_epochs,
        )

    for epoch in range(start_epoch, cfg.num_epochs + 1):
        t0 = time.perf_counter()
        want_frozen = epoch <= cfg.freeze_epochs
        if want_frozen != frozen:
            if cfg.freeze_epochs > 0:
                set_encoder_trainable(base, not want_frozen)
            frozen = want_frozen
            if (
                dist_ctx.distributed
            ):  # DDP registers the parameters that need gradients at wrap time
                ddp = nn.parallel.DistributedDataParallel(
                    fwd, device_ids=[device.index] if device.type == "cuda" else None
                )
                train_module = ddp
        train_module.train()
        if frozen:
            set_norm_eval(base.encoder)
        sampler.set_epoch(epoch)
        generator.manual_seed(_epoch_seed(cfg.seed, epoch, rank))
        if loader_kw["num_workers"] == 0:
            _reseed_transform(train_ds, _epoch_seed(cfg.seed, epoch, rank))

        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        n_seen = 0
        bar = tqdm(
            total=micro_per_epoch,
            desc=f"epoch {epoch}/{cfg.num_epochs}",
            leave=False,
            disable=not (cfg.progress and dist_ctx.is_main),
            dynamic_ncols=True,
        )
        optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(train_loader):
            if i >= micro_per_epoch:
                break
            last_micro = (i + 1) % cfg.accumulate_steps == 0 or i + 1 == micro_per_epoch
            images, masks = _to_device(*_unpack(batch), device, channels_last)
            sync = ddp.no_sync() if (ddp is not None and not last_micro) else nullcontext()
            try:
                with sync:
                    with torch.autocast(
                        device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None
                    ):
                        output = train_module(images)
                    loss = loss_fn(logits_of(output), masks)
                    loss = loss + _image_loss(output, _image_labels(batch), cfg, device)
                    reduced = all_reduce_sum(loss.detach().double().clone(), dist_ctx) / world
                    value = float(reduced)
                    if not math.isfinite(value):
                        _non_finite(
                            epoch,
                            i + 1,
                            global_step,
                            value,
                            optimizer,
                            cfg,
                            precision,
                            history,
                            output_dir,
                            dist_ctx,
                        )
                    scaler.scale(loss / cfg.accumulate_steps).backward()
                if last_micro:
                    if cfg.max_grad_norm is not None:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(
                            [p for p in base.parameters() if p.grad is not None], cfg.max_grad_norm
                        )
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    scheduler.step()
                    global_step += 1
            except torch.OutOfMemoryError as err:
                raise TrainingOOMError(_oom_hint(cfg, precision)) from err
            loss_sum += reduced * images.shape[0]
            n_seen += images.shape[0]
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        bar.close()

        row = {
            "epoch": epoch,
            "step": global_step,
            "train_loss": float(loss_sum) / max(n_seen, 1),
        }
        validate = val_loader is not None and (
            epoch % cfg.val_every == 0 or epoch == cfg.num_epochs
        )
        row.update(
            _validate(
                fwd,
                val_loader if validate else None,
                loss_fn,
                scheme,
                cfg,
                device,
                precision,
                channels_last,
                dist_ctx,
            )
        )
        for name, group in zip(group_names, optimizer.param_groups, strict=True):
            row[f"lr_{name}"] = group["lr"]
        row["encoder_frozen"] = bool(frozen)
        row["epoch_time_s"] = time.perf_counter() - t0

        improved = False
        score = row.get("val_mean_dice", math.nan)
        if validate and math.isfinite(score):
            if early["best_score"] is None or score > early["best_score"] + cfg.min_delta:
                early.update(best_score=score, best_epoch=epoch, bad_rounds=0)
                improved = True
            else:
                early["bad_rounds"] += 1
        history.rows.append(row)
        history.best_epoch, history.best_score = early["best_epoch"], early["best_score"]
        stop_early = validate and cfg.patience is not None and early["bad_rounds"] >= cfg.patience
        if stop_early:
            history.stop_reason = "early_stopping"

        if dist_ctx.is_main:
            state = _trainer_state(
                epoch, global_step, optimizer, scheduler, scaler, history, early, cfg, frozen
            )
            meta = dict(
                num_classes=num_classes,
                scheme=scheme,
                epoch=epoch,
                metrics={k: v for k, v in row.items() if k.startswith("val_")},
                train_config=cfg.to_dict(),
                trainer_state=state,
                extra={
                    **_norm_extra(train_ds),
                    "image_labels": getattr(base, "papseg_image_labels", None) or None,
                    "data": getattr(base, "papseg_data", None),
                },
            )
            if cfg.save_last:
                ckpt.save_checkpoint(output_dir / "last", base, **meta)
            if improved and cfg.save_best:
                ckpt.save_checkpoint(output_dir / "best", base, **meta)
            history.save(output_dir)
            log.info(
                "epoch %d/%d: train_loss %.4f, val_mean_dice %s, %.1f s",
                epoch,
                cfg.num_epochs,
                row["train_loss"],
                f"{score:.4f}" if math.isfinite(score) else "-",
                row["epoch_time_s"],
            )
        barrier(dist_ctx)
        stop_cb = _call_callbacks(callbacks, row, history) if dist_ctx.is_main else False
        if dist_ctx.distributed:
            flag = all_reduce_sum(torch.tensor(float(stop_cb), device=device), dist_ctx)
            stop_cb = bool(flag > 0)
        if stop_cb and not stop_early:
            history.stop_reason = "callback"
        if stop_early or stop_cb:
            break

    if dist_ctx.is_main:
        history.save(output_dir)
    base.eval()
    return history


def _norm_extra(ds) -> dict:
    out = {}
    for obj in (ds, getattr(ds, "dataset", None)):
        for key in ("image_size",):
            if key not in out and getattr(obj, key, None) is not None:
                out[key] = getattr(obj, key)
    return out


def _validate(
    fwd, loader, loss_fn, scheme, cfg, device, precision, channels_last, dist_ctx
) -> dict:
    names = scheme.classes
    if loader is None:
        out = {"val_loss": math.nan}
        out.update({f"val_dice_{c}": math.nan for c in names})
        out.update(val_mean_dice=math.nan, val_mean_iou=math.nan)
        return out
    res = evaluate_loader(
        fwd,
        loader,
        scheme.num_classes,
        loss_fn,
        cfg.ignore_index,
        device,
        precision,
        channels_last,
        cfg.max_val_batches,
    )
    cm = all_reduce_sum(res["confusion"], dist_ctx)
    loss_sum = all_reduce_sum(res["loss_sum"], dist_ctx)
    n = all_reduce_sum(res["num_images"], dist_ctx)
    dice, iou = dice_from_confusion(cm), iou_from_confusion(cm)
    out = {"val_loss": float(loss_sum / n.clamp_min(1))}
    out.update({f"val_dice_{c}": float(d) for c, d in zip(names, dice, strict=True)})
    with np.errstate(all="ignore"):
        fg_d, fg_i = dice[1:], iou[1:]
        out["val_mean_dice"] = float(np.nanmean(fg_d)) if np.isfinite(fg_d).any() else math.nan
        out["val_mean_iou"] = float(np.nanmean(fg_i)) if np.isfinite(fg_i).any() else math.nan
    return out


def _trainer_state(
    epoch, global_step, optimizer, scheduler, scaler, history, early, cfg, frozen
) -> dict:
    return {
        "format_version": ckpt.FORMAT_VERSION,
        "epoch": int(epoch),
        "global_step": int(global_step),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": ckpt.get_rng_state(),
        "history": history.to_dict(),
        "early_stopping": dict(early),
        "encoder_frozen": bool(frozen),
        "train_config": cfg.to_dict(),
    }


def _resume(path, base, optimizer, scheduler, scaler, history, cfg, dist_ctx, num_classes):
    folder = ckpt.resolve_checkpoint(path)
    config = ckpt.load_config(folder)
    if config.get("num_classes") not in (None, num_classes):  # before the weights: clear message
        raise ckpt.CheckpointError(
            f"{folder} was trained with {config['num_classes']} classes, this run has {num_classes}; "
            "resume with the same label scheme"
        )
    state = ckpt.load_trainer_state(folder, map_location="cpu")
    ckpt.load_weights(base, folder, device="cpu")
    old = state.get("train_config", {})
    for key in ("batch_size", "accumulate_steps", "loss", "lr", "seed"):
        if key in old and old[key] != getattr(cfg, key):
            log.warning(
                "resuming %s with %s=%r (the checkpoint used %r)",
                folder,
                key,
                getattr(cfg, key),
                old[key],
            )
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    restored = History.from_dict(state["history"], history.output_dir)
    history.rows, history.best_epoch, history.best_score = (
        restored.rows,
        restored.best_epoch,
        restored.best_score,
    )
    ckpt.set_rng_state(state["rng"])
    if dist_ctx.distributed:  # the saved RNG state is rank 0's; keep ranks apart
        torch.manual_seed(_epoch_seed(cfg.seed, int(state["epoch"]), dist_ctx.rank))
    epoch = int(state["epoch"])
    if epoch >= cfg.num_epochs:
        log.warning(
            "checkpoint %s is at epoch %d >= num_epochs=%d: nothing left to train",
            folder,
            epoch,
            cfg.num_epochs,
        )
    log.info("resumed from %s at epoch %d (step %d)", folder, epoch, state["global_step"])
    return epoch + 1, int(state["global_step"]), dict(state["early_stopping"])


def _non_finite(
    epoch, micro_step, global_step, value, optimizer, cfg, precision, history, output_dir, dist_ctx
):
    lrs = ", ".join(
        f"{g.get('name', i)}={g['lr']:.2e}" for i, g in enumerate(optimizer.param_groups)
    )
    last = output_dir / "last"
    kept = (
        f"the last good checkpoint is {last}"
        if (last / ckpt.CONFIG_FILE).is_file()
        else "no checkpoint was written yet"
    )
    if dist_ctx.is_main and history.rows:
        history.save(output_dir)
    raise NonFiniteLossError(
        f"loss is {value} at epoch {epoch}, batch {micro_step} (optimiser step {global_step}); "
        f"learning rates {lrs}, precision {precision}. Training stopped; {kept}. Try a lower lr "
        "(or lr_encoder), a longer warm-up, max_grad_norm=1.0, precision='fp32' (fp16 overflows), and "
        "check the inputs for NaNs and the masks for labels outside the scheme."
    )
