"""What a chapter needs from the notebook it runs in, with or without the book's tooling.

The book is built with Jupyter Book, whose ``myst_nb.glue`` stores a computed value so that the
prose can show it (``{glue:text}`name:.3f```). Students run the same chapters in Colab, where
myst-nb is not installed: there :func:`glue` keeps the value, and each paragraph of the published
notebook that quotes glued values is a folded cell that calls :func:`show_text`, which shows the
paragraph with this run's numbers in it (and fills in, when a later cell glues it, a number that the
paragraph quotes before the cell that computes it has run).

:func:`claim` is the hidden check beside a sentence of prose: it fails the build, naming the
sentence and the numbers, the day the numbers stop supporting what the page says. Where myst-nb is
absent (a student's Colab run, with the real models rather than the book's stand-ins) it warns
instead, so that *Run all* does not stop at a sentence written about other numbers.

Used by every chapter.
"""

from __future__ import annotations

import numbers
import os
import re
import warnings
from typing import Any

__all__ = ["glue", "glued", "format_glued", "has_myst_nb", "show_text", "fill_text", "claim", "ClaimError",
           "ClaimWarning"]


def has_myst_nb() -> bool:
    """True when ``myst_nb`` can be imported (the book build), False elsewhere (Colab)."""
    try:
        import myst_nb  # noqa: F401
    except ImportError:
        return False
    return True


def format_glued(value: Any) -> str:
    """The text a paragraph shows for a glued ``value`` (no format given) when myst-nb is absent.

    Integers print whole; other real numbers with 4 significant digits (the prose in the book
    uses at most 3); anything else with ``str``.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def glue(name: str, value: Any, display: bool = True) -> None:
    """Make ``value`` available to the page's prose under ``name``.

    Parameters
    ----------
    name : str
        The key the prose refers to.
    value : object
        The value; numbers in the book, a figure or a table where ``display=True``.
    display : bool
        With myst-nb (the book build) this is ``myst_nb.glue``'s own argument: show the value
        in the cell's output as well as storing it. Without myst-nb (Colab), the value is kept
        for :func:`show_text` (nothing is printed), a value glued with ``display=True`` is also
        displayed as IPython would, and every paragraph already shown that quotes ``name`` is
        shown again with the new value.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"glue needs a non-empty string name, got {name!r}")
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # np.float64(0.21) would reach the page as its repr, which {glue:text} cannot format
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        myst_glue = None
    if myst_glue is not None:
        myst_glue(name, value, display=display)
        return
    _GLUED[name] = value
    if display:
        from IPython.display import display as show

        show(value)
    for shown in _SHOWN:
        if name in shown.names:
            shown.refresh()


# --------------------------------------------------------------------------- prose with live values
_GLUED: dict[str, Any] = {}
#: a value the published notebook quotes: ``{{name}}`` or ``{{name:format}}`` (a format spec of
#: :func:`format`, as the book's ``{glue:text}`name:.3f``` role uses)
_FIELD = re.compile(r"\{\{(?P<name>[A-Za-z_][\w.-]*)(?::(?P<fmt>[^{}]*))?\}\}")
#: what a paragraph shows for a value that a later cell computes, until that cell has run
PENDING = "<span title=\"computed by a cell further down: run it\">…</span>"


def glued() -> dict[str, Any]:
    """The values glued so far in this kernel without myst-nb (a copy): name → value."""
    return dict(_GLUED)


def _formatted(value: Any, fmt: str | None) -> str:
    if not fmt:
        return format_glued(value)
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        try:
            return format(float(value), fmt)
        except (TypeError, ValueError):
            return format_glued(value)


def fill_text(template: str, values: dict[str, Any] | None = None) -> str:
    """``template`` with each ``{{name:format}}`` replaced by the glued value, formatted.

    Parameters
    ----------
    template : str
        Markdown (a paragraph of a chapter) whose quoted values are ``{{name}}`` or
        ``{{name:format}}`` fields.
    values : dict, optional
        name → value; default: the values glued so far (:func:`glued`).

    Returns
    -------
    str
        The Markdown with every field filled in; a field whose value is not glued yet shows
        :data:`PENDING` (an ellipsis saying that a cell further down computes it).
    """
    values = _GLUED if values is None else values

    def one(m: re.Match) -> str:
        if m["name"] not in values:
            return PENDING
        return _formatted(values[m["name"]], m["fmt"])

    return _FIELD.sub(one, template)


class _Shown:
    """A paragraph :func:`show_text` displayed, updated in place when a value it quotes is glued."""

    def __init__(self, template: str) -> None:
        from IPython.display import Markdown, display

        self.template = template
        self.names = {m["name"] for m in _FIELD.finditer(template)}
        self.handle = display(Markdown(fill_text(template)), display_id=True)

    def refresh(self) -> None:
        from IPython.display import Markdown

        if self.handle is not None:
            self.handle.update(Markdown(fill_text(self.template)))


_SHOWN: list[_Shown] = []


def show_text(template: str) -> None:
    """Show a paragraph of the chapter as Markdown, with this run's glued values in it.

    The published Colab notebooks (``scripts/colab_notebook.py``) turn every paragraph of a chapter
    that quotes glued numbers into a folded cell that calls this, so the student reads the
    sentence with the numbers their own run computed. A value that the paragraph quotes before
    the cell that computes it has run shows as an ellipsis, and is filled in when that cell's
    :func:`glue` runs.

    Parameters
    ----------
    template : str
        The paragraph, its values written ``{{name}}`` or ``{{name:.3f}}`` (:func:`fill_text`).
    """
    if not isinstance(template, str):
        raise TypeError(f"show_text needs the paragraph as a string, got {type(template).__name__}")
    _SHOWN.append(_Shown(template.strip("\n")))


class ClaimError(AssertionError):
    """A sentence of a chapter is no longer supported by the numbers the chapter computed."""


class ClaimWarning(UserWarning):
    """:class:`ClaimError`'s message, shown instead where myst-nb is absent (a student's Colab run)."""


def claim(sentence: str, holds: bool, **numbers: Any) -> None:
    """Check that the page's own numbers support one of its sentences.

    Parameters
    ----------
    sentence : str
        The claim as the prose makes it (e.g. ``"the gain is consistent across seeds"``).
    holds : bool
        The claim's test on the computed numbers, with its tolerance.
    **numbers
        The numbers the test reads, shown in the error so that a failed build says why.

    Raises
    ------
    ClaimError
        When ``holds`` is false and myst-nb is installed (the book build) or ``GAPKIT_STRICT_CLAIMS=1``.
        In the book a hidden cell calls this right after the sentence, so the build fails instead
        of printing a sentence its numbers contradict. Without myst-nb the same message is shown
        as a :class:`ClaimWarning` and the notebook goes on.
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError("claim needs the sentence it checks, as a non-empty string")
    if not bool(holds):
        shown = ", ".join(f"{k} = {format_glued(v)}" for k, v in numbers.items()) or "no numbers given"
        message = f"The page says {sentence!r}, but its numbers do not support it: {shown}."
        if has_myst_nb() or os.environ.get("GAPKIT_STRICT_CLAIMS") == "1":
            raise ClaimError(message)
        warnings.warn(message + " (This run's models or data differ from the book's; the text was "
                      "written about the book's numbers.)", ClaimWarning, stacklevel=2)
