"""Time and memory of every gapkit.geometry metric at embedding-dump scale.

Usage::

    python benchmarks/bench_geometry.py                 # n = 1,000,000 pairs, d = 512, float32
    python benchmarks/bench_geometry.py --n 200000 --d 256
    python benchmarks/bench_geometry.py --n 2000 20000 250000 1000000 --single-pass   # issue 17's table

Two synthetic float32 matrices (image, text; about 2 GB each at full size) with a
cone and a gap are generated in chunks (once, for the largest ``n``; smaller ``n``
use their first rows), then each metric runs. Columns:

- ``seconds``: the fastest of several untimed-allocation calls (at least 3, more for
  small n, up to about 1 s of calls); a call over 2 s runs once, under tracemalloc
  (marked ``*``).
- ``x floor``: seconds over the memory-bandwidth floor measured in the same run: a
  bare ``x.sum(0)`` over the same input arrays (both for image-text metrics, the
  image for single-modality ones), fastest of several. Goals (issue 17): the
  single-pass metrics at most 3x, ``centroid_gap`` at most 2x at n = 1,000,000 and
  never slower than the peers' version at any n. The floor is one thread's (numpy's
  sum does not split); ``centroid_gap`` and ``gap_decomposition`` use two threads on
  arrays from 1,536 rows at d = 512 (``gapkit.geometry._rows._PARALLEL_ELEMS``),
  where two CPUs are free, so they can come in under 1x; the table's header and the
  goals line also give the two-thread floor (the text sum on a second thread).
- ``peer: ...`` rows: the peers' own code on the same arrays, here Schrodi et al.'s
  float32 torch centroid gap (``F.normalize`` each modality, then the norm of the
  difference of the means), with torch's default threads and with one thread
  (torch's threads wait for each other when other jobs share the cores); the
  notes give gapkit's time over the faster peer's.
- ``tracemalloc peak MiB``: peak of numpy/Python allocations during the call,
  above what was allocated before it (the inputs are not counted). This is the
  "extra memory" figure.
- ``max RSS growth MiB``: process peak resident set size during the call
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) minus the resident size just
  before it. On Linux the kernel's peak is reset before every call by writing
  ``5`` to ``/proc/self/clear_refs``, so the figure is per call; where that is
  impossible the column says ``n/a`` (the peak would be the whole run's).
  It also sees memory that tracemalloc cannot (BLAS buffers, allocator slack).

Part of ``make bench``; speed goals live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gapkit.geometry import _distribution as D  # noqa: E402
from gapkit import geometry as g  # noqa: E402
from gapkit._validation import as_matrix  # noqa: E402

MiB = 1024.0**2


def make_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Image rows in a cone around one axis, text rows correlated with them around another."""
    rng = np.random.default_rng(seed)
    image = np.empty((n, d), dtype=np.float32)
    text = np.empty((n, d), dtype=np.float32)
    axis_i = np.zeros(d, dtype=np.float32)
    axis_t = np.zeros(d, dtype=np.float32)
    axis_i[0] = 1.0
    axis_t[1] = 1.0
    step = 65536
    for s in range(0, n, step):
        e = min(n, s + step)
        noise = rng.standard_normal((e - s, d), dtype=np.float32)
        image[s:e] = noise + np.sqrt(d) * axis_i
        text[s:e] = 0.6 * noise + rng.standard_normal((e - s, d), dtype=np.float32) + 0.8 * np.sqrt(d) * axis_t
    return image, text


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def best_of(fn, *args, min_calls: int = 3, max_calls: int = 200, budget_s: float = 1.0) -> float:
    """Fastest wall time of ``fn(*args)`` over at least ``min_calls`` calls (more while under ``budget_s``)."""
    times: list[float] = []
    t_start = time.perf_counter()
    while len(times) < min_calls or (len(times) < max_calls and time.perf_counter() - t_start < budget_s):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def peer_centroid_gap(image: np.ndarray, text: np.ndarray) -> float:
    """Schrodi et al.'s centroid gap as their code computes it: float32 torch, F.normalize, norm of the mean gap."""
    import torch
    import torch.nn.functional as F

    v = F.normalize(torch.from_numpy(image), dim=-1)
    t = F.normalize(torch.from_numpy(text), dim=-1)
    return float((v.mean(dim=0) - t.mean(dim=0)).norm())


