"""Encoders: real vision-language models and their offline stand-ins (every chapter).

One object per model with ``embed_images`` and ``embed_texts``; both return raw
(un-normalised) float32 embeddings in the joint space. Normalisation happens
in :mod:`gapkit.geometry`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Encoder", "load_encoder", "register_encoder", "available_encoders"]


class Encoder:
    """Base class of every gapkit encoder.

    Attributes
    ----------
    name : str
        The name it was loaded by (``"clip-vit-b32"``, ``"random:ViT-B-32"``, ``"mini-clip"``...).
    model_id : str
        Where the weights came from (hub id, local path, ``"random init, seed 0"``...).
    dim : int
        Joint embedding dimension.
    device : str
    logit_scale, logit_bias : float or None
        Kept for zero-shot scoring (``logit_scale * cos + logit_bias``).
    """

    name: str = ""
    model_id: str = ""
    dim: int = 0
    device: str = "cpu"
    logit_scale: float | None = None
    logit_bias: float | None = None

    def embed_images(self, images: Any, *, batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """Embed images (PIL images, a uint8 array ``(n, H, W, 3)`` or a float tensor ``(n, 3, H, W)``)."""
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Embed a sequence of strings."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A short hash of the weights and preprocessing (part of every cache key)."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the executed page: which model produced these embeddings."""
        return f"{self.name} ({self.model_id}), {self.dim}-d, on {self.device}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


_REGISTRY: dict[str, Callable[..., Encoder]] = {}


def register_encoder(name: str, factory: Callable[..., Encoder]) -> None:
    """Register a factory so that ``load_encoder(name, **kw)`` calls ``factory(**kw)``."""
    _REGISTRY[name] = factory


def available_encoders() -> list[str]:
    """Names ``load_encoder`` accepts (prefix forms such as ``random:<arch>`` are listed with their prefix)."""
    return sorted(_REGISTRY)


def load_encoder(name: str, device: str = "auto", precision: str = "auto", **kwargs: Any) -> Encoder:
    """Load an encoder by name. See the module docstring for the names."""
    if name in _REGISTRY:
        return _REGISTRY[name](device=device, precision=precision, **kwargs)
    raise ValueError(f"unknown encoder {name!r}; available: {available_encoders()}")
