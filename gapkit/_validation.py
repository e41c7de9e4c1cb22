"""Input and parameter checks shared by every gapkit module.

Every public gapkit function that takes embeddings calls :func:`as_matrix` (or
:func:`as_paired`) first, so bad input fails in one place with one kind of
message: what is wrong, which rows, and what to do about it.

The same holds for hyper-parameters: each public function or estimator declares
its constraints once, in the style of scikit-learn's ``_parameter_constraints``
(``{"sigma": [Interval(Real, 0, None, closed="left")], "seed": [None, SEED]}``),
and :func:`validate_params` / :func:`check_params` enforce them. Real numbers
must be finite; integers must be integers (``2.5``, ``42.0`` and ``True`` are
rejected, never truncated); errors name the parameter, the value and the fix.

One normaliser serves all of gapkit: :func:`l2_normalize` (numpy) and
:func:`l2_normalize_torch` rescale rows whose squared norm would overflow or
underflow, so embeddings ×1e30 or ×1e-30 (float32), ×1e±300 (float64) give the
same unit rows as unscaled ones.
"""

from __future__ import annotations

import functools
import inspect
import math
from numbers import Integral, Real
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "as_matrix", "as_paired", "l2_normalize", "l2_normalize_torch", "row_norms", "unit_scales", "to_numpy",
    "check_labels", "check_texts", "as_uint8_image", "check_float_pixels", "Interval", "Options", "Integral", "Real",
    "SEED", "check_param", "check_params", "validate_params", "InvalidParameterError", "InvalidInputError",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter value outside its declared constraints (both a ValueError and a TypeError, as in scikit-learn)."""


class InvalidInputError(ValueError, TypeError):
    """Input data of the wrong kind (e.g. a missing caption where a string is needed); names the rows and the fix."""


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


def as_matrix(x: Any, *, name: str = "x", min_rows: int = 2, allow_zero_rows: bool = False,
              check_rows: bool = True) -> np.ndarray:
    """Validate an ``(n, d)`` embedding matrix and return it as a float numpy array.

    ``check_rows=False`` checks only the shape and leaves the row checks (NaN/inf, all-zero rows) to the
    caller's own pass over the data: the fused geometry passes find such rows through their squared norms
    (:func:`unit_scales`) and then call ``as_matrix`` again, which names them.

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
    if not check_rows:
        return arr
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


