"""The fused single-pass O(n·d) kernels: validate, normalise and reduce each cache-sized block once.

:func:`_unit_sum` (Σ x̂_i of one modality) and :func:`_pair_pass` (both sums, per-pair cosines and
distances, bootstrap-weighted sums) serve the centroid, cone and paired metrics and :func:`gap_report`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._validation import as_matrix, as_paired, l2_normalize, unit_scales
from . import _rows
from ._rows import _blas_thread_count, _fused_rows, _fused_slices, _one_blas_thread


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
    practice; the float64 total adds no error of its own that grows with n. ``_FUSED_GROUP`` blocks
    go through each numpy call together (a stacked ``(G, 1, B) @ (G, B, d)`` product: still one
    float32 sum per block), which saves the calls' overhead where n is small.
    """
    if revalidate is None:
        revalidate = lambda: as_matrix(x)  # noqa: E731
    n, d = x.shape
    rows = _fused_rows(d)
    step = rows * _rows._FUSED_GROUP
    total = np.zeros(d, dtype=np.float64)
    with _one_blas_thread():
        for start in range(0, n, step):
            grp = _work(x[start:start + step])
            w, rare = unit_scales(grp)
            if rare is not None:  # first: an invalid row raises before it reaches the product
                total += _rare_units(grp, rare, revalidate).sum(axis=0)
            full = grp.shape[0] // rows * rows
            if full:
                sums = np.matmul(w[:full].reshape(-1, 1, rows), grp[:full].reshape(-1, rows, d))  # (G, 1, d)
                total += sums[:, 0].sum(axis=0, dtype=np.float64)
            if full < grp.shape[0]:
                total += w[full:] @ grp[full:]
    return total


#: ``(pid, executor)``: the one worker thread :func:`_on_two_threads` hands the second half of a pass to,
#: made on first use and again in a forked child (whose copy of the thread does not run).
_FUSED_WORKER: tuple[int, ThreadPoolExecutor] | None = None


def _fused_worker() -> ThreadPoolExecutor:
    global _FUSED_WORKER
    if _FUSED_WORKER is None or _FUSED_WORKER[0] != os.getpid():
        _FUSED_WORKER = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="gapkit-fused"))
    return _FUSED_WORKER[1]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _two_threads_gain(size: int) -> bool:
    """Whether an O(n·d) pass over arrays of ``size`` numbers gains from two threads (:func:`_on_two_threads`).

    Handing work to a thread costs about 60 µs, as much as 1,000 rows at d = 512 take, so only arrays of at
    least ``_rows._PARALLEL_ELEMS`` numbers go; and only where at least two CPUs are available and numpy's
    BLAS is allowed more than one thread (``OMP_NUM_THREADS=1`` or a threadpoolctl limit of 1 keeps it serial).
    """
    return (size >= _rows._PARALLEL_ELEMS and not getattr(_ON_WORKER, "active", False) and _cpu_count() >= 2
            and _blas_thread_count() >= 2)


#: Set on the worker thread while it runs a half: a pass started there stays serial (waiting on the one
#: worker from the worker itself would never end).
_ON_WORKER = threading.local()


def _as_worker(fn: Callable[[], Any]) -> Any:
    _ON_WORKER.active = True
    try:
        return fn()
    finally:
        _ON_WORKER.active = False


def _on_two_threads(here: Callable[[], Any], there: Callable[[], Any]) -> tuple[Any, Any]:
    """``(here(), there())``, with ``there`` on the worker thread while ``here`` runs on the caller's.

    numpy releases the GIL in the row dots, products and element-wise passes, so the two halves of a
    fused pass run side by side, each on one BLAS thread (entered once here: the setting is per
    process). An error from either is raised after both have finished, so no work is left running.
    """
    with _one_blas_thread():
        try:
            future = _fused_worker().submit(_as_worker, there)
        except RuntimeError:  # no new work after interpreter shutdown began (an atexit hook, a __del__): serial
            return here(), there()
        try:
            first = here()
        except BaseException:
            wait((future,))
            raise
        return first, future.result()


def _unit_sums(image: np.ndarray, text: np.ndarray, revalidate: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(Σ v̂_i, Σ t̂_i)``: :func:`_unit_sum` of both modalities, on two threads where that gains.

    Each modality is summed whole on one thread, so the result is the serial one, bit for bit.
    Measured at d = 512 on two cores: 240 → 170 µs at n = 2,000, 4.3 → 2.8 ms at 20,000.
    """
    if not _two_threads_gain(image.size):
        return _unit_sum(image, revalidate), _unit_sum(text, revalidate)
    return _on_two_threads(lambda: _unit_sum(image, revalidate), lambda: _unit_sum(text, revalidate))


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

    def blocks(acc: _PairPass, part: list[slice]) -> None:
        for sl in part:
            _pair_block(acc, img[sl], txt[sl], sl, None if weights is None else weights[:, sl], sums, dist,
                        revalidate)

    slices = list(_fused_slices(n, d))
    if weights is None and len(slices) > 1 and _two_threads_gain(img.size):
        # two halves of the blocks side by side: the per-pair arrays are shared (disjoint rows), the sums added
        half = len(slices) // 2
        rest = _PairPass(np.zeros(d), np.zeros(d), out.cos, out.dist)
        _on_two_threads(lambda: blocks(out, slices[:half]), lambda: blocks(rest, slices[half:]))
        out.sum_image += rest.sum_image
        out.sum_text += rest.sum_text
        return out
    with contextlib.nullcontext() if weights is not None else _one_blas_thread():  # (bootstrap GEMMs: all threads)
        blocks(out, slices)
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
