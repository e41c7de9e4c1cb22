"""The metrics recorded in a mini-clip's ``history`` (retrieval itself lives in :mod:`gapkit.geometry`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..geometry._retrieval import _keys, retrieval_accuracy, retrieval_chance  # noqa: F401  (re-exported)
from ._model import MiniCLIP


# ---------------------------------------------------------------------------
# evaluation helpers
# ---------------------------------------------------------------------------


def _evaluate(model: MiniCLIP, x, feats, texts: Sequence[str], max_pairs: int = 2000) -> dict[str, float]:
    import torch

    from ..geometry import centroid_gap, mean_resultant_length, paired_cosine

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
