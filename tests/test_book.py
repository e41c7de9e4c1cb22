"""The book pipeline: Colab cells in sync, student copies, a raising cell fails the build."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import book  # noqa: E402
import student  # noqa: E402

HEADER = textwrap.dedent(
    """\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # A test chapter
    """
)


def test_every_toc_entry_exists_and_chapters_are_notebooks():
    entries = book.toc_files()
    assert entries[0] == "chapters/index"
    paths = [book.source_path(e) for e in entries]
    assert any(book.is_notebook(p) for p in paths)
    assert not book.is_notebook(ROOT / "chapters" / "index.md")


def test_colab_cells_match_config():
    assert book.cmd_colab_cell(type("A", (), {"write": False})()) == 0


def test_colab_cell_uses_the_configured_repository_and_version():
    cfg = {"repository": {"url": "https://github.com/someone/else/"}}
    src = book.colab_cell_source(cfg)
    assert f"git+https://github.com/someone/else@v{book.gapkit_version()}" in src
    assert 'if "google.colab" in sys.modules' in src
    assert book.colab_url(cfg, Path("chapters/01_x.md")).endswith("/someone/else/blob/gh-pages/notebooks/01_x.ipynb")


def test_student_text_removes_solutions_and_stubs_code_exercises():
    text = HEADER + textwrap.dedent(
        """\
        ```{exercise}
        :label: ex-a
        Prose exercise.
        ```

        ```{solution} ex-a
        :class: dropdown
        The answer is 42.
        ```

        ```{exercise}
        :label: ex-b
        Code exercise.
        ```

        ```{solution-start} ex-b
        :class: dropdown
        ```

        ```{code-cell} ipython3
        secret = 6 * 7
        ```

        ```{solution-end}
        ```

        After.
        """
    )
    out = student.student_text(text)
    assert "The answer is 42" not in out
    assert "secret" not in out
    assert "{solution" not in out
    assert 'raise NotImplementedError("Exercise ex-b: your code goes here")' in out
    assert "Prose exercise." in out and "Code exercise." in out and "After." in out
    assert out.count("NotImplementedError(") == 1  # the prose-only solution gets no stub


def test_student_copies_are_in_sync():
    assert student.out_of_sync() == []


def _chapter(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "chapter.md"
    path.write_text(
        HEADER
        + "\n```{code-cell} ipython3\n:tags: [parameters]\n\nPROFILE = \"auto\"\n```\n\n"
        + body
    )
    return path


@pytest.mark.slow
def test_a_raising_cell_fails_execution_with_the_cell_named(tmp_path):
    path = _chapter(tmp_path, '```{code-cell} ipython3\nx = 1\n```\n\n```{code-cell} ipython3\nraise ValueError("boom")\n```\n')
    rec = book.execute_one(path, "ci", tmp_path / "out.ipynb", book.load_config())
    assert rec["result"] == "error"
    assert "ValueError: boom" in rec["error"]
    assert rec["error"].startswith("cell ")
    assert not (tmp_path / "out.ipynb").exists()  # nothing half-written


FIGURE = "```{code-cell} ipython3\nimport matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()\n```\n"


@pytest.mark.slow
def test_execution_injects_the_profile_and_keeps_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # would silently drop every figure if the runner let it through
    path = _chapter(tmp_path, "```{code-cell} ipython3\nimport gapkit\nprof = gapkit.resolve_profile(PROFILE)\n```\n"
                    + FIGURE)
    rec = book.execute_one(path, "ci", tmp_path / "out.ipynb", book.load_config())
    assert rec["result"] == "ok", rec
    assert rec["profile"] == "ci"
    assert rec["figures"] == 1
    assert (tmp_path / "out.ipynb").exists()


@pytest.mark.slow
def test_a_chapter_without_figures_fails(tmp_path):
    path = _chapter(tmp_path, "```{code-cell} ipython3\nx = 1\n```\n")
    rec = book.execute_one(path, "ci", tmp_path / "out.ipynb", book.load_config())
    assert rec["result"] == "error" and "no figure" in rec["error"]


def test_prose_refers_to_exercises_by_label_not_number():
    """Exercise numbers change when a chapter gains an exercise: prose uses {ref}`label`, never 'exercise 2'."""
    import re

    pattern = re.compile(r"\bexercises?\s+(?:\d+|\{ref\})", re.I)
    bad = []
    for path in book.notebook_chapters() + [ROOT / "chapters" / "course.md"]:
        prose = re.sub(r"```\{code-cell\}.*?```", "", path.read_text(), flags=re.S)
        bad += [f"{path.name}: {m.group(0)!r}" for m in pattern.finditer(prose)]
    assert not bad, "\n".join(bad)


def test_book_kernels_use_the_sliced_client_and_a_missed_wakeup_costs_one_slice(monkeypatch):
    """A queued reply whose socket wake-up was missed is still read after one slice, not the cell timeout."""
    import asyncio
    import queue
    import time

    import _common
    from jupyter_client.channels import AsyncZMQSocketChannel

    km = _common.ipc_kernel_manager()()
    client_cls = km.client_factory
    assert client_cls.__name__ == "SlicedKernelClient"
    chan_cls = client_cls.shell_channel_class.default_value
    assert issubclass(chan_cls, AsyncZMQSocketChannel)

    calls = []

    async def flaky_get_msg(self, timeout=None):  # the first poll sleeps through the queued message
        calls.append(timeout)
        if len(calls) == 1:
            await asyncio.sleep(timeout)
            raise queue.Empty
        return {"msg_id": "reply"}

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", flaky_get_msg)
    monkeypatch.setattr(_common, "POLL_SLICE_S", 0.05)
    chan = chan_cls.__new__(chan_cls)
    t0 = time.monotonic()
    assert asyncio.run(chan.get_msg(timeout=600)) == {"msg_id": "reply"}
    assert time.monotonic() - t0 < 5 and calls == [0.05, 0.05]

    calls.clear()

    async def never(self, timeout=None):
        calls.append(timeout)
        await asyncio.sleep(timeout)
        raise queue.Empty

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", never)
    with pytest.raises(queue.Empty):  # the overall timeout still holds
        asyncio.run(chan.get_msg(timeout=0.12))
    assert 2 <= len(calls) <= 4


def test_a_figure_audit_warning_in_a_cell_output_is_a_build_fault():
    import nbformat

    nb = nbformat.v4.new_notebook()
    ok = nbformat.v4.new_code_cell("plot()", execution_count=2)
    ok.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Profile line\n")]
    bad = nbformat.v4.new_code_cell("plot()", execution_count=3)
    bad.outputs = [nbformat.v4.new_output(
        "stream", name="stderr",
        text="/x.py:9: FigureAuditWarning: figure: panel 1: the x axis holds whole numbers only\n  warn()\n")]
    nb.cells = [ok, bad]
    assert book.figure_audit_faults(nb) == ["cell 3: FigureAuditWarning: figure: panel 1: the x axis holds whole numbers only"]
    nb.cells = [ok]
    assert book.figure_audit_faults(nb) == []


def _solution_chapter(after: str) -> str:
    return HEADER + textwrap.dedent(
        """\
        ```{code-cell} ipython3
        models = {"a": 1}
        ```

        ```{exercise}
        :label: ex-b
        Code exercise.
        ```

        ```{solution-start} ex-b
        :class: dropdown
        ```

        ```{code-cell} ipython3
        secret = 6 * 7
        models["b"] = secret
        ```

        ```{solution-end}
        ```

        ```{code-cell} ipython3
        :tags: [exercise-check]
        check("ex-b", secret)
        ```

        ```{code-cell} ipython3
        AFTER
        ```
        """
    ).replace("AFTER", after)


@pytest.mark.parametrize("after, problem", [
    ("print(models['a'] + 1)", "uses 'models', which only an exercise's solution changes"),
    ("print(secret)", "uses 'secret', which only an exercise's solution defines"),
    ("secret = 1\nprint(secret)", None),  # defined again before use: independent of the solution
    ("print(len([m for m in range(3)]))", None),
])
def test_the_static_check_finds_a_cell_that_needs_a_solution(tmp_path, after, problem):
    chapter = tmp_path / "ch.md"
    chapter.write_text(_solution_chapter(after))
    copy = tmp_path / "student" / "ch.md"
    copy.parent.mkdir()
    copy.write_text(student.student_text(chapter.read_text()))
    found = student.static_problems(chapter, copy)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0] and "code cell 4" in found[0]


def test_the_static_check_finds_a_copy_that_is_not_the_chapter(tmp_path):
    chapter = tmp_path / "ch.md"
    chapter.write_text(_solution_chapter("print(1)"))
    copy = tmp_path / "copy.md"
    copy.write_text(student.student_text(chapter.read_text()).replace("print(1)", "print(2)"))
    assert "is not the chapter's next cell" in " ".join(student.static_problems(chapter, copy))


def test_every_student_copy_runs_like_its_chapter():
    problems = [p for ch in book.notebook_chapters() for p in student.static_problems(ch, student.STUDENT / ch.name)]
    assert problems == []


def test_the_page_leaves_out_glue_only_lines_and_folds_the_setup_cell():
    import nbformat

    assert book.without_glue('x = 1\nglue("a", x, display=False)\nfor k in (1, 2):\n    glue(f"b{k}", k)\n'
                             'print(x)\nglue("c",\n     x)\n') == "x = 1\nprint(x)"
    assert book.without_glue("%time x = 1\nglue('a', 1)") == "%time x = 1\nglue('a', 1)"  # magics: as they are
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('PROFILE = "auto"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('PROFILE = "ci"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("import gapkit\nprofile = gapkit.resolve_profile(PROFILE)"),
        nbformat.v4.new_code_cell('glue("n", 3, display=False)  # for the prose'),
        nbformat.v4.new_code_cell('y = 2\nglue("y", y, display=False)'),
        nbformat.v4.new_code_cell('glue("z", 1)', metadata={"tags": ["remove-cell"]}),
    ])
    book.present_for_page(nb)
    assert nb.cells[0].metadata["tags"] == ["parameters", "hide-input"]
    assert nb.cells[2].metadata["tags"] == ["hide-input", "hide-output"]
    assert nb.cells[3].metadata["tags"] == ["remove-input"]
    assert nb.cells[4].source == "y = 2" and "tags" not in nb.cells[4].metadata
    assert nb.cells[4].metadata["gapbook"]["source"] == 'y = 2\nglue("y", y, display=False)'  # what ran
    assert nb.cells[5].source == 'glue("z", 1)'  # removed from the page anyway


def test_snake_case_table_headers_read_as_words():
    html = '<table class="dataframe"><tr><th>paired_cosine</th><th>‖Δ_⊥‖</th><th>R</th></tr><td>a_b</td></table>'
    assert book.readable_headers(html) == ('<table class="dataframe"><tr><th>paired cosine</th><th>‖Δ_⊥‖</th>'
                                           '<th>R</th></tr><td>a_b</td></table>')
    assert book.readable_headers("<p>no_table</p>") == "<p>no_table</p>"


def test_each_figure_gets_its_caption_number_and_alt_text_from_gapkits_line():
    import json

    import nbformat

    line = book.FIGURE_MARKER + json.dumps({"caption": "Centroid gap", "alt": "one panel (horizontal axis: λ)"})
    two = line + "\n" + book.FIGURE_MARKER + json.dumps({"caption": "B", "alt": "b"})
    png = {"image/png": "iVBOR"}
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("plot()", outputs=[
            nbformat.v4.new_output("display_data", data=png),
            nbformat.v4.new_output("stream", name="stdout", text="kept\n" + line + "\n")]),
        nbformat.v4.new_code_cell("two()", outputs=[
            nbformat.v4.new_output("display_data", data=png), nbformat.v4.new_output("display_data", data=png),
            nbformat.v4.new_output("stream", name="stdout", text=two + "\n")]),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")]),
        nbformat.v4.new_code_cell("plot(); table", outputs=[  # a figure beside a table: alt text, no caption
            nbformat.v4.new_output("display_data", data=png),
            nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "1"},
                                   metadata={"scrapbook": {"name": "n"}}),
            nbformat.v4.new_output("execute_result", data={"text/html": "<table></table>"}, execution_count=1),
            nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]),
    ])
    assert book.caption_figures(nb, "04_lambda_shift") == 1
    first, second, third, fourth = nb.cells
    assert fourth.metadata["mystnb"] == {"image": {"alt": "one panel (horizontal axis: λ)"}}
    assert first.metadata["mystnb"] == {"image": {"alt": "one panel (horizontal axis: λ)"},
                                        "figure": {"caption": "Centroid gap", "name": "fig-04_lambda_shift-1"}}
    assert [o.get("text") for o in first.outputs] == [None, "kept\n"]
    assert second.metadata["mystnb"] == {"image": {"alt": "one panel (horizontal axis: λ) | b"}}  # two: no caption
    assert len(second.outputs) == 2 and "mystnb" not in third.metadata
