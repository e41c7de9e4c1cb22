"""Spread of one modality on the sphere: mean resultant length, mean pairwise cosine, uniformity."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import Integral, Interval, as_matrix, validate_params
from . import _rows  # _rows._CHUNK_ELEMS is read at call time: tests shrink it there
from ._fused import _unit_sum
from ._params import _KERNEL_T, _MAX_ROWS, _SEED
from ._rows import _unit_rows

#: Default subsample size of the pairwise metric :func:`uniformity`.
UNIFORMITY_MAX_SAMPLES = 4096


def _off_diagonal_cosine(sum_vec: np.ndarray, n: float, sum_sq_weights: float | None = None) -> float:
    """Mean cosine over pairs of distinct rows from the resultant Σ x̂_i.

    ``Σ_{i≠j} x̂_i·x̂_j = ‖Σ x̂_i‖² − n`` for unit rows, hence
    ``(n R² − 1)/(n − 1)`` with ``R = ‖Σ x̂_i‖/n``. With bootstrap counts ``w``
    (Σw = n) the pairs of *distinct original rows* give
    ``(‖Σ w_i x̂_i‖² − Σ w_i²)/(n² − Σ w_i²)``, which is the unweighted formula at w = 1.
    """
    ssw = n if sum_sq_weights is None else sum_sq_weights
    return float((sum_vec @ sum_vec - ssw) / (n * n - ssw))


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
        block_size = max(1, _rows._CHUNK_ELEMS // max(m, 1))
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
