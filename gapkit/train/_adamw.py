"""AdamW for the stacked parameters of a batched sweep: ``torch.optim.AdamW``'s update, in one call."""

from __future__ import annotations

import torch

from ._params import _BETAS, _EPS


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
