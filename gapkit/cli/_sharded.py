"""The body of ``gapkit embed``: one process or many (``torchrun``), each rank its own shards (issue 27).

Every rank (:mod:`gapkit.cli._distributed`) takes its contiguous block of rows, cuts it into shards
of at most ``--shard-rows`` rows and, for each shard not already complete in the folder
(:func:`gapkit.cli._folder.complete_shard`: written for the same command, files hashing right),
embeds it through the content-hashed cache and writes it atomically (arrays, then its record).
A rank killed mid-run leaves its complete shards valid; the same command run again recomputes
only the missing ones and says how many it reused. Once every rank is done (a gather, then a
barrier), rank 0 writes the manifest. Each rank also reduces its rows to the gap card's sufficient
statistics (:mod:`gapkit.sufficient`), summed over the ranks with one ``all_reduce``; with
``--card`` rank 0 gathers a seeded subsample of the rows for what cannot be summed and writes the card.

mini-clip trains on the whole data set: rank 0 trains it (and caches the weights) while the others
wait, then they load it from the cache. Hugging Face data (``coco``, ``flickr30k``) are split with
``datasets.distributed.split_dataset_by_node``, each rank reading only its rows.

Test hook: ``GAPKIT_EMBED_KILL_AFTER=R:K`` kills rank R (SIGKILL, as an out-of-memory killer or a
pre-empted node would) right after it has written its K-th shard.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._distributed import Group, World, device_for, rank_range, shard_ranges, world
from ._errors import CLIError
from ._folder import MANIFEST, complete_shard, write_manifest, write_shard
from ._report import say

#: shards of at most this many rows unless --shard-rows says otherwise (about 32 MB of float32 at d = 512)
DEFAULT_SHARD_ROWS = 16384
#: data sets read from the Hugging Face Hub, split per rank with split_dataset_by_node
HUB_CAPTIONS = ("coco", "flickr30k")


def _hub_part(name: str, n: int, w: World) -> tuple[Any, int]:
    """This rank's rows of a Hub caption set (``split_dataset_by_node`` of the map-style first ``n`` rows) and
    how many rows the set has (fewer than ``n`` when the split is shorter)."""
    from ..datasets import load_captions
    from ..datasets._captions import CAPTION_SOURCES
    from ..datasets._hub import _require_datasets

    datasets = _require_datasets()
    from datasets.distributed import split_dataset_by_node

    src = CAPTION_SOURCES[name]
    full = datasets.load_dataset(src["dataset_id"], split=f"{src['split']}[:{n}]")
    part = split_dataset_by_node(full, rank=w.rank, world_size=w.size)
    return load_captions(name, records=part, max_samples=None), len(full)


def _load(args: argparse.Namespace, w: World, loaders: dict[str, Any]) -> tuple[Any, int, int]:
    """``(data, n, offset)``: the data this rank holds, the rows of the whole set, and the global row of its row 0."""
    if w.rank == 0:
        say(f"loading {args.data}" + (f" ({args.n} pairs)" if args.n else ""))
    try:
        if w.distributed and args.data in HUB_CAPTIONS:
            if args.model == "mini-clip":
                raise CLIError(f"--model mini-clip --data {args.data}: mini-clip trains on the whole data set, "
                               "which a torchrun rank does not read; embed it in one process")
            part, n = _hub_part(args.data, args.n or 5000, w)
            return part, n, rank_range(n, w.rank, w.size)[0]
        ds = loaders[args.data](args.n, args.seed)
    except (ValueError, OSError, ImportError) as exc:
        raise CLIError(f"--data {args.data}: {exc}") from None
    return ds, len(ds.texts), 0


def _finished(out: Path, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of ``out`` if a run of this command (``meta``: model, data, n, seed...) finished there."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        prior = dict(manifest["meta"])
        names = prior.pop("label_names", None)
        if prior == meta and isinstance(names, list) and int(manifest["n"]) >= 1:
            return manifest
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _all_complete(out: Path, meta: dict[str, Any], shard_rows: int,
                  size: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """``(manifest, records)`` when a run of this command finished in ``out`` and every shard this layout
    (``size`` processes, ``shard_rows``) asks for is there and hashes right; else ``None``.

    Every rank checks every shard (hashing: far cheaper than embedding), so all reach the same answer
    without talking to each other.
    """
    prior = _finished(out, meta)
    if prior is None:
        return None
    n = int(prior["n"])
    if n < size:
        return None
    records = []
    for k in range(size):
        for a, b in shard_ranges(*rank_range(n, k, size), shard_rows):
            rec = complete_shard(out, a, b, prior["meta"])
            if rec is None:
                return None
            records.append(rec)
    return prior, records


def _nothing_to_do(out: Path, manifest: dict[str, Any], records: list[dict[str, Any]], w: World, t0: float) -> int:
    """A rerun over a finished folder: say so (rank 0), with the centroid gap merged from the shards' sums."""
    if w.rank != 0:
        return 0
    from ..sufficient import gap_stats, merge_stats

    say(f"reused {len(records)} of {len(records)} shards in {out}")
    stats = merge_stats([gap_stats(*(np.load(out / r["files"][c], mmap_mode="r") for c in ("image", "text")),
                                   covariance=False) for r in records])
    m = stats.metrics()
    say(f"centroid gap {m[('centroid_gap', 'image-text')]:.6f}, paired cosine {m[('paired_cosine', 'image-text')]:.6f} "
        f"of {stats.n} pairs (merged from the shards)")
    print(out / MANIFEST)
    say(f"done in {time.perf_counter() - t0:.1f} s ({stats.n} rows, {len(records)} of {len(records)} shards reused); "
        f"next: gapkit report {out}")
    return 0


