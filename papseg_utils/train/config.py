"""`TrainConfig`: every knob of a training run, JSON-serialisable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from papseg_utils.labels import IGNORE_INDEX


@dataclass
class TrainConfig:
    """Settings of :func:`papseg_utils.train.fit`.

    Optimisation
        ``num_epochs``; ``batch_size`` (global: split across DDP processes);
        ``lr`` (decoder/head) and ``lr_encoder`` (pre-trained encoder; default
        ``lr / 10``); ``weight_decay`` (AdamW, not on norms/biases);
        ``freeze_epochs`` (encoder frozen, its BatchNorm in eval mode);
        ``warmup_steps`` or ``warmup_epochs`` (linear warm-up, in optimiser
        steps; ``warmup_steps`` wins if > 0); ``schedule`` (``cosine`` |
        ``poly`` | ``constant``, per step) down to ``min_lr_ratio * lr``;
        ``max_grad_norm`` (clipping; ``None`` = off); ``accumulate_steps``
        (gradient accumulation: effective batch = ``batch_size * accumulate_steps``).
    Loss
        ``loss`` (``ce`` | ``dice`` | ``dice_ce`` | ``focal`` | ``lovasz``),
        ``loss_kwargs``, ``class_weights`` (one per class), ``ignore_index``;
        ``image_loss_weight``: weight of the cross-entropy of an image-level
        head (:mod:`papseg_utils.models.heads`) added to the segmentation loss,
        used when the model returns ``image_logits`` and batches carry ``label``.
    Hardware
        ``device`` (``auto`` = cuda, mps, cpu); ``precision`` (``auto`` |
        ``bf16`` | ``fp16`` | ``fp32``; auto = bf16/fp16 autocast on CUDA,
        fp32 elsewhere; fp16 uses a GradScaler); ``channels_last`` (CUDA
        only); ``compile`` (``torch.compile``); ``num_workers`` (``auto``).
    Reproducibility
        ``seed``; ``deterministic`` (``torch.use_deterministic_algorithms``;
        slower on GPUs).
    Validation and stopping
        ``val_every`` (epochs); ``patience`` (validation rounds without an
        improvement of the mean foreground Dice larger than ``min_delta``;
        ``None`` = never stop early); ``max_steps_per_epoch`` and
        ``max_val_batches`` (cap work for smoke runs).
    Output
        ``save_best``/``save_last`` checkpoints; ``progress`` (tqdm bars);
        ``image_size`` (recorded in checkpoints for inference).
    """

    num_epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    lr_encoder: float | None = None
    weight_decay: float = 1e-4
    freeze_epochs: int = 0
    warmup_steps: int = 0
    warmup_epochs: float = 0.0
    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    max_grad_norm: float | None = 1.0
    accumulate_steps: int = 1
    loss: str = "dice_ce"
    loss_kwargs: dict = field(default_factory=dict)
    class_weights: list[float] | None = None
    ignore_index: int = IGNORE_INDEX
    image_loss_weight: float = 0.5
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    num_workers: int | str = "auto"
    seed: int = 0
    deterministic: bool = False
    val_every: int = 1
    patience: int | None = 10
    min_delta: float = 0.0
    max_steps_per_epoch: int | None = None
    max_val_batches: int | None = None
    save_best: bool = True
    save_last: bool = True
    progress: bool = True
    image_size: int | None = None

    def __post_init__(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ValueError(f"TrainConfig: {msg}")

        need(int(self.num_epochs) >= 1, f"num_epochs={self.num_epochs} must be >= 1")
        need(int(self.batch_size) >= 1, f"batch_size={self.batch_size} must be >= 1")
        need(self.lr > 0, f"lr={self.lr} must be > 0")
        need(
            self.lr_encoder is None or self.lr_encoder >= 0,
            f"lr_encoder={self.lr_encoder} must be >= 0",
        )
        need(self.weight_decay >= 0, f"weight_decay={self.weight_decay} must be >= 0")
        need(0 <= int(self.freeze_epochs), f"freeze_epochs={self.freeze_epochs} must be >= 0")
        need(
            self.warmup_steps >= 0 and self.warmup_epochs >= 0,
            "warmup_steps/warmup_epochs must be >= 0",
        )
        need(
            self.schedule in ("cosine", "poly", "constant"),
            f"schedule={self.schedule!r}: use cosine, poly or constant",
        )
        need(0 <= self.min_lr_ratio <= 1, f"min_lr_ratio={self.min_lr_ratio} must be in [0, 1]")
        need(
            self.max_grad_norm is None or self.max_grad_norm > 0,
            f"max_grad_norm={self.max_grad_norm} must be > 0 or None",
        )
        need(
            int(self.accumulate_steps) >= 1,
            f"accumulate_steps={self.accumulate_steps} must be >= 1",
        )
        need(
            self.precision in ("auto", "fp32", "bf16", "fp16"),
            f"precision={self.precision!r}: use auto, fp32, bf16 or fp16",
        )
        need(int(self.val_every) >= 1, f"val_every={self.val_every} must be >= 1")
        need(
            self.patience is None or self.patience >= 1,
            f"patience={self.patience} must be >= 1 or None",
        )
        need(
            self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1,
            "max_steps_per_epoch must be >= 1 or None",
        )
        need(
            self.max_val_batches is None or self.max_val_batches >= 1,
            "max_val_batches must be >= 1 or None",
        )

    @property
    def encoder_lr(self) -> float:
        """Learning rate of the encoder (``lr_encoder`` or ``lr / 10``)."""
        return self.lr / 10 if self.lr_encoder is None else self.lr_encoder

    def to_dict(self) -> dict:
        """Plain dict (JSON-safe)."""
        d = asdict(self)
        if d["class_weights"] is not None:
            d["class_weights"] = [float(w) for w in d["class_weights"]]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown settings {unknown}; valid: {sorted(known)}")
        return cls(**data)
