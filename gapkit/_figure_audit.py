"""Checks a drawn figure for three faults a reader cannot see through (issue 15, "Figures").

- a **hidden line**: a line drawn on top of another over most of its length (at least
  :data:`HIDDEN_SHARE` of its points within :data:`HIDDEN_LINE_TOL` of the panel's range), so a
  legend entry has little or no visible line (unlabelled lines, such as connectors, are not
  checked), unless the top line is dashed or thinner or the two
  carry different markers;
- **fractional ticks on an integer axis**: an axis whose data are all whole numbers (depths, seeds,
  epochs, counts) labelled 2.5, 7.5, ...;
- **overlapping translucent bands without outlines**: two ``fill_between`` bands of different
  colours that overlap blend into a third colour (often grey) where they meet, and the reader can no
  longer tell which band is which. A band with an outline (:func:`gapkit.plotting.band`) keeps its
  edges legible.

:func:`audit_figure` returns the faults as sentences; :func:`audit_plotly_spec` does the same for the
explorable figures' plotly specifications (an axis without a title, a trace hidden under another in
every frame), and :meth:`gapkit.explorable.Explorable.show` refuses a figure with a fault. :func:`gapkit.plotting.use_style` tracks every
figure a chapter creates and audits it after its cell has run (a :class:`FigureAuditWarning` in the
cell's output); the book build fails a chapter whose output holds one, naming the cell.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Mapping

import numpy as np

__all__ = ["FigureAuditWarning", "audit_figure", "audit_plotly_spec", "track_figure", "audit_tracked_figures",
           "describe_figure", "FIGURE_MARKER"]

#: In a book build, each figure's description is printed after its cell with this prefix; ``book.py``
#: turns the line into the figure's caption and alt text and removes it from the page.
FIGURE_MARKER = "[gapbook-figure] "

#: two points closer than this fraction of the panel's y range are drawn on top of each other ...
HIDDEN_LINE_TOL = 1e-2
#: ... and a line with at least this share of its points under another's is hidden
HIDDEN_SHARE = 0.7
#: overlapping bands matter once they share this fraction of the smaller band's area
BAND_OVERLAP_MIN = 0.02
_GRID = 160  # sample points per side of the axes box for the band-overlap estimate


class FigureAuditWarning(UserWarning):
    """A figure has a fault the reader cannot see through (see :mod:`gapkit._figure_audit`)."""


def _name(ax: Any, i: int) -> str:
    title = ax.get_title() or ax.get_ylabel() or f"panel {i + 1}"
    return f"panel {i + 1} ({title!r})" if title != f"panel {i + 1}" else title


def _line_label(line: Any, k: int) -> str:
    lab = line.get_label()
    return repr(lab) if lab and not lab.startswith("_") else f"line {k + 1}"


def _data_lines(ax: Any) -> list:
    """Visible lines in data coordinates (``axhline``/``axvline`` use blended transforms: skipped)."""
    return [ln for ln in ax.get_lines()
            if ln.get_visible() and ln.get_transform() == ax.transData and len(np.atleast_1d(ln.get_xdata())) >= 2]


def _hidden_lines(ax: Any) -> list[str]:
    lines = _data_lines(ax)
    if len(lines) < 2:
        return []
    y0, y1 = ax.get_ylim()
    x0, x1 = ax.get_xlim()
    tol_y, tol_x = HIDDEN_LINE_TOL * abs(y1 - y0), HIDDEN_LINE_TOL * abs(x1 - x0)
    found = []
    for j, top in enumerate(lines):  # later lines are drawn on top (equal zorder)
        xt, yt = (np.asarray(top.get_xdata(), float), np.asarray(top.get_ydata(), float))
        for i, under in enumerate(lines[:j]):
            if under.get_zorder() > top.get_zorder() or under.get_label().startswith("_"):
                continue  # only a line the legend names can go missing (connectors, guides are unlabelled)
            xu, yu = (np.asarray(under.get_xdata(), float), np.asarray(under.get_ydata(), float))
            if xu.shape != xt.shape or yu.shape != yt.shape:
                continue
            ok = np.isfinite(yu) & np.isfinite(yt)
            if not ok.any():
                continue
            if not np.all(np.abs(xu - xt) <= tol_x):
                continue
            under_top = int(np.sum(np.abs(yu[ok] - yt[ok]) <= tol_y))
            if under_top < HIDDEN_SHARE * len(yu):
                continue
            # still visible: the top line is dashed or thinner (the one below shows through), or the
            # two carry different markers
            see_through = top.get_linestyle() not in ("-", "solid") or top.get_linewidth() < 0.75 * under.get_linewidth()
            marks = (under.get_marker() not in (None, "None", "", " ")
                     and under.get_marker() != top.get_marker())
            if not (see_through or marks):
                found.append(f"{_line_label(under, i)} is hidden under {_line_label(top, j)} at {under_top} of "
                             f"{len(yu)} points: give the lines different dash patterns or markers, or say in "
                             "the text that they coincide and draw one")
    return found


def _axis_data(ax: Any, which: str) -> np.ndarray:
    k = 0 if which == "x" else 1
    parts = [np.asarray(ln.get_xdata() if k == 0 else ln.get_ydata(), float).ravel() for ln in _data_lines(ax)]
    for coll in ax.collections:  # scatter points
        off = np.asarray(coll.get_offsets(), float)
        if off.ndim == 2 and off.shape[0] > 1 and coll.get_offset_transform() == ax.transData:
            parts.append(off[:, k])
    return np.concatenate(parts) if parts else np.empty(0)


def _fractional_ticks(ax: Any) -> list[str]:
    from matplotlib.ticker import FixedFormatter, ScalarFormatter

    found = []
    for which in ("x", "y"):
        axis = ax.xaxis if which == "x" else ax.yaxis
        if axis.get_scale() != "linear" or isinstance(axis.get_major_formatter(), FixedFormatter):
            continue
        if not isinstance(axis.get_major_formatter(), ScalarFormatter):
            continue
        data = _axis_data(ax, which)
        data = data[np.isfinite(data)]
        if data.size < 2 or np.unique(data).size < 2 or not np.all(data == np.round(data)):
            continue
        lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
        ticks = np.asarray(axis.get_majorticklocs(), float)
        ticks = ticks[(ticks >= lo - 1e-9) & (ticks <= hi + 1e-9)]
        frac = ticks[np.abs(ticks - np.round(ticks)) > 1e-9]
        if frac.size:
            found.append(f"the {which} axis holds whole numbers only but has ticks at {', '.join(f'{t:g}' for t in frac[:3])}: "
                         f"set integer ticks (ax.{which}axis.set_major_locator(MaxNLocator(integer=True)) or "
                         f"ax.set_{which}ticks(...))")
    return found


def _bands(ax: Any) -> list:
    from matplotlib.collections import PolyCollection

    out = []
    for coll in ax.collections:
        if not isinstance(coll, PolyCollection) or not coll.get_visible() or not coll.get_paths():
            continue
        face = coll.get_facecolor()
        if len(face) == 0:
            continue
        alpha = float(face[0][3]) if coll.get_alpha() is None else float(coll.get_alpha()) * float(face[0][3])
        if alpha >= 0.999:
            continue
        lw = np.atleast_1d(coll.get_linewidth())
        edge = coll.get_edgecolor()
        outlined = bool(len(lw) and lw.max() > 0 and len(edge) and float(np.max(edge[:, 3])) > 0.3)
        out.append((coll, tuple(np.round(face[0][:3], 3)), outlined or bool(coll.get_hatch())))
    return out


def _band_overlaps(ax: Any) -> list[str]:
    bands = _bands(ax)
    if len(bands) < 2:
        return []
    bbox = ax.bbox
    gx, gy = np.meshgrid(np.linspace(bbox.x0, bbox.x1, _GRID), np.linspace(bbox.y0, bbox.y1, _GRID))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    inside = []
    for coll, _, _ in bands:
        mask = np.zeros(len(pts), bool)
        for path in coll.get_paths():
            mask |= path.transformed(coll.get_transform()).contains_points(pts)
        inside.append(mask)
    found = []
    for j in range(len(bands)):
        for i in range(j):
            (ci, fi, oi), (cj, fj, oj) = bands[i], bands[j]
            if fi == fj or (oi and oj):
                continue
            both = int((inside[i] & inside[j]).sum())
            smaller = max(1, min(int(inside[i].sum()), int(inside[j].sum())))
            if both / smaller >= BAND_OVERLAP_MIN:
                found.append(f"two translucent bands of different colours overlap over {both / smaller:.0%} of the "
                             "smaller one and blend there: outline them (gapkit.plotting.band) or draw them in "
                             "separate panels")
    return found


def audit_figure(fig: Any) -> list[str]:
    """Faults of a drawn figure as sentences (empty when it has none).

    Checks every 2-D panel for a line hidden under another, fractional ticks on an axis whose data
    are whole numbers, and overlapping translucent bands without outlines (module docstring).

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    list of str
        One sentence per fault, naming the panel and the fix.

    Used by every chapter through :func:`gapkit.plotting.use_style`.
    """
    fig.canvas.draw()  # final limits and tick locations
    faults = []
    for i, ax in enumerate(fig.axes):
        if getattr(ax, "name", "") != "rectilinear" or not ax.get_visible():
            continue  # 3-D panels, colour bars' own axes are checked as drawn
        for fault in _hidden_lines(ax) + _fractional_ticks(ax) + _band_overlaps(ax):
            faults.append(f"{_name(ax, i)}: {fault}")
    return faults


def describe_figure(fig: Any) -> dict[str, str]:
    """A figure's caption (its title, or its panels' titles) and alt text (each panel's title and axes).

    The book numbers its figures and describes them to readers who cannot see them; both come from
    the labels every figure already carries (:func:`gapkit.plotting.label`).
    """
    panels = []
    for ax in fig.axes:
        if not ax.get_visible() or not (ax.has_data() or ax.get_title()):
            continue
        title = " ".join(ax.get_title().split())
        axes = ", ".join(f"{which} axis: {' '.join(text.split())}" for which, text in
                         (("horizontal", ax.get_xlabel()), ("vertical", ax.get_ylabel())) if text.strip())
        panels.append((title, axes))
    suptitle = " ".join(fig.get_suptitle().split()) if hasattr(fig, "get_suptitle") else ""
    titles = [t for t, _ in panels if t]
    caption = suptitle or "; ".join(dict.fromkeys(titles))
    parts = [f"{t or 'a panel'} ({a})" if a else (t or "a panel") for t, a in panels]
    lead = f"{suptitle}. " if suptitle else ""
    count = f"{len(panels)} panels: " if len(panels) > 1 else ""
    return {"caption": caption, "alt": (lead + count + "; ".join(parts)).strip() or "A figure."}


_STRONG: list = []  # the figures of the running cell, kept until audited (pyplot closes them at display)


def track_figure(fig: Any) -> None:
    """Remember ``fig`` for :func:`audit_tracked_figures` (a matplotlib ``figure.hooks`` entry)."""
    _STRONG.append(fig)  # pyplot runs the hook once, when it creates the figure


def audit_tracked_figures(*_: Any) -> list[str]:
    """Audit every figure created since the last call; warn once per fault; returns the faults.

    Registered by :func:`gapkit.plotting.use_style` as an IPython ``post_run_cell`` callback.
    """
    figs = list(_STRONG)
    _STRONG.clear()
    faults = []
    if os.environ.get("GAPBOOK_EXPLORABLE") == "site":  # the book build: say what each figure shows
        for fig in figs:
            print(FIGURE_MARKER + json.dumps(describe_figure(fig), ensure_ascii=False))
    for fig in figs:
        name = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
        try:
            found = audit_figure(fig)
        except Exception as err:  # an audit must never break a reader's figure
            found = [f"could not be audited ({type(err).__name__}: {err})"]
        for fault in found:
            msg = f"figure {name!r}: {fault}" if name else f"figure: {fault}"
            warnings.warn(msg, FigureAuditWarning, stacklevel=2)
            faults.append(msg)
    return faults


def audit_plotly_spec(spec: Mapping[str, Any]) -> list[str]:
    """The same audit for a plotly figure (:mod:`gapkit.explorable`): its faults as sentences, empty when none.

    Every axis with data needs a title, and no trace may be hidden under another: two traces of the
    same kind in the same panel with the same coordinates in every frame and an opaque style would
    show as one. The matplotlib figures get the same checks from :func:`gapkit.plotting.audit_figure`.
    """
    problems = []
    layout = spec.get("layout", {})
    data = list(spec.get("data", []))
    used = {(t.get("xaxis", "x"), t.get("yaxis", "y")) for t in data}
    for xa, ya in sorted(used):
        for name, key in ((xa, "xaxis" + xa[1:]), (ya, "yaxis" + ya[1:])):
            title = (layout.get(key) or {}).get("title") or {}
            text = title.get("text", "") if isinstance(title, Mapping) else str(title)
            # a y axis that matches the first one (shared, its ticks hidden) is titled by that one
            if not str(text).strip() and not (layout.get(key) or {}).get("matches"):
                problems.append(f"axis {name} has no title")
    frames = [[(t.get("x"), t.get("y")) for t in f.get("data", [])] for f in spec.get("frames", [])]
    frames = frames or [[(t.get("x"), t.get("y")) for t in data]]
    for i, a in enumerate(data):
        for j in range(i + 1, len(data)):
            b = data[j]
            if (a.get("xaxis", "x"), a.get("yaxis", "y")) != (b.get("xaxis", "x"), b.get("yaxis", "y")):
                continue
            if a.get("mode") != b.get("mode"):
                continue
            if all(f[i] == f[j] for f in frames if len(f) > j):
                problems.append(f"trace {b.get('name', j)!r} lies exactly on trace {a.get('name', i)!r} in every "
                                "frame: one hides the other")
    return problems
