"""``gapkit report`` out of core: two memory-mapped .npy files of n × d float32 (issue 26).

Usage::

    python benchmarks/bench_cli_out_of_core.py                     # n = 1,000,000, d = 512 (4 GB in /tmp)
    python benchmarks/bench_cli_out_of_core.py --n 200000 --dir /tmp/ooc

Writes ``image.npy`` and ``text.npy`` (seeded, a cone and a gap, in 64 MB blocks) to ``--dir``
once (outside the repository: ``/tmp/gapkit-ooc`` by default), reads every file once to warm the
page cache, then runs each step in a fresh process of its own (so that each one's peak memory is
its own) on ``np.load(..., mmap_mode="r")`` arrays:

- ``floor``: a bare ``x.sum(0)`` over both files, one after the other (the memory-bandwidth floor);
- ``single-pass``: what ``gap_report(max_pairs=...)`` computes on every pair, that is the fused
  pair pass (it validates every row): the centroid gap, paired distance/cosine, alignment,
  raw/distribution gap, RMG, mean resultant length and mean pairwise cosine;
- ``card``: the whole gap card, ``gap_report(img, txt, max_pairs=5000)`` (the rest on a seeded
  subsample of 5,000 pairs, the command line's default);
- ``cli``: ``gapkit report image.npy text.npy --json OUT`` end to end (including the SHA-256 of both
  files, which the card records), and with ``--no-hash``.

Columns: seconds (one run each; the machine may be shared, so they are noisy), the ratio to the
floor, peak RSS (``ru_maxrss``: it counts the pages of the memory-mapped files that the process
touched, which the kernel can drop at any time, so it grows to the files' size even for the bare
sum) and peak anonymous memory (``RssAnon`` sampled every 10 ms: the memory the process itself
allocated, the figure that must stay bounded). Part of ``make bench``; no timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_files(folder: Path, n: int, d: int, seed: int = 0) -> tuple[Path, Path]:
    """image.npy and text.npy of n × d float32, written in blocks (never n × d in memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "image.npy", folder / "text.npy"
    if all(p.exists() and np.load(p, mmap_mode="r").shape == (n, d) for p in paths):
        return paths
    rng = np.random.default_rng(seed)
    cone_i, cone_t = rng.normal(size=d), rng.normal(size=d)
    outs = [np.lib.format.open_memmap(p, mode="w+", dtype=np.float32, shape=(n, d)) for p in paths]
    step = max(1, (64 << 20) // (4 * d))
    for start in range(0, n, step):
        m = min(step, n - start)
        shared = rng.normal(size=(m, d)).astype(np.float32)
        outs[0][start:start + m] = shared + 2.0 * cone_i + rng.normal(size=(m, d)).astype(np.float32)
        outs[1][start:start + m] = shared + 2.0 * cone_t + rng.normal(size=(m, d)).astype(np.float32)
    for o in outs:
        o.flush()
    del outs
    return paths


class AnonPeak:
    """Peak RssAnon of this process, sampled every 10 ms on a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.01)

    def __enter__(self) -> "AnonPeak":
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.now())


def step(name: str, img_path: str, txt_path: str, out: str) -> dict:
    """One measured step, in this (fresh) process."""
    import gapkit.geometry as g
    from gapkit.geometry._fused import _pair_pass

    img, txt = np.load(img_path, mmap_mode="r"), np.load(txt_path, mmap_mode="r")
    with AnonPeak() as mem:
        t0 = time.perf_counter()
        if name == "floor":
            img.sum(0), txt.sum(0)
        elif name == "single-pass":
            p = _pair_pass(img, txt)
            result = float(np.linalg.norm((p.sum_image - p.sum_text) / img.shape[0])), float((p.dist ** 2).mean())
        elif name == "card":
            card = g.gap_report(img, txt, max_pairs=int(os.environ.get("BENCH_MAX_PAIRS", "5000")))
            result = card["centroid_gap"]
        seconds = time.perf_counter() - t0
    rec = {"step": name, "seconds": seconds, "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
           "peak_anon": mem.peak}
    if name != "floor":
        rec["centroid_gap"] = result if name == "card" else result[0]
    return rec


def run_cli(img: Path, txt: Path, out: Path, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "gapkit", "report", str(img), str(txt), "--json", str(out), *extra],
                         capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if res.returncode:
        raise SystemExit(f"gapkit report failed:\n{res.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    card = json.loads(out.read_text())
    gap = next(e["value"] for e in card["estimates"] if e["metric"] == "centroid_gap")
    return {"step": "cli " + " ".join(extra), "seconds": seconds, "max_rss": usage.ru_maxrss * 1024, "peak_anon": None,
            "centroid_gap": gap}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--dir", default="/tmp/gapkit-ooc")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = Path(args.dir)
    if args.step:
        print(json.dumps(step(args.step, str(folder / "image.npy"), str(folder / "text.npy"), "")))
        return
    t0 = time.perf_counter()
    img, txt = make_files(folder, args.n, args.d)
    print(f"inputs: {img} and {txt}, {args.n} x {args.d} float32 ({2 * img.stat().st_size / 2**30:.2f} GiB), "
          f"ready in {time.perf_counter() - t0:.1f} s", flush=True)
    for p in (img, txt):  # warm the page cache: every step reads the files from memory
        with open(p, "rb") as fh:
            while fh.read(64 << 20):
                pass
    rows = []
    for name in ("floor", "single-pass", "card"):
        res = subprocess.run([sys.executable, __file__, "--dir", str(folder), "--step", name], capture_output=True,
                             text=True, cwd=ROOT)
        if res.returncode:
            raise SystemExit(f"step {name} failed:\n{res.stderr}")
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"  {name}: {rows[-1]['seconds']:.2f} s", file=sys.stderr, flush=True)
    rows.append(run_cli(img, txt, folder / "card.json", []))
    rows.append(run_cli(img, txt, folder / "card-nohash.json", ["--no-hash"]))
    floor = rows[0]["seconds"]
    gib = 2 ** 30
    print(f"\n{'step':<22}{'seconds':>9}{'x floor':>9}{'peak RSS GiB':>14}{'peak anon GiB':>15}  centroid gap")
    for r in rows:
        anon = "-" if r["peak_anon"] is None else f"{r['peak_anon'] / gib:.2f}"
        gap = f"{r['centroid_gap']:.6f}" if "centroid_gap" in r else ""
        print(f"{r['step']:<22}{r['seconds']:>9.2f}{r['seconds'] / floor:>9.2f}{r['max_rss'] / gib:>14.2f}"
              f"{anon:>15}  {gap}")
    print("\npeak RSS counts the memory-mapped files' pages the process touched (the bare sum's too); "
          "peak anon is what the process allocated. cli rows: RSS is the largest child's.")


if __name__ == "__main__":
    main()
