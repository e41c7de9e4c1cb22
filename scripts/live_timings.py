"""How long each cell the course plan runs live takes: the course page's timing table.

A chapter cell tagged ``run-live`` is one the course plan (``chapters/course.md``) asks the lecturer
to run in class. ``book.py html`` replaces the course page's ``<!-- gapbook: live-timings -->``
marker with a table of those cells, per session, and two measured times for each:

- **this build**: the cell's wall time when ``book.py execute`` ran the chapter (its profile and
  the machine's CPU count are named in the table);
- **Colab simulation**: the same cell of the published notebook run by ``scripts/colab_sim.py``
  (Colab's package versions, the ``full`` profile on CPU with random-weight models under the real
  ids), when that run left its executed notebooks in the build folder.

Times come from the kernel's own timestamps in each executed cell (``metadata.execution``:
``iopub.status.busy`` to ``iopub.status.idle``), which papermill and nbclient both record.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import ROOT, SITE, to_notebook

TAG = "run-live"
MARKER = "<!-- gapbook: live-timings -->"
SIM_EXECUTED = ROOT / "_build" / "colab-sim" / "executed"
SIM_REPORT = ROOT / "_build" / "colab-sim" / "report.json"
_HEADING = re.compile(r"^(#{2,3}) (.+)$", re.M)


@dataclass(frozen=True)
class LiveCell:
    chapter: str
    section: str  # the heading the cell sits under
    seconds: float | None  # None: the cell has no timestamps (not executed, or it failed)
    source: str = ""


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_seconds(cell: Any) -> float | None:
    """Wall time of one executed cell from its kernel timestamps, or None when it has none."""
    ex = cell.get("metadata", {}).get("execution", {})
    start, end = ex.get("iopub.status.busy") or ex.get("iopub.execute_input"), ex.get("iopub.status.idle") or ex.get("shell.execute_reply")
    if not start or not end:
        return None
    return max(0.0, (_stamp(end) - _stamp(start)).total_seconds())


def live_cells(nb: Any, chapter: str) -> list[LiveCell]:
    """The ``run-live`` cells of one (executed or not) notebook, in order, with their section and time."""
    section, found = "(top of the chapter)", []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heads = _HEADING.findall(cell.source)
            if heads:
                section = heads[-1][1].strip()
        elif TAG in cell.get("metadata", {}).get("tags", []):
            found.append(LiveCell(chapter, section, cell_seconds(cell), cell.source))
    return found


def times_by_source(nb: Any | None) -> dict[str, float]:
    """Executed code cells' wall times keyed by their source (the tags of a stale build may differ)."""
    if nb is None:
        return {}
    out = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            t = cell_seconds(cell)
            if t is not None:  # the page may show a cell without its glue lines (book.py present_for_page)
                out.setdefault(cell.metadata.get("gapbook", {}).get("source", cell.source), t)
    return out


def _read(path: Path) -> Any | None:
    import nbformat

    return nbformat.read(path, as_version=4) if path.exists() else None


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.1:
        return "< 0.1 s"
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def timing_table(sessions: list[Any], *, executed: Path = SITE / "chapters", sim: Path = SIM_EXECUTED,
                 profile: str | None = None, cpus: int | None = None, sources: Path = ROOT / "chapters") -> str:
    """The course page's table (Markdown): one row per ``run-live`` cell of every session's chapters.

    The cells and their sections come from the chapter sources in ``sources``; their times from
    this build's executed chapters in ``executed`` (``<chapter>.ipynb``) and from the Colab
    simulation's executed notebooks in ``sim``, matched by cell source. A cell found in neither
    gives "—" in that column.
    Raises ``ValueError`` when a session's chapters have no ``run-live`` cell at all: the plan
    would tell the lecturer to run something live that the book never marks.
    """
    cpus = cpus or os.cpu_count() or 1
    rows, sim_seen, build_seen = [], False, False
    totals: dict[int, list[float | None]] = {}
    for s in sessions:
        any_cell = False
        for chapter in s.chapters:
            here_t = times_by_source(_read(executed / f"{chapter}.ipynb"))
            sim_t = times_by_source(_read(sim / f"{chapter}.ipynb"))
            cells = live_cells(to_notebook(sources / f"{chapter}.md"), chapter)
            per_section = {c.section: sum(d.section == c.section for d in cells) for c in cells}
            seen: dict[str, int] = {}
            for cell in cells:
                any_cell = True
                seen[cell.section] = seen.get(cell.section, 0) + 1
                where = cell.section if per_section[cell.section] == 1 else \
                    f"{cell.section} (live cell {seen[cell.section]} of {per_section[cell.section]})"
                mine, colab = here_t.get(cell.source), sim_t.get(cell.source)
                sim_seen |= colab is not None
                build_seen |= mine is not None
                totals.setdefault(s.number, [0.0, 0.0])
                rows.append(f"| {s.number} | {{doc}}`{chapter}` | {where} | {_fmt(mine)} | {_fmt(colab)} |")
                for i, v in enumerate((mine, colab)):
                    t = totals[s.number][i]
                    totals[s.number][i] = None if v is None or t is None else t + v
        if not any_cell:
            raise ValueError(f"session {s.number} ({s.title!r}): none of its chapters "
                             f"({', '.join(s.chapters)}) has a cell tagged {TAG!r}")
    where = f"{profile or 'the build'} profile, {cpus} CPU core{'s' if cpus != 1 else ''}, no GPU"
    head = ["| session | chapter | where in the chapter | this build | Colab simulation |", "|---|---|---|---|---|"]
    lines = head + rows
    lines.append("")
    lines.append("Totals per session: " + "; ".join(
        f"session {n}: {_fmt(a)} here, {_fmt(b)} in the simulation" for n, (a, b) in totals.items()) + ".")
    lines.append("")
    notes = [f"*This build*: the time of each cell when this copy of the book was built ({where})."]
    if sim_seen:
        notes.append("*Colab simulation*: the same cell of the published notebook, run with Colab's package "
                     "versions and `PROFILE = \"auto\"` (the real models' architectures with random weights, "
                     "on the CPU, at a quarter of the full sizes), as `make test` runs it.")
    else:
        notes.append("*Colab simulation*: not run for this build (`python scripts/colab_sim.py all` before "
                     "`python scripts/book.py html` fills the column).")
    if not build_seen:
        notes.append("No chapter of this build carries cell timings: run `python scripts/book.py execute` first.")
    notes.append("On a Colab T4 GPU with the real models (downloads included) these cells have not been "
                 "timed: no GPU was available to the builds so far.")
    return "\n".join(lines + [" ".join(notes)])
