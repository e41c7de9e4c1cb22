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
    path.mkdir(parents=True, exist_ok=True)
    return path


def _hash(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=10)
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()
