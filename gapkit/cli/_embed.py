"""``gapkit embed``: run an encoder over a data set, through the content-hashed cache, into a folder.

Needs the models extra (``pip install 'gapkit[models]'``). The folder (:mod:`gapkit.cli._folder`) is
what ``gapkit report DIR`` reads. A rerun of the same command keeps the shards already written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

from ._errors import CLIError
from ._folder import MANIFEST, SHARDS, complete_shard, write_manifest, write_shard
from ._report import say


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


def _encoder(name: str, ds: Any, args: argparse.Namespace) -> Any:
    from ..encoders import EncoderUnavailableError, load_encoder

    kw: dict[str, Any] = {"dataset": ds, "seed": args.seed} if name == "mini-clip" else {}
    try:
        return load_encoder(name, device=args.device, **kw)
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
    say(f"loading {args.data}" + (f" ({args.n} pairs)" if args.n else ""))
    try:
        ds = DATA[args.data](args.n, args.seed)
    except (ValueError, OSError, ImportError) as exc:
        raise CLIError(f"--data {args.data}: {exc}") from None
    n = len(ds.texts)
    meta = {"model": args.model, "data": args.data, "n_requested": args.n, "seed": args.seed,
            "label_names": [str(x) for x in getattr(ds, "label_names", [])]}
    record = complete_shard(out, 0, n, meta)
    if record is not None:
        say(f"reused 1 of 1 shards in {out}")
    else:
        encoder = _encoder(args.model, ds, args)
        say(f"embedding {n} pairs with {args.model} on {getattr(encoder, 'device', '?')} (through the cache)")
        from ..cache import cached_embed_dataset

        image, text = cached_embed_dataset(encoder, ds, progress=True)
        arrays = {"image": image, "text": text}
        labels = getattr(ds, "labels", None)
        if labels is not None and getattr(labels, "ndim", 0) == 1 and len(labels) == n:
            arrays["labels"] = labels
        record = write_shard(out, 0, arrays, meta)
        say(f"wrote 1 shard ({n} rows) in {out}")
    d = _width(out, record)
    write_manifest(out, [record], n, d, meta)
    print(out / MANIFEST)
    say(f"done in {time.perf_counter() - t0:.1f} s; next: gapkit report {out}")
    return 0


def _width(out: Path, record: dict[str, Any]) -> int:
    import numpy as np

    return int(np.load(out / record["files"]["image"], mmap_mode="r").shape[1])


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
               f"data sets: {', '.join(DATA)}; models: see gapkit.available_encoders()",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="NAME", help="an encoder name (load_encoder), e.g. mini-clip")
    p.add_argument("--data", required=True, metavar="NAME", help=f"one of {', '.join(DATA)}")
    p.add_argument("--n", type=int, default=None, metavar="N", help="pairs to embed (default: the data set's own)")
    p.add_argument("--out", required=True, metavar="DIR", help="the output folder")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of generated data and mini-clip (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1 ...")
    p.set_defaults(run=run)
