"""Student versions of the chapters: solutions removed, code exercises stubbed.

``python scripts/book.py student``          write ``student/<chapter>.md`` for every chapter
``python scripts/book.py student --check``  fail if ``student/`` is out of date, then execute each
                                            student copy (CI profile) and require that the only
                                            errors are the ``NotImplementedError`` stubs

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

from _common import ROOT, atomic_write_text, ipc_kernel_manager, notebook_chapters, to_notebook

STUDENT = ROOT / "student"
STUB_TAG = "student-stub"
CHECK_TAG = "exercise-check"  # a code exercise's check cell (gapkit.exercises.check), kept in the student copy
# what a check cell may raise in a student copy before the student has answered: the answer's name is
# not defined yet (NameError), or a variable of that name holds something else (ExerciseCheckError)
UNANSWERED = {"NameError", "ExerciseCheckError"}

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


def execute_until_stubs(path: Path, profile: str = "ci") -> list[str]:
    """Execute a student copy; return problems (errors other than the exercise stubs)."""
    import nbformat
    from nbclient import NotebookClient

    nb = to_notebook(path)
    # papermill-style parameter injection, kept simple: override PROFILE after the parameters cell
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            nb.cells.insert(i + 1, nbformat.v4.new_code_cell(f'PROFILE = "{profile}"'))
            break
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=600,
                            kernel_manager_class=ipc_kernel_manager(),
                            resources={"metadata": {"path": str(ROOT / "chapters")}})
    client.execute()
    problems, stubs = [], 0
    for idx, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            tags = cell.metadata.get("tags", [])
            if STUB_TAG in tags and out.get("ename") == "NotImplementedError":
                stubs += 1
            elif CHECK_TAG in tags and out.get("ename") in UNANSWERED:
                continue
            else:
                problems.append(f"{path.name}: cell {idx} raised {out.get('ename')}: {out.get('evalue')}")
    expected = sum(STUB_TAG in c.metadata.get("tags", []) for c in nb.cells)
    if stubs != expected:
        problems.append(f"{path.name}: {expected} stubs but {stubs} raised NotImplementedError")
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
    for path in sorted(STUDENT.glob("*.md")):
        print(f"[student] executing {path.relative_to(ROOT)} up to its stubs ...", flush=True)
        found = execute_until_stubs(path)
        problems += found
        print(f"[student] {path.name}: {'ok' if not found else 'FAILED'}", flush=True)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0
