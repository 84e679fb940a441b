"""Which member scores which image: one model, an ensemble, or the folds of a CV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from papseg_utils.evaluate.members import Member, ScoringError

SPLIT_PARTS: tuple[str, ...] = ("train", "val", "test", "all")


def assign_images(
    members: Sequence[Member], names: Sequence[str], split: str = "test"
) -> dict[str, list[int]]:
    """Which members score which image: ``{image name: [member indices]}`` (in ``names`` order).

    ``split`` is ``"all"``, a part name (``"train"``, ``"val"``, ``"test"``,
    read from each member's ``split.json``) or the path of a split JSON (its
    ``test`` part, for every member). See the module docstring for the rules.
    """
    from papseg_utils.data.splits import load_split

    everyone = list(range(len(members)))
    if split == "all":
        return {n: everyone for n in names}
    if split not in SPLIT_PARTS:
        path = Path(split)
        if not path.is_file():
            raise ScoringError(
                f"--split {split!r}: neither one of {list(SPLIT_PARTS)} nor an existing split file"
            )
        try:
            wanted = load_split(path)["test"]
        except (ValueError, KeyError) as err:
            raise ScoringError(f"--split: {err}") from None
        return _present({n: everyone for n in wanted}, names, f"the test part of {path}")
    missing = [str(m.path.parent) for m in members if m.split is None]
    if missing:
        raise ScoringError(
            f"--split {split}: no split.json beside {', '.join(missing)}. Scoring a new split "
            "could count training images as test images. Pass the run folder that training wrote, "
            "--split FILE with the split used in training, or --split all for data no model saw."
        )
    parts = [list(m.split[split]) for m in members]  # type: ignore[index]
    if not any(parts):
        raise ScoringError(f"--split {split}: the {split} part of every split.json is empty")
    if all(set(p) == set(parts[0]) for p in parts):
        return _present({n: everyone for n in parts[0]}, names, f"the {split} part of split.json")
    owners: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        for n in part:
            owners.setdefault(n, []).append(i)
    shared = [n for n, who in owners.items() if len(who) > 1]
    if shared:
        raise ScoringError(
            f"the checkpoints' {split} parts differ but overlap ({len(shared)} images in several, "
            f"e.g. {shared[0]!r}): some model would be scored on images it trained on. Score them "
            "one at a time, or pass checkpoints of one run (ensemble) or of disjoint folds (CV)."
        )
    return _present(owners, names, f"the {split} parts of the folds' split.json")


def _present(wanted: dict[str, list[int]], names: Sequence[str], what: str) -> dict[str, list[int]]:
    have = set(names)
    absent = [n for n in wanted if n not in have]
    if absent:
        raise ScoringError(
            f"{len(absent)} of {len(wanted)} images in {what} are not in the dataset "
            f"(e.g. {absent[0]!r}); is --data-dir the folder the models were trained on?"
        )
    return {n: wanted[n] for n in names if n in wanted}


def assignment_mode(assignment: dict[str, list[int]], n_members: int) -> str:
    if n_members == 1:
        return "single model"
    sizes = {len(v) for v in assignment.values()}
    return (
        "cross-validation (each image by the fold that did not train on it)"
        if sizes == {1}
        else "ensemble"
    )
