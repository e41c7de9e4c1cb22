"""The embeddings folder that ``gapkit embed`` writes and ``gapkit report DIR`` reads.

Layout (format ``gapkit.embeddings``, version 1)::

    DIR/
      manifest.json                     written last, atomically: the folder is complete
      shards/
        0000000000-0000002000.image.npy rows [start, stop) of the first modality, float32 (rows, d)
        0000000000-0000002000.text.npy  the same rows of the text
        0000000000-0000002000.labels.npy   (optional) one label index per row
        0000000000-0000002000.json      the shard's record, written after its arrays: it marks the
                                        shard complete and holds its rows and SHA-256s

A shard is named by its row range, not by who wrote it, so any number of writers can each write
their own disjoint shards (a ``torchrun`` rank each, issue 27) and one of them, once all are done,
collects the shard records into the manifest (:func:`write_manifest`). A rerun keeps every shard whose
record matches the command (:func:`complete_shard`) and writes only the missing ones. The manifest
repeats each shard's record, so a reader needs nothing else; :func:`read_folder` checks that the
shards tile ``[0, n)``, that every file is there with its shape, and (by default) its SHA-256, and
names the first problem with the fix. Chapter-free: the command line's file format.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .._io import atomic_open, sweep_stale_temps
from ._errors import CLIError

FORMAT = "gapkit.embeddings"
VERSION = 1
MANIFEST = "manifest.json"
SHARDS = "shards"
#: the per-row files of a shard, in this order; "labels" is optional
COLUMNS = ("image", "text", "labels")
_HASH_CHUNK = 8 << 20


def sha256_file(path: str | os.PathLike[str], *, progress: bool = False) -> str:
    """SHA-256 of a file, read in 8 MB chunks (a progress bar on stderr for files over 256 MB)."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    bar = None
    if progress and size > (256 << 20):
        from tqdm.auto import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"hashing {path.name}", file=sys.stderr, leave=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return h.hexdigest()


