"""scripts/live_timings.py: the course page's table of run-live cells and their measured times."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import live_timings as lt  # noqa: E402
import slides  # noqa: E402


@dataclass
class _Session:
    number: int
    title: str
    chapters: list


def _timed(source: str, start: str, end: str, tags=("run-live",)):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
    cell.metadata["execution"] = {"iopub.status.busy": start, "iopub.status.idle": end,
                                  "iopub.execute_input": start, "shell.execute_reply": end}
    return cell


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_cell_seconds_from_the_kernel_timestamps():
    cell = _timed("1", "2026-12-01T10:00:00.250000Z", "2026-12-01T10:00:02.750000Z")
    assert lt.cell_seconds(cell) == pytest.approx(2.5)
    assert lt.cell_seconds(nbformat.v4.new_code_cell("1")) is None  # never executed


def test_live_cells_name_their_section_and_skip_untagged_cells():
    nb = _notebook(
        nbformat.v4.new_markdown_cell("# Title\n\n## 1. Cones"),
        _timed("a", "2026-12-01T10:00:00Z", "2026-12-01T10:00:03Z"),
        _timed("b", "2026-12-01T10:00:03Z", "2026-12-01T10:00:09Z", tags=()),
        nbformat.v4.new_markdown_cell("text\n\n### 1b. Seeds"),
        _timed("c", "2026-12-01T10:00:09Z", "2026-12-01T10:01:39Z"),
    )
    found = lt.live_cells(nb, "ch")
    assert [(c.section, c.seconds) for c in found] == [("1. Cones", 3.0), ("1b. Seeds", 90.0)]


def _source(folder: Path, name: str, *cells) -> None:
    """A chapter source (jupytext MyST) with these cells: the tags come from here."""
    import jupytext

    folder.mkdir(exist_ok=True)
    nb = _notebook(*cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, folder / f"{name}.md", fmt="md:myst")


def test_table_has_both_columns_and_per_session_totals(tmp_path):
    build, sim, src = tmp_path / "build", tmp_path / "sim", tmp_path / "src"
    build.mkdir()
    sim.mkdir()
    head = nbformat.v4.new_markdown_cell("## 2. Towers")
    _source(src, "c1", head, _timed("x = 1", "", ""), _timed("y = 2", "", ""), _timed("z = 3", "", "", tags=()))
    # the executed copies: a stale tag list does not matter, the source does
    nbformat.write(_notebook(head, _timed("x = 1", "2026-12-01T10:00:00Z", "2026-12-01T10:00:04Z", tags=()),
                             _timed("y = 2", "2026-12-01T10:00:04Z", "2026-12-01T10:00:05Z"),
                             _timed("z = 3", "2026-12-01T10:00:05Z", "2026-12-01T10:09:05Z")), build / "c1.ipynb")
    nbformat.write(_notebook(head, _timed("x = 1", "2026-12-01T10:00:00Z", "2026-12-01T10:02:00Z"),
                             _timed("y = 2", "2026-12-01T10:02:00Z", "2026-12-01T10:02:30Z")), sim / "c1.ipynb")
    table = lt.timing_table([_Session(1, "one", ["c1"])], executed=build, sim=sim, profile="ci", cpus=2, sources=src)
    assert "| 1 | {doc}`c1` | 2. Towers (live cell 1 of 2) | 4.0 s | 2.0 min |" in table
    assert "| 1 | {doc}`c1` | 2. Towers (live cell 2 of 2) | 1.0 s | 30.0 s |" in table
    assert "session 1: 5.0 s here, 2.5 min in the simulation" in table
    assert "ci profile, 2 CPU cores, no GPU" in table and "not run for this build" not in table


def test_without_the_simulation_its_column_says_how_to_fill_it(tmp_path):
    _source(tmp_path / "src", "c1", _timed("x = 1", "", ""))
    nbformat.write(_notebook(_timed("x = 1", "2026-12-01T10:00:00Z", "2026-12-01T10:00:04Z")), tmp_path / "c1.ipynb")
    table = lt.timing_table([_Session(1, "one", ["c1"])], executed=tmp_path, sim=tmp_path / "none", cpus=1,
                            sources=tmp_path / "src")
    assert "| (top of the chapter) | 4.0 s | — |" in table and "scripts/colab_sim.py all" in table
    assert "session 1: 4.0 s here, — in the simulation" in table


def test_a_session_with_nothing_to_run_live_is_an_error(tmp_path):
    _source(tmp_path, "c1", _timed("x = 1", "", "", tags=()))
    with pytest.raises(ValueError, match="session 3 .*has a cell tagged 'run-live'"):
        lt.timing_table([_Session(3, "three", ["c1"])], executed=tmp_path, sim=tmp_path, sources=tmp_path)


def test_every_session_of_the_course_has_cells_to_run_live(tmp_path):
    """From the chapter sources (nothing executed): every session marks at least one cell."""
    table = lt.timing_table(slides.sessions(), executed=tmp_path, sim=tmp_path)
    for s in slides.sessions():
        assert f"\n| {s.number} | " in table, f"session {s.number} has no run-live row"
    assert "run `python scripts/book.py execute` first" in table
