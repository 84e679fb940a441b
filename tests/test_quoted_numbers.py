"""Every interval the prose quotes is a row of a committed table (papseg_utils.results.quotes)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from papseg_utils import results as R
from papseg_utils.results.quotes import quoted_intervals, unmatched_quotes

REPO_ROOT = Path(__file__).resolve().parent.parent
STUDY = REPO_ROOT / "results" / "architectures"


def test_quotes_are_found_with_their_signs_units_and_decimals():
    text = "U-Net++ is +0.001 [-0.008, +0.012]; HD95 \u22122.2 px [\u22124.5, \u22120.4]; n 147."
    q = quoted_intervals(text)
    assert [(x.value, x.low, x.high, x.decimals) for x in q] == [
        (0.001, -0.008, 0.012, 3),
        (-2.2, -4.5, -0.4, 1),
    ]


def test_a_quote_matches_a_row_at_its_precision_and_a_changed_one_does_not():
    paired = pd.DataFrame({"mean_diff": [0.00149], "low": [-0.0081], "high": [0.0124]})
    summary = pd.DataFrame({"mean": [0.9404], "low": [0.923], "high": [0.9531]})
    assert (
        unmatched_quotes("+0.001 [-0.008, +0.012] and 0.940 [0.923, 0.953]", [paired, summary])
        == []
    )
    assert unmatched_quotes("+0.002 [-0.008, +0.012]", [paired, summary]) == [
        "+0.002 [-0.008, +0.012]"
    ]


def _study_tables() -> list[pd.DataFrame]:
    tables = [
        pd.read_csv(f) for f in sorted(STUDY.rglob("*.csv")) if f.stem in ("paired", "summary")
    ]
    tables.append(R.start_gains(R.load_architecture_study(STUDY), seed=0))  # the chapter's table
    return tables


def _architecture_prose() -> str:
    nb = json.loads((REPO_ROOT / "notebooks" / "08_results.ipynb").read_text(encoding="utf-8"))
    cells = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "markdown" and str(c.get("id", "")).startswith("arch-")
    ]
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- /table: architectures -->")
    end = readme.index("Pre-training at true scale", start)  # the paragraphs under the tables
    return "\n".join("".join(c["source"]) for c in cells) + readme[start:end]


@pytest.mark.skipif(
    not (STUDY / "arms.csv").is_file(), reason="the architecture study is not committed"
)
def test_the_architecture_prose_quotes_only_committed_numbers():
    text = _architecture_prose()
    assert len(quoted_intervals(text)) >= 10  # the section does quote its numbers
    missing = unmatched_quotes(text, _study_tables())
    assert missing == [], (
        f"chapter 8's architecture section or the README quotes {missing}, which no table of "
        "results/architectures holds: update the prose to the regenerated tables"
    )


SCALE = REPO_ROOT / "results" / "herlev-scale-true-fine-cv"


def _scale_prose() -> str:
    nb = json.loads((REPO_ROOT / "notebooks" / "08_results.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"]
             if c["cell_type"] == "markdown" and str(c.get("id", "")).startswith("scale-")]  # fmt: skip
    return "\n".join("".join(c["source"]) for c in cells)


@pytest.mark.skipif(not SCALE.is_dir(), reason="the finer-spacing CV is not committed")
def test_the_scale_prose_quotes_only_committed_numbers():
    """Chapter 8's scale-recipe cells (ids ``scale-*``) quote rows of the committed tables."""
    text = _scale_prose()
    assert len(quoted_intervals(text)) >= 5
    folders = (SCALE, REPO_ROOT / "results" / "herlev-scale-true-cv")
    tables = [pd.read_csv(f) for d in folders for f in sorted(d.rglob("*.csv"))]
    missing = unmatched_quotes(text, tables)
    assert missing == [], f"chapter 8's scale cells quote {missing}, which no committed table holds"


EFFICIENCY = REPO_ROOT / "results" / "data-efficiency"


def _efficiency_prose() -> str:
    """Chapter 8's data-efficiency cells (ids ``eff-*``) and the README's paragraphs under its table."""
    nb = json.loads((REPO_ROOT / "notebooks" / "08_results.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"]
             if c["cell_type"] == "markdown" and str(c.get("id", "")).startswith("eff-")]  # fmt: skip
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- /table: data-efficiency -->")
    end = readme.index("The earlier `herlev-cpu` study", start)
    return "\n".join("".join(c["source"]) for c in cells) + readme[start:end]


@pytest.mark.skipif(
    not (EFFICIENCY / "arms.csv").is_file(), reason="the data-efficiency study is not committed"
)
def test_the_efficiency_prose_quotes_only_committed_numbers():
    text = _efficiency_prose()
    assert len(quoted_intervals(text)) >= 4
    tables = [pd.read_csv(EFFICIENCY / f"{name}.csv") for name in ("paired", "summary")]
    missing = unmatched_quotes(text, tables)
    assert missing == [], (
        f"chapter 8's data-efficiency cells or the README quote {missing}, which no table of "
        "results/data-efficiency holds: update the prose to the regenerated tables"
    )
