"""Gap and cone metrics: one reference implementation of each (chapters 1, 3, 4).

Conventions (also in the book's chapter 3): every function L2-normalises rows
first; ``image`` row ``i`` and ``text`` row ``i`` are a matched pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import as_matrix, as_paired, l2_normalize

__all__ = ["gap_vector", "centroid_gap", "mean_resultant_length"]


def gap_vector(image: Any, text: Any) -> np.ndarray:
    """Gap vector Δ = mean_i v̂_i − mean_i t̂_i (image centroid minus text centroid).

    Parameters
    ----------
    image, text : array-like or torch.Tensor, shape (n, d)
        Matched embeddings; rows are L2-normalised first.

    Returns
    -------
    numpy.ndarray, shape (d,), float64

    Used in chapters 3 and 4 and by :class:`gapkit.shift.LambdaShift`.
    """
    img, txt = as_paired(image, text)
    return l2_normalize(img, dtype=np.float64).mean(axis=0) - l2_normalize(txt, dtype=np.float64).mean(axis=0)


def centroid_gap(image: Any, text: Any) -> float:
    """Centroid gap ‖Δ‖₂ (Liang et al. 2022). About 0.82 for CLIP ViT-B/32 on COCO."""
    return float(np.linalg.norm(gap_vector(image, text)))


def mean_resultant_length(x: Any) -> float:
    """Cone strength R = ‖mean_i x̂_i‖₂ of one modality (1 = all rows identical, ≈0 = spread out)."""
    arr = as_matrix(x)
    return float(np.linalg.norm(l2_normalize(arr, dtype=np.float64).mean(axis=0)))
