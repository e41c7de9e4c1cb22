"""Checks for the code exercises of chapter 4 (the λ-shift)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _compare, register

GAP_TOL = 1e-5  # in chapter 4 the inductive and transductive test gaps differ by about 0.001


def _measure(shift: Any, test: tuple[Any, Any], prompts: Any, labels: Any) -> dict[str, float]:
    """Test centroid gap, cone strengths and zero-shot accuracy after a fitted shift."""
    from .. import geometry
    from ..robustness import zero_shot_accuracy

    v, t = shift.transform(*test)
    return {"gap": geometry.centroid_gap(v, t), "R_image": geometry.mean_resultant_length(v),
            "R_text": geometry.mean_resultant_length(t),
            "accuracy": zero_shot_accuracy(v, shift.transform_text(prompts), labels)}


def _compare_rows(answer: Any, want: dict[str, dict[str, float]], n_test: int) -> list[str]:
    problems = []
    for row, values in want.items():
        for col in answer.columns:
            if col not in values:
                continue
            # an accuracy is a count over the test images: it must match to within one image
            tol = 0.5 / n_test if col == "accuracy" else GAP_TOL if col == "gap" else 1e-4
            problems += _compare.number(f"{col} of {row!r}", answer.loc[row, col], values[col], tol)
    return problems


@register("ex-lambda-transductive")
def lambda_transductive(answer: Any, *, train: tuple[Any, Any], test: tuple[Any, Any], prompts: Any,
                        labels: Any) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"inductive"`` and ``"transductive"`` with columns
    ``gap`` (test centroid gap) and ``accuracy`` (zero-shot accuracy, prompts shifted too) after
    ``LambdaShift(1.0)`` fitted on the training pairs, or on training and test pairs together."""
    from ..shift import LambdaShift

    problems = _compare.table(answer, ("inductive", "transductive"), ("gap", "accuracy"))
    if problems:
        return problems
    both = (np.vstack([train[0], test[0]]), np.vstack([train[1], test[1]]))
    want = {"inductive": _measure(LambdaShift(1.0).fit(*train), test, prompts, labels),
            "transductive": _measure(LambdaShift(1.0).fit(*both), test, prompts, labels)}
    return _compare_rows(answer, want, len(labels))


@register("ex-lambda-centering")
def lambda_centering(answer: Any, *, train: tuple[Any, Any], test: tuple[Any, Any], prompts: Any,
                     labels: Any) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"lambda_shift"`` and ``"mean_centering"`` with columns
    ``gap``, ``R_image``, ``R_text`` and ``accuracy`` on the test pairs, both fitted on the training pairs."""
    from ..shift import LambdaShift, MeanCentering

    problems = _compare.table(answer, ("lambda_shift", "mean_centering"), ("gap", "R_image", "R_text", "accuracy"))
    if problems:
        return problems
    want = {"lambda_shift": _measure(LambdaShift(1.0).fit(*train), test, prompts, labels),
            "mean_centering": _measure(MeanCentering().fit(*train), test, prompts, labels)}
    return _compare_rows(answer, want, len(labels))
