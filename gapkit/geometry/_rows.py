"""Row blocks, the one normaliser and BLAS threads: the chunked helpers shared by every metric.

The block sizes live here, and only here: tests shrink ``_CHUNK_ELEMS`` and ``_FUSED_ELEMS`` on this
module to exercise chunking, and every metric reads them from it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import numpy as np

from .._validation import as_matrix, l2_normalize

#: Numbers per float64 working block (2**21 -> 16 MB). Tests shrink it to exercise chunking.
_CHUNK_ELEMS = 1 << 21
#: Numbers per block of the fused O(n·d) passes (2**18 -> 1 MB of float32, 512 rows at d = 512): small
#: enough that a block is still in cache when it is read the second time. Capped by ``_CHUNK_ELEMS``.
_FUSED_ELEMS = 1 << 18
#: At most this many rows per fused block, whatever d: a block's sum is accumulated in the input's
#: precision, so its error bound (about ``√B·u`` relative, ``B·u`` at worst) must not grow with n/d.
_FUSED_ROWS = 512


def _row_slices(n: int, d: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMS // max(d, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _unit_rows(block: np.ndarray) -> np.ndarray:
    """Float64 copy of ``block`` with unit-norm rows: gapkit's one normaliser, safe at any magnitude."""
    return l2_normalize(block, dtype=np.float64)


#: Blocks that :func:`gapkit.geometry._fused._unit_sum` passes through each numpy call together (as one
#: stacked array): four blocks of 1 MB cost fewer calls than one and still sit in the last-level cache.
_FUSED_GROUP = 4


#: Numbers per array from which the fused passes run on two threads (:func:`gapkit.geometry._fused._two_threads_gain`;
#: 3 fused blocks, 1,536 rows at d = 512); below it, handing work to a thread costs more than it saves.
_PARALLEL_ELEMS = 3 << 18


def _fused_rows(d: int) -> int:
    """Rows per block of the fused O(n·d) passes: at most ``_FUSED_ROWS`` rows and ``_FUSED_ELEMS`` numbers."""
    return max(1, min(_FUSED_ROWS, min(_FUSED_ELEMS, _CHUNK_ELEMS) // max(d, 1)))


def _fused_slices(n: int, d: int) -> Iterator[slice]:
    """Row blocks of the fused O(n·d) passes: at most ``_FUSED_ROWS`` rows and ``_FUSED_ELEMS`` numbers."""
    step = _fused_rows(d)
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


#: The BLAS libraries' threadpoolctl controllers (a list) once :func:`_blas_libraries` has looked them
#: up, ``False`` where threadpoolctl is missing or broken.
_BLAS_CONTROLLER: Any = None


class _BlasThreads:
    """Context: the given BLAS libraries on one thread, their thread counts restored on exit.

    Talks to threadpoolctl's per-library controllers directly: ``ThreadpoolController.limit`` takes
    about 9 µs to enter and leave, a sixth of a whole 2,000-row centroid gap; this takes about 1 µs.
    """

    __slots__ = ("_libs", "_before")

    def __init__(self, libs: list[Any]) -> None:
        self._libs = libs
        self._before: list[Any] = []

    def __enter__(self) -> "_BlasThreads":
        self._before = [lib.get_num_threads() for lib in self._libs]
        for lib, count in zip(self._libs, self._before):
            if count is not None and count != 1:
                lib.set_num_threads(1)
        return self

    def __exit__(self, *exc: Any) -> None:
        for lib, count in zip(self._libs, self._before):
            if count is not None and count != 1:
                lib.set_num_threads(count)


def _blas_libraries() -> list[Any]:
    """The BLAS libraries' threadpoolctl controllers, looked up once (empty without threadpoolctl)."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_CONTROLLER = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            _BLAS_CONTROLLER = False
    return _BLAS_CONTROLLER or []


def _one_blas_thread() -> Any:
    """Context: numpy's BLAS on one thread, for the matrix-vector products of the fused passes.

    Each ``w @ block`` reads a block that is already in cache, which one core does at memory speed;
    OpenBLAS would split it over threads and, on a shared machine, wait for them (measured: 1.7x
    slower than one thread). Through threadpoolctl (a scikit-learn dependency; without it, a no-op);
    the caller's setting is restored on exit.
    """
    libs = _blas_libraries()
    return _BlasThreads(libs) if libs else contextlib.nullcontext()


def _blas_thread_count() -> int:
    """Threads numpy's BLAS may use now (the largest over its libraries; the CPU count without threadpoolctl)."""
    counts = [c for c in (lib.get_num_threads() for lib in _blas_libraries()) if c is not None]
    return max(counts) if counts else (os.cpu_count() or 1)


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

    Used in chapters 4 and 7.
    """
    return l2_normalize(as_matrix(x, name="x", min_rows=1), dtype=dtype)
