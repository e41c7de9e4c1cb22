"""Sphinx extension: exercises and figures numbered per chapter, ``Exercise 3.2``, ``Figure 3.2``.

sphinx-exercise numbers exercises as Sphinx numbers figures (``numfig``): across the whole book,
1 to 26, because the book's table of contents is not numbered. Students meet the same exercises in
the Colab notebooks, the student copies, the course page and the slides, which all say
``Exercise C.N``: C is the chapter's number, from its file name (``03_measuring_the_gap`` -> 3,
the number the prose uses for the chapter), N the exercise's place in the chapter.
``scripts/colab_notebook.py`` (``exercise_number``) gives the notebooks the same numbers, and
``tests/test_publish.py`` compares both with the built book.

After Sphinx has assigned the figure numbers (the ``env-get-updated`` event, on which its
toctree collector numbers them), each page whose file name starts with a number gets its
exercise numbers replaced by ``(chapter, n)``; references (``{ref}``, ``{numref}``) and the
solutions' titles read those numbers, so they follow. Pages without a number keep Sphinx's.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

FIGTYPES = ("exercise", "figure")  # Exercise 3.2, Figure 3.2


def chapter_of(docname: str) -> int | None:
    """``chapters/03_measuring_the_gap`` -> 3; None for a page whose name does not start with a number."""
    m = re.match(r"(\d+)_", posixpath.basename(docname))
    return int(m.group(1)) if m else None


def renumber(fignumbers: dict[str, dict[str, dict[str, tuple[int, ...]]]]) -> list[str]:
    """Give every chapter's exercises the numbers ``(chapter, 1)``, ``(chapter, 2)``, ... in their order.

    Parameters
    ----------
    fignumbers : dict
        Sphinx's ``env.toc_fignumbers``: docname -> figure type -> node id -> number. Changed in place.

    Returns
    -------
    list of str
        The pages whose numbers changed.
    """
    changed = []
    for docname, types in fignumbers.items():
        chapter = chapter_of(docname)
        for figtype in FIGTYPES:
            numbers = types.get(figtype)
            if chapter is None or not numbers:
                continue
            ordered = sorted(numbers, key=lambda node_id: numbers[node_id])  # the order Sphinx met them in
            new = {node_id: (chapter, i) for i, node_id in enumerate(ordered, start=1)}
            if new != numbers:
                types[figtype] = new
                if docname not in changed:
                    changed.append(docname)
    return changed


def _on_env_get_updated(app: Any, env: Any) -> list[str]:
    return renumber(env.toc_fignumbers)


def setup(app: Any) -> dict[str, Any]:
    # after Sphinx's own toctree collector (priority 500) has assigned the book-wide numbers
    app.connect("env-get-updated", _on_env_get_updated, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
