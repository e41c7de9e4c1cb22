"""The rows of several shard files read as one array, never joined in memory (``gapkit report DIR``, issue 27).

:class:`ShardRows` stands for ``numpy.concatenate(parts)`` over memory-mapped shards: it has the
joined array's ``shape``, ``dtype`` and ``ndim``; a slice inside one shard is that shard's memory-map
view (no copy), a slice across shards or an index array reads only the rows asked for, and
``numpy.asarray`` joins it (for a caller that really needs the whole array). What ``gapkit report``
does with a folder (per-shard statistics, a seeded subsample, label sums in blocks, the HTML page's
sample) only slices and indexes, so a folder of many shards is measured in bounded memory.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class ShardRows:
    """``numpy.concatenate(parts)`` (along rows) without the copy; see the module docstring."""

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        if not parts:
            raise ValueError("no shards to read")
        tails = {p.shape[1:] for p in parts}
        if len(tails) != 1:
            raise ValueError(f"shards of different row shapes {sorted(tails)} cannot be read as one array")
        self.parts = list(parts)
        self.edges = np.cumsum([0] + [len(p) for p in self.parts])
        self.shape = (int(self.edges[-1]), *tails.pop())
        self.dtype = np.result_type(*self.parts)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.concatenate(self.parts)
        return out if dtype is None else out.astype(dtype, copy=False)

    def _rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` (``0 ≤ start ≤ stop ≤ n``): one shard's view, or the pieces joined."""
        first = int(np.searchsorted(self.edges, start, side="right")) - 1
        pieces = []
        k = max(first, 0)
        while k < len(self.parts) and self.edges[k] < stop:
            a, b = max(start, self.edges[k]) - self.edges[k], min(stop, self.edges[k + 1]) - self.edges[k]
            pieces.append(self.parts[k][a:b])
            k += 1
        if len(pieces) == 1:
            return pieces[0]
        if not pieces:
            return np.empty((0, *self.shape[1:]), self.dtype)
        return np.concatenate(pieces)

    def _take(self, idx: np.ndarray) -> np.ndarray:
        n = self.shape[0]
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"boolean index of shape {idx.shape} for {n} rows")
            idx = np.flatnonzero(idx)
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        idx = np.where(idx < 0, idx + n, idx)
        out = np.empty((len(idx), *self.shape[1:]), self.dtype)
        which = np.searchsorted(self.edges, idx, side="right") - 1
        for k in np.unique(which):
            at = np.flatnonzero(which == k)
            out[at] = self.parts[k][idx[at] - self.edges[k]]
        return out

    def __getitem__(self, key: Any) -> Any:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            rows = self._rows(start, max(start, stop)) if step == 1 else self._take(np.arange(start, stop, step))
        elif isinstance(key, (int, np.integer)):
            rows = self._take(np.array([key]))[0]
        else:
            rows = self._take(np.asarray(key))
        if not rest:
            return rows
        return rows[rest] if isinstance(key, (int, np.integer)) else rows[(slice(None), *rest)]
