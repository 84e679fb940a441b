"""A study's tables (:func:`aggregate`): ``runs.csv``, ``per_image.csv.gz`` and ``results.csv``.

``results.csv`` holds, per run x class x metric, the per-image mean with a bootstrap 95 %
interval over images (``aggregation == "image-mean"``) and the dataset-level micro
average (``aggregation == "micro"``); the run's parameters are joined in as columns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("papseg_utils.book.study")


def aggregate(
    out_dir: Path, run_ids: Sequence[str] | None = None, n_boot: int = 2000
) -> pd.DataFrame:
    """Collect every run's status and metrics into ``runs.csv``, ``per_image.csv.gz``, ``results.csv``.

    ``run_ids``: only these runs (default: every ``runs/*/status.json`` under ``out_dir``).
    ``n_boot``: bootstrap resamples of each interval (seed 0). Returns the ``runs.csv``
    table (one row per run: ``run_id``, ``param.*``, ``status``, ``error``, ``wall_s``);
    without any finished run's ``metrics.csv`` only ``runs.csv`` is written.
    """
    records = _run_records(out_dir, run_ids)
    runs = pd.DataFrame(records)
    runs.to_csv(out_dir / "runs.csv", index=False)
    per_image = _per_image_table(out_dir, records)
    if per_image is None:
        log.warning("no finished run has a metrics.csv yet")
        return runs
    per_image.to_csv(out_dir / "per_image.csv.gz", index=False)
    results = pd.DataFrame(_image_mean_rows(per_image, n_boot) + _micro_rows(per_image))
    params = runs.set_index("run_id")[[c for c in runs.columns if c.startswith("param.")]]
    params.columns = [c.removeprefix("param.") for c in params.columns]
    results = results.join(params, on="run_id")
    results.to_csv(out_dir / "results.csv", index=False)
    return runs


def _run_records(out_dir: Path, run_ids: Sequence[str] | None) -> list[dict]:
    """The ``status.json`` records under ``out_dir/runs`` (sorted by folder), of ``run_ids`` only."""
    run_dirs = sorted((out_dir / "runs").glob("*/status.json"))
    records = [json.loads(p.read_text()) for p in run_dirs]
    if run_ids is not None:
        records = [r for r in records if r["run_id"] in set(run_ids)]
    return records


def _per_image_table(out_dir: Path, records: list[dict]) -> pd.DataFrame | None:
    """The finished runs' ``metrics.csv`` tables, a ``run_id`` column first; None when none."""
    tables = []
    for rec in records:
        if rec.get("status") != "done":
            continue
        files = sorted((out_dir / "runs" / rec["run_id"]).glob("**/metrics.csv"))
        if not files:
            continue
        table = pd.read_csv(files[0]).fillna({"empty_case": "none"})
        table.insert(0, "run_id", rec["run_id"])
        tables.append(table)
    if not tables:
        return None
    return pd.concat(tables, ignore_index=True)


def _image_mean_rows(per_image: pd.DataFrame, n_boot: int) -> list[dict]:
    """Per run x class x metric: the mean over images, its bootstrap 95 % interval, counts."""
    from papseg_utils.metrics.catalog import metric_names
    from papseg_utils.metrics.stats import bootstrap_mean_ci

    rows = []
    body = per_image[~per_image["metric"].isin(metric_names("count"))]
    for (run_id, cls, metric), grp in body.groupby(["run_id", "class", "metric"], sort=False):
        values = grp["value"].to_numpy(dtype=float)
        mean, low, high = bootstrap_mean_ci(values, n_boot=n_boot, seed=0)
        cases = grp["empty_case"].fillna("").value_counts()
        rows.append(
            {
                "run_id": run_id,
                "class": cls,
                "metric": metric,
                "aggregation": "image-mean",
                "value": mean,
                "ci_low": low,
                "ci_high": high,
                "unit": grp["unit"].iloc[0],
                "n_images": int((~np.isnan(values)).sum()),
                "n_both_empty": int(cases.get("both_empty", 0)),
                "n_pred_empty": int(cases.get("pred_empty", 0)),
                "n_truth_empty": int(cases.get("truth_empty", 0)),
            }
        )
    return rows


def _micro_rows(per_image: pd.DataFrame) -> list[dict]:
    """Per run x class x metric: the dataset-level micro average (no interval)."""
    from papseg_utils.metrics.per_image import average

    rows = []
    for run_id, table in per_image.groupby("run_id", sort=False):
        micro = average(table.drop(columns="run_id"), "micro")
        micro = micro[micro["class"] != "macro"]
        for rec in micro.to_dict("records"):
            rows.append(
                {
                    "run_id": run_id,
                    "class": rec["class"],
                    "metric": rec["metric"],
                    "aggregation": "micro",
                    "value": rec["value"],
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "unit": rec["unit"],
                    "n_images": int(rec["n"]),
                }
            )
    return rows
