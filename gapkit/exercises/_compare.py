"""Comparisons that say what is wrong without saying what is right (gapkit.exercises)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def number(name: str, got: Any, want: float, tol: float = 0.0, *, rtol: float | None = None) -> list[str]:
    """Problems with a scalar answer ``got`` for the quantity ``name`` (expected ``want`` ± ``tol``).

    With ``rtol`` the tolerance is ``rtol · |want|`` and the message names it as a percentage (an absolute
    figure would give the expected value away)."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        return [f"{name} should be a number, got {type(got).__name__}"]
    if not np.isfinite(value):
        return [f"{name} is {value}: it should be a finite number"]
    if rtol is not None:
        tol = rtol * abs(want)
    if abs(value - want) <= tol:
        return []
    if want != 0 and np.sign(value) == -np.sign(want):
        return [f"{name} has the wrong sign"]
    side = "too large" if value > want else "too small"
    bound = f"{rtol:.0%}" if rtol is not None else f"the tolerance {tol:g}"
    return [f"{name} = {value:.4g} is {side} (off by more than {bound})"]


def array(name: str, got: Any, want: np.ndarray, atol: float) -> list[str]:
    """Problems with an array answer: shape first, then the largest deviation."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return [f"{name} should be an array of numbers, got {type(got).__name__}"]
    if arr.shape != want.shape:
        return [f"{name} has shape {arr.shape}; it should have shape {want.shape}"]
    if not np.all(np.isfinite(arr)):
        return [f"{name} holds NaN or infinite values"]
    worst = float(np.max(np.abs(arr - want))) if arr.size else 0.0
    return [] if worst <= atol else [f"{name} differs from the expected values by up to {worst:.3g} "
                                     f"(tolerance {atol:g})"]


def entries(name: str, got: Any, keys: list[Any]) -> list[str]:
    """Problems with a mapping (dict, Series or DataFrame index) that must hold exactly ``keys``."""
    have = list(got.keys()) if isinstance(got, Mapping) else list(getattr(got, "index", []))
    missing = [k for k in keys if k not in have]
    extra = [k for k in have if k not in keys]
    out = []
    if missing:
        out.append(f"{name} has no entry for {', '.join(map(repr, missing))}")
    if extra:
        out.append(f"{name} has entries the exercise does not ask for: {', '.join(map(repr, extra))}")
    return out


def table(answer: Any, rows: list[Any] | tuple[Any, ...], columns: list[str] | tuple[str, ...],
          name: str = "the table") -> list[str]:
    """Problems with a table (DataFrame) that must hold exactly ``rows`` and at least ``columns``."""
    problems = entries(name, answer, list(rows))
    missing = [c for c in columns if c not in getattr(answer, "columns", [])]
    if missing:
        problems.append(f"{name} has no column {', '.join(map(repr, missing))}")
    return problems
