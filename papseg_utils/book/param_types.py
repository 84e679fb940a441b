"""Check a value against a parameters-cell annotation (``int``, ``tuple[int, int]``...).

Papermill reads each parameter's annotation as text (``inferred_type_name``);
:func:`matches` tells whether a value (as YAML typed it on the command line)
fits that text, so ``-p image_size abc`` is refused before a notebook runs
instead of failing later inside it. Unknown or missing annotations accept
anything.
"""

from __future__ import annotations

from typing import Any

_NO_ANNOTATION = ("", "None")


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[("
        depth -= ch in "])"
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def _matches_one(value: Any, ann: str) -> bool:
    ann = ann.strip().removeprefix("typing.")
    head, _, rest = ann.partition("[")
    args = _split_top(rest[:-1], ",") if rest.endswith("]") else []
    if ann in ("None", "NoneType"):
        return value is None
    if head == "Optional":
        return value is None or any(_matches_one(value, a) for a in args)
    if head == "Union":
        return any(_matches_one(value, a) for a in args)
    if head == "bool":
        return isinstance(value, bool)
    if head == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if head == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if head == "str":
        return isinstance(value, str)
    if head in ("list", "List", "tuple", "Tuple", "Sequence"):
        if not isinstance(value, list | tuple):
            return False
        if head.lower() == "tuple" and args and args[-1] != "...":
            return len(value) == len(args) and all(
                _matches_one(v, a) for v, a in zip(value, args, strict=True)
            )
        elem = args[0] if args else None
        return elem is None or all(_matches_one(v, elem) for v in value)
    if head in ("dict", "Dict", "Mapping"):
        return isinstance(value, dict)
    return True  # an annotation we do not model: accept


def matches(value: Any, annotation: str | None) -> bool:
    """True if ``value`` fits ``annotation`` (a type written as text, e.g. ``"int | None"``)."""
    if annotation is None or annotation.strip() in _NO_ANNOTATION:
        return True
    return any(_matches_one(value, a) for a in _split_top(annotation, "|"))
