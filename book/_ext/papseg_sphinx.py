"""Small Sphinx fixes for the papseg book (loaded from _config.yml: sphinx.local_extensions).

- Drop duplicate inline scripts. With jupyter-book 1.0.4 and sphinx-thebe 0.3.1
  the thebe configuration script (``const THEBE_JS_URL = ...``) is added to every
  page twice, and the browser reports "Identifier 'THEBE_JS_URL' has already
  been declared". Keeping the first copy of each identical script fixes it.
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


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
