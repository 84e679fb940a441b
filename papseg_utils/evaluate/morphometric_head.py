"""A healthy/unhealthy call from the measured cell, cross-validated on the segmentation's folds.

The network's image head sees pixels; a cytologist reads measurements. Here a logistic
regression reads the measurements of :mod:`papseg_utils.metrics.morphometry` (nucleus area in
um^2, nucleus-to-cytoplasm ratio, nucleus roundness), optionally with the image head's
probability, and is trained and tested on the same folds as the segmentation: the images of
fold k are called by a classifier fitted on the other folds only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The measurements the classifier reads by default; areas enter as logarithms.
FEATURES: tuple[str, ...] = (
    "nucleus_area_um2",
    "cytoplasm_area_um2",
    "nc_ratio",
    "nucleus_roundness",
)
_LOG = ("nucleus_area_um2", "cytoplasm_area_um2")


def _design(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """(n, len(columns)) float64: the columns, areas as ``log1p``."""
    x = table[list(columns)].astype(float).copy()
    for c in columns:
        if c in _LOG:
            x[c] = np.log1p(x[c])
    return x.to_numpy()


def cross_validated_calls(
    table: pd.DataFrame,
    truth: pd.Series,
    folds: pd.Series,
    columns: Sequence[str] = FEATURES,
    seed: int = 0,
) -> pd.Series:
    """Out-of-fold P(unhealthy) per image from a logistic regression on ``columns``.

    Parameters
    ----------
    table : one row per image (index: image name) with the ``columns``.
    truth : bool per image, True = unhealthy; same index.
    folds : int per image, the fold whose model never saw it; same index.
    columns : the features; NaN (e.g. roundness without a nucleus) is replaced by the
        training folds' median.

    Returns
    -------
    pd.Series of float, P(unhealthy), index as ``table``.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = _design(table, columns)
    y = truth.loc[table.index].astype(bool).to_numpy()
    k = folds.loc[table.index].to_numpy()
    out = np.full(len(table), np.nan)
    for fold in np.unique(k):
        train, test = k != fold, k == fold
        if len(np.unique(y[train])) < 2:
            raise ValueError(f"fold {fold}: the other folds hold only one class; cannot fit")
        model = make_pipeline(
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(max_iter=1000, random_state=seed),
        )
        model.fit(x[train], y[train])
        out[test] = model.predict_proba(x[test])[:, 1]
    return pd.Series(out, index=table.index, name="p_unhealthy")
