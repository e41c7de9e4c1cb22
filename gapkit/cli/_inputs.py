"""What ``gapkit report`` reads: two ``.npy`` files, one ``.npz``, a published name or an embeddings folder.

Every input becomes an :class:`Inputs`: the two modalities (``.npy`` files memory-mapped, never
copied), their provenance for the card (path or name, SHA-256, shape, dtype) and optional labels.
Every problem is a :class:`~gapkit.cli._errors.CLIError` naming the file and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _folder
from ._errors import CLIError

_FORMS = ("two .npy files (row i of each is a pair), one .npz holding arrays named image and text, "
          "a folder written by gapkit embed, or a published name such as liang2022/clip")


@dataclass
class Inputs:
    """Two matched modalities and where they came from."""

    image: np.ndarray
    text: np.ndarray
    modalities: tuple[str, str]
    sources: tuple[str, str]  # how error messages name each modality's file
    provenance: dict[str, Any]
    labels: np.ndarray | None = None
    label_names: list[str] | None = field(default=None)


def _published_names() -> list[str]:
    from .._published import PUBLISHED_EMBEDDINGS

    return list(PUBLISHED_EMBEDDINGS)


def _missing(arg: str) -> CLIError:
    return CLIError(f"{arg}: no such file or folder, and not a published name; give {_FORMS} "
                    f"(published: {', '.join(_published_names())})")


def _file_record(path: Path, arr: np.ndarray | None, hash_files: bool, progress: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": path.suffix.lstrip(".") or "file", "path": str(path.resolve()),
                           "sha256": _folder.sha256_file(path, progress=progress) if hash_files else None}
    if arr is not None:
        rec.update(shape=list(arr.shape), dtype=str(arr.dtype))
    return rec


def _check_matrix(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise CLIError(f"{where}: holds {arr.dtype} values; save the embeddings as a float32 or float64 array")
    if arr.ndim != 2:
        fix = ("for one embedding save x[None, :]; for a batch stack the vectors as rows"
               if arr.ndim == 1 else "reshape it to (n, d)")
        raise CLIError(f"{where}: holds a {arr.ndim}-D array of shape {arr.shape}; expected (n, d) with one "
                       f"embedding per row: {fix}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise CLIError(f"{where}: shape {arr.shape}; the gap card needs at least 2 pairs of at least 1 dimension")
    return arr


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise CLIError(f"{path}: not a readable .npy file ({exc}); save the embeddings with "
                       "numpy.save(path, array)") from None
    if not isinstance(arr, np.ndarray):
        raise CLIError(f"{path}: not a .npy array; save the embeddings with numpy.save(path, array)")
    return _check_matrix(arr, str(path))


def _check_pair(img: np.ndarray, txt: np.ndarray, a: str, b: str) -> None:
    if img.shape[0] != txt.shape[0]:
        raise CLIError(f"{a} has {img.shape[0]} rows but {b} has {txt.shape[0]}; row i of each must be a matched "
                       "pair: save the same pairs, in the same order, in both")
    if img.shape[1] != txt.shape[1]:
        raise CLIError(f"{a} has {img.shape[1]} dimensions but {b} has {txt.shape[1]}; both must be the model's "
                       "joint (projected) embeddings, not the towers' hidden states")


def _npz(path: Path, hash_files: bool, progress: bool) -> Inputs:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise CLIError(f"{path}: not a readable .npz file ({exc}); save it with "
                       "numpy.savez(path, image=..., text=...)") from None
    first = next((k for k in ("image", "images", "video", "protein") if k in arrays), None)
    second = next((k for k in ("text", "texts") if k in arrays), None)
    if first is None or second is None:
        raise CLIError(f"{path}: holds arrays {sorted(arrays)}; name the two modalities image and text: "
                       "numpy.savez(path, image=..., text=...)")
    img = _check_matrix(arrays[first], f"{path}[{first}]")
    txt = _check_matrix(arrays[second], f"{path}[{second}]")
    _check_pair(img, txt, f"{path}[{first}]", f"{path}[{second}]")
    labels = arrays.get("labels")
    prov = {"label": path.stem, "modalities": [first.rstrip("s"), "text"],
            "sources": [dict(_file_record(path, None, hash_files, progress), arrays=[first, second])]}
    return Inputs(img, txt, (first.rstrip("s"), "text"), (f"{path}[{first}]", f"{path}[{second}]"), prov,
                  None if labels is None else np.asarray(labels))


def _published(name: str) -> Inputs:
    from .._published import PublishedDataError, PublishedDataUnavailableError, load_published_embeddings

    try:
        emb = load_published_embeddings(name)
    except (PublishedDataError, PublishedDataUnavailableError, OSError) as exc:
        raise CLIError(f"{name}: {exc}") from None
    spec = emb.spec
    prov = {"label": name, "modalities": list(spec.modalities),
            "sources": [{"kind": "published", "name": name, "sha256": spec.sha256, "file": spec.file,
                         "model": spec.model, "data": spec.data}]}
    first, text = emb.pair
    return Inputs(first, text, tuple(spec.modalities), (f"{name} ({spec.modalities[0]})", f"{name} (text)"), prov)


def _from_folder(path: Path, progress: bool) -> Inputs:
    arrays, manifest = _folder.read_folder(path, progress=progress)
    meta = manifest.get("meta", {})
    label = str(meta.get("model", path.name)) + (f" on {meta['data']}" if meta.get("data") else "")
    prov = {"label": label, "modalities": ["image", "text"],
            "sources": [{"kind": "embeddings folder", "path": str(path.resolve()),
                         "manifest_sha256": _folder.sha256_file(path / _folder.MANIFEST),
                         "shards": len(manifest["shards"]), "meta": meta}]}
    names = meta.get("label_names")
    return Inputs(arrays["image"], arrays["text"], ("image", "text"),
                  (f"{path} (image)", f"{path} (text)"), prov, arrays.get("labels"),
                  list(names) if names else None)


def load_inputs(first: str, second: str | None, *, hash_files: bool = True, progress: bool = True) -> Inputs:
    """Resolve ``gapkit report``'s positional arguments (see the module docstring)."""
    p = Path(first)
    if second is None:
        if p.is_dir():
            return _from_folder(p, progress)
        if p.is_file() and p.suffix == ".npz":
            return _npz(p, hash_files, progress)
        if p.is_file():
            raise CLIError(f"{first}: one file holds one modality; give the text embeddings too "
                           f"(gapkit report IMAGES.npy TEXTS.npy), or {_FORMS}")
        if first in _published_names():
            return _published(first)
        raise _missing(first)
    q = Path(second)
    for arg, path, which in ((first, p, "image"), (second, q, "text")):
        if not path.exists():
            raise CLIError(f"{arg}: no such file; give the {which} embeddings as a .npy file (row i of IMAGES "
                           "and TEXTS is a pair)")
        if path.is_dir() or path.suffix == ".npz":
            raise CLIError(f"{arg}: a folder or .npz holds both modalities by itself; give it alone "
                           "(gapkit report DIR), or two .npy files")
        if not os.access(path, os.R_OK):
            raise CLIError(f"{arg}: cannot be read (permission denied); make it readable or copy it")
    img, txt = _load_npy(p), _load_npy(q)
    _check_pair(img, txt, first, second)
    prov = {"label": p.stem, "modalities": ["image", "text"],
            "sources": [_file_record(p, img, hash_files, progress), _file_record(q, txt, hash_files, progress)]}
    return Inputs(img, txt, ("image", "text"), (first, second), prov)


def load_labels(path: str, n: int) -> tuple[np.ndarray, list[str]]:
    """``--labels FILE``: a ``.npy`` of n labels, or a text file with one label per line; codes and names."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{path}: no such labels file; give a .npy array or a text file with one label per pair")
    try:
        if p.suffix == ".npy":
            raw = np.load(p, allow_pickle=False)
        else:
            raw = np.array(p.read_text(encoding="utf-8").splitlines())
            raw = raw[: len(raw) - (len(raw) > n and raw[-1] == "")]  # a final newline is not a label
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path}: unreadable labels ({exc}); save them with numpy.save or one per line") from None
    if raw.ndim != 1 or len(raw) != n:
        raise CLIError(f"{path}: {raw.shape[0] if raw.ndim else 0} labels of shape {raw.shape} for {n} pairs; "
                       "give one label per pair, in the pairs' order")
    names, codes = np.unique(raw.astype(str), return_inverse=True)
    return codes, [str(x) for x in names]
