"""Image→text retrieval among paired rows, and its chance level (chapters 2, 4 and 8).

Plain numpy, in the light core: :func:`gapkit.shift.lambda_metrics` and the mini-clip's training
record (:mod:`gapkit.contrastive`) both use it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


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
    from .._validation import as_paired, l2_normalize

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
