"""Checks for the code exercises of chapter 8 (beyond contrastive models: adapters)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _compare, register

LR_ROWS = ("lm_adapter", "fast")
LR_COLUMNS = ("centroid_cosine", "cross_cosine", "norm_vision")
N_IMAGES, TOP = 5, 3


@register("ex-adapter-lr")
def adapter_lr(answer: Any, *, reference: Any, fast: Any, images: Any, text_tokens: Any) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"lm_adapter"`` and ``"fast"`` with columns
    ``centroid_cosine``, ``cross_cosine`` and ``norm_vision`` (:func:`gapkit.adapters.token_geometry` of
    each adapter's vision tokens of ``images`` against ``text_tokens``); ``fast`` must be ``reference``
    retrained with a ten times larger learning rate, everything else unchanged."""
    from ..adapters import token_geometry

    problems = _compare.entries("the table", answer, list(LR_ROWS))
    missing = [c for c in LR_COLUMNS if c not in getattr(answer, "columns", [])]
    if missing:
        problems.append(f"the table has no column {', '.join(map(repr, missing))}")
    if type(fast) is not type(reference) or getattr(fast, "coef_", None) is None:
        problems.append("`fast` should be a fitted adapter of the same class as `reference` (LanguageModelAdapter)")
    elif not np.isclose(fast.lr, 10 * reference.lr):
        problems.append("`fast` was not trained with ten times the learning rate of `reference`")
    else:
        changed = [k for k in ("epochs", "batch_size", "seed", "init", "objective", "temperature", "alpha")
                   if getattr(fast, k, None) != getattr(reference, k, None)]
        if changed:
            problems.append(f"`fast` differs from `reference` in more than the learning rate: {', '.join(changed)}")
    if problems:
        return problems
    for row, adapter in (("lm_adapter", reference), ("fast", fast)):
        g = token_geometry(adapter.transform(images), text_tokens)
        for col in LR_COLUMNS:
            if col == "norm_vision":
                problems += _compare.number(f"{col} of {row!r}", answer.loc[row, col], g[col], rtol=1e-4)
            else:
                problems += _compare.number(f"{col} of {row!r}", answer.loc[row, col], g[col], 1e-4)
    return problems


def _nearest_problems(name: str, got: Any, tokens: np.ndarray, unit_vocab: np.ndarray) -> list[str]:
    try:
        ids = np.asarray(got)
        if ids.dtype.kind == "f" and np.all(ids == np.round(ids)):
            ids = ids.astype(np.int64)
    except (TypeError, ValueError):
        return [f"{name} should be an array of vocabulary ids"]
    if ids.shape != (N_IMAGES, TOP):
        return [f"{name} has shape {ids.shape}; it should have shape {(N_IMAGES, TOP)} (images × nearest entries)"]
    if ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= len(unit_vocab):
        return [f"{name} should hold integer row indices of the vocabulary matrix (0 ... {len(unit_vocab) - 1})"]
    from ..geometry import normalize_rows

    sims = normalize_rows(tokens[:N_IMAGES], dtype=np.float64) @ unit_vocab.T
    problems = []
    for i in range(N_IMAGES):
        best = np.sort(sims[i])[::-1][:TOP]
        have = sims[i, ids[i]]
        # compared by cosine, not by id, so that entries with equal cosines may come in either order
        off = int(np.sum(have < best[-1] - 1e-6))
        if len(set(ids[i].tolist())) < TOP:
            problems.append(f"{name}, image {i}: an entry appears more than once")
        elif off:
            problems.append(f"{name}, image {i}: {off} of the {TOP} entries are not among the {TOP} nearest")
        elif np.any(np.diff(have) > 1e-6):
            problems.append(f"{name}, image {i}: the entries are not in order of decreasing cosine")
    return problems


@register("ex-adapter-nearest")
def adapter_nearest(answer: Mapping[str, Any], *, regression: Any, lm: Any, vocabulary: Any) -> list[str]:
    """``answer = {"regression": ids, "lm": ids}``: for the first five vision tokens of each adapter
    (``regression`` = V_direct, ``lm`` = V_lm) the row indices of the three ``vocabulary`` entries with the
    highest cosine, highest first, an integer array of shape (5, 3)."""
    from ..geometry import normalize_rows

    problems = _compare.entries("answer", answer, ["regression", "lm"])
    if problems:
        return problems
    unit_vocab = normalize_rows(vocabulary, dtype=np.float64)
    for name, tokens in (("regression", regression), ("lm", lm)):
        problems += _nearest_problems(name, answer[name], np.asarray(tokens), unit_vocab)
    return problems
