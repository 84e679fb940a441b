"""From a model and images to class probabilities: padding, tiling, TTA.

* :func:`predict_proba` - one (H, W, 3) uint8 image -> (C, H, W) float32
  probabilities, whole-image or tiled with overlap blending, optional
  test-time augmentation (flips, or all 8 flips/rotations).
* :func:`predict_logits` - a batch of normalised images -> logits, in batches.
* :func:`tta_probabilities` / :func:`uncertainty_maps` - per-transform
  probabilities, softmax entropy and the TTA variance; :func:`boundary_share`
  - how much of that uncertainty lies on the true class boundaries.
* :func:`image_probabilities` - the image-level class probabilities of a model
  with an image head (:mod:`papseg_utils.models.heads`).

Tiling. Large fields (e.g. 2000x2000 slices) are cut into ``tile_size`` tiles
overlapping by ``overlap * tile_size`` px; each tile's probabilities are
weighted by a window (``"gaussian"`` or ``"linear"``) that falls off towards
tile sides *inside* the image (sides on the image border keep full weight, so
every pixel is covered) and is exactly zero on the ``trim`` outermost pixels
of inner sides. Near a tile side a CNN sees padding instead of the
neighbouring pixels; if the network's receptive-field radius is at most
``trim``, every pixel with non-zero weight sees exactly what it would see in
the whole image, and tiled == whole up to float rounding. For deep networks
(receptive fields of hundreds of px) the window only hides the seams. Memory
is bounded by ``batch_size`` tiles plus one float32 (C, H, W) accumulator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from papseg_utils.device import resolve_device
from papseg_utils.progress import tqdm

log = logging.getLogger(__name__)

FLIPS: tuple[str, ...] = ("identity", "hflip", "vflip", "hvflip")
D4: tuple[str, ...] = FLIPS + ("rot90", "rot270", "transpose", "antitranspose")
BLENDS: tuple[str, ...] = ("gaussian", "linear")


def _apply(x: torch.Tensor, name: str) -> torch.Tensor:
    """Apply the named dihedral transform to (..., H, W)."""
    if name == "identity":
        return x
    if name == "hflip":
        return x.flip(-1)
    if name == "vflip":
        return x.flip(-2)
    if name == "hvflip":
        return x.flip(-1, -2)
    if name == "rot90":
        return torch.rot90(x, 1, (-2, -1))
    if name == "rot270":
        return torch.rot90(x, -1, (-2, -1))
    if name == "transpose":
        return x.transpose(-2, -1)
    if name == "antitranspose":
        return torch.rot90(x, 2, (-2, -1)).transpose(-2, -1)
    raise ValueError(f"unknown TTA transform {name!r}; valid: {D4}")


def _invert(x: torch.Tensor, name: str) -> torch.Tensor:
    inverse = {"rot90": "rot270", "rot270": "rot90"}
    return _apply(x, inverse.get(name, name))  # the others are their own inverse


def _tta_names(tta: bool | str | Sequence[str]) -> tuple[str, ...]:
    if tta is False or tta is None:
        return ("identity",)
    if tta is True or tta == "flips":
        return FLIPS
    if tta == "d4":
        return D4
    if isinstance(tta, str):
        raise ValueError(f"tta must be False, True/'flips', 'd4' or a list of {D4}; got {tta!r}")
    names = tuple(tta)
    bad = [n for n in names if n not in D4]
    if bad:
        raise ValueError(f"unknown TTA transforms {bad}; valid: {D4}")
    return names


def logits_of(output) -> torch.Tensor:
    """The (N, C, H, W) segmentation logits of a model output: a tensor, ``.logits`` or ``["logits"]``."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, dict) and "logits" in output:
        return output["logits"]
    raise TypeError(
        f"model returned {type(output).__name__}; expected a logits tensor (N, C, H, W)"
    )


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, batch_size: int = 4, device: str | torch.device = "auto"
) -> torch.Tensor:
    """Logits of normalised images, in batches, at the input resolution.

    Parameters
    ----------
    images : (N, 3, H, W) float32, already normalised.

    Returns
    -------
    (N, C, H, W) float32 on the CPU (outputs at a lower resolution are
    upsampled bilinearly).
    """
    dev = resolve_device(device)
    model.eval()
    outs = []
    for i in range(0, images.shape[0], max(1, batch_size)):
        x = images[i : i + batch_size].to(dev)
        y = logits_of(model(x)).float()
        if y.shape[-2:] != x.shape[-2:]:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        outs.append(y.cpu())
    return torch.cat(outs)


