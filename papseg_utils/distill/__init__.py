"""Cross-architecture distillation: an ImageNet CNN teaches a MiT (SegFormer) encoder offline.

After Asano & Saeed, "Extrapolating from a single image to a thousand classes using
distillation" (ICLR 2023, "The augmented image prior"): a randomly initialised student learns to
match a supervised ImageNet teacher's outputs on heavily augmented patches of a few natural
images. Here the teacher is the offline EfficientNet-Lite0 (:mod:`.networks`), the student the
MiT-b0 encoder of SegFormer, the images the licensed samples of :mod:`.sources`.

``papseg distill`` (:mod:`.cli`) trains, resumes, exports ``safetensors`` with provenance and
measures teacher agreement (:mod:`.agreement`). The shipped result loads with
``build_model("segformer", pretrained="distilled")``.
"""

from .loop import DistillConfig, Distiller, lr_at
from .sources import DISTILL_IMAGES, HELD_OUT_IMAGES, load_image

__all__ = ["DISTILL_IMAGES", "HELD_OUT_IMAGES", "DistillConfig", "Distiller", "load_image",
           "lr_at"]  # fmt: skip
