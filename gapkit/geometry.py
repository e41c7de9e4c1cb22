"""Gap and cone metrics: one reference implementation of each (chapters 1, 3, 4).

Conventions (also stated in the book's chapter 3 and in ``shared/background.md``):

- Every function L2-normalises rows first, so all geometry is on the unit sphere.
- ``image`` row ``i`` and ``text`` row ``i`` are a matched pair; ``v̂_i`` / ``t̂_i``
  are the normalised rows, ``n`` the number of pairs, ``d`` the dimension.
- Inputs are ``(n, d)`` numpy arrays or torch tensors. Tensors (CPU or GPU) are
  moved to host memory with :func:`gapkit._validation.to_numpy` and everything is
  computed in numpy: the metrics are memory-bound O(n·d) passes (or O(n·d²) for
  the spectral ones), so a GPU buys little, and one code path keeps results
  identical across devices.
- Every input goes through :func:`~gapkit._validation.as_matrix` /
  :func:`~gapkit._validation.as_paired`, so NaN/inf rows, all-zero rows,
  mismatched ``n``, ``n < 2`` and 1-D input raise ``ValueError`` naming the rows
  or shapes and the fix.

Memory and cost. No function ever holds a normalised copy of the input, and
nothing forms an ``n × n`` matrix:

- centroid, cone and paired metrics are one fused O(n·d) pass: per block of at
  most 512 rows (1 MB of float32 at d = 512, still in cache when it is read
  again) the squared row norms, which are also the input check (a safe squared
  norm proves a row finite and non-zero; :func:`gapkit._validation.unit_scales`),
  then the scaled sums, cosines and distances, in the input's precision
  (float32 stays float32) with float64 accumulators across blocks. The rare
  rows whose squares would overflow or underflow are normalised in float64 by
  the one normaliser; invalid rows raise the full check's ``ValueError``.
  Float32 results agree with float64 references to about 1e-7 (tested to 1e-6);
  the mean pairwise cosine uses the resultant-length identity
  ``mean_{i≠j} cos(x_i, x_j) = (n R² − 1)/(n − 1)`` instead of all pairs;
- the other metrics normalise in float64 blocks of about ``_CHUNK_ELEMS``
  numbers (16 MB) and reduce them on the fly;
- spectral metrics (effective rank, participation ratio, PC1 share) accumulate
  the ``d × d`` scatter matrix of the centred normalised rows (O(n·d²) time,
  O(d²) memory) and take its eigenvalues: the singular values of the centred
  matrix are the square roots of those eigenvalues (when ``n < d`` the
  ``n × n`` Gram matrix is used instead, which has the same non-zero spectrum);
- uniformity is genuinely pairwise: it is computed exactly over all distinct
  pairs of at most ``max_samples`` rows (a seeded random subsample above that),
  in row blocks, never holding the full pairwise matrix;
- linear separability fits a logistic regression on at most ``max_pairs`` pairs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np

from ._distribution import (GapDecomposition, JointClustering, conformity, distribution_gap, frechet_distance,  # noqa: F401
                            gap_decomposition, joint_clustering_score, mmd)
from ._io import atomic_open
from ._validation import (SEED, Integral, Interval, Real, as_matrix, as_paired, l2_normalize, unit_scales,
                          validate_params)

__all__ = [
    "normalize_rows",
    "gap_vector",
    "centroid_gap",
    "paired_distance",
    "paired_cosine",
    "relative_modality_gap",
    "linear_separability",
    "mean_resultant_length",
    "mean_pairwise_cosine",
    "effective_rank",
    "participation_ratio",
    "first_pc_variance_share",
    "alignment",
    "uniformity",
    "gap_report",
    "GapReport",
    "Estimate",
    # what the centroid misses (gapkit._distribution)
    "gap_decomposition", "distribution_gap", "frechet_distance", "mmd", "conformity", "joint_clustering_score",
    "GapDecomposition", "JointClustering",
]

#: Numbers per float64 working block (2**21 -> 16 MB). Tests shrink it to exercise chunking.
_CHUNK_ELEMS = 1 << 21
#: Numbers per block of the fused O(n·d) passes (2**18 -> 1 MB of float32, 512 rows at d = 512): small
#: enough that a block is still in cache when it is read the second time. Capped by ``_CHUNK_ELEMS``.
_FUSED_ELEMS = 1 << 18
#: At most this many rows per fused block, whatever d: a block's sum is accumulated in the input's
#: precision, so its error bound (about ``√B·u`` relative, ``B·u`` at worst) must not grow with n/d.
_FUSED_ROWS = 512

# declarative parameter constraints (checked by gapkit._validation.validate_params)
_SEED = [None, SEED]
_FRACTION = [Interval(Real, 0, 1, closed="neither")]
_KERNEL_T = [Interval(Real, 0, None, closed="neither")]
_MAX_ROWS = [None, Interval(Integral, 2, None, closed="left")]

#: Default subsample size of the pairwise metric :func:`uniformity`.
UNIFORMITY_MAX_SAMPLES = 4096
#: Default number of pairs :func:`linear_separability` trains and tests on.
SEPARABILITY_MAX_PAIRS = 50_000


# ---------------------------------------------------------------------------
# chunked helpers shared by every metric
# ---------------------------------------------------------------------------


def _row_slices(n: int, d: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMS // max(d, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _unit_rows(block: np.ndarray) -> np.ndarray:
    """Float64 copy of ``block`` with unit-norm rows: gapkit's one normaliser, safe at any magnitude."""
    return l2_normalize(block, dtype=np.float64)


