"""Dataset registry: what each dataset is, where to get it, and how to load it.

Add a dataset of your own with :func:`register_dataset` (a :class:`DatasetInfo` and a loader
that returns a list of :class:`~papseg_utils.data.base.Sample`); from then on
``load_dataset(name)``, ``list_datasets()``, ``describe(name)`` and the training recipe's
``dataset=name`` know it::

    from papseg_utils.data import DatasetInfo, Sample, load_dataset, register_dataset

    def load_mine(root, scheme="paper", **kw):            # root: the data folder (a Path)
        return [Sample(image, mask, name, group) for ...]  # (H,W,3) uint8, (H,W) uint8

    register_dataset(DatasetInfo(name="mine", description="...", env_var="MINE_DIR"), load_mine)
    samples = load_dataset("mine", root="path/to/mine")

The project's own modules register theirs with :func:`register`::

    from papseg_utils.data.registry import DatasetInfo, register
    register(DatasetInfo(
        name="apacs23",
        description="...", citation="...", licence="CC BY 4.0",
        obtain="Download from OSF node cka2f and set PAPSEG_APACS23_DIR",
        layout="training/APACS23_Training_Input/*.jpg ...",
        env_var="PAPSEG_APACS23_DIR",
        loader="papseg_utils.data.apacs23:load_apacs23",   # imported lazily
        default_scheme="paper_cells",
        expected_counts={"train": 2000},
    ))

``loader`` is a ``"module:function"`` string imported on first use, so a
missing optional module never breaks ``import papseg_utils.data``. Nothing is
downloaded, and no checksum is made up: :func:`validate` compares counts.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from papseg_utils.data import herlev
from papseg_utils.data.base import Sample
from papseg_utils.data.errors import DataFormatError, DatasetNotFoundError
from papseg_utils.labels import LabelScheme, get_scheme

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset and how to load it.

    Attributes
    ----------
    name : registry key.
    description, citation, licence : shown by :func:`describe` and the book.
    obtain : how and where to get the data (never downloaded by the project).
    layout : expected folder layout.
    loader : ``"module:function"`` (lazy) or a callable ``f(root, scheme=..., **kw) -> list[Sample]``.
    default_scheme : scheme used when ``load_dataset(..., scheme=None)``.
    env_var : environment variable holding the data folder, if any.
    default_root : callable returning the default folder, if any.
    expected_counts : images per group in the full release.
    counter : ``"module:function"`` or callable ``f(root) -> dict[group, count]`` for :func:`validate`.
    needs_root : False for generated data.
    check : ``"module:function"`` or callable ``f(root) -> bool``: does the folder hold this
        dataset? :func:`is_available` asks it after the folder exists.
    pixel_size_um : the size of one pixel in micrometres, or None when unknown (a folder
        dataset reads it from its ``classes.yaml``; see :func:`dataset_pixel_size`).
    pixel_size_source : where that value comes from (cited in the book).
    """

    name: str
    description: str
    citation: str = ""
    licence: str = ""
    obtain: str = ""
    layout: str = ""
    loader: str | Callable[..., list[Sample]] = ""
    default_scheme: str = "paper"
    env_var: str | None = None
    default_root: Callable[[], Path] | None = None
    expected_counts: dict[str, int] = field(default_factory=dict)
    counter: str | Callable[..., dict[str, int]] | None = None
    needs_root: bool = True
    check: str | Callable[[Path], bool] | None = None
    pixel_size_um: float | None = None
    pixel_size_source: str = ""


_REGISTRY: dict[str, DatasetInfo] = {}
_LAZY_MODULES = ("papseg_utils.data.apacs23", "papseg_utils.data.apacc")


def register(info: DatasetInfo, overwrite: bool = False) -> DatasetInfo:
    """Add ``info`` to the registry; re-registering a name needs ``overwrite=True``."""
    if info.name in _REGISTRY and not overwrite and _REGISTRY[info.name] != info:
        raise ValueError(f"dataset {info.name!r} is already registered; pass overwrite=True")
    _REGISTRY[info.name] = info
    return info


