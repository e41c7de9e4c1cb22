"""The reference: one head trained with a plain PyTorch loop (``nn.Sequential`` + ``torch.optim.AdamW``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .._validation import SEED, Options, as_matrix, check_labels, validate_params
from ._device import _torch_dtype, resolve_device
from ._metrics import evaluate_predictions
from ._params import _BETAS, _CHUNK, _EPS, _PROTOCOL
from ._tasks import _check_test_classes, _class_weights, _encode, split_indices


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
    auc: str = "proba",
) -> dict[str, float]:
    """Train one classification head with the paper's protocol; the reference loop (chapter 6).

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
    auc : {"proba", "onehot"}
        Multiclass AUC from probabilities (default) or from hard one-hot predictions, as
        Restrepo et al. computed it (:func:`evaluate_predictions`).

    Returns
    -------
    dict
        ``accuracy``, ``f1_macro``, ``auc`` on the test set, plus ``epochs``
        (epochs run), ``best_epoch`` and ``best_val_loss``.

    Raises
    ------
    ValueError
        Bad settings (named, with the value and a fix), mismatched shapes,
        missing (None/NaN) or mixed-type labels (rows named), a test class
        that never occurs in the training labels, or features beyond what ``dtype`` holds.
    FloatingPointError
        The trained head's outputs are not finite (never a NaN AUC without a word).
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
    for name, arr in (("X_train", Xtr), ("X_test", Xte)):
        _check_fits(arr, name, tdt, dtype)
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
    if not bool(torch.isfinite(proba).all()):  # never a NaN AUC without a word
        raise FloatingPointError(
            f"train_head: the trained head's test outputs are not finite (the features reach {_max_abs(Xtr):.3g}, "
            f"training in {dtype}). Standardise the features first (e.g. sklearn's StandardScaler), or train "
            "with dtype='float64'.")
    out = evaluate_predictions(yte, proba.double().cpu().numpy(), task, auc=auc)
    out.update(epochs=epochs, best_epoch=best_epoch, best_val_loss=best)
    return out


def _max_abs(x: np.ndarray) -> float:
    """Largest magnitude of ``x`` (finite: as_matrix has checked it), in blocks of rows (no copy of ``x``)."""
    step = max(1, (16 << 20) // max(1, x.shape[1] * x.itemsize))
    return max(float(np.abs(x[i:i + step]).max(initial=0.0)) for i in range(0, len(x), step))


def _check_fits(x: np.ndarray, name: str, tdt: torch.dtype, dtype: str) -> None:
    """Refuse features that the training precision cannot hold (they would turn into inf, then NaN)."""
    limit = torch.finfo(tdt).max
    big = _max_abs(x)
    if big > limit:
        raise ValueError(
            f"train_head: {name} holds values up to {big:.3g}, beyond what dtype={dtype!r} can hold ({limit:.3g}); "
            "they would become inf and every metric NaN. Standardise the features first (e.g. sklearn's "
            "StandardScaler), or pass dtype='float64'.")
