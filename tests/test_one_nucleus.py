"""--one-nucleus: a one-cell crop keeps its most probable nucleus region only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from papseg_utils.labels import get_scheme
from papseg_utils.postprocess import keep_one_nucleus

BG, CYTO, NUC = 0, 1, 2


def _two_nuclei() -> np.ndarray:
    """(3, 12, 12) probabilities: a 3x3 nucleus (p 0.6) and a 2x2 one (p 0.95) in cytoplasm."""
    p = np.zeros((3, 12, 12))
    p[BG] = 0.7
    p[CYTO, 1:11, 1:11], p[BG, 1:11, 1:11] = 0.7, 0.2
    p[NUC, 2:5, 2:5], p[CYTO, 2:5, 2:5] = 0.6, 0.3  # mass 5.4: the larger by summed probability
    p[NUC, 8:10, 8:10] = 0.95  # mass 3.8, though each pixel is surer
    p[BG, 8:10, 8:10], p[CYTO, 8:10, 8:10] = 0.3, 0.1  # its next class there: background
    return p


def test_the_most_probable_region_stays_and_the_rest_take_their_next_class():
    p = _two_nuclei()
    plain = p.argmax(0)
    assert ndimage.label(plain == NUC)[1] == 2
    got = keep_one_nucleus(p, NUC)
    assert got.dtype == np.uint8 and got.shape == (12, 12)
    assert (got[2:5, 2:5] == NUC).all()
    assert (got[8:10, 8:10] == BG).all()  # the next class of those pixels, not a fixed one
    changed = got != plain
    assert changed.sum() == 4 and changed[8:10, 8:10].all()


def test_one_or_no_region_is_the_argmax():
    p = _two_nuclei()
    p[NUC, 8:10, 8:10] = 0.0
    np.testing.assert_array_equal(keep_one_nucleus(p, NUC), p.argmax(0))
    p[NUC] = 0.0
    np.testing.assert_array_equal(keep_one_nucleus(p, NUC), p.argmax(0))


def test_diagonal_pixels_are_one_region_with_8_neighbours_only():
    p = np.zeros((3, 4, 4))
    p[BG] = 0.5
    p[NUC, 1, 1] = p[NUC, 2, 2] = 0.9
    assert (keep_one_nucleus(p, NUC) == NUC).sum() == 2
    assert (keep_one_nucleus(p, NUC, connectivity=1) == NUC).sum() == 1


@pytest.mark.parametrize(("shape", "nucleus"), [((12, 12), NUC), ((3, 12, 12), 3), ((3, 4, 4), -1)])
def test_bad_shapes_and_ids_are_refused(shape, nucleus):
    with pytest.raises(ValueError, match="nucleus id"):
        keep_one_nucleus(np.zeros(shape), nucleus)


def test_evaluate_scores_the_kept_region(monkeypatch):
    import papseg_utils.evaluate.scores as scores

    p = _two_nuclei()
    monkeypatch.setattr(scores, "predict_with_config", lambda *a, **k: p)
    monkeypatch.setattr(scores, "image_probabilities", lambda *a, **k: None)
    member = SimpleNamespace(model=None, config={}, scheme=get_scheme("herlev3"))
    sample = SimpleNamespace(name="a", image=np.zeros((12, 12, 3), np.uint8), group="g")
    for one, regions in ((False, 2), (True, 1)):
        out = scores.predict_images([member], [sample], {"a": [0]}, one_nucleus=one)
        assert ndimage.label(out.preds["a"] == NUC)[1] == regions


def test_a_scheme_without_nucleus_is_refused():
    from papseg_utils.evaluate.cli import ScoringError, check_scheme

    member = SimpleNamespace(scheme=get_scheme("paper_cells"), path=Path("run/best"))
    args = SimpleNamespace(one_nucleus=True, dataset="herlev")
    with pytest.raises(ScoringError, match="--one-nucleus: run/best predicts 'paper_cells'"):
        check_scheme(args, [member])


def test_predict_writes_one_nucleus_region(tiny_checkpoint, tmp_path, monkeypatch):
    """The predict command's masks with --one-nucleus: at most one nucleus region each."""
    from PIL import Image

    import papseg_utils.inference as inference
    from papseg_utils.predict import main

    monkeypatch.setattr(inference, "predict_with_config", lambda *a, **k: _two_nuclei())
    inp = tmp_path / "in"
    inp.mkdir()
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(inp / "a.png")
    for flag, regions in (([], 2), (["--one-nucleus"], 1)):
        out = tmp_path / f"out{len(flag)}"
        assert (
            main([str(tiny_checkpoint), str(inp), "--out", str(out), "--device", "cpu", *flag]) == 0
        )
        mask = np.asarray(Image.open(out / "masks" / "a.png"))
        assert ndimage.label(mask == NUC)[1] == regions
