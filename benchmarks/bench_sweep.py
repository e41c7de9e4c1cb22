"""Benchmark: the batched λ sweep vs. the same protocol one head at a time.

Both paths run the full protocol of gapkit.train (stratified 80/20 split per seed,
train-only Δ, AdamW lr 3e-4, batch 512, early stopping with patience 10 on a 10 %
validation split, class-balanced loss), on synthetic paired embeddings with a
modality gap and a label signal. Prints both wall times, the speed-up (goal of
issue 17: at least 30x on CPU), the time per training step (batched: one step
trains every head on its seed's minibatch; one at a time: one head's step), and
the largest metric difference between the two paths, and a *floor*: the time that the work
every batched step does with torch's kernels (gather each seed's minibatch rows of both
modalities, then the forward and the gradient product of every head) takes alone, measured in
the same run, with the speed-up that floor alone would allow.

    python benchmarks/bench_sweep.py                       # n=10,000, d=512, 11 λ × 5 seeds, CPU/auto
    python benchmarks/bench_sweep.py --device cuda
    python benchmarks/bench_sweep.py --n 2000 --epochs 20   # quick look
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch

from gapkit.train import resolve_device, sweep_lambda


def synthetic(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two cones (image, text) apart from each other, sharing a weak binary label signal (~30 % positives)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    mu_v, mu_t, w = rng.normal(size=(3, d))
    shared = rng.normal(size=(n, d))
    w *= 1.5 / np.linalg.norm(w)                       # label signal of norm 1.5 against unit noise per dimension
    img = 1.5 * mu_v + shared + np.outer(y, w) + rng.normal(size=(n, d))
    txt = 1.5 * mu_t + shared + np.outer(y, w) + rng.normal(size=(n, d))
    return img.astype(np.float32), txt.astype(np.float32), y


def step_floor(n: int, d: int, S: int, M: int, batch: int, steps: int) -> tuple[float, float]:
    """Seconds for ``steps`` batched steps' work with torch's kernels: (row gathers, the two products).

    Each step gathers ``S`` random minibatches of ``batch`` rows from two float32 ``(n, d)``
    sources (the sweep's unit rows) and computes, for the ``2·S`` (modality, seed) blocks, the
    forward ``W (M, d) @ Xᵀ`` and the gradient ``G (M, B) @ X`` with ``M = L·K`` heads' rows:
    the same shapes and kernels (``index_select``, ``bmm``) as the sweep, and nothing else. Each
    part takes the median step time on the faster of one thread and the caller's count (the sweep
    picks between those two as it runs), times ``steps``.
    """
    g = torch.Generator().manual_seed(0)
    src = [torch.randn(n, d, generator=g) for _ in range(2)]
    W, G = torch.randn(2 * S, M, d, generator=g), torch.randn(2 * S, M, batch, generator=g)
    buf, out = torch.empty(2, S * batch, d), torch.empty(2 * S, M, d)
    rows = [torch.randperm(n, generator=g)[:S * batch] for _ in range(8)]
    caller = torch.get_num_threads()
    best = [float("inf"), float("inf")]
    try:
        for threads in sorted({1, caller}):
            torch.set_num_threads(threads)
            gathers, products = [], []
            for i in range(min(steps, 400) + 5):                 # 5 warm-up steps, not counted
                t0 = time.perf_counter()
                for m in range(2):
                    torch.index_select(src[m], 0, rows[i % 8], out=buf[m])
                t1 = time.perf_counter()
                X = buf.view(2 * S, batch, d)
                torch.bmm(W, X.transpose(1, 2))
                torch.bmm(G, X, out=out)
                t2 = time.perf_counter()
                if i >= 5:
                    gathers.append(t1 - t0)
                    products.append(t2 - t1)
            best = [min(best[0], float(np.median(gathers))), min(best[1], float(np.median(products)))]
    finally:
        torch.set_num_threads(caller)
    return best[0] * steps, best[1] * steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    ap.add_argument("--n", type=int, default=10_000, help="pairs (default 10,000)")
    ap.add_argument("--d", type=int, default=512, help="dimensions per modality (default 512)")
    ap.add_argument("--epochs", type=int, default=100, help="max epochs cap (default 100, the protocol)")
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds, from 42 (default 5)")
    ap.add_argument("--head", default="linear", choices=["linear", "mlp"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--skip-sequential", action="store_true", help="time the batched sweep only")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    img, txt, y = synthetic(args.n, args.d)
    lams = np.round(np.arange(0, 1.01, 0.1), 1)
    seeds = tuple(range(42, 42 + args.seeds))
    kw = dict(lams=lams, seeds=seeds, head=args.head, device=device, max_epochs=args.epochs, progress=False)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"λ sweep benchmark: n={args.n:,}, d={args.d} per modality, {len(lams)} λ × {len(seeds)} seeds = "
          f"{len(lams) * len(seeds)} {args.head} heads, max {args.epochs} epochs")
    print(f"device: {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads")

    # warm-up (allocator, kernels) on a tiny problem
    sweep_lambda(img[:400], txt[:400], y[:400], lams=[0.0, 1.0], seeds=(42,), device=device, max_epochs=2,
                 progress=False)

    def timed(batched: bool):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0, c0 = time.perf_counter(), time.process_time()
        res = sweep_lambda(img, txt, y, batched=batched, **kw)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return res, time.perf_counter() - t0, time.process_time() - c0

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    fast, t_fast, c_fast = timed(True)
    ep = fast.training.epochs
    n_train = len(next(iter(fast.splits.values()))[0])
    # fit rows: 90 % of the training split (the rest validates); batch 512, the protocol's
    steps_per_epoch = math.ceil((n_train - math.ceil(0.1 * n_train)) / 512)
    batched_steps = int(ep.max()) * steps_per_epoch                        # the batched loop runs to the last head
    print(f"batched sweep     : {t_fast:8.2f} s wall, {c_fast:8.2f} s CPU   (epochs per head: min {ep.min()}, "
          f"median {int(ep.median())}, max {ep.max()}); {batched_steps:,} steps, "
          f"{1e3 * t_fast / batched_steps:.2f} ms per step (all {len(ep)} heads)")
    s = fast.summary(["auc"])["auc"]
    print(f"  AUC at λ=0: {s.loc[0.0, 'mean']:.4f} ± {s.loc[0.0, 'std']:.4f};  best λ = {fast.best_lambda('auc')}")
    if args.skip_sequential:
        return
    slow, t_slow, c_slow = timed(False)
    head_steps = int(slow.training.epochs.sum()) * steps_per_epoch
    print(f"one head at a time: {t_slow:8.2f} s wall, {c_slow:8.2f} s CPU   ({head_steps:,} steps, "
          f"{1e3 * t_slow / head_steps:.3f} ms per step of one head)")
    print(f"speed-up          : {t_slow / t_fast:8.1f} x wall, {c_slow / c_fast:6.1f} x CPU time  "
          "(goal: >= 30 x on CPU)")
    if args.head == "linear" and device.type == "cpu":   # (an MLP head has more products; a GPU other kernels)
        # a binary task: one output per head, so M = L rows per (modality, seed) block; batch 512, the protocol's
        t_gather, t_mm = step_floor(args.n, args.d, len(seeds), len(lams), 512, batched_steps)
        floor = t_gather + t_mm
        print(f"floor             : {floor:8.2f} s = gathers {t_gather:.2f} s + products {t_mm:.2f} s for the same "
              f"{batched_steps:,} steps (torch's kernels at the sweep's shapes, nothing else); the speed-up at that floor alone: "
              f"{t_slow / floor:.1f} x; the goal needs the whole sweep in {t_slow / 30:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print_agreement(fast, slow)


def print_agreement(fast, slow) -> None:
    diff = np.abs(fast.table.value.to_numpy() - slow.table.value.to_numpy())
    same_epochs = (fast.training.epochs.to_numpy() == slow.training.epochs.to_numpy()).mean()
    print(f"agreement         : max |Δmetric| = {np.nanmax(diff):.2e}, same stopping epoch for "
          f"{100 * same_epochs:.0f} % of heads (float32)")


if __name__ == "__main__":
    main()
