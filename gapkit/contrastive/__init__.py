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

from .._live import live_state

# The code lives in one private module per idea; each imports only from lower ones (and from other gapkit
# modules), never from this package:
#
#   _params     constants (TEXT_BACKBONE, _TEXT_DIM, _VERSION) and shared parameter constraints
#   _options    MiniCLIPConfig, its constraints and checks (_config), its cache form (_cache_config)
#   _cache      cache_dir and the hash cache files are named by
#   _device     _resolve_device and _torch_threads (a block's intra-op torch threads)
#   _text       the frozen MiniLM text backbone and text_features (memoised, disk-cached)
#   _model      the towers, clip_loss, image inputs as tensors, MiniCLIP
#   _retrieval  retrieval_accuracy, retrieval_chance and the metrics recorded in history (_evaluate)
#   _weights    the sha256 of a state dict and the checked loading of cached weights
#   _training   init_mini_clip, the training loop (_fit, _track), train_mini_clip
#   _registry   load_encoder("mini-clip", ...): the factory; importing it registers the factory
#
# Everything is re-exported here, private helpers included. Importing _registry (below) registers
# "mini-clip" with gapkit.encoders, once. Module-level state keeps one home and is read from it live (see
# __getattr__ below): the loaded MiniLM models (_MINILM) and the in-memory text features (_TEXT_MEMO) in
# gapkit.contrastive._text: patch them there, not here.

from .._extras import require_models

require_models("gapkit.contrastive (mini-clip)")  # a torch model throughout: name the extra

from . import _text  # noqa: E402
from ._cache import _hash, cache_dir  # noqa: F401
from ._device import _resolve_device, _torch_threads  # noqa: F401
from ._model import MiniCLIP, _build_towers, _image_batches, _images_tensor, _towers, clip_loss  # noqa: F401
from ._options import _CONFIG_CONSTRAINTS, _LATER_DEFAULTS, MiniCLIPConfig, _cache_config, _config  # noqa: F401
from ._params import _POS_INT, _POS_REAL, _TEXT_DIM, _VERSION, TEXT_BACKBONE  # noqa: F401
from ._registry import _dataset_by_name, _factory  # noqa: F401
from ._retrieval import _evaluate, _keys, retrieval_accuracy, retrieval_chance  # noqa: F401
from ._text import _load_text_features, _minilm, text_features  # noqa: F401
from ._training import _fit, _track, init_mini_clip, train_mini_clip  # noqa: F401
from ._weights import _load_weights, _state_digest  # noqa: F401

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

#: module-level state, by its one home: read live, so the package shows the current value
_STATE = {"_MINILM": _text, "_TEXT_MEMO": _text}
__getattr__, __dir__ = live_state(__name__, globals(), _STATE)
