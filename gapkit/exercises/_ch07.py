"""Checks for the code exercises of chapter 7 (robustness: the orthogonal shift)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _compare, register

ENERGY_ROWS = {"full span": None, "energy 0.9": 0.9}


@register("ex-robust-equivalence")
def robust_equivalence(answer: Any, *, shift: Any, images: Any, prompts: Any, sigma: float, n_trials: int,
                       seed: int) -> list[str]:
    """``answer = {"shifted": flip rate, "shrunk": flip rate}``: the Gaussian flip rate (noise ``sigma``)
    of the test ``images`` after the orthogonal ``shift`` (fitted, λ = 1, images moving), and of the
    unshifted images with the noise of image i scaled by ℓ_i; same ``n_trials`` and ``seed``."""
    from .._validation import l2_normalize
    from ..robustness import flip_rate

    problems = _compare.entries("answer", answer, ["shifted", "shrunk"])
    if getattr(shift, "lam", None) != 1.0 or getattr(shift, "moving", None) != "image":
        problems.append("`shift` should be the orthogonal shift at λ = 1 with the images moving")
    if problems:
        return problems
    unit = l2_normalize(images, dtype=np.float64)
    ell = np.linalg.norm(unit - shift.gap_perp_, axis=1)
    shifted = flip_rate(shift.transform_image(images), shift.transform_text(prompts), "gaussian", sigma=sigma,
                        n_trials=n_trials, seed=seed)
    shrunk = flip_rate(images, prompts, lambda q, rng: q + sigma * ell[:, None] * rng.standard_normal(q.shape),
                       n_trials=n_trials, seed=seed)
    tol = 0.5 / (n_trials * len(unit))  # a flip rate counts flips: the two must agree to the flip
    return (_compare.number("the shifted flip rate", answer["shifted"], shifted, tol)
            + _compare.number("the shrunk-noise flip rate", answer["shrunk"], shrunk, tol))


@register("ex-robust-moving-text")
def robust_moving_text(answer: Any, *, train: tuple[Any, Any], images: Any, prompts: Any, labels: Any) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"full span"`` and ``"energy 0.9"`` with columns
    ``rank``, ``gap_perp_norm`` and ``accuracy``: ``OrthogonalShift(1.0, moving="text")`` (and
    ``energy=0.9``) fitted on the ``train`` pairs, its ``rank_``, ``gap_perp_norm_`` and the zero-shot
    accuracy of the test ``images`` with the shifted ``prompts``."""
    from ..robustness import zero_shot_accuracy
    from ..shift import OrthogonalShift

    problems = _compare.table(answer, list(ENERGY_ROWS), ("rank", "gap_perp_norm", "accuracy"))
    if problems:
        return problems
    for row, energy in ENERGY_ROWS.items():
        s = OrthogonalShift(1.0, moving="text", energy=energy).fit(*train)
        acc = zero_shot_accuracy(s.transform_image(images), s.transform_text(prompts), labels)
        problems += _compare.number(f"rank of {row!r}", answer.loc[row, "rank"], s.rank_, 0.0)
        problems += _compare.number(f"gap_perp_norm of {row!r}", answer.loc[row, "gap_perp_norm"], s.gap_perp_norm_,
                                    1e-4)
        problems += _compare.number(f"accuracy of {row!r}", answer.loc[row, "accuracy"], acc, 0.5 / len(labels))
    return problems
