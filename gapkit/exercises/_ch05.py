"""Checks for the code exercises of chapter 5 (what the centroid misses)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _compare, register

SHUFFLE_ROWS = ("pairs", "shuffled")
SHUFFLE_COLUMNS = ("centroid", "distribution", "relative_distribution", "frechet", "mmd")
SWAP_EPOCHS = 60
SWAP_RECIPES = {"fixed": {"temperature": 0.01, "modality_swap": 0.0},
                "swap": {"temperature": 0.01, "modality_swap": 0.5}}
SWAP_COLUMNS = ("centroid", "relative_distribution", "top1")


@register("ex-centroid-shuffle")
def centroid_shuffle(answer: Any, *, image: Any, text: Any, perm: Any, seed: int) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"pairs"`` and ``"shuffled"`` with columns ``centroid``,
    ``distribution``, ``relative_distribution`` (:func:`gapkit.geometry.gap_decomposition`), ``frechet``
    and ``mmd`` (``mmd(..., seed=seed)``), for ``image`` with ``text`` and with ``text[perm]``."""
    from .. import geometry

    problems = _compare.table(answer, SHUFFLE_ROWS, SHUFFLE_COLUMNS)
    t = np.asarray(text)
    p = np.asarray(perm)
    if p.shape != (len(t),) or not np.array_equal(np.sort(p), np.arange(len(t))):
        problems.append("`perm` should be a permutation of the text rows (np.random.default_rng(SEED).permutation)")
    elif np.array_equal(p, np.arange(len(t))):
        problems.append("`perm` leaves every caption in place: draw a random permutation")
    if problems:
        return problems
    for row, tt in (("pairs", t), ("shuffled", t[p])):
        d = geometry.gap_decomposition(image, tt)
        want = {"centroid": (d.centroid, 1e-4), "distribution": (d.distribution, 1e-4),
                "relative_distribution": (d.relative_distribution, 1e-4)}
        for col, (value, tol) in want.items():
            problems += _compare.number(f"{col} of {row!r}", answer.loc[row, col], value, tol)
        # the unpaired distances are small numbers: compared relative to their size
        problems += _compare.number(f"frechet of {row!r}", answer.loc[row, "frechet"],
                                    geometry.frechet_distance(image, tt), rtol=1e-3)
        problems += _compare.number(f"mmd of {row!r}", answer.loc[row, "mmd"], geometry.mmd(image, tt, seed=seed),
                                    rtol=1e-3)
    return problems


@register("ex-centroid-swap")
def centroid_swap(answer: Any, *, models: Mapping[str, Any], images: Any, texts: Any) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"fixed"`` and ``"swap"`` with columns ``centroid``,
    ``relative_distribution`` and ``top1`` (image→text top-1 retrieval) on the held-out ``images`` and
    ``texts``; ``models``: the same two keys → mini-clips trained for 60 epochs at τ = 0.01, the second
    with ``modality_swap=0.5``."""
    from .. import geometry
    from ..cone import embed_pairs
    from ..contrastive import retrieval_accuracy

    problems = _compare.table(answer, tuple(SWAP_RECIPES), SWAP_COLUMNS) + _compare.entries("models", models,
                                                                                   list(SWAP_RECIPES))
    if problems:
        return problems
    for name, recipe in SWAP_RECIPES.items():
        cfg = getattr(models[name], "config", None)
        if getattr(cfg, "epochs", None) != SWAP_EPOCHS:
            problems.append(f"the {name!r} model was not trained for {SWAP_EPOCHS} epochs")
        for key, value in recipe.items():
            if not np.isclose(getattr(cfg, key, np.nan), value):
                problems.append(f"the {name!r} model was not trained with {key}={value:g}")
        if getattr(cfg, "learnable_temperature", False) or getattr(cfg, "temperature_end", None) is not None:
            problems.append(f"the {name!r} model should train at a fixed temperature")
    if problems:
        return problems
    for name in SWAP_RECIPES:
        v, t = embed_pairs(models[name], images, texts)
        d = geometry.gap_decomposition(v, t)
        want = {"centroid": d.centroid, "relative_distribution": d.relative_distribution,
                "top1": retrieval_accuracy(v, t, texts=texts)}
        for col, value in want.items():
            problems += _compare.number(f"{col} of {name!r}", answer.loc[name, col], value, 1e-4)
    return problems
