"""Synthetic Pap smear fields and single-cell crops with exact pixel masks.

Nothing is shipped: every image is drawn from a seed, so the tutorial runs on a
fresh machine with no download, and its ground truth is exact.

How an image is made
--------------------
Cells are random star-shaped polygons (a radius profile with a few harmonics).
Their stains are painted as *optical densities* and turned into colour with
Beer-Lambert's law, ``I = I0 * exp(-sum_k c_k * OD_k)``, as in a real
bright-field microscope; overlapping cells therefore look darker where they
overlap, and a per-field jitter of the three stain vectors (haematoxylin,
eosin/orange G, light green) imitates slide-to-slide stain variation.

* **Healthy** cells (superficial, intermediate): large flattened polygonal
  cytoplasm, pink-orange (superficial) or cyan-green (intermediate), with a
  small round nucleus: nucleus/cell area ratio (N/C) about 0.01-0.06.
* **Unhealthy** cells (dysplasia, carcinoma in situ): smaller, rounder
  cytoplasm, often cyan or lilac; enlarged, irregular, hyperchromatic nuclei
  with coarse chromatin: N/C about 0.2-0.8.
* **Rubbish**: debris specks, neutrophils (2-4 small dark lobes), red blood
  cells (small pale-red discs with a central pallor) and mucus strands.
* **Artefacts**, scaled by ``difficulty``: Gaussian noise, defocus blur,
  uneven illumination (gradient and vignetting), low contrast, stain jitter
  and more overlap between cells.

Labelling rules (``scheme``)
----------------------------
``paper``: a pixel covered by at least one healthy and at least one unhealthy
cell is ``both``; covered by healthy cells only (any number: a healthy cell
over a healthy cell stays ``healthy``) is ``healthy``; unhealthy only is
``unhealthy``. Rubbish is ``rubbish`` only where no cell lies under it: on top
of a cell the cell's label wins (annotators outline cells, and a neutrophil on
a cell does not make the cell rubbish). Everything else is ``background``.

``paper_cells``: as ``paper`` but without ``both`` and ``rubbish``: overlaps of
healthy and unhealthy cells are ``unhealthy`` (the diagnostically relevant
one), rubbish is background.

``herlev3``: any nucleus pixel (cytoplasm is translucent, so nuclei of lower
cells stay visible) is ``nucleus``; other cell pixels are ``cytoplasm``; rubbish
is background.

``herlev5``: like ``herlev3`` split by health; where healthy and unhealthy
overlap, the unhealthy part wins, and any nucleus wins over any cytoplasm.

``meta`` always carries the boolean layers (``nucleus``, ``healthy``,
``unhealthy``, ``rubbish``), so one field can be relabelled without redrawing.

Modules: :mod:`~papseg_utils.data.synthetic.config` (:class:`SyntheticConfig`, the Herlev
classes), :mod:`~papseg_utils.data.synthetic.cells` (cell shapes),
:mod:`~papseg_utils.data.synthetic.render` (painting stains and the microscope's optics),
:mod:`~papseg_utils.data.synthetic.labelling` (boolean layers -> a scheme's mask) and
:mod:`~papseg_utils.data.synthetic.generate` (fields, single-cell crops, samples).
"""

from papseg_utils.data.synthetic.config import CELL_TYPES, DIFFICULTIES, SyntheticConfig
from papseg_utils.data.synthetic.generate import generate_cell, generate_field, generate_samples
from papseg_utils.data.synthetic.labelling import labels_from_layers

__all__ = [
    "CELL_TYPES",
    "DIFFICULTIES",
    "SyntheticConfig",
    "generate_cell",
    "generate_field",
    "generate_samples",
    "labels_from_layers",
]
