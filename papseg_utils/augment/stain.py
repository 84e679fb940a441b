"""Stain jitter in optical-density space with the Papanicolaou stain vectors."""

from __future__ import annotations

from typing import Any

import albumentations as A
import cv2
import numpy as np

# Stain optical-density (OD) vectors, rows = stains, columns = R, G, B.
# Hematoxylin and eosin from Ruifrok & Johnston (2001) as tabulated in
# scikit-image (``rgb_from_hed``); light green SF from the same tables
# (``rgb_from_fgx``). Papanicolaou staining uses hematoxylin (nuclei), eosin
# and light green (EA-50; mature vs metabolically active cytoplasm) and orange G
# (keratin; close to eosin in OD space). These are approximate published
# vectors, not measured on any Pap scanner.
PAP_STAIN_VECTORS: np.ndarray = np.array(
    [
        [0.65, 0.70, 0.29],  # hematoxylin
        [0.07, 0.99, 0.11],  # eosin (and, approximately, orange G)
        [0.94705542, 0.25373821, 0.19650764],  # light green SF
    ],
    dtype=np.float64,
)
PAP_STAIN_NAMES: tuple[str, str, str] = ("hematoxylin", "eosin", "light_green")

# (256,) float32: the optical density of each uint8 intensity
_OD_LUT: np.ndarray = (-np.log((np.arange(256, dtype=np.float32) + 1.0) / 256.0)).astype(np.float32)


class PapStainJitter(A.ImageOnlyTransform):
    """Random stain intensity change in optical-density space (Pap stains).

    The image is converted to optical density ``OD = -ln((I + 1) / 256)``,
    unmixed into concentrations of the three stains in ``stain_vectors``
    (default :data:`PAP_STAIN_VECTORS`: hematoxylin, eosin, light green), and
    each concentration ``c`` becomes ``alpha * c + beta`` with
    ``alpha ~ U(1 - sigma_scale, 1 + sigma_scale)`` and
    ``beta ~ U(-sigma_shift, sigma_shift)`` per stain (the HED jitter of
    Tellez et al. 2018, with Pap stain vectors). Because the whole map is linear
    in OD it is applied as one 3x3 matrix plus an offset.

    It models a lab that stains more or less strongly, or a different batch of
    dye; it never rotates hues arbitrarily, so nuclei stay blue-purple and
    cytoplasm stays green or pink. Image-only: masks are not touched.

    Parameters
    ----------
    sigma_scale : float
        Half-width of the multiplicative range (0.15 -> x0.85..1.15).
    sigma_shift : float
        Half-width of the additive range in OD units; background (OD 0)
        changes by at most about this much, so keep it small (default 0.03).
    stain_vectors : array (3, 3) or None
        OD vectors of the stains (rows); ``None`` uses :data:`PAP_STAIN_VECTORS`.
    p : float
        Probability of applying.
    """

    def __init__(
        self,
        sigma_scale: float = 0.15,
        sigma_shift: float = 0.03,
        stain_vectors: Any = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        if not 0 <= sigma_scale < 1:
            raise ValueError(f"PapStainJitter: sigma_scale={sigma_scale} must be in [0, 1)")
        if sigma_shift < 0:
            raise ValueError(f"PapStainJitter: sigma_shift={sigma_shift} must be >= 0")
        vectors = PAP_STAIN_VECTORS if stain_vectors is None else np.asarray(stain_vectors, float)
        if vectors.shape != (3, 3):
            raise ValueError(
                f"PapStainJitter: stain_vectors has shape {vectors.shape}; expected (3, 3), "
                "one OD row vector per stain"
            )
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        if abs(np.linalg.det(vectors)) < 1e-3:
            raise ValueError("PapStainJitter: stain_vectors are (nearly) linearly dependent")
        self.sigma_scale = float(sigma_scale)
        self.sigma_shift = float(sigma_shift)
        self.stain_vectors = None if stain_vectors is None else vectors.tolist()
        self._m = vectors
        self._m_inv = np.linalg.inv(vectors)

    def get_params(self) -> dict[str, Any]:
        """Draw per-stain scale ``alpha`` (3,) and shift ``beta`` (3,)."""
        rng = self.random_generator
        alpha = rng.uniform(1 - self.sigma_scale, 1 + self.sigma_scale, size=3)
        beta = rng.uniform(-self.sigma_shift, self.sigma_shift, size=3)
        return {"alpha": alpha, "beta": beta}

    def apply(
        self, img: np.ndarray, alpha: np.ndarray, beta: np.ndarray, **params: Any
    ) -> np.ndarray:
        """Apply the jitter to ``img`` (H, W, 3) uint8 -> (H, W, 3) uint8."""
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"PapStainJitter needs an (H, W, 3) uint8 RGB image, got {img.shape} {img.dtype}"
            )
        # od_new = od @ (M^-1 diag(alpha) M) + beta @ M
        matrix = (self._m_inv * alpha[None, :]) @ self._m
        offset = beta @ self._m
        od = _OD_LUT[img]
        out = cv2.transform(od, matrix.T.astype(np.float32))  # per-pixel matrix @ [r, g, b]
        out += offset.astype(np.float32)
        np.negative(out, out=out)
        cv2.exp(out, out)
        out *= 256.0
        out -= 1.0
        return np.clip(out, 0, 255).astype(np.uint8)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("sigma_scale", "sigma_shift", "stain_vectors")
