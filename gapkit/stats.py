"""Paired comparisons across seeds: is a gain consistent, or seed noise?

When two settings (λ = 0 and the best λ, say) are run on the *same* seeds (the same splits, the
same initialisations), their results are pairs. The right question is whether the per-seed
differences are consistently away from zero, not whether the difference of the means is large
against the spread *across* seeds: that spread mostly measures how hard each split is, which both
settings share. :func:`paired_comparison` gives the paired t statistic (Student's t on the
differences), its t interval and a bootstrap interval of the mean difference.

Published results often give only mean ± std per setting, not the per-seed values. Then the
paired t cannot be computed: it depends on how strongly the seeds' results under the two settings
are correlated, which mean ± std do not say. :func:`correlation_needed` gives the seed-to-seed
correlation a difference would need for a paired test to call it significant.

Used by chapter 6 (supervised evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PairedComparison", "paired_comparison", "correlation_needed"]


@dataclass(frozen=True)
class PairedComparison:
    """Result of :func:`paired_comparison`.

    Attributes
    ----------
    differences : numpy.ndarray
        ``b - a`` per pair (per seed).
    mean : float
        Mean difference.
    std : float
        Standard deviation of the differences (ddof=1).
    t : float
        Paired t statistic ``mean / (std / sqrt(n))``; ``±inf`` when every difference is the same
        non-zero number, 0 when all are zero.
    p_value : float
        Two-sided p-value of ``t`` under Student's t with ``n - 1`` degrees of freedom.
    ci_low, ci_high : float
        Percentile bootstrap interval of the mean difference (pairs resampled with replacement).
        With few pairs it is narrow and coarse: with 3 it runs between the smallest and the
        largest difference at most, so prefer ``t_low, t_high`` there.
    t_low, t_high : float
        Student's t interval of the mean difference, ``mean ± t_(n-1) · std / sqrt(n)``, with the
        same coverage.
    confidence : float
        Coverage of both intervals.
    n_positive : int
        How many differences are > 0.
    """

    differences: np.ndarray
    mean: float
    std: float
    t: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float
    n_positive: int
    t_low: float = float("nan")
    t_high: float = float("nan")

    @property
    def n(self) -> int:
        """Number of pairs."""
        return int(self.differences.size)

    def as_dict(self) -> dict[str, Any]:
        """The scalar fields, for a table row."""
        return {"n": self.n, "mean diff": self.mean, "std diff": self.std, "paired t": self.t,
                "p": self.p_value, "ci low": self.ci_low, "ci high": self.ci_high,
                "positive": f"{self.n_positive}/{self.n}"}


def _as_vector(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of per-seed results, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name}[{bad}] is {arr[bad]}: every per-seed result must be a finite number")
    return arr


def paired_comparison(a: Any, b: Any, *, confidence: float = 0.95, n_boot: int = 10_000,
                      seed: int = 0) -> PairedComparison:
    """Compare two settings run on the same seeds: ``b - a`` per seed.

    Parameters
    ----------
    a, b : sequence of float
        Per-seed results of the baseline and of the setting compared with it, in the same seed
        order (``a[i]`` and ``b[i]`` share seed ``i``).
    confidence : float
        Coverage of the bootstrap interval, in (0, 1).
    n_boot : int
        Bootstrap resamples of the pairs.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    PairedComparison

    Raises
    ------
    ValueError
        Different lengths, fewer than 2 pairs, a non-finite result, or a bad ``confidence`` /
        ``n_boot`` / ``seed``.

    Notes
    -----
    With 5 seeds the bootstrap interval is coarse (there are only 126 distinct resamples): read it
    beside the t statistic and the count of positive differences, not instead of them.
    """
    from scipy import stats

    a, b = _as_vector(a, "a"), _as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must pair up seed by seed: got {a.size} and {b.size} results")
    if a.size < 2:
        raise ValueError(f"a paired comparison needs at least 2 seeds, got {a.size}")
    if not (isinstance(confidence, (float, int)) and not isinstance(confidence, bool) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    for name, value, low in (("n_boot", n_boot, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    d = b - a
    n = d.size
    mean, std = float(d.mean()), float(d.std(ddof=1))
    if std > 0:
        t = mean / (std / np.sqrt(n))
        p = float(2 * stats.t.sf(abs(t), df=n - 1))
    elif mean == 0:
        t, p = 0.0, 1.0
    else:  # every seed moved by exactly the same amount
        t, p = float(np.copysign(np.inf, mean)), 0.0
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, n, size=(int(n_boot), n))].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    half = float(stats.t.ppf(1 - alpha, df=n - 1)) * std / np.sqrt(n)
    return PairedComparison(differences=d, mean=mean, std=std, t=float(t), p_value=p, ci_low=float(lo),
                            ci_high=float(hi), confidence=float(confidence), n_positive=int((d > 0).sum()),
                            t_low=mean - half, t_high=mean + half)


def correlation_needed(diff: float, std_a: float, std_b: float, n: int, *, confidence: float = 0.95) -> float:
    """The seed-to-seed correlation at which a paired t-test would call ``diff`` significant (chapter 6).

    From summary statistics only (mean ± std of two settings over the same ``n`` seeds): the
    standard deviation of the per-seed differences is ``sqrt(std_a² + std_b² − 2ρ·std_a·std_b)``
    for a correlation ρ between the seeds' results under the two settings, so the paired t is
    ``|diff| · sqrt(n) / that``. This returns the ρ at which t reaches the two-sided critical
    value of Student's t with ``n − 1`` degrees of freedom.

    Returns
    -------
    float
        ρ. At or below 0: significant even if the two settings shared nothing across seeds; in
        (0, 1]: significant only if the seeds are at least that correlated, which mean ± std
        cannot tell; above 1: no correlation makes it significant. ``-inf`` when both stds are 0
        and ``diff`` is not (and ``inf`` when ``diff`` is 0).
    """
    from scipy import stats

    for name, value in (("std_a", std_a), ("std_b", std_b)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite standard deviation >= 0, got {value!r}")
    if not np.isfinite(diff):
        raise ValueError(f"diff must be a finite number, got {diff!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (seeds), got {n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    crit = float(stats.t.ppf(1 - (1 - confidence) / 2, df=n - 1))
    sd_needed = abs(float(diff)) * np.sqrt(n) / crit  # the largest std of the differences that is significant
    if std_a == 0 or std_b == 0:
        if diff == 0:
            return float("inf")
        return float("-inf") if std_a + std_b <= sd_needed else float("inf")
    return float((std_a ** 2 + std_b ** 2 - sd_needed ** 2) / (2 * std_a * std_b))
