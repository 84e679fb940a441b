"""Plots; every class colour comes from :mod:`papseg_utils.labels`."""

from papseg_utils.viz.samples import (
    add_class_legend,
    overlay,
    plot_contours,
    plot_side_by_side,
    show_samples,
)

__all__ = ["add_class_legend", "overlay", "plot_contours", "plot_side_by_side", "show_samples"]