def normalise(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32, ``(image / 255 - mean) / std``."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 RGB image, got shape {image.shape} dtype {image.dtype}; "
            "read it with papseg_utils.data.io.read_image"
        )
    x = torch.tensor(image).permute(2, 0, 1).float().div_(255.0)
    m = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s


def _pad_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pad (..., H, W) at the bottom/right with zeros (= the mean colour after normalising)."""
    return F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]))


def _ceil_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def _profile(
    tile: int, ramp: int, trim: int, at_start: bool, at_end: bool, blend: str
) -> np.ndarray:
    """1-D window: 1 in the middle, falling towards inner sides, 0 on ``trim`` edge pixels."""
    i = np.arange(tile, dtype=np.float64)
    dist = np.minimum(i, tile - 1 - i)  # distance to the nearest side
    ramp = max(ramp, trim + 1)
    if blend == "linear":
        w = np.clip((dist - trim + 1) / (ramp - trim + 1), 0.0, 1.0)
    else:
        sigma = max((ramp - trim) / 2.0, 1.0)
        w = np.where(dist >= ramp, 1.0, np.exp(-0.5 * ((ramp - dist) / sigma) ** 2))
    w[dist < trim] = 0.0
    half = tile // 2
    if at_start:
        w[:half] = 1.0
    if at_end:
        w[half:] = 1.0
    return w


def _forward_tta(model, batch: torch.Tensor, names, device, average: bool = True) -> torch.Tensor:
    """Softmax probabilities of a normalised batch (B, 3, H, W), per TTA transform.

    Returns (B, C, H, W) when ``average`` else (T, B, C, H, W); float32 CPU.
    """
    outs = []
    for name in names:
        y = predict_logits(model, _apply(batch, name), batch_size=batch.shape[0], device=device)
        outs.append(_invert(torch.softmax(y, dim=1), name))
    stack = torch.stack(outs)
    return stack.mean(0) if average else stack


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    image: np.ndarray,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
    tile_size: int | None = None,
    overlap: float = 0.25,
    tta: bool | str | Sequence[str] = False,
    batch_size: int = 4,
    device: str | torch.device = "auto",
    multiple: int = 32,
    blend: str = "gaussian",
    trim: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Class probabilities of one image.

    Parameters
    ----------
    model : maps (N, 3, H, W) float32 to logits (N, C, H, W); put in eval mode.
    image : (H, W, 3) uint8 RGB.
    mean, std : normalisation on the 0-1 scale (from the checkpoint config).
    tile_size : None = the whole image in one pass; else the tile side in px
        (a multiple of ``multiple``); a tile larger than the image is clamped
        to the image (rounded up to ``multiple``).
    overlap : fraction of the tile shared with each neighbour, in [0, 0.9].
    tta : False; True or ``"flips"`` (4 flips); ``"d4"`` (flips and rotations);
        or a list of transform names. Probabilities are averaged after each
        prediction is transformed back.
    batch_size : tiles per forward pass.
    device : ``"auto"``, ``"cpu"``, ``"cuda"``...
    multiple : inputs are padded (bottom/right, mean colour) to a multiple of this.
    blend : tile window, ``"gaussian"`` or ``"linear"``.
    trim : px at inner tile sides given zero weight; default ``overlap_px // 4``.
    progress : show a tqdm bar of the tiles (when there are more than a few batches).

    Returns
    -------
    (C, H, W) float32 probabilities summing to 1 over C.
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    if not 0 <= overlap <= 0.9:
        raise ValueError(f"overlap must be in [0, 0.9], got {overlap}")
    names = _tta_names(tta)
    dev = resolve_device(device)
    x = normalise(image, mean, std)
    h, w = x.shape[-2:]
    if tile_size is None:
        xp = _pad_to(x, _ceil_to(h, multiple), _ceil_to(w, multiple))
        probs = _forward_tta(model, xp[None], names, dev)[0]
        return probs[:, :h, :w].numpy().astype(np.float32)
    if tile_size <= 0 or tile_size % multiple:
        raise ValueError(f"tile_size must be a positive multiple of {multiple}, got {tile_size}")
    tile_size = min(tile_size, _ceil_to(max(h, w), multiple))  # never larger than the image
    xp = _pad_to(x, max(h, tile_size), max(w, tile_size))
    ov = int(round(overlap * tile_size))
    trim = ov // 4 if trim is None else int(trim)
    if trim * 2 >= max(ov, 1) and (xp.shape[-2] > tile_size or xp.shape[-1] > tile_size):
        raise ValueError(f"trim ({trim} px) must be less than half the overlap ({ov} px)")
    acc, wsum = _tiled_sums(model, xp, tile_size, ov, trim, names, dev, batch_size, blend, progress)
    if np.any(wsum[:h, :w] <= 0):
        raise RuntimeError("tiling left pixels without weight; lower trim or raise overlap")
    return (acc[:, :h, :w] / wsum[None, :h, :w]).astype(np.float32)


def _tiled_sums(model, xp: torch.Tensor, tile_size: int, ov: int, trim: int, names, dev,
                batch_size: int, blend: str, progress: bool) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Window-weighted sums of the tiles' probabilities over a padded image ``xp`` (3, H, W).

    Tiles of ``tile_size`` px overlap by ``ov`` px; each is weighted by the outer product of
    :func:`_profile` windows. Returns ``(acc, wsum)``: (C, H, W) and (H, W) float32.
    """
    ph, pw = xp.shape[-2:]
    step = max(1, tile_size - ov)
    rows, cols = _starts(ph, tile_size, step), _starts(pw, tile_size, step)
    acc: np.ndarray | None = None
    wsum = np.zeros((ph, pw), np.float32)
    coords = [(r, c) for r in rows for c in cols]
    log.debug("tiled inference: %d tiles of %d px on %dx%d", len(coords), tile_size, ph, pw)
    starts = range(0, len(coords), max(1, batch_size))
    bar = tqdm(
        starts, desc="tiles", unit="batch", leave=False, disable=not progress or len(starts) < 4
    )
    for i in bar:
        chunk = coords[i : i + batch_size]
        batch = torch.stack([xp[:, r : r + tile_size, c : c + tile_size] for r, c in chunk])
        probs = _forward_tta(model, batch, names, dev).numpy()
        if acc is None:
            acc = np.zeros((probs.shape[1], ph, pw), np.float32)
        for (r, c), p in zip(chunk, probs, strict=True):
            wy = _profile(tile_size, ov, trim, r == 0, r + tile_size >= ph, blend)
            wx = _profile(tile_size, ov, trim, c == 0, c + tile_size >= pw, blend)
            win = np.outer(wy, wx).astype(np.float32)
            acc[:, r : r + tile_size, c : c + tile_size] += p * win
            wsum[r : r + tile_size, c : c + tile_size] += win
    return acc, wsum


