"""The ``gapkit`` command line (also ``python -m gapkit``): the gap card for anyone's embeddings.

::

    gapkit report IMAGES TEXTS [--labels FILE] [--json OUT] [--html OUT] [--boot N] [--seed S]
    gapkit compare CARD.json CARD.json ...
    gapkit embed --model NAME --data NAME [--n N] --out DIR      (needs gapkit[models])
    torchrun --nproc_per_node=P -m gapkit embed ... -n N --out DIR   (each rank its own shards)

Results go to stdout, progress to stderr. Bad input (a missing file, mismatched rows, a 1-D array,
NaN rows, an unknown published name, an unreadable folder...) is one line on stderr naming the file
and the fix, with exit status 2 and no traceback.

One private module per idea:

- ``_errors``   CLIError, the one-line error
- ``_folder``   the embeddings folder (shards + manifest) that ``embed`` writes and ``report`` reads
- ``_inputs``   what ``report`` reads: .npy pairs (memory-mapped), .npz, published names, folders; labels
- ``_report``   ``report``: the card, its table, per-label gaps
- ``_html``     ``report --html``: one self-contained page
- ``_compare``  ``compare``
- ``_embed``    ``embed``
- ``_sharded``  ``embed``'s body: each rank's shards, the reuse, the manifest, the all-reduced statistics
- ``_distributed`` torchrun's world (RANK, WORLD_SIZE, LOCAL_RANK), row ranges, the process group
- ``_reduce``   ``report DIR``: the card merged from the shards' sufficient statistics
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ._errors import CLIError

__all__ = ["main", "build_parser", "CLIError"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gapkit`` and its three commands."""
    from .. import __version__
    from . import _compare, _embed, _report

    parser = argparse.ArgumentParser(
        prog="gapkit",
        description="Measure the modality gap of paired image/text embeddings: the gap card of the gapbook.",
        epilog="examples:\n"
               "  gapkit report images.npy texts.npy --json card.json --html card.html\n"
               "  gapkit report liang2022/clip\n"
               "  gapkit compare clip.json siglip.json\n"
               "  gapkit embed --model mini-clip --data shapes --n 2000 --out emb && gapkit report emb\n"
               "run 'gapkit COMMAND --help' for each command's options",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gapkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _report.add_parser(sub)
    _compare.add_parser(sub)
    _embed.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 done, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CLIError as exc:
        print(f"gapkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gapkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gapkit report ... | head`: the reader left; not an error of ours
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
