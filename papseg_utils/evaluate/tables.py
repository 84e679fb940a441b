"""The per-image table, its summary, and the files the ``evaluate`` command writes.

The columns of both tables are declared once, in :mod:`papseg_utils.metrics.catalog`
(``SCORING_COLUMNS`` for ``per_image.csv``, ``SUMMARY_COLUMNS`` for ``summary.csv``); the
summarised metrics are the catalogue's ``in_summary`` ones (:func:`summary_metrics`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from papseg_utils.evaluate.folds import assignment_mode
from papseg_utils.evaluate.health import head_line, image_accuracy
from papseg_utils.evaluate.members import Member
from papseg_utils.evaluate.scores import Scores
from papseg_utils.labels import LabelScheme
from papseg_utils.metrics import average, bootstrap_ci
from papseg_utils.metrics.catalog import (
    SCORING_COLUMNS,
    SUMMARY_COLUMNS,
    headline_metrics,
    summary_metrics,
)

#: Kept as a name for :mod:`papseg_utils.evaluate` (``summary_metrics()`` in new code).
_SUMMARY: tuple[str, ...] = summary_metrics()


def summary(table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per class (and ``macro``) and metric: mean, bootstrap 95 % CI, median, micro value.

    ``table`` is a scoring's per-image table (:data:`SCORING_COLUMNS`: the tidy table of
    :func:`papseg_utils.metrics.score_images` with ``scheme``, ``fold`` and per-image
    ``macro`` rows). Returns :data:`SUMMARY_COLUMNS` (``scheme, class, metric, mean, low, high,
    median, micro, unit, n, n_nan``) for the catalogue's summary metrics; ``micro`` pools
    pixels over images (overlap metrics only; NaN otherwise).
    """
    body = table[table.metric.isin(summary_metrics())]
    ci = bootstrap_ci(body, n_boot=n_boot, seed=seed)
    med = body.groupby(["class", "metric"], sort=False)["value"].median().rename("median")
    ci = ci.join(med, on=["class", "metric"])
    raw = table[table["class"] != "macro"]
    micro = average(raw, "micro")
    micro["class"] = micro["class"].where(micro["class"] != "macro", "macro")
    micro = micro[micro.reduction.isin(["micro", "micro+macro"])].set_index(["class", "metric"])[
        "value"
    ]
    ci["micro"] = [
        micro.get((c, m), np.nan) for c, m in zip(ci["class"], ci["metric"], strict=True)
    ]
    ci.insert(0, "scheme", table["scheme"].iloc[0] if len(table) else "")
    return ci[list(SUMMARY_COLUMNS)]


def markdown(summaries: Sequence[pd.DataFrame], metrics: Sequence[str] = headline_metrics()) -> str:
    """A compact markdown table of :func:`summary` outputs: mean [low, high], median, micro."""
    lines = [
        "| taxonomy | class | metric | per-image mean [95 % CI] | median | micro |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        for r in s[s.metric.isin(metrics)].itertuples():
            micro = "" if np.isnan(r.micro) else f"{r.micro:.3f}"
            lines.append(
                f"| {r.scheme} | {r._2} | {r.metric} ({r.unit}) | {r.mean:.3f} [{r.low:.3f}, {r.high:.3f}] "
                f"| {r.median:.3f} | {micro} |"
            )
    return "\n".join(lines) + "\n"


def write_outputs(
    scores: Scores, out: Path, members: Sequence[Member], options: dict, n_boot: int = 2000
) -> dict:
    """Write the files listed in the module docstring to ``out``; return the summary dict."""
    from papseg_utils.train.checkpoint import sha256_file

    result = write_tables(scores.tables, scores.image_labels, out, options, n_boot=n_boot,
                          figure_scheme=members[0].scheme)  # fmt: skip
    result["n_images"] = len(scores.assignment)
    result["checkpoints"] = [
        {"path": _relative(m.path), "sha256": m.config.get("checkpoint_sha256")
         or sha256_file(m.path / "model.safetensors"), "epoch": m.config.get("epoch")}
        for m in members
    ]  # fmt: skip
    result["mode"] = assignment_mode(scores.assignment, len(members))
    (out / "scoring.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def write_tables(
    tables: dict[str, pd.DataFrame],
    image_labels: pd.DataFrame | None,
    out: Path,
    options: dict,
    n_boot: int = 2000,
    figure_scheme: LabelScheme | None = None,
) -> dict:
    """``per_image.csv``, ``summary.csv``/``.md``, ``image_labels.csv`` and ``summary.png`` of
    per-image ``tables`` (one :data:`SCORING_COLUMNS` table per scheme); the figure draws the
    first table in ``figure_scheme``'s names and colours (None: no figure). Returns
    ``{"options", "image_head"?}`` for ``scoring.json``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from papseg_utils.viz.evaluation import plot_metric_distributions

    out.mkdir(parents=True, exist_ok=True)
    seed = int(options.get("seed", 0))
    summaries = [summary(t, n_boot=n_boot, seed=seed) for t in tables.values()]
    per_image = pd.concat(tables.values(), ignore_index=True)[list(SCORING_COLUMNS)]
    per_image.to_csv(out / "per_image.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(out / "summary.csv", index=False)
    text = markdown(summaries)
    result: dict = {"options": options}
    if image_labels is not None:
        image_labels.to_csv(out / "image_labels.csv", index=False)
        if "p_unhealthy" in image_labels:
            acc = image_accuracy(image_labels)
            result["image_head"] = acc
            text += "\n" + head_line(acc, len(image_labels)) + "\n"
    (out / "summary.md").write_text(text, encoding="utf-8")
    if figure_scheme is not None:
        first = next(iter(tables.values()))
        fig = plot_metric_distributions(
            first[first["class"] != "macro"], figure_scheme, metrics=headline_metrics()
        )
        fig.savefig(out / "summary.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
    return result


def _relative(path: Path) -> str:
    """``path`` relative to the working folder when below it, else its last three parts."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(Path(*path.resolve().parts[-3:]))
