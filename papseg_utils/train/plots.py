"""Figures of a training run: learning curves and validation predictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.train.history import History


def plot_history(
    history: History | pd.DataFrame, scheme: str | LabelScheme, title: str | None = None
) -> Figure:
    """Three panels stacked top to bottom: train/val loss, validation Dice per class (class
    colours), learning rates. Stacked, 6.8 in wide, with text of 9 pt or more, the figure is
    legible at the page width.

    Parameters
    ----------
    history : History or its DataFrame (columns as written by ``fit``).
    scheme : label scheme of the run (for class names and colours).
    """
    scheme = get_scheme(scheme)
    df = history.to_frame() if isinstance(history, History) else history
    if df.empty:
        raise ValueError("plot_history: the history has no epochs")
    fig, axes = plt.subplots(3, 1, figsize=(6.8, 8.4))  # stacked: legible at the page width
    ax = axes[0]
    ax.plot(df["epoch"], df["train_loss"], "o-", label="train", color="0.2")
    if df["val_loss"].notna().any():
        ax.plot(df["epoch"], df["val_loss"], "s--", label="validation", color="0.55")
    ax.set(title="Loss", xlabel="epoch", ylabel="loss")
    ax.legend(frameon=False)
    ax = axes[1]
    for c in range(1, scheme.num_classes):
        col = f"val_dice_{scheme.classes[c]}"
        if col in df and df[col].notna().any():
            colour = scheme.colour(c, 1.0)
            ax.plot(
                df["epoch"],
                df[col],
                "o-",
                color=colour,
                label=scheme.label(c),
                markeredgecolor="0.2",
                markeredgewidth=0.5,
            )
    if df["val_mean_dice"].notna().any():
        ax.plot(df["epoch"], df["val_mean_dice"], "k--", label="mean (foreground)")
    ax.set(title="Validation Dice per class", xlabel="epoch", ylabel="Dice", ylim=(0, 1.02))
    ax.legend(frameon=False, fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax = axes[2]
    # the no-decay groups share their part's learning rate: one curve per part
    for col in [c for c in df if c.startswith("lr_") and not c.endswith("_no_decay")]:
        ax.plot(df["step"], df[col], "o-", label=col[3:].replace("_", " "), markersize=3)
    frozen = df.get("encoder_frozen")
    if frozen is not None and frozen.any():
        last_frozen = df.loc[frozen.astype(bool), "step"].max()
        ax.axvspan(0, last_frozen, color="0.9", label="encoder frozen")
    ax.set(title="Learning rate", xlabel="optimiser step", ylabel="lr")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax.legend(frameon=False, fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for ax, x in zip(axes, (df["epoch"], df["epoch"], df["step"]), strict=True):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if x.nunique() < 3:  # too few points for integer ticks in the default view
            ax.set_xlim(x.min() - 1, x.max() + 1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_class_dice(
    pred: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor, scheme: str | LabelScheme
) -> dict[str, float]:
    """Dice of each foreground class on one image, ``{class name: Dice}``.

    ``pred`` and ``mask`` are (H, W) integer labels (``IGNORE_INDEX`` pixels
    of the mask are left out). NaN: the class is in neither mask, so it has no
    score. The mean of the other values is the mean foreground Dice of the
    training engine; a rare class with a few pixels can score 0 on its own.
    """
    from papseg_utils.metrics import confusion_matrix, dice_from_confusion

    scheme = get_scheme(scheme)
    cm = confusion_matrix(np.asarray(pred), np.asarray(mask), scheme.num_classes)
    dice = dice_from_confusion(cm)
    return {scheme.classes[c]: float(dice[c]) for c in range(1, scheme.num_classes)}


def _dice_text(dice: float | Mapping[str, float]) -> str:
    """``Dice 0.93`` for a number; two classes a line, then the mean, for a mapping."""
    if not isinstance(dice, Mapping):
        return f"Dice {dice:.2f}"
    parts = [f"{c} {'–' if np.isnan(v) else f'{v:.2f}'}" for c, v in dice.items()]
    lines = ["  ".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    scored = [v for v in dice.values() if not np.isnan(v)]
    mean = f"{np.mean(scored):.2f}" if scored else "–"
    return "\n".join([*lines, f"mean of the scored classes {mean}"])


def plot_predictions(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    preds: Sequence[np.ndarray],
    scheme: str | LabelScheme,
    names: Sequence[str] | None = None,
    dice: Sequence[float | Mapping[str, float]] | None = None,
    panel_size: float = 2.2,
) -> Figure:
    """Rows of image | ground truth | prediction, masks overlaid in class colours.

    With the default ``panel_size`` (inches) the figure fits the page (6.6 in
    plus the row titles) and its text is 9 pt or more.

    Parameters
    ----------
    images : (H, W, 3) uint8 each.
    masks, preds : (H, W) integer labels each (IGNORE_INDEX allowed in masks).
    names : row titles.
    dice : optional, per row: the mean foreground Dice (shown beside the row
        title), or :func:`per_class_dice`'s ``{class: Dice}`` (shown under the
        prediction, class by class with their mean; "–" for a class in
        neither mask), so that a low mean can be traced to the class behind it.
    """
    from papseg_utils.viz.samples import add_class_legend, overlay

    scheme = get_scheme(scheme)
    n = len(images)
    if n == 0 or len(masks) != n or len(preds) != n:
        raise ValueError(
            f"plot_predictions: need equally many images, masks, preds; got {n}, {len(masks)}, {len(preds)}"
        )
    per_class = dice is not None and isinstance(dice[0], Mapping)
    height = panel_size + (0.62 if per_class else 0.0)
    fig, axes = plt.subplots(n, 3, figsize=(3 * panel_size, n * height + 0.7), squeeze=False)
    for r in range(n):
        panels = (
            images[r],
            overlay(images[r], masks[r], scheme),
            overlay(images[r], preds[r], scheme),
        )
        for c, (ax, img) in enumerate(zip(axes[r], panels, strict=True)):
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(("image", "ground truth", "prediction")[c])
        label = names[r] if names is not None else f"#{r}"
        if dice is not None and per_class:
            axes[r, 2].set_xlabel(_dice_text(dice[r]), fontsize=9)
        elif dice is not None:
            label += f"\n{_dice_text(dice[r])}"
        axes[r, 0].set_ylabel(label, fontsize=9)
    if per_class:
        fig.suptitle("Dice per class under each prediction (–: class in neither mask)", fontsize=10)
    add_class_legend(fig, scheme, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
