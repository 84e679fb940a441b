"""papseg_utils: helpers for the papseg tutorial."""

from papseg_utils import progress as _progress  # noqa: F401  (silences tqdm's ipywidgets warning)

__version__ = "0.1.0"
