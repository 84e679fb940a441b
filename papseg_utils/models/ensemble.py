"""Several checkpoints as one model: their probabilities averaged (a fold ensemble).

:class:`ProbabilityEnsemble` returns, for a batch, the logarithm of the members' mean softmax.
Whatever takes a softmax of a model's logits afterwards (:mod:`papseg_utils.inference`: test-time
augmentation, tiles, resampling to the native grid) therefore works on the members' mean
probability, as the ``evaluate`` command's ensembles do. Members must share what the inference
reads from a checkpoint's config: the classes, the normalisation, the geometry (letterbox size or
target spacing) and the image-head labels (:func:`ensemble_config`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: The config keys every member must share (what inference reads from a checkpoint).
SHARED_KEYS: tuple[str, ...] = ("num_classes", "mean", "std", "image_size", "image_labels")


def _geometry(config: dict) -> dict:
    spacing = dict(config.get("spacing") or {})
    spacing.pop("reference", None)  # a statistic of each fold's training images (auto pixel size)
    return spacing


def ensemble_config(configs: Sequence[dict], names: Sequence[str]) -> dict:
    """The config the ensemble predicts with (the first member's), after checking the others.

    ``ensemble`` lists the members (``{"path", "sha256"}``, the hash of the file each loaded);
    ``checkpoint_sha256`` is None, since no single file holds the ensemble. The members'
    training statistics (``spacing.reference``, the median nucleus area that
    ``--pixel-size auto`` matches) may differ; the first member's is used.

    Raises ValueError naming the first member that differs, the key and both values.
    """
    first = configs[0]
    scheme = (first.get("scheme") or {}).get("classes")
    for config, name in zip(configs[1:], names[1:], strict=True):
        pairs = [(k, first.get(k), config.get(k)) for k in SHARED_KEYS]
        pairs += [("scheme classes", scheme, (config.get("scheme") or {}).get("classes"))]
        pairs += [("spacing", _geometry(first), _geometry(config))]
        for key, a, b in pairs:
            if a != b:
                raise ValueError(
                    f"{name} differs from {names[0]} in {key} ({b!r} against {a!r}); an "
                    "ensemble needs checkpoints of one recipe, such as the folds of one "
                    "cross-validation"
                )
    members = [
        {"path": n, "sha256": c.get("checkpoint_sha256")}
        for c, n in zip(configs, names, strict=True)
    ]
    return {**first, "checkpoint_sha256": None, "ensemble": members}


class ProbabilityEnsemble(nn.Module):
    """Members' mean softmax, as log-probabilities.

    ``forward(images (N, 3, H, W) float32)`` returns (N, C, H, W) float32 log-probabilities
    (the members' logits brought to the input size bilinearly first, as inference does), or
    ``{"logits": ..., "image_logits": (N, K)}`` when every member has an image head.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @staticmethod
    def _mean_log_softmax(logits: list[torch.Tensor]) -> torch.Tensor:
        logs = torch.stack([F.log_softmax(x.float(), dim=1) for x in logits])
        return torch.logsumexp(logs, dim=0) - math.log(len(logits))

    def forward(self, images: torch.Tensor):
        from papseg_utils.inference import logits_of
        from papseg_utils.models.heads import image_logits_of

        outputs = [m(images) for m in self.members]
        segs = []
        for out in outputs:
            y = logits_of(out)
            if y.shape[-2:] != images.shape[-2:]:
                y = F.interpolate(y, size=images.shape[-2:], mode="bilinear", align_corners=False)
            segs.append(y)
        seg = self._mean_log_softmax(segs)
        heads = [image_logits_of(out) for out in outputs]
        if all(h is not None for h in heads):
            return {"logits": seg, "image_logits": self._mean_log_softmax(heads)}
        return seg
