"""Known answers for gapkit.geometry: closed forms, invariants, fast == naive, bad input."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import gapkit
from gapkit import geometry as g

PAIR_FUNCS = [
    g.gap_vector,
    g.centroid_gap,
    g.paired_distance,
    g.paired_cosine,
    g.relative_modality_gap,
    g.linear_separability,
    g.alignment,
    g.gap_report,
]
SINGLE_FUNCS = [
    g.mean_resultant_length,
    g.mean_pairwise_cosine,
    g.effective_rank,
    g.participation_ratio,
    g.first_pc_variance_share,
    g.uniformity,
]


# ---------------------------------------------------------------- helpers / naive references


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cone(n, theta, d=3, axis=0):
    """n unit vectors at angle theta from e_axis, spread evenly around it: R = cos(theta) exactly."""
    phi = 2 * np.pi * np.arange(n) / n
    x = np.zeros((n, d))
    x[:, axis] = np.cos(theta)
    x[:, (axis + 1) % d] = np.sin(theta) * np.cos(phi)
    x[:, (axis + 2) % d] = np.sin(theta) * np.sin(phi)
    return x


def naive_mpc(x):
    u = unit(x)
    c = u @ u.T
    n = len(u)
    return (c.sum() - np.trace(c)) / (n * (n - 1))


def naive_rmg(v, t):
    v, t = unit(v), unit(t)
    n = len(v)
    delta = lambda a, b: (1 - a @ b) / 2  # noqa: E731
    m = np.mean([delta(v[i], t[i]) for i in range(n)])
    a = np.mean([delta(v[i], v[j]) for i in range(n) for j in range(n) if i != j])
    b = np.mean([delta(t[i], t[j]) for i in range(n) for j in range(n) if i != j])
    return m / (m + (a + b) / 2)


def naive_uniformity(x, t=2.0):
    u = unit(x)
    sq = ((u[:, None, :] - u[None, :, :]) ** 2).sum(-1)
    off = ~np.eye(len(u), dtype=bool)
    return np.log(np.exp(-t * sq[off]).mean())


def naive_spectrum(x):
    u = unit(x)
    s = np.linalg.svd(u - u.mean(0), compute_uv=False)
    return s


def naive_erank(x):
    s = naive_spectrum(x)
    p = s / s.sum()
    p = p[p > 1e-12]
    return float(np.exp(-(p * np.log(p)).sum()))


def naive_pr(x):
    lam = naive_spectrum(x) ** 2
    return lam.sum() ** 2 / (lam**2).sum()


@pytest.fixture
def rand_pair():
    rng = np.random.default_rng(1)
    v = rng.standard_normal((60, 7)) + np.array([2.0, 0, 0, 0, 0, 0, 0])
    t = 0.5 * v + rng.standard_normal((60, 7)) + np.array([0, 1.5, 0, 0, 0, 0, 0])
    return v, t


@pytest.fixture
def small_chunks(monkeypatch):
    """Force many tiny chunks so every chunked code path is exercised."""
    monkeypatch.setattr(g._rows, "_CHUNK_ELEMS", 20)


# ---------------------------------------------------------------- closed forms


def test_identical_modalities_have_no_gap(rand_pair):
    v, _ = rand_pair
    scaled = v * np.random.default_rng(2).uniform(0.1, 10, size=(len(v), 1))  # normalisation must undo this
    np.testing.assert_allclose(g.gap_vector(v, scaled), 0, atol=1e-12)
    assert g.centroid_gap(v, scaled) == pytest.approx(0, abs=1e-12)
    assert g.paired_distance(v, scaled) == pytest.approx(0, abs=1e-7)
    assert g.paired_cosine(v, scaled) == pytest.approx(1, abs=1e-12)
    assert g.alignment(v, scaled) == pytest.approx(0, abs=1e-12)
    assert g.relative_modality_gap(v, scaled) == pytest.approx(0, abs=1e-12)
    # both rows of a held-out pair are the same point and get the same label: exactly half right.
    # A row-level split (leakage) would not give exactly 0.5.
    assert g.linear_separability(v, scaled, seed=3) == 0.5


def test_antipodal_cone_by_hand():
    # 8 points at 60 degrees around e1: R = 1/2, mean pairwise cosine (8/4 - 1)/7 = 1/7
    v = cone(8, np.pi / 3, d=5)
    t = -v
    assert g.mean_resultant_length(v) == pytest.approx(0.5, abs=1e-12)
    assert g.mean_pairwise_cosine(v) == pytest.approx(1 / 7, abs=1e-12)
    assert g.centroid_gap(v, t) == pytest.approx(2 * 0.5, abs=1e-12)  # 2R
    np.testing.assert_allclose(g.gap_vector(v, t), [1.0, 0, 0, 0, 0], atol=1e-12)
    assert g.paired_cosine(v, t) == pytest.approx(-1, abs=1e-12)
    assert g.paired_distance(v, t) == pytest.approx(2, abs=1e-12)
    assert g.alignment(v, t) == pytest.approx(4, abs=1e-12)
    # m = 1, a = b = (1 - 1/7)/2 = 3/7  ->  RMG = 1 / (1 + 3/7) = 0.7
    assert g.relative_modality_gap(v, t) == pytest.approx(0.7, abs=1e-12)
    # the variants in circulation give other numbers on this case
    assert 1 / (1 + 2 * 3 / 7) != pytest.approx(g.relative_modality_gap(v, t))


def test_orthogonal_clusters():
    rng = np.random.default_rng(0)
    n, d = 40, 6
    v = np.zeros((n, d))
    v[:, 0] = 1
    t = np.zeros((n, d))
    t[:, 1] = 1
    t += 1e-7 * rng.standard_normal((n, d))
    assert g.centroid_gap(v, t) == pytest.approx(math.sqrt(2), abs=1e-5)
    assert g.paired_distance(v, t) == pytest.approx(math.sqrt(2), abs=1e-5)
    assert g.paired_cosine(v, t) == pytest.approx(0, abs=1e-5)
    # m = 1/2, a = 0, b ~ 0 -> RMG ~ 1
    assert g.relative_modality_gap(v, t) == pytest.approx(1, abs=1e-5)
    assert g.linear_separability(v, t) == 1.0
    assert g.mean_resultant_length(v) == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("theta", [0.0, 0.3, np.pi / 4, 1.2, np.pi / 2, 2.5])
@pytest.mark.parametrize("n", [2, 5, 12])
def test_cone_resultant_length(theta, n):
    x = cone(n, theta, d=4, axis=1) * np.arange(1, n + 1)[:, None]  # scaled rows
    r = math.cos(theta)
    assert g.mean_resultant_length(x) == pytest.approx(abs(r), abs=1e-12)
    assert g.mean_pairwise_cosine(x) == pytest.approx((n * r * r - 1) / (n - 1), abs=1e-12)


def test_spectral_metrics_equal_orthogonal_directions():
    # +-e_1..+-e_k, each 3 times: centred scatter = 6 I_k exactly
    k, d = 4, 9
    rows = []
    for j in range(k):
        for s in (1, -1):
            e = np.zeros(d)
            e[j] = s
            rows += [e] * 3
    x = np.array(rows)
    assert g.effective_rank(x) == pytest.approx(k, abs=1e-12)
    assert g.participation_ratio(x) == pytest.approx(k, abs=1e-12)
    assert g.first_pc_variance_share(x) == pytest.approx(1 / k, abs=1e-12)
    # n < d uses the n x n Gram: same answer
    wide = np.zeros((len(x), 200))
    wide[:, :d] = x
    assert g.effective_rank(wide) == pytest.approx(k, abs=1e-12)
    assert g.participation_ratio(wide) == pytest.approx(k, abs=1e-12)


def test_spectral_metrics_unequal_spectrum_by_hand():
    # +-e1 once each and +-e2 four times each: eigenvalues 2 and 8, sigma ratio 1 : 2
    x = np.array([[1, 0, 0], [-1, 0, 0]] + [[0, 1, 0], [0, -1, 0]] * 4, dtype=float)
    p = np.array([1 / 3, 2 / 3])
    assert g.effective_rank(x) == pytest.approx(np.exp(-(p * np.log(p)).sum()), abs=1e-12)
    assert g.effective_rank(x) == pytest.approx(3 / 2 ** (2 / 3), abs=1e-12)
    assert g.participation_ratio(x) == pytest.approx(100 / 68, abs=1e-12)
    assert g.first_pc_variance_share(x) == pytest.approx(0.8, abs=1e-12)


def test_spectral_metrics_centre_first():
    # {e1, e2} repeated: uncentred rank 2, centred rank 1 (all variance along e1 - e2)
    x = np.array([[1.0, 0, 0], [0, 1.0, 0]] * 5)
    assert g.effective_rank(x) == pytest.approx(1, abs=1e-12)
    assert g.participation_ratio(x) == pytest.approx(1, abs=1e-12)
    assert g.first_pc_variance_share(x) == pytest.approx(1, abs=1e-12)
    same = np.ones((5, 3))  # no variance at all
    assert g.effective_rank(same) == 0.0
    assert g.participation_ratio(same) == 0.0
    assert math.isnan(g.first_pc_variance_share(same))


def test_uniformity_closed_forms():
    assert g.uniformity(np.array([[1.0, 0], [-3.0, 0]])) == pytest.approx(-8, abs=1e-12)  # |x-x'|^2 = 4
    assert g.uniformity(np.eye(3) * 5, t=1.5) == pytest.approx(-3, abs=1e-12)  # |x-x'|^2 = 2
    # large t must not underflow to -inf
    assert g.uniformity(np.eye(3), t=1000.0) == pytest.approx(-2000, abs=1e-9)


def test_alignment_is_two_minus_two_paired_cosine(rand_pair):
    v, t = rand_pair
    assert g.alignment(v, t) == pytest.approx(2 - 2 * g.paired_cosine(v, t), abs=1e-12)
    assert g.alignment(v, t) == pytest.approx(np.mean(((unit(v) - unit(t)) ** 2).sum(1)), abs=1e-12)
    assert g.paired_distance(v, t) == pytest.approx(np.mean(np.linalg.norm(unit(v) - unit(t), axis=1)), abs=1e-12)


# ---------------------------------------------------------------- fast == naive


@pytest.mark.parametrize("chunked", [False, True])
def test_fast_formulas_match_naive(rand_pair, chunked, monkeypatch):
    if chunked:
        monkeypatch.setattr(g._rows, "_CHUNK_ELEMS", 20)
    v, t = rand_pair
    assert g.mean_pairwise_cosine(v) == pytest.approx(naive_mpc(v), abs=1e-10)
    assert g.mean_pairwise_cosine(t) == pytest.approx(naive_mpc(t), abs=1e-10)
    assert g.relative_modality_gap(v, t) == pytest.approx(naive_rmg(v, t), abs=1e-10)
    assert g.uniformity(v, block_size=7) == pytest.approx(naive_uniformity(v), abs=1e-10)
    assert g.uniformity(t, t=0.5) == pytest.approx(naive_uniformity(t, 0.5), abs=1e-10)
    assert g.effective_rank(v) == pytest.approx(naive_erank(v), abs=1e-8)
    assert g.participation_ratio(t) == pytest.approx(naive_pr(t), abs=1e-8)
    lam = naive_spectrum(t) ** 2
    assert g.first_pc_variance_share(t) == pytest.approx(lam[0] / lam.sum(), abs=1e-10)
    np.testing.assert_allclose(g.gap_vector(v, t), unit(v).mean(0) - unit(t).mean(0), atol=1e-12)
    assert g.mean_resultant_length(v) == pytest.approx(np.linalg.norm(unit(v).mean(0)), abs=1e-12)


def test_spectral_accurate_for_tight_cone():
    # R ~ 1 - 1e-8: centring by subtracting n*mu*mu^T naively would lose digits
    rng = np.random.default_rng(5)
    x = np.zeros((500, 12))
    x[:, 0] = 1
    x[:, 1:] = 1e-5 * rng.standard_normal((500, 11)) * np.arange(1, 12)
    assert g.effective_rank(x) == pytest.approx(naive_erank(x), rel=1e-7)
    assert g.first_pc_variance_share(x) == pytest.approx((naive_spectrum(x) ** 2)[0] / (naive_spectrum(x) ** 2).sum(),
                                                         rel=1e-7)


def test_uniformity_subsampling():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 5))
    full = naive_uniformity(x)
    assert g.uniformity(x, max_samples=None) == pytest.approx(full, abs=1e-10)
    sub = g.uniformity(x, max_samples=150, seed=7)
    assert sub == g.uniformity(x, max_samples=150, seed=7)  # seeded
    assert sub != g.uniformity(x, max_samples=150, seed=8)  # really a subsample
    assert sub == pytest.approx(full, abs=0.1)  # and a fair one


def test_separability_partial_overlap():
    rng = np.random.default_rng(0)
    n, d = 400, 5
    v = rng.standard_normal((n, d)) + np.array([0.6, 0, 0, 0, 0])
    t = rng.standard_normal((n, d)) - np.array([0.6, 0, 0, 0, 0])
    acc = g.linear_separability(v, t, seed=1)
    assert 0.6 < acc < 0.95
    assert acc == g.linear_separability(v, t, seed=1)
    # held-out size is 20 % of pairs -> 2 * 80 rows; accuracy is a multiple of 1/160
    assert (acc * 160) == pytest.approx(round(acc * 160), abs=1e-9)
    assert g.linear_separability(v, t, max_pairs=100, seed=1) * 40 == pytest.approx(
        round(g.linear_separability(v, t, max_pairs=100, seed=1) * 40), abs=1e-9)


# ---------------------------------------------------------------- torch input


def test_torch_input_matches_numpy(rand_pair):
    torch = pytest.importorskip("torch")
    v, t = rand_pair
    tv, tt = torch.tensor(v, requires_grad=True), torch.tensor(t)
    for f in (g.centroid_gap, g.paired_distance, g.paired_cosine, g.relative_modality_gap, g.alignment,
              g.linear_separability):
        assert f(tv, tt) == f(v, t), f.__name__
    for f in SINGLE_FUNCS:
        assert f(tt) == f(t), f.__name__
    np.testing.assert_array_equal(g.gap_vector(tv, tt), g.gap_vector(v, t))
    # float32 tensors agree with float32 arrays
    assert g.effective_rank(tt.float()) == g.effective_rank(t.astype(np.float32))
    assert gapkit.centroid_gap is g.centroid_gap


@pytest.mark.gpu
def test_cuda_tensor_input(rand_pair):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    v, t = rand_pair
    cv, ct = torch.tensor(v, device="cuda"), torch.tensor(t, device="cuda")
    assert g.relative_modality_gap(cv, ct) == g.relative_modality_gap(v, t)
    assert g.effective_rank(cv) == g.effective_rank(v)


# ---------------------------------------------------------------- bad input


def _call(f, *args):
    if f is g.gap_report:
        return f(*args, n_boot=2)
    return f(*args)


@pytest.mark.parametrize("f", PAIR_FUNCS + SINGLE_FUNCS, ids=lambda f: f.__name__)
def test_bad_input_raises_helpful_valueerror(f):
    good = np.random.default_rng(0).standard_normal((6, 3))
    paired = f in PAIR_FUNCS

    def run(x, other=None):
        return _call(f, x, good if other is None else other) if paired else _call(f, x)

    nan = good.copy()
    nan[2, 1] = np.nan
    nan[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 row\(s\) contain NaN or inf \(rows 2, 4\)"):
        run(nan)
    zero = good.copy()
    zero[3] = 0
    with pytest.raises(ValueError, match=r"all zeros \(rows 3\).*Drop those rows"):
        run(zero)
    with pytest.raises(ValueError, match=r"need at least 2 rows.*got 1"):
        run(good[:1], good[:1])
    with pytest.raises(ValueError, match=r"expected a 2-D array.*got shape \(3,\).*x\[None, :\]"):
        run(good[0], good[0])
    if paired:
        with pytest.raises(ValueError, match=r"different numbers of rows \(6 vs 5\).*matched pair"):
            _call(f, good, good[:5])
        with pytest.raises(ValueError, match=r"different dimensions \(3 vs 2\)"):
            _call(f, good, good[:, :2])
        with pytest.raises(ValueError, match=r"text: 1 row\(s\) are all zeros \(rows 3\)"):
            _call(f, good, zero)


def test_bad_parameters():
    x = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(ValueError, match="test_size"):
        g.linear_separability(x, x + 1, test_size=1.5)
    with pytest.raises(ValueError, match="max_samples"):
        g.uniformity(x, max_samples=1)
    with pytest.raises(ValueError, match="ci must be"):
        g.gap_report(x, x + 1, ci=95)


# ---------------------------------------------------------------- gap_report


@pytest.fixture(scope="module")
def report_data():
    rng = np.random.default_rng(11)
    n, d = 400, 6
    v = rng.standard_normal((n, d)) + np.array([1.5, 0, 0, 0, 0, 0])
    t = 0.7 * v + rng.standard_normal((n, d)) + np.array([0, 1.0, 0, 0, 0, 0])
    return v, t


@pytest.fixture(scope="module")
def report(report_data):
    v, t = report_data
    return g.gap_report(v, t, n_boot=150, seed=4, uniformity_max_samples=200)


def test_gap_report_values_match_functions(report, report_data):
    v, t = report_data
    assert (report.n, report.d, report.n_boot, report.seed) == (400, 6, 150, 4)
    for f in (g.centroid_gap, g.paired_distance, g.paired_cosine, g.relative_modality_gap, g.alignment):
        assert report[f.__name__] == pytest.approx(f(v, t), abs=1e-12), f.__name__
    assert report["linear_separability"] == g.linear_separability(v, t, seed=4)
    for mod, x in (("image", v), ("text", t)):
        for f in (g.mean_resultant_length, g.mean_pairwise_cosine, g.effective_rank, g.participation_ratio,
                  g.first_pc_variance_share):
            assert report[f.__name__, mod] == pytest.approx(f(x), abs=1e-12), (f.__name__, mod)
        assert report["uniformity", mod] == pytest.approx(g.uniformity(x, max_samples=200, seed=4), abs=1e-12)
    assert len(report.estimates) == 8 + 2 * 6  # 8 paired metrics (raw and distribution gap included), 6 per modality


def test_gap_report_intervals(report, report_data):
    frame = report.to_frame()
    assert list(frame.columns[:5]) == ["metric", "modality", "value", "ci_low", "ci_high"]
    for row in frame.itertuples():
        assert row.ci_low <= row.value <= row.ci_high, row
        assert row.ci_low < row.ci_high, row  # a real interval, not a point
    # bootstrap spread of a mean matches the textbook standard error (checks the resampling weights)
    v, t = report_data
    cos = (unit(v) * unit(t)).sum(1)
    se = cos.std(ddof=1) / math.sqrt(len(cos))
    est = report.get("paired_cosine")
    assert (est.ci_high - est.ci_low) / (2 * 1.96 * se) == pytest.approx(1, abs=0.25)
    assert est.n_boot == 150 and report.get("effective_rank", "text").n_boot == 50
    assert report.get("linear_separability").method.startswith("wilson")


def test_gap_report_json_round_trip(report, tmp_path):
    path = tmp_path / "report.json"
    text = report.to_json(path)
    assert json.loads(path.read_text()) == json.loads(text)
    assert os.listdir(tmp_path) == ["report.json"]  # temp file renamed away
    back = g.GapReport.from_json(path)
    assert back == report
    assert g.GapReport.from_json(text) == report
    import pandas as pd

    pd.testing.assert_frame_equal(back.to_frame(), report.to_frame())
    with pytest.raises(KeyError, match="modality"):
        report.get("effective_rank")


def test_gap_report_without_bootstrap_json_has_nulls(report_data, tmp_path):
    v, t = report_data
    r = g.gap_report(v[:50], t[:50], n_boot=0, separability=False)
    assert all(math.isnan(e.ci_low) for e in r.estimates)
    doc = json.loads(r.to_json())
    assert doc["estimates"][0]["ci_low"] is None
    back = g.GapReport.from_json(r.to_json())
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(back.to_frame(), r.to_frame())
