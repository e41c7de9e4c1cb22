"""The book's figure style: one palette, one size, labelled axes.

Every chapter calls :func:`use_style` once; figures then share fonts, sizes
and the modality colours below (image = blue, text = orange everywhere in
the book).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._figure_audit import FigureAuditWarning, audit_figure, audit_tracked_figures

__all__ = ["use_style", "COLORS", "MODALITY_COLORS", "label", "lambda_palette", "new_figure", "band",
           "integer_ticks", "DASHES", "sphere_3d", "cone_3d", "audit_figure", "FigureAuditWarning", "MAX_WIDTH_IN", "MIN_FONT_PT"]

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

#: Line styles for curves that may lie on top of each other (one per λ, say): a dashed line on top
#: of another keeps the one below visible (the figure audit accepts it).
DASHES: tuple[str, ...] = ("-", "--", "-.", ":")

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


_HOOK = "gapkit._figure_audit:track_figure"


def use_style(*, audit: bool = True) -> None:
    """Apply the book's matplotlib style (call once per chapter).

    With ``audit`` (the default), every figure created afterwards through pyplot is checked by
    :func:`audit_figure` once the notebook cell that drew it has run: a hidden line, fractional
    ticks on an integer axis or overlapping bands without outlines print a
    :class:`FigureAuditWarning` in that cell's output, and the book build fails the chapter.
    Outside IPython nothing is audited automatically; call :func:`audit_figure` yourself.
    """
    import matplotlib as mpl
    from cycler import cycler

    rc = dict(_RC)
    rc["axes.prop_cycle"] = cycler(
        color=[COLORS[k] for k in ("blue", "orange", "green", "red", "purple", "sky", "black")]
    )
    hooks = [h for h in mpl.rcParams.get("figure.hooks", []) if h != _HOOK]
    rc["figure.hooks"] = hooks + [_HOOK] if audit else hooks
    mpl.rcParams.update(rc)
    _register_cell_audit(audit)


def _register_cell_audit(on: bool) -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every notebook kernel
        return
    ip = get_ipython()
    if ip is None:
        return
    registered = audit_tracked_figures in ip.events.callbacks.get("post_run_cell", [])
    if on and not registered:
        ip.events.register("post_run_cell", audit_tracked_figures)
    elif not on and registered:
        ip.events.unregister("post_run_cell", audit_tracked_figures)


def band(ax: Any, x: Any, low: Any, high: Any, *, color: str, alpha: float = 0.15, label: str | None = None) -> Any:
    """A translucent band from ``low`` to ``high`` with an outline in its own colour.

    Where two bands overlap their fills blend into a third colour; the thin outlines keep each
    band's edges legible. Use it for every min-max or ±std band (chapters 1, 2, 5, 6).

    Returns
    -------
    matplotlib.collections.PolyCollection
    """
    return ax.fill_between(x, low, high, facecolor=_with_alpha(color, alpha), edgecolor=color, linewidth=0.8,
                           linestyle=(0, (3, 2)), label=label)


def _with_alpha(color: str, alpha: float) -> tuple:
    import matplotlib.colors as mcolors

    if not 0 < alpha < 1:
        raise ValueError(f"band alpha must be in (0, 1), got {alpha}")
    r, g, b, _ = mcolors.to_rgba(color)
    return (r, g, b, alpha)


def integer_ticks(ax: Any, which: str = "x") -> Any:
    """Whole-number ticks only on the ``which`` axis ("x", "y" or "both"); returns ``ax``.

    For axes that count something (depth, seed, epoch, number of classes).
    """
    from matplotlib.ticker import MaxNLocator

    if which not in ("x", "y", "both"):
        raise ValueError(f"which must be 'x', 'y' or 'both', got {which!r}")
    for name in ("x", "y") if which == "both" else (which,):
        getattr(ax, f"{name}axis").set_major_locator(MaxNLocator(integer=True))
    return ax


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


def sphere_3d(ax: Any, *, color: str = "#bbbbbb") -> Any:
    """Draw the unit sphere as a light wireframe on a 3-D ``ax`` (equal aspect, no panes); returns ``ax``.

    Chapter 1's picture of two cones on the sphere.
    """
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 37), np.linspace(0, np.pi, 19))
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color=color, linewidth=0.4,
                      alpha=0.6)
    ax.set_box_aspect((1, 1, 1))
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.fill = False
        axis.pane.set_edgecolor("none")
    ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), xticks=[-1, 0, 1], yticks=[-1, 0, 1], zticks=[-1, 0, 1])
    return ax


def cone_3d(ax: Any, points: Any, cap: Any, *, color: str, label: str, n_edges: int = 16) -> Any:
    """Draw 3-D unit ``points`` and their cone: the cap's rim on the sphere and edges from the origin.

    Parameters
    ----------
    ax : 3-D matplotlib axes (``projection="3d"``), e.g. after :func:`sphere_3d`
    points : array, shape (n, 3)
        Rows are normalised before drawing.
    cap : gapkit.cone.ConeCap
        From :func:`gapkit.cone.cone_cap` of the same points.
    color, label : str
    n_edges : int
        Lines from the origin to the rim that outline the cone.

    Returns
    -------
    ax
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must have shape (n, 3), got {pts.shape}")
    pts = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    axis = np.asarray(cap.axis, dtype=float)
    helper = np.eye(3)[int(np.argmin(np.abs(axis)))]
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    r = np.radians(cap.radius_deg)
    phi = np.linspace(0, 2 * np.pi, 121)
    rim = np.cos(r) * axis + np.sin(r) * (np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2)
    ax.scatter(*pts.T, s=6, color=color, alpha=0.5, depthshade=False, label=label)
    ax.plot(*rim.T, color=color, linewidth=1.6)
    for k in np.linspace(0, len(phi) - 1, n_edges, endpoint=False).astype(int):
        ax.plot(*np.column_stack([np.zeros(3), rim[k]]), color=color, linewidth=0.6, alpha=0.7)
    ax.quiver(0, 0, 0, *axis, color=color, linewidth=2.0, arrow_length_ratio=0.12)
    return ax
