"""Deterministic, stratified splits, k-fold and nested data-fraction subsets.

Everything works on sample *names* (strings) with one *group* per name (the
stratification key, e.g. the Herlev diagnostic class), and is a function of
the seed alone. A split saved with :func:`save_split` records its seed,
fractions, counts per group and a content hash, so a run can log exactly
which images it trained on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from papseg_utils.data.base import Sample

FRACTIONS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)


class SplitError(ValueError):
    """The images cannot be split as asked (too few for the fractions or the folds)."""


def _names_groups(
    samples: Sequence[Sample] | Sequence[str], groups: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    if samples and isinstance(samples[0], Sample):
        names = [s.name for s in samples]
        groups = [s.group for s in samples]
    else:
        names = [str(s) for s in samples]
        groups = list(groups) if groups is not None else ["all"] * len(names)
    if len(groups) != len(names):
        raise ValueError(f"{len(names)} names but {len(groups)} groups")
    dup = [n for n, c in Counter(names).items() if c > 1]
    if dup:
        raise ValueError(f"sample names must be unique; duplicated: {dup[:5]}")
    return names, list(groups)


def _stratify(groups: list[str], n_parts: int) -> list[str] | None:
    """Groups to stratify on, or None where a group is too small for sklearn to stratify."""
    counts = Counter(groups)
    return groups if min(counts.values()) >= max(2, n_parts) else None


def stratified_split(
    samples: Sequence[Sample] | Sequence[str],
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> dict[str, list[str]]:
    """Split into train/val/test, stratified by group.

    Parameters
    ----------
    samples : list of Sample, or of names (then pass ``groups``)
    val, test : float
        Fractions in [0, 1); ``test=0`` gives no test set (an empty list). Sizes are
        ``round(fraction * n)``.
    seed : int

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}`` of sorted names; disjoint, covering all.
    """
    names, groups = _names_groups(samples, groups)
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise SplitError(f"val={val}, test={test}: need 0 <= val, test and val + test < 1")
    idx = np.arange(len(names))
    g = np.asarray(groups)
    rest, test_idx = idx, np.array([], dtype=int)
    n_test, n_val = int(round(test * len(names))), int(round(val * len(names)))
    val_idx = np.array([], dtype=int)
    try:
        if test > 0 and n_test > 0:
            rest, test_idx = train_test_split(
                idx, test_size=n_test, random_state=seed, stratify=_stratify(groups, 2)
            )
        if val > 0 and n_val > 0:
            rest, val_idx = train_test_split(
                rest,
                test_size=n_val,
                random_state=seed + 1,
                stratify=_stratify(list(g[rest]), 2),
            )
    except ValueError as err:  # scikit-learn: too few images for the requested sizes
        raise SplitError(
            f"{len(names)} images cannot be split val={val}, test={test}: {err}"
        ) from None
    return {
        "train": sorted(names[i] for i in rest),
        "val": sorted(names[i] for i in val_idx),
        "test": sorted(names[i] for i in test_idx),
    }


def kfold(
    samples: Sequence[Sample] | Sequence[str],
    k: int = 5,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> list[dict[str, list[str]]]:
    """Stratified k-fold: ``k`` dicts ``{"train": [...], "val": [...]}``; each name is in one val fold."""
    names, groups = _names_groups(samples, groups)
    if k < 2 or k > len(names):
        raise SplitError(f"k={k}: need 2 <= k <= number of samples ({len(names)})")
    strat = _stratify(groups, k)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    y = strat if strat is not None else [0] * len(names)
    return [
        {"train": sorted(names[i] for i in tr), "val": sorted(names[i] for i in va)}
        for tr, va in skf.split(np.zeros(len(names)), y)
    ]


def fraction_subsets(
    names: Sequence[str],
    groups: Sequence[str],
    fractions: Sequence[float] = FRACTIONS,
    seed: int = 0,
) -> dict[float, list[str]]:
    """Nested, stratified subsets: the 10 % subset lies inside the 25 % one, and so on.

    Each group is shuffled once (by the seed); a fraction ``f`` takes the first
    ``max(1, round(f * n_g))`` names of every group ``g`` (all of them for 1.0),
    so subsets are nested by construction and keep the group proportions.
    """
    names, groups = _names_groups(list(names), groups)
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"fraction {f}: must be in (0, 1]")
    rng = np.random.default_rng(seed)
    by_group: dict[str, list[str]] = {}
    for n, g in zip(names, groups, strict=True):
        by_group.setdefault(g, []).append(n)
    order = {g: [ns[i] for i in rng.permutation(len(ns))] for g, ns in sorted(by_group.items())}
    out = {}
    for f in sorted(fractions):
        pick = []
        for ns in order.values():
            pick += ns[: max(1, int(round(f * len(ns))))]
        out[float(f)] = sorted(pick)
    return out


def fraction_subset(
    names: Sequence[str], groups: Sequence[str], fraction: float, seed: int = 0
) -> list[str]:
    """The ``fraction`` subset of :func:`fraction_subsets` (same seed -> nested across fractions)."""
    return fraction_subsets(names, groups, (fraction,), seed)[float(fraction)]


def split_hash(split: dict[str, list[str]]) -> str:
    """SHA-256 of the split's content (part names and sorted member names)."""
    canon = json.dumps({k: sorted(v) for k, v in sorted(split.items())}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()


def save_split(
    split: dict[str, list[str]],
    path: str | Path,
    seed: int | None = None,
    groups: dict[str, str] | None = None,
    **info,
) -> dict:
    """Write ``split`` to JSON with its seed, counts (per group if ``groups`` maps name->group),
    a SHA-256 content hash and any extra ``info`` (e.g. fractions). Returns the written dict."""
    split = {str(k): sorted(v) for k, v in split.items()}
    counts: dict[str, object] = {k: len(v) for k, v in split.items()}
    if groups:
        counts = {k: {"total": len(v), **Counter(groups[n] for n in v)} for k, v in split.items()}
    doc = {
        "version": 1,
        "seed": seed,
        "counts": counts,
        "sha256": split_hash(split),
        "info": info,
        "split": split,
    }
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=False))
    return doc


def load_split(path: str | Path) -> dict[str, list[str]]:
    """Read a split written by :func:`save_split`; the hash is checked."""
    return read_split(path)[0]


def read_split(path: str | Path) -> tuple[dict[str, list[str]], dict]:
    """The split of a file written by :func:`save_split` and its ``info`` (dataset, scheme, folds).

    Raises ValueError naming the file when it is not JSON, has no ``split``
    mapping of part -> names, or its content hash does not match.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        split = doc["split"]
        if not isinstance(split, dict) or not all(isinstance(v, list) for v in split.values()):
            raise TypeError("'split' must map each part to a list of image names")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        what = f"no {err}" if isinstance(err, KeyError) else str(err)
        raise ValueError(
            f"{path}: not a split file written by train ({what}); pass the split.json of a run"
        ) from None
    if doc.get("sha256") and split_hash(split) != doc["sha256"]:
        raise ValueError(
            f"{path}: content hash mismatch; the file was edited. Regenerate the split."
        )
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    return split, info


def select(samples: Sequence[Sample], names: Sequence[str]) -> list[Sample]:
    """The samples whose names are in ``names``, in the order of ``names``; unknown names raise."""
    by_name = {s.name: s for s in samples}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(f"{len(missing)} split names are not in the dataset, e.g. {missing[:3]}")
    return [by_name[n] for n in names]
