"""Errors raised by the data loaders.

Every message names the offending file (or value) and says how to fix it, so a
student who points a loader at the wrong folder learns what to do from the
traceback alone.
"""

from __future__ import annotations


class DatasetError(Exception):
    """Base class of every data error in :mod:`papseg_utils.data`."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder is missing; the message says how to obtain it and where to put it."""


class DataLayoutError(DatasetError):
    """The folder exists but is not laid out as the loader expects."""


class DataFormatError(DatasetError, ValueError):
    """A file is unreadable, corrupt, or holds values the loader does not understand."""


class MissingMaskError(DataFormatError):
    """An image has no matching mask file."""


class SizeMismatchError(DataFormatError):
    """An image and its mask have different sizes."""


class UnknownLabelError(DataFormatError):
    """A mask holds a colour or label value that the scheme does not define."""
