"""Explorable figures: the reader's hand on one parameter, the numbers beside the picture.

Every frame is computed in Python with gapkit; the browser only switches between precomputed
frames, so the figure needs no kernel. One :class:`Explorable` is one slider (λ, depth, epoch,
noise) over one or more panels of points and lines, and a box of numbers (the centroid gap,
retrieval, ...) that updates with the slider. Chapters 1, 2, 4 and 7.

Where it shows:

- **On the book's web page** (``book.py execute`` sets ``GAPBOOK_EXPLORABLE=site``): a
  self-contained ``text/html`` output that draws the figure with the plotly.js the site serves once
  from its own ``_static`` (no copy in the figure, nothing from the network), over a still PNG of
  the same figure. The PNG is what a reader without JavaScript, a LaTeX/PDF build or a renderer
  that ignores HTML sees.
- **In Colab or Jupyter:** :meth:`Explorable.show` calls plotly's own ``fig.show()``; without
  plotly it shows the still PNG.

Modules: ``_figure`` (the figure and its audit), ``_builders`` (the book's figures).
"""

from ._builders import LAMBDA_NUMBERS, depth_explorer, lambda_explorer, line_explorer, training_explorer
from ._figure import (MAX_HTML_BYTES, PLOTLY_STATIC, SITE_ENV, Explorable, ExplorableError, Frame, Layer,
                      audit_spec)

__all__ = ["Layer", "Frame", "Explorable", "ExplorableError", "audit_spec", "SITE_ENV", "PLOTLY_STATIC",
           "MAX_HTML_BYTES", "lambda_explorer", "depth_explorer", "line_explorer", "training_explorer",
           "LAMBDA_NUMBERS"]