@torch.no_grad()
def tta_probabilities(
    model: nn.Module,
    image: np.ndarray,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
    tta: str | Sequence[str] = "d4",
    device: str | torch.device = "auto",
    multiple: int = 32,
) -> np.ndarray:
    """Probabilities under each TTA transform, mapped back: (T, C, H, W) float32."""
    names = _tta_names(tta)
    x = normalise(image, mean, std)
    h, w = x.shape[-2:]
    xp = _pad_to(x, _ceil_to(h, multiple), _ceil_to(w, multiple))
    stack = _forward_tta(model, xp[None], names, resolve_device(device), average=False)[:, 0]
    return stack[..., :h, :w].numpy().astype(np.float32)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Softmax entropy in nats of (C, H, W) probabilities -> (H, W) float32, in [0, ln C]."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return (-(p * np.log(p)).sum(axis=0)).astype(np.float32)


def uncertainty_maps(
    model: nn.Module,
    image: np.ndarray,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
    tta: str | Sequence[str] = "d4",
    device: str | torch.device = "auto",
) -> dict[str, np.ndarray]:
    """Pixel uncertainty of one image.

    Returns
    -------
    dict with ``probs`` (C, H, W) mean TTA probabilities, ``entropy`` (H, W)
    their softmax entropy (nats), and ``variance`` (H, W) the variance of the
    probabilities across TTA transforms, averaged over classes.
    """
    stack = tta_probabilities(model, image, mean, std, tta=tta, device=device)
    probs = stack.mean(0)
    return {
        "probs": probs,
        "entropy": entropy(probs),
        "variance": stack.var(0).mean(0).astype(np.float32),
    }


