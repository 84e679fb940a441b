"""The healthy/unhealthy image head: truth from the groups, accuracy, and its sentence."""

from __future__ import annotations

import pandas as pd


def health_truth(groups: pd.Series) -> pd.Series:
    """Each image's true health, from its group: True unhealthy, False healthy, NA unknown.

    A group is a diagnostic label when it is a Herlev class (the three normal
    classes healthy, the four dysplasia / carcinoma classes unhealthy) or, in a
    folder dataset's ``groups.csv``, ``healthy`` / ``unhealthy`` (also ``normal`` /
    ``abnormal``). Anything else (a folder without ``groups.csv`` puts every image
    in ``all``) says nothing about health, and is NA, never "healthy".
    """
    from papseg_utils.data.herlev import HEALTHY_CLASSES, UNHEALTHY_CLASSES

    healthy = {*HEALTHY_CLASSES, "healthy", "normal"}
    unhealthy = {*UNHEALTHY_CLASSES, "unhealthy", "abnormal"}
    key = groups.astype(str).str.lower()
    return key.map(lambda g: True if g in unhealthy else False if g in healthy else pd.NA)


def image_accuracy(labels: pd.DataFrame) -> dict[str, float] | None:
    """Accuracy, sensitivity and specificity of the health head (unhealthy = positive).

    Computed on the images whose group is a diagnostic label (:func:`health_truth`);
    ``None`` when no image has one. ``n`` is the number of labelled images and
    ``unlabelled`` the number left out.
    """
    truth_all = health_truth(labels["group"])
    known = truth_all.notna()
    if not known.any():
        return None
    truth = truth_all[known].astype(bool)
    called = labels.loc[known, "predicted"] == "unhealthy"
    return {
        "n": int(known.sum()),
        "unlabelled": int((~known).sum()),
        "accuracy": float((truth == called).mean()),
        "sensitivity": float(called[truth].mean()) if truth.any() else float("nan"),
        "specificity": float((~called[~truth]).mean()) if (~truth).any() else float("nan"),
    }


def head_line(acc: dict | None, n_images: int) -> str:
    """The summary's sentence on the health head: its accuracy, or why there is none."""
    if acc is None:
        return (
            f"Image head (healthy / unhealthy): none of the {n_images} images has a diagnostic "
            "label (a Herlev class, or healthy / unhealthy in groups.csv), so no accuracy is "
            "computed; the predicted labels are in image_labels.csv."
        )
    left = (
        f" ({acc['unlabelled']} images without a diagnostic label left out)"
        if acc["unlabelled"]
        else ""
    )
    return (
        f"Image head (healthy / unhealthy), {acc['n']} images{left}: accuracy "
        f"{acc['accuracy']:.3f}, sensitivity {acc['sensitivity']:.3f}, specificity "
        f"{acc['specificity']:.3f}"
    )
