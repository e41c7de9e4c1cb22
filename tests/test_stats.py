"""gapkit.stats.paired_comparison against scipy's paired t-test and closed forms."""

import numpy as np
import pytest
from scipy import stats

from gapkit.stats import paired_comparison


def test_matches_scipy_ttest_rel():
    rng = np.random.default_rng(1)
    a = rng.normal(0.8, 0.02, size=7)
    b = a + rng.normal(0.005, 0.004, size=7)
    res = paired_comparison(a, b)
    ref = stats.ttest_rel(b, a)
    assert res.t == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    np.testing.assert_allclose(res.differences, b - a)
    assert res.mean == pytest.approx(np.mean(b - a)) and res.std == pytest.approx(np.std(b - a, ddof=1))


def test_the_chapter_5_example_is_a_consistent_gain():
    """Five seeds, every gain positive: paired t ≈ 8, although the gain is below the across-seed spread."""
    gains = np.array([0.0075, 0.0118, 0.0100, 0.0081, 0.0146])
    a = np.array([0.74, 0.77, 0.75, 0.78, 0.76])  # across-seed std 0.016 > every gain
    res = paired_comparison(a, a + gains)
    assert res.t == pytest.approx(gains.mean() / (gains.std(ddof=1) / np.sqrt(5)))
    assert 8.0 < res.t < 8.8 and res.p_value < 0.01
    assert res.n_positive == 5 and res.n == 5
    assert gains.min() <= res.ci_low < res.mean < res.ci_high <= gains.max()
    assert res.mean < a.std(ddof=1)  # the test the old page taught would have called this noise


def test_bootstrap_interval_is_a_percentile_interval_of_resampled_means():
    d = np.arange(10.0)
    res = paired_comparison(np.zeros(10), d, confidence=0.9, n_boot=4000, seed=3)
    rng = np.random.default_rng(3)
    boot = d[rng.integers(0, 10, size=(4000, 10))].mean(axis=1)
    assert (res.ci_low, res.ci_high) == tuple(np.quantile(boot, [0.05, 0.95]))
    wide = paired_comparison(np.zeros(10), d, confidence=0.99, n_boot=4000, seed=3)
    assert wide.ci_low <= res.ci_low and wide.ci_high >= res.ci_high


def test_constant_differences():
    same = paired_comparison([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert same.t == np.inf and same.p_value == 0.0 and same.ci_low == same.ci_high == 0.5
    down = paired_comparison([1.0, 2.0], [0.0, 1.0])
    assert down.t == -np.inf
    none = paired_comparison([1.0, 2.0], [1.0, 2.0])
    assert none.t == 0.0 and none.p_value == 1.0 and none.n_positive == 0


@pytest.mark.parametrize("a, b, kw, match", [
    ([1.0, 2.0], [1.0], {}, "pair up seed by seed"),
    ([1.0], [2.0], {}, "at least 2 seeds"),
    ([1.0, np.nan], [1.0, 2.0], {}, r"a\[1\] is nan"),
    ([1.0, 2.0], [[1.0, 2.0]], {}, "1-D"),
    ([1.0, 2.0], [1.0, 2.0], {"confidence": 1.0}, "confidence"),
    ([1.0, 2.0], [1.0, 2.0], {"n_boot": 2.5}, "n_boot"),
    ([1.0, 2.0], [1.0, 2.0], {"seed": 4.2}, "seed"),
])
def test_bad_input(a, b, kw, match):
    with pytest.raises(ValueError, match=match):
        paired_comparison(a, b, **kw)


def test_the_t_interval_is_scipys():
    a = np.array([0.70, 0.72, 0.69])
    b = a + np.array([0.010, 0.018, 0.012])
    res = paired_comparison(a, b)
    ref = stats.ttest_rel(b, a).confidence_interval(0.95)
    assert res.t_low == pytest.approx(ref.low) and res.t_high == pytest.approx(ref.high)
    # with three seeds the bootstrap interval lies within the smallest and largest difference
    assert res.differences.min() - 1e-12 <= res.ci_low <= res.ci_high <= res.differences.max() + 1e-12
    assert res.t_low < res.ci_low and res.t_high > res.ci_high


def test_correlation_needed_makes_the_paired_t_critical():
    from gapkit.stats import correlation_needed

    n, rho_true = 5, 0.6
    # five seeds whose two settings have stds 0.01 and 0.02 and sample correlation exactly 0.6
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, 2))
    z -= z.mean(0)
    q, _ = np.linalg.qr(z)  # two orthonormal, mean-zero columns
    e1, e2 = q[:, 0], q[:, 1]
    sa, sb = 0.01, 0.02
    a = 0.8 + sa * np.sqrt(n - 1) * e1
    b_noise = sb * np.sqrt(n - 1) * (rho_true * e1 + np.sqrt(1 - rho_true ** 2) * e2)
    sd_diff = np.sqrt(sa ** 2 + sb ** 2 - 2 * rho_true * sa * sb)
    crit = stats.t.ppf(0.975, n - 1)
    diff = crit * sd_diff / np.sqrt(n)  # the difference whose paired t is exactly critical at rho_true
    b = 0.8 + diff + b_noise
    assert np.std(a, ddof=1) == pytest.approx(sa) and np.std(b, ddof=1) == pytest.approx(sb)
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(rho_true)
    assert paired_comparison(a, b).t == pytest.approx(crit)
    assert correlation_needed(diff, sa, sb, n) == pytest.approx(rho_true)
    # a larger difference needs less correlation; the sign of the difference does not matter
    assert correlation_needed(2 * diff, sa, sb, n) < rho_true
    assert correlation_needed(-diff, sa, sb, n) == pytest.approx(rho_true)
    # closed-form ends: equal stds s and a tiny gain need more than perfect correlation; a huge one none
    assert correlation_needed(1e-6, 0.01, 0.01, 5) > 0.99 and correlation_needed(1e-6, 0.01, 0.02, 5) > 1
    assert correlation_needed(1.0, 0.01, 0.01, 5) < -1
    assert correlation_needed(0.1, 0.0, 0.0, 5) == -np.inf and correlation_needed(0.0, 0.0, 0.0, 5) == np.inf
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        correlation_needed(0.1, 0.01, 0.01, 1)
    with pytest.raises(ValueError, match="std_a must be a finite"):
        correlation_needed(0.1, -0.01, 0.01, 5)
