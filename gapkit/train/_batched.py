"""All (seed, λ) heads of a sweep as one stacked model: forward pass, closed-form gradients, per-head losses."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._threads import _bmm


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
