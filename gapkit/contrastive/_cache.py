"""The mini CLIP's cache folder and the hash its cache files are named by."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .._io import cache_root


# ---------------------------------------------------------------------------
# cache folder
# ---------------------------------------------------------------------------


def cache_dir(sub: str = "mini-clip") -> Path:
    """Folder for cached weights/features: ``$GAPKIT_CACHE/<sub>``, else the user cache (platformdirs)."""
    path = cache_root(sub)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # the root (GAPKIT_CACHE) or the folder itself is a file
        raise NotADirectoryError(
            f"mini-clip's cache folder {path} cannot be made: {_first_file(path)} is a file; point GAPKIT_CACHE "
            "at a folder, or move the file away (mini-clip itself trains without a cache, with a warning)") from None
    return path


def _first_file(path: Path) -> Path:
    """The first component of ``path`` that exists and is not a folder."""
    for p in reversed([path, *path.parents]):
        if p.exists() and not p.is_dir():
            return p
    return path


def _hash(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=10)
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()
