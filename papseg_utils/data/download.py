"""Download Herlev (smear2005) from its official source into a folder of your choice.

``download_herlev(dest)`` (or ``papseg data herlev --download DEST``) fetches
``smear2005.zip`` from the MDE-Lab of the University of the Aegean, which hosts the
DTU/Herlev Pap smear databases (downloads page: :data:`HERLEV_PAGE`, "Part II:
smear2005.zip, New Pap-smear Database (images)"), unpacks it into ``dest`` and checks
what it got: the ``New database pictures/<class>/`` layout and 917 images, each with
its ``-d.bmp`` mask, in the per-class numbers of the release
(:data:`papseg_utils.data.herlev.EXPECTED_COUNTS`). No hash is checked: none is
published.

Only ``dest`` is written (the download goes to ``dest/smear2005.zip.part``, then the
archive is unpacked there and removed); archive members that would land outside
``dest`` are refused. A ``dest`` that already holds the complete dataset is left as it
is. Herlev may not be redistributed: keep the files to yourself.

The file address is the one the downloads page links to, as cited by public
projects; it could not be opened from where this module was written. If it moved,
pass ``url=`` (``--url``) or download the archive by hand from the page and unzip it
into ``dest``.
"""

from __future__ import annotations

import logging
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from papseg_utils.data.errors import DataLayoutError, DatasetNotFoundError
from papseg_utils.data.herlev import CLASSES, EXPECTED_COUNTS, SUBDIR, list_herlev

log = logging.getLogger(__name__)

HERLEV_PAGE = "https://mde-lab.aegean.gr/index.php/downloads/"
"""The official downloads page (MDE-Lab, University of the Aegean)."""
HERLEV_URL = "https://mde-lab.aegean.gr/images/stories/docs/smear2005.zip"
"""The archive the page links to ("Part II: smear2005.zip", about 85 MB)."""
ARCHIVE_NAME = "smear2005.zip"
HERLEV_TOTAL = sum(EXPECTED_COUNTS.values())  # 917
MANUAL = (
    f"Download {ARCHIVE_NAME} by hand from {HERLEV_PAGE} (Part II: New Pap-smear Database) "
    "and unzip it into {dest}, or pass another address with url= (--url)."
)


def check_herlev(root: str | Path) -> dict[str, int]:
    """Check a Herlev folder: the layout and all 917 images with masks; return counts per class.

    Raises
    ------
    DatasetNotFoundError, DataLayoutError
        The folder is missing, lacks ``New database pictures/<class>/``, an image has no
        mask, or a class holds another number of images than the release; the message
        lists what differs.
    """
    items = list_herlev(root)  # raises when the layout is not Herlev's
    counts = dict.fromkeys(CLASSES, 0)
    unmasked = []
    for cls, image, mask in items:
        counts[cls] += 1
        if mask is None:
            unmasked.append(f"{cls}/{image.name}")
    problems = []
    if unmasked:
        problems.append(f"{len(unmasked)} image(s) without a '-d.bmp' mask, e.g. {unmasked[:3]}")
    wrong = {c: (counts[c], n) for c, n in EXPECTED_COUNTS.items() if counts[c] != n}
    if wrong:
        listing = ", ".join(f"{c}: {got} (expected {n})" for c, (got, n) in wrong.items())
        problems.append(f"{sum(counts.values())} images instead of {HERLEV_TOTAL}: {listing}")
    if problems:
        raise DataLayoutError(
            f"{root} is not the complete smear2005 release: " + "; ".join(problems)
        )
    return counts


def _inside(dest: Path, member: str) -> Path:
    target = (dest / member).resolve()
    if not target.is_relative_to(dest):
        raise DataLayoutError(
            f"archive member {member!r} would be written outside {dest}; refusing the archive"
        )
    return target


def _fetch(url: str, part: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as fh:
            shutil.copyfileobj(response, fh, length=1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as err:
        part.unlink(missing_ok=True)
        raise DatasetNotFoundError(
            f"could not download {url}: {err}. " + MANUAL.format(dest=part.parent)
        ) from err


def _unpack(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for info in members:  # check every member before writing any
                _inside(dest, info.filename)
            zf.extractall(dest, members)
    except zipfile.BadZipFile as err:
        archive.unlink(missing_ok=True)  # so that the next attempt downloads again
        raise DataLayoutError(
            f"{archive} is not a zip archive ({err}); the address may serve a web page "
            "instead of the file. " + MANUAL.format(dest=dest)
        ) from err


def download_herlev(
    dest: str | Path,
    url: str = HERLEV_URL,
    *,
    keep_archive: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download, unpack and check smear2005 in ``dest``; return ``dest`` (for ``PAPSEG_HERLEV_DIR``).

    Parameters
    ----------
    dest : folder to write into (created if missing). Nothing is written elsewhere.
    url : the archive's address (default :data:`HERLEV_URL`); ``file://`` works too.
    keep_archive : keep ``dest/smear2005.zip`` after unpacking.
    timeout : seconds without data before the download is abandoned.

    Raises
    ------
    DatasetNotFoundError
        The download failed (offline, moved): the message says how to get the file by hand.
    DataLayoutError
        The archive is not a zip, would write outside ``dest``, or does not hold the 917
        images with masks in the release's layout.
    """
    dest = Path(dest).expanduser().resolve()
    if (dest / SUBDIR).is_dir():
        try:
            check_herlev(dest)
            log.info("%s already holds the complete Herlev data; nothing downloaded", dest)
            return dest
        except DataLayoutError as err:
            raise DataLayoutError(
                f"{dest} already holds an incomplete copy ({err}); remove '{SUBDIR}' "
                "from it or choose another folder"
            ) from err
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / ARCHIVE_NAME
    if not archive.is_file():
        part = dest / f"{ARCHIVE_NAME}.part"
        log.info("downloading %s into %s", url, dest)
        _fetch(url, part, timeout)
        part.replace(archive)
    _unpack(archive, dest)
    counts = check_herlev(dest)
    if not keep_archive:
        archive.unlink()
    log.info("Herlev: %d images with masks in %s", sum(counts.values()), dest)
    return dest