def peer_centroid_gap_1thread(image: np.ndarray, text: np.ndarray) -> float:
    """The same on one torch thread (faster than torch's default when other jobs share the cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return peer_centroid_gap(image, text)
    finally:
        torch.set_num_threads(before)


def measure(fn, *args, **kwargs):
    gc.collect()
    base_traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    can_reset = _reset_peak_rss()
    rss_before = _rss_mib()
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    seconds = time.perf_counter() - t0
    traced_peak = (tracemalloc.get_traced_memory()[1] - base_traced) / MiB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    growth = max(0.0, maxrss - rss_before) if can_reset else float("nan")
    return value, seconds, traced_peak, growth


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1_000_000], help="pairs (rows per modality); several "
                    "values give one table each, from one data set")
    ap.add_argument("--d", type=int, default=512, help="embedding dimension")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--single-pass", action="store_true", help="only the O(n d) single-pass metrics, their floors "
                    "and the peers' centroid gap (issue 17's table)")
    args = ap.parse_args(argv)
    d = args.d

    t0 = time.perf_counter()
    image_all, text_all = make_data(max(args.n), d, args.seed)
    print(f"# data: image and text float32 ({max(args.n):,} x {d}), {image_all.nbytes / MiB:,.0f} MiB each, "
          f"generated in {time.perf_counter() - t0:.1f} s; numpy {np.__version__}, {os.cpu_count()} CPU(s); "
          f"load average {os.getloadavg()[0]:.2f}")
    summary = []
    for n in args.n:
        summary.append(run(image_all[:n], text_all[:n], args.single_pass))
    print("\n# goals (issue 17): x floor of the bare x.sum(0) over the same arrays, measured in the same run")
    for n, ratios, peer in summary:
        cg = ratios.get("centroid_gap", float("nan"))
        cg2 = ratios.get("centroid_gap (two-thread floor)", float("nan"))
        others = {k: v for k, v in ratios.items() if not k.startswith("centroid_gap")}
        worst = max(others, key=others.get) if others else None
        line = f"#   n = {n:>9,}: centroid_gap {cg:.2f}x floor ({cg2:.2f}x the two-thread floor)"
        if peer is not None:
            line += f", {peer:.2f}x the faster peer's time ({'faster' if peer <= 1 else 'SLOWER'})"
        if worst is not None:
            line += f"; other single-pass metrics at most {others[worst]:.2f}x ({worst})"
        print(line)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")


#: the O(n d) single-pass metrics (issue 17), with their inputs: "pair" (image, text) or "one" (image)
SINGLE_PASS = {
    "centroid_gap": "pair", "paired_distance": "pair", "paired_cosine": "pair", "relative_modality_gap": "pair",
    "alignment": "pair", "mean_resultant_length": "one", "mean_pairwise_cosine": "one", "gap_decomposition": "pair",
}


def run(image: np.ndarray, text: np.ndarray, single_pass: bool) -> tuple[int, dict[str, float], float | None]:
    """One table for one n: every metric (or the single-pass ones), its floor ratio; returns the goal figures."""
    n, d = image.shape
    floors = {"pair": best_of(lambda: (image.sum(0), text.sum(0))), "one": best_of(lambda: image.sum(0))}
    with ThreadPoolExecutor(1) as pool:  # the same sums with text's on a second thread: what two cores can read
        two = best_of(lambda: (pool.submit(text.sum, 0), image.sum(0))[0].result())
    print(f"\n## n = {n:,}, d = {d}: floor x.sum(0) = {floors['pair'] * 1e3:.2f} ms for image + text "
          f"({2 * image.nbytes / floors['pair'] / 1e9:.1f} GB/s; on two threads {two * 1e3:.2f} ms, "
          f"{2 * image.nbytes / two / 1e9:.1f} GB/s), {floors['one'] * 1e3:.2f} ms for image")
    labels = np.arange(n) % 10  # joint clustering needs semantic labels; these are arbitrary (speed only)
    m_uni = min(n, g.UNIFORMITY_MAX_SAMPLES)
    m_sep = min(n, g.SEPARABILITY_MAX_PAIRS)
    def check_only(x):
        as_matrix(x)
        return float("nan")

    cases = [
        ("as_matrix (check only)", check_only, (image,), "reference: input validation, included in every row"),
        ("centroid_gap", g.centroid_gap, (image, text), ""),
        ("paired_distance", g.paired_distance, (image, text), ""),
        ("paired_cosine", g.paired_cosine, (image, text), ""),
        ("relative_modality_gap", g.relative_modality_gap, (image, text), ""),
        ("alignment", g.alignment, (image, text), ""),
        ("mean_resultant_length", g.mean_resultant_length, (image,), "image"),
        ("mean_pairwise_cosine", g.mean_pairwise_cosine, (image,), "image"),
        ("effective_rank", g.effective_rank, (image,), "image; O(n d^2)"),
        ("participation_ratio", g.participation_ratio, (image,), "image; O(n d^2)"),
        ("first_pc_variance_share", g.first_pc_variance_share, (image,), "image; O(n d^2)"),
        ("uniformity", g.uniformity, (image,), f"image; subsample {m_uni:,} rows, exact over its pairs"),
        ("linear_separability", g.linear_separability, (image, text),
         f"subsample {m_sep:,} pairs = {2 * m_sep:,} rows, 80/20 split"),
        # what the centroid misses (gapkit.geometry._distribution)
        ("gap_decomposition", lambda v, t: g.gap_decomposition(v, t).distribution, (image, text),
         "distribution gap shown; one fused O(n d) pass"),
        ("frechet_distance", g.frechet_distance, (image, text), "centred; O(n d^2) + two d x d eigh"),
        ("mmd (random features)", g.mmd, (image, text), "centred; D = 512 features, O(n d D)"),
        ("conformity", lambda x: float(g.conformity(x).mean()), (image,), "image; mean of the (n,) result shown"),
        ("joint_clustering_score", lambda v, t: g.joint_clustering_score(v, t, labels).v_measure, (image, text),
         f"V-measure shown; k-means (k = 10) on a subsample of {min(n, D.CLUSTERING_MAX_PAIRS):,} pairs"),
    ]

    try:
        import torch  # noqa: F401

        cases.insert(1, ("peer: Schrodi centroid gap", peer_centroid_gap, (image, text),
                         f"float32 torch, {torch.get_num_threads()} threads"))
        cases.insert(2, ("peer: Schrodi, 1 thread", peer_centroid_gap_1thread, (image, text), "float32 torch"))
    except ImportError:
        pass
    if single_pass:
        cases = [c for c in cases if c[0] in SINGLE_PASS or c[0].startswith("peer:")]

    tracemalloc.start()
    header = f"| {'metric':<27} | {'n':>9} | {'d':>4} | {'seconds':>8} | {'x floor':>7} " \
             f"| {'tracemalloc peak MiB':>20} " \
             f"| {'max RSS growth MiB':>18} | {'value':>10} | notes"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:]))
    ratios: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for name, fn, fargs, note in cases:
        value, secs, traced, growth = measure(fn, *fargs)  # the first call: memory (and time, if slow)
        mark = "*"
        if secs < 2.0:
            tracemalloc.stop()
            secs, mark = best_of(fn, *fargs), ""
            tracemalloc.start()
        floor = floors["pair" if len(fargs) == 2 else "one"]
        seconds[name] = secs
        if name in SINGLE_PASS:
            ratios[name] = secs / floor
        peers = [v for k, v in seconds.items() if k.startswith("peer:")]
        if name == "centroid_gap" and peers:
            note = f"{secs / min(peers):.2f}x the faster peer's time"
        growth_s = "n/a" if np.isnan(growth) else f"{growth:,.0f}"
        print(f"| {name:<27} | {n:>9,} | {d:>4} | {secs:>7.4f}{mark:1} | {secs / floor:>7.2f} | {traced:>20,.0f} "
              f"| {growth_s:>18} | {value:>10.4f} | {note}", flush=True)
    tracemalloc.stop()
    print(f"# input per array {image.nbytes / MiB:,.0f} MiB; 'peak' columns are extra memory during one call "
          "(input validation by gapkit._validation.as_matrix included)")
    peers = [v for k, v in seconds.items() if k.startswith("peer:")]
    ratios["centroid_gap (two-thread floor)"] = seconds.get("centroid_gap", float("nan")) / two
    return n, ratios, None if not peers or "centroid_gap" not in seconds else seconds["centroid_gap"] / min(peers)


if __name__ == "__main__":
    main()
