"""``gapkit compare CARD.json ...``: gap cards side by side (several models, data sets or λ)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Sequence

from ..geometry import GapReport
from ._errors import CLIError


def read_card(path: str) -> GapReport:
    """A card written by ``gapkit report --json`` (or :meth:`GapReport.to_json`), or a one-line error."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{path}: no such card; give JSON files written by gapkit report --json")
    try:
        return GapReport.from_json(p)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CLIError(f"{path}: unreadable JSON ({exc}); write the card again with gapkit report --json") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CLIError(f"{path}: not a gap card ({exc}); give JSON files written by gapkit report --json") from None


def _names(paths: Sequence[str], cards: Sequence[GapReport]) -> list[str]:
    names = [c.inputs.get("label") or Path(p).stem for p, c in zip(paths, cards)]
    if len(set(names)) < len(names):  # two cards of the same input: the file names tell them apart
        names = [Path(p).stem for p in paths]
    return names


def compare_table(paths: Sequence[str], cards: Sequence[GapReport]) -> str:
    """Metrics as rows, one column per card: ``value [low, high]``."""
    names = _names(paths, cards)
    keys: list[tuple[str, str]] = []
    for c in cards:
        keys += [(e.metric, e.modality) for e in c.estimates if (e.metric, e.modality) not in keys]

    def cell(c: GapReport, key: tuple[str, str]) -> str:
        hit = [e for e in c.estimates if (e.metric, e.modality) == key]
        if not hit:
            return "-"
        e = hit[0]
        ci = "" if not math.isfinite(e.ci_low) else f" [{e.ci_low:.4g}, {e.ci_high:.4g}]"
        return f"{e.value:.4g}{ci}"

    rows: list[list[Any]] = [["metric", "modality", *names], ["n", "", *(str(c.n) for c in cards)],
                             ["d", "", *(str(c.d) for c in cards)]]
    rows += [[m, mod, *(cell(c, (m, mod)) for c in cards)] for m, mod in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows)


def run(args: argparse.Namespace) -> int:
    cards = [read_card(p) for p in args.cards]
    print(compare_table(args.cards, cards))
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare", help="gap cards side by side",
        description="Gap cards written by gapkit report --json, side by side: one column per card.",
        epilog="examples:\n"
               "  gapkit compare clip.json siglip.json\n"
               "  gapkit compare lam0.json lam0.5.json lam1.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cards", metavar="CARD.json", nargs="+", help="cards written by gapkit report --json")
    p.set_defaults(run=run)
