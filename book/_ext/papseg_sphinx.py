"""Small Sphinx fixes for the papseg book (loaded from _config.yml: sphinx.local_extensions).

- Drop duplicate inline scripts. With jupyter-book 1.0.4 and sphinx-thebe 0.3.1
  the thebe configuration script (``const THEBE_JS_URL = ...``) is added to every
  page twice, and the browser reports "Identifier 'THEBE_JS_URL' has already
  been declared". Keeping the first copy of each identical script fixes it.
- Point the launch buttons (Open in Colab) at the source notebooks. The book renders
  the papermill-executed copies in ``build/executed/``, which are not in the
  repository, so sphinx-book-theme's links would name ``build/executed/NN_x.ipynb``;
  they are rewritten to ``notebooks/NN_x.ipynb`` (:data:`EXECUTED_TO_SOURCE`).
"""

from __future__ import annotations

from typing import Any


def _dedupe_scripts(
    app, pagename: str, templatename: str, context: dict[str, Any], doctree
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        body = str(getattr(script, "attributes", {}).get("body", ""))
        # Inline scripts compare by their body (one copy has filename None, the other "").
        key = ("body", body) if body else ("file", str(getattr(script, "filename", script)))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


EXECUTED_TO_SOURCE = ("build/executed/", "notebooks/")
"""(prefix of the rendered page, folder of its source notebook in the repository)."""


def source_notebook_url(url: str) -> str:
    """A launch URL with the executed copy's path replaced by the source notebook's."""
    executed, source = EXECUTED_TO_SOURCE
    return url.replace(f"/{executed}", f"/{source}", 1)


def _launch_to_sources(
    app, pagename: str, templatename: str, context: dict[str, Any], doctree
) -> None:
    if not pagename.startswith(EXECUTED_TO_SOURCE[0]):
        return
    for group in context.get("header_buttons") or []:
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("type") == "link" and button.get("url"):
                button["url"] = source_notebook_url(button["url"])


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    # after sphinx-book-theme's add_launch_buttons (501), before the header is rendered
    app.connect("html-page-context", _launch_to_sources, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
