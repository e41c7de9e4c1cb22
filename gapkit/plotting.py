"""The book's figure style: one palette, one size, labelled axes.

Every chapter calls :func:`use_style` once; figures then share fonts, sizes
and the modality colours below (image = blue, text = orange everywhere in
the book).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["use_style", "COLORS", "MODALITY_COLORS", "label", "lambda_palette", "new_figure",
           "MAX_WIDTH_IN", "MIN_FONT_PT"]

#: The widest figure the book draws, in inches. The text column of a book page is about 680-790 px
#: wide; at the inline dpi (110) 8 inches are 880 px, so a figure is shrunk by at most a quarter.
MAX_WIDTH_IN = 8.0
#: The smallest font a figure may use: 8 pt stays above 8.5 screen pixels after that shrinking.
MIN_FONT_PT = 8

#: Colour-blind-safe palette (Okabe-Ito).
COLORS: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#7f7f7f",
}

#: The two modalities always get these colours.
MODALITY_COLORS: dict[str, str] = {"image": COLORS["blue"], "text": COLORS["orange"]}

_RC: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "font.size": 10,
    "axes.prop_cycle": None,  # filled in use_style
}


def use_style() -> None:
    """Apply the book's matplotlib style (call once per chapter)."""
    import matplotlib as mpl
    from cycler import cycler

    rc = dict(_RC)
    rc["axes.prop_cycle"] = cycler(
        color=[COLORS[k] for k in ("blue", "orange", "green", "red", "purple", "sky", "black")]
    )
    mpl.rcParams.update(rc)


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.0, **kw: Any):
    """``plt.subplots`` with the book's per-panel size and constrained layout.

    ``width`` and ``height`` are per panel. A row of panels wider than :data:`MAX_WIDTH_IN` is
    narrowed to fit (heights are kept), so that no figure is shrunk on the page until its text is
    unreadable; for many panels, use more rows.
    """
    import matplotlib.pyplot as plt

    if width <= 0 or height <= 0:
        raise ValueError(f"panel width and height must be positive, got {width} x {height}")
    total = min(width * ncols, MAX_WIDTH_IN)
    return plt.subplots(nrows, ncols, figsize=(total, height * nrows), layout="constrained", **kw)


def label(ax: Any, xlabel: str, ylabel: str, title: str | None = None) -> Any:
    """Label both axes (and optionally the title) of ``ax``; returns ``ax``.

    Every figure in the book labels its axes: this makes that one call.
    """
    if not xlabel or not ylabel:
        raise ValueError("both axes need a label: say what the reader is looking at.")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def lambda_palette(lams: Sequence[float]) -> list:
    """Colours for a sequence of λ values (sequential colormap, λ=0 darkest)."""
    import matplotlib as mpl

    lams = np.asarray(list(lams), dtype=float)
    lo, hi = float(lams.min()), float(lams.max())
    span = hi - lo if hi > lo else 1.0
    cmap = mpl.colormaps["viridis"]
    return [cmap(0.1 + 0.8 * (lam - lo) / span) for lam in lams]
