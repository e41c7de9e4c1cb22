"""``gapkit embed`` in one process against ``torchrun --nproc_per_node=P`` (issue 27): rows per second.

Usage::

    python benchmarks/bench_embed_distributed.py                    # mini-clip on shapes, n = 20,000, P = 2
    python benchmarks/bench_embed_distributed.py --n 2000 --epochs 20 --procs 2 --repeats 3

mini-clip is trained once (``--epochs``) into a cache under ``--dir`` (outside the repository,
``/tmp/gapkit-bench-dist`` by default); every measured run then gets a copy of the trained weights
and an empty embedding cache, so that each one embeds every row itself. The runs alternate (one
process, then P, ``--repeats`` times). Columns, per run:

- ``embed rows/s``: the rows over the embedding phase (from the first shard to the last, the
  slowest rank's), the figure ``gapkit embed`` prints (after the encoder is loaded; it includes the
  lazy load of the text tower on each rank's first shard);
- ``wall s``: the whole command (python and torch start-up, torchrun's launcher and rendezvous, data
  generation, the manifest, the all_reduce of the statistics);
- ``rerun s``: the same command again over the finished folder (nothing to do).

One process uses torch's default intra-op threads (one per core); torchrun gives each rank
``OMP_NUM_THREADS=1``. The machine may be shared with other work: the figures are noisy. Part of
``make bench``; no timed tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return wall, res.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=1, help="mini-clip's training epochs (trained once)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dir", default="/tmp/gapkit-bench-dist")
    args = ap.parse_args()
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    env = dict(os.environ, PYTHONHASHSEED="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    common = ["-m", "gapkit", "embed", "--model", "mini-clip", "--data", "shapes", "-n", str(args.n),
              "--epochs", str(args.epochs), "--device", "cpu"]
    trained = base / "trained"
    wall, _ = _run([sys.executable, *common, "--out", str(base / "train-run")], dict(env, GAPKIT_CACHE=str(trained)))
    print(f"mini-clip trained ({args.epochs} epoch(s), {args.n} pairs) and first embedding: {wall:.1f} s")
    print(f"{'run':<28}{'embed rows/s':>14}{'wall s':>9}{'rerun s':>9}")
    for rep in range(args.repeats):
        for procs in (1, args.procs):
            cache = base / f"cache-{rep}-{procs}"
            cache.mkdir()
            for sub in trained.iterdir():
                if sub.name != "embeddings":
                    shutil.copytree(sub, cache / sub.name)
            launch = ([sys.executable] if procs == 1 else
                      [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"])
            cmd = [*launch, *common, "--out", str(base / f"out-{rep}-{procs}")]
            run_env = dict(env, GAPKIT_CACHE=str(cache))
            wall, err = _run(cmd, run_env)
            rerun, _ = _run(cmd, run_env)
            m = re.search(r"embedded (\d+) rows in ([\d.]+) s on \d+ process(?:es)?: (\d+) rows/s", err)
            rate = m.group(3) if m else "?"
            label = "one process" if procs == 1 else f"torchrun, {procs} processes"
            print(f"{label + f' (#{rep + 1})':<28}{rate:>14}{wall:>9.1f}{rerun:>9.1f}", flush=True)
    print(f"cpu cores: {os.cpu_count()}; load average now: {os.getloadavg()[0]:.1f} (the machine may be shared)")


if __name__ == "__main__":
    main()
