"""The book's figure style: no figure wider than the page can show, no font too small to read."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from gapkit import plotting  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.md"))


def test_new_figure_fits_a_row_of_panels_into_the_page_width():
    fig, axes = plotting.new_figure(ncols=5, width=2.7, height=2.9)
    w, h = fig.get_size_inches()
    assert w == pytest.approx(plotting.MAX_WIDTH_IN) and h == pytest.approx(2.9)
    plt.close(fig)
    fig, ax = plotting.new_figure(ncols=2, width=3.0, height=2.0)  # narrow enough: untouched
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 2.0))
    plt.close(fig)
    with pytest.raises(ValueError, match="positive"):
        plotting.new_figure(width=0)


def test_style_fonts_are_at_least_the_minimum():
    plotting.use_style()
    rc = matplotlib.rcParams
    from matplotlib.font_manager import FontProperties

    for key in ("font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize", "xtick.labelsize",
                "ytick.labelsize"):
        size = FontProperties(size=rc[key]).get_size_in_points()
        assert size >= plotting.MIN_FONT_PT, (key, size)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_keep_fonts_and_figure_sizes_readable(path):
    text = path.read_text()
    small = [m.group(0) for m in re.finditer(r"fontsize\s*=\s*(\d+(?:\.\d+)?)", text)
             if float(m.group(1)) < plotting.MIN_FONT_PT]
    assert not small, f"{path.name}: fonts below {plotting.MIN_FONT_PT} pt: {small}"
    wide = [m.group(0) for m in re.finditer(r"figsize\s*=\s*\(\s*(\d+(?:\.\d+)?)", text)
            if float(m.group(1)) > plotting.MAX_WIDTH_IN]
    assert not wide, f"{path.name}: figures wider than {plotting.MAX_WIDTH_IN} in: {wide} (use new_figure)"
