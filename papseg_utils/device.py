"""Pick the compute device and the settings that go with it.

``resolve_device("auto")`` prefers CUDA, then Apple's MPS, then the CPU, so
notebooks never hard-code a device. :func:`resolve_precision` and
:func:`dataloader_kwargs` turn the ``"auto"`` settings of
:class:`papseg_utils.train.TrainConfig` into concrete choices for that device.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return a :class:`torch.device` for ``device``.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks ``cuda`` if available, then ``mps``, then ``cpu``.
        Anything else (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) is
        checked for availability.

    Raises
    ------
    ValueError
        If the name is not a device, or the device is not available here
        (the message says which devices are).
    """
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = str(device).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"device {device!r} is not a torch device name; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} requested but CUDA is not available here; {_available()}"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) visible; {_available()}"
            )
    elif dev.type == "mps" and not _mps_available():
        raise ValueError(
            f"device {device!r} requested but MPS is not available here; {_available()}"
        )
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: unsupported device type {dev.type!r}; {_available()}")
    return dev


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _available() -> str:
    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return "available: " + ", ".join(names) + " (or 'auto')"


def resolve_precision(precision: str, device: torch.device) -> str:
    """Turn ``precision`` into ``"fp32"``, ``"bf16"`` or ``"fp16"`` for ``device``.

    ``"auto"`` gives bf16 on CUDA GPUs that support it natively (Ampere and newer),
    fp16 with loss scaling on older CUDA GPUs (a T4, a V100), and fp32 on the CPU and MPS (mixed precision on
    the CPU is slower than fp32 for these convolutional networks). An explicit
    ``"bf16"``/``"fp16"`` on the CPU falls back to fp32 with a warning.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {PRECISIONS}")
    if device.type != "cuda":
        if precision in ("bf16", "fp16"):
            log.warning("precision=%r needs a CUDA device; using fp32 on %s", precision, device)
        return "fp32"
    # A T4 (Colab) or V100 only emulates bf16 (slowly): count native support only.
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    if precision == "auto":
        return "bf16" if native_bf16 else "fp16"
    if precision == "bf16" and not native_bf16:
        log.warning("this GPU does not support bf16; using fp16 with loss scaling")
        return "fp16"
    return precision


def autocast_dtype(precision: str) -> torch.dtype | None:
    """``torch.bfloat16``/``torch.float16`` for mixed precision, ``None`` for fp32."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def configure_backends(device: torch.device, deterministic: bool = False) -> None:
    """Enable TF32 matmuls/convolutions and cuDNN autotuning on CUDA.

    cuDNN benchmark mode is left off in deterministic mode (it picks
    algorithms by timing, which is not reproducible).
    """
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = not deterministic


def cpu_count() -> int:
    """CPU cores this process may use (respects affinity masks/containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


def dataloader_kwargs(
    device: torch.device, num_workers: int | str = "auto", world_size: int = 1
) -> dict:
    """Sensible ``DataLoader`` keyword arguments for ``device``.

    ``num_workers="auto"``: on CUDA, up to 8 workers per process (cores shared
    among the ``world_size`` processes, one core kept for the main process);
    on the CPU, 0 workers (the cores are busy training; worker processes only
    add start-up time and memory for the small, cached datasets used here).
    ``pin_memory`` is on for CUDA; ``persistent_workers`` whenever workers > 0.

    Returns
    -------
    dict
        ``num_workers``, ``pin_memory``, ``persistent_workers`` and, with
        workers, ``prefetch_factor``.
    """
    if num_workers == "auto":
        if device.type == "cuda":
            workers = max(0, min(8, cpu_count() // max(world_size, 1) - 1))
        else:
            workers = 0
    else:
        try:
            workers = int(num_workers)
        except (TypeError, ValueError):
            raise ValueError(
                f"num_workers={num_workers!r}: use 'auto' or an integer >= 0"
            ) from None
        if workers < 0:
            raise ValueError(f"num_workers={num_workers!r}: use 'auto' or an integer >= 0")
    kwargs = {
        "num_workers": workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": workers > 0,
    }
    if workers > 0:
        kwargs["prefetch_factor"] = 4 if device.type == "cuda" else 2
    return kwargs
