"""Declarative parameter constraints shared by the geometry metrics (checked by
:func:`gapkit._validation.validate_params`)."""

from __future__ import annotations

from .._validation import SEED, Integral, Interval, Real

_SEED = [None, SEED]
_FRACTION = [Interval(Real, 0, 1, closed="neither")]
_KERNEL_T = [Interval(Real, 0, None, closed="neither")]
_MAX_ROWS = [None, Interval(Integral, 2, None, closed="left")]
