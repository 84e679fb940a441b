"""Numbers quoted in prose, checked against the tables they come from.

The book and the README say what a table shows in sentences such as "U-Net++ is +0.001 nucleus
Dice [-0.008, +0.012] from the U-Net". :func:`quoted_intervals` finds every such
``value [low, high]`` in a text; :func:`unmatched_quotes` returns those that no row of the given
tables holds at the quoted precision, so a test fails when a table is regenerated and the prose
is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

_NUMBER = r"[+\-\u2212]?\d+(?:\.\d+)?"
#: ``value [low, high]``, with an optional unit between the value and the bracket.
QUOTE = re.compile(rf"({_NUMBER})(?: ?(?:px|um|µm|%))? \[({_NUMBER}), ({_NUMBER})\]")
#: (value, low, high) column triples a table may hold.
TRIPLES = (("mean_diff", "low", "high"), ("mean", "low", "high"), ("diff", "ci_low", "ci_high"))


@dataclass(frozen=True)
class Quote:
    """One quoted ``value [low, high]``: the three numbers as written, and their decimals."""

    text: str
    value: float
    low: float
    high: float
    decimals: int


def _number(s: str) -> float:
    return float(s.replace("\u2212", "-"))


def quoted_intervals(text: str) -> list[Quote]:
    """Every ``value [low, high]`` of ``text`` (signs ``+``, ``-`` or the Unicode minus)."""
    out = []
    for m in QUOTE.finditer(text):
        decimals = len(m.group(1).partition(".")[2])
        out.append(Quote(m.group(0), *(_number(m.group(i)) for i in (1, 2, 3)), decimals))
    return out


def unmatched_quotes(text: str, tables: Iterable[pd.DataFrame]) -> list[str]:
    """The quotes of ``text`` that no row of ``tables`` holds.

    A quote matches a row when its value, low and high equal the row's ``mean_diff``, ``low``,
    ``high`` (a paired table), ``mean``, ``low``, ``high`` (a summary) or ``diff``, ``ci_low``,
    ``ci_high`` (the scale benchmarks' tables), rounded to the quote's decimals. Returns the quotes' texts, in order; empty when every number has its row.
    """
    quotes, frames = quoted_intervals(text), list(tables)
    held = {  # per quoted precision, every (value, low, high) of the tables, rounded to it
        d: {tuple(round(float(x), d) for x in r)
            for t in frames for cols in TRIPLES if set(cols) <= set(t.columns)
            for r in t[list(cols)].dropna().itertuples(index=False)}
        for d in {q.decimals for q in quotes}
    }  # fmt: skip
    return [q.text for q in quotes
            if tuple(round(x, q.decimals) for x in (q.value, q.low, q.high)) not in held[q.decimals]]  # fmt: skip