def register_dataset(
    info: DatasetInfo,
    loader: str | Callable[..., list[Sample]] | None = None,
    overwrite: bool = False,
) -> DatasetInfo:
    """Register a dataset: ``info`` with ``loader`` (or ``info.loader``); returns the entry.

    ``loader`` is a callable or a ``"module:function"`` string imported on first use, called as
    ``loader(root, scheme=..., **kw)`` (``root`` a :class:`~pathlib.Path`) or, with
    ``needs_root=False``, as ``loader(scheme=..., **kw)``; it returns a list of
    :class:`~papseg_utils.data.base.Sample` (image (H,W,3) uint8, mask (H,W) uint8). Raises
    ``ValueError`` without a loader, or for a name already taken (pass ``overwrite=True`` or
    call :func:`unregister_dataset` first).
    """
    if loader is not None:
        info = dataclasses.replace(info, loader=loader)
    if not info.loader:
        raise ValueError(
            f"dataset {info.name!r} has no loader; pass register_dataset(info, loader) with a "
            "function f(root, scheme=..., **kw) -> list[Sample] or a 'module:function' string"
        )
    if info.name in _REGISTRY and not overwrite:
        raise ValueError(
            f"dataset {info.name!r} is already registered; pass overwrite=True or call "
            f"unregister_dataset({info.name!r}) first"
        )
    return register(info, overwrite=overwrite)


def unregister_dataset(name: str) -> DatasetInfo:
    """Remove dataset ``name`` from the registry and return its entry (tests clean up)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY.pop(name)


def _load_optional_modules() -> None:
    for mod in _LAZY_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError as err:
            if getattr(err, "name", None) != mod:
                log.warning("could not import %s: %s", mod, err)


def list_datasets() -> list[str]:
    """Registered dataset names (optional modules imported on the way)."""
    _load_optional_modules()
    return sorted(_REGISTRY)


def get_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; ``KeyError`` lists the valid names."""
    if name not in _REGISTRY:
        _load_optional_modules()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; registered: {sorted(_REGISTRY)}") from None


def _resolve(fn: str | Callable | None) -> Callable | None:
    if fn is None or callable(fn):
        return fn
    mod, _, attr = fn.partition(":")
    return getattr(importlib.import_module(mod), attr)


def resolve_root(name: str, root: str | Path | None = None) -> Path | None:
    """The data folder: ``root`` if given, else the env var, else the dataset's default."""
    info = get_info(name)
    if root:
        return Path(root).expanduser()
    if info.env_var and os.environ.get(info.env_var):
        return Path(os.environ[info.env_var]).expanduser()
    if info.default_root is not None:
        return info.default_root()
    return None


def is_available(name: str, root: str | Path | None = None) -> bool:
    """True if the dataset needs no folder, or its folder exists and holds the dataset.

    The one test of whether data is there: every notebook decides with
    ``is_available("herlev", data_dir or None)``, so that all chapters of one
    build agree. ``root`` as in :func:`resolve_root`.
    """
    info = get_info(name)
    if not info.needs_root:
        return True
    r = resolve_root(name, root)
    if r is None or not r.exists():
        return False
    check = _resolve(info.check)
    return check is None or bool(check(r))


def load_dataset(
    name: str, root: str | Path | None = None, scheme: str | None = None, **kw
) -> list[Sample]:
    """Load dataset ``name`` as a list of :class:`Sample`.

    ``root`` (or the dataset's env var / default folder) says where the data
    is; ``scheme`` defaults to the dataset's ``default_scheme``; further
    keywords go to the loader (e.g. ``n=``, ``seed=`` for ``synthetic``,
    ``gray=`` for ``herlev``).
    """
    info = get_info(name)
    loader = _resolve(info.loader)
    scheme = scheme or info.default_scheme or None
    if not info.needs_root:
        return loader(scheme=scheme, **kw)
    r = resolve_root(name, root)
    if r is None or not r.exists():
        where = f" at {r}" if r is not None else ""
        env = f" or set {info.env_var}" if info.env_var else ""
        raise DatasetNotFoundError(
            f"dataset {name!r} not found{where}. {info.obtain} Pass root=...{env}."
        )
    return loader(r, scheme=scheme, **kw)


