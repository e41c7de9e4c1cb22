"""Checks for the code exercises of chapter 6 (supervised evaluation of the λ-shift)."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

import numpy as np

from . import _compare, register

ANGLE_SEED = 42
PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0)
_CACHE: dict[tuple, Any] = {}  # a check is rerun on the same inputs: its reference is computed once


def _digest(*arrays: Any) -> str:
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _cached(key: tuple, compute: Any) -> Any:
    if key not in _CACHE:
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = compute()
    return _CACHE[key]


def _mean_auc(result: Any) -> Any:
    return result.summary(["auc"])["auc"]["mean"]


@register("ex-sup-transductive")
def sup_transductive(answer: Mapping[str, Any], *, image: Any, text: Any, labels: Any, train_only: Any,
                     transductive: Any) -> list[str]:
    """``answer = {"auc": table, "angle": degrees}``: the table (DataFrame) indexed by λ with columns
    ``train_only`` and ``transductive`` (mean test AUC over the seeds of the two sweeps), and the angle
    between the train-only Δ of seed 42 and the transductive Δ; ``train_only``/``transductive``: the
    two :class:`~gapkit.train.SweepResult` of the linear head on ``image``, ``text``, ``labels``."""
    from .._validation import l2_normalize
    from ..train import split_indices

    problems = _compare.entries("answer", answer, ["auc", "angle"])
    if not getattr(transductive, "transductive", False):
        problems.append("the sweep passed as `transductive` fitted Δ on the training split: run it with "
                        "transductive=True")
    elif getattr(train_only, "transductive", True):
        problems.append("the sweep passed as `train_only` fitted Δ on all pairs: pass the train-only sweep")
    elif (not np.array_equal(np.asarray(transductive.lams), np.asarray(train_only.lams))
          or tuple(transductive.seeds) != tuple(train_only.seeds) or transductive.head != train_only.head):
        problems.append("run the transductive sweep with the λ grid, seeds and head of the train-only sweep")
    if problems:
        return problems
    auc = answer["auc"]
    want = {"train_only": _mean_auc(train_only), "transductive": _mean_auc(transductive)}
    lams = [float(lam) for lam in want["train_only"].index]
    problems += _compare.entries("the AUC table", {float(k): 0 for k in getattr(auc, "index", [])}, lams)
    missing = [c for c in want if c not in getattr(auc, "columns", [])]
    if missing:
        problems.append(f"the AUC table has no column {', '.join(map(repr, missing))}")
    if problems:
        return problems
    by_lam = {float(k): i for i, k in enumerate(auc.index)}
    for col, series in want.items():
        for lam, value in series.items():
            problems += _compare.number(f"{col} AUC at λ = {float(lam):g}", auc[col].iloc[by_lam[float(lam)]],
                                        float(value), 1e-6)
    # the angle, from the embeddings themselves: Δ over seed 42's training rows and over all rows
    diff = l2_normalize(image, dtype=np.float64) - l2_normalize(text, dtype=np.float64)
    train_rows = split_indices(np.asarray(labels), 0.2, ANGLE_SEED)[0]
    d_tr, d_all = diff[train_rows].mean(axis=0), diff.mean(axis=0)
    cos = float(np.clip(d_tr @ d_all / (np.linalg.norm(d_tr) * np.linalg.norm(d_all)), -1.0, 1.0))
    problems += _compare.number("the angle (in degrees)", answer["angle"], float(np.degrees(np.arccos(cos))),
                                rtol=0.02)
    return problems


def _penalty_reference(image: np.ndarray, text: np.ndarray, y: np.ndarray, seeds: tuple[int, ...]) -> dict:
    """λ-effect per C (mean AUC at λ = 1 minus at λ = 0, converged logistic regression) and the mean
    re-normalisation factors at λ = 1 on the training rows of the first seed."""
    from sklearn.linear_model import LogisticRegression

    from ..shift import LambdaShift
    from ..train import evaluate_predictions, infer_task, split_indices

    kind = infer_task(y)
    effect = {}
    for C in PENALTIES:
        auc = {}
        for lam in (0.0, 1.0):
            values = []
            for seed in seeds:
                tr, te = split_indices(y, 0.2, seed)
                shift = LambdaShift(lam=lam).fit(image[tr], text[tr])
                (v_tr, t_tr), (v_te, t_te) = shift.transform(image[tr], text[tr]), shift.transform(image[te], text[te])
                clf = LogisticRegression(C=C, max_iter=5000).fit(np.hstack([t_tr, v_tr]), y[tr])
                proba = clf.predict_proba(np.hstack([t_te, v_te]))
                values.append(evaluate_predictions(y[te], proba[:, 1] if kind == "binary" else proba, kind)["auc"])
            auc[lam] = float(np.mean(values))
        effect[C] = auc[1.0] - auc[0.0]
    tr, _ = split_indices(y, 0.2, seeds[0])
    shift = LambdaShift(lam=1.0, renormalize=False).fit(image[tr], text[tr])
    v_raw, t_raw = shift.transform(image[tr], text[tr])
    return {"effect": effect, "factor_image": float(np.mean(1 / np.linalg.norm(v_raw, axis=1))),
            "factor_text": float(np.mean(1 / np.linalg.norm(t_raw, axis=1)))}


@register("ex-sup-penalty")
def sup_penalty(answer: Mapping[str, Any], *, image: Any, text: Any, labels: Any, seeds: Sequence[int]) -> list[str]:
    """``answer = {"effect": λ-effect per C (a Series or dict indexed by C), "factor_image": ...,
    "factor_text": ...}``: the λ-effect of the converged logistic regression for C in 0.01 ... 100 over
    ``seeds``, and the mean re-normalisation factor 1/‖shifted row‖ at λ = 1 on the first seed's training
    rows."""
    problems = _compare.entries("answer", answer, ["effect", "factor_image", "factor_text"])
    if problems:
        return problems
    effect = answer["effect"]
    have = dict(effect.items()) if hasattr(effect, "items") else {}
    problems += _compare.entries("the λ-effect", {float(k): v for k, v in have.items()}, list(PENALTIES))
    if problems:
        return problems
    img, txt, y = np.asarray(image), np.asarray(text), np.asarray(labels)
    seeds = tuple(int(s) for s in seeds)
    ref = _cached(("ex-sup-penalty", _digest(img, txt, y), seeds), lambda: _penalty_reference(img, txt, y, seeds))
    have = {float(k): v for k, v in have.items()}
    for C in PENALTIES:
        problems += _compare.number(f"the λ-effect at C = {C:g}", have[C], ref["effect"][C], 1e-4)
    for key in ("factor_image", "factor_text"):
        problems += _compare.number(key, answer[key], ref[key], 1e-4)
    return problems
