"""The batched training loop of a sweep: every (seed, λ) head at once, early stopping, a shrinking working set."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..geometry import _one_blas_thread
from ._adamw import _adamw_update
from ._batched import _BatchedHeads, _batched_loss, _inv_norms, _slot_index
from ._device import _torch_dtype
from ._head import _init_params
from ._metrics import evaluate_predictions
from ._params import _CHUNK
from ._tasks import _class_weights
from ._threads import _on_mm_threads, _ThreadChoice


def _lam_slots(width: int, outputs: int, head: str, device: torch.device) -> int:
    """Slots per seed on the working set's λ axis for ``width`` heads: one more where that is faster.

    A linear head's two products per step have ``width · outputs`` rows per (modality, seed) block.
    On CPU, MKL runs 8, 12 or 16 such rows in less time than 7, 11 or 15 (forward + gradient for 10
    blocks of 512 × 512 on two threads: 0.74 against 1.04 ms, 0.90 against 1.09, 1.20 against 1.26;
    but 4 rows cost more than 3), so a binary sweep of 7, 11 or 15 λ gets one more slot, masked (it
    repeats one of the seed's heads as a separate copy, which no result ever reads).
    """
    if device.type == "cpu" and head == "linear" and outputs == 1 and width >= 7 and width % 4 == 3:
        return width + 1
    return width


def _shrink_working(w: Any, active: np.ndarray, set_working: Any, model: "_BatchedHeads", slots: Any) -> None:
    """After heads stopped: mask them, and drop them from the working set if a dimension shrinks.

    ``slots(width)``: the λ-axis width that holds ``width`` heads per seed (:func:`_lam_slots`).
    """
    seeds_left = np.flatnonzero(active.any(axis=1))
    width = slots(int(active[seeds_left].sum(axis=1).max()))
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
                        dtype: str, threads: _ThreadChoice, auc: str = "proba") -> dict[tuple[int, float], dict[str, float]]:
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
    slots = lambda width: _lam_slots(width, n_out, head, device)  # noqa: E731
    if slots(L) > L:   # pad the λ axis with masked slots where the products run faster that way
        _shrink_working(w, np.ones((S, L), dtype=bool), set_working, full, slots)
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
                _shrink_working(w, active, set_working, model, slots)
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
            res = evaluate_predictions(yte, proba[i, j] if task != "binary" else proba[i, j, :, 0], task, auc=auc)
            res.update(epochs=int(epochs_run[i, j]), best_epoch=int(best_epoch[i, j]), best_val_loss=float(best[i, j]))
            out[(s, float(lam))] = res
    return out
