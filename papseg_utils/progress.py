"""Progress bars that never print a warning in a notebook.

``tqdm.auto`` picks tqdm's widget bar inside a Jupyter kernel; without
ipywidgets it falls back to the text bar, but first warns "IProgress not
found" (a ``TqdmWarning`` naming a path of the installation) the first time
it is imported. :func:`quiet_tqdm_auto` makes that one import silently when
ipywidgets is absent; Python caches the module, so every later
``import tqdm.auto`` (this package's, or huggingface_hub's and timm's) is
silent too. ``import papseg_utils`` calls it, so a notebook whose first
import from the package comes before those libraries prints no warning.
With ipywidgets installed nothing changes and notebooks get widget bars.

Every progress bar of the package comes from here: ``from papseg_utils.progress import tqdm``.
"""

from __future__ import annotations

import importlib.util
import warnings


def quiet_tqdm_auto() -> bool:
    """Import ``tqdm.autonotebook`` without its ipywidgets warning; True if it was silenced.

    Does nothing (returns False) when ipywidgets is installed or the module is
    already imported.
    """
    import sys

    if "tqdm.autonotebook" in sys.modules or importlib.util.find_spec("ipywidgets") is not None:
        return False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import tqdm.autonotebook  # noqa: F401  (cached: later imports of tqdm.auto stay silent)
    return True


quiet_tqdm_auto()

from tqdm.auto import tqdm  # noqa: E402

__all__ = ["quiet_tqdm_auto", "tqdm"]
