"""Profile inheritance: ``extends: NAME`` in a profile file.

A profile (or recipe) of ``notebooks/profiles/NN_name.yaml`` may start from another
profile of the same file and give only the keys that differ::

    herlev-best:
      image_size: 224
      num_epochs: 10
    herlev-best-gpu:        # herlev-best with two values changed
      extends: herlev-best
      num_epochs: 40

Chains (``a`` extends ``b`` extends ``c``) resolve from the root down. A parent that the
file does not define, or a chain that comes back to itself, raises
:class:`~papseg_utils.book.profiles.RunnerError` naming the file, the profile and the fix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

EXTENDS = "extends"
"""The key of a profile that names its parent profile (in the same file)."""


class ProfileExtendsError(ValueError):
    """An ``extends:`` that names no profile of the file, or a cycle of them."""


def resolve_extends(data: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """``data`` (a profile file's top-level mapping) with every ``extends:`` resolved.

    Parameters
    ----------
    data : dict
        ``{profile name: {parameter: value} or None, "depends_on": [...]}`` as read
        from the YAML file; not changed.
    path : Path or str
        The file, named in the errors.

    Returns
    -------
    dict
        The same top-level keys in the same order. A profile with ``extends: P`` becomes
        P's resolved parameters (in P's order) updated with its own (new keys after
        them); ``extends`` itself is dropped. An empty profile (``None``) becomes ``{}``;
        other values (``depends_on``, a value that is not a mapping) are copied unchanged.

    Raises
    ------
    ProfileExtendsError
        ``extends`` is not a profile name of this file, names an unknown profile, or
        the chain comes back to a profile already in it.
    """
    profiles = {
        k: v or {}
        for k, v in data.items()
        if k != "depends_on" and (v is None or isinstance(v, dict))
    }
    resolved: dict[str, dict[str, Any]] = {}
    for name in profiles:
        _resolve_one(name, profiles, resolved, [], path)
    return {k: resolved.get(k, copy.deepcopy(v)) for k, v in data.items()}


def _resolve_one(
    name: str,
    profiles: dict[str, dict[str, Any]],
    resolved: dict[str, dict[str, Any]],
    chain: list[str],
    path: Path | str,
) -> dict[str, Any]:
    """The resolved parameters of profile ``name`` (memoised in ``resolved``)."""
    if name in resolved:
        return resolved[name]
    if name in chain:
        cycle = " -> ".join([*chain[chain.index(name) :], name])
        raise ProfileExtendsError(
            f"{path}: profile {chain[0]!r} extends itself ({cycle}); remove one of the "
            "extends: lines of that chain"
        )
    own = profiles[name]
    if EXTENDS not in own:
        resolved[name] = copy.deepcopy(own)
        return resolved[name]
    parent = _parent_name(name, own[EXTENDS], profiles, path)
    values = copy.deepcopy(_resolve_one(parent, profiles, resolved, [*chain, name], path))
    values.update(copy.deepcopy({k: v for k, v in own.items() if k != EXTENDS}))
    resolved[name] = values
    return values


def _parent_name(name: str, parent: Any, profiles: dict[str, Any], path: Path | str) -> str:
    """``parent`` checked: a profile of the same file other than ``name``."""
    valid = ", ".join(p for p in profiles if p != name)
    if not isinstance(parent, str):
        raise ProfileExtendsError(
            f"{path}: profile {name!r} has extends: {parent!r}; give the name of one profile "
            f"of this file (one of {valid})"
        )
    if parent not in profiles:
        raise ProfileExtendsError(
            f"{path}: profile {name!r} extends {parent!r}, which this file does not define; "
            f"name one of {valid}, or remove the extends: line"
        )
    return parent
