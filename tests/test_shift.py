"""Tests for gapkit.shift: λ-shift closed forms, no leakage, orthogonal-shift invariances."""

from __future__ import annotations

import numpy as np
import pytest

import gapkit
from gapkit._validation import l2_normalize
from gapkit.geometry import centroid_gap, gap_vector
from gapkit.shift import LambdaShift, MeanCentering, NotFittedError, OrthogonalShift


def cone_pairs(n=400, d=32, seed=0, shared=0.5):
    """Two cones (image, text) with a modality gap and a shared pair signal."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    mu_v, mu_t = rng.normal(size=d), rng.normal(size=d)
    img = 3 * mu_v / np.linalg.norm(mu_v) + shared * z + 0.5 * rng.normal(size=(n, d))
    txt = 3 * mu_t / np.linalg.norm(mu_t) + shared * z + 0.5 * rng.normal(size=(n, d))
    return img, txt


def raw_gap(img, txt):
    """‖mean(img) − mean(txt)‖ without re-normalising rows."""
    return float(np.linalg.norm(img.mean(0) - txt.mean(0)))


@pytest.mark.parametrize("renormalize", [True, False])
def test_lambda_zero_is_identity(renormalize):
    img, txt = cone_pairs()
    vi, ti = LambdaShift(lam=0.0, renormalize=renormalize).fit_transform(img, txt)
    np.testing.assert_allclose(vi, l2_normalize(img, dtype=np.float64), atol=1e-14)
    np.testing.assert_allclose(ti, l2_normalize(txt, dtype=np.float64), atol=1e-14)


@pytest.mark.parametrize("lam", [-0.5, 0.0, 0.3, 0.5, 1.0, 1.7])
def test_gap_before_renormalisation_is_exactly_one_minus_lambda(lam):
    img, txt = cone_pairs()
    shift = LambdaShift(lam=lam, renormalize=False).fit(img, txt)
    vi, ti = shift.transform(img, txt)
    assert raw_gap(vi, ti) == pytest.approx(abs(1 - lam) * shift.gap_norm_, abs=1e-12)
    np.testing.assert_allclose(vi.mean(0) - ti.mean(0), (1 - lam) * shift.gap_, atol=1e-12)


def test_residual_gap_after_renormalisation_small_but_positive():
    img, txt = cone_pairs()
    shift = LambdaShift(lam=1.0).fit(img, txt)
    vi, ti = shift.transform(img, txt)
    np.testing.assert_allclose(np.linalg.norm(vi, axis=1), 1.0, atol=1e-12)
    residual = centroid_gap(vi, ti)
    print(f"\nλ=1 residual centroid gap: {residual:.4f} (was {shift.gap_norm_:.4f})")
    assert 0 < residual < 0.25 * shift.gap_norm_
    # the gap shrinks monotonically with λ on [0, 1] and grows for λ < 0
    gaps = [centroid_gap(*LambdaShift(lam=lam).fit_transform(img, txt)) for lam in (-0.5, 0, 0.25, 0.5, 0.75, 1)]
    assert np.all(np.diff(gaps) < 0)


def test_fit_sees_training_rows_only():
    img, txt = cone_pairs(n=300)
    tr, te = np.arange(200), np.arange(200, 300)
    shift = LambdaShift(lam=1.0).fit(img[tr], txt[tr])
    gap_before = shift.gap_.copy()
    np.testing.assert_allclose(gap_before, gap_vector(img[tr], txt[tr]))
    assert not np.allclose(gap_before, gap_vector(img, txt))
    img2 = img.copy()
    img2[te] = np.random.default_rng(5).normal(size=(100, img.shape[1]))   # alter the test rows
    LambdaShift(lam=1.0).fit(img2[tr], txt[tr])
    np.testing.assert_array_equal(LambdaShift(lam=1.0).fit(img2[tr], txt[tr]).gap_, gap_before)
    shift.transform(img2[te], txt[te])   # transform learns nothing
    np.testing.assert_array_equal(shift.gap_, gap_before)


def test_unpaired_transforms_match_paired():
    img, txt = cone_pairs(n=50)
    shift = LambdaShift(lam=0.7).fit(img, txt)
    vi, ti = shift.transform(img, txt)
    np.testing.assert_array_equal(shift.transform_image(img), vi)
    np.testing.assert_array_equal(shift.transform_text(txt[:3]), ti[:3])   # e.g. a handful of class prompts
    assert shift.transform_text(txt[:1]).shape == (1, img.shape[1])


def test_dtype_preserved_and_top_level_export():
    img, txt = cone_pairs(n=40)
    vi, ti = gapkit.LambdaShift(0.5).fit(img, txt).transform(img.astype(np.float32), txt.astype(np.float32))
    assert vi.dtype == np.float32 and ti.dtype == np.float32
    assert gapkit.MeanCentering is MeanCentering and gapkit.OrthogonalShift is OrthogonalShift


@pytest.mark.parametrize("est", [LambdaShift(), MeanCentering(), OrthogonalShift()])
def test_transform_before_fit_raises(est):
    img, txt = cone_pairs(n=10)
    with pytest.raises(NotFittedError, match="not fitted"):
        est.transform(img, txt)
    assert issubclass(NotFittedError, ValueError)


def test_bad_inputs_raise():
    img, txt = cone_pairs(n=20)
    with pytest.raises(ValueError, match="different numbers of rows"):
        LambdaShift().fit(img, txt[:-1])
    bad = img.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LambdaShift().fit(bad, txt)
    shift = LambdaShift().fit(img, txt)
    with pytest.raises(ValueError, match="dimensions"):
        shift.transform_text(txt[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        shift.transform(bad, txt)


def test_mean_centering_moves_both_centroids_to_origin():
    img, txt = cone_pairs()
    vi, ti = MeanCentering(renormalize=False).fit_transform(img, txt)
    np.testing.assert_allclose(vi.mean(0), 0, atol=1e-14)
    np.testing.assert_allclose(ti.mean(0), 0, atol=1e-14)
    vr, tr = MeanCentering().fit_transform(img, txt)
    np.testing.assert_allclose(np.linalg.norm(vr, axis=1), 1.0, atol=1e-12)
    assert centroid_gap(vr, tr) < 0.2 * centroid_gap(img, txt)


def low_rank_text_pairs(n=200, d=40, k=12, seed=1):
    """Text rows in a k-dim subspace; images have an extra component outside it (a global offset)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0]
    inside, outside = basis[:, :k], basis[:, k:]
    z = rng.normal(size=(n, k))
    txt = z @ inside.T + 2 * inside[:, 0]
    img = (z + 0.3 * rng.normal(size=(n, k))) @ inside.T + 3 * outside[:, 0] + 0.2 * rng.normal(size=(n, d - k)) @ outside.T
    return img, txt


