"""Test metrics from probabilities: accuracy, macro-F1 and AUC (from probabilities or, as Restrepo et al., one-hot), in plain numpy."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """Binary ROC AUC via the Mann-Whitney rank sum (ties get average ranks); NaN if y has one class.

    Equal to :func:`sklearn.metrics.roc_auc_score` (tested), without its input-checking overhead.
    """
    pos = y.astype(bool)
    n1 = int(pos.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2tp / (2tp + fp + fn), 0 where undefined (sklearn's ``zero_division=0``)."""
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)


def evaluate_predictions(y_true: np.ndarray, proba: np.ndarray, task: str, auc: str = "proba") -> dict[str, float]:
    """Accuracy, macro-F1 and AUC from probabilities for encoded labels (chapter 6).

    ``y_true``: binary 0/1 (n,), multiclass 0..K-1 (n,), multilabel 0/1 (n, L).
    ``proba``: binary (n,) P(positive); multiclass (n, K) softmax; multilabel (n, L) sigmoids.
    Definitions match scikit-learn's ``accuracy_score``, ``f1_score(average="macro",
    zero_division=0)`` (binary: over both classes; multiclass: over the classes in
    ``y_true`` ∪ predictions) and ``roc_auc_score`` (multiclass: one-vs-rest,
    unweighted mean over classes present with both values; multilabel: mean
    per-label AUC) — tested against them — but run in plain numpy.
    Multilabel accuracy is the mean per-label accuracy. AUC is NaN when no
    class/label has both values in ``y_true``.

    ``auc="onehot"`` scores a *multiclass* AUC as Restrepo et al.'s code does: each class's
    one-vs-rest AUC from the hard one-hot prediction (1 for the argmax class, 0 elsewhere), so
    each ROC curve is a single point and the class's AUC is ``(TPR + TNR) / 2``; then the mean
    over classes with both values in ``y_true`` (``roc_auc_score(onehot(y), onehot(pred),
    average=None)`` and ``nanmean``). It is lower and coarser than the default ``"proba"``.
    Binary and multilabel AUCs come from probabilities either way, as in their code.
    """
    if auc not in ("proba", "onehot"):
        raise ValueError(f"auc={auc!r} is not valid: use 'proba' (from probabilities, the book's default) or "
                         "'onehot' (multiclass AUC from hard one-hot predictions, as Restrepo et al. computed it).")
    proba = np.asarray(proba, dtype=np.float64)
    if task == "binary":
        yt = np.asarray(y_true).astype(int).ravel()
        p = proba.ravel()
        pred = (p >= 0.5).astype(int)
        tp = np.array([np.sum((pred == k) & (yt == k)) for k in (0, 1)], dtype=float)
        fp = np.array([np.sum((pred == k) & (yt != k)) for k in (0, 1)], dtype=float)
        fn = np.array([np.sum((pred != k) & (yt == k)) for k in (0, 1)], dtype=float)
        return {"accuracy": float(np.mean(pred == yt)), "f1_macro": float(_f1(tp, fp, fn).mean()), "auc": _auc(yt, p)}
    if task == "multiclass":
        yt = np.asarray(y_true).astype(int)
        pred = proba.argmax(axis=1)
        labels = np.union1d(yt, pred)
        tp = np.array([np.sum((pred == k) & (yt == k)) for k in labels], dtype=float)
        fp = np.array([np.sum((pred == k) & (yt != k)) for k in labels], dtype=float)
        fn = np.array([np.sum((pred != k) & (yt == k)) for k in labels], dtype=float)
        score = (pred[:, None] == np.arange(proba.shape[1])).astype(float) if auc == "onehot" else proba
        aucs = [_auc(yt == k, score[:, k]) for k in range(proba.shape[1]) if 0 < np.sum(yt == k) < len(yt)]
        return {"accuracy": float(np.mean(pred == yt)), "f1_macro": float(_f1(tp, fp, fn).mean()),
                "auc": float(np.mean(aucs)) if aucs else float("nan")}
    yt = np.asarray(y_true).astype(int)
    pred = (proba >= 0.5).astype(int)
    tp = ((pred == 1) & (yt == 1)).sum(0).astype(float)
    fp = ((pred == 1) & (yt == 0)).sum(0).astype(float)
    fn = ((pred == 0) & (yt == 1)).sum(0).astype(float)
    aucs = [_auc(yt[:, j], proba[:, j]) for j in range(yt.shape[1]) if 0 < yt[:, j].sum() < len(yt)]
    return {"accuracy": float(np.mean(pred == yt)), "f1_macro": float(_f1(tp, fp, fn).mean()),
            "auc": float(np.mean(aucs)) if aucs else float("nan")}
