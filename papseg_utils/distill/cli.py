"""``papseg distill``: distil the ImageNet EfficientNet-Lite teacher into a Transformer encoder.

Usage::

    papseg distill --out build/distill [--student b0|pvt_v2_b0] [--steps 4000] [--batch-size 32]
                   [--image-size 128] [--feature-weight 1.0] [--max-minutes M] [--threads N]
                   [--source natural|cytology|both [--data-dir HERLEV] --train-of SPLIT.json ...]
                   [--ship papseg_utils/weights/mit_b0_distilled.safetensors]

``--source natural`` (the default) distils on the licensed sample photographs of
:mod:`.sources`; ``cytology`` on unlabelled Herlev development images (in-domain distillation),
only those that are training images of every ``--train-of`` split, so that no test image of
the folds it will be fine-tuned on is seen; ``both`` on the two together. Weights distilled on
Herlev cannot be shipped (it has no redistribution licence): pass their file as ``pretrained``.

Trains (resuming from ``OUT/checkpoint.pt`` when present), then writes ``OUT/encoder.safetensors``
with ``OUT/provenance.json`` and measures teacher agreement (``OUT/agreement.json``). ``--ship``
also writes the weights and a provenance file beside them (same name, ``.json``): this is the
command that made the shipped weights, recorded in their provenance.

Exit codes: 0 done; 1 failed (teacher weights missing, bad checkpoint); 2 bad usage; 3 stopped at
``--max-minutes`` (checkpoint written: run the same command again to go on); 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
from pathlib import Path

from .loop import DistillConfig


def _parser() -> argparse.ArgumentParser:
    d = DistillConfig()
    p = argparse.ArgumentParser(prog="papseg distill", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="run folder (checkpoint, history, results)")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument(
        "--feature-weight",
        type=float,
        default=d.feature_weight,
        help="weight of the feature-map loss (0 = logits only)",
    )
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--save-every", type=int, default=d.save_every)
    p.add_argument("--teacher", default=d.teacher,
                   choices=["tf_efficientnet_lite0", "tf_efficientnet_lite1",
                            "tf_efficientnet_lite2"])  # fmt: skip
    p.add_argument(
        "--student",
        default=d.student,
        choices=["b0", "b1", "b2", "pvt_v2_b0"],
        help="MiT size (SegFormer) or pvt_v2_b0 (pvt_fpn)",
    )
    p.add_argument(
        "--source",
        default="natural",
        choices=["natural", "cytology", "both"],
        help="what the student sees: sample photographs, Herlev images, or both",
    )
    p.add_argument("--data-dir", default=None, help="Herlev folder (for --source cytology/both)")
    p.add_argument(
        "--train-of",
        action="append",
        default=[],
        metavar="SPLIT.json",
        help="use only training images of this split (repeat for several folds)",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop (checkpointed) after this many minutes; rerun to continue",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--views", type=int, default=32, help="agreement views per image")
    p.add_argument("--ship", default=None, help="also write the weights (and .json) here")
    return p


def _config(a: argparse.Namespace) -> DistillConfig:
    """The run's settings from the parsed options; ``ValueError`` for a bad combination."""
    extra: dict = {}
    if a.source != "natural":
        from .sources import train_names

        extra["cytology"], extra["cytology_splits"] = train_names(a.train_of)
    elif a.train_of:
        raise ValueError("--train-of chooses Herlev images: add --source cytology or both")
    if a.source == "cytology":
        extra["images"] = []
    return DistillConfig(
        teacher=a.teacher, student=a.student, steps=a.steps, batch_size=a.batch_size,
        image_size=a.image_size, lr=a.lr, temperature=a.temperature,
        feature_weight=a.feature_weight, warmup_steps=min(a.warmup_steps, a.steps),
        save_every=a.save_every, seed=a.seed, **extra,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the distill command; returns the exit code."""
    from papseg_utils import signals

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        a = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    signals.stop_on_signals()  # SIGTERM and SIGHUP stop it like Ctrl-C, the checkpoint intact
    if Path(a.out).exists() and not Path(a.out).is_dir():
        print(f"error: --out {a.out} is a file; pass a folder for the distillation's checkpoint "
              "and weights", file=sys.stderr)  # fmt: skip
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("papseg_utils").setLevel(logging.INFO)
    import torch

    from .loop import Distiller

    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        cfg = _config(a)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(a.out)
    try:
        d = Distiller(cfg, out, device=a.device, data_dir=a.data_dir)
        done = d.run(a.max_minutes)
    except KeyboardInterrupt:
        print(f"interrupted ({signals.received()}); the last checkpoint in {out} is intact: run "
              "the same command to resume", file=sys.stderr, flush=True)  # fmt: skip
        return 130
    except ValueError as err:  # settings that the folder's checkpoint was not written with
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OSError, KeyError) as err:  # teacher weights, the Herlev folder, a split's images
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not done:
        print(f"stopped at step {d.step}/{cfg.steps} (--max-minutes); run the same command to "
              "go on", file=sys.stderr)  # fmt: skip
        return 3
    command = "papseg distill " + shlex.join(argv)
    d.export(command=command)
    report = measure(d, views=a.views, data_dir=a.data_dir, splits=a.train_of)
    (out / "agreement.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"teacher agreement on {report['held_out']['images']} held-out images "
          f"({report['held_out']['views']} views): top-1 {report['held_out']['top1']:.3f}, "
          f"top-5 {report['held_out']['top5']:.3f}")  # fmt: skip
    if a.ship:
        ship = d.export(a.ship, command=command)
        meta = json.loads(ship.with_suffix(".json").read_text())
        meta["agreement"] = report
        ship.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {ship} ({ship.stat().st_size / 1e6:.1f} MB)")
    return 0


def measure(d, views: int = 32, data_dir=None, splits=(), cytology_images: int = 24) -> dict:
    """Agreement of the (float16-rounded, as shipped) student, and of a random-init student.

    On the held-out sample photographs always; for a cytology student also on
    ``cytology_images`` Herlev images that it did not see (test images of its ``splits``, an
    agreement diagnostic that chooses nothing).
    """
    import torch

    from .agreement import agreement, top_classes
    from .networks import make_student
    from .sources import DISTILL_IMAGES, HELD_OUT_IMAGES, load_cytology, load_image

    size = d.cfg.image_size
    student = d.student.to("cpu")
    teacher = d.teacher.to("cpu")
    with torch.no_grad():  # score exactly the shipped float16 weights
        for p in student.encoder.parameters():
            p.copy_(p.half().float())
    torch.manual_seed(d.cfg.seed + 1)
    random_student = make_student(d.cfg.student, teacher.channels)
    cytology = {}
    if d.cfg.cytology:
        from ..data.splits import read_split

        unseen = sorted({n for s in splits for n in read_split(s)[0].get("test", [])}
                        - set(d.cfg.cytology))[:: max(1, len(splits))][:cytology_images]  # fmt: skip
        arrays = dict(zip(unseen, load_cytology(unseen, data_dir, min_size=size), strict=True))
        cytology = {
            "held_out_cytology": agreement(student, teacher, arrays, views, size),
            "random_init_held_out_cytology": agreement(random_student, teacher, arrays, views,
                                                       size),
        }  # fmt: skip
    return {
        "image_size": size,
        "views_per_image": views,
        "held_out": agreement(student, teacher, HELD_OUT_IMAGES, views, size),
        "distill_images": agreement(student, teacher, DISTILL_IMAGES, views, size)
        if d.cfg.images
        else None,
        **cytology,
        "random_init_held_out": agreement(random_student, teacher, HELD_OUT_IMAGES, views, size),
        "predictions": {
            i.name: {
                "shows": i.shows,
                "teacher": top_classes(teacher, load_image(i.name), size),
                "student": top_classes(student, load_image(i.name), size),
            }
            for i in HELD_OUT_IMAGES
        },  # fmt: skip
        "config": dataclasses.asdict(d.cfg),
    }


if __name__ == "__main__":
    sys.exit(main())