def boundary_share(
    uncertainty: np.ndarray, mask: np.ndarray, width: int = 2, ignore_index: int = 255
) -> dict[str, float]:
    """How much of an uncertainty map lies on the true class boundaries.

    The band is every pixel within ``width`` px (a square neighbourhood) of a
    pixel of another class in ``mask`` (H, W); ``ignore_index`` pixels count
    nowhere. Returns ``band_pixels``, the share of the pixels in the band, and
    ``band_uncertainty``, the share of the summed ``uncertainty`` (H, W, e.g.
    the entropy of :func:`uncertainty_maps`) that falls in it. A map that is
    dark except along outlines has ``band_uncertainty`` far above
    ``band_pixels``; one that is unsure everywhere has them about equal.
    """
    from scipy import ndimage

    mask = np.asarray(mask)
    u = np.asarray(uncertainty, dtype=np.float64)
    if u.shape != mask.shape:
        raise ValueError(f"boundary_share: uncertainty {u.shape} and mask {mask.shape} differ")
    size = 2 * int(width) + 1
    valid = mask != ignore_index
    labels = np.where(valid, mask, mask[valid].min() if valid.any() else 0)
    band = ndimage.maximum_filter(labels, size) != ndimage.minimum_filter(labels, size)
    band &= valid
    total = u[valid].sum()
    return {
        "band_pixels": float(band.sum() / max(valid.sum(), 1)),
        "band_uncertainty": float(u[band].sum() / total) if total > 0 else float("nan"),
    }


def scale_true(config: dict) -> dict | None:
    """The ``spacing`` record of a scale-true checkpoint config, or None (a letterbox one)."""
    spacing = config.get("spacing")
    return spacing if spacing and spacing.get("target_spacing_um") else None


def input_factor(config: dict, pixel_size_um: float | None = None) -> float:
    """How much an image is scaled before the network: ``pixel_size / target_spacing``.

    ``pixel_size_um`` None takes the training images' pixel size (the checkpoint's
    ``spacing.pixel_size_um``), i.e. new images are assumed to come from the same microscope.
    1.0 for letterbox checkpoints (they rescale by the image size instead).
    """
    from papseg_utils.data.spacing import scale_factor

    spacing = scale_true(config)
    if spacing is None:
        return 1.0
    target = spacing["target_spacing_um"]
    return scale_factor(pixel_size_um or spacing.get("pixel_size_um") or target, target)


