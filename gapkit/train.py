"""Supervised early-fusion heads and λ sweeps: the protocol of Restrepo et al. (2026) (chapter 5).

The protocol of the authors' public code (see ``shared/background.md``), with
three differences listed under *Where we differ* below:

- features: early fusion ``concat[text′, image′]`` of λ-shifted, unit-norm embeddings;
- head: ``"linear"`` (one ``Linear`` layer, the paper's reported setting) or
  ``"mlp"`` (``Linear → ReLU → Linear`` with 128 hidden units);
- AdamW (lr 3e-4, PyTorch's default weight decay 0.01, betas (0.9, 0.999)),
  batch 512, at most 100 epochs, early stopping on validation loss with
  patience 10 (validation = a seeded 10 % of the training split, stratified by
  default; ``stratify_validation=False`` draws it at random, as the authors do);
  the weights of the best validation epoch are restored before testing;
- class-balanced losses: binary → ``BCEWithLogits`` with
  ``pos_weight = n_neg / n_pos``; multiclass → cross-entropy weighted by
  inverse frequency ``n / (K · n_k)``; multilabel → BCE with per-label
  ``pos_weight``. Weights are counted on the rows the head is fitted on;
- metrics on the held-out test split: accuracy, macro-F1 and AUC computed from
  *probabilities* (the authors' multiclass AUC used hard one-hot predictions;
  we do not). Multiclass AUC is one-vs-rest, unweighted mean over classes;
  multilabel AUC is the mean per-label AUC; classes or labels with only one
  value in the test split are skipped. **Multilabel accuracy is the mean
  per-label accuracy** (1 − Hamming loss), not exact-match accuracy.

Splits. Every seed in ``seeds`` gets its own stratified 80/20 split (seeded by
that seed), its own validation split, initialisation and minibatch order: the
natural reading of "5 runs with seeds 42–46". Pass ``split_seed=42`` to keep
one outer split for every run instead (the literal reading of "split with seed
42"). Pass ``split_column=`` (one "train"/"test" entry per row) for a fixed outer
split, the same for every run, as the authors' code reads from its data files. Δ
is fitted on the training split only; ``transductive=True`` fits it on the whole
data set, as the authors' code does.

Where we differ from the authors' protocol (and how to get theirs):

- **Validation split.** Theirs is a random 10 % of the training split; ours is
  stratified by default, so that rare classes appear in it (a random 10 % of a
  small split can miss a class, and early stopping then watches a loss that
  ignores it). ``stratify_validation=False`` gives theirs.
- **Outer split.** Theirs is a fixed split column of the data set, the same for
  every run; ours is a stratified 80/20 split drawn per seed (``split_seed=``
  fixes one drawn split for all runs). ``split_column=`` gives theirs.
- **Multilabel loss weights.** Theirs weights each label by ``n / (K · n_k)``
  (``n_k`` positives of label ``k`` among ``n`` rows, ``K`` labels), the
  multiclass inverse-frequency recipe applied per label; ours uses BCE with a
  per-label ``pos_weight = (n − n_k) / n_k``, which balances positives against
  negatives within each label. Not offered as an option: the book's data sets
  are binary or multiclass, where our losses are exactly theirs.

Two implementations of the same protocol:

- :func:`train_head` trains one head with a plain PyTorch loop
  (``nn.Sequential`` + ``torch.optim.AdamW``). It is the reference.
- :func:`sweep_lambda` trains *every* (λ, seed) head of a sweep at once as one
  batched model. Parameters are stacked along (seed, λ) axes; each step runs
  one ``torch.bmm`` over (modality, seed) per layer and direction. The λ-shift is folded
  into the first layer, ``W·normalise(x̂ + cΔ) = (W·x̂ + c·W·Δ) / ‖x̂ + cΔ‖``, so
  the shifted features are never materialised per head and all λ of a seed
  share one minibatch read. The loss is the sum over heads of each head's own
  mean loss and AdamW runs elementwise, so every head follows exactly the
  trajectory it would follow alone (same init, same batches, same updates) up
  to floating-point rounding (float64: identical to ~1e-12; float32: metrics
  within ~1e-6 in the benchmark). Heads that early-stop keep their
  best-validation snapshot, which is what they are scored with, and leave the
  working set: a seed whose heads have all stopped drops out of the batch, and
  the λ axis shrinks to the largest number of heads a seed still trains (the
  slots of a seed with fewer repeat one of its heads, masked). The
  normalisation factors ``1/‖x̂ + cΔ‖`` depend only on the data, Δ and λ, so
  they are computed once per row before training and laid out once per epoch in
  minibatch order, with the labels; the unit rows are held once per modality
  (shared by all seeds), and a training step is a handful of kernels: one
  gather of the seeds' minibatch rows into a reused buffer, one batched matmul
  over (modality, seed) per direction, the loss gradient, one fused AdamW
  update. The linear head uses closed-form gradients (tested against autograd); the
  MLP uses autograd. ``batched=False`` runs the same sweep through
  :func:`train_head`, one head at a time.

Speed notes: the batched sweep is GPU-friendly (``device="cuda"``). On a CPU it
runs everything on one thread except the matmuls and the gather, which use the
faster of one thread and the caller's ``torch.get_num_threads()``, measured
during the sweep (on a machine shared with other jobs, threads that wait for
each other can make a step ten times slower); the caller's setting is restored.
A step costs the same matrix products as all its heads' steps one at a time
(``4·S·L·d·B`` multiply-adds for the linear head), so the speed-up over
``batched=False`` is bounded by how slow the one-head loop is per step, not by
the batched code: ``benchmarks/bench_sweep.py`` times both paths.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from sklearn.model_selection import train_test_split

from ._validation import (SEED, Integral, Interval, Options, Real, as_matrix, as_paired, check_labels, check_param,
                          l2_normalize, validate_params)
from .geometry import _one_blas_thread
from .shift import lambda_shift

__all__ = [
    "train_head",
    "sweep_lambda",
    "SweepResult",
    "infer_task",
    "split_indices",
    "evaluate_predictions",
    "resolve_device",
    "METRICS",
]

#: Metric names, in the order they appear in result tables.
METRICS: tuple[str, ...] = ("accuracy", "f1_macro", "auc")
_TASKS = ("binary", "multiclass", "multilabel")
_HEADS = ("linear", "mlp")
_DEFAULT_LAMS = np.round(np.arange(0, 1.01, 0.1), 1)
_BETAS = (0.9, 0.999)
_EPS = 1e-8
_CHUNK = 8192  # rows per forward pass when evaluating

# declarative parameter constraints (gapkit._validation.validate_params), shared by train_head and sweep_lambda
_POS_INT = [Interval(Integral, 1, None, closed="left")]
_FRACTION = [Interval(Real, 0, 1, closed="neither")]
_PROTOCOL = {
    "head": [Options(*_HEADS)],
    "task": [None, Options(*_TASKS)],
    "hidden": _POS_INT,
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "batch_size": _POS_INT,
    "max_epochs": _POS_INT,
    "patience": _POS_INT,
    "val_size": _FRACTION,
    "stratify_validation": ["boolean"],
    "progress": ["boolean"],
}


# --------------------------------------------------------------------------- helpers


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to :class:`torch.device`."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but torch.cuda.is_available() is False; use device='auto' or 'cpu'.")
    return dev


def _torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return table[dtype]


def infer_task(y: Any) -> str:
    """Task type from labels: 1-D with 2 classes → ``"binary"``, >2 → ``"multiclass"``, 2-D 0/1 → ``"multilabel"``."""
    arr = np.asarray(y)
    if arr.ndim == 2:
        return "multilabel"
    if arr.ndim == 1:
        return "binary" if len(np.unique(arr)) == 2 else "multiclass"
    raise ValueError(f"labels must be 1-D or 2-D, got shape {arr.shape}")


def _encode(y: np.ndarray, task: str | None) -> tuple[np.ndarray, str, int, np.ndarray]:
    """Return (encoded labels, task, n_outputs, classes). Binary → 0/1 floats; multiclass → 0..K-1 ints."""
    task = infer_task(y) if task is None else task
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS} or None (infer), got {task!r}")
    if task == "multilabel":
        if y.ndim != 2:
            raise ValueError(f"task='multilabel' needs 2-D (n, n_labels) 0/1 labels, got shape {y.shape}")
        return y.astype(np.float64), task, y.shape[1], np.arange(y.shape[1])
    if y.ndim != 1:
        raise ValueError(f"task={task!r} needs 1-D labels (one class id per sample), got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if task == "binary":
        if len(classes) != 2:
            raise ValueError(
                f"task='binary' needs exactly 2 classes, got {len(classes)} ({classes[:10]!r}); use task='multiclass'."
            )
        return codes.astype(np.float64), task, 1, classes
    return codes.astype(np.int64), task, len(classes), classes


def _strat_key(y: np.ndarray) -> np.ndarray:
    if y.ndim == 1:
        return y
    # multilabel: stratify on label combinations; combinations seen once are pooled
    keys = np.array(["".join(map(str, row)) for row in y.astype(int)])
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.where(counts[inv] >= 2, keys, "rare")


@validate_params({"test_size": _FRACTION, "seed": [SEED], "stratify": ["boolean"]})
def split_indices(y: Any, test_size: float, seed: int, *, stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split of ``range(len(y))`` into (train, test) index arrays (both sorted).

    Multilabel labels are stratified on their label combinations (combinations
    seen once are pooled); if that is impossible the split falls back to a
    plain seeded random split. ``stratify=False``: a plain seeded random split
    (scikit-learn's ``train_test_split`` with ``random_state=seed``). Used for
    the outer 80/20 split and for the inner validation split, identically by
    :func:`train_head` and :func:`sweep_lambda`.
    """
    y = np.asarray(y)
    idx = np.arange(len(y))
    if not stratify:
        tr, te = train_test_split(idx, test_size=test_size, random_state=seed)
        return np.sort(tr), np.sort(te)
    try:
        tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=_strat_key(y))
    except ValueError as exc:
        if y.ndim == 2:
            tr, te = train_test_split(idx, test_size=test_size, random_state=seed)
        else:
            _, counts = np.unique(y, return_counts=True)
            raise ValueError(
                f"stratified split (test_size={test_size}) failed: {exc} Smallest class has {counts.min()} "
                "sample(s); every class needs enough samples to appear on both sides of the split."
            ) from exc
    return np.sort(tr), np.sort(te)


