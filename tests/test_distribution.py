"""What the centroid misses (gapkit.geometry._distribution, ModalityStandardization, gap_report's new rows).

Known answers: closed-form sets (a set and its translate, two covariances with one mean, k equal
directions), the exact Pythagorean decomposition, naive O(n²) or scipy references for every fast
formula, and the bootstrap replicates recomputed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

import gapkit
from gapkit.geometry import _distribution as D, _rows
from gapkit import geometry as g
from gapkit.shift import LambdaShift, MeanCentering, ModalityStandardization, NotFittedError, OrthogonalShift


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cone_pairs(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d)) + 3 * np.eye(d)[0]
    t = 0.5 * v + rng.normal(size=(n, d)) + 2 * np.eye(d)[1]
    return v, t


def sphere_translate(n=200, d=8, h=0.3, seed=0):
    """Two parallel small circles of the unit sphere: t_i = v_i − 2h·e_d, both sets on the sphere."""
    u = unit(np.random.default_rng(seed).normal(size=(n, d - 1)))
    r = math.sqrt(1 - h * h)
    v = np.hstack([r * u, np.full((n, 1), h)])
    t = np.hstack([r * u, np.full((n, 1), -h)])
    return v, t


def naive_centred_distances(v, t):
    a, b = unit(v), unit(t)
    return np.linalg.norm((a - a.mean(0)) - (b - b.mean(0)), axis=1)


# ------------------------------------------------------------------ the decomposition


def test_a_set_and_its_translate_on_the_sphere():
    """Rows at height +h and −h of the unit sphere are translates by 2h·e_d: no distribution gap."""
    h = 0.3
    v, t = sphere_translate(h=h)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-15)  # on the sphere already
    dec = g.gap_decomposition(v, t)
    assert dec.centroid == pytest.approx(2 * h, abs=1e-14)  # the length of the translation
    assert dec.raw == pytest.approx(2 * h, abs=1e-14)
    assert dec.distribution == pytest.approx(0.0, abs=1e-14)
    assert dec.centroid_share == pytest.approx(1.0, abs=1e-12)
    assert dec.relative_distribution == pytest.approx(0.0, abs=1e-14)
    assert dec.spread_image == pytest.approx(dec.spread_text, rel=1e-13)
    assert g.frechet_distance(v, t) == pytest.approx(0.0, abs=1e-12)  # same shape
    assert g.frechet_distance(v, t, center=False) == pytest.approx(4 * h * h, abs=1e-12)
    assert g.mmd(v, t, method="exact", sigma=0.5) == pytest.approx(0.0, abs=1e-12)


def test_a_set_and_its_translate_before_normalisation():
    """normalize=False measures rows as given: the translate by c has distribution gap 0 and centroid gap ‖c‖."""
    v, _ = cone_pairs()
    c = np.array([0.5, -1.0, 2.0, 0.0, 0.25, 3.0])
    dec = g.gap_decomposition(v, v - c, normalize=False)
    assert dec.centroid == pytest.approx(np.linalg.norm(c), rel=1e-13)
    assert dec.distribution == pytest.approx(0.0, abs=1e-12)
    # on the sphere the same rows are no translate: normalising changes each row differently
    assert g.distribution_gap(v, v - c) > 0.1


def test_two_covariances_with_one_mean():
    """Images ±e1, texts ±e2: both centroids at the origin, clouds of different shape."""
    n, d = 100, 4
    e = np.eye(d)
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    v, t = sign * e[0], sign * e[1]
    dec = g.gap_decomposition(v, t)
    assert dec.centroid == pytest.approx(0.0, abs=1e-15)
    assert dec.distribution == pytest.approx(math.sqrt(2), rel=1e-14)  # ‖±e1 ∓ e2‖² = 2 for every pair
    assert dec.raw == pytest.approx(math.sqrt(2), rel=1e-14)
    assert (dec.spread_image, dec.spread_text) == (pytest.approx(1.0), pytest.approx(1.0))
    assert dec.relative_distribution == pytest.approx(1.0, rel=1e-14)  # ±e1 and ±e2: uncorrelated pairs
    anti = g.gap_decomposition(v, -v)  # centred pairs opposite: the largest relative distribution gap
    assert anti.distribution == pytest.approx(2.0, rel=1e-14) and anti.relative_distribution == pytest.approx(2.0)
    # Σ_v = n/(n−1)·e1e1ᵀ, Σ_t = n/(n−1)·e2e2ᵀ: orthogonal supports, so the cross term is 0
    assert g.frechet_distance(v, t) == pytest.approx(2 * n / (n - 1), rel=1e-12)
    assert g.mmd(v, t, method="exact", sigma=1.0) > 0.1


def test_decomposition_is_pythagorean_and_matches_the_naive_formula():
    v, t = cone_pairs()
    dec = g.gap_decomposition(v, t)
    a, b = unit(v), unit(t)
    assert dec.raw**2 == pytest.approx(np.mean(np.sum((a - b) ** 2, axis=1)), rel=1e-13)
    assert dec.raw**2 == pytest.approx(dec.centroid**2 + dec.distribution**2, rel=1e-13)
    assert dec.centroid == pytest.approx(g.centroid_gap(v, t), rel=1e-13)
    assert dec.distribution == pytest.approx(np.sqrt(np.mean(naive_centred_distances(v, t) ** 2)), rel=1e-13)
    assert dec.raw**2 == pytest.approx(g.alignment(v, t), rel=1e-12)
    assert dec.n == len(v) and set(dec.to_dict()) == {"raw", "centroid", "distribution", "spread_image", "spread_text",
                                                      "centroid_share", "relative_distribution", "n"}
    assert dec.spread_image**2 == pytest.approx(1 - g.mean_resultant_length(v) ** 2, rel=1e-12)
    # shuffling the pairs makes the centred pairs uncorrelated: relative distribution gap near 1
    shuffled = g.gap_decomposition(v, t[np.random.default_rng(0).permutation(len(t))])
    assert shuffled.relative_distribution == pytest.approx(1.0, abs=0.15) and dec.relative_distribution < 0.8
    # scaling both centred clouds by one factor leaves the relative value unchanged
    c = 3.0 * (a - a.mean(0)) + 5.0, 3.0 * (b - b.mean(0)) - 1.0
    assert g.gap_decomposition(*c, normalize=False).relative_distribution == pytest.approx(
        dec.relative_distribution, rel=1e-12)


def test_translations_move_only_the_centroid_part():
    """λ-shift, mean centring and the orthogonal shift are translations before re-normalisation."""
    v, t = cone_pairs()
    base = g.gap_decomposition(v, t)  # normalised inputs
    for shift in (LambdaShift(0.5, renormalize=False), LambdaShift(1.0, renormalize=False),
                  MeanCentering(renormalize=False), OrthogonalShift(1.0, energy=0.9, renormalize=False)):
        sv, st = shift.fit(v, t).transform(v, t)
        moved = g.gap_decomposition(sv, st, normalize=False)
        assert moved.distribution == pytest.approx(base.distribution, rel=1e-12), shift
        assert moved.centroid < base.centroid - 1e-3, shift
    # λ = 1 without re-normalisation: the centroids meet, so raw gap = distribution gap
    sv, st = LambdaShift(1.0, renormalize=False).fit(v, t).transform(v, t)
    moved = g.gap_decomposition(sv, st, normalize=False)
    assert moved.centroid == pytest.approx(0.0, abs=1e-13)
    assert moved.raw == pytest.approx(base.distribution, rel=1e-12)


def test_chunked_passes_equal_one_block(monkeypatch):
    v, t = cone_pairs(n=257)
    ref = (g.gap_decomposition(v, t), g.frechet_distance(v, t), g.mmd(v, t, seed=3), g.mmd(v, t, method="exact"),
           g.conformity(v), g.conformity(v, t))
    monkeypatch.setattr(_rows, "_CHUNK_ELEMS", 40)  # blocks of a few rows
    out = (g.gap_decomposition(v, t), g.frechet_distance(v, t), g.mmd(v, t, seed=3), g.mmd(v, t, method="exact"),
           g.conformity(v), g.conformity(v, t))
    assert out[0].distribution == pytest.approx(ref[0].distribution, rel=1e-12)
    assert out[0].raw == pytest.approx(ref[0].raw, rel=1e-12)
    for a, b in zip(out[1:4], ref[1:4]):
        assert a == pytest.approx(b, rel=1e-9)
    for a, b in zip(out[4:], ref[4:]):
        np.testing.assert_allclose(a, b, atol=1e-14)


# ------------------------------------------------------------------ two-sample distances


def naive_frechet(a, b, center=True):
    ca, cb = np.cov(a.T), np.cov(b.T)
    value = float(np.trace(ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb)).real)
    return value if center else value + float(np.sum((a.mean(0) - b.mean(0)) ** 2))


@pytest.mark.parametrize("seed", [0, 1])
def test_frechet_matches_the_naive_sqrtm_formula(seed):
    v, t = cone_pairs(seed=seed)
    a, b = unit(v), unit(t)
    assert g.frechet_distance(v, t) == pytest.approx(naive_frechet(a, b), rel=1e-9)
    assert g.frechet_distance(v, t, center=False) == pytest.approx(naive_frechet(a, b, center=False), rel=1e-9)
    assert g.frechet_distance(v, t, center=False) == pytest.approx(
        g.centroid_gap(v, t) ** 2 + g.frechet_distance(v, t), rel=1e-12)
    # unpaired: different numbers of rows are fine, the pairing is never used
    assert g.frechet_distance(v[:200], t) == pytest.approx(naive_frechet(a[:200], b), rel=1e-9)
    perm = np.random.default_rng(0).permutation(len(t))
    assert g.frechet_distance(v, t[perm]) == pytest.approx(g.frechet_distance(v, t), rel=1e-10)
    assert g.distribution_gap(v, t[perm]) > g.distribution_gap(v, t)  # the paired number sees the shuffle


def test_frechet_of_singular_covariances_is_finite_and_symmetric():
    """n < d: both covariances are singular; the symmetric route still gives a real, symmetric number."""
    rng = np.random.default_rng(2)
    v, t = rng.normal(size=(10, 30)) + 2 * np.eye(30)[0], rng.normal(size=(12, 30))
    fd = g.frechet_distance(v, t)
    assert np.isfinite(fd) and fd > 0
    assert g.frechet_distance(t, v) == pytest.approx(fd, rel=1e-8)
    assert g.frechet_distance(v, v) == pytest.approx(0.0, abs=1e-10)


def naive_mmd(a, b, sigma, center=True):
    if center:
        a, b = a - a.mean(0), b - b.mean(0)

    def k(x, y):
        return np.exp(-np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1) / (2 * sigma**2))

    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def test_mmd_exact_matches_the_naive_n_by_n_formula():
    v, t = cone_pairs(n=120)
    a, b = unit(v), unit(t)
    for sigma in (0.2, 0.7):
        assert g.mmd(v, t, method="exact", sigma=sigma) == pytest.approx(naive_mmd(a, b, sigma), rel=1e-10)
        assert g.mmd(v, t, method="exact", sigma=sigma, center=False) == pytest.approx(
            naive_mmd(a, b, sigma, center=False), rel=1e-10)
    assert g.mmd(v[:50], t, method="exact", sigma=0.5) == pytest.approx(naive_mmd(a[:50], b, 0.5), rel=1e-10)


def test_mmd_random_features_approach_the_exact_value():
    """E_W[‖mean z(v) − mean z(t)‖²] is the V-statistic; its error falls like 1/sqrt(D)."""
    v, t = cone_pairs(n=200)
    sigma = 0.5
    exact = g.mmd(v, t, method="exact", sigma=sigma, center=False)
    errors = {}
    for D_ in (64, 16384):
        reps = np.array([g.mmd(v, t, sigma=sigma, center=False, n_features=D_, seed=s) for s in range(8)])
        errors[D_] = float(np.sqrt(np.mean((reps - exact) ** 2)))
    assert abs(np.mean([g.mmd(v, t, sigma=sigma, center=False, n_features=16384, seed=s) for s in range(8)]) - exact) \
        < 0.05 * exact
    assert errors[16384] < errors[64] / 5  # sqrt(16384 / 64) = 16 in expectation
    assert g.mmd(v, t, seed=5) == g.mmd(v, t, seed=5)  # seeded: reproducible


def test_mmd_median_heuristic():
    v, t = cone_pairs(n=100)  # 100 + 100 rows: below the subsample size, so the heuristic uses them all
    a, b = unit(v), unit(t)
    pool = np.vstack([a - a.mean(0), b - b.mean(0)])
    dists = np.sqrt(np.sum((pool[:, None] - pool[None]) ** 2, -1))[np.triu_indices(len(pool), 1)]
    sigma = float(np.median(dists))
    assert g.mmd(v, t, method="exact") == pytest.approx(g.mmd(v, t, method="exact", sigma=sigma), rel=1e-8)
    with pytest.raises(ValueError, match="sigma="):
        g.mmd(np.tile(np.eye(3)[0], (10, 1)), np.tile(np.eye(3)[0], (10, 1)), method="exact")


# ------------------------------------------------------------------ conformity


@pytest.mark.parametrize("k, m", [(1, 5), (3, 4), (6, 2)])
def test_conformity_of_k_equal_directions(k, m):
    """k orthogonal directions, each repeated m times: a row has m − 1 cosines 1 and the rest 0."""
    x = np.repeat(np.eye(8)[:k], m, axis=0) * np.arange(1, k * m + 1)[:, None]  # lengths do not matter
    np.testing.assert_allclose(g.conformity(x), (m - 1) / (k * m - 1), atol=1e-15)
    # to a reference: the mean cosine to the rows of one direction of the k is 1/k
    np.testing.assert_allclose(g.conformity(x, reference=np.eye(8)[:k]), 1 / k, atol=1e-15)


def test_conformity_fast_equals_naive_and_ties_to_the_gap():
    v, t = cone_pairs()
    a, b = unit(v), unit(t)
    cos = a @ a.T
    np.fill_diagonal(cos, np.nan)
    np.testing.assert_allclose(g.conformity(v), np.nanmean(cos, axis=1), atol=1e-14)
    np.testing.assert_allclose(g.conformity(v, reference=t), (a @ b.T).mean(axis=1), atol=1e-14)
    assert g.conformity(v).mean() == pytest.approx(g.mean_pairwise_cosine(v), abs=1e-14)
    # the gap per sample: own-modality minus other-modality conformity; it averages to ‖Δ‖²
    share_v = g.conformity(v, reference=v) - g.conformity(v, reference=t)
    share_t = g.conformity(t, reference=t) - g.conformity(t, reference=v)
    assert share_v.mean() + share_t.mean() == pytest.approx(g.centroid_gap(v, t) ** 2, rel=1e-12)
    # conformity ranks rows exactly as the cosine to the mean direction does
    mean_dir = a.mean(0) / np.linalg.norm(a.mean(0))
    assert np.array_equal(np.argsort(g.conformity(v)), np.argsort(a @ mean_dir))


# ------------------------------------------------------------------ joint clustering


def test_joint_clustering_without_a_gap_recovers_the_classes():
    rng = np.random.default_rng(0)
    centres = 6 * np.eye(12)[:4]
    y = np.repeat(np.arange(4), 30)
    v = centres[y] + 0.3 * rng.normal(size=(120, 12))
    t = centres[y] + 0.3 * rng.normal(size=(120, 12))
    res = g.joint_clustering_score(v, t, y)
    assert res.v_measure == pytest.approx(1.0) and res.ari == pytest.approx(1.0)
    assert res.modality_purity == pytest.approx(0.5)  # every cluster is half images, half texts
    assert res.n_clusters == 4 and res.n_pairs == 120 and res.labels.shape == (240,)
    assert set(res.to_dict()) == {"v_measure", "ari", "modality_purity", "n_clusters", "n_pairs"}


def test_joint_clustering_with_a_wide_gap_splits_by_modality():
    """Two classes, weak within each modality, and a gap far larger: k-means (k = 2) finds the modalities."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 60)
    signal = 0.2 * np.where(y[:, None] == 0, 1.0, -1.0) * np.eye(10)[0]
    v = signal + 0.05 * rng.normal(size=(120, 10)) + 3 * np.eye(10)[1]
    t = signal + 0.05 * rng.normal(size=(120, 10)) - 3 * np.eye(10)[1]
    res = g.joint_clustering_score(v, t, y)
    assert res.modality_purity == pytest.approx(1.0)
    assert res.v_measure == pytest.approx(0.0, abs=1e-12) and res.ari <= 0.0
    # closing the gap (λ = 1) lets the classes show
    sv, st = LambdaShift(1.0).fit(v, t).transform(v, t)
    closed = g.joint_clustering_score(sv, st, y)
    assert closed.v_measure == pytest.approx(1.0) and closed.modality_purity == pytest.approx(0.5)


