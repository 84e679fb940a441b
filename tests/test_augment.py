"""Augmentation policies: masks stay valid integer labels under every transform."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from papseg_utils import augment as au
from papseg_utils.labels import IGNORE_INDEX

TRANSFORMS = au.medical_transforms("medical") + [
    (f"strong:{n}", t) for n, t in au.medical_transforms("strong")
]
ADDS_IGNORE = {"CoarseDropout", "strong:CoarseDropout"}
IMAGE_ONLY = {
    "PapStainJitter",
    "HueSaturationValue",
    "CLAHE",
    "RandomGamma",
    "RandomBrightnessContrast",
    "GaussianBlur",
    "DiskDefocus",
    "MotionBlur",
    "GaussNoise",
}


@st.composite
def image_and_mask(draw):
    h = draw(st.integers(24, 72))
    w = draw(st.integers(24, 72))
    labels = draw(st.lists(st.sampled_from([0, 1, 2, 3, 4, IGNORE_INDEX]), min_size=1, max_size=6))
    # blocky masks (like cells) from a coarse grid, upsampled
    coarse = draw(arrays(np.uint8, (6, 6), elements=st.sampled_from(labels)))
    mask = np.kron(coarse, np.ones((h // 6 + 1, w // 6 + 1), np.uint8))[:h, :w]
    seed = draw(st.integers(0, 2**16))
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return image, np.ascontiguousarray(mask), seed


def _check(out_image, out_mask, mask, allow_ignore):
    assert out_mask.dtype == np.uint8
    assert out_image.dtype == np.uint8
    assert out_mask.shape == out_image.shape[:2]
    allowed = set(np.unique(mask).tolist()) | ({IGNORE_INDEX} if allow_ignore else set())
    assert set(np.unique(out_mask).tolist()) <= allowed


@pytest.mark.parametrize("name,transform", TRANSFORMS, ids=[n for n, _ in TRANSFORMS])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=image_and_mask())
def test_each_transform_keeps_labels(name, transform, data):
    image, mask, seed = data
    transform.set_random_seed(seed)
    out = transform(image=image, mask=mask)
    _check(out["image"], out["mask"], mask, allow_ignore=name in ADDS_IGNORE)
    # 90-degree rotations transpose non-square inputs
    assert out["mask"].shape in (mask.shape, mask.shape[::-1])
    if name.split(":")[-1] in IMAGE_ONLY:
        np.testing.assert_array_equal(out["mask"], mask)


@pytest.mark.parametrize("policy", au.POLICIES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=image_and_mask())
def test_each_policy_keeps_labels(policy, data):
    image, mask, seed = data
    out = au.get_policy(policy, seed=seed)(image=image, mask=mask)
    _check(out["image"], out["mask"], mask, allow_ignore=policy in ("medical", "strong"))
    assert out["mask"].shape in (mask.shape, mask.shape[::-1])


@pytest.mark.parametrize("policy", au.POLICIES)
def test_image_size_gives_square_output_with_ignored_padding(policy):
    image = np.full((40, 70, 3), 200, np.uint8)
    mask = np.ones((40, 70), np.uint8)
    out = au.get_policy(policy, image_size=64, seed=0)(image=image, mask=mask)
    assert out["image"].shape == (64, 64, 3) and out["mask"].shape == (64, 64)
    if policy == "none":  # centre pad of 12 rows top and bottom, centre crop of 3 columns
        assert (out["mask"][:12] == IGNORE_INDEX).all() and (
            out["mask"][-12:] == IGNORE_INDEX
        ).all()
        assert (out["mask"][12:52] == 1).all()


def test_two_labels_never_blend_into_a_third():
    # linear interpolation of 1 and 3 would create 2; nearest never does
    mask = np.ones((64, 64), np.uint8)
    mask[:, 32:] = 3
    image = np.zeros((64, 64, 3), np.uint8)
    for seed in range(10):
        out = au.get_policy("strong", seed=seed)(image=image, mask=mask)
        assert 2 not in np.unique(out["mask"])


@pytest.mark.parametrize("policy", ["basic", "medical", "strong"])
def test_same_seed_same_draws_different_seed_different(policy):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    mask = rng.integers(0, 5, (48, 48), dtype=np.uint8)

    def run(seed):
        p = au.get_policy(policy, seed=seed)
        return [p(image=image, mask=mask) for _ in range(4)]

    a, b, c = run(7), run(7), run(8)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x["image"], y["image"])
        np.testing.assert_array_equal(x["mask"], y["mask"])
    assert any(not np.array_equal(x["image"], y["image"]) for x, y in zip(a, c, strict=True))


def _dropout(dropout_mask):
    return dict(au.medical_transforms("medical", dropout_mask=dropout_mask))["CoarseDropout"]


def test_coarse_dropout_holes_are_ignored_in_the_mask():
    image = np.full((64, 64, 3), 200, np.uint8)
    mask = np.full((64, 64), 2, np.uint8)
    t = _dropout("ignore")
    t.set_random_seed(1)
    out = t(image=image, mask=mask)
    holes = (out["image"] == 0).all(axis=2)
    assert holes.any()
    np.testing.assert_array_equal(out["mask"] == IGNORE_INDEX, holes)
    t = _dropout("keep")
    t.set_random_seed(1)
    np.testing.assert_array_equal(t(image=image, mask=mask)["mask"], mask)


def test_pap_stain_jitter_scales_hematoxylin_optical_density():
    h = au.PAP_STAIN_VECTORS[0] / np.linalg.norm(au.PAP_STAIN_VECTORS[0])
    od = 0.8 * h  # a pure hematoxylin pixel
    pixel = np.round(256 * np.exp(-od) - 1).astype(np.uint8)
    image = np.tile(pixel, (4, 4, 1))
    t = au.PapStainJitter(p=1.0)
    out = t.apply(image, alpha=np.array([1.25, 1.0, 1.0]), beta=np.zeros(3))
    od_in = -np.log((image[0, 0].astype(float) + 1) / 256)
    od_out = -np.log((out[0, 0].astype(float) + 1) / 256)
    np.testing.assert_allclose(od_out, 1.25 * od_in, atol=0.02)
    same = t.apply(image, alpha=np.ones(3), beta=np.zeros(3))
    assert np.abs(same.astype(int) - image).max() <= 1
    white = np.full((2, 2, 3), 255, np.uint8)
    assert (t.apply(white, alpha=np.array([0.7, 1.3, 1.2]), beta=np.zeros(3)) >= 254).all()


def test_pap_stain_jitter_rejects_bad_vectors():
    with pytest.raises(ValueError, match="linearly dependent"):
        au.PapStainJitter(stain_vectors=[[1, 0, 0], [1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="shape"):
        au.PapStainJitter(stain_vectors=[[1, 0, 0]])


def test_unknown_policy_lists_valid_names():
    with pytest.raises(ValueError, match="valid policies"):
        au.get_policy("heavy")


def test_describe_policy_probabilities():
    df = au.describe_policy("medical")
    assert list(df.columns) == ["transform", "group", "probability", "parameters", "why"]
    names = set(df["transform"])
    for n, _ in au.medical_transforms("medical"):
        assert n in names
    assert (df["why"] != "").all()
    blur = df[df["group"].str.contains("GaussianBlur")]
    assert blur["probability"].sum() == pytest.approx(0.3, abs=0.002)
    dropout = df.set_index("transform").loc["CoarseDropout"]
    assert "fill_mask=255" in dropout["parameters"]
    assert au.describe_policy("none").empty


def test_worker_init_fn_reseeds_each_worker(monkeypatch):
    import torch.utils.data

    from papseg_utils.train.seeding import worker_init_fn

    class DS:
        transform = au.get_policy("medical", seed=0)

    ds = DS()
    monkeypatch.setattr(
        torch.utils.data, "get_worker_info", lambda: type("I", (), {"dataset": ds, "seed": 12345})()
    )
    worker_init_fn(0)
    assert ds.transform.seed == 12345


def test_disk_defocus_kernel_and_blur():
    k = au.DiskDefocus.kernel(3)
    assert k.shape == (7, 7) and k.sum() == pytest.approx(1.0)
    assert k[3, 3] > 0 and k[0, 0] < k[3, 0]  # a disk: corners weaker than edge centres
    image = np.zeros((21, 21, 3), np.uint8)
    image[10, 10] = 255
    out = au.DiskDefocus(radius=(2, 2), p=1.0).apply(image, radius=2)
    np.testing.assert_allclose(out[8:13, 8:13, 0] / 255, au.DiskDefocus.kernel(2), atol=0.01)
    with pytest.raises(ValueError, match="radius"):
        au.DiskDefocus(radius=(0, 2))


def test_viz_helpers_draw_contours_ignore_and_legend():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from papseg_utils.viz import augment as vaug

    image = np.full((40, 40, 3), 220, np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 1
    mask[0:5, 0:5] = IGNORE_INDEX
    fig = vaug.show_transforms(image, mask, "paper", au.medical_transforms()[:3], ncols=2)
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 4 and [ax.get_title() for ax in axes[:2]] == ["original", "SquareSymmetry"]
    assert len(axes[0].images) == 2  # image + gray ignore layer
    assert len(axes[0].lines) == 1  # one healthy contour
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["healthy", "unhealthy", "rubbish", "both", "ignored"]
    fig2 = vaug.show_policy(image, mask, "paper", au.get_policy("basic", seed=0), n=3)
    assert sum(ax.axison for ax in fig2.axes) == 4
    fig3 = vaug.show_field_crops(image, mask, "paper", [(0, 0), (5, 5)], [(0, 0)], 16, 16)
    assert len(fig3.axes[0].patches) == 2 and fig3.axes[0].get_xlabel() == "x (px)"
    plt.close("all")


def test_hue_shift_panels_name_the_policy_that_allows_them():
    """Chapter 3's hue figure labels each shift with the mildest policy that may draw it."""
    from papseg_utils.viz import augment as vaug

    limits = vaug.policy_hue_limits()
    hsv = {s: dict(au.medical_transforms(s))["HueSaturationValue"] for s in ("medical", "strong")}
    assert limits == {s: float(max(t.hue_shift_limit)) for s, t in hsv.items()}
    assert limits["medical"] < limits["strong"] < 20
    labels = [vaug.hue_shift_label(s, limits) for s in (4, -4, 8, 20, 120)]
    assert labels == [
        "hue +4 (medical)",
        "hue -4 (medical)",
        "hue +8 (strong)",
        "hue +20 (never)",
        "hue +120 (never)",
    ]