def test_orthogonal_shift_keeps_inner_products_and_rankings():
    img, txt = low_rank_text_pairs()
    t_unit = l2_normalize(txt, dtype=np.float64)
    raw = OrthogonalShift(lam=1.0, renormalize=False).fit(img, txt)
    assert raw.rank_ == 12
    assert raw.gap_perp_norm_ > 0.5                        # most of the gap is orthogonal to the text span
    np.testing.assert_allclose(t_unit @ raw.gap_perp_, 0, atol=1e-12)
    vi, ti = raw.transform(img, txt)
    np.testing.assert_array_equal(ti, t_unit)             # the fixed modality does not move
    np.testing.assert_allclose(vi @ ti.T, l2_normalize(img, dtype=np.float64) @ t_unit.T, atol=1e-12)
    assert centroid_gap(vi, ti) < centroid_gap(img, txt)
    # with re-normalisation: each image's ranking of the texts is unchanged
    vn, tn = OrthogonalShift(lam=1.0).fit_transform(img, txt)
    before = np.argsort(l2_normalize(img, dtype=np.float64) @ t_unit.T, axis=1)
    after = np.argsort(vn @ tn.T, axis=1)
    np.testing.assert_array_equal(before, after)


def test_orthogonal_shift_moving_text_and_full_rank_case():
    img, txt = low_rank_text_pairs()
    # text moves, images fixed: images span the whole space -> nothing orthogonal to remove
    s = OrthogonalShift(moving="text").fit(img, txt)
    assert s.rank_ == img.shape[1] and s.gap_perp_norm_ < 1e-10
    vi, ti = s.transform(img, txt)
    np.testing.assert_allclose(ti, l2_normalize(txt, dtype=np.float64), atol=1e-10)
    # truncated span via energy keeps fewer directions and a larger Δ_⊥
    full = OrthogonalShift(moving="image").fit(img, txt)
    trunc = OrthogonalShift(moving="image", energy=0.9).fit(img, txt)
    assert trunc.rank_ < full.rank_ and trunc.gap_perp_norm_ >= full.gap_perp_norm_ - 1e-12
    with pytest.raises(ValueError, match="moving"):
        OrthogonalShift(moving="both").fit(img, txt)


def test_orthogonal_shift_float32_rank_ignores_rounding_noise():
    # texts spanning exactly 5 directions, computed in float32: rounding must not add directions
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(64, 5)))[0].T  # (5, 64) orthonormal rows
    text = (rng.normal(size=(400, 5)) @ basis).astype(np.float32)
    image = rng.normal(size=(400, 64)).astype(np.float32) + 2.0
    sh = OrthogonalShift(lam=1.0).fit(image, text)
    assert sh.rank_ == 5
    sh64 = OrthogonalShift(lam=1.0).fit(image.astype(np.float64), text.astype(np.float64))
    assert sh64.rank_ >= 5
