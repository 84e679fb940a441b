"""The rendered book: built cleanly, every page checked in headless Chromium.

The shared ``smoke_build`` fixture (tests/conftest.py) executes every notebook
under the ``smoke`` profile and builds the book once per session. Each built
page is then opened in Chromium (the system browser at /usr/bin/chromium,
driven by playwright; no browser is ever downloaded) and checked for a title,
broken images, untypeset maths, dead internal links and network requests.
Screenshots go to ``$PAPSEG_SCREENSHOTS`` (default ``build/screenshots``).

Without Chromium the browser tests skip (install it with
``scripts/ensure_chromium.sh``), except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("PAPSEG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_PAGES = {"genindex.html", "search.html"}
REDIRECTS = {"index.html"}  # jupyter-book writes index.html as a redirect to the root page


def _pages(html: Path) -> list[Path]:
    return sorted(
        p
        for p in html.rglob("*.html")
        if p.name not in SKIP_PAGES
        and p.relative_to(html).as_posix() not in REDIRECTS
        and "_static" not in p.parts
        and "_sources" not in p.parts
    )


@pytest.fixture(scope="module")
def book(smoke_build: dict) -> Path:
    assert smoke_build["book"]["returncode"] == 0, (
        "book build failed:\n" + smoke_build["book"]["output"][-8000:]
    )
    html = Path(smoke_build["html"])
    assert (html / "index.html").is_file()
    return html


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        reason = f"Chromium not found at {CHROMIUM}; run scripts/ensure_chromium.sh (as root) or set PAPSEG_CHROMIUM"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag in ("a", "link") and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.hrefs.append(a["src"])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_book_builds_and_lists_expected_pages(book: Path, smoke_build: dict) -> None:
    """Every toc page that has a file (executed notebook or markdown) was rendered."""
    executed = Path(smoke_build["executed"])
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [
        c["file"] for part in toc.get("parts", [toc]) for c in part.get("chapters", [])
    ]
    for entry in files:
        stem = Path(entry).name
        if entry.startswith("build/executed/"):
            exists = any((executed / f"{stem}{ext}").is_file() for ext in (".ipynb", ".md"))
        else:
            exists = (REPO_ROOT / f"{entry}.md").is_file()
        if exists:
            assert (book / f"{entry}.html").is_file(), f"{entry} has a source but was not rendered"
    status = (book / "build" / "executed" / "status.html").read_text(encoding="utf-8")
    assert "01_introduction" in status and "smoke" in status


def test_no_dead_internal_links(book: Path) -> None:
    dead = []
    cache: dict[Path, set[str]] = {}
    for page in _pages(book):
        for href in _parse(page).hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith("//") or href.startswith("mailto:"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                dead.append(f"{page.relative_to(book)}: {href} (no file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = cache.setdefault(target, _parse(target).ids)
                if parts.fragment not in ids:
                    dead.append(f"{page.relative_to(book)}: {href} (no anchor)")
    assert not dead, "dead internal links:\n" + "\n".join(dead[:40])


@pytest.mark.browser
def test_pages_render_offline_in_chromium(book: Path, browser, tmp_path: Path) -> None:
    shots = Path(os.environ.get("PAPSEG_SCREENSHOTS", REPO_ROOT / "build" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    pages = _pages(book)
    assert pages, f"no pages in {book}"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    external: list[str] = []
    context.route(
        re.compile(r"^(?!file:|data:|blob:|about:).*"),
        lambda route: (external.append(route.request.url), route.abort()),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for path in pages:
        rel = path.relative_to(book).as_posix()
        external.clear()
        errors.clear()
        page.goto(path.as_uri(), wait_until="load")
        has_math = (
            page.evaluate("document.querySelectorAll('.math, span.math, div.math').length") > 0
        )
        if has_math:
            try:
                page.wait_for_selector("mjx-container", timeout=15000)
            except Exception:
                problems.append(f"{rel}: maths present but MathJax typeset nothing")
            page.wait_for_timeout(300)
        title = page.title().strip()
        if not title or "&lt;no title&gt;" in title or "<no title>" in title:
            problems.append(f"{rel}: missing title ({title!r})")
        if page.locator("main h1, article h1").count() == 0:
            problems.append(f"{rel}: no H1 heading")
        broken = page.evaluate(
            "Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"
        )
        problems += [f"{rel}: broken image {src}" for src in broken]
        raw = page.evaluate(
            r"""() => {
              const main = document.querySelector('main') || document.body;
              const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
              const bad = [];
              while (walker.nextNode()) {
                const n = walker.currentNode, p = n.parentElement;
                if (!p || p.closest('pre, code, script, style, .highlight, mjx-container')) continue;
                if (/\\\(|\\\[|\$\$/.test(n.textContent)) bad.push(n.textContent.trim().slice(0, 60));
              }
              return bad;
            }"""
        )
        problems += [f"{rel}: raw TeX left: {t!r}" for t in raw]
        if external:
            problems.append(f"{rel}: requests left the machine: {sorted(set(external))[:5]}")
        if errors:
            problems.append(f"{rel}: JavaScript errors: {errors[:3]}")
        page.screenshot(
            path=str(shots / (rel.replace("/", "__").removesuffix(".html") + ".png")),
            full_page=True,
        )
    context.close()
    assert not problems, "\n".join(problems)


def test_no_remote_assets_in_html(book: Path) -> None:
    from papseg_utils.book import remote_assets

    assert remote_assets(book) == []


def test_notebook_pages_open_their_source_notebook_in_colab(book: Path) -> None:
    """Every rendered notebook page links to notebooks/<stem>.ipynb on Colab (see _config.yml)."""
    from test_colab import colab_url, launch_links

    pages = sorted((book / "build" / "executed").glob("[0-9][0-9]_*.html"))
    assert pages, "no notebook pages in the book"
    for page in pages:
        assert launch_links(page) == [colab_url(page.stem)], page.name
        assert (REPO_ROOT / "notebooks" / f"{page.stem}.ipynb").is_file()
