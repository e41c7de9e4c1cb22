"""The mini CLIP's constants (text backbone, feature width, cache version) and shared parameter constraints."""

from __future__ import annotations

from .._validation import Integral, Interval, Real

_POS_INT = [Interval(Integral, 1, None, closed="left")]
_POS_REAL = [Interval(Real, 0, None, closed="neither")]

#: The frozen text backbone (the packaged copy of sentence-transformers/all-MiniLM-L6-v2).
TEXT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"
_TEXT_DIM = 384
#: Bumped whenever the architecture or training loop changes, so stale cached weights are never reused.
_VERSION = "mini-clip-v2"  # v2: history["plane"], the tracked pairs in the gap plane per epoch