def test_joint_clustering_subsample_and_clusters():
    v, t = cone_pairs(n=300)
    y = np.arange(300) % 3
    res = g.joint_clustering_score(v, t, y, max_pairs=100, n_clusters=5, seed=2)
    assert res.n_pairs == 100 and res.n_clusters == 5 and res.labels.shape == (200,)
    assert res.v_measure == g.joint_clustering_score(v, t, y, max_pairs=100, n_clusters=5, seed=2).v_measure


# ------------------------------------------------------------------ ModalityStandardization


def test_standardised_training_columns_have_mean_zero_and_variance_one():
    v, t = cone_pairs(n=400)
    tr, te = np.arange(300), np.arange(300, 400)
    std = ModalityStandardization(renormalize=False).fit(v[tr], t[tr])
    for out in std.transform(v[tr], t[tr]):
        np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(out.var(axis=0), 1.0, atol=1e-12)
    # held-out rows use the *training* statistics: no leakage, so their columns are only close to standard
    a_te = unit(v[te])
    expected = (a_te - unit(v[tr]).mean(0)) / unit(v[tr]).std(0)
    np.testing.assert_allclose(std.transform_image(v[te]), expected, atol=1e-13)
    assert np.abs(std.transform_image(v[te]).mean(axis=0)).max() > 1e-3
    np.testing.assert_allclose(std.image_mean_, unit(v[tr]).mean(0), atol=1e-15)
    np.testing.assert_allclose(std.gap_, unit(v[tr]).mean(0) - unit(t[tr]).mean(0), atol=1e-15)