def _kill_hook(w: World, written: int) -> None:
    spec = os.environ.get("GAPKIT_EMBED_KILL_AFTER", "")
    if spec:
        rank, _, count = spec.partition(":")
        if int(rank) == w.rank and written >= int(count):
            os.kill(os.getpid(), signal.SIGKILL)


def _shard_arrays(encoder: Any, part: Any) -> dict[str, np.ndarray]:
    from ..cache import cached_embed_dataset

    image, text = cached_embed_dataset(encoder, part, progress=False)
    arrays = {"image": image, "text": text}
    labels = getattr(part, "labels", None)
    if labels is not None and getattr(labels, "ndim", 0) == 1 and len(labels) == len(image):
        arrays["labels"] = labels
    return arrays


def _part(ds: Any, a: int, b: int, n_local: int) -> Any:
    """Rows ``[a, b)`` of the data this rank holds (the data itself when that is all of it: the same cache key)."""
    if a == 0 and b == n_local:
        return ds
    return ds.subset(np.arange(a, b), name=f"{ds.name}[{a}:{b}]")


def run_embed(args: argparse.Namespace, out: Path, meta: dict[str, Any], loaders: dict[str, Any],
              load_encoder: Any, t0: float) -> int:
    """Embed this rank's shards, then (rank 0) the manifest; see the module docstring."""
    w = world()
    shard_rows = args.shard_rows or DEFAULT_SHARD_ROWS
    finished = None if args.card else _all_complete(out, meta, shard_rows, w.size)
    if finished is not None:  # every rank sees every shard complete: nothing to do, no process group, no torch
        return _nothing_to_do(out, *finished, w, t0)
    device = device_for(args.device, w) if w.distributed else args.device  # (one process: torch only if needed)
    with Group(w, device) as group:
        return _run(args, out, meta, loaders, load_encoder, t0, w, device, group, shard_rows)


