"""Mergeable sufficient statistics of the gap card: the O(n·d) metrics of data split over shards or ranks.

``gapkit embed`` under ``torchrun`` (issue 27) leaves the pairs spread over several processes and
shard files. Every single-pass metric of the card is a function of a few sums over the pairs, and
sums merge by addition: each shard (or rank) computes :func:`gap_stats` of its own rows, and the
merged statistics (``a + b``, or ``torch.distributed.all_reduce`` of :meth:`GapStats.to_vector`,
see :mod:`gapkit.cli._distributed`) give the metric of all the rows, equal to the single-array
function within float rounding. What is summed, per modality and for the pairs:

- ``n`` and ``Σ x̂_i`` (unit rows): centroid gap and gap vector, mean resultant length, mean
  pairwise cosine (the resultant-length identity), hence the RMG with the next item;
- ``Σ cos(v_i, t_i)``, ``Σ ‖v̂_i − t̂_i‖`` and ``Σ ‖v̂_i − t̂_i‖²``: paired cosine, paired distance,
  alignment and raw gap;
- the moments of ``x̂_i`` about a shift ``s`` (``Σ (x̂_i − s)`` and ``Σ (x̂_i − s)(x̂_i − s)ᵀ``):
  the covariance, hence effective rank, participation ratio, first-PC share and the Fréchet
  distance; and of the pair differences ``v̂_i − t̂_i`` (their trace only): the distribution gap
  and the spreads of :func:`~gapkit.geometry.gap_decomposition`, never as the cancelling
  ``√(alignment − centroid²)``.

Moments are kept about a shift near the data (a pilot mean: the first rows' mean, as
:func:`gapkit.geometry.effective_rank` does) so that a tight cone's common part does not swamp its
spread; merging re-expresses one side about the other's shift (exact algebra, no data needed).

Not reducible this way, because they are not sums over pairs: uniformity (all pairs of rows),
linear separability (a fitted classifier), MMD with an RBF kernel (a data-dependent bandwidth and
all pairs), retrieval (ranks among all candidates) and k-means clustering
(:func:`~gapkit.geometry.joint_clustering_score`). :func:`stats_report` computes those, and every
bootstrap interval, on a seeded subsample of at most ``max_pairs`` pairs gathered in one place, and
says so in each estimate's ``method`` and in ``params["not_reducible"]``.

numpy only: this module imports no torch. Chapter-free (the command line's, README "Beyond one machine").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from ._validation import as_paired, validate_params
from .geometry import _distribution, _report
from .geometry._centroid import _rmg_from_parts
from .geometry._fused import _pair_pass
from .geometry._rows import _row_slices, _unit_rows
from .geometry._spectrum import _effective_rank_from, _participation_ratio_from, _pc1_share_from
from .geometry._spread import _off_diagonal_cosine

__all__ = ["Moments", "GapStats", "gap_stats", "merge_stats", "stats_report", "REDUCIBLE", "NOT_REDUCIBLE"]

#: the card's metrics that :class:`GapStats` gives on all pairs (the rest need the rows: :data:`NOT_REDUCIBLE`)
REDUCIBLE = ("centroid_gap", "paired_distance", "paired_cosine", "alignment", "raw_gap", "distribution_gap",
             "relative_modality_gap", "mean_resultant_length", "mean_pairwise_cosine", "effective_rank",
             "participation_ratio", "first_pc_variance_share", "frechet_distance")

#: what cannot be merged from sums, and why (stated on the card)
NOT_REDUCIBLE = {
    "uniformity": "a mean over all pairs of rows",
    "linear_separability": "a classifier fitted to the rows",
    "mmd": "an RBF kernel over all pairs of rows, with a bandwidth from the data",
    "retrieval": "ranks among all candidates; not on the card",
    "k-means clustering (joint_clustering_score)": "an iterative fit to all rows; not on the card",
}


@dataclass
class Moments:
    """Moments of rows about a shift ``s``: ``n``, ``s1 = Σ (x_i − s)``, ``ss = Σ ‖x_i − s‖²``,
    ``s2 = Σ (x_i − s)(x_i − s)ᵀ``.

    ``s2`` is ``None`` when only the trace is kept. Mergeable (:meth:`about`, ``+``) with no data.
    """

    n: int
    shift: np.ndarray
    s1: np.ndarray
    ss: float
    s2: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        return self.shift + self.s1 / self.n

    @property
    def m2_trace(self) -> float:
        """``Σ ‖x_i − x̄‖²`` (the centred sum of squares), ≥ 0."""
        return max(0.0, float(self.ss - self.s1 @ self.s1 / self.n)) if self.n else 0.0

    def scatter(self) -> np.ndarray:
        """``Σ (x_i − x̄)(x_i − x̄)ᵀ``, symmetrised (needs ``s2``)."""
        if self.s2 is None:
            raise ValueError("these moments keep only the trace; compute them with covariance=True")
        g = self.s2 - np.outer(self.s1, self.s1) / self.n
        return (g + g.T) / 2.0

    def about(self, shift: np.ndarray) -> "Moments":
        """The same moments about another shift (exact: ``x − c = (x − s) + (s − c)``)."""
        delta = self.shift - shift
        s1 = self.s1 + self.n * delta
        ss = self.ss + 2.0 * float(delta @ self.s1) + self.n * float(delta @ delta)
        s2 = None
        if self.s2 is not None:
            cross = np.outer(delta, self.s1)
            s2 = self.s2 + cross + cross.T + self.n * np.outer(delta, delta)
        return Moments(self.n, np.array(shift, dtype=np.float64), s1, ss, s2)

    def __add__(self, other: "Moments") -> "Moments":
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        o = other.about(self.shift)
        s2 = None if self.s2 is None or o.s2 is None else self.s2 + o.s2
        return Moments(self.n + o.n, self.shift, self.s1 + o.s1, self.ss + o.ss, s2)


class _Accumulator:
    """Running :class:`Moments` of rows added block by block, about the first block's mean (the pilot shift)."""

    def __init__(self, d: int, covariance: bool) -> None:
        self.shift: np.ndarray | None = None
        self.n, self.s1, self.ss = 0, np.zeros(d), 0.0
        self.s2 = np.zeros((d, d)) if covariance else None

    def add(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        if self.shift is None:
            self.shift = rows.mean(axis=0)
        c = rows - self.shift
        self.n += len(c)
        self.s1 += c.sum(axis=0)
        self.ss += float(np.einsum("ij,ij->", c, c))
        if self.s2 is not None:
            self.s2 += c.T @ c  # numpy dispatches A.T @ A to BLAS syrk

    def moments(self) -> Moments:
        return Moments(self.n, np.zeros_like(self.s1) if self.shift is None else self.shift, self.s1, self.ss,
                       self.s2)


@dataclass
class GapStats:
    """The sufficient statistics of the gap card's O(n·d) metrics over some pairs (see the module docstring).

    Build with :func:`gap_stats`, merge with ``+`` or :func:`merge_stats`; :meth:`metrics` gives the
    values. ``image``, ``text``: moments of the unit rows (with ``s2`` when built with
    ``covariance=True``); ``diff``: moments of ``v̂_i − t̂_i`` (trace only).
    """

    n: int
    d: int
    sum_image: np.ndarray
    sum_text: np.ndarray
    sum_cos: float
    sum_dist: float
    sum_sq_dist: float
    image: Moments
    text: Moments
    diff: Moments
    shards: int = field(default=1)

    @property
    def covariance(self) -> bool:
        return self.image.s2 is not None and self.text.s2 is not None

    def __add__(self, other: "GapStats") -> "GapStats":
        if self.d != other.d:
            raise ValueError(f"cannot merge statistics of d = {self.d} and d = {other.d}; merge one model's shards")
        return GapStats(self.n + other.n, self.d, self.sum_image + other.sum_image, self.sum_text + other.sum_text,
                        self.sum_cos + other.sum_cos, self.sum_dist + other.sum_dist,
                        self.sum_sq_dist + other.sum_sq_dist, self.image + other.image, self.text + other.text,
                        self.diff + other.diff, self.shards + other.shards)

    # -- all_reduce: a flat vector of sums, about shifts every process agrees on
    def shifts(self) -> np.ndarray:
        """``(3, d)``: the shifts of the image, text and difference moments."""
        return np.stack([self.image.shift, self.text.shift, self.diff.shift])

    def to_vector(self, shifts: np.ndarray) -> np.ndarray:
        """Every sum, about ``shifts`` (:meth:`shifts` of one process), as one float64 vector: summing the
        vectors of several processes (``all_reduce``) and :meth:`from_vector` merges their statistics."""
        parts: list[Any] = [[self.n, self.sum_cos, self.sum_dist, self.sum_sq_dist, self.shards],
                            self.sum_image, self.sum_text]
        for mom, s in zip((self.image, self.text, self.diff), shifts):
            m = mom.about(s)
            parts += [m.s1, [m.ss]]
            if mom is not self.diff:
                parts.append(np.zeros(0) if m.s2 is None else m.s2.ravel())
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])

    @classmethod
    def from_vector(cls, vec: np.ndarray, d: int, shifts: np.ndarray, covariance: bool) -> "GapStats":
        """Inverse of :meth:`to_vector` (``covariance`` as the statistics were built)."""
        vec = np.asarray(vec, dtype=np.float64)
        want = 5 + 2 * d + 3 * (d + 1) + (2 * d * d if covariance else 0)
        if vec.shape != (want,):
            raise ValueError(f"a statistics vector of shape {vec.shape} for d = {d} (covariance={covariance}); "
                             f"expected {want} numbers")
        n, sum_cos, sum_dist, sum_sq, shards = vec[:5]
        at = 5

        def take(k: int) -> np.ndarray:
            nonlocal at
            at += k
            return vec[at - k:at]

        sum_image, sum_text = take(d).copy(), take(d).copy()
        moms = []
        for i in range(3):
            s1, ss = take(d).copy(), float(take(1)[0])
            s2 = take(d * d).reshape(d, d).copy() if (i < 2 and covariance) else None
            moms.append(Moments(int(round(n)), np.array(shifts[i], dtype=np.float64), s1, ss, s2))
        return cls(int(round(n)), d, sum_image, sum_text, float(sum_cos), float(sum_dist), float(sum_sq), *moms,
                   shards=int(round(shards)))

    # -- the metrics
    def spectrum(self, modality: str) -> np.ndarray:
        """Eigenvalues (descending) of the scatter of the centred unit rows, as :func:`effective_rank` keeps them."""
        lam = np.linalg.eigvalsh(getattr(self, modality).scatter())[::-1].copy()
        top = lam[0] if lam.size else 0.0
        lam[lam <= max(self.n, self.d) * np.finfo(np.float64).eps * max(top, 0.0)] = 0.0
        return lam

    def gap_decomposition(self) -> "_distribution.GapDecomposition":
        """:func:`gapkit.geometry.gap_decomposition` of all the pairs."""
        n = self.n
        return _distribution.GapDecomposition(
            raw=math.sqrt(self.sum_sq_dist / n), centroid=float(np.linalg.norm(self.diff.mean)),
            distribution=math.sqrt(self.diff.m2_trace / n), spread_image=math.sqrt(self.image.m2_trace / n),
            spread_text=math.sqrt(self.text.m2_trace / n), n=int(n))

    def frechet_distance(self, center: bool = True) -> float:
        """:func:`gapkit.geometry.frechet_distance` of the two modalities (sample covariances, n − 1)."""
        cov_v = self.image.scatter() / (self.n - 1)
        cov_t = self.text.scatter() / (self.n - 1)
        shape = _distribution._bures(cov_v, cov_t)
        if center:
            return shape
        mu = (self.sum_image - self.sum_text) / self.n
        return float(mu @ mu + shape)

    def metrics(self) -> dict[tuple[str, str], float]:
        """Every reducible metric of the card, keyed ``(metric, modality)`` as :class:`~gapkit.geometry.GapReport`."""
        n, pair = self.n, _report._PAIR
        if n < 2:
            raise ValueError(f"the gap card needs at least 2 pairs; these statistics hold {n}")
        mean_cos = self.sum_cos / n
        mpc = {m: _off_diagonal_cosine(getattr(self, f"sum_{m}"), n) for m in _report._MODALITIES}
        dec = self.gap_decomposition()
        out = {
            ("centroid_gap", pair): float(np.linalg.norm((self.sum_image - self.sum_text) / n)),
            ("paired_distance", pair): self.sum_dist / n,
            ("paired_cosine", pair): mean_cos,
            ("alignment", pair): self.sum_sq_dist / n,
            ("raw_gap", pair): dec.raw,
            ("distribution_gap", pair): dec.distribution,
            ("relative_modality_gap", pair): _rmg_from_parts(mean_cos, mpc["image"], mpc["text"]),
        }
        if self.covariance:
            out[("frechet_distance", pair)] = self.frechet_distance()
        for m in _report._MODALITIES:
            out[("mean_resultant_length", m)] = float(np.linalg.norm(getattr(self, f"sum_{m}")) / n)
            out[("mean_pairwise_cosine", m)] = mpc[m]
            if self.covariance:
                lam = self.spectrum(m)
                out[("effective_rank", m)] = _effective_rank_from(lam)
                out[("participation_ratio", m)] = _participation_ratio_from(lam)
                out[("first_pc_variance_share", m)] = _pc1_share_from(lam)
        return out