def test_standardisation_renormalises_and_closes_the_centroid_gap_on_the_fit_data():
    v, t = cone_pairs(n=400)
    sv, st = ModalityStandardization().fit_transform(v, t)
    np.testing.assert_allclose(np.linalg.norm(sv, axis=1), 1.0, atol=1e-12)
    raw_v, raw_t = ModalityStandardization(renormalize=False).fit_transform(v, t)
    assert np.linalg.norm(raw_v.mean(0) - raw_t.mean(0)) == pytest.approx(0.0, abs=1e-12)  # both at the origin
    assert g.centroid_gap(sv, st) < 0.2 * g.centroid_gap(v, t)
    assert sv.dtype == np.float64 and ModalityStandardization().fit(v, t).transform_text(t.astype(np.float32)).dtype \
        == np.float32


def test_standardisation_leaves_constant_dimensions_centred_only():
    v, t = cone_pairs(n=100, d=6)
    v[:, 5] = 0.0  # constant on the fit rows
    std = ModalityStandardization(renormalize=False).fit(v, t)
    assert std.constant_dims_ == {"image": 1, "text": 0} and std.image_scale_[5] == 1.0
    out = std.transform_image(v)
    assert np.all(np.isfinite(out)) and np.allclose(out[:, 5], 0.0)


