"""``gapkit embed``: run an encoder over a data set, through the content-hashed cache, into a folder.

Needs the models extra (``pip install 'gapkit[models]'``). The folder (:mod:`gapkit.cli._folder`) is
what ``gapkit report DIR`` reads. A rerun of the same command keeps the shards already written.
Under ``torchrun`` every rank embeds its own shards (:mod:`gapkit.cli._sharded`, issue 27).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

from ._errors import CLIError
from ._folder import MANIFEST, SHARDS
from ._report import _at_least_two, _non_negative


def _shapes(n: int | None, seed: int) -> Any:
    from ..datasets import make_shapes

    return make_shapes(n=n or 2000, seed=seed, n_described=3)  # mini-clip's default data (chapter 2)


def _digits(n: int | None, seed: int) -> Any:
    from ..datasets import load_digits_captions

    ds = load_digits_captions(seed=seed)
    return ds if n is None else _head(ds, n)


def _multimodal(n: int | None, seed: int) -> Any:
    from ..datasets import make_multimodal_task

    return make_multimodal_task(n=n or 3000, seed=seed)


def _captions(source: str) -> Callable[[int | None, int], Any]:
    def load(n: int | None, seed: int) -> Any:
        from ..datasets import load_captions

        return load_captions(source, max_samples=n or 5000)

    return load


def _ham(n: int | None, seed: int) -> Any:
    from ..datasets import load_ham10000

    return load_ham10000(max_samples=n)


def _head(ds: Any, n: int) -> Any:
    if n >= len(ds.texts):
        return ds
    if hasattr(ds, "take"):
        return ds.take(range(n))
    raise CLIError(f"--n {n}: this data set has {len(ds.texts)} pairs and cannot be cut; leave --n out")


#: ``--data`` names: offline generators, then Hugging Face data (Colab / online)
DATA: dict[str, Callable[[int | None, int], Any]] = {
    "shapes": _shapes, "digits": _digits, "multimodal-task": _multimodal,
    "coco": _captions("coco"), "flickr30k": _captions("flickr30k"), "ham10000": _ham,
}


def _encoder(name: str, ds: Any, args: argparse.Namespace, device: str | None = None) -> Any:
    from ..encoders import EncoderUnavailableError, load_encoder

    kw: dict[str, Any] = {"dataset": ds, "seed": args.seed} if name == "mini-clip" else {}
    if name == "mini-clip" and args.epochs is not None:
        kw["epochs"] = args.epochs
    try:
        return load_encoder(name, device=device or args.device, **kw)
    except (ValueError, EncoderUnavailableError, OSError) as exc:
        raise CLIError(f"--model {name}: {exc}") from None


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out}: exists and is not a folder; give --out a new or a gapkit embed folder")
    if out.is_dir() and any(out.iterdir()) and not ((out / MANIFEST).is_file() or (out / SHARDS).is_dir()):
        raise CLIError(f"{out}: a folder with other files in it; give --out a new folder (gapkit embed writes "
                       f"{MANIFEST} and {SHARDS}/ there)")


def run(args: argparse.Namespace) -> int:
    """``gapkit embed --model NAME --data NAME [--n N] --out DIR``; returns the exit status."""
    from .._extras import MissingExtraError, require_models

    t0 = time.perf_counter()
    try:
        require_models("gapkit embed")
    except MissingExtraError as exc:
        raise CLIError(str(exc)) from None
    if args.data not in DATA:
        raise CLIError(f"--data {args.data}: unknown data set; choose one of {', '.join(DATA)}")
    out = Path(args.out)
    _check_out(out)
    meta = {"model": args.model, "data": args.data, "n_requested": args.n, "seed": args.seed}
    if args.epochs is not None:
        meta["epochs"] = args.epochs
    from ._sharded import run_embed

    return run_embed(args, out, meta, DATA, lambda name, ds, device: _encoder(name, ds, args, device), t0)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "embed", help="embed a data set with a model into a folder gapkit report reads (needs gapkit[models])",
        description="Run an encoder over a data set through gapkit's content-hashed cache and write the "
                    "embeddings to DIR (shards and a manifest with their rows and SHA-256s). Needs the models "
                    "extra: pip install 'gapkit[models]'.",
        epilog="examples:\n"
               "  gapkit embed --model mini-clip --data shapes --n 2000 --out emb   # offline, seconds\n"
               "  gapkit embed --model clip-vit-b32 --data coco --n 5000 --out coco # Colab or online\n"
               "  gapkit report emb --html emb.html\n"
               "  torchrun --standalone --nproc_per_node=2 -m gapkit embed --model mini-clip --data shapes -n 2000 \\\n"
               "           --out emb2\n"
               "      # one shard block per process (GPU LOCAL_RANK, or CPU with gloo); rerun to resume\n"
               f"data sets: {', '.join(DATA)}; models: see gapkit.available_encoders()",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="NAME", help="an encoder name (load_encoder), e.g. mini-clip")
    p.add_argument("--data", required=True, metavar="NAME", help=f"one of {', '.join(DATA)}")
    p.add_argument("-n", "--n", type=int, default=None, metavar="N",
                   help="pairs to embed (default: the data set's own); under torchrun write -n N "
                        "(torchrun reads --n as an abbreviation of its own options)")
    p.add_argument("--out", required=True, metavar="DIR", help="the output folder")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of generated data and mini-clip (default 0)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA if present: cuda:LOCAL_RANK under torchrun), cpu, cuda, cuda:1 ...")
    p.add_argument("--epochs", type=_non_negative, default=None, metavar="E",
                   help="mini-clip's training epochs (default: mini-clip's own, 20)")
    p.add_argument("--shard-rows", type=_positive, default=None, metavar="R",
                   help="rows per shard file (default 16384): a killed run loses at most one shard per process")
    p.add_argument("--card", metavar="OUT", default=None,
                   help="also write the gap card (JSON) from statistics all-reduced over the processes and a "
                        "seeded subsample of --max-pairs pairs gathered on rank 0")
    p.add_argument("--boot", type=_non_negative, default=200, metavar="N", help="bootstrap replicates of --card")
    p.add_argument("--max-pairs", type=_at_least_two, default=5000, metavar="M",
                   help="--card: the subsample for intervals and the metrics that are not sums (default 5000)")
    p.set_defaults(run=run)


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v

