"""``gapkit report``: the gap card (:func:`gapkit.geometry.gap_report`) of two modalities, as a table, JSON and HTML."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..geometry import GapReport, gap_report, normalize_rows
from ._errors import CLIError
from ._inputs import Inputs, load_inputs, load_labels

#: rows per block of the per-label pass (about 32 MB of float64 at d = 512)
_GROUP_BLOCK = 8192


def say(msg: str) -> None:
    """Progress for people: stderr, so that stdout holds only the results."""
    print(f"gapkit: {msg}", file=sys.stderr, flush=True)


def label_groups(image: np.ndarray, text: np.ndarray, codes: np.ndarray, names: list[str]) -> tuple[dict, ...]:
    """Per label: pairs, centroid gap and mean paired cosine, in one blockwise pass (no copy of the inputs)."""
    k, d = len(names), image.shape[1]
    sums = np.zeros((2, k, d))
    cos = np.zeros(k)
    counts = np.bincount(codes, minlength=k)
    for start in range(0, image.shape[0], _GROUP_BLOCK):
        sl = slice(start, start + _GROUP_BLOCK)
        u, v, c = normalize_rows(np.asarray(image[sl], np.float64)), normalize_rows(np.asarray(text[sl], np.float64)), codes[sl]
        for j, arr in enumerate((u, v)):
            np.add.at(sums[j], c, arr)
        np.add.at(cos, c, np.einsum("ij,ij->i", u, v))
    out = []
    for i, name in enumerate(names):
        m = int(counts[i])
        out.append({"label": name, "n": m,
                    "centroid_gap": float(np.linalg.norm((sums[0, i] - sums[1, i]) / m)) if m else math.nan,
                    "paired_cosine": float(cos[i] / m) if m else math.nan})
    return tuple(out)


def _fmt(v: float) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.4e}"


def format_table(card: GapReport) -> str:
    """The card as a plain-text table (what ``gapkit report`` prints)."""
    label = card.inputs.get("label", "")
    head = (f"gap card{': ' + label if label else ''}  |  n = {card.n} pairs, d = {card.d}, "
            f"{card.n_boot} bootstrap replicates, {card.ci_level:.0%} intervals, seed {card.seed}")
    rows = [("metric", "modality", "value", "interval", "method")]
    for e in card.estimates:
        interval = "-" if not math.isfinite(e.ci_low) else f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]"
        rows.append((e.metric, e.modality, _fmt(e.value), interval, e.method))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head, ""] + ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    if card.params.get("subsample_pairs"):
        lines.append(f"\n{card.n} pairs: the single-pass metrics use every pair; intervals and "
                     f"{', '.join(card.params['subsampled_metrics'])} a seeded subsample of "
                     f"{card.params['subsample_pairs']} pairs (see each method).")
    if card.params.get("sufficient_statistics"):  # issue 27: a folder's card, merged from per-shard sums
        from ._reduce import stats_note

        lines.append(stats_note(card))
    if card.groups:
        lines += ["", "by label:", "  ".join(("label".ljust(20), "n".rjust(8), "centroid_gap".rjust(13),
                                              "paired_cosine".rjust(14)))]
        lines += ["  ".join((str(g["label"])[:20].ljust(20), str(g["n"]).rjust(8), _fmt(g["centroid_gap"]).rjust(13),
                             _fmt(g["paired_cosine"]).rjust(14))) for g in card.groups]
    return "\n".join(lines)


def _card(inputs: Inputs, args: argparse.Namespace) -> GapReport:
    try:
        return gap_report(inputs.image, inputs.text, n_boot=args.boot, seed=args.seed, max_pairs=args.max_pairs)
    except ValueError as exc:  # a bad row: the message starts with the modality ("image: 3 row(s) ...")
        msg = str(exc)
        for modality, source in zip(("image", "text"), inputs.sources):
            if msg.startswith(f"{modality}: "):
                raise CLIError(f"{source}: {msg[len(modality) + 2:]} Drop the same rows from both inputs, so that "
                               "the pairs stay matched.") from None
        raise CLIError(f"{inputs.sources[0]}, {inputs.sources[1]}: {msg}") from None


def _as_umask(path: str) -> None:
    """The permissions a plain ``open`` would give (atomic writes start from a private 0600 temporary)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def run(args: argparse.Namespace) -> int:
    """``gapkit report IMAGES [TEXTS]``; returns the exit status."""
    t0 = time.perf_counter()
    inputs = load_inputs(args.images, args.texts, hash_files=not args.no_hash)
    n, d = inputs.image.shape
    codes, names = None, inputs.label_names
    if args.labels:
        codes, names = load_labels(args.labels, n)
    elif inputs.labels is not None:
        codes = np.asarray(inputs.labels).astype(np.int64)
        names = names or [str(i) for i in range(int(codes.max()) + 1)]
    if n > args.max_pairs:  # a long run: say what it does (a small one is quick, and its errors stay one line)
        say(f"computing the gap card of {n} pairs, d = {d}: the single-pass metrics on every pair, intervals "
            f"and the rest on a seeded subsample of {args.max_pairs} pairs ({args.boot} bootstrap replicates)...")
    from ._reduce import folder_card

    card = folder_card(inputs, args) or _card(inputs, args)  # a folder: merged from its shards' statistics
    groups = label_groups(inputs.image, inputs.text, codes, names) if codes is not None else ()
    card = replace(card, inputs=inputs.provenance, groups=groups)
    print(format_table(card))
    if args.json:
        card.to_json(args.json)
        _as_umask(args.json)
        say(f"wrote {args.json}")
    if args.html:
        from ._html import write_html

        write_html(args.html, card, inputs, seed=args.seed)
        _as_umask(args.html)
        say(f"wrote {args.html}")
    say(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="the gap card of two modalities (table, JSON, HTML)",
        description="The gap card: every gap and cone metric of matched image/text embeddings, with bootstrap "
                    "intervals. Row i of IMAGES and row i of TEXTS are a pair.",
        epilog="examples:\n"
               "  gapkit report images.npy texts.npy --json card.json --html card.html\n"
               "  gapkit report pairs.npz                      # arrays named image and text\n"
               "  gapkit report liang2022/clip                 # published embeddings (Liang et al. 2022)\n"
               "  gapkit report emb/ --labels labels.txt       # a folder written by gapkit embed\n"
               "  gapkit report big_img.npy big_txt.npy   # 1,000,000 rows, memory-mapped, bounded memory",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", metavar="IMAGES", help="a .npy file, a .npz, a published name or a gapkit embed folder")
    p.add_argument("texts", metavar="TEXTS", nargs="?", help="a .npy file (only with an IMAGES .npy)")
    p.add_argument("--labels", metavar="FILE", help="one label per pair (.npy or one per line): per-label gaps")
    p.add_argument("--json", metavar="OUT", help="write the card as JSON (gapkit.GapReport)")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML page: table and two figures")
    p.add_argument("--boot", type=_non_negative, default=200, metavar="N", help="bootstrap replicates (default 200)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the bootstrap and subsamples (default 0)")
    p.add_argument("--max-pairs", type=_at_least_two, default=5000, metavar="M",
                   help="above M pairs, the single-pass metrics still use every pair but intervals, spectra, "
                        "uniformity and separability use a seeded subsample of M pairs (default 5000: the "
                        "spectral intervals cost O(M d^2) per replicate)")
    p.add_argument("--no-hash", action="store_true", help="do not record the inputs' SHA-256 (saves a pass)")
    p.set_defaults(run=run)


def _non_negative(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _at_least_two(text: str) -> int:
    v = int(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2, got {v}")
    return v
