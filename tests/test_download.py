"""``download_herlev`` and ``papseg data herlev``: tested against a fake archive, never the network.

The fake ``smear2005.zip`` has the release's layout and per-class counts (917 images,
each with a mask) but a few bytes per file; it is served by a local HTTP server (or
a ``file://`` address). Nothing here contacts the MDE-Lab server.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import zipfile
from pathlib import Path

import pytest

from papseg_utils.data import DataLayoutError, DatasetNotFoundError
from papseg_utils.data.download import HERLEV_PAGE, HERLEV_TOTAL, check_herlev, download_herlev
from papseg_utils.data.herlev import EXPECTED_COUNTS, SUBDIR


def make_archive(
    path: Path, *, drop_mask: str | None = None, short_class: str | None = None, extra=()
) -> Path:
    """A smear2005-shaped zip: ``SUBDIR/<class>/<id>.BMP`` + ``<id>-d.bmp`` for 917 images."""
    with zipfile.ZipFile(path, "w") as zf:
        for cls, n in EXPECTED_COUNTS.items():
            for i in range(n - (cls == short_class)):
                stem = f"{SUBDIR}/{cls}/{1000 + i}-{i:03d}"
                zf.writestr(f"{stem}.BMP", b"BM fake image")
                if f"{cls}/{1000 + i}-{i:03d}" != drop_mask:
                    zf.writestr(f"{stem}-d.bmp", b"BM fake mask")
        for name, data in extra:
            zf.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("served") / "smear2005.zip")


class _Server:
    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                outer.requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(archive):
    srv = _Server(archive.parent)
    yield srv
    srv.close()


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_download_unpacks_checks_and_writes_only_into_dest(server, tmp_path):
    dest = tmp_path / "data" / "herlev"
    before = _tree(tmp_path)
    root = download_herlev(dest, server.url("smear2005.zip"))
    assert root == dest.resolve()
    assert check_herlev(dest) == EXPECTED_COUNTS
    assert sum(EXPECTED_COUNTS.values()) == HERLEV_TOTAL == 917
    assert not (dest / "smear2005.zip").exists()  # removed after unpacking
    new = _tree(tmp_path) - before
    assert new and all(p == "data" or p.startswith(f"data{'/'}herlev") for p in new)
    assert len(server.requests) == 1
    # a second call finds the complete data and downloads nothing
    assert download_herlev(dest, server.url("smear2005.zip")) == root
    assert len(server.requests) == 1


def test_cli_downloads_from_a_file_url_and_prints_the_variable(archive, tmp_path, capsys):
    from papseg_utils.__main__ import main

    dest = tmp_path / "herlev"
    code = main(
        ["data", "herlev", "--download", str(dest), "--url", archive.as_uri(), "--keep-archive"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"917 images with masks in {dest.resolve()}" in out
    assert f"export PAPSEG_HERLEV_DIR={dest.resolve()}" in out
    assert (dest / "smear2005.zip").is_file()  # kept on request
    assert main(["data", "herlev", "--check", str(dest)]) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop_mask": "light_dysplastic/1000-000"}, "1 image(s) without a '-d.bmp' mask"),
        ({"short_class": "normal_columnar"}, "916 images instead of 917: normal_columnar: 97"),
    ],
)
def test_an_incomplete_archive_is_reported(tmp_path, change, message):
    bad = make_archive(tmp_path / "bad.zip", **change)
    with pytest.raises(DataLayoutError, match=re.escape(message)):
        download_herlev(tmp_path / "herlev", bad.as_uri())


def test_a_member_outside_dest_is_refused_before_anything_is_written(tmp_path):
    evil = make_archive(tmp_path / "evil.zip", extra=[("../escaped.txt", b"no")])
    dest = tmp_path / "inner" / "herlev"
    with pytest.raises(DataLayoutError, match="outside"):
        download_herlev(dest, evil.as_uri())
    assert not (tmp_path / "inner" / "escaped.txt").exists()
    assert not (dest / SUBDIR).exists()


def test_an_unreachable_address_fails_with_the_manual_route(tmp_path):
    dest = tmp_path / "herlev"
    with pytest.raises(DatasetNotFoundError, match="could not download") as err:
        download_herlev(dest, "http://127.0.0.1:9/smear2005.zip", timeout=5)
    assert HERLEV_PAGE in str(err.value) and str(dest.resolve()) in str(err.value)
    assert list(dest.iterdir()) == []  # no partial file left


def test_a_web_page_instead_of_the_archive_is_refused(tmp_path):
    page = tmp_path / "served" / "smear2005.zip"
    page.parent.mkdir()
    page.write_text("<html>moved</html>")
    srv = _Server(page.parent)
    try:
        with pytest.raises(DataLayoutError, match="not a zip archive"):
            download_herlev(tmp_path / "herlev", srv.url("smear2005.zip"))
    finally:
        srv.close()
    assert not (tmp_path / "herlev" / "smear2005.zip").exists()
