"""Augmentation policies for Pap smear segmentation (albumentations 2.x).

Four named policies, from nothing to a lot:

``none``
    No change (optionally a centre crop/pad to ``image_size``).
``basic``
    Geometry only: the dihedral group (flips and 90-degree rotations, which a
    smear does not care about) and a mild :class:`~albumentations.Affine`.
``medical``
    ``basic`` plus what differs between labs, scanners and slides: stain and
    colour variation (:class:`PapStainJitter` in optical-density space, or a
    small HSV shift), contrast (CLAHE, gamma, brightness/contrast), focus
    (Gaussian blur, disk defocus, motion blur), scanner noise, elastic and grid
    deformations of the soft cell shapes, and coarse dropout for occluders.
``strong``
    ``medical`` with higher probabilities and magnitudes, plus scale jitter
    (``RandomResizedCrop`` when ``image_size`` is given, a wider Affine scale
    otherwise).

Every policy is an :class:`albumentations.Compose` that takes ``image`` (H, W, 3)
uint8 RGB and ``mask`` (H, W) uint8 labels and returns the same types. Masks
are only ever resampled with nearest-neighbour interpolation, so they keep
integer labels and never gain values other than the input's, except
``IGNORE_INDEX`` (255) where a transform fills pixels it invents:

* pixels that come from outside the image (padding) are ``IGNORE_INDEX``;
* **CoarseDropout holes are ``IGNORE_INDEX`` in the mask.** The image there is
  erased, so the network has no evidence of what is underneath. Keeping the
  original labels asks it to hallucinate cells it cannot see (and rewards
  guessing over looking); relabelling the hole as background teaches that an
  occluder means "no cell", which is false for a debris-covered cell. Ignoring
  the hole makes the loss skip it: the dropout still regularises the features
  around it (the network must use context) without a wrong target. Use
  ``dropout_mask="keep"`` to get the other behaviour for an ablation.

Randomness: ``get_policy(name, seed=s)`` gives a Compose whose sequence of
draws is fixed by ``s`` (albumentations' own RNG, independent of numpy's and
Python's global state). Each DataLoader worker holds a copy of that RNG, so
with ``num_workers > 0`` pass :func:`papseg_utils.train.seeding.worker_init_fn` to the
DataLoader, or all workers repeat the same augmentations.

Modules: :mod:`~papseg_utils.augment.policies` (the four policies),
:mod:`~papseg_utils.augment.transforms` (their transforms one at a time),
:mod:`~papseg_utils.augment.strengths` (their probabilities and magnitudes),
:mod:`~papseg_utils.augment.stain` (:class:`PapStainJitter`),
:mod:`~papseg_utils.augment.defocus` (:class:`DiskDefocus`),
:mod:`~papseg_utils.augment.describe` (a policy as a table) and
:mod:`~papseg_utils.augment.timing` (how long a policy takes).
"""

from __future__ import annotations

from papseg_utils.augment.defocus import DiskDefocus
from papseg_utils.augment.describe import WHY, describe_policy
from papseg_utils.augment.policies import POLICIES, get_policy
from papseg_utils.augment.stain import PAP_STAIN_NAMES, PAP_STAIN_VECTORS, PapStainJitter
from papseg_utils.augment.timing import time_policy
from papseg_utils.augment.transforms import medical_transforms

__all__ = [
    "PAP_STAIN_NAMES",
    "PAP_STAIN_VECTORS",
    "POLICIES",
    "WHY",
    "DiskDefocus",
    "PapStainJitter",
    "describe_policy",
    "get_policy",
    "medical_transforms",
    "time_policy",
]
