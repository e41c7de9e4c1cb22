"""Zero-shot predictions and their robustness to perturbations (chapter 7, Chowers 2026).

Robustness is measured as a **flip rate**: the probability that the zero-shot
prediction ``argmax_k cos(query, class_k)`` changes when the query embedding
is perturbed, ``P[argmax(q̃) ≠ argmax(q) ]``, averaged over queries and trials.
Labels are not needed for it: a flip is a flip whether the clean prediction
was right or wrong. Perturbations act on the L2-normalised query rows and the
result is put back on the unit sphere:

- ``"gaussian"``: ``q̃ = normalise(q̂ + σ·ε)``, ``ε ~ N(0, I_d)`` (so the noise
  norm is about ``σ√d``);
- ``"quantize"``: symmetric per-row uniform quantisation to ``bits`` bits,
  ``step = max_j |q̂_j| / (2^(bits−1) − 1)``, ``q̃ = normalise(step·round(q̂/step))``
  (deterministic, so one trial);
- a callable ``f(q_unit, rng) -> q_perturbed`` for anything else (e.g.
  re-embedded caption rephrasings can be compared with :func:`flip_rate_between`).

Used with :class:`gapkit.shift.OrthogonalShift`, which leaves clean zero-shot
predictions exactly unchanged while moving the image embeddings.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ._validation import SEED, Integral, Interval, Real, as_matrix, check_param, l2_normalize, validate_params

__all__ = ["zero_shot_predict", "zero_shot_accuracy", "zero_shot_margins", "perturb", "flip_rate",
           "flip_rate_curve", "flip_rate_between"]

Perturbation = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# declarative parameter constraints (gapkit._validation.validate_params)
_SIGMA = [Interval(Real, 0, None, closed="left")]
_BITS = [Interval(Integral, 2, 32, closed="both")]
_PERTURBATION = ["callable", str]


def _pair(query_emb: Any, class_emb: Any) -> tuple[np.ndarray, np.ndarray]:
    q = as_matrix(query_emb, name="query_emb", min_rows=1)
    c = as_matrix(class_emb, name="class_emb", min_rows=2)
    if q.shape[1] != c.shape[1]:
        raise ValueError(
            f"query_emb has {q.shape[1]} dimensions but class_emb has {c.shape[1]}; both must come from the same "
            "joint embedding space."
        )
    return l2_normalize(q, dtype=np.float64), l2_normalize(c, dtype=np.float64)


def _predict_unit(q_unit: np.ndarray, c_unit: np.ndarray) -> np.ndarray:
    return np.argmax(q_unit @ c_unit.T, axis=1)


def zero_shot_predict(query_emb: Any, class_emb: Any) -> np.ndarray:
    """Index of the most cosine-similar class embedding for each query row (shape (n,))."""
    q, c = _pair(query_emb, class_emb)
    return _predict_unit(q, c)


def zero_shot_accuracy(query_emb: Any, class_emb: Any, labels: Any) -> float:
    """Fraction of queries whose nearest class embedding (cosine) is ``labels[i]`` (a row index of ``class_emb``)."""
    q, c = _pair(query_emb, class_emb)
    lab = np.asarray(labels)
    if lab.shape != (q.shape[0],):
        raise ValueError(f"labels: expected shape ({q.shape[0]},), one class index per query, got {lab.shape}.")
    if lab.dtype.kind not in "iu" or lab.min() < 0 or lab.max() >= c.shape[0]:
        raise ValueError(f"labels must be integer row indices into class_emb (0..{c.shape[0] - 1}).")
    return float(np.mean(_predict_unit(q, c) == lab))


def zero_shot_margins(query_emb: Any, class_emb: Any) -> np.ndarray:
    """Top-1 minus top-2 cosine of each query against the class embeddings (shape (n,), ≥ 0).

    How far each zero-shot prediction is from changing: a perturbation that moves
    the two best class scores by less than half the margin cannot flip it.
    Chapters 4 and 7.
    """
    q, c = _pair(query_emb, class_emb)
    top2 = np.partition(q @ c.T, -2, axis=1)[:, -2:]
    return top2.max(axis=1) - top2.min(axis=1)


@validate_params({"kind": _PERTURBATION, "sigma": _SIGMA, "bits": _BITS, "rng": [None, np.random.Generator]})
def perturb(x_unit: np.ndarray, kind: str | Perturbation = "gaussian", *, sigma: float = 0.05, bits: int = 8,
            rng: np.random.Generator | None = None) -> np.ndarray:
    """Perturb unit rows and re-normalise (see the module docstring for the definitions)."""
    rng = np.random.default_rng() if rng is None else rng
    if callable(kind):
        out = np.asarray(kind(x_unit, rng), dtype=np.float64)
        if out.shape != x_unit.shape:
            raise ValueError(f"custom perturbation returned shape {out.shape}, expected {x_unit.shape}")
    elif kind == "gaussian":
        if sigma == 0:
            return x_unit.copy()
        out = x_unit + sigma * rng.standard_normal(x_unit.shape)
    elif kind == "quantize":
        levels = 2 ** (bits - 1) - 1
        step = np.abs(x_unit).max(axis=1, keepdims=True) / levels
        out = np.round(x_unit / step) * step
    else:
        raise ValueError(f"perturbation must be 'gaussian', 'quantize' or a callable, got {kind!r}")
    zero = ~(out != 0).any(axis=1)
    if zero.any() or not np.isfinite(out).all():
        raise ValueError(
            f"the perturbation returned {int(zero.sum())} all-zero row(s) and "
            f"{int((~np.isfinite(out).all(axis=1)).sum())} non-finite row(s), which have no direction to classify; "
            "a perturbation must return finite, non-zero rows."
        )
    return l2_normalize(out, dtype=np.float64)


@validate_params({"perturb": _PERTURBATION, "sigma": _SIGMA, "bits": _BITS,
                  "n_trials": [Interval(Integral, 1, None, closed="left")], "seed": [None, SEED]})
def flip_rate(query_emb: Any, class_emb: Any, perturb: str | Perturbation = "gaussian", *, sigma: float = 0.05,
              bits: int = 8, n_trials: int = 10, seed: int = 0) -> float:
    """P[argmax changes | query embedding + perturbation] for zero-shot classification (chapter 7).

    Parameters
    ----------
    query_emb : array-like, shape (n, d)
        Embeddings that are perturbed (e.g. images, after any shift).
    class_emb : array-like, shape (K, d)
        Class embeddings (e.g. text prompts), not perturbed.
    perturb : {"gaussian", "quantize"} or callable
        See the module docstring. ``"quantize"`` is deterministic and uses one trial.
    sigma : float
        Standard deviation per coordinate for ``"gaussian"``.
    bits : int
        Bits per coordinate for ``"quantize"``.
    n_trials : int
        Independent perturbations per query.
    seed : int
        Seeds the noise.

    Returns
    -------
    float in [0, 1]
        Fraction of (query, trial) pairs whose prediction differs from the clean one.
    """
    q, c = _pair(query_emb, class_emb)
    rng = np.random.default_rng(seed)
    clean = _predict_unit(q, c)
    trials = 1 if (isinstance(perturb, str) and perturb == "quantize") else n_trials
    flips = 0
    for _ in range(trials):
        flips += int(np.sum(_predict_unit(_perturb(q, perturb, sigma=sigma, bits=bits, rng=rng), c) != clean))
    return flips / (trials * q.shape[0])


_perturb = perturb  # the public function, under a name flip_rate's argument does not shadow


def flip_rate_curve(query_emb: Any, class_emb: Any, sigmas: Sequence[float], *, n_trials: int = 10,
                    seed: int = 0) -> pd.DataFrame:
    """Gaussian flip rate for each σ in ``sigmas``: a DataFrame with columns ``sigma``, ``flip_rate``."""
    sig = [check_param(f"sigmas[{i}]", s, _SIGMA, owner="flip_rate_curve") for i, s in enumerate(sigmas)]
    return pd.DataFrame({"sigma": sig,
                         "flip_rate": [flip_rate(query_emb, class_emb, "gaussian", sigma=s, n_trials=n_trials,
                                                 seed=seed) for s in sig]})


def flip_rate_between(query_emb: Any, perturbed_emb: Any, class_emb: Any) -> float:
    """Flip rate between two matched sets of queries (e.g. captions and their rephrasings, re-embedded)."""
    q, c = _pair(query_emb, class_emb)
    p, _ = _pair(perturbed_emb, class_emb)
    if p.shape != q.shape:
        raise ValueError(f"perturbed_emb has shape {p.shape}, query_emb {q.shape}; rows must be matched.")
    return float(np.mean(_predict_unit(q, c) != _predict_unit(p, c)))
