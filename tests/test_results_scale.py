"""Scale bins and paired per-group comparisons of two recipes (results.scale)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papseg_utils.results.scale import (
    MODE_LABELS,
    SCALE_BINS,
    compare_by,
    image_groups,
    letterbox_factor,
    plot_scale_robustness,
    scale_bin,
)
from papseg_utils.viz.scale import nucleus_diameter_um


def test_bins_cover_every_factor_once():
    assert letterbox_factor(448) == 0.5 and scale_bin(0.5) == "<= 0.5"
    assert scale_bin(0.51) == "0.5-0.8" and scale_bin(2.0) == "1.25-2" and scale_bin(9) == "> 2"
    assert [b[0] for b in SCALE_BINS][0] == "<= 0.5"
    with pytest.raises(ValueError):
        scale_bin(0)
    g = image_groups([{"name": "a/1", "group": "a", "width": 100, "height": 448}])
    assert g.loc["a/1", "scale_bin"] == "<= 0.5" and g.loc["a/1", "long_side"] == 448


def _table(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"image": k, "class": "nucleus", "metric": "dice", "value": v,
                          "scheme": "herlev3"} for k, v in values.items()])  # fmt: skip


def test_compare_by_pairs_images_within_groups():
    a = _table({"x": 0.5, "y": 0.7, "z": 0.9, "w": np.nan})
    b = _table({"x": 0.6, "y": 0.9, "z": 0.9, "w": 0.3})
    groups = pd.Series({"x": "small", "y": "small", "z": "large", "w": "large"})
    df = compare_by({"lb": a, "st": b}, groups, keys=[("herlev3", "nucleus", "dice")],
                    n_boot=200, order=["small", "large"])  # fmt: skip
    small, large = df.iloc[0], df.iloc[1]
    assert small.group == "small" and small.images == 2
    assert small["diff"] == pytest.approx(0.15) and small.lb == pytest.approx(0.6)
    assert small.ci_low <= small["diff"] <= small.ci_high
    assert large.images == 1 and large["diff"] == 0 and np.isnan(large.ci_low)  # w: NaN dropped
    with pytest.raises(ValueError, match="two tables"):
        compare_by({"a": a}, groups)


def test_scale_plot_has_one_line_per_mode():
    rows = [{"mode": m, "class": c, "factor": f, "dice": 0.9, "ci_low": 0.88, "ci_high": 0.92}
            for m in ("given", "letterbox") for c in ("nucleus", "cytoplasm")
            for f in (0.5, 1.0, 2.0)]  # fmt: skip
    fig = plot_scale_robustness(pd.DataFrame(rows))
    assert len(fig.axes) == 2 and len(fig.legends) == 1  # one legend under both panels
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        MODE_LABELS[m] for m in ("given", "letterbox")
    ]


def test_scale_plot_stacks_recipes_with_one_style_each():
    rows = [{"recipe": r, "mode": m, "class": c, "factor": f, "dice": d, "ci_low": d - 0.02,
             "ci_high": d + 0.02}
            for r, d in (("0.134 um/px", 0.93), ("0.201 um/px", 0.90)) for m in ("given", "auto")
            for c in ("nucleus", "cytoplasm") for f in (0.5, 1.0, 2.0)]  # fmt: skip
    fig = plot_scale_robustness(pd.DataFrame(rows))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [f"{r}, {MODE_LABELS[m]}" for r in ("0.134 um/px", "0.201 um/px")
                      for m in ("given", "auto")]  # fmt: skip
    lines = [c[0] for c in fig.axes[0].containers]  # errorbar containers, in drawing order
    assert [ln.get_linestyle() for ln in lines] == ["-", "-", "--", "--"]
    band = fig.axes[0].patches[0].get_extents()  # the +-0.01 band around the first line at 1x
    y0, y1 = fig.axes[0].transData.inverted().transform([[0, band.y0], [0, band.y1]])[:, 1]
    assert (y0, y1) == pytest.approx((0.92, 0.94), abs=1e-6)


def test_nucleus_diameter():
    m = np.zeros((50, 50), np.uint8)
    m[10:20, 10:20] = 2  # 100 px at 0.5 um/px: 25 um^2
    assert nucleus_diameter_um(m, 2, 0.5) == pytest.approx(2 * np.sqrt(25 / np.pi))


def test_compact_reads_a_to_b_with_the_interval():
    from papseg_utils.results.scale import compact

    a = _table({"x": 0.5, "y": 0.7})
    b = _table({"x": 0.6, "y": 0.9})
    df = compare_by({"letterbox": a, "scale_true": b}, pd.Series({"x": "g", "y": "g"}),
                    keys=[("herlev3", "nucleus", "dice")], n_boot=100)  # fmt: skip
    out = compact(df)
    assert out.loc["g", "images"] == 2
    assert out.loc["g", "nucleus dice"].startswith("0.600 -> 0.750 (+0.150 [")


def test_each_key_keeps_its_own_image_count():
    """The paper's cells are scored on fewer images than herlev3: one count per row, not one."""
    from papseg_utils.results.scale import compact, compact_by_key

    a = pd.concat([_table({"x": 0.5, "y": 0.7, "z": 0.9}),
                   _table({"x": 0.2}).assign(scheme="paper_cells", **{"class": "healthy"})])  # fmt: skip
    b = pd.concat([_table({"x": 0.6, "y": 0.9, "z": 0.9}),
                   _table({"x": 0.4}).assign(scheme="paper_cells", **{"class": "healthy"})])  # fmt: skip
    keys = [("herlev3", "nucleus", "dice"), ("paper_cells", "healthy", "dice")]
    df = compare_by({"letterbox": a, "scale_true": b}, pd.Series("all", index=["x", "y", "z"]),
                    keys=keys, n_boot=100)  # fmt: skip
    rows = compact_by_key(df)
    assert rows.loc["nucleus dice", "images"] == 3
    assert rows.loc["healthy (paper_cells) dice", "images"] == 1
    assert rows.loc["healthy (paper_cells) dice", "letterbox -> scale_true"].startswith(
        "0.200 -> 0.400 (+0.200 [+nan, +nan])"
    )
    with pytest.raises(ValueError, match="different numbers of images"):
        compact(df)
    assert list(compact(df, columns=["nucleus dice"]).columns) == ["images", "nucleus dice"]
