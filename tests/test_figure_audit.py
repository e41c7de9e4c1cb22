"""The figure audit (gapkit._figure_audit): each fault is found, each fix clears it."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gapkit import plotting  # noqa: E402
from gapkit._figure_audit import _STRONG, audit_tracked_figures  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")
    _STRONG.clear()


def test_identical_lines_are_a_hidden_line_and_a_dashed_top_line_is_not():
    x = np.arange(10)
    fig, ax = plt.subplots()
    ax.plot(x, x ** 2, label="train")
    ax.plot(x, x ** 2 + 1e-6, label="test")
    faults = plotting.audit_figure(fig)
    assert len(faults) == 1 and "'train' is hidden under 'test' at 10 of 10 points" in faults[0]

    fig, ax = plt.subplots()
    ax.plot(x, x ** 2, label="train")
    ax.plot(x, x ** 2, "--", label="test")
    assert plotting.audit_figure(fig) == []


def test_lines_apart_at_most_points_are_visible_and_mostly_covered_ones_hidden():
    x = np.linspace(0, 1, 10)
    fig, ax = plt.subplots()
    ax.plot(x, np.sin(x))
    y = np.sin(x)
    y[4:] += 0.2  # apart at 6 of 10 points, by a quarter of the range: visible
    ax.plot(x, y)
    assert plotting.audit_figure(fig) == []

    fig, ax = plt.subplots()
    ax.plot(x, np.sin(x), label="a")
    y = np.sin(x)
    y[8:] += 0.2  # covered at 8 of 10 points
    ax.plot(x, y, label="b")
    faults = plotting.audit_figure(fig)
    assert len(faults) == 1 and "'a' is hidden under 'b' at 8 of 10 points" in faults[0]


def test_unlabelled_lines_are_not_legend_entries():
    fig, ax = plt.subplots()
    for _ in range(3):  # e.g. segments joining an image to its caption
        ax.plot([0.1, 0.9], [0.2, 0.7], color="grey")
    assert plotting.audit_figure(fig) == []


def test_different_markers_keep_the_lower_line_visible():
    x = np.linspace(0, 1, 5)
    fig, ax = plt.subplots()
    ax.plot(x, x, marker="o", label="a")
    ax.plot(x, x, marker="s", label="b")
    assert plotting.audit_figure(fig) == []


def test_half_integer_ticks_on_an_integer_axis_and_the_fix():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3, 4], [0.1, 0.4, 0.2, 0.3])  # four points: the default locator ticks at 1.0, 1.5, ...
    faults = plotting.audit_figure(fig)
    assert len(faults) == 1 and "x axis holds whole numbers" in faults[0] and "1.5" in faults[0]
    plotting.integer_ticks(ax, "x")
    assert plotting.audit_figure(fig) == []


def test_fractional_data_may_have_fractional_ticks_and_scatter_counts():
    fig, ax = plt.subplots()
    ax.plot([0.0, 0.5, 1.0], [1.0, 2.0, 3.5])
    assert plotting.audit_figure(fig) == []
    fig, ax = plt.subplots()
    ax.scatter([1, 2, 3], [0.2, 0.1, 0.3])  # scatter offsets count as data
    assert any("x axis" in f for f in plotting.audit_figure(fig))


def test_overlapping_bands_of_two_colours_blend_and_outlines_fix_it():
    x = np.linspace(0, 1, 50)
    fig, ax = plt.subplots()
    ax.fill_between(x, x - 0.3, x + 0.3, color="C0", alpha=0.2, linewidth=0)
    ax.fill_between(x, x - 0.2, x + 0.4, color="C1", alpha=0.2, linewidth=0)
    faults = plotting.audit_figure(fig)
    assert len(faults) == 1 and "overlap" in faults[0]

    fig, ax = plt.subplots()
    plotting.band(ax, x, x - 0.3, x + 0.3, color="C0")
    plotting.band(ax, x, x - 0.2, x + 0.4, color="C1")
    assert plotting.audit_figure(fig) == []


def test_bands_apart_or_of_one_colour_or_opaque_are_fine():
    x = np.linspace(0, 1, 50)
    fig, ax = plt.subplots()
    ax.fill_between(x, 0, 0.1, color="C0", alpha=0.2, linewidth=0)
    ax.fill_between(x, 0.5, 0.6, color="C1", alpha=0.2, linewidth=0)  # apart
    ax.fill_between(x, 0.02, 0.08, color="C0", alpha=0.2, linewidth=0)  # same colour as the first
    ax.fill_between(x, 0.52, 0.58, color="C2", linewidth=0)  # opaque: no blend
    assert plotting.audit_figure(fig) == []


def test_band_rejects_an_alpha_outside_0_1():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="alpha must be in"):
        plotting.band(ax, [0, 1], [0, 0], [1, 1], color="C0", alpha=1.5)
    with pytest.raises(ValueError, match="which must be"):
        plotting.integer_ticks(ax, "z")


def test_3d_panels_are_skipped():
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    ax.plot([0, 1], [0, 1], [0, 1])
    ax.plot([0, 1], [0, 1], [0, 1])
    assert plotting.audit_figure(fig) == []


def test_use_style_tracks_new_figures_and_warns_once_per_fault():
    plotting.use_style()
    try:
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3, 4], [0.1, 0.3, 0.2, 0.4])
        fig.suptitle("depths")
        plt.close(fig)  # the inline backend closes a figure once shown: it is still audited
        with pytest.warns(plotting.FigureAuditWarning, match="figure 'depths': panel 1"):
            faults = audit_tracked_figures()
        assert len(faults) == 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert audit_tracked_figures() == []  # audited once
        plotting.use_style(audit=False)
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
        assert audit_tracked_figures() == []
    finally:
        plotting.use_style()


def test_describe_figure_reads_titles_and_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gapkit._figure_audit import describe_figure

    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1]); a.set_title("Centroid gap"); a.set_xlabel("λ"); a.set_ylabel("gap")  # noqa: E702
    b.plot([0, 1]); b.set_title("Pairs\nheld out"); b.set_xlabel("λ")  # noqa: E702
    assert describe_figure(fig) == {"caption": "Centroid gap; Pairs held out",
                                    "alt": "2 panels: Centroid gap (horizontal axis: λ, vertical axis: gap); "
                                           "Pairs held out (horizontal axis: λ)"}
    fig.suptitle("Two views")
    assert describe_figure(fig)["caption"] == "Two views"
    plt.close(fig)
