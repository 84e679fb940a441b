"""The README's results tables are the committed files' numbers (papseg_utils.results.readme)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from papseg_utils.results import readme

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_every_readme_table_matches_the_committed_results():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    _, changed = readme.update_tables(text, REPO_ROOT / "results")
    assert changed == [], (
        f"README.md tables {changed} differ from results/: run python scripts/readme_tables.py"
    )


def test_a_hand_edited_number_is_caught_and_rewritten():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- table: herlev-cv")
    edited = text[:start] + text[start:].replace("0.938 [0.930, 0.945]", "0.958 [0.930, 0.945]", 1)
    assert edited != text
    fixed, changed = readme.update_tables(edited, REPO_ROOT / "results")
    assert changed == ["herlev-cv"] and fixed == text


def test_markers_must_name_known_tables():
    with pytest.raises(ValueError, match=r"unknown \['nope'\]"):
        readme.update_tables("<!-- table: nope (x) -->\n| a |\n<!-- /table: nope -->\n")


def test_the_script_checks_without_writing():
    out = subprocess.run([sys.executable, "scripts/readme_tables.py", "--check"], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "every results table matches" in out.stdout
