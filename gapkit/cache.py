"""Content-hashed embedding cache (every chapter that embeds real data).

An embedding is stored under a key that hashes everything it depends on: the
model name and its weights fingerprint (:meth:`gapkit.encoders.Encoder.fingerprint`,
which covers preprocessing and tokenisation), the compute precision, the
dataset id and split, the text template and a fingerprint of the inputs
themselves (image bytes or texts). Change any of them and the key changes, so a
stale embedding is never returned.

Layout and safety
-----------------
One ``.npz`` file per key, ``<root>/<key[:2]>/<key>.npz``, holding the array
(``embeddings``, stored uncompressed) and a JSON metadata record (``meta``: shape,
dtype, sha256 of the array bytes, what produced it). It opens with ``np.load``.
Writes go to a temporary file in the same folder, are flushed and fsynced, and
are renamed over the final name with :func:`os.replace`, so readers never see a
partial file, even if the writer is killed. On read, a file that fails to load
(truncated, not a zip, bad metadata) or whose shape, dtype or sha256 disagrees
with its metadata is reported with a :class:`CacheCorruptionWarning` naming the
file and treated as a miss: the embedding is recomputed and the file replaced.

Faults never cost the work. When the cache cannot be written (a read-only folder,
a full disk, a cache path that is a file), :func:`cached_embed` returns the
embeddings it computed with a :class:`CacheUnavailableWarning` saying why they
were not cached. Temporary files have the writer's pid in their name; the first
use of an :class:`EmbeddingCache` (and every write) removes the ones whose
writer is gone, never one that a live writer holds (:func:`gapkit._io.sweep_stale_temps`).
Embeddings holding NaN or inf are never stored: :func:`cached_embed` raises,
naming the rows.

Location: ``EmbeddingCache(root)``, else ``$GAPKIT_CACHE/embeddings`` when the
``GAPKIT_CACHE`` environment variable is set, else
``platformdirs.user_cache_dir("gapkit")/embeddings``.

Speed: a hit reads the array straight from the file and checks its sha256; for
image inputs :func:`cached_embed` also fingerprints the inputs (sha256 of every
image's bytes, spread over threads). Pass ``content_fingerprint=`` (e.g. computed
once per dataset) to skip that step. ``benchmarks/bench_embed.py`` measures both.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ._io import CacheUnavailableWarning, CorruptFileWarning, atomic_open, cache_root, sweep_stale_temps
from ._validation import check_texts

__all__ = [
    "EmbeddingCache",
    "CacheCorruptionWarning",
    "CacheUnavailableWarning",
    "cache_key",
    "cached_embed",
    "cached_embed_dataset",
    "default_cache_dir",
    "fingerprint_images",
    "fingerprint_texts",
]

#: bump when the file layout or key recipe changes (old entries are then ignored)
CACHE_FORMAT = 1


class CacheCorruptionWarning(CorruptFileWarning):
    """A cache file could not be trusted (truncated, corrupted, inconsistent); it is recomputed."""


def default_cache_dir() -> Path:
    """``$GAPKIT_CACHE/embeddings`` if ``GAPKIT_CACHE`` is set, else ``user_cache_dir("gapkit")/embeddings``."""
    return cache_root("embeddings")


def _canonical(obj: Any, where: str = "part") -> Any:
    """JSON-ready, canonical form of a key part (tuples → lists, numpy scalars → Python, paths → str).

    ``where`` names the part in errors (``"weights[2]"``): a NaN or infinite number has no canonical
    JSON form (NaN ≠ NaN, so two equal calls could never agree on a key), so it raises naming the part.
    """
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v, f"{where}[{k!r}]")
                for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"cache key part {where} is {obj!r}, which has no canonical form (NaN != NaN); "
                         "pass a finite number, or None (or a string such as 'nan') for a missing value")
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cache key parts must be JSON-like (str, numbers, lists, dicts), got {type(obj).__name__}")


def cache_key(**parts: Any) -> str:
    """sha256 (64 hex characters) of the canonical JSON of ``parts``.

    Keys are sorted and ``None`` values kept, so ``cache_key(a=1, b=None)`` and
    ``cache_key(b=None, a=1)`` agree while ``cache_key(a=1)`` differs.

    Examples
    --------
    >>> cache_key(model="clip-vit-b32", weights="956a3a511322bc5e", split="test") == cache_key(
    ...     split="test", weights="956a3a511322bc5e", model="clip-vit-b32")
    True
    """
    text = json.dumps({k: _canonical(v, k) for k, v in parts.items()}, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# ----------------------------------------------------------------------------------------------
# content fingerprints


def fingerprint_texts(texts: Iterable[str]) -> str:
    """sha256 (32 hex characters) of a sequence of strings, order-sensitive and unambiguous.

    Each text is length-prefixed, so ``["ab", "c"]`` and ``["a", "bc"]`` differ.
    """
    if isinstance(texts, str):
        raise TypeError("fingerprint_texts expects a sequence of strings, not one string")
    h = hashlib.sha256(b"texts\0")
    n = 0
    for t in texts:
        b = str(t).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
        n += 1
    h.update(n.to_bytes(8, "little"))
    return h.hexdigest()[:32]


def _image_digest(item: Any) -> bytes:
    """sha256 digest of one image input (tagged by kind, so forms cannot collide)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(item, Image.Image):
        h = hashlib.sha256(f"pil|{item.mode}|{item.size}|".encode())
        h.update(item.tobytes())
    elif isinstance(item, np.ndarray):
        a = np.ascontiguousarray(item)
        h = hashlib.sha256(f"arr|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    elif isinstance(item, (bytes, bytearray, memoryview)):
        h = hashlib.sha256(f"bytes|{len(item)}|".encode())
        h.update(item)
    elif isinstance(item, (str, os.PathLike)):
        data = Path(item).read_bytes()  # content, not name: a renamed file keeps its key
        h = hashlib.sha256(f"bytes|{len(data)}|".encode())
        h.update(data)
    elif isinstance(item, Mapping) and ("bytes" in item or "path" in item):
        return _image_digest(item["bytes"] if item.get("bytes") is not None else item["path"])
    elif hasattr(item, "detach") and hasattr(item, "cpu"):
        return _image_digest(item.detach().cpu().numpy())
    else:
        raise TypeError(f"cannot fingerprint an image given as {type(item).__name__}")
    return h.digest()


def fingerprint_images(images: Any, *, threads: int | None = None) -> str:
    """sha256 (32 hex characters) of image inputs, in order.

    Accepts what :meth:`~gapkit.encoders.TorchEncoder.embed_images` accepts. PIL
    images hash their mode, size and decoded pixels; arrays and tensors their
    dtype, shape and bytes (a batch ``(n, H, W, 3)`` row by row); file paths and
    encoded bytes hash the encoded file content. Each image gets its own sha256
    and the fingerprint is the sha256 of those digests in order, so the work is
    spread over ``threads`` threads (hashlib releases the GIL; default: up to 8).
    The same picture given in two forms (decoded vs encoded) gets two
    fingerprints: a cache miss, never a wrong hit.
    """
    if hasattr(images, "detach") and hasattr(images, "cpu"):
        images = images.detach().cpu().numpy()
    if isinstance(images, (str, os.PathLike, bytes)):
        raise TypeError("fingerprint_images expects a batch of images; wrap a single image in a list")
    items = list(images) if isinstance(images, np.ndarray) or not hasattr(images, "__getitem__") else images
    n = len(items)
    workers = threads if threads is not None else min(8, os.cpu_count() or 1)
    if workers > 1 and n >= 64:
        from concurrent.futures import ThreadPoolExecutor

        # contiguous slices, one task each: per-item futures would cost more than the hashing
        bounds = np.linspace(0, n, min(n, workers * 4) + 1).astype(int)

        def digest_slice(lo: int, hi: int) -> list[bytes]:
            return [_image_digest(items[i]) for i in range(lo, hi)]

        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(digest_slice, bounds[:-1], bounds[1:])
            digests = [d for part in parts for d in part]
    else:
        digests = [_image_digest(items[i]) for i in range(n)]
    h = hashlib.sha256(b"images\0")
    for d in digests:
        h.update(d)
    h.update(len(digests).to_bytes(8, "little"))
    return h.hexdigest()[:32]


# ----------------------------------------------------------------------------------------------
# the cache


def _read_entry(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Read ``(array, meta)`` from a cache file.

    The array member is stored uncompressed, so it is read straight from the file
    into the array (one read, no intermediate copy); its integrity is then checked
    against the recorded sha256 by the caller. Anything unexpected raises.
    """
    import struct
    import zipfile

    with open(path, "rb") as f:
        with zipfile.ZipFile(f) as zf:
            meta = json.loads(str(np.load(io.BytesIO(zf.read("meta.npy")), allow_pickle=False)[()]))
            info = zf.getinfo("embeddings.npy")
        if info.compress_type != zipfile.ZIP_STORED:  # pragma: no cover - we never write these
            with zipfile.ZipFile(f) as zf, zf.open(info) as member:
                return np.lib.format.read_array(io.BytesIO(member.read()), allow_pickle=False), meta
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ValueError("bad zip local header")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        arr = np.lib.format.read_array(f, allow_pickle=False)
    return arr, meta


class EmbeddingCache:
    """A folder of content-addressed embedding arrays with atomic writes and checksummed reads.

    Parameters
    ----------
    root : str or Path, optional
        Folder; default :func:`default_cache_dir` (``GAPKIT_CACHE`` is read when
        the cache is created).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self._swept = False

    def sweep(self) -> list[Path]:
        """Remove temporary files left by killed writers anywhere in the cache (never a live writer's); see
        :func:`gapkit._io.sweep_stale_temps`. Runs on this cache's first use; returns the files removed."""
        self._swept = True
        removed = sweep_stale_temps(self.root)
        try:
            folders = [e.path for e in os.scandir(self.root) if len(e.name) == 2 and e.is_dir(follow_symlinks=False)]
        except OSError:
            return removed
        for folder in folders:
            removed += sweep_stale_temps(folder)
        return removed

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """File that holds ``key``."""
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache keys are lowercase hex strings (from cache_key()), got {key!r}")
        return self.root / key[:2] / f"{key}.npz"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def _warn(self, path: Path, why: str) -> None:
        warnings.warn(
            f"embedding cache file {path} is unusable ({why}); treating it as a miss and recomputing",
            CacheCorruptionWarning,
            stacklevel=3,
        )

    def load(self, key: str) -> tuple[np.ndarray, dict[str, Any]] | None:
        """``(array, meta)`` for ``key``, or ``None`` on a miss or an unusable file (with a warning)."""
        path = self.path(key)
        if not self._swept:
            self.sweep()
        try:
            arr, meta = _read_entry(path)
        except (FileNotFoundError, NotADirectoryError):  # a miss (or a cache path that is a file: put() says so)
            return None
        except IsADirectoryError:
            self._warn(path, "a directory stands where the entry's file should be; put() replaces it")
            return None
        except PermissionError as exc:
            warnings.warn(f"embedding cache file {path} cannot be read ({type(exc).__name__}: {exc}); treating it as "
                          "a miss", CacheUnavailableWarning, stacklevel=2)
            return None
        except Exception as exc:  # truncated file, not a zip, bad CRC, bad JSON, missing member...
            self._warn(path, f"cannot load: {type(exc).__name__}: {exc}")
            return None
        problems = []
        if meta.get("key") != key:
            problems.append("stored key differs")
        if list(arr.shape) != list(meta.get("shape", [])):
            problems.append(f"shape {arr.shape} != recorded {meta.get('shape')}")
        if arr.dtype.str != meta.get("dtype"):
            problems.append(f"dtype {arr.dtype.str} != recorded {meta.get('dtype')}")
        if not problems and hashlib.sha256(np.ascontiguousarray(arr).data).hexdigest() != meta.get("sha256"):
            problems.append("sha256 checksum mismatch")
        if problems:
            self._warn(path, "; ".join(problems))
            return None
        return arr, meta

    def get(self, key: str) -> np.ndarray | None:
        """The array stored under ``key``, or ``None`` (miss, or an unusable file: warned, then a miss)."""
        hit = self.load(key)
        return None if hit is None else hit[0]

    def meta(self, key: str) -> dict[str, Any] | None:
        """The metadata record stored with ``key`` (``None`` on a miss)."""
        hit = self.load(key)
        return None if hit is None else hit[1]

    def put(self, key: str, array: Any, meta: Mapping[str, Any] | None = None) -> Path:
        """Store ``array`` under ``key`` atomically; returns the file path.

        ``meta`` (JSON-like) is stored alongside, together with the shape, dtype and
        sha256 of the array bytes, the key and a timestamp. Raises ``OSError`` when the
        file cannot be written (:func:`cached_embed` turns that into a warning).
        """
        path = self.path(key)
        if not self._swept:
            self.sweep()
        self._writable(path)
        sweep_stale_temps(path.parent)  # every write cleans its folder of killed writers' temporaries
        arr = np.ascontiguousarray(np.asarray(array))
        if arr.dtype == object:
            raise TypeError("only numeric arrays can be cached")
        record = dict(_canonical(dict(meta or {})))
        record.update(
            key=key,
            shape=list(arr.shape),
            dtype=arr.dtype.str,
            sha256=hashlib.sha256(arr.data).hexdigest(),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            format=CACHE_FORMAT,
        )
        with atomic_open(path, "wb") as f:
            np.savez(f, embeddings=arr, meta=np.array(json.dumps(record, sort_keys=True)))
        return path

    def _writable(self, path: Path) -> None:
        """Make ``path`` writable as an entry: a clear error for a root that is a file; a directory squatting
        on the entry's name (never one of ours: entries are files) is removed so that the entry is repaired."""
        for folder in (self.root, path.parent):
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(
                    f"the embedding cache folder {folder} is a file, so nothing can be cached there; point "
                    "GAPKIT_CACHE (or EmbeddingCache(root)) at a folder, or move the file away")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)

    def delete(self, key: str) -> bool:
        """Remove ``key``'s file; True if there was one."""
        try:
            self.path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def keys(self) -> list[str]:
        """Every key stored (sorted)."""
        if not self.root.is_dir():
            return []
        self.sweep()  # listing the folder cleans it of killed writers' temporaries, every time
        return sorted(p.stem for p in self.root.glob("??/*.npz") if p.is_file())


# ----------------------------------------------------------------------------------------------
# look up, or compute and store


def cached_embed(
    encoder: Any,
    kind: str,
    inputs: Any,
    *,
    dataset_id: str | None = None,
    split: str | None = None,
    template: str | None = None,
    cache: EmbeddingCache | str | os.PathLike | bool | None = None,
    content_fingerprint: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    **embed_kwargs: Any,
) -> np.ndarray:
    """Embed ``inputs`` with ``encoder``, reusing a cached result when every ingredient matches.

    Parameters
    ----------
    encoder : gapkit.encoders.Encoder
        Provides ``name``, ``fingerprint()``, ``precision`` and ``embed_images`` / ``embed_texts``.
    kind : {"image", "text"}
    inputs : sequence
        Images (anything ``embed_images`` takes) or strings.
    dataset_id, split : str, optional
        Recorded in the key (e.g. ``"ham10000"``, ``"train"``).
    template : str, optional
        For texts: a format string with one ``{}`` applied to every text before
        embedding (``"a photo of a {}."``); part of the key. Build texts with named
        fields yourself and leave this ``None``.
    cache : EmbeddingCache, path, False or None
        ``None``: the default cache (:func:`default_cache_dir`); a path: a cache there;
        ``False``: no caching.
    content_fingerprint : str, optional
        A precomputed fingerprint of ``inputs`` (skips hashing them, e.g. for a
        dataset whose content id is known); by default :func:`fingerprint_images` /
        :func:`fingerprint_texts`.
    batch_size, progress, **embed_kwargs
        Passed to the embed method.

    Returns
    -------
    numpy.ndarray
        Raw float32 embeddings ``(n, dim)``.
    """
    if kind not in ("image", "text"):
        raise ValueError(f"kind must be 'image' or 'text', got {kind!r}")
    if kind == "text":
        if isinstance(inputs, str):
            raise TypeError("inputs must be a sequence of strings; wrap a single string in a list")
        inputs = check_texts(inputs, name="cached_embed: texts")
        if template is not None:
            if "{}" not in template:
                raise ValueError(f"template must contain one '{{}}' placeholder, got {template!r}")
            inputs = [template.format(t) for t in inputs]
    elif template is not None:
        raise ValueError("template applies to texts only")
    n = len(inputs)

    kw: dict[str, Any] = dict(embed_kwargs, progress=progress)
    if batch_size is not None:
        kw["batch_size"] = batch_size
    embed = encoder.embed_texts if kind == "text" else encoder.embed_images
    if cache is False:
        return _finite_embeddings(np.asarray(embed(inputs, **kw), dtype=np.float32), encoder, kind)
    store = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(None if cache in (None, True) else cache)

    if content_fingerprint is None:
        content_fingerprint = fingerprint_texts(inputs) if kind == "text" else fingerprint_images(inputs)
    parts = dict(
        format=CACHE_FORMAT,
        model=getattr(encoder, "name", type(encoder).__name__),
        weights=encoder.fingerprint(),
        precision=getattr(encoder, "precision", None),
        kind=kind,
        dataset=dataset_id,
        split=split,
        template=template,
        content=content_fingerprint,
        n=n,
    )
    key = cache_key(**parts)
    hit = store.get(key)
    if hit is not None and hit.ndim == 2 and hit.shape[0] == n:
        return hit
    out = _finite_embeddings(np.asarray(embed(inputs, **kw), dtype=np.float32), encoder, kind)
    describe = getattr(encoder, "describe", None)
    try:
        store.put(key, out, meta={**parts, "encoder": describe() if callable(describe) else None})
    except OSError as exc:  # read-only folder, full disk, a cache path that is a file: keep the work
        warnings.warn(
            f"{kind} embeddings not cached: could not write the embedding cache at {store.root} "
            f"({type(exc).__name__}: {exc}). They are returned but will be recomputed next time; point "
            "GAPKIT_CACHE (or cache=) at a writable folder with free space, or pass cache=False.",
            CacheUnavailableWarning, stacklevel=2)
    return out


def _finite_embeddings(out: np.ndarray, encoder: Any, kind: str) -> np.ndarray:
    """``out`` if every row is finite; else raise, naming the rows (NaN embeddings are never returned or cached)."""
    finite = np.isfinite(out).all(axis=1) if out.ndim == 2 else np.isfinite(out).all(axis=tuple(range(1, out.ndim)))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        rows = ", ".join(str(int(i)) for i in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(
            f"{getattr(encoder, 'name', type(encoder).__name__)} returned NaN or inf {kind} embeddings for "
            f"{len(bad)} input(s) (row(s) {rows}); nothing was cached. Check those inputs (NaN pixels, broken "
            "images) or the precision (fp16 can overflow: try precision='fp32'), then drop or fix those rows."
        )
    return out


def cached_embed_dataset(
    encoder: Any,
    dataset: Any,
    *,
    split: str | None = None,
    cache: EmbeddingCache | str | os.PathLike | bool | None = None,
    progress: bool = True,
    **image_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Embed a :class:`~gapkit.datasets.PairedDataset`'s images and texts, through the cache. Chapters 3 and 6.

    Same keys as :func:`cached_embed` (``dataset_id=dataset.name``), but the
    content fingerprints come from :meth:`~gapkit.datasets.PairedDataset.content_fingerprints`,
    computed once per dataset object: embedding one dataset with several encoders
    hashes its pixels once, and a repeated call is a checked file read.
    ``**image_kwargs`` (``batch_size``, ``num_workers``) go to ``embed_images``;
    texts use the encoder's defaults.

    Returns
    -------
    image_emb, text_emb : numpy.ndarray
        Raw float32 ``(n, dim)`` arrays, row ``i`` of each from pair ``i``.
    """
    if not hasattr(dataset, "content_fingerprints"):
        raise TypeError(
            f"cached_embed_dataset expects a gapkit.datasets.PairedDataset, got {type(dataset).__name__}; "
            "for loose arrays use cached_embed(encoder, 'image', images) and cached_embed(encoder, 'text', texts)."
        )
    image_fp, text_fp = dataset.content_fingerprints()
    kw = dict(dataset_id=dataset.name, split=split, cache=cache, progress=progress)
    image_emb = cached_embed(encoder, "image", dataset.images, content_fingerprint=image_fp, **kw, **image_kwargs)
    text_emb = cached_embed(encoder, "text", dataset.texts, content_fingerprint=text_fp, **kw)
    return image_emb, text_emb
