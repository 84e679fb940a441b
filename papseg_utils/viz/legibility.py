"""How large a figure's text is on the book's page, and whether its titles run into other panels.

The book shows each figure as a PNG saved at ``dpi`` with a tight bounding box,
scaled down to the page width when it is wider (about 700 px). A 10 pt label
of a 17-inch figure is then about 4 px: unreadable. These helpers measure a
figure the way the page shows it, so that tests can hold every figure of the
book to one standard.
"""

from __future__ import annotations

from dataclasses import dataclass
from unittest.mock import patch

from matplotlib.figure import Figure
from matplotlib.text import Text

PAGE_WIDTH_PX: int = 700
"""Width (px) at which the book's HTML theme shows a figure that is at least as wide."""

FIGURE_DPI: int = 100
"""Resolution of the inline PNGs (matplotlib's default ``figure.dpi``)."""

PAGE_WIDTH_IN: float = PAGE_WIDTH_PX / FIGURE_DPI
"""Widest figure (inches) that the page shows at full size."""

MIN_TEXT_PX: float = 12.0
"""Smallest font size (px, the em size) a figure may show: capitals about 9 px high."""


@dataclass(frozen=True)
class TextSize:
    """One visible text of a figure and its font size on the page (px)."""

    text: str
    px: float


def _renderer(fig: Figure):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts a draw of ``fig`` actually renders (not hidden ones, not ticks out of view)."""
    drawn: list[Text] = []
    original = Text.draw

    def draw(self, renderer):
        if self.get_visible() and self.get_text().strip() and self.figure is fig:
            drawn.append(self)
        return original(self, renderer)

    with patch.object(Text, "draw", draw):
        fig.canvas.draw()
    return list(dict.fromkeys(drawn))


def page_scale(fig: Figure, page_width_px: int = PAGE_WIDTH_PX, dpi: int = FIGURE_DPI) -> float:
    """Factor (<= 1) by which the page shrinks ``fig``'s tight PNG to fit ``page_width_px``."""
    width_px = fig.get_tightbbox(_renderer(fig)).width * dpi
    return min(1.0, page_width_px / width_px)


def text_sizes(
    fig: Figure, page_width_px: int = PAGE_WIDTH_PX, dpi: int = FIGURE_DPI
) -> list[TextSize]:
    """Font size on the page (px) of every text ``fig`` draws, smallest first.

    Titles, axis and tick labels, legend entries and free text all count.
    """
    scale = page_scale(fig, page_width_px, dpi)
    sizes = [
        TextSize(t.get_text(), t.get_fontsize() * dpi / 72.0 * scale) for t in _drawn_texts(fig)
    ]
    return sorted(sizes, key=lambda s: s.px)


def min_text_px(fig: Figure, page_width_px: int = PAGE_WIDTH_PX, dpi: int = FIGURE_DPI) -> float:
    """The smallest font size (px) of ``fig`` on the page; ``inf`` if it has no text."""
    sizes = text_sizes(fig, page_width_px, dpi)
    return sizes[0].px if sizes else float("inf")


def title_overlaps(fig: Figure) -> list[str]:
    """Axes titles and y-labels whose drawn box runs into another panel's data area.

    Returns one line per collision, e.g. ``"title 'hue +60' overlaps panel 2"``;
    empty when the layout is clean.
    """
    renderer = _renderer(fig)
    axes = [
        ax
        for ax in fig.axes
        if ax.get_visible() and (ax.axison or ax.images or ax.lines or ax.collections)
    ]
    hits = []
    for i, ax in enumerate(axes):
        texts = [("title", t) for t in (ax.title, ax._left_title, ax._right_title)]
        if ax.axison:
            texts.append(("y-label", ax.yaxis.label))
        for kind, t in texts:
            if not t.get_visible() or not t.get_text().strip():
                continue
            box = t.get_window_extent(renderer)
            for j, other in enumerate(axes):
                if j != i and box.overlaps(other.get_window_extent(renderer)):
                    hits.append(f"{kind} {t.get_text()!r} overlaps panel {j}")
                    break
    return hits