def as_paired(image: Any, text: Any, *, min_rows: int = 2, check_rows: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate matched image/text matrices: both ``(n, d)`` with the same ``n`` and ``d``.

    Row ``i`` of ``image`` and row ``i`` of ``text`` are a matched pair. ``check_rows=False``: see
    :func:`as_matrix` (the errors and their order stay those of the full check).
    """
    img = as_matrix(image, name="image", min_rows=min_rows, check_rows=check_rows)
    txt = as_matrix(text, name="text", min_rows=min_rows, check_rows=check_rows)
    if not check_rows and img.shape != txt.shape:  # the full check names bad rows before a shape mismatch
        as_matrix(img, name="image", min_rows=min_rows)
        as_matrix(txt, name="text", min_rows=min_rows)
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


def _scaled_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows / m, m)`` in float64 with ``m`` each row's largest magnitude (rows of tiny or huge values)."""
    r = np.array(rows, dtype=np.float64, copy=True)
    m = np.abs(r).max(axis=1)
    if not (np.isfinite(m).all() and (m > 0).all()):
        bad = np.flatnonzero(~(np.isfinite(m) & (m > 0)))
        raise ValueError(
            f"{len(bad)} row(s) are all zeros or hold NaN/inf (row positions {_describe_rows(bad)}) and cannot be "
            "L2-normalised; validate the input with as_matrix() first (it names the rows), or drop those rows."
        )
    r /= m[:, None]
    return r, m


@functools.lru_cache(maxsize=None)
def _norm_bounds(dt: np.dtype) -> tuple[float, float]:
    """Squared norms in ``[lo, hi]`` are safe to use in ``dt``: no overflow, no precision lost to subnormals."""
    fi = np.finfo(dt)
    return float(fi.tiny) / float(fi.eps), float(fi.max)


def l2_normalize(x: np.ndarray, *, dtype: Any = None) -> np.ndarray:
    """A new array: every row of ``x`` scaled to unit L2 norm, safe against overflow and underflow.

    gapkit's one normaliser (geometry, shifts, zero-shot, flip rates, sweeps, separability,
    retrieval all use it). Squared norms are summed in the result's dtype (at least float32;
    ``dtype=np.float64`` for extra precision); rows whose squared norm would overflow or fall
    into the subnormal range (float32 rows ×1e30 or ×1e-30, float64 ×1e±200) are first divided
    by their largest magnitude, so every row comes out with unit norm whatever its scale, at
    the cost of one extra pass over those rows only. ``x`` must be 2-D and validated
    (:func:`as_matrix`): all-zero or non-finite rows raise ``ValueError``.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"l2_normalize expects a 2-D array (n, d), got shape {arr.shape}")
    dt = np.dtype(dtype) if dtype is not None else np.result_type(arr.dtype, np.float32)
    if dt.kind != "f":
        raise ValueError(f"l2_normalize: dtype must be a float type, got {dt}")
    own = arr.dtype != dt
    work = arr.astype(dt) if own else arr
    sq = np.einsum("ij,ij->i", work, work)
    lo, hi = _norm_bounds(dt)
    good = (sq >= lo) & (sq <= hi)  # False for NaN, inf, 0 and subnormal-range sums
    all_good = bool(good.all())
    if not all_good:
        sq[~good] = 1.0
    norms = np.sqrt(sq)[:, None]
    if own:
        out = np.divide(work, norms, out=work)
    else:
        out = work / norms
    if not all_good:
        bad = np.flatnonzero(~good)
        r, _ = _scaled_rows(arr[bad])
        r /= np.sqrt(np.einsum("ij,ij->i", r, r))[:, None]
        out[bad] = r
    return out


def unit_scales(block: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``1/‖x_i‖`` for every row of a float block, in the block's dtype, and the rows where that is unsafe.

    The fused-pass form of :func:`l2_normalize`, for callers that normalise and reduce a block in one go
    (``w @ block`` is the sum of the unit rows). Squared norms are summed in the block's dtype; a row whose
    squared norm lies outside ``l2_normalize``'s safe range (it would overflow, is subnormal or zero, or
    is NaN/inf because the row holds NaN or inf) gets the scale 0 and is listed in ``rare`` (``None`` when
    there is none): pass those rows to :func:`l2_normalize`, which rescales them first, after checking
    them (only a row with a safe squared norm is known to be finite and non-zero). ``block`` must be
    float32 or float64 and 2-D.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):  # such rows are flagged just below
        sq = np.vecdot(block, block)  # a BLAS dot per row: twice as fast as einsum on a block in cache
    lo, hi = _norm_bounds(block.dtype)
    rare = None
    if sq.size and not (sq.min() >= lo and sq.max() <= hi):  # two reductions when all are safe (NaN fails the first)
        good = (sq >= lo) & (sq <= hi)  # False for NaN, inf, 0 and subnormal-range sums
        rare = np.flatnonzero(~good)
        sq[rare] = 1.0
    w = np.sqrt(sq, out=sq)
    np.divide(1.0, w, out=w)
    if rare is not None:
        w[rare] = 0.0
    return w, rare


def row_norms(x: np.ndarray) -> np.ndarray:
    """L2 norm of every row of a 2-D array, in float64, without overflow or underflow in the squares."""
    arr = np.asarray(x)
    work = arr if arr.dtype == np.float64 else arr.astype(np.float64)
    sq = np.einsum("ij,ij->i", work, work)
    lo, hi = _norm_bounds(np.dtype(np.float64))
    good = (sq >= lo) & (sq <= hi)
    out = np.sqrt(sq)
    if not good.all():
        bad = np.flatnonzero(~good & np.isfinite(work).all(axis=1) & (work != 0).any(axis=1))
        if bad.size:
            r, m = _scaled_rows(work[bad])
            out[bad] = m * np.sqrt(np.einsum("ij,ij->i", r, r))
    return out


def l2_normalize_torch(x: Any, dim: int = 1) -> Any:
    """Torch counterpart of :func:`l2_normalize`: unit rows along ``dim``, at any scale, with exact gradients.

    ``torch.nn.functional.normalize`` squares first (float32 rows ×1e20 → inf norms → zeros) and
    clamps the norm at 1e-12 (rows ×1e-20 are not made unit). Here each row is divided by its
    largest magnitude first; that factor is detached, which leaves the gradient exactly that of
    ``x / ‖x‖`` because the result does not depend on it. All-zero rows stay zero, like
    ``F.normalize``. Used by the mini CLIP's loss and the adapters.
    """
    import torch

    m = x.detach().abs().amax(dim=dim, keepdim=True)
    m = torch.where(m > 0, m, torch.ones_like(m))
    y = x / m
    n = torch.linalg.vector_norm(y, dim=dim, keepdim=True)
    return y / n.clamp_min(torch.finfo(y.dtype).tiny)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def _kind_of(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (Integral, Real)):
        return "number"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def _plain_labels(arr: np.ndarray, name: str) -> np.ndarray:
    """An object label array as a numeric or string array, after naming missing or mixed entries."""
    flat = arr.reshape(arr.shape[0], -1)
    missing = np.array([any(_missing(v) for v in row) for row in flat], dtype=bool)
    if missing.any():
        bad = np.flatnonzero(missing)
        raise ValueError(
            f"{name}: {len(bad)} label(s) are missing (None or NaN) at row(s) {_describe_rows(bad)}. "
            "Drop those samples or fill the missing labels."
        )
    kinds = sorted({_kind_of(v) for v in flat.ravel()})
    if len(kinds) > 1:
        first = {k: next(i for i, row in enumerate(flat) if any(_kind_of(v) == k for v in row)) for k in kinds}
        raise ValueError(
            f"{name}: labels mix types ({', '.join(f'{k} at row {i}' for k, i in first.items())}); use one type "
            "for every label, e.g. all class ids (ints) or all class names (strings)."
        )
    if kinds == ["str"]:
        return np.asarray(arr.tolist(), dtype=str)
    if kinds in (["number"], ["bool"]):
        return np.asarray(arr.tolist())
    raise ValueError(f"{name}: labels must be numbers or strings, got {kinds[0]} values; pass class ids or names.")


def check_labels(y: Any, n: int, *, name: str = "y", min_classes: int = 2) -> np.ndarray:
    """Validate a label array for ``n`` samples.

    Accepts a 1-D integer/boolean/string vector (binary or multiclass) or a 2-D
    0/1 matrix (multilabel). Raises ``ValueError`` on length mismatch, missing
    labels (None, NaN: the rows are named), mixed types, fewer than
    ``min_classes`` classes, or a wrong shape.
    """
    if hasattr(y, "detach"):
        arr = to_numpy(y, name=name)
    elif isinstance(y, (list, tuple)):
        # keep Python lists as objects so that None, NaN and mixed types are seen (numpy would turn [0, "1"]
        # into strings and [0, None] into objects without saying so)
        try:
            arr = np.array(y, dtype=object)
        except ValueError:  # ragged rows
            arr = np.asarray(y, dtype=object)
    else:
        arr = np.asarray(y)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name}: labels must be 1-D (one class id per sample) or 2-D (n, n_labels) 0/1 for multilabel; "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise ValueError(f"{name}: {arr.shape[0]} labels for {n} samples; pass one label (row) per sample.")
    if arr.dtype == object:
        arr = _plain_labels(arr, name)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr).reshape(n, -1).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"{name}: {len(bad)} label(s) are NaN or inf at row(s) {_describe_rows(bad)}; drop those samples "
                "or fill the missing labels."
            )
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: labels must be integers (class ids) or 0/1, got non-integer values.")
    if arr.ndim == 1:
        if len(np.unique(arr)) < min_classes:
            raise ValueError(
                f"{name}: only one class present ({np.unique(arr)[0]!r}); a classifier needs at least two. "
                "Check the split or the label column."
            )
    else:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name}: multilabel targets must be 0/1.")
    return arr


# ----------------------------------------------------------------------------------------------
# texts and images


def _describe_value(v: Any) -> str:
    if v is None:
        return "None (a missing value)"
    if isinstance(v, (float, np.floating)) and math.isnan(v):
        return "NaN (a missing value)"
    if isinstance(v, Mapping):
        return f"a dict with keys {sorted(map(str, v))[:5]}"
    text = repr(v)
    return f"{type(v).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def check_texts(texts: Any, *, name: str = "texts", allow_empty: bool = True) -> list[str]:
    """Validate a sequence of strings: every item must be a ``str`` (and, unless ``allow_empty``, not blank).

    None and NaN (missing captions), numbers, bytes and dicts are rejected, naming the rows, instead
    of being embedded as the strings ``"None"`` or ``"nan"``. Returns the items as a list.
    """
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError(f"{name}: expected a sequence of strings, got a single {type(texts).__name__}; "
                                "wrap it in a list: [text].")
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise InvalidInputError(
            f"{name}: {len(bad)} item(s) are not strings: items {bad[:5]}{' and more' if len(bad) > 5 else ''} "
            f"(row {bad[0]} is {_describe_value(out[bad[0]])}). Drop those rows or fill in the missing texts; "
            "gapkit does not embed str(None) or str(nan)."
        )
    if not allow_empty:
        blank = [i for i, t in enumerate(out) if not t.strip()]
        if blank:
            raise InvalidInputError(
                f"{name}: {len(blank)} text(s) are empty or blank: row(s) {_describe_rows(np.array(blank))}. "
                "Drop those rows or fill in their text."
            )
    return out


def as_uint8_image(img: Any, *, where: str = "image") -> np.ndarray:
    """One image array as uint8, validated: 2-D or 3-D, non-empty, finite, in range.

    uint8 passes through; other integers must lie in 0-255; floats must be finite and lie in
    [0, 1] (they are scaled by 255 and rounded). Float pixels above 1 are rejected rather than
    guessed at: they may be 0-255 values (convert them with ``.astype(np.uint8)``) or an
    out-of-range float image. ``where`` (e.g. ``"image 3"``) starts every message.
    """
    a = np.asarray(img)
    if a.dtype.kind not in "uif":
        raise InvalidInputError(f"{where}: pixels must be numbers (uint8 0-255 or float 0-1), got dtype {a.dtype}.")
    if a.ndim not in (2, 3) or (a.ndim == 3 and 1 not in (a.shape[0], a.shape[-1]) and 3 not in (a.shape[0], a.shape[-1])
                                and a.shape[-1] != 4):
        raise InvalidInputError(
            f"{where}: expected a 2-D (H, W) or 3-D (H, W, C) image array, got shape {a.shape}. "
            "Pass one image per row (a batch belongs in a list or a 4-D array of a whole dataset)."
        )
    if a.size == 0 or 0 in a.shape:
        raise InvalidInputError(f"{where}: the image is empty (shape {a.shape}); drop the row or fix its file.")
    if a.dtype.kind == "f":
        finite = np.isfinite(a)
        if not finite.all():
            raise InvalidInputError(
                f"{where}: {int((~finite).sum())} pixel value(s) are NaN or inf; drop the row or repair the image "
                "(NaN pixels would give a NaN embedding)."
            )
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidInputError(
                f"{where}: float pixels must lie in [0, 1], these span [{lo:g}, {hi:g}]. If they are 0-255 values, "
                "convert with np.clip(x, 0, 255).astype(np.uint8); if they are [0, 1] images with stray values, "
                "clip them with np.clip(x, 0, 1)."
            )
        return np.round(a * 255.0).astype(np.uint8)
    if a.dtype != np.uint8:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise InvalidInputError(
                f"{where}: integer pixels must lie in 0-255, these span [{lo}, {hi}]; rescale them to 0-255 and "
                "convert with .astype(np.uint8)."
            )
        return a.astype(np.uint8)
    return a


def check_float_pixels(x: Any, *, name: str = "images", first_row: int = 0, value_range: tuple[float, float] | None
                       = (0.0, 1.0)) -> None:
    """Check a float batch (numpy array or torch tensor, one image per leading row): finite, and in ``value_range``.

    Raises ``ValueError`` naming the rows that hold NaN/inf (offset by ``first_row``) or the range
    found. ``value_range=None`` checks finiteness only (e.g. normalised pixel values).
    """
    if hasattr(x, "detach"):
        import torch

        flat = x.detach().reshape(x.shape[0], -1)
        finite = torch.isfinite(flat).all(dim=1).cpu().numpy()
        lo_hi = (float(flat.min()), float(flat.max())) if finite.all() and flat.numel() else None
    else:
        flat = np.asarray(x).reshape(len(x), -1)
        finite = np.isfinite(flat).all(axis=1)
        lo_hi = (float(flat.min()), float(flat.max())) if finite.all() and flat.size else None
    if not finite.all():
        bad = np.flatnonzero(~finite) + first_row
        raise InvalidInputError(
            f"{name}: {len(bad)} image(s) hold NaN or inf pixels (row(s) {_describe_rows(bad)}); they would give NaN "
            "embeddings. Drop or repair those rows."
        )
    if value_range is not None and lo_hi is not None and (lo_hi[0] < value_range[0] or lo_hi[1] > value_range[1]):
        raise InvalidInputError(
            f"{name}: float pixels must lie in [{value_range[0]:g}, {value_range[1]:g}], these span "
            f"[{lo_hi[0]:g}, {lo_hi[1]:g}]. For 0-255 values pass a uint8 array (x.astype(np.uint8)) or divide by 255."
        )


# ----------------------------------------------------------------------------------------------
# declarative parameter constraints (scikit-learn's _parameter_constraints, in small)


class Interval:
    """A range of integers or finite reals: ``Interval(Real, 0, None, closed="left")`` is ``[0, ∞)``.

    ``kind`` is :class:`numbers.Integral` (ints and numpy integers; not bools, not floats, not
    even ``42.0``) or :class:`numbers.Real` (finite ints and floats; not bools, NaN or inf).
    ``left``/``right`` are bounds (``None``: unbounded); ``closed`` is ``"left"``, ``"right"``,
    ``"both"`` or ``"neither"``.
    """

    def __init__(self, kind: type, left: float | None, right: float | None, *, closed: str = "both") -> None:
        if kind not in (Integral, Real):
            raise TypeError("Interval kind must be numbers.Integral or numbers.Real")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError("closed must be 'left', 'right', 'both' or 'neither'")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def _in_range(self, v: float) -> bool:
        if self.left is not None:
            if v < self.left or (v == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if v > self.right or (v == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def accepts_type(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.kind is Integral:
            return isinstance(value, Integral)
        return isinstance(value, Real) and math.isfinite(value)

    def is_satisfied_by(self, value: Any) -> bool:
        return self.accepts_type(value) and self._in_range(value)

    def convert(self, value: Any) -> Any:
        return int(value) if self.kind is Integral else float(value)

    def _range_text(self) -> str:
        lo, hi = self.left, self.right
        if lo is None and hi is None:
            return ""
        if hi is None:
            return f" {'>=' if self.closed in ('left', 'both') else '>'} {lo:g}"
        if lo is None:
            return f" {'<=' if self.closed in ('right', 'both') else '<'} {hi:g}"
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        return f" in {left}{lo:g}, {hi:g}{right}"

    def __str__(self) -> str:
        return ("an integer" if self.kind is Integral else "a finite real number") + self._range_text()

    def example(self) -> Any:
        """A value inside the interval (for messages)."""
        lo, hi = self.left, self.right
        if self.kind is Integral:
            v = 0 if lo is None else int(math.ceil(lo))
            v = v if self._in_range(v) else v + 1
            return v if hi is None or v <= hi else int(math.floor(hi))
        if lo is not None and hi is not None:
            return (lo + hi) / 2
        if lo is not None:
            return float(lo) if self._in_range(float(lo)) else float(lo) + 1.0
        if hi is not None:
            return float(hi) if self._in_range(float(hi)) else float(hi) - 1.0
        return 1.0


class Options:
    """One of a fixed set of values (e.g. ``Options("image", "text")``); compared by type and value."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def is_satisfied_by(self, value: Any) -> bool:
        for o in self.values:
            if isinstance(o, str):
                if isinstance(value, str) and value == o:
                    return True
            elif type(value) is type(o) and value == o:
                return True
        return False

    def convert(self, value: Any) -> Any:
        return str(value) if isinstance(value, str) else value

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


#: Seeds: non-negative integers (what numpy's and torch's generators accept).
SEED = Interval(Integral, 0, None, closed="left")


def _satisfies(c: Any, value: Any) -> bool:
    if c is None:
        return value is None
    if c == "boolean":
        return isinstance(value, (bool, np.bool_))
    if c == "callable":
        return callable(value)
    if isinstance(c, (Interval, Options)):
        return c.is_satisfied_by(value)
    if isinstance(c, type):
        return isinstance(value, c) and not (c in (int, float) and isinstance(value, (bool, np.bool_)))
    raise TypeError(f"unknown parameter constraint {c!r}")


def _convert(c: Any, value: Any) -> Any:
    if c == "boolean":
        return bool(value)
    if isinstance(c, (Interval, Options)):
        return c.convert(value)
    return value


def _describe(c: Any) -> str:
    if c is None:
        return "None"
    if c == "boolean":
        return "a bool (True or False)"
    if c == "callable":
        return "a callable"
    if isinstance(c, type):
        return f"a {c.__name__}"
    return str(c)


def _fix(name: str, value: Any, constraints: Sequence[Any], default: Any) -> str:
    intervals = [c for c in constraints if isinstance(c, Interval)]
    for c in intervals:
        if c.kind is Integral and isinstance(value, (float, np.floating)) and math.isfinite(value):
            if float(value).is_integer() and c._in_range(int(value)):
                return f"pass {name}={int(value)} (an int)"
            choices = [v for v in (math.floor(value), math.ceil(value)) if c._in_range(v)]
            if choices:
                return "pass an integer, e.g. " + " or ".join(f"{name}={v}" for v in choices)
    if default is not inspect.Parameter.empty and any(_satisfies(c, default) for c in constraints):
        return f"pass e.g. {name}={default!r} (the default)"
    for c in constraints:
        if isinstance(c, Interval):
            return f"pass e.g. {name}={c.example()!r}"
        if isinstance(c, Options):
            return f"pass {c}"
        if c == "boolean":
            return f"pass {name}=True or {name}=False"
    return f"pass {' or '.join(_describe(c) for c in constraints)}"


def _why(value: Any, constraints: Sequence[Any]) -> str:
    intervals = [c for c in constraints if isinstance(c, Interval)]
    if not intervals:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return " (a bool is not a number here)"
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return " (NaN and infinity are not accepted)"
    if (isinstance(value, (float, np.floating)) and all(c.kind is Integral for c in intervals)):
        return " (non-integer numbers are never rounded or truncated)"
    if isinstance(value, Real) and any(c.accepts_type(value) for c in intervals):
        return " (out of range)"
    return ""


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def check_param(name: str, value: Any, constraints: Sequence[Any], *, owner: str | None = None,
                default: Any = inspect.Parameter.empty) -> Any:
    """Check one value against its constraints (any one must hold); return it converted to a plain Python type.

    Constraints: ``None``, ``"boolean"``, ``"callable"``, a type, an :class:`Interval` or an
    :class:`Options`. Raises :class:`InvalidParameterError` (a ``ValueError`` and ``TypeError``)
    naming ``owner``, the parameter, the value, what is allowed, and a value to pass instead.
    """
    for c in constraints:
        if _satisfies(c, value):
            return _convert(c, value)
    allowed = " or ".join(_describe(c) for c in constraints)
    prefix = f"{owner}: " if owner else ""
    raise InvalidParameterError(
        f"{prefix}{name}={value!r} is not valid: {name} must be {allowed}{_why(value, constraints)}. "
        f"{_upper_first(_fix(name, value, constraints, default))}."
    )


def check_params(constraints: Mapping[str, Sequence[Any]], *, owner: str | None = None, **values: Any) -> dict[str, Any]:
    """Check several values: ``check_params({"n": [Interval(Integral, 1, None)]}, n=3)`` → ``{"n": 3}``."""
    return {k: check_param(k, v, constraints[k], owner=owner) for k, v in values.items()}


def validate_params(constraints: Mapping[str, Sequence[Any]]) -> Callable[[Callable], Callable]:
    """Decorator: check the arguments a call passes against ``constraints`` (defaults are trusted).

    Checked values are passed on converted (numpy scalars become Python ints/floats/bools). The
    error names the function, the parameter, the value and, as the fix, the parameter's default
    or a value in range.
    """

    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func)
        owner = func.__qualname__.replace(".__init__", "")
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise TypeError(f"validate_params: {owner} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                cons = constraints.get(name)
                if cons is not None:
                    bound.arguments[name] = check_param(name, value, cons, owner=owner,
                                                        default=sig.parameters[name].default)
            return func(*bound.args, **bound.kwargs)

        wrapper.parameter_constraints = dict(constraints)  # type: ignore[attr-defined]
        return wrapper

    return decorate
