"""What a chapter needs from the notebook it runs in, with or without the book's tooling.

The book is built with Jupyter Book, whose ``myst_nb.glue`` stores a computed value so that the
prose can show it (``{glue:text}`name:.3f```). Students run the same chapters in Colab, where
myst-nb is not installed: there :func:`glue` prints ``name = value`` instead, and the published
notebook's prose names the value (**`name`**) so the reader finds it printed by the cell that
computes it.

:func:`claim` is the hidden check beside a sentence of prose: it fails the build, naming the
sentence and the numbers, the day the numbers stop supporting what the page says. Where myst-nb is
absent (a student's Colab run, with the real models rather than the book's stand-ins) it warns
instead, so that *Run all* does not stop at a sentence written about other numbers.

Used by every chapter.
"""

from __future__ import annotations

import numbers
import os
import warnings
from typing import Any

__all__ = ["glue", "format_glued", "has_myst_nb", "claim", "ClaimError", "ClaimWarning"]


def has_myst_nb() -> bool:
    """True when ``myst_nb`` can be imported (the book build), False elsewhere (Colab)."""
    try:
        import myst_nb  # noqa: F401
    except ImportError:
        return False
    return True


def format_glued(value: Any) -> str:
    """The text :func:`glue` prints for ``value`` when myst-nb is absent.

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
        in the cell's output as well as storing it. Without myst-nb (Colab), a value shown with
        ``display=True`` is displayed as IPython would; a number or text glued with
        ``display=False`` is printed as ``name = value``, because the published notebook's
        prose refers to it by that name.
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
    if display:
        from IPython.display import display as show

        show(value)
    else:
        print(f"{name} = {format_glued(value)}")


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
