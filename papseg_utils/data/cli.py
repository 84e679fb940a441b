"""Command line: ``papseg data herlev --download DIR`` (or ``--check DIR``).

``--download DIR`` fetches smear2005.zip from the MDE-Lab of the University of the
Aegean into DIR, unpacks it there and checks the 917 images with their masks
(:func:`papseg_utils.data.download.download_herlev`); ``--check DIR`` only checks a
copy you already have. Both print the line that points the project at the data.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from papseg_utils.data.errors import DatasetError


def build_parser() -> argparse.ArgumentParser:
    from papseg_utils.data.download import HERLEV_PAGE, HERLEV_URL

    parser = argparse.ArgumentParser(prog="papseg data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="dataset", required=True)
    herlev = sub.add_parser(
        "herlev",
        help="download or check Herlev (smear2005)",
        description=f"Herlev / DTU New Pap-smear Database, from {HERLEV_PAGE}. "
        "It may not be redistributed: keep your copy to yourself.",
    )
    what = herlev.add_mutually_exclusive_group(required=True)
    what.add_argument("--download", type=Path, metavar="DIR", help="download and unpack into DIR")
    what.add_argument("--check", type=Path, metavar="DIR", help="check the copy in DIR")
    herlev.add_argument("--url", default=HERLEV_URL, help=f"archive address (default {HERLEV_URL})")
    herlev.add_argument(
        "--keep-archive", action="store_true", help="keep smear2005.zip after unpacking"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 when the data is complete, 1 when not, 2 on bad usage."""
    from papseg_utils.data.download import check_herlev, download_herlev

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[data] %(message)s", stream=sys.stderr)
    try:
        if args.download:
            root = download_herlev(args.download, args.url, keep_archive=args.keep_archive)
        else:
            root = args.check.expanduser().resolve()
        counts = check_herlev(root)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Herlev: {sum(counts.values())} images with masks in {root}")
    print(f"use it with: export PAPSEG_HERLEV_DIR={root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