def shard_stem(start: int, stop: int) -> str:
    """``"0000000000-0000002000"``: the row range, zero-padded so that names sort in row order."""
    return f"{start:010d}-{stop:010d}"


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def write_shard(folder: str | os.PathLike[str], start: int, arrays: Mapping[str, np.ndarray],
                meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write rows ``[start, start + len)`` of each column, then the shard's record (atomically, in that order).

    ``meta`` (model, data, seed, d...) is stored in the record; :func:`complete_shard` compares it.
    Returns the record.
    """
    folder = Path(folder)
    rows = {len(a) for a in arrays.values()}
    if len(rows) != 1:
        raise ValueError(f"every column of a shard needs the same number of rows, got {sorted(rows)}")
    stop = start + rows.pop()
    stem = shard_stem(start, stop)
    files, hashes = {}, {}
    for col in COLUMNS:
        if col not in arrays:
            continue
        rel = f"{SHARDS}/{stem}.{col}.npy"
        _save_npy(folder / rel, arrays[col])
        files[col], hashes[col] = rel, sha256_file(folder / rel)
    record = {"start": int(start), "stop": int(stop), "files": files, "sha256": hashes, "meta": dict(meta)}
    with atomic_open(folder / SHARDS / f"{stem}.json", "w") as fh:
        json.dump(record, fh, indent=1)
    return record


def complete_shard(folder: str | os.PathLike[str], start: int, stop: int,
                   meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record of shard ``[start, stop)`` if it is complete, was written for ``meta`` and its files hash right."""
    folder = Path(folder)
    path = folder / SHARDS / f"{shard_stem(start, stop)}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("meta") != dict(meta):
            return None
        if all(sha256_file(folder / rel) == record["sha256"][col] for col, rel in record["files"].items()):
            return record
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def write_manifest(folder: str | os.PathLike[str], records: Sequence[Mapping[str, Any]], n: int, d: int,
                   meta: Mapping[str, Any]) -> Path:
    """Collect the shard records (sorted by row) into ``manifest.json``, written atomically, last."""
    from .. import __version__

    folder = Path(folder)
    manifest = {"format": FORMAT, "version": VERSION, "gapkit_version": __version__, "n": int(n), "d": int(d),
                "dtype": "float32", "meta": dict(meta),
                "shards": sorted((dict(r) for r in records), key=lambda r: r["start"])}
    with atomic_open(folder / MANIFEST, "w") as fh:
        json.dump(manifest, fh, indent=1)
    sweep_stale_temps(folder / SHARDS)
    return folder / MANIFEST


def is_folder(path: str | os.PathLike[str]) -> bool:
    """True for a directory (complete or not) that ``gapkit report`` should read as an embeddings folder."""
    return Path(path).is_dir()


def read_folder(folder: str | os.PathLike[str], *, verify: bool = True,
                progress: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The columns of an embeddings folder and its manifest: one shard's memory map, or several read as one
    (:class:`~gapkit.cli._shardrows.ShardRows`: ``numpy.asarray`` joins them).

    Raises :class:`CLIError` naming the folder, the problem and the fix: no manifest (an unfinished
    or foreign folder), a manifest that is not one, shards that do not tile ``[0, n)``, a missing file,
    a file of the wrong shape, or (``verify``) a file whose SHA-256 is not the manifest's.
    """
    folder = Path(folder)
    where = str(folder)
    mpath = folder / MANIFEST
    if not os.access(folder, os.R_OK | os.X_OK):
        raise CLIError(f"{where}: the folder cannot be read (permission denied); make it readable (chmod u+rx) "
                       "or copy it somewhere you can read")
    if not mpath.is_file():
        hint = ("its shards are there but not the manifest: the gapkit embed that wrote it did not finish; "
                "rerun the same gapkit embed command to complete it"
                if (folder / SHARDS).is_dir() else
                "give a folder written by gapkit embed, or the .npy files of the two modalities")
        raise CLIError(f"{where}: not a gapkit embeddings folder (no {MANIFEST}); {hint}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT
    except (OSError, ValueError) as exc:
        raise CLIError(f"{mpath}: unreadable manifest ({type(exc).__name__}: {exc}); "
                       "rerun the gapkit embed command that wrote the folder") from None
    if not ok:
        raise CLIError(f"{mpath}: not a gapkit embeddings manifest (format {FORMAT!r} expected); "
                       "give a folder written by gapkit embed")
    if manifest.get("version", 0) > VERSION:
        raise CLIError(f"{mpath}: written by a newer gapkit (folder format version {manifest.get('version')}); "
                       "upgrade gapkit (pip install -U gapkit)")
    try:
        n, d, shards = int(manifest["n"]), int(manifest["d"]), list(manifest["shards"])
        edges = [(int(s["start"]), int(s["stop"])) for s in shards]
    except (KeyError, TypeError, ValueError) as exc:
        raise CLIError(f"{mpath}: the manifest lacks {exc}; rerun the gapkit embed command that wrote it") from None
    at = 0
    for start, stop in edges:
        if start != at or stop <= start:
            raise CLIError(f"{mpath}: the shards do not cover rows 0 to {n} in order (a gap or an overlap at row "
                           f"{at}); rerun the gapkit embed command that wrote the folder")
        at = stop
    if at != n:
        raise CLIError(f"{mpath}: the shards hold {at} rows but the manifest says {n}; rerun the gapkit embed "
                       "command that wrote the folder")
    columns = [c for c in COLUMNS if all(c in s.get("files", {}) for s in shards)]
    if "image" not in columns or "text" not in columns:
        raise CLIError(f"{mpath}: a shard lacks its image or text file; rerun the gapkit embed command")
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    for s, (start, stop) in zip(shards, edges):
        for col in columns:
            path = folder / s["files"][col]
            if not path.is_file():
                raise CLIError(f"{path}: missing (shard rows {start}-{stop} of {where}); rerun the gapkit embed "
                               "command that wrote the folder: it writes only the missing shards")
            if verify and sha256_file(path, progress=progress) != s.get("sha256", {}).get(col):
                raise CLIError(f"{path}: corrupted (its SHA-256 is not the manifest's); delete it and rerun the "
                               "gapkit embed command that wrote the folder")
            try:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise CLIError(f"{path}: unreadable .npy ({exc}); delete it and rerun gapkit embed") from None
            want = (stop - start,) if col == "labels" else (stop - start, d)
            if arr.shape != want:
                raise CLIError(f"{path}: shape {arr.shape}, but the manifest says {want}; delete it and rerun "
                               "gapkit embed")
            parts[col].append(arr)
    # one shard: the memory map itself; several: read as one array without joining them (issue 27)
    from ._shardrows import ShardRows

    arrays = {c: p[0] if len(p) == 1 else ShardRows(p) for c, p in parts.items()}
    return arrays, manifest
