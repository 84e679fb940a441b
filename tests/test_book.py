"""The rendered book: built cleanly, every page checked in headless Chromium.

The shared ``smoke_build`` fixture (tests/conftest.py) executes every notebook
under the ``smoke`` profile and builds the book once per session. Each built
page is then opened in Chromium (the system browser at /usr/bin/chromium,
driven by playwright; no browser is ever downloaded) and checked for a title,
broken images, untypeset maths, dead internal links, network requests, hint dropdowns
that render collapsed, and blocks wider than the text column (every table, code block,
cell output, figure and displayed equation, with the collapsed parts opened: nothing may
scroll sideways at 1280 px).
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
VIEWPORT = {"width": 1280, "height": 900}
# Blocks that must fit the text column of the article: tables (markdown and pandas), code
# blocks and cell outputs, figures and displayed maths. Returns one line per offender.
OVERFLOW_JS = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  if (!article) return ['no article element'];
  const style = getComputedStyle(article), box = article.getBoundingClientRect();
  const right = box.right - parseFloat(style.paddingRight);
  const column = Math.round(right - box.left - parseFloat(style.paddingLeft));
  const where = (el) => {
    const h = el.closest('section')?.querySelector('h1, h2, h3');
    const text = (el.innerText || el.getAttribute('src') || '').trim().replace(/\s+/g, ' ');
    return `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} under "${
      h ? h.innerText.replace('#', '').trim().slice(0, 50) : '?'}": ${text.slice(0, 60)}`;
  };
  const blocks = 'table, pre, div.cell_output .output, div.highlight, ' +
    '.pst-scrollable-table-container, img, figure, div.math, mjx-container[display="true"]';
  const bad = [];
  for (const el of article.querySelectorAll(blocks)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not rendered
    const past = Math.round(r.right - right), hidden = el.scrollWidth - el.clientWidth;
    if (past > 1) bad.push(`${Math.round(r.width)} px wide, ${past} px past the ${column} px column: ${where(el)}`);
    else if (hidden > 1 && getComputedStyle(el).overflowX !== 'visible')
      bad.push(`scrolls sideways by ${hidden} px: ${where(el)}`);
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) bad.push(`the page scrolls sideways (${doc.scrollWidth} px)`);
  return bad;
}"""
# What a reader can open: hidden cell inputs (<details>) and dropdowns (sphinx-togglebutton).
OPEN_ALL_JS = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
}"""
# Dropdown admonitions (exercise hints) whose body shows before a click.
OPEN_DROPDOWNS_JS = r"""() => Array.from(document.querySelectorAll('.admonition.dropdown'))
  .filter(a => Array.from(a.children).some(
    c => !c.classList.contains('admonition-title') && c.offsetHeight > 0))
  .map(a => (a.querySelector('.admonition-title')?.innerText || '?').trim() + ': ' +
    a.innerText.trim().replace(/\s+/g, ' ').slice(0, 60))"""
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
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
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
        problems += [
            f"{rel}: hint shown before a click: {t}" for t in page.evaluate(OPEN_DROPDOWNS_JS)
        ]
        page.screenshot(
            path=str(shots / (rel.replace("/", "__").removesuffix(".html") + ".png")),
            full_page=True,
        )
        page.evaluate(OPEN_ALL_JS)
        problems += [f"{rel}: {line}" for line in page.evaluate(OVERFLOW_JS)]
    context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_the_overflow_check_catches_wide_tables_code_and_outputs(browser, tmp_path: Path) -> None:
    """OVERFLOW_JS flags a table, a code block, an output and a figure wider than the column
    (here 600 px), also inside scrolling containers, and passes the same page once they fit."""
    wide = "x" * 400
    body = f"""<main><article class="bd-article" style="width: 600px; padding: 0 10px; box-sizing: border-box">
      <section><h2>Wide</h2>
      <div class="pst-scrollable-table-container" style="overflow-x: auto">
        <table><tr><td>{wide}</td></tr></table></div>
      <pre style="overflow: auto">{wide}</pre>
      <div class="cell_output"><div class="output text_html" style="overflow-x: auto">
        <table class="dataframe"><tr><td style="white-space: nowrap">a b c d {wide}</td></tr>
        </table></div></div>
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" style="width: 900px; height: 2px">
      </section></article></main>"""
    page_file = tmp_path / "wide.html"
    page_file.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(page_file.as_uri())
    found = page.evaluate(OVERFLOW_JS)
    for what in ("div.pst-scrollable-table-container", "pre.", "div.output.text_html", "img."):
        assert any(what in line for line in found), (what, found)
    assert any("table" in line and "past the 580 px column" in line for line in found), found
    fix = "pre, td { white-space: pre-wrap !important; overflow-wrap: anywhere; } img { width: 100% !important; }"
    page.add_style_tag(content=fix)
    assert page.evaluate(OVERFLOW_JS) == []
    page.close()


def test_the_book_stylesheet_wraps_code_and_tables() -> None:
    """book/_static/papseg.css (wired in _config.yml) wraps code lines and table cells."""
    css = (REPO_ROOT / "book" / "_static" / "papseg.css").read_text(encoding="utf-8")
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert "papseg.css" in config["sphinx"]["config"]["html_css_files"]
    assert "white-space: pre-wrap" in css and "overflow-wrap: anywhere" in css
    assert re.search(r"table td\s*\{[^}]*overflow-wrap", css), "table cells must wrap"


def test_no_remote_assets_in_html(book: Path) -> None:
    from papseg_utils.book.render import remote_assets

    assert remote_assets(book) == []


def test_notebook_pages_open_their_source_notebook_in_colab(book: Path) -> None:
    """Every rendered notebook page links to notebooks/<stem>.ipynb on Colab (see _config.yml)."""
    from test_colab import colab_url, launch_links

    pages = sorted((book / "build" / "executed").glob("[0-9][0-9]_*.html"))
    assert pages, "no notebook pages in the book"
    for page in pages:
        assert launch_links(page) == [colab_url(page.stem)], page.name
        assert (REPO_ROOT / "notebooks" / f"{page.stem}.ipynb").is_file()
