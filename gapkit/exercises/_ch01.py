"""Checks for the code exercises of chapter 1 (the cone effect)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from . import _compare, register

LINEAR_DEPTHS = (1, 5, 10, 20)
LINEAR_SEEDS = (0, 1, 2)
WIDTHS = (32, 64, 128, 256, 512, 1024)
WIDTH_DEPTH = 6
WIDTH_SEEDS = (0, 1, 2)
WIDTH_INPUT_SEED = 2


def _columns(answer: Any, columns: tuple[str, ...], name: str = "the table") -> list[str]:
    missing = [c for c in columns if c not in getattr(answer, "columns", [])]
    return [f"{name} has no column {', '.join(map(repr, missing))}"] if missing else []


@lru_cache(maxsize=4)
def _linear_reference(data: bytes, shape: tuple[int, ...], dtype: str, shift: float) -> dict[str, dict[int, float]]:
    """Mean cosine by depth (mean over seeds) of the affine networks, centred and shifted (cached: the
    check is rerun on the same inputs)."""
    from .. import cone

    x = np.frombuffer(data, dtype=dtype).reshape(shape)
    out = {}
    for col, xs in (("centred", x), ("shifted", x + shift)):
        res = cone.mlp_cone(xs, depths=LINEAR_DEPTHS, activations=[None], seeds=LINEAR_SEEDS)
        out[col] = {int(d): float(v) for d, v in res.groupby("depth").mean_cosine.mean().items()}
    return out


@lru_cache(maxsize=4)
def _width_reference(n_inputs: int) -> dict[int, tuple[float, float, float]]:
    """Width → (mean R, std R with ddof=1, with ddof=0) over the seeds (cached)."""
    from .. import cone

    out = {}
    for width in WIDTHS:
        inputs = cone.gaussian_inputs(n_inputs, width, seed=WIDTH_INPUT_SEED)
        res = cone.mlp_cone(inputs, depths=[WIDTH_DEPTH], activations=["relu"], seeds=WIDTH_SEEDS, width=width)
        out[width] = (float(res.R.mean()), float(res.R.std(ddof=1)), float(res.R.std(ddof=0)))
    return out


@register("ex-cone-linear")
def cone_linear(answer: Any, *, inputs: Any, shift: float) -> list[str]:
    """``answer``: a table (DataFrame) indexed by depth (1, 5, 10, 20) with columns ``centred`` and
    ``shifted``, the mean pairwise cosine of the affine network's outputs averaged over seeds 0, 1, 2;
    ``inputs``: the centred inputs; ``shift``: the number added to every coordinate for ``shifted``."""
    from .. import geometry

    problems = _compare.entries("the table", answer, list(LINEAR_DEPTHS)) + _columns(answer, ("centred", "shifted"))
    x = np.ascontiguousarray(inputs)
    if abs(geometry.mean_pairwise_cosine(x)) > 0.05:
        problems.append("the inputs passed as `inputs` are not centred (their mean pairwise cosine is far from 0): "
                        "pass the zero-mean Gaussian inputs, before the shift")
    if problems:
        return problems
    want = _linear_reference(x.tobytes(), x.shape, x.dtype.str, float(shift))
    for col in ("centred", "shifted"):
        for depth in LINEAR_DEPTHS:
            problems += _compare.number(f"{col} at depth {depth}", answer.loc[depth, col], want[col][depth], 1e-4)
    return problems


@register("ex-cone-width")
def cone_width(answer: Any, *, n_inputs: int) -> list[str]:
    """``answer``: a table (DataFrame) indexed by width (32, ..., 1024) with columns ``R_mean`` and
    ``R_std``, the mean and standard deviation over seeds 0, 1, 2 of the cone strength R of a depth-6 ReLU
    network fed ``cone.gaussian_inputs(n_inputs, width, seed=2)``."""
    problems = _compare.entries("the table", answer, list(WIDTHS)) + _columns(answer, ("R_mean", "R_std"))
    if problems:
        return problems
    for width, (mean, std1, std0) in _width_reference(int(n_inputs)).items():
        problems += _compare.number(f"R_mean at width {width}", answer.loc[width, "R_mean"], mean, 1e-4)
        # the sample standard deviation (pandas' default, ddof=1) or numpy's (ddof=0): either is right
        std = [_compare.number(f"R_std at width {width}", answer.loc[width, "R_std"], want, 1e-4)
               for want in (std1, std0)]
        problems += std[0] if std[0] and std[1] else []
    return problems
