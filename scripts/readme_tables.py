"""Rewrite the README's results tables from the committed files (papseg_utils.results.readme).

python scripts/readme_tables.py          # rewrite README.md in place
python scripts/readme_tables.py --check  # exit 1 naming the tables that differ
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from papseg_utils.results.readme import update_tables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether the tables are current")
    args = ap.parse_args(argv)
    readme = ROOT / "README.md"
    text, changed = update_tables(readme.read_text(encoding="utf-8"), ROOT / "results")
    if args.check:
        if changed:
            print(
                f"README.md: tables out of date: {', '.join(changed)}; run python scripts/readme_tables.py"
            )
            return 1
        print("README.md: every results table matches results/")
        return 0
    readme.write_text(text, encoding="utf-8")
    print(f"README.md: rewrote {', '.join(changed) or 'nothing (already current)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