def _run(args: argparse.Namespace, out: Path, meta: dict[str, Any], loaders: dict[str, Any], load_encoder: Any,
         t0: float, w: World, device: str, group: Group, shard_rows: int) -> int:
    from ..sufficient import gap_stats, merge_stats, stats_report, subsample_index

    tag = w.tag
    if w.rank == 0 and w.distributed:
        say(f"{w.size} processes ({group.backend}), each embedding its own rows")
    prior = _finished(out, meta)
    ds = None
    if prior is None:
        ds, n, offset = _load(args, w, loaders)
        meta = dict(meta, label_names=[str(x) for x in getattr(ds, "label_names", [])])
    else:  # a finished folder of this command: its shards may all be there, and then the data are not needed
        n, offset, meta = int(prior["n"]), 0, dict(prior["meta"])
    if n < w.size:
        raise CLIError(f"{n} pairs on {w.size} ranks leaves a rank without rows; run fewer processes")
    start, stop = rank_range(n, w.rank, w.size)
    mine = shard_ranges(start, stop, shard_rows)
    done = {r: complete_shard(out, r[0], r[1], meta) for r in mine}
    missing = [r for r in mine if done[r] is None]
    totals = group.sum(np.array([len(mine), len(mine) - len(missing), len(missing)], dtype=np.float64))
    n_shards, n_reused, n_missing = (int(round(x)) for x in totals)
    if w.rank == 0 and n_reused:
        say(f"reused {n_reused} of {n_shards} shards in {out}")
    if ds is None and n_missing:
        ds, n_data, offset = _load(args, w, loaders)
        if n_data != n or [str(x) for x in getattr(ds, "label_names", [])] != meta.get("label_names"):
            raise CLIError(f"{out}: its manifest was written for {n} pairs of other data than --data {args.data} "
                           "gives now; give --out a new folder")
    encoder = None
    if n_missing:
        need = lambda: load_encoder(args.model, ds, device)  # noqa: E731
        if w.rank == 0 and (missing or args.model == "mini-clip"):
            encoder = need()  # rank 0 first: mini-clip trains once and caches its weights for the others
        group.barrier()
        if w.rank != 0 and missing:
            encoder = need()
    records, stats, written, t_embed = [], [], 0, 0.0
    if missing:
        say(f"{tag}embedding {len(missing)} shard(s) between rows {missing[0][0]} and {missing[-1][1]}, with "
            f"{args.model} on {getattr(encoder, 'device', device)} (through the cache)")
    for a, b in mine:
        rec = done[(a, b)]
        if rec is None:
            t = time.perf_counter()  # the embedding phase: embed and write (not the statistics below)
            arrays = _shard_arrays(encoder, _part(ds, a - offset, b - offset, len(ds.texts)))
            rec = write_shard(out, a, arrays, meta)
            t_embed += time.perf_counter() - t
            written += 1
            _kill_hook(w, written)
        else:
            arrays = {c: np.load(out / rel, mmap_mode="r") for c, rel in rec["files"].items()}
        records.append(rec)
        stats.append(gap_stats(arrays["image"], arrays["text"]))
    rows_here = sum(b - a for a, b in missing)
    if missing:
        say(f"{tag}wrote {written} shard{'s' if written != 1 else ''} ({rows_here} rows) in {out} in {t_embed:.1f} s "
            f"({rows_here / max(t_embed, 1e-9):.0f} rows/s)")
    local = merge_stats(stats)
    total = group.all_reduce_stats(local)
    gathered = group.gather((records, rows_here, t_embed))
    sample = None
    if args.card:
        idx = subsample_index(n, args.max_pairs, args.seed)
        pick = np.arange(start, stop) if idx is None else idx[(idx >= start) & (idx < stop)]
        rows = {"image": [], "text": []}
        for rec in records:
            a, b = rec["start"], rec["stop"]
            sel = pick[(pick >= a) & (pick < b)] - a
            for col in rows:
                rows[col].append(np.asarray(np.load(out / rec["files"][col], mmap_mode="r")[sel]))
        sample = group.gather({c: np.concatenate(v) for c, v in rows.items()})
    if w.rank != 0:
        return 0
    all_records = [r for part, _, _ in gathered for r in part]
    rows_new = sum(rows for _, rows, _ in gathered)
    t_new = max(t for _, _, t in gathered)
    d = int(total.d)
    write_manifest(out, all_records, n, d, meta)
    wall = time.perf_counter() - t0
    pairs = total.metrics()
    say(f"centroid gap {pairs[('centroid_gap', 'image-text')]:.6f}, paired cosine "
        f"{pairs[('paired_cosine', 'image-text')]:.6f} of {total.n} pairs"
        + (f" (all_reduce of sufficient statistics over {w.size} ranks)" if w.distributed else ""))
    if sample is not None:
        img = np.concatenate([s["image"] for s in sample])
        txt = np.concatenate([s["text"] for s in sample])
        card = stats_report(total, img, txt, n_boot=args.boot, seed=args.seed,
                            where=(f"all_reduce over {w.size} ranks" if w.distributed else "one process"))
        card.to_json(args.card)
        say(f"wrote {args.card}")
    print(out / MANIFEST)
    if rows_new:
        say(f"embedded {rows_new} rows in {t_new:.1f} s on {w.size} process{'es' if w.size != 1 else ''}: "
            f"{rows_new / max(t_new, 1e-9):.0f} rows/s")
    say(f"done in {wall:.1f} s ({n} rows, {n_reused} of {n_shards} shards reused); next: gapkit report {out}")
    return 0
