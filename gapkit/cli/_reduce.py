"""``gapkit report DIR``: the card of an embeddings folder, merged from its shards' sufficient statistics (issue 27).

Each shard's rows are reduced to :class:`gapkit.sufficient.GapStats` on their own and the statistics
are added up, with no process group: the folder a ``torchrun`` run wrote is measured the way it was
written. The metrics that are not sums, and every interval, come from the seeded subsample of
``--max-pairs`` pairs that ``gap_report(max_pairs=...)`` would draw (:func:`gapkit.sufficient.stats_report`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import CLIError
from ._inputs import Inputs


def _shard_edges(inputs: Inputs) -> list[tuple[int, int, str]] | None:
    """``(start, stop, image file)`` of each shard when the input is an embeddings folder, else ``None``."""
    sources = inputs.provenance.get("sources") or [{}]
    if sources[0].get("kind") != "embeddings folder":
        return None
    folder = Path(sources[0]["path"])
    from ._folder import MANIFEST

    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return [(int(s["start"]), int(s["stop"]), str(folder / s["files"]["image"])) for s in manifest["shards"]]


def folder_card(inputs: Inputs, args: argparse.Namespace) -> Any:
    """The card of an embeddings folder merged from per-shard statistics, or ``None`` for other inputs."""
    edges = _shard_edges(inputs)
    if edges is None:
        return None
    from ..sufficient import gap_stats, merge_stats, stats_report, subsample_index

    parts = []
    for start, stop, where in edges:
        try:
            parts.append(gap_stats(inputs.image[start:stop], inputs.text[start:stop]))
        except ValueError as exc:  # a bad row: name the shard and the row in the whole folder
            raise CLIError(f"{where} (rows {start}-{stop}): {exc} Rerun the gapkit embed command that wrote the "
                           "folder after fixing the encoder's input.") from None
    stats = merge_stats(parts)
    n = stats.n
    idx = subsample_index(n, args.max_pairs, args.seed)
    img = inputs.image if idx is None else np.asarray(inputs.image[idx])
    txt = inputs.text if idx is None else np.asarray(inputs.text[idx])
    try:
        return stats_report(stats, img, txt, n_boot=args.boot, seed=args.seed,
                            where=f"merged from {len(edges)} shard{'s' if len(edges) != 1 else ''}")
    except ValueError as exc:
        raise CLIError(f"{inputs.sources[0]}: {exc}") from None


def stats_note(card: Any) -> str:
    """The lines under the table that say which metrics were merged from sums and which were not (and what instead)."""
    ss, nr = card.params["sufficient_statistics"], card.params.get("not_reducible", {})
    m = card.params.get("subsample_pairs") or card.n
    head = (f"\n{', '.join(ss['metrics'])}: on all {ss['pairs']} pairs, from sufficient statistics ({ss['how']}).")
    why = ", ".join(f"{k} ({v.split(':')[0]})" for k, v in nr.items())
    rest = (f"Not sums, so from {'all' if m == card.n else 'a seeded subsample of'} {m} pairs gathered on one "
            f"process: {why}.")
    return head + "\n" + rest
