"""Checks for the book's code exercises: right, or what is wrong, without the solution.

Every code exercise of a chapter ends in a cell such as ::

    from gapkit.exercises import check
    check("ex-gap-decomposition", answer, embeddings=embeddings)

which prints ``ex-gap-decomposition: right.`` or raises :class:`ExerciseCheckError` listing what is
wrong (a missing entry, a shape, a sign, a value outside its tolerance), never the expected value.
The chapter's own solution runs through the same check when the book is built, so a check that its
solution fails breaks the build, and the unit tests feed every check a wrong answer.

The checks themselves live in one private module per chapter (``_ch02.py``, ...); they recompute
the reference from the inputs the cell passes (``**given``) with gapkit's own functions.

Used by the exercises of every chapter.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["check", "ExerciseCheckError", "available_checks", "register"]

_CHECKS: dict[str, Callable[..., list[str]]] = {}


class ExerciseCheckError(AssertionError):
    """An exercise's answer is not (yet) right; the message says what is wrong."""


def register(label: str) -> Callable[[Callable[..., list[str]]], Callable[..., list[str]]]:
    """Register ``func(answer, **given) -> list of problems`` as the check of exercise ``label``."""

    def deco(func: Callable[..., list[str]]) -> Callable[..., list[str]]:
        if label in _CHECKS:
            raise ValueError(f"exercise {label!r} has two checks: {_CHECKS[label].__module__} and {func.__module__}")
        _CHECKS[label] = func
        return func

    return deco


def _load() -> None:
    """Import every chapter's checks (the ``_chNN`` modules of this package) once."""
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_ch"):
            importlib.import_module(f"{__name__}.{info.name}")


def available_checks() -> list[str]:
    """Labels of the exercises that have a check."""
    _load()
    return sorted(_CHECKS)


def check(label: str, answer: Any, **given: Any) -> None:
    """Check a student's ``answer`` to exercise ``label``.

    Parameters
    ----------
    label : str
        The exercise's label, as in the book (``"ex-gap-decomposition"``).
    answer : object
        What the exercise asks for, in the form its text names.
    **given
        The inputs the exercise works on, as the exercise's check cell passes them.

    Raises
    ------
    ExerciseCheckError
        When the answer is not right: the message lists each problem (without the solution).
    KeyError
        For a label that has no check.
    """
    _load()
    if label not in _CHECKS:
        raise KeyError(f"no check for exercise {label!r}; exercises with checks: {', '.join(sorted(_CHECKS))}")
    try:
        problems = _CHECKS[label](answer, **given)
    except ExerciseCheckError:
        raise
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as err:
        problems = [f"the answer does not have the form the exercise asks for ({type(err).__name__}: {err})"]
    if problems:
        raise ExerciseCheckError(f"{label}: not yet right.\n" + "\n".join(f"  - {p}" for p in problems))
    print(f"{label}: right.")
