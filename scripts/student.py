"""Student versions of the chapters: solutions removed, code exercises stubbed.

``python scripts/book.py student``          write ``student/<chapter>.md`` for every chapter
``python scripts/book.py student --check``  fail if ``student/`` is out of date, or if a copy would
                                            run differently from its chapter (:func:`static_problems`:
                                            the chapter's own cells but the stubs, and no later cell
                                            that needs a solution). The copies themselves run in the
                                            Colab simulation, up to their first stub.

A solution written as a plain ``{solution}`` directive (prose only) is dropped, and so is an
answer given as an admonition (``{admonition} Short answer``, any title starting with "Short
answer" or "Answer"): a student copy holds no answer. A gated solution
(``{solution-start}`` ... ``{solution-end}``) that holds code cells is replaced by one code cell
that raises ``NotImplementedError`` naming the exercise, so a student sees exactly where to write.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from _common import ROOT, atomic_write_text, notebook_chapters, to_notebook

STUDENT = ROOT / "student"
STUB_TAG = "student-stub"
CHECK_TAG = "exercise-check"  # a code exercise's check cell (gapkit.exercises.check), kept in the student copy

_GATED = re.compile(
    r"(?P<fence>`{3,}|:{3,})\{solution-start\}\s*(?P<label>[\w-]+)[^\n]*\n.*?"
    r"(?P=fence)\s*\n.*?(?P<fence2>`{3,}|:{3,})\{solution-end\}[^\n]*\n(?P=fence2)[^\n]*\n?",
    re.S,
)
_PLAIN = re.compile(r"(?P<fence>`{3,}|:{3,})\{solution\}\s*(?P<label>[\w-]+)[^\n]*\n.*?\n(?P=fence)[ \t]*\n?", re.S)
_ANSWER = re.compile(r"^(?P<fence>`{3,}|:{3,})\{admonition\}[ \t]+(?:Short answer|Answer)\b[^\n]*\n.*?\n(?P=fence)[ \t]*\n?",
                     re.S | re.M)

HEADER = (
    "```{admonition} Student version\n"
    ":class: note\n"
    "This is the student copy of the chapter: it holds no solutions and no answers. Each code exercise\n"
    "ends in a cell that raises `NotImplementedError`: replace it with your answer, then run the check\n"
    "cell below it. Paper exercises are answered on paper.\n"
    "```\n\n"
)


def stub_cell(label: str) -> str:
    return (
        "```{code-cell} ipython3\n"
        f":tags: [{STUB_TAG}]\n\n"
        f"# Exercise {label}: write your solution here, then delete the line below.\n"
        f'raise NotImplementedError("Exercise {label}: your code goes here")\n'
        "```\n"
    )


def student_text(text: str) -> str:
    """Return the student version of one chapter's MyST source."""

    def gated(m: re.Match) -> str:
        return stub_cell(m.group("label")) if "{code-cell}" in m.group(0) else ""

    out = _GATED.sub(gated, text)
    out = _PLAIN.sub("", out)
    out = _ANSWER.sub("", out)
    # put the student banner right after the first heading
    out = re.sub(r"^(# [^\n]+\n)", lambda m: m.group(1) + "\n" + HEADER, out, count=1, flags=re.M)
    return out


def write_all() -> list[Path]:
    written = []
    for path in notebook_chapters():
        dest = STUDENT / path.name
        atomic_write_text(dest, student_text(path.read_text()))
        written.append(dest)
    return written


def out_of_sync() -> list[str]:
    problems = []
    expected = {p.name: student_text(p.read_text()) for p in notebook_chapters()}
    for name, text in expected.items():
        dest = STUDENT / name
        if not dest.exists():
            problems.append(f"student/{name} is missing")
        elif dest.read_text() != text:
            problems.append(f"student/{name} is out of date")
    for extra in sorted(STUDENT.glob("*.md")) if STUDENT.exists() else []:
        if extra.name not in expected:
            problems.append(f"student/{extra.name} has no chapter")
    return problems


def _names(source: str) -> tuple[set[str], set[str], set[str]]:
    """(stored, loaded, mutated) top-level names of one cell (IPython magics turned into Python first).

    ``mutated`` holds names whose item or attribute the cell assigns (``d[k] = v``, ``m.x = 1``) or
    that it changes in place (``x += 1`` of a name it did not define), side effects a later cell may
    rely on.
    """
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    stored, loaded, mutated = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, (ast.Store, ast.Del)) else loaded).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            base = node.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                mutated.add(base.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            mutated.add(node.target.id)
    return stored, loaded, mutated


def static_problems(chapter: Path, copy: Path) -> list[str]:
    """Why a student copy would run differently from its chapter, found without running it.

    ``book.py execute`` runs the chapter's cells and the Colab simulation runs the published student
    copy up to its first stub, so running the copy once more (as ``--check`` did) only re-checked two
    facts, checked here on the source instead:

    1. every code cell of the copy is the chapter's own cell, in the chapter's order, except the
       stubs, each standing where the chapter has its solution's cells;
    2. no cell after a solution (exercise-check cells aside: they exist to read the answer) uses a
       name that only the solution's cells define, or that a solution's cell changes in place.
    """
    import builtins

    def code(path: Path) -> list[tuple[str, list[str]]]:
        return [(c.source, c.metadata.get("tags", [])) for c in to_notebook(path).cells if c.cell_type == "code"]

    ours, theirs = code(chapter), code(copy)
    problems, defined, from_solution = [], set(dir(builtins)) | {"display", "get_ipython"}, {}
    i = 0  # the next chapter cell to match
    for j, (source, tags) in enumerate(theirs):
        where = f"student/{copy.name} code cell {j + 1}"
        if STUB_TAG in tags:
            # the chapter's cells from here to the next cell the copy keeps are this stub's solution
            following = next((s for s, t in theirs[j + 1:] if STUB_TAG not in t), None)
            start = i
            while i < len(ours) and ours[i][0] != following:
                i += 1
            if i == start:
                problems.append(f"{where}: a stub where the chapter has no solution cell")
            for source_sol, _ in ours[start:i]:
                stored, _, mutated = _names(source_sol)
                for name in stored - defined:
                    from_solution[name] = "defines"
                for name in mutated & defined:
                    from_solution[name] = "changes"
            continue
        if i >= len(ours) or ours[i][0] != source:
            problems.append(f"{where} is not the chapter's next cell: run `make student` and commit student/")
            break
        i += 1
        stored, loaded, _ = _names(source)
        if CHECK_TAG not in tags:
            for name in sorted((loaded - stored) & set(from_solution)):
                problems.append(f"{where} uses {name!r}, which only an exercise's solution "
                                f"{from_solution[name]}: a student without that solution cannot run it")
        defined |= stored
        for name in stored:
            from_solution.pop(name, None)
    return problems


def main(args: argparse.Namespace) -> int:
    if not args.check:
        for p in write_all():
            print(f"wrote {p.relative_to(ROOT)}")
        return 0
    problems = out_of_sync()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("Run: make student (or python scripts/book.py student) and commit student/.", file=sys.stderr)
        return 1
    for chapter in notebook_chapters():
        found = static_problems(chapter, STUDENT / chapter.name)
        problems += found
        print(f"[student] {chapter.name}: {'ok' if not found else 'FAILED'}", flush=True)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0
