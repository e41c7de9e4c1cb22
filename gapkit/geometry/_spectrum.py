"""Spectral metrics of one modality: effective rank, participation ratio, first-PC variance share."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_matrix
from ._rows import _row_slices, _unit_rows


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