FOLDER_DEFAULT_SCHEME = "paper"
"""The chapter's default ``scheme``; with ``dataset="folder"`` it means "use classes.yaml"."""


HERLEV_PIXEL_SIZE_UM = 0.201
SYNTHETIC_PIXEL_SIZE_UM = 0.8  # at a 256 px field and cell_scale 1


def synthetic_pixel_size(field_px: int, cell_scale: float = 1.0) -> float:
    """um/px of synthetic fields of side ``field_px`` (cells are drawn in proportion to it).

    >>> synthetic_pixel_size(128)
    1.6
    """
    return SYNTHETIC_PIXEL_SIZE_UM * 256.0 / (float(field_px) * float(cell_scale))


def dataset_pixel_size(
    name: str, root: str | Path | None = None, field_px: int | None = None
) -> float | None:
    """The pixel size (um/px) of dataset ``name``, or None when it is not known.

    Herlev: 0.201. Synthetic: :func:`synthetic_pixel_size` of ``field_px`` (default 256).
    Folder: the optional ``pixel_size_um`` of its ``classes.yaml``.
    """
    info = get_info(name)
    if name == "synthetic":
        return synthetic_pixel_size(field_px or 256)
    if name == "folder":
        from papseg_utils.data.folder import CLASSES_FILE, read_pixel_size

        r = resolve_root(name, root)
        return None if r is None else read_pixel_size(r / CLASSES_FILE)
    return info.pixel_size_um


def dataset_scheme(
    name: str, root: str | Path | None = None, scheme: str | None = None
) -> LabelScheme:
    """The label scheme of a training run on dataset ``name``.

    For ``"folder"`` it is the folder's ``classes.yaml`` (any name, any number
    of classes): ``scheme`` may be empty, the chapter's default ``"paper"`` or
    the name written in ``classes.yaml``; anything else raises
    :class:`DataFormatError`. A missing or malformed ``classes.yaml`` raises
    :class:`DataLayoutError` / :class:`DataFormatError` naming it. For the
    other datasets it is ``get_scheme(scheme or the dataset's default)``.
    """
    info = get_info(name)
    if name != "folder":
        return get_scheme(scheme or info.default_scheme or "paper")
    from papseg_utils.data.folder import CLASSES_FILE, read_classes

    r = resolve_root(name, root)
    if r is None:
        raise DatasetNotFoundError(
            "dataset 'folder' needs its folder: pass the folder that holds classes.yaml, "
            "images/ and masks/ as the data folder (data_dir)."
        )
    if not r.is_dir():
        raise DatasetNotFoundError(f"{r}: no such folder. {info.obtain}")
    classes = read_classes(r / CLASSES_FILE)
    if scheme not in (None, "", FOLDER_DEFAULT_SCHEME, classes.name):
        raise DataFormatError(
            f"{r / CLASSES_FILE} names the scheme {classes.name!r}, but scheme {scheme!r} was "
            f"asked for; a folder's classes.yaml is its scheme: leave the scheme at its default "
            f"or use {classes.name!r}."
        )
    return classes


def validate(name: str, root: str | Path | None = None) -> dict[str, dict[str, int | None]]:
    """Counts per group found vs expected: ``{group: {"found": n, "expected": m or None}}``."""
    info = get_info(name)
    counter = _resolve(info.counter)
    if counter is None:
        raise ValueError(f"dataset {name!r} has no counter; validate is not supported")
    found = counter(resolve_root(name, root))
    keys = list(info.expected_counts) + [k for k in found if k not in info.expected_counts]
    return {k: {"found": found.get(k, 0), "expected": info.expected_counts.get(k)} for k in keys}


def _markdown_text(text: str) -> str:
    """``text`` as literal markdown: ``<class>`` stays visible instead of becoming an HTML tag."""
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*")):
        text = text.replace(char, escaped)
    return text


