"""Where and on how many threads torch runs: the device (``"auto"``) and a block's intra-op threads."""

from __future__ import annotations

from typing import Any


class _torch_threads:
    """Run a block with ``n`` intra-op torch threads (``None``: leave the setting alone), then restore it.

    The mini CLIP's matrices are small: one thread is about as fast as two on
    an idle machine and several times faster on a busy one (OpenMP threads
    oversubscribing shared cores), so training and text encoding default to 1.
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old: int | None = None

    def __enter__(self) -> None:
        if self.n is not None:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            import torch

            torch.set_num_threads(self.old)


def _resolve_device(device: str) -> str:
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)
