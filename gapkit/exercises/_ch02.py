"""Checks for the code exercises of chapter 2 (where the gap comes from)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _compare, register


@register("ex-learn-tau")
def learn_tau(answer: Mapping[str, float], *, model: Any, images: Any, texts: Any) -> list[str]:
    """``answer = {"tau": learned τ at the end, "gap": held-out centroid gap}`` of ``model``,
    a mini-clip trained with a learnable temperature from 0.07; ``images``/``texts``: held-out pairs."""
    from .. import cone, geometry

    problems = _compare.entries("answer", answer, ["tau", "gap"])
    if not getattr(model.config, "learnable_temperature", False):
        problems.append("the model was trained with a fixed temperature: pass learnable_temperature=True")
    elif not np.isclose(model.config.temperature, 0.07):
        problems.append("the model's temperature did not start at 0.07 (temperature=0.07)")
    if problems:
        return problems
    v, t = cone.embed_pairs(model, images, texts)
    return (_compare.number("tau", answer["tau"], model.temperature, 1e-6)
            + _compare.number("gap", answer["gap"], geometry.centroid_gap(v, t), 1e-4))


@register("ex-gap-decomposition")
def gap_decomposition(answer: Any, *, embeddings: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """``answer``: a table (DataFrame) indexed by model name with columns ``R_image``, ``R_text`` and
    ``cos_axes``; ``embeddings``: model name → (image, text) embeddings of the held-out pairs."""
    from .. import cone, geometry

    problems = _compare.table(answer, list(embeddings), ("R_image", "R_text", "cos_axes"))
    if problems:
        return problems
    for name, (v, t) in embeddings.items():
        want = {"R_image": geometry.mean_resultant_length(v), "R_text": geometry.mean_resultant_length(t),
                "cos_axes": float(cone.cone_axis(v) @ cone.cone_axis(t))}
        for col, value in want.items():
            problems += _compare.number(f"{col} of {name!r}", answer.loc[name, col], value, 1e-4)
    return problems