def _class_weights(y: np.ndarray, task: str, n_out: int) -> np.ndarray:
    """pos_weight (binary: shape (1,), multilabel: (L,)) or class weights (multiclass: (K,))."""
    n = len(y)
    if task == "multiclass":
        counts = np.bincount(y, minlength=n_out).astype(np.float64)
        with np.errstate(divide="ignore"):
            return np.where(counts > 0, n / (n_out * np.maximum(counts, 1)), 0.0)
    pos = y.sum(axis=0) if task == "multilabel" else np.array([y.sum()])
    pos = np.atleast_1d(pos).astype(np.float64)
    return np.where(pos > 0, (n - pos) / np.maximum(pos, 1), 1.0)


def _init_params(d_in: int, n_out: int, head: str, hidden: int, seed: int,
                 generator: torch.Generator | None = None) -> tuple[list[torch.Tensor], torch.Generator]:
    """Initial weights in ``nn.Linear`` layout, drawn like PyTorch's default (U(±1/√fan_in)).

    Drawn from a :class:`torch.Generator` seeded with ``seed``; the same
    generator then drives the minibatch order, so a head's whole run depends
    on its seed only. Returns ``([W1, b1] or [W1, b1, W2, b2], generator)``.
    """
    g = torch.Generator().manual_seed(int(seed)) if generator is None else generator
    sizes = [(d_in, n_out)] if head == "linear" else [(d_in, hidden), (hidden, n_out)]
    out: list[torch.Tensor] = []
    for fan_in, fan_out in sizes:
        k = 1.0 / math.sqrt(fan_in)
        out.append(torch.empty(fan_out, fan_in, dtype=torch.float64).uniform_(-k, k, generator=g))
        out.append(torch.empty(fan_out, dtype=torch.float64).uniform_(-k, k, generator=g))
    return out, g


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


def evaluate_predictions(y_true: np.ndarray, proba: np.ndarray, task: str) -> dict[str, float]:
    """Accuracy, macro-F1 and AUC from probabilities for encoded labels.

    ``y_true``: binary 0/1 (n,), multiclass 0..K-1 (n,), multilabel 0/1 (n, L).
    ``proba``: binary (n,) P(positive); multiclass (n, K) softmax; multilabel (n, L) sigmoids.
    Definitions match scikit-learn's ``accuracy_score``, ``f1_score(average="macro",
    zero_division=0)`` (binary: over both classes; multiclass: over the classes in
    ``y_true`` ∪ predictions) and ``roc_auc_score`` (multiclass: one-vs-rest,
    unweighted mean over classes present with both values; multilabel: mean
    per-label AUC) — tested against them — but run in plain numpy.
    Multilabel accuracy is the mean per-label accuracy. AUC is NaN when no
    class/label has both values in ``y_true``.
    """
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
        aucs = [_auc(yt == k, proba[:, k]) for k in range(proba.shape[1]) if 0 < np.sum(yt == k) < len(yt)]
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


def _shifted_centroids(v_hat: np.ndarray, t_hat: np.ndarray, deltas: np.ndarray, rows: Sequence[np.ndarray],
                       lams: np.ndarray, renormalize: bool) -> dict[str, np.ndarray]:
    """Centroid gap and mean resultant lengths of λ-shifted unit rows, for every seed and λ: ``(S, L)`` arrays.

    Seed ``k`` has the gap vector ``deltas[k]`` and its training rows ``rows[k]``. Closed form, no
    shifted copies: the mean of ``normalise(x̂ + cΔ)`` is ``(Σ_i x̂_i / r_i + cΔ Σ_i 1/r_i) / n`` with
    ``r_i = ‖x̂_i + cΔ‖ = √(1 + 2c⟨x̂_i, Δ⟩ + c²‖Δ‖²)`` (``r_i = 1`` without re-normalisation, where the
    numbers describe the un-normalised features the head sees). The sums over a seed's rows are
    one ``(L, n) @ (n, d)`` product per modality (the weight of a row outside the seed's training
    split is 0), with no copy of those rows.
    """
    n = v_hat.shape[0]
    S, L = deltas.shape[0], len(lams)
    dn2 = (deltas**2).sum(axis=1)                                              # (S,)
    means = {}
    for name, x, sign in (("image", v_hat, -1.0), ("text", t_hat, 1.0)):
        c = sign * np.asarray(lams, dtype=np.float64) / 2                     # (L,)
        means[name] = np.empty((S, L, x.shape[1]))
        for k, tr in enumerate(rows):
            if renormalize:
                inv_r = 1.0 / np.sqrt(1.0 + 2.0 * np.outer((x @ deltas[k])[tr], c) + c**2 * dn2[k])   # (n_k, L)
            else:
                inv_r = np.ones((len(tr), L))
            wts = np.zeros((L, n))
            wts[:, tr] = inv_r.T / len(tr)
            means[name][k] = wts @ x + (c * inv_r.mean(axis=0))[:, None] * deltas[k]
    return {"gap": np.linalg.norm(means["image"] - means["text"], axis=-1),
            "image_R": np.linalg.norm(means["image"], axis=-1), "text_R": np.linalg.norm(means["text"], axis=-1)}


# --------------------------------------------------------------------------- reference: one head


