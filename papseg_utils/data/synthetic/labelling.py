"""The generator's boolean layers as the mask of a label scheme."""

from __future__ import annotations

import numpy as np

from papseg_utils.labels import get_scheme


def labels_from_layers(layers: dict[str, np.ndarray], scheme: str = "paper") -> np.ndarray:
    """Turn the generator's boolean layers into a (H, W) uint8 mask of ``scheme``.

    See the module docstring for the rules of each scheme.
    """
    name = get_scheme(scheme).name
    hl, ul = layers["healthy"], layers["unhealthy"]
    nuc, rub = layers["nucleus"], layers["rubbish"]
    cell = hl | ul
    mask = np.zeros(hl.shape, dtype=np.uint8)
    if name == "paper":
        mask[rub & ~cell] = 3
        mask[hl] = 1
        mask[ul] = 2
        mask[hl & ul] = 4
    elif name == "paper_cells":
        mask[hl] = 1
        mask[ul] = 2
    elif name == "herlev3":
        mask[cell] = 1
        mask[nuc & cell] = 2
    elif name == "herlev5":
        mask[hl] = 1
        mask[ul] = 3
        # the nucleus belongs to the healthier layer only where no unhealthy cell lies
        mask[nuc & hl & ~ul] = 2
        mask[nuc & ul] = 4
    else:
        raise ValueError(
            f"scheme {scheme!r} is not supported by the synthetic generator; "
            "use 'paper', 'paper_cells', 'herlev3' or 'herlev5'"
        )
    return mask