def test_standardisation_errors():
    v, t = cone_pairs(n=50)
    with pytest.raises(NotFittedError, match="fit"):
        ModalityStandardization().transform(v, t)
    std = ModalityStandardization().fit(v, t)
    with pytest.raises(ValueError, match="dimensions"):
        std.transform_image(v[:, :4])
    with pytest.raises(ValueError, match="renormalize"):
        ModalityStandardization(renormalize="yes").fit(v, t)
    with pytest.raises(ValueError, match="NaN"):
        std.transform_text(np.full((2, 6), np.nan))
    assert repr(std) == "ModalityStandardization(renormalize=True)" and gapkit.ModalityStandardization is ModalityStandardization


# ------------------------------------------------------------------ gap_report's new rows


def test_gap_report_has_the_decomposition_with_hand_checked_intervals():
    v, t = cone_pairs(n=200)
    rep = g.gap_report(v, t, n_boot=60, seed=3, spectral_boot=0, separability=False, uniformity_max_samples=50)
    dec = g.gap_decomposition(v, t)
    assert rep["raw_gap"] == pytest.approx(dec.raw, rel=1e-12)
    assert rep["distribution_gap"] == pytest.approx(dec.distribution, rel=1e-12)
    # the replicates, recomputed from the report's own resampling counts
    rng = np.random.default_rng(np.random.SeedSequence(3).spawn(1)[0])
    counts = g._bootstrap_counts(200, 60, rng)
    reps = []
    for w in counts:
        idx = np.repeat(np.arange(200), w)
        reps.append(g.gap_decomposition(v[idx], t[idx]).distribution)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    est = rep.get("distribution_gap")
    assert (est.ci_low, est.ci_high) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
    assert est.n_boot == 60 and est.method == "percentile bootstrap"
    assert "frechet_distance" not in set(rep.to_frame().metric)


