"""Colours have one source of truth: one colour per class name, and no other colour near a class.

Every figure takes class colours from :mod:`papseg_utils.labels`, and the colours
that are not classes (pixel outcomes, compared settings) from there too; none
of them equals, or is within ``MIN_COLOUR_DISTANCE`` (CIELAB) of, a class colour.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from skimage.color import rgb2lab

from papseg_utils.labels import (
    CONDITION_COLOURS,
    IGNORE_COLOUR,
    MIN_COLOUR_DISTANCE,
    OUTCOME_COLOURS,
    SCHEMES,
    condition_colours,
    outcome_colour,
)
from papseg_utils.models import plots
from papseg_utils.viz import augment as vaug
from papseg_utils.viz import boundaries
from papseg_utils.viz.evaluation import plot_empty_policy
from papseg_utils.viz.samples import plot_scheme_swatches

CLASS_COLOURS = {c for s in SCHEMES.values() for c in s.colours}
NON_CLASS = {f"outcome {k}": v for k, v in OUTCOME_COLOURS.items()} | {
    f"condition {i}": c for i, c in enumerate(CONDITION_COLOURS)
}


def _lab(rgb) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, float)[None, None] / 255.0)[0, 0]


def _distance(a, b) -> float:
    return float(np.linalg.norm(_lab(a) - _lab(b)))


def test_one_colour_means_one_class_name_in_every_scheme() -> None:
    names_of: dict[tuple, set[str]] = {}
    colour_of: dict[str, set[tuple]] = {}
    for scheme in SCHEMES.values():
        assert len(set(scheme.colours)) == scheme.num_classes, scheme.name
        for name, colour in zip(scheme.classes, scheme.colours, strict=True):
            names_of.setdefault(colour, set()).add(name)
            colour_of.setdefault(name, set()).add(colour)
    shared = {"#{:02x}{:02x}{:02x}".format(*c): n for c, n in names_of.items() if len(n) > 1}
    assert not shared, f"one colour, several classes: {shared}"
    assert all(len(c) == 1 for c in colour_of.values()), colour_of


@pytest.mark.parametrize("name", list(NON_CLASS))
def test_no_non_class_colour_equals_or_resembles_a_class_colour(name: str) -> None:
    colour = NON_CLASS[name]
    assert colour not in CLASS_COLOURS
    assert colour != IGNORE_COLOUR
    nearest = min(_distance(colour, c) for c in [*CLASS_COLOURS, IGNORE_COLOUR])
    assert nearest >= MIN_COLOUR_DISTANCE, f"{name} {colour}: Delta E {nearest:.1f}"


def test_the_distance_check_catches_a_near_copy() -> None:
    # matplotlib's "tab:blue" next to the nucleus blue (0, 114, 178): not equal, but too close
    tab_blue = tuple(round(255 * v) for v in to_rgba("tab:blue")[:3])
    assert tab_blue not in CLASS_COLOURS
    assert _distance(tab_blue, (0, 114, 178)) < MIN_COLOUR_DISTANCE


def test_helpers_return_the_registered_colours() -> None:
    assert outcome_colour("extra") == (1.0, 0.0, 1.0)
    assert list(condition_colours(["a", "b"]).values()) == [
        tuple(v / 255 for v in c) for c in CONDITION_COLOURS[:2]
    ]
    with pytest.raises(KeyError, match="valid"):
        outcome_colour("both")
    with pytest.raises(ValueError, match="condition colours"):
        condition_colours(range(len(CONDITION_COLOURS) + 1))


def _rgb(c) -> tuple[float, float, float] | None:
    r, g, b, a = to_rgba(c)
    if a == 0 or (abs(r - g) < 1e-3 and abs(g - b) < 1e-3):
        return None  # transparent, or a neutral gray/black/white
    return (round(r, 3), round(g, 3), round(b, 3))


def _drawn_colours(fig) -> set:
    """Every non-neutral colour of the figure's lines, patches, collections and legends."""
    found = set()
    for artist in fig.findobj():
        getters = []
        if isinstance(artist, matplotlib.lines.Line2D):
            getters = [artist.get_color]
        elif isinstance(artist, matplotlib.patches.Patch):
            getters = [artist.get_facecolor, artist.get_edgecolor]
        elif isinstance(artist, matplotlib.collections.Collection):
            getters = [artist.get_facecolors, artist.get_edgecolors]
        for get in getters:
            values = get()
            for v in np.atleast_2d(values) if not isinstance(values, str) else [values]:
                if len(v) and _rgb(v) is not None:
                    found.add(_rgb(v))
    return found


def _allowed(colours) -> set:
    return {_rgb(np.array(c) / 255) for c in colours} - {None}


NON_CLASS_RGB = _allowed(NON_CLASS.values())
PAPER_RGB = _allowed(SCHEMES["paper"].colours)
CLASS_RGB = _allowed(CLASS_COLOURS)


def _crops():
    image = np.zeros((64, 64, 3), np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:30, 10:30] = 1
    return vaug.show_field_crops(image, mask, "paper", [(0, 0)], [(0, 0), (0, 32)], 32, 32)


@pytest.mark.parametrize(
    ("draw", "allowed"),
    [
        (plots.plot_architectures, NON_CLASS_RGB),
        (boundaries.plot_dice_vs_hd95, NON_CLASS_RGB),
        (lambda: plot_empty_policy(None), NON_CLASS_RGB),
        (_crops, NON_CLASS_RGB | PAPER_RGB),
        (plot_scheme_swatches, CLASS_RGB),
    ],
    ids=["architectures", "dice_vs_hd95", "empty_policy", "crops", "swatches"],
)
def test_figures_draw_only_registered_colours(draw, allowed) -> None:
    fig = draw()
    try:
        stray = _drawn_colours(fig) - allowed
        assert not stray, f"colours not from papseg_utils.labels: {sorted(stray)}"
    finally:
        plt.close(fig)


def test_error_map_pixels_are_class_or_outcome_colours() -> None:
    truth = np.zeros((20, 20), np.uint8)
    truth[2:10, 2:10] = 1
    pred = np.roll(truth, 3, axis=1)
    image = np.full((20, 20, 3), 200, np.uint8)
    fig = boundaries.plot_error_maps(image, truth, pred, "herlev3")
    rgb = np.round(255 * np.asarray(fig.axes[0].images[0].get_array())).astype(int)
    drawn = {tuple(v) for v in rgb.reshape(-1, 3)}
    cytoplasm = SCHEMES["herlev3"].colours[1]
    assert {cytoplasm, OUTCOME_COLOURS["extra"], OUTCOME_COLOURS["missed"]} <= drawn
    plt.close(fig)
