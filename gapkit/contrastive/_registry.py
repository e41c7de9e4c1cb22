"""``load_encoder("mini-clip", ...)``: the factory, and its registration with :mod:`gapkit.encoders`.

Importing this module registers the factory (once: Python imports a module once); ``gapkit.contrastive``
imports it.
"""

from __future__ import annotations

from typing import Any

from ..encoders import register_encoder
from ._model import MiniCLIP
from ._training import init_mini_clip, train_mini_clip


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------


def _dataset_by_name(name: str, n: int | None, seed: int, n_described: int):
    from .. import datasets as ds

    if name == "shapes":
        return ds.make_shapes(n=n or 2000, seed=seed, n_described=n_described)
    if name == "digits":
        return ds.load_digits_captions(seed=seed)
    if name == "multimodal-task":
        return ds.make_multimodal_task(n=n or 2000, seed=seed)
    raise ValueError(f"mini-clip: unknown dataset {name!r}; use 'shapes', 'digits', 'multimodal-task' "
                     "or pass a PairedDataset.")


def _factory(device: str = "auto", precision: str = "auto", dataset: Any = "shapes", temperature: float = 0.01,
             seed: int = 0, n: int | None = None, n_described: int = 3, trained: bool = True,
             **kwargs: Any) -> MiniCLIP:
    """``load_encoder("mini-clip", dataset=..., temperature=..., seed=...)``.

    ``dataset`` is a :class:`~gapkit.datasets.PairedDataset` or a name:
    ``"shapes"`` (``make_shapes(n or 2000, seed, n_described)``), ``"digits"``
    or ``"multimodal-task"``. ``precision`` is ignored (the model is float32).
    ``trained=False`` returns the random initialisation. Other keywords go to
    :func:`train_mini_clip`.
    """
    if isinstance(dataset, str):
        dataset = _dataset_by_name(dataset, n, seed, n_described)
    if not trained:
        for k in ("epochs", "cache", "verbose", "threads"):
            kwargs.pop(k, None)
        return init_mini_clip(dataset, temperature=temperature, seed=seed, device=device, **kwargs)
    return train_mini_clip(dataset, temperature=temperature, seed=seed, device=device, **kwargs)


register_encoder("mini-clip", _factory)
