"""Time and memory of every gapkit.geometry metric at embedding-dump scale.

Usage::

    python benchmarks/bench_geometry.py                 # n = 1,000,000 pairs, d = 512, float32
    python benchmarks/bench_geometry.py --n 200000 --d 256

Two synthetic float32 matrices (image, text; about 2 GB each at full size) with a
cone and a gap are generated in chunks, then each metric runs once. Columns:

- ``seconds``: wall time of one call (tracemalloc is active, which adds a little).
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

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gapkit import _distribution as D  # noqa: E402
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
    ap.add_argument("--n", type=int, default=1_000_000, help="pairs (rows per modality)")
    ap.add_argument("--d", type=int, default=512, help="embedding dimension")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n, d = args.n, args.d

    t0 = time.perf_counter()
    image, text = make_data(n, d, args.seed)
    print(f"# data: image and text float32 ({n:,} x {d}), {image.nbytes / MiB:,.0f} MiB each, "
          f"generated in {time.perf_counter() - t0:.1f} s; numpy {np.__version__}, {os.cpu_count()} CPU(s)")

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
        # what the centroid misses (gapkit._distribution)
        ("gap_decomposition", lambda v, t: g.gap_decomposition(v, t).distribution, (image, text),
         "distribution gap shown; two O(n d) passes"),
        ("frechet_distance", g.frechet_distance, (image, text), "centred; O(n d^2) + two d x d eigh"),
        ("mmd (random features)", g.mmd, (image, text), "centred; D = 512 features, O(n d D)"),
        ("conformity", lambda x: float(g.conformity(x).mean()), (image,), "image; mean of the (n,) result shown"),
        ("joint_clustering_score", lambda v, t: g.joint_clustering_score(v, t, labels).v_measure, (image, text),
         f"V-measure shown; k-means (k = 10) on a subsample of {min(n, D.CLUSTERING_MAX_PAIRS):,} pairs"),
    ]

    tracemalloc.start()
    header = f"| {'metric':<24} | {'n':>9} | {'d':>4} | {'seconds':>7} | {'tracemalloc peak MiB':>20} " \
             f"| {'max RSS growth MiB':>18} | {'value':>10} | notes"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:]))
    for name, fn, fargs, note in cases:
        value, secs, traced, growth = measure(fn, *fargs)
        growth_s = "n/a" if np.isnan(growth) else f"{growth:,.0f}"
        print(f"| {name:<24} | {n:>9,} | {d:>4} | {secs:>7.2f} | {traced:>20,.0f} | {growth_s:>18} "
              f"| {value:>10.4f} | {note}", flush=True)
    tracemalloc.stop()
    print(f"# input per array {image.nbytes / MiB:,.0f} MiB; 'peak' columns are extra memory during one call "
          "(input validation by gapkit._validation.as_matrix included)")


if __name__ == "__main__":
    main()