def test_gap_report_two_sample_rows():
    v, t = cone_pairs(n=150)
    rep = g.gap_report(v, t, n_boot=10, seed=1, spectral_boot=0, separability=False, two_sample=True)
    assert rep["frechet_distance"] == pytest.approx(g.frechet_distance(v, t), rel=1e-12)
    assert rep["mmd"] == pytest.approx(g.mmd(v, t, seed=1), rel=1e-12)
    assert math.isnan(rep.get("mmd").ci_low) and rep.get("mmd").method == "none"
    assert rep.params["two_sample"] is True
    import pandas as pd

    pd.testing.assert_frame_equal(g.GapReport.from_json(rep.to_json()).to_frame(), rep.to_frame())  # NaN bounds survive
    with pytest.raises(ValueError, match="two_sample"):
        g.gap_report(v, t, two_sample="yes")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call, match", [
    (lambda v, t: g.gap_decomposition(v, t[:-1]), "different numbers of rows"),
    (lambda v, t: g.gap_decomposition(v, t[:, :3], normalize=False), "same shape"),
    (lambda v, t: g.distribution_gap(v[0], t), "2-D"),
    (lambda v, t: g.distribution_gap(np.vstack([v[:-1], np.zeros(6)]), t), "all zeros"),
    (lambda v, t: g.gap_decomposition(v, t, normalize=1), "normalize"),
    (lambda v, t: g.frechet_distance(v, t[:, :4]), "different dimensions"),
    (lambda v, t: g.frechet_distance(np.where(np.eye(len(v), 6, dtype=bool), np.nan, v), t), "NaN"),
    (lambda v, t: g.mmd(v, t, sigma=float("nan")), "sigma"),
    (lambda v, t: g.mmd(v, t, sigma=0.0), "sigma"),
    (lambda v, t: g.mmd(v, t, method="naive"), "method"),
    (lambda v, t: g.mmd(v, t, n_features=0), "n_features"),
    (lambda v, t: g.mmd(v, t, n_features=64.0), "n_features"),
    (lambda v, t: g.mmd(v, t, seed=-1), "seed"),
    (lambda v, t: g.conformity(v[:1]), "at least 2 rows"),
    (lambda v, t: g.conformity(v, reference=t[:, :2]), "dimensions"),
    (lambda v, t: g.joint_clustering_score(v, t, np.zeros(len(v) - 1)), "labels"),
    (lambda v, t: g.joint_clustering_score(v, t, np.zeros(len(v))), "one class"),
    (lambda v, t: g.joint_clustering_score(v, t, [None] + [1] * (len(v) - 1)), "missing"),
    (lambda v, t: g.joint_clustering_score(v, t, np.eye(len(v), 3)), "1-D"),
    (lambda v, t: g.joint_clustering_score(v, t, np.arange(len(v)) % 2, n_clusters=1), "n_clusters"),
    (lambda v, t: g.joint_clustering_score(v, t, np.arange(len(v)) % 2, n_clusters=10_000), "n_clusters"),
    (lambda v, t: g.joint_clustering_score(v, t, np.arange(len(v)) % 2, max_pairs=1), "max_pairs"),
])
def test_bad_input_raises_clear_errors(call, match):
    v, t = cone_pairs(n=40)
    with pytest.raises(ValueError, match=match):
        call(v, t)


def test_zero_rows_are_fine_without_normalisation():
    v, t = cone_pairs(n=40)
    v[0] = 0.0
    assert np.isfinite(g.gap_decomposition(v, t, normalize=False).distribution)
    assert np.isfinite(g.frechet_distance(v, t, normalize=False))
    assert np.isfinite(g.mmd(v, t, normalize=False))


def test_lazy_exports():
    for name in ("gap_decomposition", "distribution_gap", "frechet_distance", "mmd", "conformity",
                 "joint_clustering_score", "GapDecomposition", "JointClustering"):
        assert getattr(gapkit, name) is getattr(D, name) is getattr(g, name)
        assert name in g.__all__
