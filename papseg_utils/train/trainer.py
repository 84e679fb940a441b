"""The training loop as a small trainer: set-up, one epoch, one step, end of epoch.

:func:`papseg_utils.train.fit` builds a :class:`Trainer` and calls :meth:`Trainer.run`. Read
:meth:`Trainer.train_epoch` and :meth:`Trainer.train_step` for the loop itself (batches, loss,
backward, optimiser step); :meth:`Trainer.end_epoch` validates, keeps the early-stopping score,
writes the ``best``/``last`` checkpoints and calls the callbacks.

Extension points: subclass :class:`Trainer` and override :meth:`Trainer.build_loss`,
:meth:`Trainer.build_optimizer` or :meth:`Trainer.build_scheduler`, then pass the subclass to
``fit(..., trainer_cls=MyTrainer)``::

    class SGDTrainer(Trainer):
        def build_optimizer(self):
            return torch.optim.SGD(self.model.parameters(), lr=self.cfg.lr, momentum=0.9)
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from papseg_utils.data.batches import to_device, unpack
from papseg_utils.device import dataloader_kwargs
from papseg_utils.evaluate.loader import score_loader
from papseg_utils.inference import logits_of
from papseg_utils.labels import LabelScheme
from papseg_utils.models.heads import image_logits_of
from papseg_utils.models.registry import freeze_encoder
from papseg_utils.train import checkpoint as ckpt
from papseg_utils.train import optim
from papseg_utils.train.config import TrainConfig
from papseg_utils.train.distributed import ShardedBatchSampler, all_reduce_sum, barrier
from papseg_utils.train.history import History
from papseg_utils.train.losses import get_loss
from papseg_utils.train.seeding import epoch_seed, reseed_dataset, seed_everything, worker_init_fn
from papseg_utils.train.validation import empty_row, validation_row

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingOOMError(RuntimeError):
    """The GPU ran out of memory; the message says what to shrink."""


@dataclass
class Placement:
    """Where and how a run computes: device, processes, precision, memory format."""

    device: torch.device
    dist: object  # papseg_utils.train.distributed.DistContext
    precision: str
    amp_dtype: torch.dtype | None
    channels_last: bool


class EarlyStopping:
    """Stop after ``patience`` validations without a gain of more than ``min_delta``.

    ``patience=None`` never stops. The score is the validation mean foreground Dice.
    """

    def __init__(self, patience: int | None, min_delta: float = 0.0) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.bad_rounds = 0

    def update(self, score: float, epoch: int) -> bool:
        """Record one validation score; True if it is the best so far."""
        if self.best_score is None or score > self.best_score + self.min_delta:
            self.best_score, self.best_epoch, self.bad_rounds = score, epoch, 0
            return True
        self.bad_rounds += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_rounds >= self.patience

    def state_dict(self) -> dict:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch,
                "bad_rounds": self.bad_rounds}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.best_score, self.best_epoch = state["best_score"], state["best_epoch"]
        self.bad_rounds = int(state["bad_rounds"])


class Trainer:
    """One training run of ``model`` (see :func:`papseg_utils.train.fit` for the arguments)."""

    def __init__(self, model: nn.Module, train_ds: Dataset, val_ds: Dataset | None,
                 cfg: TrainConfig, output_dir: Path, scheme: LabelScheme, where: Placement,
                 callbacks: list | None = None, record: dict | None = None) -> None:  # fmt: skip
        self.cfg, self.scheme, self.where, self.record = cfg, scheme, where, dict(record or {})
        self.train_ds, self.output_dir, self.callbacks = train_ds, Path(output_dir), callbacks
        self.rank, self.world = where.dist.rank, where.dist.world_size
        seed_everything(cfg.seed + self.rank)
        self.model = model.to(where.device)
        if where.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = self.build_loss().to(where.device)
        if cfg.freeze_epochs > 0:
            freeze_encoder(self.model, frozen=False)  # raises early if there is no encoder
        self.optimizer = self.build_optimizer()
        self._build_loaders(train_ds, val_ds)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / cfg.accumulate_steps)
        total = cfg.num_epochs * self.steps_per_epoch
        warmup = cfg.warmup_steps or round(cfg.warmup_epochs * self.steps_per_epoch)
        self.scheduler = self.build_scheduler(self.optimizer, total, warmup)
        self.scaler = torch.amp.GradScaler(where.device.type, enabled=where.precision == "fp16")
        self.history = History(output_dir=str(self.output_dir))
        self.early = EarlyStopping(cfg.patience, cfg.min_delta)
        self.start_epoch, self.global_step = 1, 0
        self.frozen: bool | None = None
        self.forward_module = torch.compile(self.model) if cfg.compile else self.model
        self.train_module, self.ddp = self.forward_module, None

    # ------------------------------------------------------------------ set-up (overridable)
    def build_loss(self) -> nn.Module:
        """The training (and validation) loss: ``loss(logits, masks) -> scalar``.

        Called once in ``__init__``, after ``self.model`` is on the device. ``logits`` are
        (N,C,H,W) float, ``masks`` (N,H,W) int64 with ``cfg.ignore_index`` for ignored pixels.
        The default is :func:`~papseg_utils.train.losses.get_loss` of ``cfg.loss`` with the
        config's class weights, ignore index and ``loss_kwargs``. The trainer moves the module to
        the device and adds the image head's loss (``image_loss_weight``) itself.
        """
        cfg = self.cfg
        return get_loss(
            cfg.loss, self.scheme.num_classes, cfg.class_weights, cfg.ignore_index,
            **cfg.loss_kwargs,
        )  # fmt: skip

    def build_optimizer(self) -> torch.optim.Optimizer:
        """The optimiser of ``self.model`` (on the device already). Called once in ``__init__``.

        The default is :func:`~papseg_utils.train.optim.build_optimizer`: AdamW with decoder and
        encoder parameter groups (``lr``, ``lr_encoder``; no weight decay on biases and norms).
        Name a group with a ``"name"`` key to get its own ``lr_<name>`` history column.
        """
        cfg = self.cfg
        return optim.build_optimizer(self.model, cfg.lr, cfg.encoder_lr, cfg.weight_decay)

    def build_scheduler(
        self, optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The learning-rate schedule, stepped once per optimiser step (``total_steps`` of them).

        The default is :func:`~papseg_utils.train.optim.build_scheduler` with ``cfg.schedule``
        and ``cfg.min_lr_ratio`` after ``warmup_steps`` linear warm-up steps.
        """
        cfg = self.cfg
        return optim.build_scheduler(
            optimizer, total_steps, warmup_steps, cfg.schedule, cfg.min_lr_ratio
        )

    def _build_loaders(self, train_ds: Dataset, val_ds: Dataset | None) -> None:
        cfg = self.cfg
        kw = dataloader_kwargs(self.where.device, cfg.num_workers, self.world)
        if cfg.deterministic:
            kw["persistent_workers"] = False  # fresh, epoch-seeded workers every epoch
        self.workers = kw["num_workers"]
        # scale-true datasets: items of different sizes, batched by size and padded per batch
        sizes, collate = getattr(train_ds, "sizes", None), getattr(train_ds, "collate", None)
        self.sampler = ShardedBatchSampler(len(train_ds), cfg.batch_size, seed=cfg.seed,
                                           shuffle=True, drop_last=True, rank=self.rank,
                                           world_size=self.world, sizes=sizes)  # fmt: skip
        self.generator = torch.Generator()
        self.train_loader = DataLoader(train_ds, batch_sampler=self.sampler,
                                       worker_init_fn=worker_init_fn, generator=self.generator,
                                       collate_fn=collate if sizes else None, **kw)  # fmt: skip
        self.val_loader = None
        if val_ds is not None:
            if len(val_ds) == 0:
                raise ValueError("the validation set is empty; pass val_ds=None or fix the split")
            shard = (Subset(val_ds, list(range(self.rank, len(val_ds), self.world)))
                     if self.world > 1 else val_ds)  # fmt: skip
            val_collate = val_ds.collate if getattr(val_ds, "sizes", None) else None
            self.val_loader = DataLoader(shard, batch_size=max(1, cfg.batch_size // self.world),
                                         shuffle=False, worker_init_fn=worker_init_fn,
                                         collate_fn=val_collate, **kw)  # fmt: skip
        self.micro_per_epoch = len(self.sampler)
        if self.micro_per_epoch == 0:
            raise ValueError(
                f"no training batches: {len(train_ds)} images, batch_size={cfg.batch_size}"
            )
        if cfg.max_steps_per_epoch is not None:
            self.micro_per_epoch = min(self.micro_per_epoch, cfg.max_steps_per_epoch)

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint folder: weights, optimiser, schedule, RNG, history."""
        folder = ckpt.resolve_checkpoint(path)
        config = ckpt.load_config(folder)
        n = self.scheme.num_classes
        if config.get("num_classes") not in (None, n):  # before the weights: a clear message
            raise ckpt.CheckpointError(
                f"{folder} was trained with {config['num_classes']} classes, this run has {n}; "
                "resume with the same label scheme"
            )
        state = ckpt.load_trainer_state(folder, map_location="cpu")
        ckpt.load_weights(self.model, folder, device="cpu")
        old = state.get("train_config", {})
        for key in ("batch_size", "accumulate_steps", "loss", "lr", "seed"):
            if key in old and old[key] != getattr(self.cfg, key):
                log.warning("resuming %s with %s=%r (the checkpoint used %r)", folder, key,
                            getattr(self.cfg, key), old[key])  # fmt: skip
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        restored = History.from_dict(state["history"], self.history.output_dir)
        self.history.rows = restored.rows
        self.history.best_epoch, self.history.best_score = restored.best_epoch, restored.best_score
        ckpt.set_rng_state(state["rng"])
        epoch = int(state["epoch"])
        if self.where.dist.distributed:  # the saved RNG state is rank 0's; keep ranks apart
            torch.manual_seed(epoch_seed(self.cfg.seed, epoch, self.rank))
        if epoch >= self.cfg.num_epochs:
            log.warning("checkpoint %s is at epoch %d >= num_epochs=%d: nothing left to train",
                        folder, epoch, self.cfg.num_epochs)  # fmt: skip
        log.info("resumed from %s at epoch %d (step %d)", folder, epoch, state["global_step"])
        self.start_epoch, self.global_step = epoch + 1, int(state["global_step"])
        self.early.load_state_dict(state["early_stopping"])

    # ------------------------------------------------------------------ the loop
    def run(self) -> History:
        """Train from ``start_epoch`` to ``num_epochs`` (or an early stop); return the history."""
        if self.where.dist.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            log.info("training %s on %s (%s, %d process(es)): %d images, %d steps/epoch, %d epochs",
                     type(self.model).__name__, self.where.device, self.where.precision,
                     self.world, len(self.train_ds), self.steps_per_epoch,
                     self.cfg.num_epochs)  # fmt: skip
        for epoch in range(self.start_epoch, self.cfg.num_epochs + 1):
            started = time.perf_counter()
            self.begin_epoch(epoch)
            train_loss = self.train_epoch(epoch)
            if self.end_epoch(epoch, train_loss, started):
                break
        if self.where.dist.is_main:
            self.history.save(self.output_dir)
        self.model.eval()
        return self.history

    def begin_epoch(self, epoch: int) -> None:
        """Freeze or unfreeze the encoder, switch to train mode, seed this epoch's batches."""
        want_frozen = epoch <= self.cfg.freeze_epochs
        if want_frozen != self.frozen:
            if self.cfg.freeze_epochs > 0:
                freeze_encoder(self.model, frozen=want_frozen)
            self.frozen = want_frozen
            if self.where.dist.distributed:  # DDP registers the trainable parameters at wrap time
                device = self.where.device
                self.ddp = nn.parallel.DistributedDataParallel(
                    self.forward_module,
                    device_ids=[device.index] if device.type == "cuda" else None,
                )
                self.train_module = self.ddp
        self.train_module.train()
        if self.frozen:  # smp models stay frozen through train(); the others need this again
            freeze_encoder(self.model, frozen=True)
        self.sampler.set_epoch(epoch)
        seed = epoch_seed(self.cfg.seed, epoch, self.rank)
        self.generator.manual_seed(seed)
        if self.workers == 0:
            reseed_dataset(self.train_ds, seed)

    def train_epoch(self, epoch: int) -> float:
        """One pass over the training batches; returns the mean training loss per image."""
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.where.device)
        n_seen = 0
        bar = tqdm(total=self.micro_per_epoch, desc=f"epoch {epoch}/{self.cfg.num_epochs}",
                   leave=False, dynamic_ncols=True,
                   disable=not (self.cfg.progress and self.where.dist.is_main))  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(self.train_loader):
            if i >= self.micro_per_epoch:
                break
            loss, n = self.train_step(batch, i, epoch)
            loss_sum += loss * n
            n_seen += n
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
        bar.close()
        return float(loss_sum) / max(n_seen, 1)

    def train_step(self, batch, i: int, epoch: int) -> tuple[torch.Tensor, int]:
        """Forward, loss, backward for micro-batch ``i``; an optimiser step every
        ``accumulate_steps`` micro-batches. Returns (the loss averaged over processes, batch size).
        """
        cfg, where = self.cfg, self.where
        last_micro = (i + 1) % cfg.accumulate_steps == 0 or i + 1 == self.micro_per_epoch
        images, masks = to_device(*unpack(batch), where.device, where.channels_last)
        sync = self.ddp.no_sync() if (self.ddp is not None and not last_micro) else nullcontext()
        try:
            with sync:
                with torch.autocast(where.device.type, dtype=where.amp_dtype or torch.float32,
                                    enabled=where.amp_dtype is not None):  # fmt: skip
                    output = self.train_module(images)
                loss = self.loss_fn(logits_of(output), masks)
                loss = loss + self._image_loss(output, batch)
                reduced = all_reduce_sum(loss.detach().double().clone(), where.dist) / self.world
                if not math.isfinite(float(reduced)):
                    self._raise_non_finite(epoch, i + 1, float(reduced))
                self.scaler.scale(loss / cfg.accumulate_steps).backward()
            if last_micro:
                self._optimiser_step()
        except torch.OutOfMemoryError as err:
            raise TrainingOOMError(oom_hint(cfg, where.precision)) from err
        return reduced, images.shape[0]

    def _optimiser_step(self) -> None:
        if self.cfg.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.grad is not None], self.cfg.max_grad_norm
            )
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.global_step += 1

    def _image_loss(self, output, batch) -> torch.Tensor | float:
        labels = batch.get("label") if isinstance(batch, dict) else None
        return image_loss(output, labels, self.cfg.image_loss_weight, self.where.device)

    # ------------------------------------------------------------------ end of epoch
    def end_epoch(self, epoch: int, train_loss: float, started: float) -> bool:
        """Validate, update early stopping, save checkpoints, call callbacks; True = stop."""
        cfg = self.cfg
        row = {"epoch": epoch, "step": self.global_step, "train_loss": train_loss}
        validate = self.val_loader is not None and (
            epoch % cfg.val_every == 0 or epoch == cfg.num_epochs
        )
        row.update(self._validate() if validate else empty_row(self.scheme))
        for k, group in enumerate(self.optimizer.param_groups):
            row[f"lr_{group.get('name', f'group{k}')}"] = group["lr"]
        row["encoder_frozen"] = bool(self.frozen)
        row["epoch_time_s"] = time.perf_counter() - started

        score = row.get("val_mean_dice", math.nan)
        improved = validate and math.isfinite(score) and self.early.update(score, epoch)
        self.history.rows.append(row)
        self.history.best_epoch, self.history.best_score = (
            self.early.best_epoch, self.early.best_score
        )  # fmt: skip
        stop_early = validate and self.early.should_stop
        if stop_early:
            self.history.stop_reason = "early_stopping"
        if self.where.dist.is_main:
            self.save(row, improved)
            log.info("epoch %d/%d: train_loss %.4f, val_mean_dice %s, %.1f s", epoch,
                     cfg.num_epochs, train_loss, f"{score:.4f}" if math.isfinite(score) else "-",
                     row["epoch_time_s"])  # fmt: skip
        barrier(self.where.dist)
        stop_cb = self._callbacks_say_stop(row)
        if stop_cb and not stop_early:
            self.history.stop_reason = "callback"
        return bool(stop_early or stop_cb)

    def _validate(self) -> dict:
        where = self.where
        result = score_loader(
            self.forward_module, self.val_loader, self.scheme.num_classes, self.loss_fn,
            self.cfg.ignore_index, where.device, where.precision, where.channels_last,
            self.cfg.max_val_batches,
        )  # fmt: skip
        return validation_row(result, self.scheme, where.dist)

    def _callbacks_say_stop(self, row: dict) -> bool:
        stop = False
        if self.where.dist.is_main:
            for cb in self.callbacks or ():
                hook = getattr(cb, "on_epoch_end", None)
                result = hook(row, self.history) if hook is not None else cb(row)
                stop = stop or bool(result)
        if self.where.dist.distributed:
            flag = all_reduce_sum(torch.tensor(float(stop), device=self.where.device),
                                  self.where.dist)  # fmt: skip
            stop = bool(flag > 0)
        return stop

    # ------------------------------------------------------------------ checkpoints
    def save(self, row: dict, improved: bool) -> None:
        """Write ``last/`` (and ``best/`` when the score improved) and the history files."""
        image_size = getattr(self.train_ds, "image_size", None)
        meta = dict(
            num_classes=self.scheme.num_classes,
            scheme=self.scheme,
            epoch=row["epoch"],
            metrics={k: v for k, v in row.items() if k.startswith("val_")},
            train_config=self.cfg.to_dict(),
            trainer_state=self.state(row["epoch"]),
            extra={
                **({"image_size": image_size} if image_size is not None else {}),
                "image_labels": getattr(self.model, "papseg_image_labels", None) or None,
                **(getattr(self.train_ds, "record", None) or {}),
                **self.record,
            },
        )
        if self.cfg.save_last:
            ckpt.save_checkpoint(self.output_dir / "last", self.model, **meta)
        if improved and self.cfg.save_best:
            ckpt.save_checkpoint(self.output_dir / "best", self.model, **meta)
        self.history.save(self.output_dir)

    def state(self, epoch: int) -> dict:
        """Everything :meth:`resume` needs besides the weights."""
        return {
            "format_version": ckpt.FORMAT_VERSION,
            "epoch": int(epoch),
            "global_step": int(self.global_step),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": ckpt.get_rng_state(),
            "history": self.history.to_dict(),
            "early_stopping": self.early.state_dict(),
            "encoder_frozen": bool(self.frozen),
            "train_config": self.cfg.to_dict(),
        }

    def _raise_non_finite(self, epoch: int, micro_step: int, value: float) -> None:
        lrs = ", ".join(f"{g.get('name', i)}={g['lr']:.2e}"
                        for i, g in enumerate(self.optimizer.param_groups))  # fmt: skip
        last = self.output_dir / "last"
        kept = (f"the last good checkpoint is {last}" if (last / ckpt.CONFIG_FILE).is_file()
                else "no checkpoint was written yet")  # fmt: skip
        if self.where.dist.is_main and self.history.rows:
            self.history.save(self.output_dir)
        raise NonFiniteLossError(
            f"loss is {value} at epoch {epoch}, batch {micro_step} (optimiser step "
            f"{self.global_step}); learning rates {lrs}, precision {self.where.precision}. "
            f"Training stopped; {kept}. Try a lower lr (or lr_encoder), a longer warm-up, "
            "max_grad_norm=1.0, precision='fp32' (fp16 overflows), and check the inputs for NaNs "
            "and the masks for labels outside the scheme."
        )


def image_loss(output, labels, weight: float, device) -> torch.Tensor | float:
    """``weight`` x cross-entropy of the image head's logits against ``labels`` (N,) int.

    0 when the output has no image logits, the batch has no labels or ``weight`` is 0.
    """
    image_logits = image_logits_of(output)
    if image_logits is None or labels is None or weight == 0:
        return 0.0
    labels = labels.to(device, non_blocking=True).long()
    return weight * nn.functional.cross_entropy(image_logits.float(), labels)


def oom_hint(cfg: TrainConfig, precision: str) -> str:
    """What to shrink after a CUDA out-of-memory error."""
    return (
        f"out of GPU memory (batch_size={cfg.batch_size}, image_size={cfg.image_size}, "
        f"precision={precision}, accumulate_steps={cfg.accumulate_steps}). Try: a smaller "
        "batch_size with accumulate_steps to keep the effective batch, a smaller image_size, "
        "precision='bf16' or 'fp16', channels_last=True, or a lighter architecture/encoder."
    )
