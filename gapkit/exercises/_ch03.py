"""Checks for the code exercises of chapter 3 (measuring the gap)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _compare, register

RMG_CASES = ("identical", "independent")
RMG_FORMS = ("reference", "no_average", "similarities")
TARGET_WIDTH = 0.01
CI_METRICS = ("centroid_gap", "relative_modality_gap")


def _rmg_forms(v: np.ndarray, t: np.ndarray) -> dict[str, float]:
    from .. import geometry

    c = geometry.paired_cosine(v, t)
    cv, ct = geometry.mean_pairwise_cosine(v), geometry.mean_pairwise_cosine(t)
    m, a, b = (1 - c) / 2, (1 - cv) / 2, (1 - ct) / 2
    return {"reference": geometry.relative_modality_gap(v, t), "no_average": m / (m + a + b),
            "similarities": m / (m + (cv + ct) / 2)}


@register("ex-rmg-closed-form")
def rmg_closed_form(answer: Any, *, cases: Mapping[str, tuple[Any, Any]]) -> list[str]:
    """``answer``: a table (DataFrame) indexed by ``"identical"`` and ``"independent"`` with columns
    ``reference``, ``no_average`` and ``similarities`` (the three RMG forms of section 3); ``cases``: case
    name → (image, text) embeddings the student built."""
    from .. import geometry

    problems = _compare.entries("cases", cases, list(RMG_CASES))
    problems += _compare.entries("the table", answer, list(RMG_CASES))
    missing = [c for c in RMG_FORMS if c not in getattr(answer, "columns", [])]
    if missing:
        problems.append(f"the table has no column {', '.join(map(repr, missing))}")
    if problems:
        return problems
    v, t = (np.asarray(a, dtype=np.float64) for a in cases["identical"])
    if v.shape != t.shape or not np.allclose(v, t):
        problems.append("the 'identical' case should have text = image")
    v, t = (np.asarray(a, dtype=np.float64) for a in cases["independent"])
    if v.shape != t.shape or np.allclose(v, t):
        problems.append("the 'independent' case should have images and texts drawn separately")
    elif max(abs(geometry.mean_pairwise_cosine(v)), abs(geometry.mean_pairwise_cosine(t)),
             abs(geometry.paired_cosine(v, t))) > 0.05:
        problems.append("the 'independent' case is not isotropic: draw both with rng.normal(size=(n, d)), no offset")
    if problems:
        return problems
    for case in RMG_CASES:
        for form, want in _rmg_forms(*cases[case]).items():
            problems += _compare.number(f"{form} of {case!r}", answer.loc[case, form], want, 1e-4)
    return problems


def _fits(width: Any) -> list[float]:
    """The constant ``c`` of width = c/√n: least squares on the log scale, and on the widths themselves."""
    n = np.asarray(width.index, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    ok = np.isfinite(w) & (w > 0)
    n, w = n[ok], w[ok]
    log_fit = float(np.exp(np.mean(np.log(w) + 0.5 * np.log(n))))
    plain_fit = float(np.sum(w / np.sqrt(n)) / np.sum(1 / n))
    return [log_fit, plain_fit]


@register("ex-ci-width")
def ci_width(answer: Mapping[str, float], *, widths: Any) -> list[str]:
    """``answer = {"centroid_gap": n, "relative_modality_gap": n}``: the pairs each metric needs for an
    interval of total width 0.01, from a fit width = c/√n to ``widths[metric, "image-text"]`` (either on the
    log scale or on the widths; 2 % tolerance on n)."""
    problems = _compare.entries("answer", answer, list(CI_METRICS))
    if problems:
        return problems
    for metric in CI_METRICS:
        wants = [(c / TARGET_WIDTH) ** 2 for c in _fits(widths[metric, "image-text"])]
        found = [_compare.number(f"the number of pairs for {metric}", answer[metric], want, rtol=0.02)
                 for want in wants]
        if all(found):
            problems += found[0]
    return problems
