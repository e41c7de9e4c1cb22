"""The base class every gapkit encoder derives from (:class:`Encoder`)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


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
    precision : str
        ``"fp32"``, ``"fp16"`` or ``"bf16"``: the compute precision (outputs are float32).
    logit_scale, logit_bias : float or None
        Kept for zero-shot scoring (``logit_scale * cos + logit_bias``); ``logit_scale``
        is already exponentiated.
    """

    name: str = ""
    model_id: str = ""
    dim: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    logit_scale: float | None = None
    logit_bias: float | None = None

    def embed_images(self, images: Any, *, batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """Embed images (PIL images, a uint8 array ``(n, H, W, 3)`` or a float tensor ``(n, 3, H, W)``)."""
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Embed a sequence of strings."""
        raise NotImplementedError

    def tokenize(self, texts: Sequence[str]) -> Any:
        """Tokenise ``texts`` exactly as :meth:`embed_texts` does (CPU tensors, model-ready)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A short hash of the weights and preprocessing (part of every cache key)."""
        raise NotImplementedError

    def zero_shot_logits(self, image_emb: Any, text_emb: Any) -> np.ndarray:
        """Zero-shot logits ``logit_scale * cos(v_i, t_j) + logit_bias``, shape ``(n_images, n_texts)``.

        Rows are L2-normalised first (the model's own scoring rule). Missing
        ``logit_scale`` counts as 1 and missing ``logit_bias`` as 0.
        """
        from .._validation import as_matrix, l2_normalize

        v = l2_normalize(as_matrix(image_emb, name="image_emb", min_rows=1))
        t = l2_normalize(as_matrix(text_emb, name="text_emb", min_rows=1))
        if v.shape[1] != t.shape[1]:
            raise ValueError(f"image_emb has {v.shape[1]} dimensions but text_emb has {t.shape[1]}")
        scale = 1.0 if self.logit_scale is None else float(self.logit_scale)
        bias = 0.0 if self.logit_bias is None else float(self.logit_bias)
        return (v @ t.T) * scale + bias

    def describe(self) -> str:
        """One line for the executed page: which model produced these embeddings."""
        return f"{self.name} ({self.model_id}), {self.dim}-d, on {self.device}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
