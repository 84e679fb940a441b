"""The distillation loop: checkpoints, resume, time limit, export of the encoder.

``Distiller(config, out_dir).run()`` trains a student (MiT, :class:`~.networks.Student`, or PVTv2,
:class:`~.networks.PvtStudent`) to match the :class:`~.networks.Teacher` on
:class:`~.views.AugmentedViews` of the natural images of :data:`~.sources.DISTILL_IMAGES` and/or
of unlabelled Herlev development images (``config.cytology``, in-domain distillation), writing
into ``out_dir``:

* ``checkpoint.pt`` every ``save_every`` steps (student, optimiser, step, random states), written
  atomically, so an interrupted run resumes where it stopped: call again with the same config;
* ``history.csv`` (step, losses, learning rate, seconds);
* at the end ``encoder.safetensors`` (the student's encoder only, float16) and
  ``provenance.json``.

The schedule (warm-up then cosine) is defined by ``steps``, so a resumed run ends where an
uninterrupted one would; ``max_minutes`` only stops early (with a checkpoint) to be resumed.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .networks import Teacher, feature_loss, kl_loss, make_student
from .sources import DISTILL_IMAGES, load_cytology, load_image
from .views import AugmentedViews

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
ENCODER_FILE = "encoder.safetensors"
PROVENANCE_FILE = "provenance.json"


@dataclass
class DistillConfig:
    """Everything that defines a distillation run (recorded in the checkpoint and provenance)."""

    teacher: str = "tf_efficientnet_lite0"
    student: str = "b0"  # MiT size (b0, b1, b2) or a PVTv2 name (pvt_v2_b0)
    steps: int = 4000
    batch_size: int = 32
    image_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    temperature: float = 4.0
    feature_weight: float = 1.0  # 0 = logits only (Asano & Saeed); >0 adds FitNets-style maps
    cutmix_p: float = 0.5
    mixup_p: float = 0.25
    seed: int = 0
    save_every: int = 200
    images: list[str] = field(default_factory=lambda: [i.name for i in DISTILL_IMAGES])
    # Herlev development images (names), for in-domain distillation, and the split files' hashes
    # that they were chosen by (the training part of every fold it will be fine-tuned on)
    cytology: list[str] = field(default_factory=list)
    cytology_splits: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.images and not self.cytology:
            raise ValueError("no source images: give natural images, cytology images or both")
        if self.steps < 1 or self.batch_size < 2 or self.image_size < 32:
            raise ValueError("steps >= 1, batch_size >= 2 and image_size >= 32 are required")
        if self.temperature <= 0 or self.feature_weight < 0:
            raise ValueError("temperature must be > 0 and feature_weight >= 0")
        if self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {self.image_size}")


def lr_at(step: int, cfg: DistillConfig) -> float:
    """Linear warm-up for ``warmup_steps``, then cosine to 0 at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(1.0, t)))


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Distiller:
    """One run in ``out_dir``: ``run(max_minutes)`` trains until done or out of time.

    Resumes from ``out_dir/checkpoint.pt`` when it exists; a checkpoint written with another
    config is refused (``ValueError`` naming the differing fields).
    """

    def __init__(self, cfg: DistillConfig, out_dir: str | Path, teacher: Teacher | None = None,
                 device: str = "cpu", data_dir: str | Path | None = None):  # fmt: skip
        self.cfg, self.out, self.device = cfg, Path(out_dir), torch.device(device)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        self.teacher = teacher or Teacher(cfg.teacher)
        self.student = make_student(cfg.student, self.teacher.channels)
        self.teacher.to(self.device)
        self.student.to(self.device)
        self.opt = torch.optim.AdamW(self.student.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay)  # fmt: skip
        images = [load_image(n) for n in cfg.images]
        if cfg.cytology:
            images += load_cytology(cfg.cytology, data_dir, min_size=cfg.image_size)
        self.views = AugmentedViews(images, cfg.image_size, cfg.cutmix_p, cfg.mixup_p)
        self.step, self.seconds = 0, 0.0
        if (self.out / CHECKPOINT).exists():
            self._resume()

    # ------------------------------------------------------------------ state
    def _resume(self) -> None:
        state = torch.load(self.out / CHECKPOINT, map_location=self.device, weights_only=False)
        saved = state["config"]
        default = dataclasses.asdict(DistillConfig())  # fields added since an old checkpoint
        diff = [k for k, v in dataclasses.asdict(self.cfg).items()
                if saved.get(k, default[k]) != v]  # fmt: skip
        if diff:
            raise ValueError(
                f"{self.out / CHECKPOINT} was written with other settings ({', '.join(diff)}); "
                "use another output folder or the same settings to resume"
            )
        self.student.load_state_dict(state["student"])
        self.student.to(self.device)
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.seconds = state["step"], state["seconds"]
        torch.set_rng_state(state["torch_rng"].cpu())
        log.info("resumed %s at step %d", self.out, self.step)

    def save(self) -> None:
        _save_atomic({
            "config": dataclasses.asdict(self.cfg), "student": self.student.state_dict(),
            "optimizer": self.opt.state_dict(), "step": self.step, "seconds": self.seconds,
            "torch_rng": torch.get_rng_state(),
        }, self.out / CHECKPOINT)  # fmt: skip

    # ------------------------------------------------------------------ loop
    def train_step(self) -> dict[str, float]:
        """One optimiser step on a fresh batch of views; returns the losses."""
        cfg = self.cfg
        for g in self.opt.param_groups:
            g["lr"] = lr_at(self.step, cfg)
        x = self.views.sample(cfg.batch_size).to(self.device, non_blocking=True)
        t_logits, t_feats = self.teacher(x)
        s_logits, s_feats = self.student(x)
        kl = kl_loss(s_logits, t_logits, cfg.temperature)
        feat = feature_loss(s_feats, t_feats) if cfg.feature_weight else torch.zeros(())
        loss = kl + cfg.feature_weight * feat
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), 1.0)
        self.opt.step()
        self.step += 1
        top1 = (s_logits.argmax(1) == t_logits.argmax(1)).float().mean()
        return {"kl": kl.detach().item(), "feature": float(feat.detach()), "top1_train": top1.item(),
                "lr": self.opt.param_groups[0]["lr"]}  # fmt: skip

    def run(self, max_minutes: float | None = None, log_every: int = 50) -> bool:
        """Train to ``cfg.steps`` (True) or until ``max_minutes`` pass (False, checkpointed)."""
        self.student.train()
        start, last = time.perf_counter(), time.perf_counter()
        history = self.out / "history.csv"
        new = not history.exists() or self.step == 0
        with history.open("w" if new else "a", newline="") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(["step", "kl", "feature", "top1_train", "lr", "seconds"])
            while self.step < self.cfg.steps:
                row = self.train_step()
                now = time.perf_counter()
                self.seconds += now - last
                last = now
                if self.step % 10 == 0 or self.step == self.cfg.steps:
                    writer.writerow(
                        [
                            self.step,
                            *(round(row[k], 5) for k in ("kl", "feature", "top1_train", "lr")),
                            round(self.seconds, 1),
                        ]
                    )
                if self.step % log_every == 0:
                    fh.flush()
                    log.info("step %d/%d kl %.3f feature %.3f top1 %.2f (%.0f s)", self.step,
                             self.cfg.steps, row["kl"], row["feature"], row["top1_train"],
                             self.seconds)  # fmt: skip
                if self.step % self.cfg.save_every == 0:
                    self.save()
                out_of_time = max_minutes is not None and (now - start) / 60 > max_minutes
                if out_of_time and self.step < self.cfg.steps:
                    self.save()
                    return False
        self.save()
        return True

    def student_name(self) -> str:
        """``"MiT-b0"`` or ``"PVTv2-b0"``: the student's encoder, as people write it."""
        size = self.cfg.student
        return f"PVTv2-{size.removeprefix('pvt_v2_')}" if size.startswith("pvt_v2_") else (
            f"MiT-{size}")  # fmt: skip

    # ------------------------------------------------------------------ export
    def export(self, path: str | Path | None = None, command: str | None = None) -> Path:
        """Write the encoder as float16 safetensors and its provenance JSON; return the file."""
        from safetensors.torch import save_file

        from ..book import provenance
        from ..models.pretrained import state_sha256
        from .sources import DISTILL_IMAGES

        path = Path(path) if path else self.out / ENCODER_FILE
        state = {k: v.detach().to(torch.float16).contiguous()
                 for k, v in self.student.encoder_state().items()}  # fmt: skip
        save_file(state, str(path), metadata={"format": "pt", "what": self.student_name()})
        used = {i.name: i.to_dict() for i in DISTILL_IMAGES}
        layout = ("timm state dict without the classifier head"
                  if self.cfg.student.startswith("pvt_v2_")
                  else "Hugging Face SegformerModel state dict")  # fmt: skip
        on = " and ".join(
            part for part, used_ in (("natural images", self.cfg.images),
                                     ("unlabelled Herlev cytology", self.cfg.cytology)) if used_
        )  # fmt: skip
        record = {
            "what": f"{self.student_name()} encoder ({layout}, float16), distilled from an "
            f"ImageNet classifier on {on}",
            "file": path.name,
            "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "tensors_sha256": state_sha256(state),
            "bytes": path.stat().st_size,
            "teacher": self.teacher.info,
            "source_images": [used.get(n, {"name": n}) for n in self.cfg.images],
            "cytology": {
                "dataset": "herlev",
                "images": len(self.cfg.cytology),
                "chosen_by": "training images of every split (sha256)",
                "splits": self.cfg.cytology_splits,
                "licence": "Herlev has no redistribution licence: weights distilled on it are "
                "not shipped",
            }
            if self.cfg.cytology
            else None,
            "config": dataclasses.asdict(self.cfg),
            "steps_done": self.step,
            "wall_s": round(self.seconds, 1),
            "command": command,
            "device": provenance.device_info(),
            "versions": provenance.package_versions(),
            "created": provenance.now_iso(),
        }
        prov = (
            path.with_suffix(".json") if path.name != ENCODER_FILE else self.out / PROVENANCE_FILE
        )
        prov.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        return path


__all__ = ["ENCODER_FILE", "DistillConfig", "Distiller", "lr_at"]
