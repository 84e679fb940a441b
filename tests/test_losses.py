"""Known-answer tests for papseg_utils.train.losses."""

import math

import pytest
import torch
import torch.nn.functional as F

from papseg_utils.labels import IGNORE_INDEX
from papseg_utils.train.losses import LOSSES, get_loss

C = 3


def _data(seed=0, n=2, h=8, w=8):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, C, h, w, generator=g)
    masks = torch.randint(0, C, (n, h, w), generator=g)
    return logits, masks


def _perfect_logits(masks, scale=50.0):
    return F.one_hot(masks, C).permute(0, 3, 1, 2).float() * scale


@pytest.mark.parametrize("name", LOSSES)
def test_gradients_finite_and_scalar(name):
    logits, masks = _data()
    masks[0, :2] = IGNORE_INDEX
    logits.requires_grad_(True)
    loss = get_loss(name, C, class_weights=[0.5, 1.0, 2.0])(logits, masks)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0
    # ignored pixels get no gradient
    assert logits.grad[0, :, :2].abs().max() == 0


@pytest.mark.parametrize("name", LOSSES)
def test_perfect_prediction_near_zero(name):
    _, masks = _data()
    loss = get_loss(name, C)(_perfect_logits(masks), masks)
    assert float(loss) < 1e-3


@pytest.mark.parametrize("name", LOSSES)
def test_wrong_prediction_is_large(name):
    _, masks = _data()
    wrong = _perfect_logits((masks + 1) % C)
    loss = float(get_loss(name, C)(wrong, masks))
    perfect = float(get_loss(name, C)(_perfect_logits(masks), masks))
    assert loss > perfect + 0.5


@pytest.mark.parametrize("name", LOSSES)
def test_ignored_pixels_do_not_change_loss(name):
    """Changing logits on ignored pixels (even to garbage) leaves the loss unchanged."""
    logits, masks = _data(1)
    masks[:, :3, :] = IGNORE_INDEX
    loss_fn = get_loss(name, C)
    a = loss_fn(logits, masks)
    logits2 = logits.clone()
    logits2[:, :, :3, :] = torch.randn_like(logits2[:, :, :3, :]) * 100
    b = loss_fn(logits2, masks)
    assert torch.allclose(a, b, atol=1e-6)
    # ... and equals the loss on the valid part alone
    c = loss_fn(logits[:, :, 3:, :], masks[:, 3:, :])
    assert torch.allclose(a, c, atol=1e-6)


def test_dice_ignore_excluded_from_denominator():
    """A perfect prediction on valid pixels gives Dice loss ~0 whatever the ignored pixels predict."""
    _, masks = _data(2)
    logits = _perfect_logits(masks)
    masks = masks.clone()
    masks[:, ::2] = IGNORE_INDEX
    logits[:, :, ::2] = _perfect_logits(
        torch.zeros_like(masks[:, ::2])
    )  # predicts background there
    assert float(get_loss("dice", C, smooth=0.0)(logits, masks)) < 1e-4


def test_dice_known_value():
    """Uniform probabilities 1/3 on a mask of one class: Dice_c known in closed form."""
    masks = torch.zeros(1, 4, 4, dtype=torch.long)  # all background, 16 px
    logits = torch.zeros(1, C, 4, 4)
    # class 0: inter = 16/3, denom = 16/3 + 16; classes 1, 2: inter 0, denom 16/3
    s = 1.0
    d0 = (2 * 16 / 3 + s) / (16 / 3 + 16 + s)
    d12 = s / (16 / 3 + s)
    expected = 1 - (d0 + 2 * d12) / 3
    assert math.isclose(float(get_loss("dice", C, smooth=s)(logits, masks)), expected, rel_tol=1e-5)


def test_class_weights_change_ce_as_expected():
    logits, masks = _data(3)
    w = torch.tensor([0.2, 1.0, 3.0])
    got = get_loss("ce", C, class_weights=w.tolist())(logits, masks)
    per_pixel = F.cross_entropy(logits, masks, reduction="none")
    wt = w[masks]
    assert torch.allclose(got, (per_pixel * wt).sum() / wt.sum(), atol=1e-6)
    unweighted = get_loss("ce", C)(logits, masks)
    assert not torch.allclose(got, unweighted)
    # a zero weight removes the class entirely
    only12 = get_loss("ce", C, class_weights=[0.0, 1.0, 1.0])(logits, masks)
    keep = masks != 0
    assert torch.allclose(only12, per_pixel[keep].mean(), atol=1e-6)


def test_focal_gamma0_equals_weighted_ce():
    logits, masks = _data(4)
    masks[0, 0] = IGNORE_INDEX
    w = [0.5, 2.0, 1.0]
    ce = get_loss("ce", C, class_weights=w)(logits, masks)
    focal = get_loss("focal", C, class_weights=w, gamma=0.0)(logits, masks)
    assert torch.allclose(ce, focal, atol=1e-6)
    assert float(get_loss("focal", C, gamma=2.0)(logits, masks)) < float(
        get_loss("ce", C)(logits, masks)
    )


def test_dice_ce_is_sum():
    logits, masks = _data(5)
    total = get_loss("dice_ce", C)(logits, masks)
    assert torch.allclose(
        total, get_loss("ce", C)(logits, masks) + get_loss("dice", C)(logits, masks)
    )


def test_lovasz_matches_iou_on_hard_predictions():
    """On one-hot probabilities the Lovasz extension equals 1 - IoU, averaged over present classes."""
    _, masks = _data(6)
    preds = masks.clone()
    preds[:, :4] = (preds[:, :4] + 1) % C
    loss = float(get_loss("lovasz", C)(_perfect_logits(preds, scale=1e4), masks))
    ious = []
    for c in range(C):
        inter = ((preds == c) & (masks == c)).sum().item()
        union = ((preds == c) | (masks == c)).sum().item()
        ious.append(inter / union)
    assert math.isclose(loss, 1 - sum(ious) / C, rel_tol=1e-4)


@pytest.mark.parametrize("name", LOSSES)
def test_all_ignored_gives_zero_not_nan(name):
    logits, masks = _data(7)
    masks[:] = IGNORE_INDEX
    loss = get_loss(name, C)(logits.requires_grad_(True), masks)
    assert torch.isfinite(loss)
    loss.backward()


def test_bad_inputs_give_clear_errors():
    logits, masks = _data()
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("hinge", C)
    with pytest.raises(ValueError, match="class_weights has 2"):
        get_loss("ce", C, class_weights=[1, 2])
    bad = masks.clone()
    bad[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r"labels \[7\]"):
        get_loss("dice", C)(logits, bad)
    with pytest.raises(ValueError, match="upsample"):
        get_loss("ce", C)(logits[..., :4, :4], masks)
    with pytest.raises(ValueError, match="3 classes"):
        get_loss("ce", C)(torch.randn(2, 5, 8, 8), masks)