@validate_params({"covariance": ["boolean"]})
def gap_stats(image: Any, text: Any, *, covariance: bool = True) -> GapStats:
    """The :class:`GapStats` of matched rows (one shard, one rank's part): one fused pass, plus the moments.

    Rows are L2-normalised first and checked as the metrics check them (NaN/inf or all-zero rows
    raise ``ValueError`` naming them). Memory-mapped input is read block by block, never copied.
    ``covariance=False`` skips the ``d × d`` moments (O(n·d) instead of O(n·d²)): no spectral
    metrics and no Fréchet distance then.
    """
    img, txt = as_paired(image, text, check_rows=False, min_rows=1)  # the fused pass checks every row
    n, d = img.shape
    p = _pair_pass(img, txt)
    acc = {"image": _Accumulator(d, covariance), "text": _Accumulator(d, covariance), "diff": _Accumulator(d, False)}
    for sl in _row_slices(n, d):  # float64 unit rows, once per block for all three
        u, v = _unit_rows(img[sl]), _unit_rows(txt[sl])
        acc["image"].add(u)
        acc["text"].add(v)
        u -= v
        acc["diff"].add(u)
    return GapStats(n, d, p.sum_image, p.sum_text, float(p.cos.sum()), float(p.dist.sum()),
                    float((p.dist * p.dist).sum()), acc["image"].moments(), acc["text"].moments(),
                    acc["diff"].moments())


