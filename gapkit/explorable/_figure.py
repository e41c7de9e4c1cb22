"""One explorable figure: frames, a slider, the numbers beside the picture, a still fallback."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .._figure_audit import audit_plotly_spec as audit_spec
from ..plotting import MAX_WIDTH_IN

__all__ = ["Layer", "Frame", "Explorable", "SITE_ENV", "PLOTLY_STATIC", "MAX_HTML_BYTES", "audit_spec",
           "ExplorableError"]

#: ``book.py execute`` sets this to ``"site"``: :meth:`Explorable.show` then writes the web page's output.
SITE_ENV = "GAPBOOK_EXPLORABLE"
#: Where the site serves plotly.js, relative to its root (``book.py`` copies it from the plotly package).
PLOTLY_STATIC = "_static/plotly.min.js"
#: The largest HTML output one figure may have (the page-weight budget of a figure).
MAX_HTML_BYTES = 1_500_000
#: Decimals kept of every coordinate (a thousandth of the unit sphere's radius is below a pixel).
DECIMALS = 3

_FONT = {"family": "DejaVu Sans, Verdana, Arial, sans-serif", "size": 13, "color": "#222222"}
_MODES = ("markers", "lines", "lines+markers")
_NUMBERS_WIDTH_PX = 190


class ExplorableError(ValueError):
    """Frames that cannot make one figure (different structure, no frames, bad values)."""


@dataclass(frozen=True)
class Layer:
    """One set of points or one line in one panel of a frame.

    Parameters
    ----------
    name : str
        Legend entry; layers with the same name in several panels share one entry.
    x, y : array_like, shape (n,)
        Coordinates (rounded to :data:`DECIMALS` decimals for the page).
    color : str
        A colour of :mod:`gapkit.plotting` (``MODALITY_COLORS["image"]``, ...).
    mode : {"markers", "lines", "lines+markers"}
    size : float
        Marker size in pixels (markers) or line width (lines).
    opacity : float
        0 to 1.
    symbol : str
        Plotly marker symbol (``"circle"``, ``"x"``, ...).
    dash : str
        Plotly line dash (``"solid"``, ``"dash"``, ``"dot"``).
    """

    name: str
    x: Any
    y: Any
    color: str
    mode: str = "markers"
    size: float = 5.0
    opacity: float = 0.45
    symbol: str = "circle"
    dash: str = "solid"

    def coords(self) -> tuple[list[float], list[float]]:
        """``x`` and ``y`` as lists of floats rounded to :data:`DECIMALS` decimals (NaN becomes None)."""
        out = []
        for axis, values in (("x", self.x), ("y", self.y)):
            arr = np.asarray(values, dtype=np.float64).ravel()
            if np.isinf(arr).any():
                raise ExplorableError(f"layer {self.name!r}: {axis} holds an infinite value; pass finite coordinates.")
            out.append([None if math.isnan(v) else v for v in np.round(arr, DECIMALS).tolist()])
        if len(out[0]) != len(out[1]):
            raise ExplorableError(f"layer {self.name!r}: x has {len(out[0])} values and y {len(out[1])}; "
                                  "pass one y per x.")
        return out[0], out[1]


@dataclass(frozen=True)
class Frame:
    """One slider position: the layers of every panel and the numbers shown beside them.

    Parameters
    ----------
    value : float
        The parameter's value at this position (λ, depth, ...).
    layers : sequence of sequence of Layer
        One sequence per panel; every frame of a figure has the same layers, in the same order.
    numbers : mapping of str to float
        Shown beside the picture, in this order (for example ``{"centroid gap": 0.41}``).
    label : str, optional
        The slider's label for this position (default: ``value`` with ``:g``).
    """

    value: float
    layers: Sequence[Sequence[Layer]]
    numbers: Mapping[str, float] = field(default_factory=dict)
    label: str | None = None

    @property
    def name(self) -> str:
        """The slider label (and plotly frame name) of this position."""
        return self.label if self.label is not None else f"{self.value:g}"


def _per_panel(value: str | Sequence[str], n: int, what: str) -> list[str]:
    if isinstance(value, str):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ExplorableError(f"{what}: {len(value)} given for {n} panels; pass one per panel or one string.")
    return value


class Explorable:
    """A figure with a slider over precomputed frames and the numbers of each frame beside it.

    Parameters
    ----------
    frames : sequence of Frame
        In slider order; at least two, all with the same panels, layers and number labels.
    parameter : str
        What the slider moves, as the reader reads it (``"λ"``, ``"depth"``).
    titles : sequence of str
        One title per panel.
    xlabel, ylabel : str or sequence of str
        Axis titles, one for all panels or one per panel (required: an unlabelled axis fails).
    xrange, yrange : (float, float), optional
        Fixed axis ranges, the same in every frame so that movement is visible (default: the range
        of every frame's coordinates with a 5 % margin).
    formats : mapping of str to str, optional
        Format spec per number label (default ``".3f"``).
    active : int
        The frame shown first, and in the still fallback.
    numbers_title : str
        Heading of the box of numbers.
    alt : str
        What the figure shows, for readers who cannot see it (the fallback image's alt text).
    height : int
        Height in pixels.
    equal_aspect : bool
        One unit is as long on the y axis as on the x axis (a circle stays round).

    Examples
    --------
    >>> frames = [Frame(v, [[Layer("points", [0, v], [0, 1], "#0072B2")]], {"v": v}) for v in (0.0, 1.0)]
    >>> fig = Explorable(frames, parameter="v", titles=["two points"], xlabel="x", ylabel="y",
    ...                  alt="Two points; the second moves right with v.")
    >>> fig.number_texts(1)
    {'v': '1.000'}
    """

    def __init__(self, frames: Sequence[Frame], *, parameter: str, titles: Sequence[str],
                 xlabel: str | Sequence[str], ylabel: str | Sequence[str],
                 xrange: tuple[float, float] | None = None, yrange: tuple[float, float] | None = None,
                 formats: Mapping[str, str] | None = None, active: int = 0,
                 numbers_title: str = "At this setting", alt: str, height: int = 430,
                 equal_aspect: bool = False) -> None:
        frames = list(frames)
        if len(frames) < 2:
            raise ExplorableError(f"an explorable figure needs at least 2 frames, got {len(frames)}.")
        self.frames = frames
        self.parameter = str(parameter)
        self.titles = [str(t) for t in titles]
        n_panels = len(self.titles)
        if n_panels < 1:
            raise ExplorableError("titles: give one title per panel (at least one panel).")
        self.xlabels = _per_panel(xlabel, n_panels, "xlabel")
        self.ylabels = _per_panel(ylabel, n_panels, "ylabel")
        if not all(s.strip() for s in self.xlabels + self.ylabels):
            raise ExplorableError("every axis needs a title: pass non-empty xlabel and ylabel.")
        if not str(alt).strip():
            raise ExplorableError("alt: describe what the figure shows (the fallback image's alt text).")
        self.alt = str(alt)
        if not 0 <= int(active) < len(frames):
            raise ExplorableError(f"active={active}: pass a frame index from 0 to {len(frames) - 1}.")
        self.active = int(active)
        self.numbers_title = str(numbers_title)
        self.height = int(height)
        self.equal_aspect = bool(equal_aspect)
        self.formats = dict(formats or {})
        self._check_structure()
        self._coords = [[[layer.coords() for layer in panel] for panel in f.layers] for f in frames]
        self._still: str | None = None
        self.glued: dict[str, dict[str, str]] = {}
        self.xrange = tuple(xrange) if xrange is not None else self._auto_range(0)
        self.yrange = tuple(yrange) if yrange is not None else self._auto_range(1)

    # ------------------------------------------------------------------ checks and helpers
    def _check_structure(self) -> None:
        first = self.frames[0]
        n_panels = len(self.titles)
        shape = [[(layer.name, layer.mode) for layer in panel] for panel in first.layers]
        keys = list(first.numbers)
        names = set()
        for i, f in enumerate(self.frames):
            if len(f.layers) != n_panels:
                raise ExplorableError(f"frame {i} ({f.name}): {len(f.layers)} panels of layers for {n_panels} titles.")
            if [[(layer.name, layer.mode) for layer in panel] for panel in f.layers] != shape:
                raise ExplorableError(f"frame {i} ({f.name}): its layers differ from frame 0's; every frame needs "
                                      "the same layers in the same order.")
            if list(f.numbers) != keys:
                raise ExplorableError(f"frame {i} ({f.name}): numbers {list(f.numbers)} differ from frame 0's {keys}.")
            if f.name in names:
                raise ExplorableError(f"two frames have the label {f.name!r}; give each position its own label.")
            names.add(f.name)
            for panel in f.layers:
                for layer in panel:
                    if layer.mode not in _MODES:
                        raise ExplorableError(f"layer {layer.name!r}: mode {layer.mode!r}; use one of {_MODES}.")

    def _auto_range(self, axis: int) -> tuple[float, float]:
        values = [v for f in self._coords for panel in f for layer in panel for v in layer[axis] if v is not None]
        if not values:
            return (0.0, 1.0)
        lo, hi = min(values), max(values)
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        return (round(lo - pad, DECIMALS), round(hi + pad, DECIMALS))

    def expect_glued(self, frame: str, names: Mapping[str, str]) -> "Explorable":
        """Declare which glued values of the page the numbers of ``frame`` must equal.

        ``names`` maps a number's label to the name a chapter glued the same quantity under; the
        page carries the mapping (``data-glued``), and the book's browser test moves the slider to
        ``frame`` and compares what the figure shows with the page's glued values. Returns ``self``.
        """
        labels = [f.name for f in self.frames]
        if frame not in labels:
            raise ExplorableError(f"expect_glued: no frame {frame!r}; the frames are {labels}.")
        unknown = [k for k in names if k not in self.frames[0].numbers]
        if unknown:
            raise ExplorableError(f"expect_glued: {unknown} are not numbers of this figure "
                                  f"({list(self.frames[0].numbers)}).")
        self.glued[frame] = dict(names)
        return self

    def number_texts(self, index: int) -> dict[str, str]:
        """The numbers of frame ``index`` as the figure prints them (label -> formatted text)."""
        f = self.frames[index]
        return {k: format(float(v), self.formats.get(k, ".3f")) for k, v in f.numbers.items()}

    def _numbers_annotation(self, index: int) -> dict[str, Any]:
        lines = [f"<b>{html.escape(self.numbers_title)}</b>",
                 f"{html.escape(self.parameter)} = {html.escape(self.frames[index].name)}"]
        lines += [f"{html.escape(k)}: <b>{v}</b>" for k, v in self.number_texts(index).items()]
        return {"text": "<br>".join(lines), "xref": "paper", "yref": "paper", "x": 1.0, "y": 1.0,
                "xanchor": "left", "yanchor": "top", "xshift": 18, "align": "left", "showarrow": False,
                "font": dict(_FONT, size=13), "bgcolor": "#f6f6f6", "bordercolor": "#bbbbbb", "borderpad": 6,
                "name": "numbers"}

    def _domains(self) -> list[tuple[float, float]]:
        n = len(self.titles)
        gap = 0.1 if n > 1 else 0.0
        width = (1.0 - gap * (n - 1)) / n
        return [(round(i * (width + gap), 4), round(i * (width + gap) + width, 4)) for i in range(n)]

    def _title_annotations(self) -> list[dict[str, Any]]:
        return [{"text": f"<b>{html.escape(t)}</b>", "xref": "paper", "yref": "paper", "x": (a + b) / 2, "y": 1.0,
                 "xanchor": "center", "yanchor": "bottom", "yshift": 6, "showarrow": False,
                 "font": dict(_FONT, size=14)} for t, (a, b) in zip(self.titles, self._domains())]

    def _traces(self, index: int, *, full: bool) -> list[dict[str, Any]]:
        traces, seen = [], set()
        for p, panel in enumerate(self.frames[index].layers):
            axis = "" if p == 0 else str(p + 1)
            for layer, (x, y) in zip(panel, self._coords[index][p]):
                trace: dict[str, Any] = {"type": "scatter", "x": x, "y": y}
                if full:
                    trace.update(name=layer.name, mode=layer.mode, xaxis=f"x{axis}", yaxis=f"y{axis}",
                                 legendgroup=layer.name, showlegend=layer.name not in seen,
                                 opacity=layer.opacity, hoverinfo="skip")
                    if "markers" in layer.mode:
                        trace["marker"] = {"color": layer.color, "size": layer.size, "symbol": layer.symbol}
                    if "lines" in layer.mode:
                        trace["line"] = {"color": layer.color, "width": layer.size if layer.mode == "lines" else 2,
                                         "dash": layer.dash}
                    seen.add(layer.name)
                traces.append(trace)
        return traces

    # ------------------------------------------------------------------ the figure
    def spec(self) -> dict[str, Any]:
        """The plotly figure as plain JSON-ready data: ``{"data", "layout", "frames"}``.

        Built without importing plotly; :meth:`figure` turns it into a ``plotly.graph_objects.Figure``.
        """
        layout: dict[str, Any] = {
            "font": _FONT, "height": self.height, "autosize": True, "template": "none",
            "plot_bgcolor": "white", "paper_bgcolor": "white",
            "margin": {"l": 64, "r": _NUMBERS_WIDTH_PX + 24, "t": 40, "b": 40},
            # the legend sits in the right-hand column, under the numbers
            "legend": {"orientation": "v", "x": 1.0, "y": 0.0, "xanchor": "left", "yanchor": "bottom",
                       "font": dict(_FONT, size=12), "itemsizing": "constant"},
            "annotations": self._title_annotations() + [self._numbers_annotation(self.active)],
        }
        for p, (dom, xl, yl) in enumerate(zip(self._domains(), self.xlabels, self.ylabels)):
            axis = "" if p == 0 else str(p + 1)
            common = {"showgrid": True, "gridcolor": "#e5e5e5", "zeroline": False, "showline": True,
                      "linecolor": "#444444", "ticks": "outside", "tickfont": dict(_FONT, size=12)}
            layout[f"xaxis{axis}"] = dict(common, domain=list(dom), range=list(self.xrange), anchor=f"y{axis}",
                                          title={"text": xl, "font": dict(_FONT, size=13)})
            layout[f"yaxis{axis}"] = dict(common, range=list(self.yrange), anchor=f"x{axis}",
                                          title={"text": yl if p == 0 else "", "font": dict(_FONT, size=13)},
                                          **({"matches": "y"} if p else {}))
            if p:
                layout[f"yaxis{axis}"]["showticklabels"] = False
            if self.equal_aspect:
                layout[f"yaxis{axis}"]["scaleanchor"] = f"x{axis}"
        steps = [{"method": "animate", "label": f.name, "value": f.name,
                  "args": [[f.name], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                      "transition": {"duration": 0}}]} for f in self.frames]
        layout["sliders"] = [{
            "active": self.active, "steps": steps, "x": 0.0, "len": 1.0, "y": -0.16, "yanchor": "top",
            "pad": {"t": 10, "b": 10}, "font": dict(_FONT, size=11),
            "currentvalue": {"prefix": f"{self.parameter} = ", "font": dict(_FONT, size=14), "visible": True,
                             "xanchor": "left"},
            "transition": {"duration": 0},
        }]
        layout["margin"]["b"] = 120
        layout["height"] = self.height + 80
        frames = [{"name": f.name, "data": self._traces(i, full=False),
                   "layout": {"annotations": self._title_annotations() + [self._numbers_annotation(i)]}}
                  for i, f in enumerate(self.frames)]
        return {"data": self._traces(self.active, full=True), "layout": layout, "frames": frames}

    def figure(self) -> Any:
        """The figure as a ``plotly.graph_objects.Figure`` (validated by plotly; 5.24 and later)."""
        try:
            import plotly.graph_objects as go
        except ImportError as err:  # pragma: no cover - plotly is in the book and colab extras
            raise ImportError("plotly is not installed: pip install plotly (or gapkit[book])") from err
        return go.Figure(self.spec())

    def png(self, index: int | None = None, *, dpi: int = 110) -> bytes:
        """A still PNG of frame ``index`` (default: the active one), the same panels and numbers.

        Drawn with matplotlib's object API, so it never reaches pyplot's figure list (nor the
        book's cell audit, nor a notebook's output).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        i = self.active if index is None else int(index)
        n = len(self.titles)
        width = min(MAX_WIDTH_IN, 2.2 + 3.0 * n)
        fig = Figure(figsize=(width, 3.6), dpi=dpi)
        FigureCanvasAgg(fig)
        right = 1.0 - 2.0 / width
        axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
        fig.subplots_adjust(left=0.9 / width, right=right, bottom=0.16, top=0.88, wspace=0.25)
        for p, ax in enumerate(axes):
            for layer, (x, y) in zip(self.frames[i].layers[p], self._coords[i][p]):
                xs = np.array([np.nan if v is None else v for v in x], dtype=float)
                ys = np.array([np.nan if v is None else v for v in y], dtype=float)
                if "lines" in layer.mode:
                    ax.plot(xs, ys, color=layer.color, linestyle={"dash": "--", "dot": ":"}.get(layer.dash, "-"),
                            linewidth=1.6, label=layer.name if p == 0 else None,
                            marker="o" if "markers" in layer.mode else None, markersize=3)
                else:
                    cross = layer.symbol == "x"
                    ax.scatter(xs, ys, s=layer.size ** 2 / 2, color=layer.color, alpha=layer.opacity,
                               marker="x" if cross else "o", linewidths=2.5 if cross else 0,
                               label=layer.name if p == 0 else None, zorder=3 if cross else 2)
            ax.set_xlim(*self.xrange)
            ax.set_ylim(*self.yrange)
            if self.equal_aspect:
                ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(self.xlabels[p], fontsize=10)
            if p == 0:
                ax.set_ylabel(self.ylabels[p], fontsize=10)
            ax.set_title(self.titles[p], fontsize=11)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=9)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        lines = [self.numbers_title, f"{self.parameter} = {self.frames[i].name} (still picture)"]
        lines += [f"{k}: {v}" for k, v in self.number_texts(i).items()]
        fig.text(right + 0.02, 0.88, "\n".join(lines), va="top", ha="left", fontsize=9,
                 bbox={"facecolor": "#f6f6f6", "edgecolor": "#bbbbbb", "boxstyle": "round,pad=0.4"})
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:  # under the numbers, as on the web page
            fig.legend(handles, labels, loc="lower left", frameon=False, fontsize=9,
                       bbox_to_anchor=(right + 0.01, 0.12))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    def _png_b64(self) -> str:
        if self._still is None:
            self._still = base64.b64encode(self.png()).decode("ascii")
        return self._still

    def html(self, *, div_id: str | None = None) -> str:
        """The web page's output: the still PNG, replaced by the live figure once plotly.js has loaded.

        plotly.js is loaded once per page from the site's ``_static`` (:data:`PLOTLY_STATIC`, found
        through Sphinx's ``data-content_root``), never from the network and never embedded; while
        it loads, or without JavaScript, the reader sees the still figure.
        """
        spec = self.spec()
        div_id = div_id or "gapbook-explorable-" + re.sub(r"[^a-z0-9]+", "-", self.titles[0].lower()).strip("-")[:40]
        png = self._png_b64()
        payload = json.dumps(spec, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        config = json.dumps({"displaylogo": False, "responsive": True,
                             "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]})
        expect = json.dumps({f.name: self.number_texts(i) for i, f in enumerate(self.frames)},
                            ensure_ascii=False)
        glued = json.dumps(self.glued, ensure_ascii=False)
        formats = json.dumps({k: self.formats.get(k, ".3f") for k in self.frames[0].numbers}, ensure_ascii=False)
        text = f"""<div class="gapbook-explorable" id="{div_id}-box" data-parameter="{html.escape(self.parameter)}" \
data-numbers="{html.escape(expect)}" data-glued="{html.escape(glued)}" data-formats="{html.escape(formats)}" \
data-frames="{html.escape(json.dumps([f.name for f in self.frames], ensure_ascii=False))}">
<img class="gapbook-explorable-still" src="data:image/png;base64,{png}" alt="{html.escape(self.alt)}" \
style="max-width:100%">
<div id="{div_id}" class="gapbook-explorable-plot" role="img" aria-label="{html.escape(self.alt)}" \
style="width:100%;height:{spec['layout']['height']}px"></div>
<script>(function () {{
  var spec = {payload};
  function load() {{
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!window.gapbookPlotly) window.gapbookPlotly = new Promise(function (ok, fail) {{
      var root = document.documentElement.getAttribute("data-content_root")
        || (window.DOCUMENTATION_OPTIONS && window.DOCUMENTATION_OPTIONS.URL_ROOT) || "";
      var amd = window.define; window.define = undefined;  /* plotly.js as a global, beside require.js */
      var s = document.createElement("script");
      s.src = root + "{PLOTLY_STATIC}";
      s.onload = function () {{ window.define = amd; ok(window.Plotly); }};
      s.onerror = function () {{ window.define = amd; fail(new Error("plotly.js not found at " + s.src)); }};
      document.head.appendChild(s);
    }});
    return window.gapbookPlotly;
  }}
  function draw() {{
    load().then(function (Plotly) {{
      return Plotly.newPlot("{div_id}", spec.data, spec.layout, {config}).then(function (gd) {{
        return Plotly.addFrames(gd, spec.frames).then(function () {{
          var still = document.querySelector("#{div_id}-box .gapbook-explorable-still");
          if (still) still.style.display = "none";
          gd.setAttribute("data-gapbook-ready", "1");
        }});
      }});
    }}).catch(function (err) {{ console.error("gapbook explorable figure {div_id}:", err); }});
  }}
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
}})();</script>
</div>"""
        if len(text.encode("utf-8")) > MAX_HTML_BYTES:
            raise ExplorableError(f"the figure's HTML is {len(text.encode()) / 1e6:.2f} MB, over the "
                                  f"{MAX_HTML_BYTES / 1e6:.1f} MB budget of a figure: pass fewer points or frames.")
        return text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.html(), "image/png": self._png_b64(),
                "text/plain": f"<Explorable: {', '.join(self.titles)}; {len(self.frames)} positions of "
                              f"{self.parameter}>"}

    def show(self) -> None:
        """Show the figure: the web page's output in a book build, plotly's own elsewhere (Colab).

        Without plotly (a bare Jupyter) the still PNG is shown with a line saying how to get the
        slider.
        """
        from IPython.display import Image, display

        audit = audit_spec(self.spec())
        if audit:
            raise ExplorableError("; ".join(audit))
        if os.environ.get(SITE_ENV) == "site":
            display(self)
            return
        try:
            fig = self.figure()
        except ImportError:
            print("(a still picture: pip install plotly for the slider)")
            display(Image(self.png()))
            return
        fig.show()

