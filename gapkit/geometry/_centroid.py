"""The centroid gap, the gap vector and the paired metrics (distance, cosine, alignment, RMG)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_paired
from ._fused import _pair_pass, _unit_sums
from ._spread import _off_diagonal_cosine


def _rmg_from_parts(mean_cos_pair: float, mpc_image: float, mpc_text: float) -> float:
    m = (1.0 - mean_cos_pair) / 2.0
    a = min(max((1.0 - mpc_image) / 2.0, 0.0), 1.0)
    b = min(max((1.0 - mpc_text) / 2.0, 0.0), 1.0)
    m = max(m, 0.0)
    if m == 0.0:
        return 0.0
    return float(m / (m + (a + b) / 2.0))


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
    image_sum, text_sum = _unit_sums(img, txt, revalidate)
    return image_sum / n - text_sum / n


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


def alignment(image: Any, text: Any) -> float:
    """Alignment (Wang & Isola 2020): E_i ‖v̂_i − t̂_i‖² over matched pairs.

    Rows are L2-normalised first. Equals ``2 − 2·paired_cosine`` for unit rows;
    range [0, 4], lower is better aligned. O(n·d). Chapter 3.
    """
    img, txt = as_paired(image, text, check_rows=False)  # rows are checked inside the fused pass
    dist = _pair_pass(img, txt, sums=False).dist
    return float((dist * dist).mean())