def merge_stats(parts: Sequence[GapStats]) -> GapStats:
    """The statistics of the union of disjoint sets of pairs (shards, ranks): their sum, in order."""
    if not parts:
        raise ValueError("no statistics to merge")
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def subsample_index(n: int, max_pairs: int, seed: int | None) -> np.ndarray | None:
    """The seeded subsample of ``max_pairs`` of ``n`` pairs (sorted), or ``None`` for all of them.

    The same rows ``gap_report(max_pairs=...)`` draws (its second seed stream), so a card merged from
    shards and the single-array card share every subsampled number.
    """
    if n <= max_pairs:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1] if seed is not None else None)
    return np.sort(rng.choice(n, size=max_pairs, replace=False))


def stats_report(stats: GapStats, sample_image: np.ndarray, sample_text: np.ndarray, *, n_boot: int = 200,
                 seed: int | None = 0, where: str = "merged from shards", **kw: Any) -> "_report.GapReport":
    """The gap card from merged statistics and a subsample gathered in one place.

    The reducible metrics (:data:`REDUCIBLE`) take their values from ``stats`` (all pairs); the
    rest (:data:`NOT_REDUCIBLE`) and every interval come from :func:`~gapkit.geometry.gap_report` of
    the sample (the rows :func:`subsample_index` picks; all rows when ``n ≤ max_pairs``), intervals
    rescaled by ``√(m/n)`` around the all-pairs value (the m-out-of-n bootstrap) when ``m < n``.
    With every row in the sample the card is :func:`gap_report`'s, within float rounding.
    ``where`` says how the statistics were merged (recorded in ``params``).
    """
    m, n = len(sample_image), stats.n
    if not 2 <= m <= n:
        raise ValueError(f"a sample of {m} pairs for statistics of {n} pairs; gather between 2 and {n} of the pairs "
                         "the statistics were merged from (subsample_index)")
    sub = _report.gap_report(sample_image, sample_text, n_boot, seed, **kw)
    full = stats.metrics()
    scale = math.sqrt(m / n)
    estimates, reduced, sampled = [], set(), set()
    for e in sub.estimates:
        key = (e.metric, e.modality)
        if key in full:
            v = float(full[key])
            lo, hi = v + (e.ci_low - e.value) * scale, v + (e.ci_high - e.value) * scale
            method = e.method
            if m < n and e.method != "none":
                method = f"{e.method} on a seeded subsample of {m} pairs, rescaled by sqrt({m}/{n}) (m-out-of-n)"
            estimates.append(_report.Estimate(e.metric, e.modality, v, lo, hi, method, e.n_boot))
            reduced.add(e.metric)
        else:
            method = e.method if m == n else f"{e.method}; value and interval on a seeded subsample of {m} pairs"
            estimates.append(replace(e, method=method))
            sampled.add(e.metric)
    params = dict(sub.params, sufficient_statistics={"metrics": sorted(reduced), "pairs": int(n), "how": where,
                                                     "shards": int(stats.shards)},
                  not_reducible={k: f"{why}: computed on {'all' if m == n else 'a seeded subsample of'} {m} pairs "
                                    "gathered on one process" for k, why in NOT_REDUCIBLE.items()})
    if m < n:
        params.update(max_pairs=m, subsample_pairs=m, single_pass_metrics=sorted(reduced),
                      subsampled_metrics=sorted(sampled))
    return _report.GapReport(n=n, d=stats.d, n_boot=sub.n_boot, seed=sub.seed, ci_level=sub.ci_level,
                             estimates=tuple(estimates), params=params)
