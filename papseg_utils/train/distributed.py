"""Multi-process (DDP) plumbing: the same ``fit`` runs under ``torchrun`` or ``accelerate launch``.

Both launchers start one process per GPU and set ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``. :func:`init_distributed` reads them and starts the process
group (NCCL on CUDA, gloo on the CPU); with no launcher it does nothing, so
single-process CPU training stays plain PyTorch. We use
``torch.nn.parallel.DistributedDataParallel`` directly rather than
``accelerate.Accelerator``: Accelerate keeps process-wide singleton state
(precision, device) that clashes with several ``fit`` calls of different
precision in one notebook or test session, while DDP needs only a wrapper.

Batches are split across processes by :class:`ShardedBatchSampler`:
``batch_size`` is the *global* batch; each of the ``world_size`` processes
takes its slice of every global batch, so the same configuration gives the
same optimisation on 1, 2 or 8 GPUs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

log = logging.getLogger(__name__)


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``device``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes files (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun/accelerate, 1 without a launcher."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: torch.device) -> DistContext:
    """Start the process group if a launcher asked for several processes.

    On CUDA each process uses ``cuda:LOCAL_RANK``. Returns a single-process
    context when ``WORLD_SIZE`` is unset or 1.
    """
    world = launched_world_size()
    if world <= 1 and not (dist.is_available() and dist.is_initialized()):
        return DistContext(device=device)
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group(backend=backend, **kwargs)
        here = True
        log.info(
            "process group started: backend=%s rank=%d/%d",
            backend,
            dist.get_rank(),
            dist.get_world_size(),
        )
    return DistContext(dist.get_rank(), local_rank, dist.get_world_size(), device, here)


def cleanup(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` started it."""
    if ctx.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``tensor`` over processes (in place; returned for chaining)."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


class ShardedBatchSampler(Sampler[list[int]]):
    """Global batches in a seeded per-epoch order, each split across processes.

    Parameters
    ----------
    num_samples : int
        Dataset length.
    batch_size : int
        Global batch size; must be divisible by ``world_size``.
    seed : int
        The order of epoch ``e`` is ``randperm(num_samples)`` with seed ``seed + e``
        (call :meth:`set_epoch`), so a resumed run sees the same batches.
    shuffle : bool
        False keeps the dataset order.
    drop_last : bool
        Drop the last incomplete global batch. If the dataset is smaller
        than one batch, a single batch of all samples is used instead.
    rank, world_size : int
        This process's slice: ``global_batch[rank * b : (rank + 1) * b]`` with
        ``b = len(global_batch) // world_size``.
    sizes : sequence of int, optional
        One size per sample (e.g. the side a scale-true image is padded to). Batches are then
        made of samples of similar size: the epoch's order is sorted by size (ties in the
        seeded random order), cut into batches, and the batches are shuffled, so a batch pads
        little and the epoch still visits the sizes in a random order.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
        sizes: Sequence[int] | None = None,
    ):
        if sizes is not None and len(sizes) != num_samples:
            raise ValueError(f"{len(sizes)} sizes for {num_samples} samples")
        self.sizes = None if sizes is None else [int(v) for v in sizes]
        if num_samples < 1:
            raise ValueError("the training set is empty; check the dataset and the split")
        if batch_size < 1 or batch_size % world_size:
            raise ValueError(
                f"batch_size={batch_size} must be a positive multiple of the number of processes "
                f"({world_size}); it is the global batch, split across processes"
            )
        if num_samples < world_size:
            raise ValueError(
                f"{num_samples} training samples cannot be split across {world_size} processes"
            )
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.shuffle, self.drop_last, self.rank, self.world_size = (
            shuffle,
            drop_last,
            rank,
            world_size,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _global_batches(self) -> list[list[int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=g).tolist()
        else:
            order = list(range(self.num_samples))
        b = self.batch_size
        if self.sizes is not None:  # similar sizes together, in a random order of batches
            order = sorted(order, key=lambda i: self.sizes[i])  # stable: ties stay shuffled
        batches = [order[i : i + b] for i in range(0, len(order), b)]
        if len(batches) > 1 and len(batches[-1]) < b and self.drop_last:
            batches.pop()
        if self.sizes is not None and self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch + 7919)
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        # every batch must split evenly (DDP processes need equal step counts)
        return [
            bt[: len(bt) - len(bt) % self.world_size]
            for bt in batches
            if len(bt) >= self.world_size
        ]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._global_batches():
            per = len(batch) // self.world_size
            yield batch[self.rank * per : (self.rank + 1) * per]

    def __len__(self) -> int:
        return len(self._global_batches())
