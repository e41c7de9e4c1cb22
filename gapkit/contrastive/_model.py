"""The model: the two towers, the CLIP loss, image inputs as tensors, and :class:`MiniCLIP`."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

import numpy as np

from .._validation import check_float_pixels, check_texts, l2_normalize_torch, validate_params
from ..encoders import Encoder
from ._device import _resolve_device
from ._options import MiniCLIPConfig, _cache_config
from ._params import _POS_INT, _TEXT_DIM, _VERSION, TEXT_BACKBONE
from ._text import text_features


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------


def _build_towers(cfg: MiniCLIPConfig):
    import torch
    from torch import nn

    if cfg.image_size % cfg.patch_size:
        raise ValueError(f"image_size {cfg.image_size} must be a multiple of patch_size {cfg.patch_size}.")
    grid = cfg.image_size // cfg.patch_size
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's global RNG
        torch.manual_seed(cfg.seed)
        image, text = _towers(cfg, grid, nn)
    log_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / cfg.temperature))),
                             requires_grad=cfg.learnable_temperature)
    return image, text, log_scale


def _towers(cfg: MiniCLIPConfig, grid: int, nn: Any):
    image = nn.Sequential(
        # patch embedding (a ViT-style stem: one linear map per non-overlapping patch), then an MLP
        nn.Conv2d(3, cfg.patch_channels, cfg.patch_size, stride=cfg.patch_size), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(cfg.patch_channels * grid * grid, cfg.image_hidden), nn.ReLU(),
        nn.Linear(cfg.image_hidden, cfg.embed_dim),
    )
    if cfg.shared_towers:  # Eslami et al.: one last layer (a single module) for both towers
        text = nn.Sequential(nn.Linear(_TEXT_DIM, cfg.text_hidden), nn.ReLU(), image[-1])
        return image, text
    text = nn.Sequential(
        nn.Linear(_TEXT_DIM, cfg.text_hidden), nn.ReLU(),
        nn.Linear(cfg.text_hidden, cfg.embed_dim),
    )
    if cfg.same_init:  # one initialisation: the text tower's last layer starts as the image tower's
        text[-1].load_state_dict(image[-1].state_dict())
    return image, text


def clip_loss(image_emb, text_emb, logit_scale, negative_text_emb=None):
    """Symmetric InfoNCE on L2-normalised embeddings: ``½[CE(s·S, I) + CE(s·Sᵀ, I)]`` with ``s = 1/τ``.

    ``negative_text_emb`` (hard negatives, one caption per pair, Jiang et al.): the image-to-text
    half scores each image against the batch's captions and these extra captions,
    ``CE(s·[S, S_neg], I)``; the text-to-image half is unchanged.
    """
    import torch.nn.functional as F
    import torch

    v = l2_normalize_torch(image_emb, dim=1)  # gapkit's normaliser: F.normalize overflows for huge rows
    t = l2_normalize_torch(text_emb, dim=1)
    logits = logit_scale * v @ t.T
    target = torch.arange(len(v), device=v.device)
    i2t = logits
    if negative_text_emb is not None:
        i2t = torch.cat([logits, logit_scale * v @ l2_normalize_torch(negative_text_emb, dim=1).T], dim=1)
    return 0.5 * (F.cross_entropy(i2t, target) + F.cross_entropy(logits.T, target))


def _images_tensor(images: Any, size: int, device: str, first_row: int = 0):
    """Float tensor ``(n, 3, size, size)`` in [0, 1] from uint8 ``(n, H, W, 3)``, PIL images or a tensor.

    Float inputs (arrays ``(n, H, W, 3)`` or tensors ``(n, 3, H, W)``) must be finite and in
    [0, 1]: NaN pixels and 0-255 floats raise, naming the rows (offset by ``first_row``).
    """
    import torch
    import torch.nn.functional as F

    if isinstance(images, torch.Tensor):
        x = images
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"image tensors must be (n, 3, H, W), got {tuple(x.shape)}.")
        if x.is_floating_point():
            check_float_pixels(x, name="images (float tensor)", first_row=first_row)
        x = x.float() / 255.0 if images.dtype == torch.uint8 else x.float()
    else:
        if isinstance(images, np.ndarray):
            arr = images
        else:
            from ..datasets import _images_to_array

            arr = _images_to_array(list(images), size)  # PIL resize handles mixed sizes
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"images must be uint8 (n, H, W, 3), got shape {arr.shape}.")
        if arr.dtype.kind == "f":
            check_float_pixels(arr, name="images (float array)", first_row=first_row)
        elif arr.dtype != np.uint8:
            raise ValueError(f"image arrays must be uint8 (0-255) or float (0-1), got dtype {arr.dtype}; "
                             "convert with .astype(np.uint8).")
        # a copy when read-only (PairedDataset.images): torch would warn about sharing non-writable memory
        x = torch.from_numpy(np.ascontiguousarray(arr) if arr.flags.writeable else np.array(arr)).permute(0, 3, 1, 2)
        x = x.float() / 255.0 if arr.dtype == np.uint8 else x.float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.to(device)


def _image_batches(images: Any, size: int, device: str, batch_size: int):
    """Yield :func:`_images_tensor` batches, converting (and resizing) one batch at a time."""
    n = len(images)
    for s in range(0, n, batch_size):
        yield _images_tensor(images[s:s + batch_size], size, device, first_row=s)


class MiniCLIP(Encoder):
    """A small CLIP: trainable patch-MLP image tower + frozen MiniLM with a trainable text projection.

    Build one with :func:`train_mini_clip` (trained, cached) or
    :func:`init_mini_clip` (random initialisation). ``embed_images`` /
    ``embed_texts`` return raw (un-normalised) float32 joint embeddings.

    Attributes
    ----------
    config : MiniCLIPConfig
    history : dict
        Filled by training: ``loss`` (mean loss per epoch), ``temperature``,
        ``gap`` and ``paired_cosine`` (per epoch, on a fixed subsample of at
        most 512 training pairs), ``gap_init`` / ``gap_final`` (centroid gap on the
        training pairs), ``paired_cosine_init`` / ``_final``,
        ``retrieval_init`` / ``_final`` (image→text top-1, a hit when the
        retrieved caption's text equals the true one), ``retrieval_chance``,
        ``seconds``, ``n_pairs``, ``dataset``, ``dataset_fingerprint``,
        ``from_cache``.
    """

    name = "mini-clip"

    def __init__(self, config: MiniCLIPConfig, device: str = "auto", *, dataset_name: str = "") -> None:
        self.config = config
        self.device = _resolve_device(device)
        self.image_tower, self.text_head, self.log_scale = _build_towers(config)
        self.image_tower.to(self.device)
        self.text_head.to(self.device)
        self.log_scale.data = self.log_scale.data.to(self.device)
        self.dim = config.embed_dim
        self.dataset_name = dataset_name
        self.history: dict[str, Any] = {}
        self.trained = False
        self._update_ids()

    # -- bookkeeping ---------------------------------------------------------
    @property
    def temperature(self) -> float:
        return float(np.exp(-float(self.log_scale.detach().cpu())))

    def _update_ids(self) -> None:
        c = self.config
        state = "trained on " + (self.dataset_name or "?") if self.trained else "random init"
        tau = f"learnable τ (now {self.temperature:.3g})" if c.learnable_temperature else f"τ={c.temperature:g}"
        if c.temperature_end is not None:
            tau = f"τ {c.temperature:g}→{c.temperature_end:g} (log-linear schedule)"
        if c.modality_swap:
            tau += f", modality swap {c.modality_swap:g}"
        if c.shared_towers:
            tau += ", shared last layer"
        if c.same_init:
            tau += ", one initialisation"
        if c.hard_negatives:
            tau += ", hard negatives"
        self.model_id = f"{state}, {tau}, seed {c.seed}"
        self.logit_scale = 1.0 / self.temperature
        self.logit_bias = None

    def parameters(self):
        seen: set[int] = set()
        for p in (*self.image_tower.parameters(), *self.text_head.parameters()):
            if id(p) not in seen:  # shared towers: each shared weight once
                seen.add(id(p))
                yield p
        if self.config.learnable_temperature:
            yield self.log_scale

    def state_dict(self) -> dict[str, Any]:
        return {
            "image_tower": {k: v.detach().cpu() for k, v in self.image_tower.state_dict().items()},
            "text_head": {k: v.detach().cpu() for k, v in self.text_head.state_dict().items()},
            "log_scale": self.log_scale.detach().cpu().clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.image_tower.load_state_dict(state["image_tower"])
        self.text_head.load_state_dict(state["text_head"])
        self.log_scale.data = state["log_scale"].to(self.device).clone()
        self._update_ids()

    def fingerprint(self) -> str:
        """Hash of the configuration and every weight (16 hex characters)."""
        h = hashlib.blake2b(digest_size=8)
        h.update(_VERSION.encode())
        h.update(json.dumps(_cache_config(self.config), sort_keys=True).encode())
        h.update(TEXT_BACKBONE.encode())
        for part, sd in self.state_dict().items():
            if isinstance(sd, dict):
                for k in sorted(sd):
                    h.update(k.encode())
                    h.update(sd[k].numpy().tobytes())
            else:
                h.update(sd.numpy().tobytes())
        return h.hexdigest()

    def describe(self) -> str:
        c = self.config
        return (f"mini-clip ({self.model_id}; patch-MLP image tower + frozen MiniLM text tower), "
                f"{c.embed_dim}-d, on {self.device}")

    # -- embedding -----------------------------------------------------------
    def _forward_images(self, x):
        return self.image_tower(x)

    def _forward_text_features(self, f):
        return self.text_head(f)

    @validate_params({"batch_size": _POS_INT, "progress": ["boolean"]})
    def embed_images(self, images: Any, *, batch_size: int = 512, progress: bool = False) -> np.ndarray:
        """Embed images: uint8 ``(n, H, W, 3)``, a list of PIL images, or a float tensor ``(n, 3, H, W)``."""
        import torch

        if isinstance(images, (str, bytes)) or not hasattr(images, "__len__"):
            raise ValueError("embed_images expects a batch: an array (n, H, W, 3), a list of images or a tensor.")
        out = []
        self.image_tower.eval()
        with torch.no_grad():
            for x in _image_batches(images, self.config.image_size, self.device, batch_size):
                out.append(self._forward_images(x).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    @validate_params({"batch_size": _POS_INT, "progress": ["boolean"]})
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 512, progress: bool = False) -> np.ndarray:
        """Embed strings: frozen MiniLM features (cached) through the trained projection."""
        import torch

        if isinstance(texts, str):
            texts = [texts]
        texts = check_texts(texts, name=f"{self.name}.embed_texts: texts")
        feats = torch.from_numpy(text_features(texts, device=self.device)).to(self.device)
        out = []
        self.text_head.eval()
        with torch.no_grad():
            for s in range(0, len(feats), batch_size):
                out.append(self._forward_text_features(feats[s:s + batch_size]).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)