def _check_test_classes(y_train: np.ndarray, y_test: np.ndarray) -> None:
    """A head cannot predict a class it never saw: test classes must all occur in the training labels."""
    try:
        unseen = np.setdiff1d(np.unique(y_test), np.unique(y_train))
    except TypeError:  # labels of incomparable types: check_labels on the concatenation names them
        return
    if unseen.size:
        rows = np.flatnonzero(np.isin(y_test, unseen))
        shown = ", ".join(str(int(r)) for r in rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
        raise ValueError(
            f"y_test: class(es) {unseen.tolist()} (test row(s) {shown}) never occur in y_train, so the head would "
            f"silently gain an output it cannot learn. Drop those test rows, or split the data with a stratified "
            "split (gapkit.train.split_indices) so that every class is on both sides."
        )


def _reference_criterion(task: str, weights: torch.Tensor) -> torch.nn.Module:
    if task == "multiclass":
        return torch.nn.CrossEntropyLoss(weight=weights)
    return torch.nn.BCEWithLogitsLoss(pos_weight=weights)


@validate_params({**_PROTOCOL, "seed": [SEED], "dtype": [Options("float32", "float64"), torch.dtype]})
def train_head(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    head: str = "linear",
    seed: int = 42,
    task: str | None = None,
    *,
    hidden: int = 128,
    lr: float = 3e-4,
    weight_decay: float = 0.01,
    batch_size: int = 512,
    max_epochs: int = 100,
    patience: int = 10,
    val_size: float = 0.1,
    device: str | torch.device = "auto",
    dtype: str = "float32",
    progress: bool = False,
    stratify_validation: bool = True,
) -> dict[str, float]:
    """Train one classification head with the paper's protocol; the reference loop (chapter 5).

    A plain PyTorch loop: ``nn.Sequential`` head, ``torch.optim.AdamW``,
    minibatches in a seeded order, early stopping on validation loss, best
    weights restored, metrics on ``(X_test, y_test)``.

    Parameters
    ----------
    X_train, X_test : array-like, shape (n, D)
        Features (for the protocol: ``concat[text′, image′]``). Used as given.
    y_train, y_test : array-like
        Labels: 1-D class ids (binary/multiclass) or 2-D 0/1 (multilabel).
    head : {"linear", "mlp"}
    seed : int
        Seeds the validation split, the initial weights and the minibatch order.
    task : {"binary", "multiclass", "multilabel"} or None
        ``None`` infers it from the labels (see :func:`infer_task`).
    hidden, lr, weight_decay, batch_size, max_epochs, patience, val_size
        Protocol settings (defaults: the paper's).
    device : "auto", "cpu", "cuda", ...
    dtype : {"float32", "float64"}
        Precision of features and weights.
    stratify_validation : bool
        Stratify the validation split by class (default); ``False`` draws it at
        random, as the authors' code does (see the module docstring).

    Returns
    -------
    dict
        ``accuracy``, ``f1_macro``, ``auc`` on the test set, plus ``epochs``
        (epochs run), ``best_epoch`` and ``best_val_loss``.

    Raises
    ------
    ValueError
        Bad settings (named, with the value and a fix), mismatched shapes,
        missing (None/NaN) or mixed-type labels (rows named), or a test class
        that never occurs in the training labels.
    """
    Xtr = as_matrix(X_train, name="X_train")
    Xte = as_matrix(X_test, name="X_test", min_rows=1, allow_zero_rows=True)
    if Xtr.shape[1] != Xte.shape[1]:
        raise ValueError(f"X_train has {Xtr.shape[1]} features but X_test has {Xte.shape[1]}.")
    ytr_raw = check_labels(y_train, Xtr.shape[0], name="y_train")
    yte_raw = check_labels(y_test, Xte.shape[0], name="y_test", min_classes=1)
    if yte_raw.ndim != ytr_raw.ndim or (yte_raw.ndim == 2 and yte_raw.shape[1] != ytr_raw.shape[1]):
        raise ValueError(f"y_test has shape {yte_raw.shape}, incompatible with y_train's {ytr_raw.shape}.")
    if ytr_raw.ndim == 1:
        _check_test_classes(ytr_raw, yte_raw)
    yall = check_labels(np.concatenate([ytr_raw, yte_raw]), Xtr.shape[0] + Xte.shape[0], name="y")
    ycodes, task, n_out, _ = _encode(yall, task)
    ytr, yte = ycodes[: len(ytr_raw)], ycodes[len(ytr_raw):]

    dev, tdt = resolve_device(device), _torch_dtype(dtype)
    fit_pos, val_pos = split_indices(ytr_raw, val_size, seed, stratify=stratify_validation)
    weights = torch.as_tensor(_class_weights(ytr[fit_pos], task, n_out), dtype=tdt, device=dev)
    crit = _reference_criterion(task, weights)

    def tens(a: np.ndarray, y: bool = False) -> torch.Tensor:
        if y and task == "multiclass":
            return torch.as_tensor(a, dtype=torch.long, device=dev)
        t = torch.as_tensor(a, dtype=tdt, device=dev)
        return t[:, None] if (y and task == "binary") else t

    Xf, Xv, Xt = tens(Xtr[fit_pos]), tens(Xtr[val_pos]), tens(Xte)
    yf, yv = tens(ytr[fit_pos], True), tens(ytr[val_pos], True)

    init, gen = _init_params(Xtr.shape[1], n_out, head, hidden, seed)
    layers: list[torch.nn.Module] = [torch.nn.Linear(Xtr.shape[1], init[0].shape[0])]
    if head == "mlp":
        layers += [torch.nn.ReLU(), torch.nn.Linear(hidden, n_out)]
    model = torch.nn.Sequential(*layers).to(device=dev, dtype=tdt)
    with torch.no_grad():
        for p, v in zip(model.parameters(), init):
            p.copy_(v)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=_BETAS, eps=_EPS, weight_decay=weight_decay)

    n_fit = Xf.shape[0]
    best, best_epoch, wait, epochs = float("inf"), 0, 0, 0
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    iterator = range(max_epochs)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"train_head seed={seed}", leave=False)
    for epoch in iterator:
        perm = torch.randperm(n_fit, generator=gen).to(dev)
        model.train()
        for start in range(0, n_fit, batch_size):
            idx = perm[start:start + batch_size]
            loss = crit(model(Xf[idx]), yf[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(crit(model(Xv), yv))
        epochs = epoch + 1
        if val < best:
            best, best_epoch, wait = val, epochs, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            wait += 1
            if wait >= patience:
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        logits = torch.cat([model(Xt[i:i + _CHUNK]) for i in range(0, Xt.shape[0], _CHUNK)])
        proba = torch.softmax(logits, -1) if task == "multiclass" else torch.sigmoid(logits)
    out = evaluate_predictions(yte, proba.double().cpu().numpy(), task)
    out.update(epochs=epochs, best_epoch=best_epoch, best_val_loss=best)
    return out


# --------------------------------------------------------------------------- batched sweep


@dataclass
class SweepResult:
    """Result of :func:`sweep_lambda` (chapter 5).

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy test metrics, one row per (λ, seed, metric): columns ``lam``,
        ``seed``, ``metric`` (``accuracy``, ``f1_macro``, ``auc``), ``value``.
    training : pandas.DataFrame
        Per (λ, seed): ``epochs`` run, ``best_epoch``, ``best_val_loss``.
    gaps : pandas.DataFrame
        Per (λ, seed), geometry of the *shifted training* embeddings:
        ``centroid_gap`` (rows on the unit sphere), ``image_R``, ``text_R``
        (mean resultant lengths). For twin-axis plots use :meth:`gap_by_lambda`.
    deltas : dict
        seed → the gap vector Δ used for that seed (train-only unless transductive).
    splits : dict
        seed → ``(train_idx, test_idx)`` of the outer split.
    """

    table: pd.DataFrame
    training: pd.DataFrame
    gaps: pd.DataFrame
    lams: np.ndarray
    seeds: tuple[int, ...]
    head: str
    task: str
    transductive: bool
    renormalize: bool
    device: str
    batched: bool
    elapsed_s: float
    deltas: dict[int, np.ndarray] = field(repr=False, default_factory=dict)
    splits: dict[int, tuple[np.ndarray, np.ndarray]] = field(repr=False, default_factory=dict)

    def summary(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean ± std over seeds per λ (std with ddof=1): index ``lam``, columns ``(metric, "mean"|"std")``."""
        tab = self.table if metrics is None else self.table[self.table.metric.isin(list(metrics))]
        out = tab.groupby(["lam", "metric"])["value"].agg(["mean", "std"]).unstack("metric")
        out = out.swaplevel(0, 1, axis=1)
        order = [m for m in METRICS if m in out.columns.get_level_values(0)]
        return out.reindex(columns=pd.MultiIndex.from_product([order, ["mean", "std"]]))

    def best_lambda(self, metric: str = "auc") -> float:
        """λ with the highest mean ``metric`` over seeds (the smallest such λ on ties)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        means = self.table[self.table.metric == metric].groupby("lam")["value"].mean()
        if means.isna().all():
            raise ValueError(f"metric {metric!r} is NaN for every λ (e.g. a test split with one class).")
        return float(means.idxmax())

    def per_seed(self, metric: str = "auc") -> pd.DataFrame:
        """``metric`` per seed (rows) and λ (columns): every column shares the seeds' splits."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        tab = self.table[self.table.metric == metric]
        return tab.pivot(index="seed", columns="lam", values="value").reindex(index=list(self.seeds))

    def paired_gain(self, lam: float, metric: str = "auc", baseline: float = 0.0, **kwargs: Any) -> Any:
        """``metric`` at ``lam`` against ``baseline`` (λ = 0 by default), seed by seed.

        The heads at both λ share each seed's split and initialisation, so their results pair up:
        :func:`gapkit.stats.paired_comparison` of the per-seed values (``kwargs`` are passed on).
        """
        from .stats import paired_comparison

        table = self.per_seed(metric)
        for name, value in (("lam", lam), ("baseline", baseline)):
            if float(value) not in table.columns:
                raise ValueError(f"{name}={value!r} is not on this sweep's λ grid {table.columns.tolist()}")
        return paired_comparison(table[float(baseline)].to_numpy(), table[float(lam)].to_numpy(), **kwargs)

    def gap_by_lambda(self) -> pd.DataFrame:
        """Mean over seeds of the train-split geometry per λ (index ``lam``)."""
        return self.gaps.groupby("lam")[["centroid_gap", "image_R", "text_R"]].mean()

    def __repr__(self) -> str:
        return (f"SweepResult(task={self.task!r}, head={self.head!r}, {len(self.lams)} λ × {len(self.seeds)} seeds, "
                f"transductive={self.transductive}, device={self.device!r}, batched={self.batched}, "
                f"{self.elapsed_s:.1f} s)")


class _BatchedHeads:
    """All (seed, λ) heads of a sweep as one set of stacked parameters, in ``nn.Linear`` (out × in) layout.

    Shapes (S seeds, L lambdas, d dims per modality, H first-layer width, K outputs):
    ``W1 (2, S, L, H, d)`` (modality 0 = text, 1 = image: the fusion order),
    ``b1 (S, L, H)``; the MLP adds ``W2 (S, L, K, H)`` and ``b2 (S, L, K)``.
    Activations are kept as ``(S, L, H, B)`` so that every matmul has the small
    dimension (L·H or K) as its *row* count, the shape CPU BLAS handles well.
    """

    def __init__(self, inits: list[list[torch.Tensor]], L: int, d: int, head: str,
                 device: torch.device, dtype: torch.dtype) -> None:
        S = len(inits)
        W1 = torch.stack([w[0] for w in inits])          # (S, H, 2d)
        H = W1.shape[1]
        self.S, self.L, self.d, self.H, self.head = S, L, d, H, head
        W1 = W1.reshape(S, H, 2, d).permute(2, 0, 1, 3)  # (2, S, H, d)
        W1 = W1[:, :, None].expand(2, S, L, H, d)        # every λ of a seed starts from that seed's init
        b1 = torch.stack([w[1] for w in inits])[:, None, :].expand(S, L, H)
        params = [W1, b1]
        #: broadcast shape of the (S, L) head mask for each parameter
        self.mask_shapes = [(1, S, L, 1, 1), (S, L, 1)]
        if head == "mlp":
            W2 = torch.stack([w[2] for w in inits])[:, None].expand(S, L, -1, H)   # (S, L, K, H)
            b2 = torch.stack([w[3] for w in inits])[:, None, :].expand(S, L, -1)
            params += [W2, b2]
            self.mask_shapes += [(S, L, 1, 1), (S, L, 1)]
        self.params = [p.to(device=device, dtype=dtype).contiguous().requires_grad_(True) for p in params]

    def take(self, seeds: torch.Tensor, lams: torch.Tensor, *others: list[torch.Tensor]) -> tuple:
        """A copy holding only the heads at slots ``(seeds[i], lams[i, j])`` (the working set of a sweep).

        ``seeds (S',)`` and ``lams (S', L')`` index this model's seed and λ axes; ``others``
        (e.g. AdamW's moments, laid out like :attr:`params`) are gathered the same way.
        Returns ``(model, *others)``.
        """
        new = object.__new__(_BatchedHeads)
        new.S, new.L, new.d, new.H, new.head = len(seeds), lams.shape[1], self.d, self.H, self.head
        new.mask_shapes = [tuple(new.S if k == 1 else new.L if k == 2 else 1 for k in _AXES[i])
                           for i in range(len(self.params))]
        pick = [_slot_index(i, seeds[:, None], lams) for i in range(len(self.params))]
        new.params = [p.detach()[ix].contiguous().requires_grad_(True) for p, ix in zip(self.params, pick)]
        return (new, *[[t[ix].contiguous() for t, ix in zip(group, pick)] for group in others])

    def _views(self, X: Any, R: torch.Tensor | None, c: torch.Tensor, rho: torch.Tensor | None) -> tuple:
        """``X (2·S, B, d)`` (text rows, then image rows), ``ρ (2, S, L, 1, B)`` or None, ``c (2, S, L, 1, 1)``."""
        S, d = self.S, self.d
        if isinstance(X, torch.Tensor) and X.dim() == 4:                     # (2, S, B, d): the sweep's buffers
            X4 = X
        else:
            X4 = torch.stack(tuple(X) if isinstance(X, (tuple, list)) else (X[..., :d], X[..., d:]))
        if rho is None and R is not None:
            rho = R.permute(2, 0, 3, 1).unsqueeze(3)
        c3 = c if c.dim() == 3 else c[:, None, :].expand(2, S, self.L)
        return X4.reshape(2 * S, X4.shape[2], d), rho, c3.reshape(2, S, self.L, 1, 1)

    def _first_layer(self, Xf: torch.Tensor, rho: torch.Tensor | None, delta: torch.Tensor,
                     c5: torch.Tensor) -> torch.Tensor:
        """``z = b + Σ_m ρ_m (W_m·x̂_m + c_m W_m·Δ)``: ``(S, L, H, B)``, one batched product for both modalities."""
        S, L, H, d = self.S, self.L, self.H, self.d
        B = Xf.shape[1]
        W1 = self.params[0].view(2 * S, L * H, d)
        WD = torch.matmul(self.params[0].view(2, S, L * H, d), delta.view(1, S, d, 1)).view(2, S, L, H, 1)
        Z = _bmm(W1, Xf.transpose(1, 2)).view(2, S, L, H, B).add_(c5 * WD)     # (2, S, L, H, B)
        if rho is not None:
            Z.mul_(rho)
        return torch.add(Z[0], Z[1]).add_(self.params[1].unsqueeze(-1))

    def forward(self, X: Any, R: torch.Tensor | None, delta: torch.Tensor, c: torch.Tensor, *,
                rho: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(S, L, B, K)`` of every head.

        ``X (S, B, 2d)``: unshifted unit rows ``[t̂, v̂]`` of each seed's batch (or the pair
        ``(t̂, v̂)`` of ``(S, B, d)`` tensors, or one ``(2, S, B, d)`` tensor);
        ``R (S, B, 2, L)``: ``1/‖x̂ + c_mΔ_s‖`` per row, modality and λ (:func:`_inv_norms`;
        ``None`` without re-normalisation), or the same numbers as ``rho (2, S, L, 1, B)``;
        ``c (2, L)``: +λ/2 (text), −λ/2 (image), or ``(2, S, L)`` when each seed's heads
        have their own λ (the compacted working set of a sweep).
        The first layer computes ``(W·x̂ + c·W·Δ) / ‖x̂ + cΔ‖``, which is
        ``W·normalise(x̂ + cΔ)`` without ever forming the shifted rows; both modalities (and all
        seeds) are one batched matrix product.
        """
        Xf, rho, c5 = self._views(X, R, c, rho)
        pre = self._first_layer(Xf, rho, delta, c5)                              # (S, L, H, B)
        if self.head == "mlp":
            pre = torch.matmul(self.params[2], torch.relu(pre)) + self.params[3][..., None]   # (S, L, K, B)
        return pre.transpose(2, 3)

    @torch.no_grad()
    def linear_grads(self, X: Any, R: torch.Tensor | None, y: torch.Tensor, delta: torch.Tensor,
                     c: torch.Tensor, task: str, weights: torch.Tensor,
                     mask: torch.Tensor | None = None, *, rho: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Gradients of ``Σ_heads mask · mean-loss`` (``mask (S, L)``, default all ones) for the linear head.

        With ``z = Σ_m ρ_m (W_m·x̂_m + c_m W_m·Δ) + b`` (``ρ_m = 1/‖x̂_m + c_mΔ‖``, from ``R``):
        ``∂/∂W_m = Σ_b g_b ρ_mb x̂_mb + c_m (Σ_b g_b ρ_mb) Δ``, ``∂/∂b = Σ_b g_b``,
        with ``g = ∂loss/∂z``, in closed form: the same quantities autograd computes for
        :meth:`forward` + :func:`_batched_loss` (tested), without building a graph.
        ``X``, ``R``/``rho`` and ``c`` take the layouts of :meth:`forward`; each direction is one
        batched matrix product over (modality, seed).
        """
        S, L, K, d = self.S, self.L, self.H, self.d
        Xf, rho, c5 = self._views(X, R, c, rho)
        B = Xf.shape[1]
        z = self._first_layer(Xf, rho, delta, c5)                                # (S, L, K, B)
        if task == "multiclass":
            onehot = F.one_hot(y, K).to(z.dtype).transpose(1, 2)[:, None]        # (S, 1, K, B)
            w = torch.gather(weights, 1, y)[:, None, None, :]                    # (S, 1, 1, B)
            g = w * (torch.softmax(z, dim=2) - onehot) / w.sum(-1, keepdim=True)
        else:
            t = (y[:, None, :] if task == "binary" else y.transpose(1, 2))[:, None]   # (S, 1, K, B)
            pw = weights[:, None, :, None]                                       # (S, 1, K, 1)
            g = ((1 + (pw - 1) * t) * torch.sigmoid(z) - pw * t) / (B * K)
        if mask is not None:
            g = g * mask.view(S, L, 1, 1)
        G = g.expand(2, S, L, K, B) if rho is None else g * rho                  # (2, S, L, K, B): g·ρ_m
        gW = torch.empty_like(self.params[0])                                    # (2, S, L, K, d)
        _bmm(G.reshape(2 * S, L * K, B), Xf, out=gW.view(2 * S, L * K, d))
        gW.addcmul_(c5 * G.sum(-1, keepdim=True), delta.view(1, S, 1, 1, d))
        return [gW, g.sum(-1)]


#: CPU threads for the batched sweep's matrix products while a sweep runs (set by _ThreadChoice; everything
#: else in a step runs on one thread); None: torch's current setting.
_MM_THREADS: int | None = None


def _on_mm_threads(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on ``_MM_THREADS`` threads (a sweep's step is otherwise single-threaded)."""
    k = _MM_THREADS
    if k is None or k == 1:
        return fn(*args, **kwargs)
    torch.set_num_threads(k)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(1)


def _bmm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.bmm`` on ``_MM_THREADS`` threads."""
    return _on_mm_threads(torch.bmm, a, b, out=out)


#: which axes of each parameter (W1, b1, W2, b2) are the seed (1) and λ (2) axes; 0 = other
_AXES = [(0, 1, 2, 0, 0), (1, 2, 0), (1, 2, 0, 0), (1, 2, 0)]


def _slot_index(i: int, seeds: Any, lams: Any) -> tuple:
    """The index of parameter ``i`` (see ``_AXES``) at seed/λ positions ``(seeds, lams)`` (broadcast together)."""
    return (slice(None),) * _AXES[i].index(1) + (seeds, lams)


def _inv_norms(P: torch.Tensor, c: torch.Tensor, dnorm2: torch.Tensor) -> torch.Tensor:
    """``1/‖x̂ + c_{m,l}Δ_s‖ = 1/√(1 + 2c⟨x̂, Δ_s⟩ + c²‖Δ_s‖²)`` for unit rows: ``(S, n, 2, L)``.

    ``P (S, n, 2)``: ``⟨t̂, Δ_s⟩, ⟨v̂, Δ_s⟩`` per row; ``c (2, L)``; ``dnorm2 (S,)``: ``‖Δ_s‖²``.
    """
    return torch.rsqrt(1.0 + 2.0 * P[..., None] * c[None, None] + (c**2)[None, None] * dnorm2[:, None, None, None])


def _adamw_update(params: list[torch.Tensor], grads: list[torch.Tensor], exp_avg: list[torch.Tensor],
                  exp_avg_sq: list[torch.Tensor], steps: list[torch.Tensor], *, lr: float, weight_decay: float,
                  fused: bool) -> bool:
    """One AdamW step for all tensors, ``torch.optim.AdamW``'s update: fused (one kernel) when possible.

    Returns whether the fused kernel ran (``False`` after a fallback, e.g. an old
    torch without fused AdamW on this device: then multi-tensor ``_foreach`` ops).
    """
    b1, b2 = _BETAS
    with torch.no_grad():
        torch._foreach_add_(steps, 1)
        if fused and all(p.is_contiguous() for p in params):
            # the fused kernel walks raw memory: every tensor must be dense in the same layout (autograd may
            # hand back a gradient with permuted strides, e.g. through the einsum of the first layer)
            grads = [g.contiguous() for g in grads]
            try:
                torch._fused_adamw_(params, grads, exp_avg, exp_avg_sq, [], steps, lr=lr, beta1=b1, beta2=b2,
                                    weight_decay=weight_decay, eps=_EPS, amsgrad=False, maximize=False)
                return True
            except (RuntimeError, NotImplementedError, AttributeError):
                pass
        step = float(steps[0])
        bc1, bc2_sqrt = 1 - b1**step, (1 - b2**step) ** 0.5
        torch._foreach_mul_(params, 1 - lr * weight_decay)
        torch._foreach_lerp_(exp_avg, grads, 1 - b1)
        torch._foreach_mul_(exp_avg_sq, b2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1 - b2)
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, _EPS)
        torch._foreach_addcdiv_(params, exp_avg, denom, -lr / bc1)
    return False


def _batched_loss(logits: torch.Tensor, y: torch.Tensor, task: str, weights: torch.Tensor) -> torch.Tensor:
    """Per-head mean loss ``(S, L)``, identical to the reference criterion of each head.

    ``y``: binary (S, B) 0/1, multiclass (S, B) long, multilabel (S, B, K).
    ``weights``: (S, K) pos_weight (binary K=1 / multilabel) or class weights (multiclass).
    """
    if task == "multiclass":
        logp = torch.log_softmax(logits, dim=-1)
        idx = y[:, None, :, None].expand(-1, logits.shape[1], -1, 1)
        nll = -torch.gather(logp, -1, idx)[..., 0]                              # (S, L, B)
        w = torch.gather(weights, 1, y)[:, None, :]                             # (S, 1, B)
        return (w * nll).sum(-1) / w.sum(-1)
    t = (y[..., None] if task == "binary" else y)[:, None]                      # (S, 1, B, K)
    pw = weights[:, None, None, :]                                              # (S, 1, 1, K)
    loss = (1 - t) * logits - (1 + (pw - 1) * t) * F.logsigmoid(logits)
    return loss.mean(dim=(-2, -1))


@validate_params({**_PROTOCOL, "test_size": _FRACTION, "transductive": ["boolean"], "renormalize": ["boolean"],
                  "split_seed": [None, SEED], "batched": ["boolean"],
                  "dtype": [Options("float32", "float64"), torch.dtype]})
def sweep_lambda(
    image: Any,
    text: Any,
    y: Any,
    lams: Sequence[float] | np.ndarray = _DEFAULT_LAMS,
    seeds: Sequence[int] = (42, 43, 44, 45, 46),
    head: str = "linear",
    test_size: float = 0.2,
    transductive: bool = False,
    device: str | torch.device = "auto",
    progress: bool = True,
    *,
    task: str | None = None,
    renormalize: bool = True,
    split_seed: int | None = None,
    batched: bool = True,
    hidden: int = 128,
    lr: float = 3e-4,
    weight_decay: float = 0.01,
    batch_size: int = 512,
    max_epochs: int = 100,
    patience: int = 10,
    val_size: float = 0.1,
    dtype: str = "float32",
    stratify_validation: bool = True,
    split_column: Any = None,
) -> SweepResult:
    """Supervised early-fusion evaluation as a function of λ: every λ × seed head trained at once (chapter 5).

    For each seed: a stratified ``1 − test_size`` / ``test_size`` split (seeded
    by that seed, or by ``split_seed`` for all), Δ fitted on its training rows
    (all rows if ``transductive``), then for every λ a head on
    ``concat[text′, image′]`` trained with :func:`train_head`'s protocol and
    scored on the test rows. With ``batched=True`` (default) all heads train
    together as one stacked model on ``device``; ``batched=False`` loops over
    :func:`train_head` (same results up to rounding, much slower).

    Parameters
    ----------
    image, text : array-like, shape (n, d)
        Matched embeddings (rows are L2-normalised first).
    y : array-like
        1-D class ids or 2-D 0/1 multilabel targets, one per pair.
    lams : sequence of float
        λ values (default 0, 0.1, …, 1).
    seeds : sequence of int
        One run per seed (default 42–46).
    head : {"linear", "mlp"}
    test_size : float
    transductive : bool
        Fit Δ on the whole data set (the authors' variant; leaks test rows into Δ).
    device : "auto", "cpu", "cuda", ...
    progress : bool
        tqdm bar over epochs.
    task, renormalize, split_seed, batched, hidden, lr, weight_decay, batch_size, max_epochs,
    patience, val_size, dtype, stratify_validation
        See the module docstring and :func:`train_head`.
    split_column : array-like, optional
        A fixed outer split, the same for every seed (the authors' protocol): one
        entry per row, ``"train"``/``"test"`` strings or booleans (``True`` = test).
        Overrides ``test_size`` and ``split_seed``.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        Mismatched or non-finite embeddings, labels of the wrong length or shape,
        missing (None/NaN) labels, a single class, bad settings (named, with the
        value and a fix), a malformed ``split_column``.
    """
    img, txt = as_paired(image, text)
    n, d = img.shape
    y_raw = check_labels(y, n)
    ycodes, task, n_out, _ = _encode(y_raw, task)
    lams_arr = np.asarray([check_param(f"lams[{i}]", lam, [Interval(Real, None, None)], owner="sweep_lambda")
                           for i, lam in enumerate(np.atleast_1d(np.asarray(lams, dtype=object)).ravel())],
                          dtype=np.float64)
    if lams_arr.size == 0:
        raise ValueError("sweep_lambda: lams must be a non-empty sequence of finite numbers, e.g. lams=[0.0, 0.5, 1.0].")
    seeds_t = tuple(check_param(f"seeds[{i}]", s, [SEED], owner="sweep_lambda") for i, s in enumerate(seeds))
    if not seeds_t:
        raise ValueError("sweep_lambda: seeds must be non-empty, e.g. seeds=(42, 43, 44, 45, 46).")
    fixed_split = None if split_column is None else _fixed_split(split_column, n)
    dev = resolve_device(device)
    _torch_dtype(dtype)  # reject an unknown dtype before any work
    t0 = time.perf_counter()

    # numpy's BLAS on one thread for these products: OpenBLAS's threads, waiting for each other on a shared
    # machine, made them 15x slower (0.17 s vs 2.4-3.3 s at n = 10,000)
    with _one_blas_thread():
        v_hat = l2_normalize(img, dtype=np.float64)
        t_hat = l2_normalize(txt, dtype=np.float64)
        splits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        deltas: dict[int, np.ndarray] = {}
        inner: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if fixed_split is not None and y_raw.ndim == 1:
            _check_test_classes(y_raw[fixed_split[0]], y_raw[fixed_split[1]])
        for s in seeds_t:
            if fixed_split is not None:
                tr, te = fixed_split
            else:
                tr, te = split_indices(y_raw, test_size, s if split_seed is None else split_seed)
            splits[s] = (tr, te)
            fit_pos, val_pos = split_indices(y_raw[tr], val_size, s, stratify=stratify_validation)
            inner[s] = (tr[fit_pos], tr[val_pos])
        # Δ_s = mean of v̂ − t̂ over seed s's training rows (rows are unit already): row k of `sel` averages seed
        # k's training rows, one product per seed and modality (no copy of the rows; a seed's Δ does not depend on
        # which other seeds run, to the last bit)
        sel = np.zeros((len(seeds_t), n))
        for k, s in enumerate(seeds_t):
            tr = np.arange(n) if transductive else splits[s][0]
            sel[k, tr] = 1.0 / len(tr)
        delta_mat = np.stack([sel[k] @ v_hat - sel[k] @ t_hat for k in range(len(seeds_t))])   # (S, d)
        for k, s in enumerate(seeds_t):
            deltas[s] = delta_mat[k]

        # geometry of the shifted training embeddings, per (λ, seed)
        geo = _shifted_centroids(v_hat, t_hat, delta_mat, [splits[s][0] for s in seeds_t], lams_arr, renormalize)
        gap_rows = [{"lam": float(lam), "seed": s, "centroid_gap": geo["gap"][k, j], "image_R": geo["image_R"][k, j],
                     "text_R": geo["text_R"][k, j]} for k, s in enumerate(seeds_t) for j, lam in enumerate(lams_arr)]

    common = dict(hidden=hidden, lr=lr, weight_decay=weight_decay, batch_size=batch_size, max_epochs=max_epochs,
                  patience=patience, val_size=val_size, device=dev, dtype=dtype)
    if batched:
        per_head = _sweep_batched(t_hat, v_hat, ycodes, task, n_out, lams_arr, seeds_t, splits, inner, deltas,
                                  head, renormalize, progress, **common)
    else:
        per_head = {}
        from tqdm.auto import tqdm

        jobs = [(s, lam) for s in seeds_t for lam in lams_arr]
        for s, lam in tqdm(jobs, desc="sweep (one head at a time)", disable=not progress):
            tr, te = splits[s]
            vtr, ttr = lambda_shift(v_hat[tr], t_hat[tr], deltas[s], lam, renormalize)
            vte, tte = lambda_shift(v_hat[te], t_hat[te], deltas[s], lam, renormalize)
            per_head[(s, float(lam))] = train_head(np.hstack([ttr, vtr]), y_raw[tr], np.hstack([tte, vte]), y_raw[te],
                                                   head=head, seed=s, task=task, stratify_validation=stratify_validation,
                                                   **common)

    rows, train_rows = [], []
    for s in seeds_t:
        for lam in lams_arr:
            res = per_head[(s, float(lam))]
            rows += [{"lam": float(lam), "seed": s, "metric": m, "value": float(res[m])} for m in METRICS]
            train_rows.append({"lam": float(lam), "seed": s, "epochs": int(res["epochs"]),
                               "best_epoch": int(res["best_epoch"]), "best_val_loss": float(res["best_val_loss"])})
    return SweepResult(
        table=pd.DataFrame(rows, columns=["lam", "seed", "metric", "value"]),
        training=pd.DataFrame(train_rows),
        gaps=pd.DataFrame(gap_rows),
        lams=lams_arr, seeds=seeds_t, head=head, task=task, transductive=transductive, renormalize=renormalize,
        device=str(dev), batched=batched, elapsed_s=time.perf_counter() - t0, deltas=deltas, splits=splits,
    )


def _fixed_split(split_column: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, test_idx)`` from a per-row split column ("train"/"test" strings or booleans, True = test)."""
    col = np.asarray(split_column)
    if col.shape != (n,):
        raise ValueError(f"split_column: expected one entry per row, shape ({n},), got shape {col.shape}; pass "
                         "the data set's split column aligned with the embeddings.")
    if col.dtype == bool:
        is_test = col
    else:
        values = col.astype(str)
        unknown = sorted(set(values.tolist()) - {"train", "test"})
        if unknown:
            raise ValueError(f"split_column: entries must be 'train' or 'test' (or booleans, True = test), found "
                             f"{unknown[:5]}; map other names (e.g. 'val') to one of the two first.")
        is_test = values == "test"
    if is_test.all() or not is_test.any():
        raise ValueError(f"split_column: {'every' if is_test.all() else 'no'} row is a test row; both sides of the "
                         "split need rows.")
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


class _ThreadChoice:
    """The CPU threads of a batched sweep: its matrix products and gathers on the faster of one and the caller's count.

    A training step is a few small matrix products over rows it gathers from memory, and a dozen
    elementwise operations on tens of thousands of numbers. On a machine shared with other jobs,
    torch's threads wait for each other at every parallel operation, for as long as the other job
    holds the core (measured: the fused AdamW update of 56k numbers took 3.8 ms on two busy
    threads instead of 24 µs, a gather 15 ms instead of 0.9), so everything but the products and
    the gather runs on one thread, and those two (:func:`_on_mm_threads`) on the faster of one
    thread and the caller's setting, which is measured, not guessed: every full step is timed
    (the first on each count is a warm-up and not counted), each step uses the count with the
    lower median of its last few steps, and the other count is tried again once the time spent
    since its last try is ``explore`` times its own step time (so trying costs at most about
    1/explore of the run, even when the other count is ten times slower), so a change of load
    during a sweep changes the choice. Every step gives the same
    numbers on either count (a thread count only splits the work). The caller's setting is
    restored at the end (:meth:`restore`). Not used on CUDA.
    """

    def __init__(self, device: torch.device, *, explore: float = 20.0, window: int = 5) -> None:
        global _MM_THREADS
        self.caller = torch.get_num_threads()
        self.cpu = device.type == "cpu"
        self.candidates = [1, self.caller] if self.cpu and self.caller > 1 else []
        self.times: dict[int, list[float]] = {k: [] for k in self.candidates}
        self.explore, self.window = explore, window
        self.warm: set[int] = set()
        self.since = 0.0       # seconds on the chosen count since the other one was last tried
        self.timing: int | None = None
        self.t0 = 0.0
        if self.cpu:
            torch.set_num_threads(1)
            _MM_THREADS = 1

    def best(self) -> int:
        """The count whose recent steps were fastest (a count not timed yet counts as fastest)."""
        return min(self.candidates, key=lambda k: _median(self.times[k]) if self.times[k] else -1.0)

    def before(self, full_batch: bool) -> None:
        """Pick the count for the next step; a full-batch step is timed (partial batches would skew the medians)."""
        global _MM_THREADS
        self.timing = None
        if not self.candidates:
            return
        k = self.best()
        other = next(c for c in self.candidates if c != k)
        if self.times[other] and self.since >= self.explore * _median(self.times[other]):
            k, self.since = other, 0.0                      # now and then, try the other count again
        _MM_THREADS = k
        if full_batch:
            self.timing, self.t0 = k, time.perf_counter()

    def after(self) -> None:
        if self.timing is None:
            return
        dt = time.perf_counter() - self.t0
        if self.timing not in self.warm:                    # the first step on a count warms it up
            self.warm.add(self.timing)
            return
        hist = self.times[self.timing]
        hist.append(dt)
        del hist[:-self.window]
        self.since += dt

    def restore(self) -> None:
        global _MM_THREADS
        _MM_THREADS = None
        if self.cpu:
            torch.set_num_threads(self.caller)


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def _shrink_working(w: Any, active: np.ndarray, set_working: Any, model: "_BatchedHeads") -> None:
    """After heads stopped: mask them, and drop them from the working set if a dimension shrinks."""
    seeds_left = np.flatnonzero(active.any(axis=1))
    width = int(active[seeds_left].sum(axis=1).max())
    if len(seeds_left) == len(w.sp) and width == w.lp.shape[1]:   # nothing shrinks: they ride along, masked
        w.real = w.real & active[w.sp[:, None], w.lp]
        w.mask = torch.as_tensor(w.real, dtype=w.mask.dtype, device=w.mask.device)
        return
    lp = np.empty((len(seeds_left), width), dtype=int)
    real = np.zeros((len(seeds_left), width), dtype=bool)
    for i, s in enumerate(seeds_left):
        ls = np.flatnonzero(active[s])
        lp[i, :len(ls)], lp[i, len(ls):], real[i, :len(ls)] = ls, ls[0], True
    set_working(seeds_left, lp, real, model, (w.exp_avg, w.exp_avg_sq))


def _sweep_batched(*args: Any, device: torch.device, **kwargs: Any) -> dict[tuple[int, float], dict[str, float]]:
    """Every head of a sweep trained at once (see :func:`sweep_lambda`), with the caller's thread setting restored."""
    threads = _ThreadChoice(device)
    try:
        return _sweep_batched_body(*args, device=device, threads=threads, **kwargs)
    finally:
        threads.restore()


def _sweep_batched_body(t_hat: np.ndarray, v_hat: np.ndarray, ycodes: np.ndarray, task: str, n_out: int,
                        lams: np.ndarray, seeds: tuple[int, ...], splits: dict, inner: dict, deltas: dict,
                        head: str, renormalize: bool, progress: bool, *, hidden: int, lr: float, weight_decay: float,
                        batch_size: int, max_epochs: int, patience: int, val_size: float, device: torch.device,
                        dtype: str, threads: _ThreadChoice) -> dict[tuple[int, float], dict[str, float]]:
    tdt = _torch_dtype(dtype)
    np_dt = np.float64 if tdt == torch.float64 else np.float32
    S, L, d = len(seeds), len(lams), t_hat.shape[1]
    delta_np = np.stack([deltas[s] for s in seeds])         # (S, d) float64
    with _one_blas_thread():
        proj = np.stack([t_hat @ delta_np.T, v_hat @ delta_np.T], axis=-1)   # (n, S, 2): ⟨x̂, Δ_s⟩
    # the unit rows once, per modality (text, image: the fusion order), shared by every seed
    src = tuple(torch.as_tensor(np.asarray(x, dtype=np_dt), device=device) for x in (t_hat, v_hat))

    def row_ids(which: str) -> np.ndarray:
        idx = [inner[s][0] if which == "fit" else inner[s][1] if which == "val" else splits[s][1] for s in seeds]
        if len({len(i) for i in idx}) != 1:  # cannot happen: sklearn's split sizes depend on n only
            raise RuntimeError(f"{which} splits differ in size across seeds")
        return np.stack(idx)                                                   # (S, m)

    ydt = torch.long if task == "multiclass" else tdt

    def stack_rows(which: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:   # X (2, S, m, d), P, Y
        idx = row_ids(which)
        flat = torch.as_tensor(idx.reshape(-1), device=device)
        X = torch.empty((2, flat.numel(), d), dtype=tdt, device=device)
        for m in range(2):
            torch.index_select(src[m], 0, flat, out=X[m])                       # one copy, in its final layout
        P = np.stack([proj[i, k] for k, i in enumerate(idx)])                  # (S, m, 2)
        return (X.view(2, S, idx.shape[1], d), torch.as_tensor(P, dtype=tdt, device=device),
                torch.as_tensor(np.stack([ycodes[i] for i in idx]), dtype=ydt, device=device))

    fit_ids = torch.as_tensor(row_ids("fit"), device=device)                   # (S, n_fit) rows of `src`
    Pf = torch.as_tensor(np.stack([proj[i, k] for k, i in enumerate(row_ids("fit"))]), dtype=tdt, device=device)
    Yf = torch.as_tensor(np.stack([ycodes[i] for i in row_ids("fit")]), dtype=ydt, device=device)
    Xv, Pv, Yv = stack_rows("val")
    Xt, Pt, _ = stack_rows("test")
    delta = torch.as_tensor(delta_np, dtype=tdt, device=device)
    dnorm2 = torch.as_tensor((delta_np**2).sum(-1), dtype=tdt, device=device)
    lam_t = torch.as_tensor(lams, dtype=tdt, device=device)
    c = torch.stack([lam_t / 2, -lam_t / 2])                  # (2, L): text +λ/2, image −λ/2
    # 1/‖x̂ + cΔ‖ per row, modality and λ: fixed by the data, so computed once, not at every step
    Rf, Rv, Rt = ((_inv_norms(P, c, dnorm2) if renormalize else None) for P in (Pf, Pv, Pt))
    weights = torch.as_tensor(np.stack([_class_weights(ycodes[inner[s][0]], task, n_out) for s in seeds]),
                              dtype=tdt, device=device)

    inits, gens = zip(*[_init_params(2 * d, n_out, head, hidden, s) for s in seeds])
    full = _BatchedHeads(list(inits), L, d, head, device, tdt)
    best_params = [p.detach().clone() for p in full.params]
    n_fit = fit_ids.shape[1]

    # The working set: the heads still training, as slots (seed position sp[i], λ position lp[i, j]). A seed
    # whose heads have all stopped leaves it; a seed's λ axis shrinks to the largest number of heads any seed
    # still trains (slots beyond a seed's own count repeat one of its heads, masked). Stopped heads therefore
    # cost nothing once their seed (or the widest seed) has shrunk; they keep their best-validation snapshot.
    class Work:
        pass

    w = Work()

    def set_working(sp: np.ndarray, lp: np.ndarray, real: np.ndarray, model: _BatchedHeads | None,
                    moments: tuple | None) -> None:
        spt, lpt = torch.as_tensor(sp, device=device), torch.as_tensor(lp, device=device)
        if model is None:
            w.model, w.exp_avg, w.exp_avg_sq = full, [torch.zeros_like(p) for p in full.params], \
                [torch.zeros_like(p) for p in full.params]
        else:   # gather the surviving slots of the current working set
            old_pos = {(int(s), int(l)): (i, j) for i, s in enumerate(w.sp) for j, l in enumerate(w.lp[i])
                       if w.real[i, j]}
            # a seed's slots all come from that seed's row of the current working set
            oi = torch.as_tensor([old_pos[(int(sp[i]), int(lp[i, 0]))][0] for i in range(len(sp))], device=device)
            oj = torch.as_tensor([[old_pos[(int(sp[i]), int(lp[i, j]))][1] for j in range(lp.shape[1])]
                                  for i in range(len(sp))], device=device)
            w.model, w.exp_avg, w.exp_avg_sq = model.take(oi, oj, *moments)
        w.sp, w.lp, w.real = sp, lp, real
        w.spt, w.lpt = spt, lpt
        w.c = c[:, lpt]                                                          # (2, S', L')
        w.delta, w.weights, w.fit_ids, w.Yf = delta[spt], weights[spt], fit_ids[spt], Yf[spt]
        Sw, Lw = lp.shape
        w.Xv, w.Yv = (Xv, Yv) if len(sp) == S else (Xv[:, spt], Yv[spt])
        gather_l = lambda R: None if R is None else torch.gather(  # noqa: E731
            R[spt], 3, lpt[:, None, None, :].expand(-1, R.shape[1], 2, -1))   # (S', m, 2, L')
        w.Rf, w.Rv = gather_l(Rf), gather_l(Rv)
        w.Rf_flat = None if w.Rf is None else w.Rf.reshape(Sw * n_fit, 2, Lw)
        w.Yf_flat = w.Yf.reshape(Sw * n_fit, *w.Yf.shape[2:])
        w.offsets = (torch.arange(Sw, device=device) * n_fit)[:, None]
        w.mask = torch.as_tensor(real, dtype=tdt, device=device)
        w.bufs = {}

    all_l = np.tile(np.arange(L), (S, 1))
    set_working(np.arange(S), all_l, np.ones((S, L), dtype=bool), None, None)
    adam_steps = [torch.zeros((), dtype=torch.float32, device=device) for _ in full.params]
    fused = True

    active = np.ones((S, L), dtype=bool)
    best = np.full((S, L), np.inf)
    best_epoch = np.zeros((S, L), dtype=int)
    wait = np.zeros((S, L), dtype=int)
    epochs_run = np.zeros((S, L), dtype=int)

    def logits_of(model: _BatchedHeads, X: torch.Tensor, R: torch.Tensor | None, dl: torch.Tensor, cc: torch.Tensor):
        return torch.cat([model.forward(X[:, :, i:i + _CHUNK], None if R is None else R[:, i:i + _CHUNK], dl, cc)
                          for i in range(0, X.shape[2], _CHUNK)], dim=2)

    def gather_rows(flat: torch.Tensor, buf: torch.Tensor) -> None:
        for m in range(2):
            torch.index_select(src[m], 0, flat, out=buf[m])

    def batch_rows(order: torch.Tensor, start: int) -> torch.Tensor:
        """The seeds' minibatch rows of both modalities, gathered into a reused ``(2, S', B, d)`` buffer."""
        rows = order[:, start:start + batch_size]
        Sw, B = rows.shape
        buf = w.bufs.get(B)
        if buf is None:
            buf = w.bufs[B] = torch.empty((2, Sw * B, d), dtype=tdt, device=device)
        _on_mm_threads(gather_rows, rows.reshape(-1), buf)   # memory-bound: two threads read faster than one
        return buf.view(2, Sw, B, d)

    from tqdm.auto import tqdm

    bar = tqdm(range(max_epochs), desc=f"λ sweep ({S * L} heads, {device.type})", disable=not progress)
    try:
        for epoch in bar:
            model = w.model
            # one minibatch order per seed, drawn exactly as train_head draws it (the seeds still training)
            perms = torch.stack([torch.randperm(n_fit, generator=gens[s]) for s in w.sp]).to(device)
            order = torch.gather(w.fit_ids, 1, perms)                              # rows of `src`, batch order
            local = (perms + w.offsets).reshape(-1)
            # this epoch's ρ and labels laid out in minibatch order: a step slices them instead of gathering
            rho_e = None if w.Rf_flat is None else w.Rf_flat.index_select(0, local).view(
                len(w.sp), n_fit, 2, -1).permute(2, 0, 3, 1)                       # (2, S', L', n_fit) view
            y_e = w.Yf_flat.index_select(0, local).view(len(w.sp), n_fit, *w.Yf.shape[2:])
            for step, start in enumerate(range(0, n_fit, batch_size)):
                threads.before(start + batch_size <= n_fit)
                Xb = batch_rows(order, start)
                rho = None if rho_e is None else rho_e[..., start:start + batch_size].unsqueeze(3)
                Yb = y_e[:, start:start + batch_size]
                if head == "linear":   # closed-form gradients: same numbers as autograd, a third of the kernel calls
                    grads = model.linear_grads(Xb, None, Yb, w.delta, w.c, task, w.weights, w.mask, rho=rho)
                else:
                    logits = model.forward(Xb, None, w.delta, w.c, rho=rho)
                    loss = (_batched_loss(logits, Yb, task, w.weights) * w.mask).sum()   # Σ_heads of mean losses
                    grads = list(torch.autograd.grad(loss, model.params))
                # AdamW, elementwise: exactly torch.optim.AdamW's update for every head that is still training
                fused = _adamw_update(model.params, grads, w.exp_avg, w.exp_avg_sq, adam_steps, lr=lr,
                                      weight_decay=weight_decay, fused=fused)
                threads.after()
            with torch.no_grad():
                val_w = _batched_loss(logits_of(model, w.Xv, w.Rv, w.delta, w.c), w.Yv, task, w.weights)
                val_w = val_w.double().cpu().numpy()
            si, sj = np.nonzero(w.real)                                  # working slots of real heads
            hs, hl = w.sp[si], w.lp[si, sj]                              # ... and their (seed, λ) positions
            val = np.full((S, L), np.inf)
            val[hs, hl] = val_w[si, sj]
            act = active.copy()
            improved = act & (val < best)
            best[improved] = val[improved]
            best_epoch[improved] = epoch + 1
            wait[improved] = 0
            wait[act & ~improved] += 1
            epochs_run[act] = epoch + 1
            imp_slot = improved[hs, hl]
            if imp_slot.any():
                fi, fl = (torch.as_tensor(a[imp_slot], device=device) for a in (hs, hl))
                wi, wj = (torch.as_tensor(a[imp_slot], device=device) for a in (si, sj))
                with torch.no_grad():
                    for k, (bp, p) in enumerate(zip(best_params, model.params)):
                        bp[_slot_index(k, fi, fl)] = p.detach()[_slot_index(k, wi, wj)]
            stopped = act & (wait >= patience)
            active &= ~stopped
            n_active = int(active.sum())
            bar.set_postfix(active=n_active)
            if n_active == 0:
                break
            if stopped.any():
                _shrink_working(w, active, set_working, model)
    finally:
        bar.close()

    with torch.no_grad():
        for p, bp in zip(full.params, best_params):
            p.copy_(bp)
        logits = logits_of(full, Xt, Rt, delta, c)
        proba = (torch.softmax(logits, -1) if task == "multiclass" else torch.sigmoid(logits)).double().cpu().numpy()
    out: dict[tuple[int, float], dict[str, float]] = {}
    for i, s in enumerate(seeds):
        yte = ycodes[splits[s][1]]
        for j, lam in enumerate(lams):
            res = evaluate_predictions(yte, proba[i, j] if task != "binary" else proba[i, j, :, 0], task)
            res.update(epochs=int(epochs_run[i, j]), best_epoch=int(best_epoch[i, j]), best_val_loss=float(best[i, j]))
            out[(s, float(lam))] = res
    return out
