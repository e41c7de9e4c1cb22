"""``gapkit report --html``: one self-contained page (the card's table and two figures, PNGs inlined).

The figures are drawn from a seeded sample of at most :data:`SAMPLE_PAIRS` pairs (read from the
inputs by row index, so a memory-mapped file is not copied):

- a PCA of the pairs fitted on both modalities together (the gap is the offset of the two clouds
  along the first component when it dominates), with a few pairs joined by lines;
- the distributions of the paired cosines ``cos(v_i, t_i)`` and of unpaired ones ``cos(v_i, t_j)``
  (``j`` a random other pair): a gap shows as both sitting far below 1, a good pairing as the paired
  ones standing to the right of the unpaired ones.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from typing import Any

import numpy as np

from .._io import atomic_open
from ..geometry import GapReport, normalize_rows

SAMPLE_PAIRS = 5000
_LINKED = 40  # pairs joined by a line in the PCA figure


def _sample(inputs: Any, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    n = inputs.image.shape[0]
    rng = np.random.default_rng(seed)
    idx = np.arange(n) if n <= SAMPLE_PAIRS else np.sort(rng.choice(n, SAMPLE_PAIRS, replace=False))
    return (normalize_rows(np.asarray(inputs.image[idx], np.float64)),
            normalize_rows(np.asarray(inputs.text[idx], np.float64)))


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def pca_figure(u: np.ndarray, v: np.ndarray, names: tuple[str, str], seed: int | None) -> Any:
    """Both modalities on the first two principal components of their union."""
    import matplotlib.figure

    both = np.vstack([u, v])
    mean = both.mean(0)
    _, s, vt = np.linalg.svd(both - mean, full_matrices=False)
    share = s[:2] ** 2 / (s ** 2).sum()
    pu, pv = (u - mean) @ vt[:2].T, (v - mean) @ vt[:2].T
    fig = matplotlib.figure.Figure(figsize=(6.0, 4.6))
    ax = fig.add_subplot()
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(u), min(_LINKED, len(u)), replace=False):
        ax.plot([pu[i, 0], pv[i, 0]], [pu[i, 1], pv[i, 1]], color="#999999", lw=0.6, alpha=0.6, zorder=1)
    ax.scatter(pu[:, 0], pu[:, 1], s=6, alpha=0.5, color="#1f77b4", label=names[0], zorder=2)
    ax.scatter(pv[:, 0], pv[:, 1], s=6, alpha=0.5, color="#d62728", label=names[1], zorder=2)
    ax.set_xlabel(f"PC 1 ({share[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({share[1]:.0%} of the variance)")
    ax.set_title(f"PCA of {len(u)} pairs, fitted on both modalities (grey: {min(_LINKED, len(u))} pairs)")
    ax.legend(markerscale=3, frameon=False)
    return fig


def cosine_figure(u: np.ndarray, v: np.ndarray, seed: int | None) -> Any:
    """Histograms of paired cosines and of unpaired ones (each row against a random other row)."""
    import matplotlib.figure

    n = len(u)
    paired = np.einsum("ij,ij->i", u, v)
    shift = int(np.random.default_rng(seed).integers(1, n))  # i -> i + shift (mod n): never the row itself
    unpaired = np.einsum("ij,ij->i", u, np.roll(v, -shift, axis=0))
    fig = matplotlib.figure.Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot()
    bins = np.linspace(min(paired.min(), unpaired.min()), max(paired.max(), unpaired.max()), 60)
    ax.hist(unpaired, bins=bins, alpha=0.55, color="#7f7f7f", label=f"unpaired (mean {unpaired.mean():.3f})")
    ax.hist(paired, bins=bins, alpha=0.55, color="#2ca02c", label=f"paired (mean {paired.mean():.3f})")
    ax.set_xlabel("cosine similarity of an image and a text")
    ax.set_ylabel("pairs")
    ax.set_title(f"Paired and unpaired cosines ({n} pairs)")
    ax.legend(frameon=False)
    return fig


def _cell(v: float) -> str:
    return "&ndash;" if v is None or not math.isfinite(v) else f"{v:.4g}"


def page(card: GapReport, figures: dict[str, str]) -> str:
    """The HTML text: provenance, the table, the figures (base64 PNGs); no external resource."""
    from .. import __version__

    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{esc(e.metric)}</td><td>{esc(e.modality)}</td><td class=num>{_cell(e.value)}</td>"
        f"<td class=num>{'&ndash;' if not math.isfinite(e.ci_low) else f'[{_cell(e.ci_low)}, {_cell(e.ci_high)}]'}"
        f"</td><td class=method>{esc(e.method)}</td></tr>"
        for e in card.estimates)
    sources = "".join(
        f"<li>{esc(str(s.get('name') or s.get('path')))} &mdash; "
        f"{esc(', '.join(f'{k} {v}' for k, v in s.items() if k in ('kind', 'shape', 'dtype', 'model', 'data')))}"
        f"{'<br><code>sha256 ' + esc(str(s.get('sha256') or s.get('manifest_sha256'))) + '</code>' if (s.get('sha256') or s.get('manifest_sha256')) else ''}"
        f"</li>" for s in card.inputs.get("sources", []))
    groups = ""
    if card.groups:
        grows = "".join(f"<tr><td>{esc(str(g['label']))}</td><td class=num>{g['n']}</td>"
                        f"<td class=num>{_cell(g['centroid_gap'])}</td><td class=num>{_cell(g['paired_cosine'])}</td></tr>"
                        for g in card.groups)
        groups = ("<h2>By label</h2><table><tr><th>label</th><th>pairs</th><th>centroid gap</th>"
                  f"<th>paired cosine</th></tr>{grows}</table>")
    sub = ""
    if card.params.get("subsample_pairs"):
        sub = (f"<p class=note>{card.n} pairs: the single-pass metrics use every pair; the intervals and "
               f"{esc(', '.join(card.params['subsampled_metrics']))} use a seeded subsample of "
               f"{card.params['subsample_pairs']} pairs (see each method).</p>")
    figs = "".join(f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{b64}"><figcaption>{esc(alt)}</figcaption>'
                   f"</figure>" for alt, b64 in figures.items())
    title = f"Gap card: {card.inputs.get('label', '')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.92em; }}
td, th {{ padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
td.method {{ color: #666; font-size: 0.85em; }}
figure {{ display: inline-block; margin: 1em 1em 0 0; }} img {{ max-width: 30em; }}
figcaption, .note {{ color: #555; font-size: 0.88em; max-width: 34em; }}
code {{ font-size: 0.8em; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{card.n} pairs, d = {card.d}; {card.n_boot} bootstrap replicates, {card.ci_level:.0%} intervals, seed {card.seed};
gapkit {esc(__version__)}. Modalities: {esc(' and '.join(card.inputs.get('modalities', ['image', 'text'])))}.</p>
<ul>{sources}</ul>
{sub}
<table><tr><th>metric</th><th>modality</th><th>value</th><th>interval</th><th>method</th></tr>
{rows}
</table>
{groups}
<h2>Figures</h2>
{figs}
</body></html>
"""


def write_html(path: str | os.PathLike[str], card: GapReport, inputs: Any, *, seed: int | None = 0) -> None:
    """Draw the two figures from a sample of the pairs and write the page atomically."""
    u, v = _sample(inputs, seed)
    names = tuple(inputs.modalities)
    figures = {
        "PCA of the pairs fitted on both modalities: the centroid gap is the offset between the two clouds.":
            _png(pca_figure(u, v, names, seed)),
        "Cosines of matched pairs and of unmatched ones: both far below 1 is the gap; paired to the right of "
        "unpaired is the alignment.": _png(cosine_figure(u, v, seed)),
    }
    with atomic_open(path, "w") as fh:
        fh.write(page(card, figures))
