"""The architecture study at true scale: every arm beside the scale-true U-Net, one table.

Reads what ``benchmarks/architecture_pairs.py`` and ``benchmarks/architecture_costs.py`` write
into one folder (``results/architectures``):

* ``arms.csv`` - one row per arm (the reference U-Net first, as ``unet``): its folder,
  architecture, encoder, pre-training, seed, family, folds, images and image-head accuracy;
* ``summary.csv`` - per arm, per-image means with bootstrap 95 % intervals (the reference on
  each arm's images as ``unet on <arm>'s images``);
* ``paired.csv`` - per arm, arm minus U-Net on the same images
  (:func:`papseg_utils.results.paired_gains`);
* ``costs.csv`` - parameters, MACs and CPU times (optional: the board leaves them blank).

:func:`architecture_board` joins them into the leaderboard of the results chapter and the
README (``scripts/readme_tables.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from papseg_utils.metrics.catalog import check_columns

from .scorings import format_difference, format_interval

ARM_COLUMNS = ("arm", "folder", "architecture", "encoder", "pretrained", "seed", "family",
               "folds", "images", "split_sha256", "accuracy", "sensitivity", "specificity")  # fmt: skip
#: (taxonomy, class, metric, column name) of the board, in its order.
BOARD_KEYS = (
    ("herlev3", "nucleus", "dice", "nucleus Dice"),
    ("herlev3", "cytoplasm", "dice", "cytoplasm Dice"),
    ("herlev3", "nucleus", "hd95", "nucleus HD95 (px)"),
    ("paper_cells", "healthy", "dice", "healthy cell Dice"),
    ("paper_cells", "unhealthy", "dice", "unhealthy cell Dice"),
)
FAMILY_ORDER = ("cnn", "hybrid", "transformer")
#: How the tables name each pre-training (``pretrained`` of the train arguments).
START_NAMES = {"imagenet": "ImageNet", "none": "scratch", "distilled": "distilled",
               "distilled-cytology": "distilled on cytology"}  # fmt: skip


@dataclass(frozen=True)
class ArchitectureStudy:
    """The tables of one architecture-study folder (module docstring); ``costs`` may be None."""

    arms: pd.DataFrame
    summary: pd.DataFrame
    paired: pd.DataFrame
    costs: pd.DataFrame | None
    folder: Path


def load_architecture_study(folder: str | Path) -> ArchitectureStudy:
    """Read ``arms.csv``, ``summary.csv``, ``paired.csv`` and (if present) ``costs.csv``.

    ``FileNotFoundError`` names the missing file and the benchmark that writes it;
    ``ValueError`` names a file that lacks a column.
    """
    from papseg_utils.book.profiles import project_file

    folder = project_file(folder)
    tables = read_tables(folder, {"arms": "architecture_pairs", "summary": "architecture_pairs",
                                  "paired": "architecture_pairs", "costs": "architecture_costs"},
                         optional=("costs",))  # fmt: skip
    check_columns(tables["arms"], ARM_COLUMNS, str(folder / "arms.csv"))
    return ArchitectureStudy(tables["arms"], tables["summary"], tables["paired"],
                             tables["costs"], folder)  # fmt: skip


def read_tables(folder: Path, writers: dict[str, str], optional=()) -> dict:
    """``{name: DataFrame}`` of ``folder/<name>.csv`` for each ``name`` of ``writers``.

    A missing file of ``optional`` gives None; any other raises ``FileNotFoundError`` naming the
    file and ``benchmarks/<writer>.py``, the benchmark that writes it.
    """
    tables = {}
    for name, writer in writers.items():
        f = folder / f"{name}.csv"
        if f.is_file():
            tables[name] = pd.read_csv(f)
        elif name in optional:
            tables[name] = None
        else:
            raise FileNotFoundError(f"{f}: not found; benchmarks/{writer}.py writes it")
    return tables


def arm_label(row) -> str:
    """``"unet (lite0, ImageNet)"``: the README's model names, for an ``arms.csv`` row.

    A seed other than 0 is named (``"unet (lite0, ImageNet), seed 1"``).
    """
    encoder = str(row["encoder"]).replace("tf_efficientnet_", "")
    text = f"{row['architecture']} ({encoder}, {START_NAMES.get(row['pretrained'], row['pretrained'])})"
    return text + (f", seed {int(row['seed'])}" if int(row["seed"]) else "")


def architecture_board(study: ArchitectureStudy) -> pd.DataFrame:
    """The leaderboard: one row per arm, grouped by family, best nucleus Dice first.

    Columns: ``model`` (:func:`arm_label`), ``family``, ``folds``, ``images``, one
    ``mean [low, high]`` column per :data:`BOARD_KEYS` (per-image means with bootstrap 95 %
    intervals on the arm's images), ``image head`` (accuracy, %), ``nucleus Dice vs U-Net``
    (the paired mean difference with its interval; blank for the reference), then, when
    ``costs.csv`` is there, ``params (M)``, ``GMACs``, ``s / epoch`` and ``ms / image``
    (one 256 x 256 forward pass on the CPU).
    """
    reference = study.arms.iloc[0]["arm"]
    rows = []
    for _, arm in study.arms.iterrows():
        name = arm["arm"]
        s = _arm_summary(study, name)
        model = arm_label(arm) + (", seed 0 (the reference)" if name == reference else "")
        row = {"model": model, "family": arm["family"], "folds": str(arm["folds"]),
               "images": int(arm["images"])}  # fmt: skip
        for key in BOARD_KEYS:
            digits = 1 if key[2] == "hd95" else 3
            row[key[3]] = format_interval(s.loc[key[:3]], digits) if key[:3] in s.index else ""
        row["image head"] = f"{100 * arm['accuracy']:.1f} %" if pd.notna(arm["accuracy"]) else ""
        p = study.paired[(study.paired.comparison == f"{name} - U-Net")
                         & (study.paired["class"] == "nucleus") & (study.paired.metric == "dice")]  # fmt: skip
        row["nucleus Dice vs U-Net"] = format_difference(p.iloc[0]) if len(p) else ""
        if study.costs is not None and name in set(study.costs.arm):
            c = study.costs.set_index("arm").loc[name]
            row |= {"params (M)": f"{c['params_M']:.1f}", "GMACs": f"{c.filter(like='gmacs').iloc[0]:.2f}",
                    "s / epoch": f"{c['epoch_s']:.0f}",
                    "ms / image": f"{c.filter(like='infer_ms').iloc[0]:.0f}"}  # fmt: skip
        row["_nucleus"] = s.loc[BOARD_KEYS[0][:3], "mean"] if BOARD_KEYS[0][:3] in s.index else 0
        rows.append(row)
    board = pd.DataFrame(rows)
    board["_family"] = board.family.map({f: i for i, f in enumerate(FAMILY_ORDER)})
    board = board.sort_values(["_family", "_nucleus"], ascending=[True, False], kind="stable")
    return board.drop(columns=["_family", "_nucleus"]).fillna("").reset_index(drop=True)


def _arm_summary(study: ArchitectureStudy, name: str) -> pd.DataFrame:
    """``summary.csv`` rows of arm ``name`` indexed by (taxonomy, class, metric); the reference
    arm (the first of ``arms.csv``) reads its rows on the other arms' images."""
    label = name
    if name == study.arms.iloc[0]["arm"]:
        label = next(a for a in study.summary.arm.unique() if a.startswith(f"{name} on "))
    return study.summary[study.summary.arm == label].set_index(["taxonomy", "class", "metric"])


def _best(study: ArchitectureStudy, names) -> tuple[str, pd.DataFrame]:
    """The arm of ``names`` with the highest nucleus Dice, and its summary rows."""
    scored = {n: _arm_summary(study, n) for n in names}
    best = max(scored, key=lambda n: scored[n].loc[BOARD_KEYS[0][:3], "mean"])
    return best, scored[best]


def paper_claims(study: ArchitectureStudy) -> pd.DataFrame:
    """ "What the paper claims / what we measured", computed from the study's tables.

    Three rows: the best architecture is a Transformer (SegFormer); a pretrained Transformer
    beats a pretrained CNN; Dice 0.95 for every class. ``measured`` states the numbers (per-image
    means with their bootstrap intervals, paired differences against the U-Net) and ``verdict``
    is ``"supported"``, ``"not supported"`` or ``"not tested"`` (a family with no arm).
    """
    label = {r["arm"]: arm_label(r) for _, r in study.arms.iterrows()}
    arms = study.arms
    best, rows = _best(study, arms.arm)
    family = arms.set_index("arm").loc[best, "family"]
    cnns = arms[arms.family == "cnn"].arm
    cnn, cnn_rows = _best(study, cnns) if len(cnns) else (None, None)
    pre = arms[(arms.family == "transformer") & (arms.pretrained != "none")].arm
    out = [{"claim": "the best architecture is a Transformer (SegFormer)",
            "measured": f"highest nucleus Dice: {label[best]} ({family}), "
                        f"{format_interval(rows.loc[BOARD_KEYS[0][:3]])}",
            "verdict": "supported" if family == "transformer" else "not supported"}]  # fmt: skip
    if len(pre) and cnn is not None:
        t, t_rows = _best(study, pre)
        gap = t_rows.loc[BOARD_KEYS[0][:3], "mean"] - cnn_rows.loc[BOARD_KEYS[0][:3], "mean"]
        p = study.paired[(study.paired.comparison == f"{t} - U-Net")
                         & (study.paired["class"] == "nucleus") & (study.paired.metric == "dice")]  # fmt: skip
        paired = f"; paired against the U-Net {format_difference(p.iloc[0])}" if len(p) else ""
        out.append({"claim": "a pretrained Transformer beats a pretrained CNN",
                    "measured": f"best pretrained Transformer {label[t]} minus best CNN "
                                f"{label[cnn]}: nucleus Dice {gap:+.3f}{paired}",
                    "verdict": "supported" if gap > 0 and len(p) and p.iloc[0]["low"] > 0
                    else "not supported"})  # fmt: skip
    else:
        out.append({"claim": "a pretrained Transformer beats a pretrained CNN",
                    "measured": "no pretrained Transformer arm", "verdict": "not tested"})  # fmt: skip
    dice = [k for k in BOARD_KEYS if k[2] == "dice"]
    values = ", ".join(f"{k[1]} {rows.loc[k[:3], 'mean']:.3f}" for k in dice if k[:3] in rows.index)
    every = all(k[:3] in rows.index and rows.loc[k[:3], "mean"] >= 0.95 for k in dice)
    out.append({"claim": "Dice 0.95 for every class", "measured": f"{label[best]}: {values}",
                "verdict": "supported" if every else "not supported"})  # fmt: skip
    return pd.DataFrame(out)


#: The Transformer starts of the study, compared image by image: (comparison, A, B) of
#: :func:`start_gains`, each ``B - A`` on the same images (natural = the shipped encoder distilled
#: on sample photographs; cytology = distilled on unlabelled Herlev training images).
START_PAIRS = (
    ("SegFormer-b0: natural - scratch", "segformer-scratch", "segformer-distilled"),
    ("SegFormer-b0: cytology - scratch", "segformer-scratch", "segformer-cytology"),
    ("SegFormer-b0: cytology - natural", "segformer-distilled", "segformer-cytology"),
    ("PVTv2-b0: natural - scratch", "pvt-scratch", "pvt-distilled"),
)


def start_gains(study: ArchitectureStudy, pairs=START_PAIRS, seed: int = 0) -> pd.DataFrame:
    """The distilled starts against each other and against scratch, image by image.

    ``pairs`` are ``(comparison, A, B)`` arm names; a pair with an arm that the study's
    ``arms.csv`` lacks is left out. Reads each arm's ``per_image.csv(.gz)`` from its folder in the
    study and returns :func:`papseg_utils.results.paired_gains` of every ``B - A``, one row per
    comparison and key (Holm over all of them).
    """
    from .scorings import load_scoring, paired_gains

    have = set(study.arms.arm)
    pairs = [p for p in pairs if {p[1], p[2]} <= have]
    if not pairs:
        raise ValueError(f"{study.folder}: none of the start pairs' arms is in arms.csv")
    arms = sorted({a for p in pairs for a in p[1:]})
    per_image = {arm: load_scoring(study.folder / arm).per_image for arm in arms}
    return paired_gains(per_image, pairs, seed=seed)


def missed_nuclei(study: ArchitectureStudy, arms, threshold: float = 0.1) -> pd.DataFrame:
    """Images whose nucleus an arm all but missed (``herlev3`` nucleus Dice below ``threshold``).

    One row per arm of ``arms`` (in that order, labelled by :func:`arm_label`): ``images``
    scored, ``missed`` (count), ``median`` nucleus Dice, the ``mean without missed`` images and
    ``missed in``: the diagnostic classes (the image name's folder) of the missed images with their
    counts, most first. Shows whether a mean is pulled down by a few failures or by every image.
    """
    from .arm_folders import read_per_image

    label = {r["arm"]: arm_label(r) for _, r in study.arms.iterrows()}
    rows = []
    for arm in arms:
        t = read_per_image(study.folder / arm)
        dice = t[(t.scheme == "herlev3") & (t["class"] == "nucleus") & (t.metric == "dice")]
        low = dice[dice.value < threshold]
        rows.append({"model": label.get(arm, arm), "images": len(dice), "missed": len(low),
                     "median": dice.value.median(),
                     "mean without missed": dice.value[dice.value >= threshold].mean(),
                     "missed in": ", ".join(f"{g} {n}" for g, n in
                                            low.image.str.split("/").str[0].value_counts().items())})  # fmt: skip
    return pd.DataFrame(rows).set_index("model")