def _fused_slices(n: int, d: int) -> Iterator[slice]:
    """Row blocks of the fused O(n·d) passes: at most ``_FUSED_ROWS`` rows and ``_FUSED_ELEMS`` numbers."""
    step = max(1, min(_FUSED_ROWS, min(_FUSED_ELEMS, _CHUNK_ELEMS) // max(d, 1)))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


_BLAS_CONTROLLER: Any = None


def _one_blas_thread() -> Any:
    """Context: numpy's BLAS on one thread, for the matrix-vector products of the fused passes.

    Each ``w @ block`` reads a block that is already in cache, which one core does at memory speed;
    OpenBLAS would split it over threads and, on a shared machine, wait for them (measured: 1.7x
    slower than one thread). Through threadpoolctl (a scikit-learn dependency; without it, a no-op);
    the caller's setting is restored on exit.
    """
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_CONTROLLER = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            _BLAS_CONTROLLER = False
    if _BLAS_CONTROLLER is False:
        return contextlib.nullcontext()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def _work(block: np.ndarray) -> np.ndarray:
    """A block in the precision of the fused passes: float32 and float64 as they are, float16 as float32."""
    if block.dtype not in (np.float32, np.float64):
        block = block.astype(np.float32 if block.dtype.itemsize <= 4 else np.float64)
    return block if block.flags.c_contiguous else np.ascontiguousarray(block)


def _rare_units(block: np.ndarray, rare: np.ndarray, revalidate: Any) -> np.ndarray:
    """Float64 unit rows of the rows :func:`unit_scales` could not scale: huge, tiny, or invalid.

    Invalid rows (NaN/inf, all zeros) make ``revalidate()`` (the full input check) raise the
    ValueError that names every bad row of the input; valid ones go through the one normaliser,
    which rescales them before squaring.
    """
    rows = block[rare]
    if not (np.isfinite(rows).all() and (rows != 0).any(axis=1).all()):
        revalidate()
        raise ValueError("rows with NaN/inf or all zeros cannot be L2-normalised; validate the input with as_matrix().")
    return l2_normalize(rows, dtype=np.float64)


def _unit_sum(x: np.ndarray, revalidate: Any = None) -> np.ndarray:
    """Σ_i x̂_i in float64: validate, normalise and sum in one fused pass per cache-sized block.

    Per block: the squared row norms in the input's precision (float32 stays float32), the scales
    ``w_i = 1/‖x_i‖``, and the weighted sum ``Σ_i w_i x_i`` over the block (in that precision, with
    the block still in cache), which is added to a float64 total. A safe squared norm proves the row
    finite and non-zero, so this is also the row check; the rare rows it flags (huge, tiny, or
    invalid) go through :func:`_rare_units`. Error of a block's sum: ``≲ (B + d)·u·Σ_i|x̂_i|`` at
    worst for ``B`` rows (``u`` the unit roundoff, ``B ≤ _FUSED_ROWS``), about ``√B·u`` relative in
    practice; the float64 total adds no error of its own that grows with n.
    """
    if revalidate is None:
        revalidate = lambda: as_matrix(x)  # noqa: E731
    n, d = x.shape
    total = np.zeros(d, dtype=np.float64)
    with _one_blas_thread():
        for sl in _fused_slices(n, d):
            blk = _work(x[sl])
            w, rare = unit_scales(blk)
            if rare is not None:  # first: an invalid row raises before it reaches the product
                total += _rare_units(blk, rare, revalidate).sum(axis=0)
            total += w @ blk
    return total


@dataclass
class _PairPass:
    sum_image: np.ndarray  # (d,) Σ v̂_i
    sum_text: np.ndarray  # (d,) Σ t̂_i
    cos: np.ndarray | None  # (n,) v̂_i · t̂_i
    dist: np.ndarray | None  # (n,) ‖v̂_i − t̂_i‖ (from the difference vector wherever cos > 1/2: no cancellation)
    boot_image: np.ndarray | None = None  # (B, d) Σ_i w_bi v̂_i
    boot_text: np.ndarray | None = None


#: Pairs with a cosine above this get their distance from the difference vector, the others from 2 − 2cos
#: (which is ≥ 1 there, so the subtraction loses nothing).
_DIRECT_DISTANCE_COS = 0.5


def _units64(block: np.ndarray, w: np.ndarray, rare: np.ndarray | None, rare_units: np.ndarray | None) -> np.ndarray:
    u = block.astype(np.float64) * w[:, None]
    if rare is not None:
        u[rare] = rare_units
    return u


def _pair_pass(img: np.ndarray, txt: np.ndarray, weights: np.ndarray | None = None, *, sums: bool = True,
               cos: bool = True, dist: bool = True) -> _PairPass:
    """One fused pass over matched rows: modality sums, per-pair cosine and distance (those asked for).

    Each block is validated, normalised and reduced while it is in cache, as in :func:`_unit_sum`
    (float32 input in float32, float64 accumulators). Cosines are ``(v_i·t_i)·w_v·w_t``; distances
    are ``√(2 − 2cos)`` where ``cos ≤ 1/2`` and ``‖w_v v_i − w_t t_i‖`` (the difference vector) for
    the closer pairs, where the subtraction would cancel. Rows :func:`unit_scales` flags are
    normalised in float64 by the one normaliser. With bootstrap count ``weights`` (B, n) it also
    accumulates the weighted sums (float64 unit rows).
    """
    n, d = img.shape
    need_cos = cos or dist
    out = _PairPass(np.zeros(d), np.zeros(d), np.empty(n) if need_cos else None, np.empty(n) if dist else None)
    if weights is not None:
        out.boot_image = np.zeros((weights.shape[0], d))
        out.boot_text = np.zeros((weights.shape[0], d))

    def revalidate() -> None:
        as_paired(img, txt)

    with contextlib.nullcontext() if weights is not None else _one_blas_thread():  # (bootstrap GEMMs: all threads)
        for sl in _fused_slices(n, d):
            _pair_block(out, img[sl], txt[sl], sl, None if weights is None else weights[:, sl], sums, dist,
                        revalidate)
    return out


def _pair_block(out: _PairPass, img_blk: np.ndarray, txt_blk: np.ndarray, sl: slice, weights: np.ndarray | None,
                sums: bool, dist: bool, revalidate: Any) -> None:
    """The body of :func:`_pair_pass` for one block of rows ``sl``."""
    need_cos = out.cos is not None
    v, t = _work(img_blk), _work(txt_blk)
    wv, rv = unit_scales(v)
    wt, rt = unit_scales(t)
    uv = None if rv is None else _rare_units(v, rv, revalidate)
    ut = None if rt is None else _rare_units(t, rt, revalidate)
    if sums or weights is not None:
        out.sum_image += wv @ v
        out.sum_text += wt @ t
        if uv is not None:
            out.sum_image += uv.sum(axis=0)
        if ut is not None:
            out.sum_text += ut.sum(axis=0)
    both = None
    if uv is not None or ut is not None:  # pairs with a rare row: their cosine and distance in float64 below
        both = np.union1d(np.asarray([] if rv is None else rv, dtype=np.intp),
                          np.asarray([] if rt is None else rt, dtype=np.intp))
    if need_cos:
        if both is None:
            c = np.vecdot(v, t)
        else:
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                c = np.vecdot(v, t)
            c[both] = 0.0  # (may be inf or NaN; recomputed below)
        c *= wv
        c *= wt
        cos_blk = c.astype(np.float64)
        if dist:
            d2 = 2.0 - 2.0 * cos_blk
            close = np.flatnonzero(c > _DIRECT_DISTANCE_COS)
            if close.size:
                diff = v[close] * wv[close, None]
                diff -= t[close] * wt[close, None]
                d2[close] = np.einsum("ij,ij->i", diff, diff)
        if both is not None:
            pv = _units64(v[both], wv[both], *_rare_in(both, rv, uv))
            pt = _units64(t[both], wt[both], *_rare_in(both, rt, ut))
            cos_blk[both] = np.einsum("ij,ij->i", pv, pt)
            if dist:
                pv -= pt
                d2[both] = np.einsum("ij,ij->i", pv, pv)
        out.cos[sl] = cos_blk
        if dist:
            out.dist[sl] = np.sqrt(np.maximum(d2, 0.0))
    if weights is not None:
        wb = weights.astype(np.float64)
        out.boot_image += wb @ _units64(v, wv, rv, uv)
        out.boot_text += wb @ _units64(t, wt, rt, ut)


def _rare_in(rows: np.ndarray, rare: np.ndarray | None, units: np.ndarray | None) -> tuple[Any, Any]:
    """Positions of ``rare`` within the sorted ``rows`` and their unit rows (or ``(None, None)``)."""
    if rare is None:
        return None, None
    return np.searchsorted(rows, rare), units


def _off_diagonal_cosine(sum_vec: np.ndarray, n: float, sum_sq_weights: float | None = None) -> float:
    """Mean cosine over pairs of distinct rows from the resultant Σ x̂_i.

    ``Σ_{i≠j} x̂_i·x̂_j = ‖Σ x̂_i‖² − n`` for unit rows, hence
    ``(n R² − 1)/(n − 1)`` with ``R = ‖Σ x̂_i‖/n``. With bootstrap counts ``w``
    (Σw = n) the pairs of *distinct original rows* give
    ``(‖Σ w_i x̂_i‖² − Σ w_i²)/(n² − Σ w_i²)``, which is the unweighted formula at w = 1.
    """
    ssw = n if sum_sq_weights is None else sum_sq_weights
    return float((sum_vec @ sum_vec - ssw) / (n * n - ssw))


def _rmg_from_parts(mean_cos_pair: float, mpc_image: float, mpc_text: float) -> float:
    m = (1.0 - mean_cos_pair) / 2.0
    a = min(max((1.0 - mpc_image) / 2.0, 0.0), 1.0)
    b = min(max((1.0 - mpc_text) / 2.0, 0.0), 1.0)
    m = max(m, 0.0)
    if m == 0.0:
        return 0.0
    return float(m / (m + (a + b) / 2.0))


def _centred_spectrum(x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Eigenvalues (descending, ≥ 0) of the scatter matrix of the mean-centred normalised rows.

    These are σ_k² for the singular values σ_k of the centred matrix. For
    ``n ≥ d`` the ``d × d`` scatter is accumulated in chunks with a pilot shift
    (the first chunk's mean), which keeps the centring accurate for tight cones;
    for ``n < d`` the ``n × n`` Gram matrix of the centred rows is used. Optional
    non-negative ``weights`` (bootstrap counts) weight each row. Eigenvalues
    below ``max(n, d)·eps·λ_max`` are numerical noise and set to exactly 0.
    """
    n, d = x.shape
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        total = float(weights.sum())
        n_used = int(np.count_nonzero(weights))
    else:
        total = float(n)
        n_used = n
    if n < d:
        if weights is not None:
            keep = weights > 0
            x, weights = x[keep], weights[keep]
        u = _unit_rows(x)
        mu = u.mean(axis=0) if weights is None else weights @ u / total
        u -= mu
        if weights is not None:
            u *= np.sqrt(weights)[:, None]
        lam = np.linalg.eigvalsh(u @ u.T)
    else:
        shift = None
        s = np.zeros(d)
        g = np.zeros((d, d))
        for sl in _row_slices(n, d):
            if weights is None:
                c = _unit_rows(x[sl])
            else:
                w = weights[sl]
                keep = w > 0
                if not keep.any():
                    continue
                c, w = _unit_rows(x[sl][keep]), w[keep]
            if shift is None:
                shift = c.mean(axis=0)
            c -= shift
            if weights is None:
                s += c.sum(axis=0)
            else:
                s += w @ c
                c *= np.sqrt(w)[:, None]
            g += c.T @ c  # numpy dispatches A.T @ A to BLAS syrk
        mu = s / total
        g -= total * np.outer(mu, mu)
        lam = np.linalg.eigvalsh((g + g.T) / 2.0)
    lam = lam[::-1].copy()
    top = lam[0] if lam.size else 0.0
    lam[lam <= max(n_used, d) * np.finfo(np.float64).eps * max(top, 0.0)] = 0.0
    return lam


def _effective_rank_from(lam: np.ndarray) -> float:
    sigma = np.sqrt(lam)
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma[sigma > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def _participation_ratio_from(lam: np.ndarray) -> float:
    sq = float((lam * lam).sum())
    return 0.0 if sq <= 0 else float(lam.sum() ** 2 / sq)


def _pc1_share_from(lam: np.ndarray) -> float:
    total = float(lam.sum())
    return float("nan") if total <= 0 else float(lam[0] / total)


def _subsample_index(n: int, max_samples: int | None, seed: int | None) -> np.ndarray | None:
    if max_samples is None or n <= max_samples:
        return None
    if max_samples < 2:
        raise ValueError(f"max_samples must be at least 2, got {max_samples}.")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_samples, replace=False))


def _uniformity_core(u: np.ndarray, t: float, weights: np.ndarray | None, block_size: int | None) -> np.ndarray:
    """log of the mean of exp(−t‖x̂_i − x̂_j‖²) over ordered pairs of distinct rows i ≠ j.

    ``u`` holds unit rows (m, d). Rows are processed in blocks of ``block_size``
    (default: about ``_CHUNK_ELEMS`` numbers per block), with an online
    log-sum-exp so large ``t`` cannot underflow. With bootstrap counts
    ``weights`` (B, m), the weighted U-statistic
    ``Σ_{i≠j} w_i w_j k_ij / Σ_{i≠j} w_i w_j`` is returned for every row of
    weights (pairs of a row with its own duplicate are excluded, as in the
    point estimate). Returns shape (B,) or (1,).
    """
    m = u.shape[0]
    if block_size is None:
        block_size = max(1, _CHUNK_ELEMS // max(m, 1))
    w = None if weights is None else weights.astype(np.float64)
    n_out = 1 if w is None else w.shape[0]
    acc = np.zeros(n_out)
    run_max = -np.inf
    for start in range(0, m, block_size):
        stop = min(m, start + block_size)
        logk = u[start:stop] @ u.T  # cosines
        np.clip(logk, -1.0, 1.0, out=logk)
        logk = -t * (2.0 - 2.0 * logk)  # −t‖x̂_i − x̂_j‖²
        rows = np.arange(stop - start)
        logk[rows, start + rows] = -np.inf  # exclude i == j
        blk_max = float(logk.max()) if np.isfinite(logk).any() else -np.inf
        if blk_max > run_max:
            if np.isfinite(run_max):
                acc *= np.exp(run_max - blk_max)
            run_max = blk_max
        if not np.isfinite(run_max):
            continue
        k = np.exp(logk - run_max)
        if w is None:
            acc[0] += k.sum()
        else:
            acc += np.einsum("bj,bj->b", w[:, start:stop] @ k, w)
    if w is None:
        pairs = np.array([m * (m - 1.0)])
    else:
        pairs = w.sum(axis=1) ** 2 - (w * w).sum(axis=1)
    with np.errstate(divide="ignore"):
        return np.log(acc) + run_max - np.log(pairs)


def _pair_split(n: int, test_size: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test split of *pair indices* (image i and text i always share a side)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be strictly between 0 and 1, got {test_size}.")
    n_test = min(n - 1, max(1, int(round(test_size * n))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _separability(img: np.ndarray, txt: np.ndarray, test_size: float, seed: int | None,
                  max_pairs: int | None, C: float) -> tuple[float, int]:
    from sklearn.linear_model import LogisticRegression

    n = img.shape[0]
    rng = np.random.default_rng(seed)
    if max_pairs is not None and n > max_pairs:
        if max_pairs < 2:
            raise ValueError(f"max_pairs must be at least 2, got {max_pairs}.")
        keep = np.sort(rng.choice(n, size=max_pairs, replace=False))
        img, txt, n = img[keep], txt[keep], max_pairs
    train, test = _pair_split(n, test_size, rng.integers(2**32))
    v, t = l2_normalize(img, dtype=np.float64), l2_normalize(txt, dtype=np.float64)

    def stack(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats = np.concatenate([v[idx], t[idx]])
        labels = np.concatenate([np.ones(len(idx), dtype=int), np.zeros(len(idx), dtype=int)])
        return feats, labels

    x_tr, y_tr = stack(train)
    x_te, y_te = stack(test)
    clf = LogisticRegression(C=C, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on perfectly separable data is expected
        clf.fit(x_tr, y_tr)
    return float((clf.predict(x_te) == y_te).mean()), len(y_te)


# ---------------------------------------------------------------------------
# public metrics
# ---------------------------------------------------------------------------


def normalize_rows(x: Any, *, dtype: Any = None) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm (a new array): embeddings put on the unit sphere.

    Every metric here normalises internally; use this where a chapter works with
    the unit rows themselves (cosines, margins, projections). Validated: NaN/inf
    rows and all-zero rows raise a ``ValueError`` naming the rows and the fix.

    Parameters
    ----------
    x : array-like or torch.Tensor, shape (n, d)
    dtype : numpy dtype, optional
        Result dtype (default: ``x``'s float type, at least float32).

    Used in chapters 4 and 6.
    """
    return l2_normalize(as_matrix(x, name="x", min_rows=1), dtype=dtype)


def gap_vector(image: Any, text: Any) -> np.ndarray:
    """Gap vector Δ = mean_i v̂_i − mean_i t̂_i (image centroid minus text centroid).

    Rows are L2-normalised first. One chunked O(n·d) pass, float64 accumulation.

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
        Matched embeddings (row ``i`` of each is a pair).

    Returns
    -------
    numpy.ndarray, shape (d,), float64

    Used in chapters 3 and 4 and by :class:`gapkit.shift.LambdaShift`.
    """
    img, txt = as_paired(image, text, check_rows=False)  # rows are checked inside the fused pass

    def revalidate() -> None:
        as_paired(img, txt)

    n = img.shape[0]
    return _unit_sum(img, revalidate) / n - _unit_sum(txt, revalidate) / n


def centroid_gap(image: Any, text: Any) -> float:
    """Centroid gap ‖Δ‖₂ (Liang et al. 2022) between the normalised modality centroids.

    Rows are L2-normalised first. Range [0, 2]; about 0.82 for CLIP ViT-B/32 on
    5,000 COCO pairs. O(n·d), no n × n matrix. Chapters 1, 3, 4.
    """
    return float(np.linalg.norm(gap_vector(image, text)))


def paired_distance(image: Any, text: Any) -> float:
    """Mean distance between matched pairs, mean_i ‖v̂_i − t̂_i‖₂.

    Rows are L2-normalised first. Range [0, 2]. The distance is computed from
    the difference vector, not from ``sqrt(2 − 2 cos)``, so near-identical pairs
    keep full precision. O(n·d). Chapter 3.
    """
    img, txt = as_paired(image, text, check_rows=False)  # rows are checked inside the fused pass
    return float(_pair_pass(img, txt, sums=False).dist.mean())


def paired_cosine(image: Any, text: Any) -> float:
    """Mean cosine similarity of matched pairs, mean_i cos(v_i, t_i).

    Rows are L2-normalised first. About 0.3 for real CLIP models. O(n·d). Chapter 3.
    """
    img, txt = as_paired(image, text, check_rows=False)  # rows are checked inside the fused pass
    return float(_pair_pass(img, txt, sums=False, dist=False).cos.mean())


def relative_modality_gap(image: Any, text: Any) -> float:
    """Relative modality gap (RMG) in Schrodi et al.'s (2025) reference form.

    Rows are L2-normalised first. With the dissimilarity
    ``δ(u, w) = (1 − cos(u, w))/2`` ∈ [0, 1]::

        m = mean_i δ(v_i, t_i)              (matched pairs)
        a = mean_{i≠j} δ(v_i, v_j)          (within images)
        b = mean_{i≠j} δ(t_i, t_j)          (within texts)
        RMG = m / (m + (a + b)/2)

    ``a`` and ``b`` use the resultant-length identity
    ``mean_{i≠j} cos = (n R² − 1)/(n − 1)``, so the cost is O(n·d) rather than
    O(n²·d). RMG is 0 when every pair coincides (defined as 0 also in the
    degenerate case m = a = b = 0) and approaches 1 when the pairs are far
    apart relative to the spread inside each modality.

    Why public copies disagree (0.50 vs 0.71 vs 0.80 on the same data): the
    ``/2`` inside δ cancels between numerator and denominator, but the ``/2``
    that *averages* the two modalities does not; copies that write
    ``m / (m + a + b)`` shrink the value, and copies that put cosine
    *similarities* (or ``1 − cos``) into the within-modality terms while using
    ``(1 − cos)/2`` for ``m`` mix two scales. Our tests pin the form above on
    closed-form cases (e.g. antipodal cones).

    One difference from Schrodi et al.'s code: it clamps the matching term
    from below, ``m ← max(m, 1e-3)``, to avoid 0/0; we do not clamp. The two
    agree whenever ``m ≥ 1e-3`` (mean paired cosine ≤ 0.998). When
    image == text (every pair identical, ``m = 0``) ours returns exactly 0 (no
    gap), while the clamped form returns ``1e-3 / (1e-3 + (a + b)/2)``: about
    0.002 for a typical spread ``a = b = 0.5``, and 1 when, in addition, all
    rows coincide (``a = b = 0``), the case ours defines as 0.

    Chapter 3.
    """
    img, txt = as_paired(image, text, check_rows=False)  # rows are checked inside the fused pass
    n = img.shape[0]
    p = _pair_pass(img, txt, dist=False)
    return _rmg_from_parts(
        float(p.cos.mean()), _off_diagonal_cosine(p.sum_image, n), _off_diagonal_cosine(p.sum_text, n)
    )


@validate_params({"test_size": _FRACTION, "seed": _SEED, "max_pairs": _MAX_ROWS,
                  "C": [Interval(Real, 0, None, closed="neither")]})
def linear_separability(
    image: Any,
    text: Any,
    test_size: float = 0.2,
    seed: int | None = 0,
    *,
    max_pairs: int | None = SEPARABILITY_MAX_PAIRS,
    C: float = 1.0,
) -> float:
    """Held-out accuracy of a logistic regression telling image rows from text rows.

    Rows are L2-normalised first. The *pairs* are split at random (seeded) into
    ``1 − test_size`` train and ``test_size`` test, so image ``i`` and text ``i``
    always fall on the same side (no leakage through the matched partner).
    Label 1 = image, 0 = text; scikit-learn ``LogisticRegression(C=C)`` with its
    default L2 penalty. 1.0 = modalities fully apart; 0.5 = no gap (with
    identical modalities it is exactly 0.5, since both rows of a test pair get
    the same prediction).

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
    test_size : float
        Share of pairs held out (default 0.2).
    seed : int or None
        Seeds the subsample and the split.
    max_pairs : int or None
        Above this many pairs a seeded random subset of ``max_pairs`` pairs is
        used (default 50,000, i.e. 100,000 rows); ``None`` uses all pairs.
    C : float
        Inverse L2 regularisation strength.

    Chapter 3.
    """
    img, txt = as_paired(image, text)
    return _separability(img, txt, test_size, seed, max_pairs, C)[0]


def mean_resultant_length(x: Any) -> float:
    """Cone strength R = ‖mean_i x̂_i‖₂ of one modality.

    Rows are L2-normalised first. 1 = all rows identical, ≈ 0 = spread over the
    sphere. O(n·d) chunked pass. Chapters 1, 3, 4.
    """
    arr = as_matrix(x, check_rows=False)  # rows are checked inside the fused pass
    return float(np.linalg.norm(_unit_sum(arr)) / arr.shape[0])


def mean_pairwise_cosine(x: Any) -> float:
    """Mean cosine over pairs of distinct rows, mean_{i≠j} cos(x_i, x_j).

    Rows are L2-normalised first. Computed in O(n·d) from the identity
    ``(n R² − 1)/(n − 1)`` with R the mean resultant length (no n × n matrix).
    Liang et al.: about 0.47 (CLIP image) / 0.51 (CLIP text) on COCO. Chapter 1.
    """
    arr = as_matrix(x, check_rows=False)  # rows are checked inside the fused pass
    return _off_diagonal_cosine(_unit_sum(arr), arr.shape[0])


def effective_rank(x: Any) -> float:
    """Effective rank (Roy & Vetterli 2007) of the mean-centred normalised matrix.

    Rows are L2-normalised, then the mean row is subtracted. With singular
    values σ_k, ``p_k = σ_k / Σ_j σ_j`` and ``erank = exp(−Σ_k p_k log p_k)``:
    k equal non-zero singular values give exactly k. The σ_k are square roots of
    the eigenvalues of the ``d × d`` scatter matrix, accumulated in chunks
    (O(n·d²) time, O(d²) memory; ``n × n`` Gram when ``n < d``); eigenvalues
    below ``max(n, d)·eps·λ_max`` count as exact zeros. Returns 0.0 when all
    rows point the same way (zero matrix after centring). Chapters 1, 3.
    """
    return _effective_rank_from(_centred_spectrum(as_matrix(x)))


def participation_ratio(x: Any) -> float:
    """Participation ratio ``(Σλ)² / Σλ²`` of the covariance eigenvalues.

    Rows are L2-normalised and mean-centred first; λ are the eigenvalues of the
    covariance (scale-free, so the scatter matrix's eigenvalues give the same
    ratio). k equal directions give exactly k. Same cost as
    :func:`effective_rank`; 0.0 for a zero matrix after centring. Chapter 1.
    """
    return _participation_ratio_from(_centred_spectrum(as_matrix(x)))


def first_pc_variance_share(x: Any) -> float:
    """Share of the total variance on the first principal component, λ₁ / Σλ.

    Rows are L2-normalised and mean-centred first. Same cost as
    :func:`effective_rank`; NaN when there is no variance at all. Chapter 1.
    """
    return _pc1_share_from(_centred_spectrum(as_matrix(x)))


def alignment(image: Any, text: Any) -> float:
    """Alignment (Wang & Isola 2020): E_i ‖v̂_i − t̂_i‖² over matched pairs.

    Rows are L2-normalised first. Equals ``2 − 2·paired_cosine`` for unit rows;
    range [0, 4], lower is better aligned. O(n·d). Chapter 3.
    """
    img, txt = as_paired(image, text, check_rows=False)  # rows are checked inside the fused pass
    dist = _pair_pass(img, txt, sums=False).dist
    return float((dist * dist).mean())


@validate_params({"t": _KERNEL_T, "max_samples": _MAX_ROWS, "seed": _SEED,
                  "block_size": [None, Interval(Integral, 1, None, closed="left")]})
def uniformity(
    x: Any,
    t: float = 2.0,
    max_samples: int | None = UNIFORMITY_MAX_SAMPLES,
    seed: int | None = 0,
    *,
    block_size: int | None = None,
) -> float:
    """Uniformity (Wang & Isola 2020): log E exp(−t‖x̂ − x̂′‖²) over distinct pairs.

    Rows are L2-normalised first. This metric is pairwise, so it is both
    **subsampled** and **blocked**: when ``n > max_samples`` a seeded random
    subset of ``max_samples`` rows (without replacement) is used; over the rows
    kept, the mean runs exactly over all pairs i ≠ j, computed in row blocks of
    ``block_size`` rows (default: about 2M numbers per block) with an online
    log-sum-exp, so the full pairwise matrix is never held. Cost
    O(m²·d) for m = min(n, max_samples). Lower (more negative) = more uniform;
    the minimum for t = 2 on a high-dimensional sphere is about −4.

    Parameters
    ----------
    x : array-like or torch.Tensor, shape (n, d)
    t : float
        Kernel scale (2 in Wang & Isola).
    max_samples : int or None
        Subsample size (default 4096); ``None`` = all rows (O(n²·d) time).
    seed : int or None
        Seeds the subsample.
    block_size : int, optional
        Rows per block.

    Chapter 3.
    """
    arr = as_matrix(x)
    idx = _subsample_index(arr.shape[0], max_samples, seed)
    u = _unit_rows(arr if idx is None else arr[idx])
    return float(_uniformity_core(u, float(t), None, block_size)[0])


# ---------------------------------------------------------------------------
# report with bootstrap intervals
# ---------------------------------------------------------------------------

_PAIR = "image-text"
_MODALITIES = ("image", "text")


@dataclass(frozen=True)
class Estimate:
    """One metric value with its confidence interval.

    Attributes
    ----------
    metric : str
        Name of the gapkit function that computes it.
    modality : {"image", "text", "image-text"}
        ``"image-text"`` for cross-modal metrics.
    value : float
        Point estimate on all the data.
    ci_low, ci_high : float
        Interval bounds (NaN when no interval was computed).
    method : str
        ``"percentile bootstrap"``, ``"percentile bootstrap (bias-centred)"``
        (spectral metrics, see :func:`gap_report`), ``"wilson (held-out set)"`` or ``"none"``.
    n_boot : int
        Bootstrap replicates behind the interval (0 if not bootstrapped).
    """

    metric: str
    modality: str
    value: float
    ci_low: float
    ci_high: float
    method: str
    n_boot: int


@dataclass(frozen=True)
class GapReport:
    """Every gap and cone metric of one paired data set, with confidence intervals.

    Built by :func:`gap_report`. ``estimates`` holds one :class:`Estimate` per
    (metric, modality); look one up with ``report.get("centroid_gap")`` or
    ``report.get("effective_rank", "text")``, or its value with
    ``report["centroid_gap"]`` / ``report["effective_rank", "text"]``.
    """

    n: int
    d: int
    n_boot: int
    seed: int | None
    ci_level: float
    estimates: tuple[Estimate, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def get(self, metric: str, modality: str | None = None) -> Estimate:
        """The estimate for ``metric`` (``modality`` required for per-modality metrics)."""
        hits = [e for e in self.estimates if e.metric == metric and (modality is None or e.modality == modality)]
        if len(hits) != 1:
            known = sorted({(e.metric, e.modality) for e in self.estimates})
            raise KeyError(
                f"no unique estimate for metric={metric!r}, modality={modality!r}; "
                f"per-modality metrics need modality='image' or 'text'. Known: {known}"
            )
        return hits[0]

    def __getitem__(self, key: str | tuple[str, str]) -> float:
        metric, modality = (key, None) if isinstance(key, str) else key
        return self.get(metric, modality).value

    def to_frame(self):  # -> pandas.DataFrame
        """Tidy table: one row per (metric, modality) with value, ci_low, ci_high, method, n_boot."""
        import pandas as pd

        cols = ["metric", "modality", "value", "ci_low", "ci_high", "method", "n_boot"]
        return pd.DataFrame([asdict(e) for e in self.estimates], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes ``None``)."""

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "format": "gapkit.GapReport",
            "version": 1,
            "n": self.n,
            "d": self.d,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "ci_level": self.ci_level,
            "params": dict(self.params),
            "estimates": [{k: clean(v) for k, v in asdict(e).items()} for e in self.estimates],
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Serialise to JSON; with ``path``, also write it atomically (temp file + ``os.replace``)."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            with atomic_open(path, "w") as fh:
                fh.write(text)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> "GapReport":
        """Rebuild a report from a JSON string or from a path written by :meth:`to_json`."""
        if isinstance(source, str) and source.lstrip().startswith("{"):
            data = json.loads(source)
        else:
            with open(source, encoding="utf-8") as fh:
                data = json.load(fh)
        if data.get("format") != "gapkit.GapReport":
            raise ValueError("not a gapkit GapReport JSON document (missing format='gapkit.GapReport').")

        def num(v: Any) -> float:
            return float("nan") if v is None else float(v)

        estimates = tuple(
            Estimate(
                metric=e["metric"], modality=e["modality"], value=num(e["value"]), ci_low=num(e["ci_low"]),
                ci_high=num(e["ci_high"]), method=e["method"], n_boot=int(e["n_boot"]),
            )
            for e in data["estimates"]
        )
        return cls(
            n=int(data["n"]), d=int(data["d"]), n_boot=int(data["n_boot"]), seed=data["seed"],
            ci_level=float(data["ci_level"]), estimates=estimates, params=dict(data.get("params", {})),
        )


def _bootstrap_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) resampling counts: row b says how often each pair was drawn in replicate b."""
    counts = np.empty((n_boot, n), dtype=np.uint16)
    for b in range(n_boot):
        counts[b] = np.bincount(rng.integers(0, n, size=n), minlength=n)
    return counts


def _weighted_sums(counts: np.ndarray, first: np.ndarray, *vectors: np.ndarray) -> list[np.ndarray]:
    """``counts**2 @ first`` and ``counts @ v`` for each v, in column chunks (no float64 copy of counts)."""
    b, n = counts.shape
    out = [np.zeros(b) for _ in range(1 + len(vectors))]
    for sl in _row_slices(n, b):
        w = counts[:, sl].astype(np.float64)
        out[0] += (w * w) @ first[sl]
        for k, v in enumerate(vectors, start=1):
            out[k] += w @ v[sl]
    return out


def _wilson(acc: float, n: int, level: float) -> tuple[float, float]:
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2.0))
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@validate_params({"n_boot": [Interval(Integral, 0, None, closed="left")], "seed": _SEED, "ci": _FRACTION,
                  "spectral_boot": [None, Interval(Integral, 0, None, closed="left")], "uniformity_t": _KERNEL_T,
                  "uniformity_max_samples": _MAX_ROWS, "separability": ["boolean"], "test_size": _FRACTION,
                  "separability_max_pairs": _MAX_ROWS, "two_sample": ["boolean"]})
def gap_report(
    image: Any,
    text: Any,
    n_boot: int = 200,
    seed: int | None = 0,
    *,
    ci: float = 0.95,
    spectral_boot: int | None = 50,
    uniformity_t: float = 2.0,
    uniformity_max_samples: int | None = UNIFORMITY_MAX_SAMPLES,
    separability: bool = True,
    test_size: float = 0.2,
    separability_max_pairs: int | None = SEPARABILITY_MAX_PAIRS,
    two_sample: bool = False,
) -> GapReport:
    """Every gap and cone metric with percentile-bootstrap confidence intervals.

    Rows are L2-normalised first. Point estimates are the values of the
    standalone functions on all the data (same seeds, so e.g.
    ``report["uniformity", "image"] == uniformity(image, seed=seed)``).
    Intervals resample *pairs* with replacement and take the
    ``(1 − ci)/2`` and ``(1 + ci)/2`` percentiles of the replicates:

    - centroid gap, paired distance/cosine, alignment, RMG, mean resultant
      length and mean pairwise cosine: ``n_boot`` replicates, vectorised (one
      chunked pass with a ``(n_boot, n)`` count matrix, O(n_boot·n·d));
      pairwise means in replicates run over pairs of distinct original rows,
      so duplicated draws do not count as zero-distance pairs;
    - raw gap and distribution gap (:func:`gap_decomposition`, ``raw² = centroid² +
      distribution²``): same replicates, each from its resample's alignment and centroid gap;
    - effective rank, participation ratio, PC1 share: ``spectral_boot``
      replicates (default 50; ``None`` = ``n_boot``), each O(n·d²). A resample
      holds only ~63 % distinct rows (its effective sample size is about n/2),
      which spreads the sample eigenvalues further apart (Marchenko–Pastur), so
      raw replicates of these statistics are biased (effective rank and
      participation ratio low, PC1 share high) by more than their spread when
      d/n is not small. The replicates are therefore recentred on the point
      estimate before taking percentiles (method
      ``"percentile bootstrap (bias-centred)"``): the interval shows sampling
      spread around the estimate; it does not remove the estimator's own
      finite-sample bias, which also grows with d/n;
    - uniformity: ``n_boot`` replicates over the (sub)sample of at most
      ``uniformity_max_samples`` pairs, blocked;
    - linear separability: not bootstrapped (one fit per replicate would be too
      slow); its interval is the Wilson score interval of the held-out accuracy,
      which covers test-set noise only.

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
    n_boot : int
        Bootstrap replicates (0 = no intervals, NaN bounds).
    seed : int or None
        Seeds the bootstrap, the uniformity subsample and the separability split.
    ci : float
        Confidence level (default 0.95).
    spectral_boot, uniformity_t, uniformity_max_samples, separability, test_size, separability_max_pairs
        See above and the standalone functions.
    two_sample : bool
        Also report :func:`frechet_distance` and :func:`mmd` of the centred modalities (point
        estimates, not bootstrapped: each replicate would cost an O(n·d²) fit; NaN bounds).

    Returns
    -------
    GapReport
        Also stores ``n``, ``d``, ``n_boot``, ``seed`` and the parameters.

    Notes
    -----
    Cost: one O(n_boot·n·d) pass, ``2·spectral_boot`` O(n·d²) passes and
    O(n_boot·m²) for uniformity, plus an ``(n_boot, n)`` uint16 count matrix.
    About 5 s for n = 5,000, d = 512 on two CPU cores; for n in the
    hundreds of thousands lower ``spectral_boot`` (or pass ``0``) first.

    Chapters 3, 4.
    """
    img, txt = as_paired(image, text)
    n, d = img.shape
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be strictly between 0 and 1, got {ci}.")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}.")
    q = (100 * (1 - ci) / 2, 100 * (1 + ci) / 2)
    boot_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0] if seed is not None else None)
    counts = _bootstrap_counts(n, n_boot, boot_rng) if n_boot > 0 else None
    estimates: list[Estimate] = []

    def add(metric: str, modality: str, value: float, reps: np.ndarray | None, method: str = "percentile bootstrap"):
        if reps is None or len(reps) == 0:
            lo = hi = float("nan")
            method, nb = "none", 0
        else:
            reps = np.asarray(reps, dtype=np.float64)
            lo, hi = (float(v) for v in np.nanpercentile(reps, q))
            nb = len(reps)
        estimates.append(Estimate(metric, modality, float(value), lo, hi, method, nb))

    # one pass: sums, per-pair cosines and distances, bootstrap-weighted sums
    p = _pair_pass(img, txt, counts)
    sums = {"image": p.sum_image, "text": p.sum_text}
    mpc = {mod: _off_diagonal_cosine(s, n) for mod, s in sums.items()}
    mean_cos = float(p.cos.mean())
    if counts is not None:
        ssw, boot_cos, boot_dist, boot_align = _weighted_sums(counts, np.ones(n), p.cos, p.dist, p.dist * p.dist)
        boot_cos, boot_dist, boot_align = boot_cos / n, boot_dist / n, boot_align / n
        boot_sums = {"image": p.boot_image, "text": p.boot_text}
        boot_mpc = {
            mod: (np.einsum("bd,bd->b", s, s) - ssw) / (n * n - ssw) for mod, s in boot_sums.items()
        }
        boot_gap = np.linalg.norm((p.boot_image - p.boot_text) / n, axis=1)
        boot_rmg = np.array(
            [_rmg_from_parts(boot_cos[b], boot_mpc["image"][b], boot_mpc["text"][b]) for b in range(n_boot)]
        )
    else:
        boot_sums = boot_mpc = {"image": None, "text": None}
        boot_cos = boot_gap = boot_dist = boot_align = boot_rmg = None

    add("centroid_gap", _PAIR, np.linalg.norm((p.sum_image - p.sum_text) / n), boot_gap)
    add("paired_distance", _PAIR, p.dist.mean(), boot_dist)
    add("paired_cosine", _PAIR, mean_cos, boot_cos)
    add("alignment", _PAIR, (p.dist * p.dist).mean(), boot_align)
    dec = gap_decomposition(img, txt)
    add("raw_gap", _PAIR, dec.raw, None if boot_align is None else np.sqrt(boot_align))
    add("distribution_gap", _PAIR, dec.distribution,
        None if boot_align is None else np.sqrt(np.clip(boot_align - boot_gap * boot_gap, 0.0, None)))
    if two_sample:
        add("frechet_distance", _PAIR, frechet_distance(img, txt), None)
        add("mmd", _PAIR, mmd(img, txt, seed=seed), None)
    add("relative_modality_gap", _PAIR, _rmg_from_parts(mean_cos, mpc["image"], mpc["text"]), boot_rmg)
    if separability:
        acc, n_test = _separability(img, txt, test_size, seed, separability_max_pairs, 1.0)
        lo, hi = _wilson(acc, n_test, ci)
        estimates.append(Estimate("linear_separability", _PAIR, acc, lo, hi, "wilson (held-out set)", 0))

    arrays = {"image": img, "text": txt}
    n_spec = n_boot if spectral_boot is None else min(spectral_boot, n_boot)
    uidx = _subsample_index(n, uniformity_max_samples, seed)
    m = n if uidx is None else len(uidx)
    ucounts = _bootstrap_counts(m, n_boot, boot_rng) if n_boot > 0 else None
    for mod in _MODALITIES:
        arr = arrays[mod]
        add("mean_resultant_length", mod, np.linalg.norm(sums[mod]) / n,
            None if counts is None else np.linalg.norm(boot_sums[mod], axis=1) / n)
        add("mean_pairwise_cosine", mod, mpc[mod], boot_mpc[mod])
        lam = _centred_spectrum(arr)
        spec_reps = [_centred_spectrum(arr, counts[b]) for b in range(n_spec)] if counts is not None else []
        for name, fn in (
            ("effective_rank", _effective_rank_from),
            ("participation_ratio", _participation_ratio_from),
            ("first_pc_variance_share", _pc1_share_from),
        ):
            value = fn(lam)
            reps = np.array([fn(r) for r in spec_reps]) if spec_reps else None
            if reps is not None:  # recentre: resamples are biased low/high (duplicated rows), see docstring
                reps = reps - np.nanmean(reps) + value
            add(name, mod, value, reps, "percentile bootstrap (bias-centred)")
        u = _unit_rows(arr if uidx is None else arr[uidx])
        uni = float(_uniformity_core(u, float(uniformity_t), None, None)[0])
        add("uniformity", mod, uni, None if ucounts is None else _uniformity_core(u, float(uniformity_t), ucounts, None))
        del u

    params = {
        "spectral_boot": n_spec,
        "uniformity_t": float(uniformity_t),
        "uniformity_max_samples": None if uniformity_max_samples is None else int(uniformity_max_samples),
        "uniformity_rows_used": int(m),
        "separability": bool(separability),
        "test_size": float(test_size),
        "separability_max_pairs": None if separability_max_pairs is None else int(separability_max_pairs),
        "two_sample": bool(two_sample),
    }
    return GapReport(n=n, d=d, n_boot=int(n_boot), seed=None if seed is None else int(seed), ci_level=float(ci),
                     estimates=tuple(estimates), params=params)
