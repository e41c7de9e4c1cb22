"""``gapkit embed`` under ``torchrun``: who this process is, its rows, and the collective steps (issue 27).

``torchrun --nproc_per_node=N [--nnodes=M --node_rank=K --rdzv_endpoint=HOST:PORT] -m gapkit embed ...``
sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` for every process; :func:`world` reads them, and
without them (a plain ``gapkit embed``) the same code runs as one process with no process group.
:class:`Group` starts ``torch.distributed`` (NCCL on a GPU, each rank on ``cuda:LOCAL_RANK``; gloo on
CPU) and offers the few collectives the command needs: a barrier, ``all_reduce`` of the gap
statistics (:class:`gapkit.sufficient.GapStats` as one float64 vector), and gathering Python
objects (shard records, a subsample's rows) on rank 0. torch is imported only when a group starts.

Rows: rank ``r`` of ``W`` embeds the contiguous block :func:`rank_range`, the split
``datasets.distributed.split_dataset_by_node`` makes of a map-style Hugging Face data set (so the
two agree row for row, and Hugging Face data are split with that function itself).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import CLIError


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def tag(self) -> str:
        """``"[rank 1/2] "`` in a distributed run, ``""`` otherwise (a prefix for progress lines)."""
        return f"[rank {self.rank}/{self.size}] " if self.distributed else ""


def world() -> World:
    """The world of this process from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise CLIError("RANK, WORLD_SIZE or LOCAL_RANK is not an integer; start gapkit embed with torchrun "
                       "(or unset them to run one process)") from None
    if size < 1 or not 0 <= rank < size:
        raise CLIError(f"RANK={rank} with WORLD_SIZE={size}; start gapkit embed with torchrun (or unset them)")
    return World(rank, size, local)


def rank_range(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of rank ``rank`` of ``size``: contiguous blocks, the first ``n % size`` one row longer.

    The same split as ``datasets.Dataset.shard(size, rank, contiguous=True)``, which
    ``datasets.distributed.split_dataset_by_node`` applies to a map-style data set.
    """
    div, mod = divmod(n, size)
    start = div * rank + min(rank, mod)
    return start, start + div + (1 if rank < mod else 0)


def shard_ranges(start: int, stop: int, shard_rows: int) -> list[tuple[int, int]]:
    """``[start, stop)`` cut into shards of at most ``shard_rows`` rows (the last may be shorter)."""
    return [(a, min(stop, a + shard_rows)) for a in range(start, stop, shard_rows)]


def device_for(requested: str, w: World) -> str:
    """This rank's device: ``auto`` is ``cuda:LOCAL_RANK`` where CUDA is, else ``cpu``; ``cuda`` gets the index."""
    if requested == "auto":
        import torch

        return f"cuda:{w.local_rank}" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and w.distributed:
        return f"cuda:{w.local_rank}"
    return requested


class Group:
    """The process group of a distributed run (nothing at all for one process); a context manager."""

    def __init__(self, w: World, device: str) -> None:
        self.world = w
        self.device = device
        self._dist: Any = None
        self.backend = "nccl" if device.startswith("cuda") else "gloo"

    def __enter__(self) -> "Group":
        if self.world.distributed:
            import torch
            import torch.distributed as dist

            if self.backend == "nccl":
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group(backend=self.backend)
            self._dist = dist
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._dist is not None and self._dist.is_initialized():
            if exc[0] is None:
                self._dist.barrier()  # nobody leaves before rank 0 has written the manifest
            self._dist.destroy_process_group()

    def _tensor(self, array: np.ndarray) -> Any:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
        return t.to(self.device) if self.device.startswith("cuda") else t

    def barrier(self) -> None:
        if self._dist is not None:
            self._dist.barrier()

    def sum(self, array: np.ndarray) -> np.ndarray:
        """``all_reduce`` (sum) of a float64 array over the ranks; the array itself for one process."""
        if self._dist is None:
            return np.asarray(array, dtype=np.float64)
        t = self._tensor(array)
        self._dist.all_reduce(t, op=self._dist.ReduceOp.SUM)
        return t.cpu().numpy()

    def broadcast(self, array: np.ndarray, src: int) -> np.ndarray:
        if self._dist is None:
            return np.asarray(array, dtype=np.float64)
        t = self._tensor(array)
        self._dist.broadcast(t, src=src)
        return t.cpu().numpy()

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0 (in rank order), ``None`` on the others; ``[obj]`` for one process."""
        if self._dist is None:
            return [obj]
        out = [None] * self.world.size if self.world.rank == 0 else None
        self._dist.gather_object(obj, out, dst=0)
        return out

    def all_reduce_stats(self, stats: Any) -> Any:
        """:class:`~gapkit.sufficient.GapStats` of every rank's rows: one ``all_reduce`` of their sums.

        The moments are first re-expressed about one rank's shifts (the first rank with rows,
        broadcast), so that the sums add up exactly.
        """
        from ..sufficient import GapStats

        if self._dist is None:
            return stats
        counts = self.sum(np.eye(self.world.size)[self.world.rank] * stats.n)
        src = int(np.flatnonzero(counts > 0)[0]) if counts.any() else 0
        shifts = self.broadcast(stats.shifts(), src)
        total = self.sum(stats.to_vector(shifts))
        return GapStats.from_vector(total, stats.d, shifts, stats.covariance)
