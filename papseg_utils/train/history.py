"""Training history: one tidy row per epoch, saved as CSV and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class History:
    """What :func:`papseg_utils.train.fit` returns.

    Attributes
    ----------
    rows : list of dict
        One per epoch: ``epoch`` (1-based), ``step`` (optimiser steps so far),
        ``train_loss``, ``val_loss``, ``val_dice_<class>`` per class,
        ``val_mean_dice`` (mean over foreground classes), ``lr_<group>`` per
        parameter group, ``encoder_frozen``, ``epoch_time_s``. Epochs without
        validation have NaN validation columns.
    best_epoch, best_score : int | None, float | None
        Epoch with the highest ``val_mean_dice`` and that value.
    stop_reason : str
        ``"completed"``, ``"early_stopping"`` or ``"callback"``.
    output_dir : str | None
        Folder with ``history.csv``, ``history.json`` and the checkpoints.
    """

    rows: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    stop_reason: str = "completed"
    output_dir: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame indexed 0..n-1."""
        return pd.DataFrame(self.rows)

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}

    def to_dict(self) -> dict:
        return {
            "rows": [{k: _clean(v) for k, v in r.items()} for r in self.rows],
            "best_epoch": self.best_epoch,
            "best_score": _clean(self.best_score),
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, data: dict, output_dir: str | None = None) -> History:
        rows = [
            {k: (math.nan if v is None and k.startswith("val") else v) for k, v in r.items()}
            for r in data["rows"]
        ]
        return cls(
            rows,
            data.get("best_epoch"),
            data.get("best_score"),
            data.get("stop_reason", "completed"),
            output_dir,
        )

    def save(self, output_dir: str | Path) -> None:
        """Write ``history.csv`` (tidy, one row per epoch) and ``history.json``."""
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.to_frame().to_csv(out / "history.csv", index=False)
        (out / "history.json").write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, output_dir: str | Path) -> History:
        """Read ``history.json`` from a run folder."""
        path = Path(output_dir) / "history.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; is {output_dir} the output_dir of a fit() run?"
            )
        return cls.from_dict(json.loads(path.read_text()), str(output_dir))


def _clean(v):
    """NaN/inf -> None so the JSON is standard."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
