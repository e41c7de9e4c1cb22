"""What the centroid misses: the distribution gap, two-sample distances, conformity, joint clustering.

Re-exported from :mod:`gapkit.geometry` (and lazily from :mod:`gapkit`); chapter "What the
centroid misses" uses every function here. Conventions are the book's: rows are L2-normalised
first (``normalize=True``, the default everywhere), ``image`` row ``i`` and ``text`` row ``i``
are a matched pair, ``v̂_i``/``t̂_i`` the unit rows, ``v̄``/``t̄`` their means, ``Δ = v̄ − t̄``.

Which number is which
---------------------
*Paired* (they need matched rows):

- **raw gap** ``G_raw = sqrt(mean_i ‖v̂_i − t̂_i‖²)``: the root-mean-square distance of a pair;
- **centroid gap** ``G_C = ‖Δ‖`` (Liang et al. 2022; :func:`gapkit.geometry.centroid_gap`);
- **distribution gap** ``G_D = sqrt(mean_i ‖(v̂_i − v̄) − (t̂_i − t̄)‖²)``: what is left of the
  pair distances once both centroids are moved onto each other.

Liu et al. (2026, arXiv:2604.00279) decompose the gap into a centroid gap, the distance between
the modality means, and a distribution gap, the mismatch that remains after the centroids are
aligned. The paper leaves open whether distances are averaged plain or squared; we take the
root-mean-square form because it makes the decomposition *exact*: the cross term
``mean_i ⟨Δ, (v̂_i − v̄) − (t̂_i − t̄)⟩`` is zero, so

    G_raw² = G_C² + G_D²        (Pythagoras over the pairs).

``G_raw² = 2 − 2·paired_cosine`` is Wang & Isola's alignment. Any translation of either modality
(the λ-shift, mean centring or the orthogonal shift *before* re-normalisation) changes ``G_C``
and leaves ``G_D`` exactly unchanged; only the re-normalisation back onto the sphere can move it.

*Unpaired* (two-sample distances between the *centred* clouds; they ignore which image goes
with which caption, so they measure a difference of shape, not a pairing error):

- :func:`frechet_distance`: the Fréchet distance between Gaussian fits (FID's formula, squared
  units). With ``center=False`` it is ``G_C² + frechet_distance(center=True)`` exactly (sample
  covariances do not depend on the mean).
- :func:`mmd`: the squared maximum mean discrepancy with a Gaussian kernel, from random Fourier
  features (``method="features"``, O(n·d·D), no n×n matrix) or exactly in row blocks
  (``method="exact"``, O(n²·d) time, O(block·n) memory).

Per sample and per group:

- :func:`conformity` (Levi & Gilboa 2025): a row's mean cosine to the other rows, O(n·d);
- :func:`joint_clustering_score` (Grassucci et al. 2026): k-means on the pooled modalities,
  scored against semantic labels (V-measure, ARI) and by how much each cluster is one modality.

Every input goes through :func:`gapkit._validation.as_matrix` / ``as_paired``; every numeric
parameter is declared with :func:`gapkit._validation.validate_params`. Rows are processed in
blocks (:mod:`gapkit.geometry._rows`): :func:`gap_decomposition` in one fused pass of cache-sized
blocks in the input's precision, the others in float64 blocks of about ``_CHUNK_ELEMS`` numbers (16 MB).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._validation import (SEED, Integral, Interval, Options, Real, as_matrix, as_paired, check_labels, l2_normalize,
                          unit_scales, validate_params)
from . import _rows as _blocks  # the block sizes, read at call time (tests shrink them there)
from ._fused import _on_two_threads, _rare_units, _two_threads_gain, _work
from ._rows import _fused_slices, _one_blas_thread, _row_slices

__all__ = [
    "GapDecomposition",
    "gap_decomposition",
    "distribution_gap",
    "frechet_distance",
    "mmd",
    "conformity",
    "JointClustering",
    "joint_clustering_score",
]

#: Rows used by the median heuristic of :func:`mmd` (a seeded subsample, half from each modality).
MEDIAN_HEURISTIC_ROWS = 1000
#: Default number of pairs :func:`joint_clustering_score` clusters (a seeded subsample above it).
CLUSTERING_MAX_PAIRS = 20_000

_SEED = [None, SEED]


def _rows(block: np.ndarray, normalize: bool) -> np.ndarray:
    """A float64 copy of ``block``, with unit rows when ``normalize`` (gapkit's one normaliser)."""
    if normalize:
        return l2_normalize(block, dtype=np.float64)
    return np.array(block, dtype=np.float64, copy=True)


def _mean(x: np.ndarray, normalize: bool) -> np.ndarray:
    total = np.zeros(x.shape[1])
    for sl in _row_slices(*x.shape):
        total += _rows(x[sl], normalize).sum(axis=0)
    return total / x.shape[0]


def _check_modality(x: Any, name: str, normalize: bool) -> np.ndarray:
    return as_matrix(x, name=name, allow_zero_rows=not normalize)


def _check_unpaired(image: Any, text: Any, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both modalities checked, in one joint space (the two-sample distances: rows need not pair)."""
    img = _check_modality(image, "image", normalize)
    txt = _check_modality(text, "text", normalize)
    if img.shape[1] != txt.shape[1]:
        raise ValueError(f"image and text have different dimensions ({img.shape[1]} vs {txt.shape[1]}); both must "
                         "live in the same joint embedding space.")
    return img, txt


def _paired(image: Any, text: Any, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Matched rows of :func:`gap_decomposition`, validated; all-zero rows are allowed only when nothing is normalised.

    With ``normalize`` only the shapes are checked here: the rows are checked inside the fused pass
    (a safe squared norm proves a row finite and non-zero), which raises the full check's error.
    """
    if normalize:
        return as_paired(image, text, check_rows=False)
    img, txt = _check_modality(image, "image", False), _check_modality(text, "text", False)
    if img.shape != txt.shape:
        raise ValueError(f"image and text must be matched pairs of the same shape, got {img.shape} and {txt.shape}; "
                         "row i of each is a pair and both live in one embedding space.")
    return img, txt


# ---------------------------------------------------------------------------------------------
# the paired decomposition (Liu et al. 2026)


@dataclass(frozen=True)
class GapDecomposition:
    """The raw gap of matched pairs split into a centroid part and a distribution part.

    ``raw**2 == centroid**2 + distribution**2`` (to rounding); see :func:`gap_decomposition`.

    Attributes
    ----------
    raw : float
        Root-mean-square pair distance ``sqrt(mean_i ‖v̂_i − t̂_i‖²)``.
    centroid : float
        ``‖Δ‖``, the distance of the two centroids (:func:`gapkit.geometry.centroid_gap`).
    distribution : float
        Root-mean-square distance of the pairs after both centroids are moved to the origin.
    spread_image, spread_text : float
        Root-mean-square distance of a row to its own modality's centroid, ``sqrt(mean_i ‖v̂_i − v̄‖²)``
        (``sqrt(1 − R²)`` on unit rows, with ``R`` the mean resultant length).
    n : int
        Pairs.
    """

    raw: float
    centroid: float
    distribution: float
    spread_image: float
    spread_text: float
    n: int

    @property
    def relative_distribution(self) -> float:
        """``distribution² / (spread_image² + spread_text²)``, in [0, 2]: the distribution gap in units of the spread.

        ``1 − ρ`` with ``ρ = 2 mean_i ⟨v̂_i − v̄, t̂_i − t̄⟩ / (spread_image² + spread_text²)``, a
        correlation of the centred pairs: 0 when the centred pairs coincide (a set and its
        translate), 1 when they are uncorrelated (shuffled pairs, in expectation), 2 when they
        point in opposite directions. Unchanged when both centred clouds are scaled by the same
        factor, which re-normalisation after centring nearly does; the absolute distribution gap is
        not. NaN when both spreads are 0.
        """
        total = self.spread_image**2 + self.spread_text**2
        return float("nan") if total == 0 else float(self.distribution**2 / total)

    @property
    def centroid_share(self) -> float:
        """Share of the squared raw gap that the centroids explain, ``centroid² / raw²`` (NaN when raw = 0)."""
        return float("nan") if self.raw == 0 else float(self.centroid**2 / self.raw**2)

    def to_dict(self) -> dict[str, float]:
        """Every field plus ``centroid_share`` and ``relative_distribution``, as a plain dict."""
        return {**asdict(self), "centroid_share": self.centroid_share,
                "relative_distribution": self.relative_distribution}


@validate_params({"normalize": ["boolean"]})
def gap_decomposition(image: Any, text: Any, *, normalize: bool = True) -> GapDecomposition:
    """Raw gap = centroid gap ⊕ distribution gap, after Liu et al. (2026).

    With unit rows ``v̂_i``, ``t̂_i``, centroids ``v̄``, ``t̄`` and ``Δ = v̄ − t̄``::

        raw²          = mean_i ‖v̂_i − t̂_i‖²
        centroid²     = ‖Δ‖²
        distribution² = mean_i ‖(v̂_i − v̄) − (t̂_i − t̄)‖²
        raw²          = centroid² + distribution²     (exactly: the cross term averages to zero)

    Liu et al. define the centroid gap as the distance of the modality means and the distribution
    gap as the mismatch left once the means are aligned; they do not pin down the averaging. We
    use root-mean-square pair distances, the one choice for which the two parts add up exactly
    (in squares), and state it wherever the numbers are shown.

    ``relative_distribution`` (a property of the result) divides ``distribution²`` by the two
    modalities' spreads: a scale-free version (0 = a translate, 1 = unpaired), which stays
    comparable across interventions that re-normalise rows after rescaling them.

    Both parts are computed directly, never as ``sqrt(raw² − centroid²)`` (which would lose a
    distribution gap far smaller than the centroid gap to cancellation), in one fused O(n·d) pass:
    each cache-sized block is validated and normalised, the raw gap is summed from its pair
    differences ``v̂_i − t̂_i`` directly (so ``raw² = centroid² + distribution²`` stays a check, not a
    definition), and its rows ``v̂``, ``t̂`` and centred differences are centred on the block's own
    means; the blocks' sums of squares and means are then merged exactly (Chan, Golub & LeVeque's
    pairwise update, in float64). Float32 input stays
    float32 within a block (the other metrics' fused passes do the same), float64 stays float64.

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
        Matched embeddings (row ``i`` of each is a pair).
    normalize : bool
        L2-normalise rows first (the book's convention). ``False`` measures the rows as given,
        e.g. translated rows before re-normalisation, where a translate of a set has distribution
        gap exactly 0 and centroid gap exactly the length of the translation (rows as given are
        measured in float64, whatever their scale).

    Returns
    -------
    GapDecomposition

    Chapter "What the centroid misses".
    """
    img, txt = _paired(image, text, normalize)
    n, d = img.shape

    def revalidate() -> None:
        as_paired(img, txt)

    slices = list(_fused_slices(n, d))
    if len(slices) > 1 and _two_threads_gain(img.size):  # two halves of the blocks side by side, merged exactly
        half = len(slices) // 2
        (mv, mt, me, raw_sq), rest = _on_two_threads(
            lambda: _decompose_blocks(img, txt, slices[:half], normalize, revalidate),
            lambda: _decompose_blocks(img, txt, slices[half:], normalize, revalidate))
        for acc, other in zip((mv, mt, me), rest):
            acc.merge(other)
        raw_sq += rest[3]
    else:
        with _one_blas_thread():
            mv, mt, me, raw_sq = _decompose_blocks(img, txt, slices, normalize, revalidate)
    return GapDecomposition(raw=float(np.sqrt(raw_sq / n)), centroid=float(np.linalg.norm(me.mean)),
                            distribution=float(np.sqrt(me.m2 / n)), spread_image=float(np.sqrt(mv.m2 / n)),
                            spread_text=float(np.sqrt(mt.m2 / n)), n=int(n))


def _decompose_blocks(img: np.ndarray, txt: np.ndarray, slices: list[slice], normalize: bool,
                      revalidate: Any) -> tuple["_Moments", "_Moments", "_Moments", float]:
    """The fused pass of :func:`gap_decomposition` over the blocks ``slices``: the moments of ``v̂``, ``t̂``
    and ``v̂ − t̂`` and the raw ``Σ_i ‖v̂_i − t̂_i‖²``."""
    d = img.shape[1]
    parts = [_Moments(d) for _ in range(3)]                                     # image, text, image − text
    bufs: dict = {}                                      # the working blocks (image, text, difference), reused
    raw_sq = 0.0
    for sl in slices:
        v, t = (_unit_block(x[sl], revalidate, bufs, m) if normalize else np.array(x[sl], dtype=np.float64)
                for m, x in enumerate((img, txt)))
        # the raw gap straight from the pair differences, so raw² = centroid² + distribution² is a check
        diff = np.subtract(v, t, out=_buffer(bufs, 2, v)).reshape(-1)
        raw_sq += float(diff @ diff)
        mean_v, m2_v = _centre(v)
        mean_t, m2_t = _centre(t)
        v -= t                                       # the centred differences (v̂_i − v̄_b) − (t̂_i − t̄_b)
        flat = v.reshape(-1)
        for acc, mean, m2 in zip(parts, (mean_v, mean_t, mean_v - mean_t), (m2_v, m2_t, float(flat @ flat))):
            acc.add(len(v), mean, m2)
    return parts[0], parts[1], parts[2], raw_sq


def _unit_block(block: np.ndarray, revalidate: Any, bufs: dict, key: int) -> np.ndarray:
    """The unit rows of one block in its working precision (float32 stays float32); rare rows via float64.

    Written to the reused buffer ``bufs[key]`` (:func:`_buffer`, allocated at the first block's size): a fresh
    1 MB array per block made the whole pass twice as slow (290 against 142 ms at n = 200,000, d = 512).
    """
    x = _work(block)
    w, rare = unit_scales(x)
    units = None if rare is None else _rare_units(x, rare, revalidate)   # raises on an invalid row
    out = np.multiply(x, w[:, None], out=_buffer(bufs, key, x))
    if units is not None:
        out[rare] = units
    return out


def _buffer(bufs: dict, key: int, like: np.ndarray) -> np.ndarray:
    """A reused working block of ``like``'s shape and dtype: ``bufs[key]``, (re)allocated when too small."""
    buf = bufs.get(key)
    if buf is None or buf.dtype != like.dtype or buf.shape[0] < like.shape[0]:
        buf = bufs[key] = np.empty_like(like)
    return buf[:like.shape[0]]


def _centre(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre a block on its own mean, in place: ``(mean, Σ_i ‖x_i − mean‖²)``, both accumulated in float64.

    Centring in the block's precision leaves a residual mean ``r`` (rounding of the mean), which the
    sum of squares accounts for exactly: ``Σ‖x − m‖² = Σ‖x − m'‖² − k‖r‖²``.
    """
    k = rows.shape[0]
    ones = np.ones(k, dtype=rows.dtype)
    mean = (ones @ rows).astype(np.float64) / k
    rows -= mean.astype(rows.dtype)
    resid = (ones @ rows).astype(np.float64) / k
    flat = rows.reshape(-1)
    return mean + resid, max(0.0, float(flat @ flat) - k * float(resid @ resid))


class _Moments:
    """Running mean and centred sum of squares ``Σ_i ‖x_i − x̄‖²`` of rows added block by block.

    Blocks come centred on their own means (:func:`_centre`, so the squares never cancel) and are
    merged with ``M2 = M2_a + M2_b + ‖x̄_a − x̄_b‖²·n_a·n_b/(n_a + n_b)`` (Chan, Golub & LeVeque 1979),
    in float64.
    """

    def __init__(self, d: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(d), 0.0

    def add(self, k: int, mean: np.ndarray, m2: float) -> None:
        """Merge a block of ``k`` rows with mean ``mean`` and centred sum of squares ``m2``."""
        total = self.n + k
        step = mean - self.mean
        self.m2 += m2 + float(step @ step) * self.n * k / total
        self.mean += step * (k / total)
        self.n = total

    def merge(self, other: "_Moments") -> None:
        """Merge the rows another accumulator has seen (the same update, with its count, mean and M2)."""
        if other.n:
            self.add(other.n, other.mean, other.m2)


@validate_params({"normalize": ["boolean"]})
def distribution_gap(image: Any, text: Any, *, normalize: bool = True) -> float:
    """Distribution gap ``sqrt(mean_i ‖(v̂_i − v̄) − (t̂_i − t̄)‖²)`` of matched pairs (Liu et al. 2026).

    The pair distances that remain once both centroids are moved onto each other; the paired
    part of :func:`gap_decomposition`, where the definition and our choice of averaging are
    stated. 0 when the text rows are a translate of the image rows (then the centroid gap is the
    translation); unchanged by any translation of either modality. O(n·d), one fused pass.

    Chapter "What the centroid misses".
    """
    return gap_decomposition(image, text, normalize=normalize).distribution


# ---------------------------------------------------------------------------------------------
# unpaired two-sample distances of the centred modalities


def _covariance(x: np.ndarray, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (divided by n − 1) of the (unit) rows, accumulated in chunks.

    O(n·d²) time, O(d²) memory. A pilot shift (the first chunk's mean) keeps the accumulation
    accurate for tight cones, where the rows' common part is far larger than their spread.
    """
    n, d = x.shape
    shift = None
    s = np.zeros(d)
    g = np.zeros((d, d))
    for sl in _row_slices(n, d):
        c = _rows(x[sl], normalize)
        if shift is None:
            shift = c.mean(axis=0)
        c -= shift
        s += c.sum(axis=0)
        g += c.T @ c
    m = s / n
    g -= n * np.outer(m, m)
    cov = (g + g.T) / (2.0 * (n - 1))
    return shift + m, cov


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    lam, u = np.linalg.eigh(cov)
    return (u * np.sqrt(np.clip(lam, 0.0, None))) @ u.T


def _bures(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """``Tr(A + B − 2 (A^½ B A^½)^½)`` for symmetric PSD A, B, through two symmetric eigendecompositions.

    ``A^½ B A^½`` is symmetric PSD and has the eigenvalues of ``A B``, so its trace square root is
    ``Σ sqrt(λ_k)`` with no complex round-off (``scipy.linalg.sqrtm(A @ B)`` of a non-symmetric
    product can return small imaginary parts and is unstable for singular covariances).
    """
    root = _psd_sqrt(cov_a)
    mid = root @ cov_b @ root
    lam = np.linalg.eigvalsh((mid + mid.T) / 2.0)
    cross = float(np.sqrt(np.clip(lam, 0.0, None)).sum())
    return max(0.0, float(np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross))


@validate_params({"center": ["boolean"], "normalize": ["boolean"]})
def frechet_distance(image: Any, text: Any, *, center: bool = True, normalize: bool = True) -> float:
    """Fréchet distance between Gaussian fits of the two modalities (FID's formula), an unpaired distance.

    Each modality is summarised by its mean ``μ`` and sample covariance ``Σ`` (divided by n − 1,
    as ``numpy.cov``); the squared 2-Wasserstein distance between the two Gaussians is ::

        FD = ‖μ_v − μ_t‖² + Tr(Σ_v + Σ_t − 2 (Σ_v^½ Σ_t Σ_v^½)^½)

    in squared units, as FID reports it (``sqrt(FD)`` is the Wasserstein distance). With
    ``center=True`` (default) the modalities are first centred on their own means, so the first
    term is 0 and what is left compares the *shapes* of the clouds only. Since ``Σ`` does not
    depend on the mean, ``frechet_distance(center=False) = centroid_gap² +
    frechet_distance(center=True)`` exactly (on unit rows).

    This is a two-sample distance: it never uses which image goes with which caption, unlike
    :func:`distribution_gap`. The rows need not be paired (``n`` may differ).

    Cost: O(n·d²) to accumulate the two ``d × d`` covariances in chunks, O(d³) for two symmetric
    eigendecompositions (a stable route to the matrix square root; see ``_bures``). With
    ``n ≤ d`` the covariances are singular, which this route handles, but the estimate is biased
    upward by sampling noise; compare numbers computed at the same ``n``.

    Chapter "What the centroid misses".
    """
    img, txt = _check_unpaired(image, text, normalize)
    mu_v, cov_v = _covariance(img, normalize)
    mu_t, cov_t = _covariance(txt, normalize)
    shape = _bures(cov_v, cov_t)
    if center:
        return shape
    return float(np.sum((mu_v - mu_t) ** 2) + shape)


def _median_distance(rows: np.ndarray) -> float:
    sq = np.einsum("ij,ij->i", rows, rows)
    d2 = sq[:, None] + sq[None, :] - 2.0 * rows @ rows.T
    iu = np.triu_indices(len(rows), k=1)
    med = float(np.sqrt(np.median(np.clip(d2[iu], 0.0, None))))
    if not med > 0:
        raise ValueError("mmd: the median distance between rows is 0 (most rows coincide), so the median heuristic "
                         "gives no bandwidth; pass sigma= explicitly.")
    return med


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2.0 * a @ b.T
    return np.clip(d2, 0.0, None, out=d2)


def _kernel_mean(a: np.ndarray, b: np.ndarray, gamma: float, block: int) -> float:
    """mean_{i,j} exp(−γ‖a_i − b_j‖²) over all pairs (diagonal included), in row blocks of ``a``."""
    total = 0.0
    for s in range(0, a.shape[0], block):
        total += float(np.exp(-gamma * _sq_dists(a[s:s + block], b)).sum())
    return total / (a.shape[0] * b.shape[0])


@validate_params({"center": ["boolean"], "normalize": ["boolean"], "sigma": [None, Interval(Real, 0, None, closed="neither")],
                  "method": [Options("features", "exact")], "n_features": [Interval(Integral, 1, None, closed="left")],
                  "seed": _SEED})
def mmd(image: Any, text: Any, *, center: bool = True, normalize: bool = True, sigma: float | None = None,
        method: str = "features", n_features: int = 512, seed: int | None = 0) -> float:
    """Squared maximum mean discrepancy (Gaussian kernel) between the two modalities, an unpaired distance.

    With ``k(x, y) = exp(−‖x − y‖² / (2σ²))`` this is the biased (V-statistic) estimate ::

        MMD² = mean_{i,j} k(v_i, v_j) + mean_{i,j} k(t_i, t_j) − 2 mean_{i,j} k(v_i, t_j)

    (all pairs, diagonals included). With ``center=True`` (default) each modality is first
    centred on its own mean (after normalisation), so the centroid gap does not enter and the
    number compares the shapes of the two clouds; like :func:`frechet_distance`, it never uses
    the pairing. ``n`` may differ between the modalities.

    ``method="features"`` (default): random Fourier features (Rahimi & Recht 2007),
    ``z(x) = sqrt(2/D) cos(Wᵀx + b)`` with ``W ~ N(0, σ⁻² I)`` (d × D) and ``b ~ U[0, 2π)``,
    seeded; ``MMD² ≈ ‖mean_i z(v_i) − mean_j z(t_j)‖²``, whose expectation over ``W, b`` is the
    V-statistic above. O(n·d·D) time, O(D·d) memory, no n × n matrix; its standard error falls as
    ``1/sqrt(D)`` (``n_features``). ``method="exact"``: the V-statistic itself, in row blocks of
    about 16 MB, O(n²·d) time: for a few thousand rows, or to check the features.

    Parameters
    ----------
    image, text : array-like, shapes (n_v, d) and (n_t, d)
    center, normalize : bool
    sigma : float or None
        Kernel bandwidth. ``None``: the median heuristic, the median distance between rows of a
        seeded subsample of at most ``MEDIAN_HEURISTIC_ROWS // 2`` (500) rows of each modality, centred and pooled. The
        bandwidth then depends on the data: to compare embeddings before and after an
        intervention, pass one fixed ``sigma``.
    method : {"features", "exact"}
    n_features : int
        D, the number of random features (``method="features"``).
    seed : int or None
        Seeds the features and the median-heuristic subsample.

    Chapter "What the centroid misses".
    """
    img, txt = _check_unpaired(image, text, normalize)
    d = img.shape[1]
    off_v = _mean(img, normalize) if center else np.zeros(d)
    off_t = _mean(txt, normalize) if center else np.zeros(d)
    rng = np.random.default_rng(seed)
    if sigma is None:
        half = MEDIAN_HEURISTIC_ROWS // 2
        pick_v = np.sort(rng.choice(img.shape[0], size=min(img.shape[0], half), replace=False))
        pick_t = np.sort(rng.choice(txt.shape[0], size=min(txt.shape[0], half), replace=False))
        sigma = _median_distance(np.vstack([_rows(img[pick_v], normalize) - off_v, _rows(txt[pick_t], normalize) - off_t]))
    gamma = 1.0 / (2.0 * float(sigma) ** 2)
    if method == "exact":
        v = _rows(img, normalize) - off_v
        t = _rows(txt, normalize) - off_t
        block = max(1, _blocks._CHUNK_ELEMS // max(v.shape[0], t.shape[0], 1))
        value = _kernel_mean(v, v, gamma, block) + _kernel_mean(t, t, gamma, block) - 2.0 * _kernel_mean(v, t, gamma, block)
        return max(0.0, float(value))
    w = rng.standard_normal((d, n_features)) / float(sigma)
    b = rng.uniform(0.0, 2.0 * np.pi, size=n_features)

    def feature_mean(x: np.ndarray, offset: np.ndarray) -> np.ndarray:
        total = np.zeros(n_features)
        for sl in _row_slices(x.shape[0], max(d, n_features)):
            proj = (_rows(x[sl], normalize) - offset) @ w
            proj += b
            np.cos(proj, out=proj)
            total += proj.sum(axis=0)
        return total * np.sqrt(2.0 / n_features) / x.shape[0]

    diff = feature_mean(img, off_v) - feature_mean(txt, off_t)
    return float(diff @ diff)


# ---------------------------------------------------------------------------------------------
# conformity (Levi & Gilboa 2025)


def conformity(x: Any, reference: Any = None) -> np.ndarray:
    """Per-row conformity: each row's mean cosine to the other rows (Levi & Gilboa 2025).

    ``reference=None``: within ``x``, leaving the row itself out. For unit rows with mean
    ``x̄ = mean_j x̂_j`` the resultant-length identity gives, in O(n·d) instead of O(n²·d), ::

        conformity_i = mean_{j≠i} cos(x_i, x_j) = (n ⟨x̂_i, x̄⟩ − 1) / (n − 1)

    so conformity is an increasing linear function of the cosine to the mean direction,
    ``cos(x_i, x̄) = ⟨x̂_i, x̄⟩ / R``: it ranks rows exactly as that cosine does (Levi & Gilboa
    find the two close; here they are affine in each other), and its mean over rows is the mean
    pairwise cosine ``(n R² − 1)/(n − 1)`` of :func:`gapkit.geometry.mean_pairwise_cosine`.

    ``reference`` given (e.g. the other modality): ``mean_j cos(x_i, r_j) = ⟨x̂_i, r̄⟩`` over all
    reference rows (nothing is left out; passing ``x`` itself therefore includes each row's cosine
    1 with itself). With ``reference=other modality`` the difference of the two, ::

        ⟨v̂_i, v̄⟩ − ⟨v̂_i, t̄⟩ = ⟨v̂_i, Δ⟩

    is an image's share of the gap: ``mean_i ⟨v̂_i, Δ⟩ + mean_i ⟨t̂_i, −Δ⟩ = ‖Δ‖²``.

    Parameters
    ----------
    x : array-like or torch.Tensor, shape (n, d)
        Rows to score; L2-normalised first. ``n ≥ 2`` when ``reference`` is None.
    reference : array-like, shape (m, d), optional

    Returns
    -------
    numpy.ndarray, shape (n,), float64, in [−1, 1].

    Chapter "What the centroid misses".
    """
    arr = as_matrix(x, name="x", min_rows=2 if reference is None else 1)
    n, d = arr.shape
    if reference is None:
        mean = _mean(arr, True)
    else:
        ref = as_matrix(reference, name="reference", min_rows=1)
        if ref.shape[1] != d:
            raise ValueError(f"reference has {ref.shape[1]} dimensions, x has {d}; both must live in the same "
                             "embedding space.")
        mean = _mean(ref, True)
    out = np.empty(n)
    for sl in _row_slices(n, d):
        out[sl] = _rows(arr[sl], True) @ mean
    if reference is None:
        out = (n * out - 1.0) / (n - 1.0)
    return np.clip(out, -1.0, 1.0, out=out)


# ---------------------------------------------------------------------------------------------
# joint clustering (Grassucci et al. 2026)


@dataclass(frozen=True)
class JointClustering:
    """Scores of one k-means clustering of the pooled image and text rows (:func:`joint_clustering_score`).

    Attributes
    ----------
    v_measure, ari : float
        V-measure and adjusted Rand index of the clusters against the semantic labels (each
        pair's label given to both its image and its text). 1 = clusters are the classes.
    modality_purity : float
        ``Σ_c max(images in c, texts in c) / (2n)``: 1 when every cluster holds one modality
        only (the gap splits the clusters), 0.5 when every cluster is half images, half texts.
    n_clusters, n_pairs : int
        k, and the pairs clustered (after any subsample).
    labels : numpy.ndarray
        Cluster of each pooled row: the ``n_pairs`` images first, then their texts.
    """

    v_measure: float
    ari: float
    modality_purity: float
    n_clusters: int
    n_pairs: int
    labels: np.ndarray

    def to_dict(self) -> dict[str, float]:
        """The scores and sizes (not the cluster labels) as a plain dict."""
        return {"v_measure": self.v_measure, "ari": self.ari, "modality_purity": self.modality_purity,
                "n_clusters": self.n_clusters, "n_pairs": self.n_pairs}


@validate_params({"n_clusters": [None, Interval(Integral, 2, None, closed="left")], "seed": _SEED,
                  "n_init": [Interval(Integral, 1, None, closed="left")], "max_pairs": [None, Interval(Integral, 2, None,
                                                                                                      closed="left")]})
def joint_clustering_score(image: Any, text: Any, labels: Any, *, n_clusters: int | None = None, seed: int | None = 0,
                           n_init: int = 4, max_pairs: int | None = CLUSTERING_MAX_PAIRS) -> JointClustering:
    """k-means on the pooled modalities, scored against semantic labels and by modality purity (Grassucci et al. 2026).

    The ``2n`` unit rows ``[v̂_1 … v̂_n, t̂_1 … t̂_n]`` are clustered together by scikit-learn's
    ``KMeans`` (Euclidean on the sphere, ``n_init`` restarts, seeded); image ``i`` and text ``i``
    both carry ``labels[i]``. A good joint space puts an image and its caption in the same
    cluster, so the clusters follow the classes (high V-measure and ARI); a wide modality gap
    makes k-means split the rows by modality first (modality purity near 1). Grassucci et al.
    report that closing the gap lifts V-measure by 10–17 points while retrieval barely moves.

    Parameters
    ----------
    image, text : array-like, shape (n, d)
        Matched rows.
    labels : array-like, shape (n,)
        One semantic class per pair (ints or strings).
    n_clusters : int or None
        k; ``None`` = the number of distinct labels.
    seed : int or None
        Seeds k-means and the subsample.
    n_init : int
        k-means restarts (the best inertia is kept).
    max_pairs : int or None
        Above this many pairs a seeded random subset is clustered (default 20,000); ``None`` uses all.

    Returns
    -------
    JointClustering

    Chapter "What the centroid misses".
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    img, txt = as_paired(image, text)
    y = check_labels(labels, img.shape[0], name="labels")
    if y.ndim != 1:
        raise ValueError("labels: joint clustering needs one class per pair (1-D), not a multilabel matrix.")
    n = img.shape[0]
    rng = np.random.default_rng(seed)
    if max_pairs is not None and n > max_pairs:
        keep = np.sort(rng.choice(n, size=max_pairs, replace=False))
        img, txt, y, n = img[keep], txt[keep], y[keep], max_pairs
    k = int(len(np.unique(y))) if n_clusters is None else int(n_clusters)
    if k > 2 * n:
        raise ValueError(f"n_clusters={k} exceeds the {2 * n} pooled rows; pass a smaller n_clusters.")
    pooled = np.vstack([l2_normalize(img, dtype=np.float64), l2_normalize(txt, dtype=np.float64)])
    truth = np.concatenate([y, y])
    km = KMeans(n_clusters=k, n_init=n_init, random_state=None if seed is None else int(rng.integers(2**31)))
    clusters = km.fit_predict(pooled)
    modality = np.repeat([0, 1], n)
    counts = np.zeros((k, 2))
    np.add.at(counts, (clusters, modality), 1)
    purity = float(counts.max(axis=1).sum() / (2 * n))
    return JointClustering(v_measure=float(v_measure_score(truth, clusters)), ari=float(adjusted_rand_score(truth, clusters)),
                           modality_purity=purity, n_clusters=k, n_pairs=int(n), labels=clusters)
