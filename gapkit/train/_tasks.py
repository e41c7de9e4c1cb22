"""Labels and splits: task inference, label encoding, stratified and fixed splits, class-balanced weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from .._validation import SEED, validate_params
from ._params import _FRACTION, _TASKS


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
