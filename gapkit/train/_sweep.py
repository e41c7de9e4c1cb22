"""The λ sweep: splits, Δ per seed, the geometry of the shifted embeddings, and every head's test metrics."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from .._validation import (SEED, Interval, Options, Real, as_paired, check_labels, check_param, l2_normalize,
                           validate_params)
from ..geometry import _one_blas_thread
from ..shift import lambda_shift
from ._device import _torch_dtype, resolve_device
from ._fit import _sweep_batched
from ._head import train_head
from ._params import _DEFAULT_LAMS, _FRACTION, _PROTOCOL, METRICS
from ._result import SweepResult
from ._tasks import _check_test_classes, _encode, _fixed_split, split_indices


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
    auc: str = "proba",
) -> SweepResult:
    """Supervised early-fusion evaluation as a function of λ: every λ × seed head trained at once (chapter 6).

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
    auc : {"proba", "onehot"}
        How a multiclass AUC is scored: from probabilities (default) or, as Restrepo et al.'s
        code, from hard one-hot predictions (:func:`gapkit.train.evaluate_predictions`).

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
                                  head, renormalize, progress, auc=auc, **common)
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
                                                   auc=auc, **common)

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