def describe(name: str) -> str:
    """Human-readable summary of a dataset (markdown; placeholders such as ``<class>`` escaped)."""
    i = get_info(name)
    lines = [f"**{i.name}**: {_markdown_text(i.description)}"]
    for label, value in (
        ("Citation", i.citation),
        ("Licence", i.licence),
        ("How to obtain", i.obtain),
        ("Layout", i.layout),
    ):
        if value:
            lines.append(f"- {label}: {_markdown_text(value)}")
    if i.expected_counts:
        total = sum(i.expected_counts.values())
        lines.append(f"- Expected counts ({total}): {i.expected_counts}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- built-ins


def _load_synthetic(scheme: str = "paper", n: int = 16, seed: int = 0, mode: str = "field", **kw):
    from papseg_utils.data.synthetic import SyntheticConfig, generate_samples

    return generate_samples(n, seed, SyntheticConfig(**kw), scheme=scheme, mode=mode)


def _herlev_root() -> Path:
    from papseg_utils.data.herlev import default_root

    return default_root()


register(
    DatasetInfo(
        name="synthetic",
        description="Synthetic Pap smear fields (or Herlev-like single cells) with exact masks, "
        "drawn from a seed; nothing to download.",
        licence="Generated by papseg_utils (MIT).",
        loader=_load_synthetic,
        default_scheme="paper",
        needs_root=False,
        pixel_size_um=SYNTHETIC_PIXEL_SIZE_UM,
        pixel_size_source="defined by the generator: 0.8 um/px for a 256 px field at cell_scale "
        "1 (a healthy cell about 50 um across); cells scale with the field, so a field of S px "
        "has 0.8 * 256 / (S * cell_scale) um/px (papseg_utils.data.registry.synthetic_pixel_size)",
    )
)

register(
    DatasetInfo(
        name="herlev",
        description="Herlev / DTU 'New Pap-smear Database' (smear2005): 917 single-cell images "
        "with background/cytoplasm/nucleus masks in 7 diagnostic classes; pixel about 0.201 um.",
        citation="J. Jantzen, J. Norup, G. Dounias, B. Bjerregaard, 'Pap-smear benchmark data for "
        "pattern classification', Proc. NiSIS 2005; E. Martin, 'Pap-smear classification', MSc "
        "thesis, Technical University of Denmark, 2003.",
        licence="No explicit licence: free for research and education with citation; "
        "redistribution is not granted, so the project reads it from a path and never ships it.",
        obtain="Download smear2005.zip from the MDE-Lab (University of the Aegean) page "
        "'PAP-SMEAR (DTU/HERLEV) DATABASES & RELATED STUDIES', part II, and unzip it.",
        layout="New database pictures/<class>/<id>.BMP with <id>-d.bmp palette masks",
        loader="papseg_utils.data.herlev:load_herlev",
        default_scheme="herlev3",
        env_var=herlev.ENV_VAR,
        default_root=_herlev_root,
        expected_counts=dict(herlev.EXPECTED_COUNTS),
        counter="papseg_utils.data.herlev:count_herlev",
        check="papseg_utils.data.herlev:is_herlev_folder",
        pixel_size_um=HERLEV_PIXEL_SIZE_UM,
        pixel_size_source="the acquisition described with the smear2005 release (Jantzen et al. "
        "2005; Martin 2003): 0.201 um per pixel for every image",
    )
)


def _count_folder(root: Path) -> dict[str, int]:
    from papseg_utils.data.folder import load_folder

    counts: dict[str, int] = {}
    for s in load_folder(root):
        counts[s.group] = counts.get(s.group, 0) + 1
    return counts


register(
    DatasetInfo(
        name="folder",
        description="Your own data in the papseg folder format (images/, masks/, classes.yaml).",
        obtain="Convert your data with papseg_utils.data.folder.export_folder, or lay it out by hand.",
        layout="classes.yaml, images/<stem>.<png|jpg|bmp|tif>, masks/<stem>.png, optional groups.csv",
        loader="papseg_utils.data.folder:load_folder",
        default_scheme="",
        counter=_count_folder,
    )
)
