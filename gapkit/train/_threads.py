"""CPU threads of the batched sweep: its matrix products and gathers on the faster of one and the caller's count.

``_MM_THREADS`` lives here, and only here: :class:`_ThreadChoice` sets it and :func:`_on_mm_threads`
reads it at call time (``gapkit.train._MM_THREADS`` reads it from here, live).
"""

from __future__ import annotations

import time
from typing import Any

import torch


#: CPU threads for the batched sweep's matrix products while a sweep runs (set by _ThreadChoice; everything
#: else in a step runs on one thread); None: torch's current setting.
_MM_THREADS: int | None = None


def _on_mm_threads(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on ``_MM_THREADS`` threads (a sweep's step is otherwise single-threaded)."""
    k = _MM_THREADS
    if k is None or k == 1:
        return fn(*args, **kwargs)
    torch.set_num_threads(k)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(1)


def _bmm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.bmm`` on ``_MM_THREADS`` threads."""
    return _on_mm_threads(torch.bmm, a, b, out=out)


class _ThreadChoice:
    """The CPU threads of a batched sweep: its matrix products and gathers on the faster of one and the caller's count.

    A training step is a few small matrix products over rows it gathers from memory, and a dozen
    elementwise operations on tens of thousands of numbers. On a machine shared with other jobs,
    torch's threads wait for each other at every parallel operation, for as long as the other job
    holds the core (measured: the fused AdamW update of 56k numbers took 3.8 ms on two busy
    threads instead of 24 µs, a gather 15 ms instead of 0.9), so everything but the products and
    the gather runs on one thread, and those two (:func:`_on_mm_threads`) on the faster of one
    thread and the caller's setting, which is measured, not guessed: every full step is timed
    (the first on each count is a warm-up and not counted), each step uses the count with the
    lower median of its last few steps, and the other count is tried again once the time spent
    since its last try is ``explore`` times its own step time (so trying costs at most about
    1/explore of the run, even when the other count is ten times slower), so a change of load
    during a sweep changes the choice. Every step gives the same
    numbers on either count (a thread count only splits the work). The caller's setting is
    restored at the end (:meth:`restore`). Not used on CUDA.
    """

    def __init__(self, device: torch.device, *, explore: float = 20.0, window: int = 5) -> None:
        global _MM_THREADS
        self.caller = torch.get_num_threads()
        self.cpu = device.type == "cpu"
        self.candidates = [1, self.caller] if self.cpu and self.caller > 1 else []
        self.times: dict[int, list[float]] = {k: [] for k in self.candidates}
        self.explore, self.window = explore, window
        self.warm: set[int] = set()
        self.since = 0.0       # seconds on the chosen count since the other one was last tried
        self.timing: int | None = None
        self.t0 = 0.0
        if self.cpu:
            torch.set_num_threads(1)
            _MM_THREADS = 1

    def best(self) -> int:
        """The count whose recent steps were fastest (a count not timed yet counts as fastest)."""
        return min(self.candidates, key=lambda k: _median(self.times[k]) if self.times[k] else -1.0)

    def before(self, full_batch: bool) -> None:
        """Pick the count for the next step; a full-batch step is timed (partial batches would skew the medians)."""
        global _MM_THREADS
        self.timing = None
        if not self.candidates:
            return
        k = self.best()
        other = next(c for c in self.candidates if c != k)
        if self.times[other] and self.since >= self.explore * _median(self.times[other]):
            k, self.since = other, 0.0                      # now and then, try the other count again
        _MM_THREADS = k
        if full_batch:
            self.timing, self.t0 = k, time.perf_counter()

    def after(self) -> None:
        if self.timing is None:
            return
        dt = time.perf_counter() - self.t0
        if self.timing not in self.warm:                    # the first step on a count warms it up
            self.warm.add(self.timing)
            return
        hist = self.times[self.timing]
        hist.append(dt)
        del hist[:-self.window]
        self.since += dt

    def restore(self) -> None:
        global _MM_THREADS
        _MM_THREADS = None
        if self.cpu:
            torch.set_num_threads(self.caller)


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]
