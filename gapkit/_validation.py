"""Input checks shared by every gapkit module.

Every public gapkit function that takes embeddings calls :func:`as_matrix` (or
:func:`as_paired`) first, so bad input fails in one place with one kind of
message: what is wrong, which rows, and what to do about it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_matrix", "as_paired", "l2_normalize", "to_numpy", "check_labels"]


def to_numpy(x: Any, *, name: str = "x", dtype: Any = None) -> np.ndarray:
    """Return ``x`` as a numpy array (torch tensors are detached and moved to CPU).

    Parameters
    ----------
    x : array-like or torch.Tensor
        Input data.
    name : str
        Name used in error messages.
    dtype : numpy dtype, optional
        Cast to this dtype; by default float arrays keep their precision and
        everything else becomes float64.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy's own message is clear enough
        raise ValueError(f"{name}: could not convert input of type {type(x).__name__} to an array") from exc
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    raise ValueError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")


def _describe_rows(rows: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"


def as_matrix(x: Any, *, name: str = "x", min_rows: int = 2, allow_zero_rows: bool = False) -> np.ndarray:
    """Validate an ``(n, d)`` embedding matrix and return it as a float numpy array.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D, has fewer than ``min_rows`` rows or zero columns,
        holds NaN or inf values, or (unless ``allow_zero_rows``) has rows of
        norm zero, which cannot be put on the unit sphere. The message names
        the offending rows and the fix.
    """
    arr = to_numpy(x, name=name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array of shape (n, d) with one embedding per row, got shape {arr.shape}. "
            "For a single embedding use x[None, :]; for a batch of vectors stack them as rows."
        )
    n, d = arr.shape
    if d == 0:
        raise ValueError(f"{name}: embeddings have 0 dimensions (shape {arr.shape}).")
    if n < min_rows:
        raise ValueError(
            f"{name}: need at least {min_rows} rows (embeddings), got {n}. "
            "Geometry statistics are undefined for fewer points; pass more samples."
        )
    # Row checks in blocks of about 16 MB, so validating a 2 GB input costs megabytes, not gigabytes.
    finite = np.empty(n, dtype=bool)
    nonzero = np.empty(n, dtype=bool)
    step = max(1, (16 << 20) // max(1, d * arr.itemsize))
    for start in range(0, n, step):
        block = arr[start : start + step]
        finite[start : start + step] = np.isfinite(block).all(axis=1)
        nonzero[start : start + step] = (block != 0).any(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{name}: {len(bad)} row(s) contain NaN or inf (rows {_describe_rows(bad)}). "
            "Drop or re-embed those rows, e.g. x = x[np.isfinite(x).all(axis=1)]."
        )
    if not allow_zero_rows:
        if not nonzero.all():
            bad = np.flatnonzero(~nonzero)
            raise ValueError(
                f"{name}: {len(bad)} row(s) are all zeros (rows {_describe_rows(bad)}) and cannot be "
                "L2-normalised onto the unit sphere. Drop those rows or check the encoder output."
            )
    return arr


def as_paired(image: Any, text: Any, *, min_rows: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate matched image/text matrices: both ``(n, d)`` with the same ``n`` and ``d``.

    Row ``i`` of ``image`` and row ``i`` of ``text`` are a matched pair.
    """
    img = as_matrix(image, name="image", min_rows=min_rows)
    txt = as_matrix(text, name="text", min_rows=min_rows)
    if img.shape[0] != txt.shape[0]:
        raise ValueError(
            f"image and text have different numbers of rows ({img.shape[0]} vs {txt.shape[0]}); "
            "row i of each must be a matched pair. Subset both to the same pairs."
        )
    if img.shape[1] != txt.shape[1]:
        raise ValueError(
            f"image and text have different dimensions ({img.shape[1]} vs {txt.shape[1]}); "
            "both modalities must live in the same joint embedding space (use the model's projected "
            "embeddings, not the towers' hidden states)."
        )
    return img, txt


def l2_normalize(x: np.ndarray, *, dtype: Any = None) -> np.ndarray:
    """Return a copy of ``x`` with every row scaled to unit L2 norm.

    Assumes ``x`` was validated (no zero rows). Computation is done in at
    least float32; pass ``dtype=np.float64`` for extra precision.
    """
    arr = np.asarray(x, dtype=dtype if dtype is not None else np.result_type(x.dtype, np.float32))
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / norms


def check_labels(y: Any, n: int, *, name: str = "y") -> np.ndarray:
    """Validate a label array for ``n`` samples.

    Accepts a 1-D integer/boolean vector (binary or multiclass) or a 2-D 0/1
    matrix (multilabel). Raises ``ValueError`` on length mismatch, NaN, a
    single class, or a wrong shape.
    """
    arr = to_numpy(y, name=name) if hasattr(y, "detach") else np.asarray(y)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name}: labels must be 1-D (one class id per sample) or 2-D (n, n_labels) 0/1 for multilabel; "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise ValueError(f"{name}: {arr.shape[0]} labels for {n} samples; pass one label (row) per sample.")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}: labels contain NaN or inf; drop those samples or fill the missing labels.")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: labels must be integers (class ids) or 0/1, got non-integer values.")
    if arr.ndim == 1:
        if len(np.unique(arr)) < 2:
            raise ValueError(
                f"{name}: only one class present ({np.unique(arr)[0]!r}); a classifier needs at least two. "
                "Check the split or the label column."
            )
    else:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name}: multilabel targets must be 0/1.")
    return arr