def predict_with_config(
    model: nn.Module,
    image: np.ndarray,
    config: dict,
    tile_size: int | None = None,
    overlap: float = 0.25,
    tta: bool | str | Sequence[str] = False,
    batch_size: int = 4,
    device: str | torch.device = "auto",
    progress: bool = False,
    pixel_size_um: float | None = None,
) -> np.ndarray:
    """Probabilities of one image at its original size, using a checkpoint config.

    The one inference path of training's validation figures, ``predict``, ``evaluate``
    and the notebooks. Normalisation (``mean``/``std``) and the geometry come from
    ``config`` (``config.json`` of a checkpoint, see
    :func:`papseg_utils.train.checkpoint.load_model`):

    * **scale-true** checkpoints (``config["spacing"]``): the image is resampled from
      ``pixel_size_um`` (None: the training images' pixel size) to the checkpoint's target
      spacing; an image larger than the window is predicted in a sliding window of
      ``tile_size`` (default: the checkpoint's ``window``, else its patch size) with Gaussian
      weights, a smaller one in one pass; the probabilities are resampled back to the native
      grid before any argmax;
    * **letterbox** checkpoints (``config["image_size"]``): without ``tile_size`` the image is
      letterboxed to that size (as in training) and the probabilities are mapped back; with
      ``tile_size`` it is predicted at native resolution in tiles.

    Returns (C, H, W) float32 for an (H, W, 3) uint8 ``image``; take ``argmax(0)`` for labels.
    """
    from papseg_utils.data.resize import letterbox, unletterbox
    from papseg_utils.data.spacing import resample_image, resample_probs

    mean = tuple(config.get("mean") or (0.5, 0.5, 0.5))
    std = tuple(config.get("std") or (0.5, 0.5, 0.5))
    multiple = int((config.get("spec_extra") or {}).get("size_multiple") or 32)
    kw = dict(mean=mean, std=std, tta=tta, batch_size=batch_size, device=device, multiple=multiple)
    spacing = scale_true(config)
    if spacing is not None:
        scaled = resample_image(image, input_factor(config, pixel_size_um))
        window = int(tile_size or _ceil_to(int(spacing.get("window") or spacing["patch_size"]),
                                           multiple))  # fmt: skip
        tiled = max(scaled.shape[:2]) > window
        probs = predict_proba(model, scaled, tile_size=window if tiled else None,
                              overlap=overlap, progress=progress, **kw)  # fmt: skip
        return resample_probs(probs, image.shape[:2])
    size = config.get("image_size")
    if not tile_size and size:
        boxed, _, geom = letterbox(image, None, int(size))
        return unletterbox(predict_proba(model, boxed, **kw), geom).astype(np.float32)
    return predict_proba(
        model, image, tile_size=tile_size or None, overlap=overlap, progress=progress, **kw
    )


@torch.no_grad()
def image_probabilities(
    model: torch.nn.Module,
    image: np.ndarray,
    config: dict,
    tta: bool | str = False,
    pixel_size_um: float | None = None,
) -> np.ndarray | None:
    """The image head's class probabilities for one image: (K,) float32, or None without a head.

    The image is brought to the training geometry (resampled to the target spacing, whole,
    for scale-true checkpoints; letterboxed to the training size otherwise) and normalised as
    in training; with ``tta`` the softmax is averaged over the same flips as the
    segmentation.
    """
    mean = tuple(config.get("mean") or (0.5, 0.5, 0.5))
    std = tuple(config.get("std") or (0.5, 0.5, 0.5))
    multiple = int((config.get("spec_extra") or {}).get("size_multiple") or 32)
    spacing = scale_true(config)
    if spacing is not None:  # as in training: the whole image at the target spacing
        from papseg_utils.data.spacing import resample_image, sample_patch

        image = resample_image(image, input_factor(config, pixel_size_um))
        side = _ceil_to(max(image.shape[:2]), multiple)  # a gray square, as in training
        image = sample_patch(image, np.zeros(image.shape[:2], np.uint8), side)[0]
    elif config.get("image_size"):
        from papseg_utils.data.resize import letterbox

        image = letterbox(image, None, int(config["image_size"]))[0]
    x = normalise(image, mean, std)
    x = _pad_to(x, _ceil_to(x.shape[-2], multiple), _ceil_to(x.shape[-1], multiple))[None]
    from papseg_utils.models.heads import image_logits_of

    device = next(model.parameters()).device
    probs = []
    for name in _tta_names(tta):
        logits = image_logits_of(model(_apply(x, name).to(device)))
        if logits is None:
            return None
        probs.append(torch.softmax(logits.float(), dim=1)[0].cpu())
    return torch.stack(probs).mean(0).numpy().astype(np.float32)
