"""The published notebooks (what the Colab badges open): MyST markup becomes plain Markdown."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import book  # noqa: E402
import colab_notebook as cn  # noqa: E402

SITE = "https://owner.github.io/repo/"
DOC = "chapters/02_two"


def small_site() -> cn.SiteIndex:
    """A two-chapter book with one exercise in each, two references and a bibliography page."""
    return cn.SiteIndex(
        url=SITE,
        book_title="A book",
        titles={"chapters/01_one": "Chapter one", DOC: "Chapter two", "chapters/bib": "Bibliography"},
        labels={
            "one": cn.Target("chapters/01_one", "Chapter one", None),
            "sec-x": cn.Target("chapters/01_one", "A section", "sec-x"),
            "ex-a": cn.Target(DOC, "Exercise 2.1", "ex-a"),
            "ex-b": cn.Target(DOC, "Exercise 2.2", "ex-b"),
            "ex-far": cn.Target("chapters/01_one", "Exercise 1.3", "ex-far"),
            "eq-one": cn.Target(DOC, "(1)", "eq-one"),
        },
        references={
            "liang": cn.Reference("Liang et al.", "2022", "https://arxiv.org/abs/2203.02053"),
            "wang": cn.Reference("Wang and Isola", "2020", None),
        },
        bibliography_doc="chapters/bib",
    )


def convert(*cells: str | tuple[str, str], site: cn.SiteIndex | None = None):
    """Convert a notebook of the given cells (str: markdown; ("code", src): code) as chapter DOC."""
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if isinstance(cell, tuple):
            nb.cells.append(nbformat.v4.new_code_cell(cell[1]))
        else:
            nb.cells.append(nbformat.v4.new_markdown_cell(textwrap.dedent(cell).strip("\n")))
    return cn.convert_notebook(nb, DOC, site or small_site()).cells


def md(text: str) -> str:
    """The converted Markdown of one markdown cell (no title in it, so no reading note)."""
    (cell,) = convert(text)
    return cell.source


# --------------------------------------------------------------------------- roles
def test_a_paragraph_with_glued_values_becomes_a_folded_cell_that_shows_it_with_the_run_s_numbers(monkeypatch):
    cells = convert("Before.\n\nR = {glue:text}`r_image:.3f`, n = {glue}`n_pairs` and {glue:}`k`.\n\nAfter.")
    assert [c.cell_type for c in cells] == ["markdown", "code", "markdown"]
    assert cells[0].source == "Before." and cells[2].source == "After."
    code = cells[1]
    assert code.source.splitlines()[0] == '#@title Text with this run\'s numbers { display-mode: "form" }'
    assert code.metadata["cellView"] == "form" and code.metadata["tags"] == [cn.GLUED_TAG]
    assert "R = {{r_image:.3f}}, n = {{n_pairs}} and {{k}}." in code.source
    # run as in Colab (no myst-nb): the sentence shows the values glued so far, the others when glued
    from gapkit import notebook

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    def display(obj, display_id=None):
        assert display_id is True  # an updatable output
        shown.append(obj.data)
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    monkeypatch.setattr(notebook, "_GLUED", {})
    monkeypatch.setattr(notebook, "_SHOWN", [])
    notebook.glue("r_image", 0.73412, display=False)
    notebook.glue("n_pairs", 500, display=False)
    exec(code.source, {})
    assert shown == [f"R = 0.734, n = 500 and {notebook.PENDING}."]  # k: computed by a cell further down
    notebook.glue("k", 3, display=False)
    assert shown[-1] == "R = 0.734, n = 500 and 3."  # filled in when the cell that computes k runs
    notebook.glue("k", 4, display=False)
    assert shown[-1] == "R = 0.734, n = 500 and 4."  # and again when that cell is run again


def test_glued_blocks_keep_tables_lists_and_folded_solutions_whole():
    text = ("| a | b |\n|---|---|\n| {glue:text}`x:.1f` | 2 |\n\n- one {glue}`y`\n- two\n\n"
            "<details>\n<summary><b>S</b></summary>\n\nz = {glue}`z`\n\n</details>\n\n## Next\n\nplain")
    blocks = cn.markdown_blocks(text)
    assert blocks[0].startswith("| a | b |") and blocks[0].endswith("| 2 |")
    assert blocks[2].startswith("<details>") and blocks[2].endswith("</details>")
    assert blocks[3:] == ["## Next", "plain"]
    cells = convert(text)
    assert [c.cell_type for c in cells] == ["code", "markdown"]  # consecutive glued blocks: one cell
    assert cells[1].source == "## Next\n\nplain"  # headings stay Markdown (Colab's table of contents)


def test_hidden_cells_are_folded_under_a_title_and_still_run():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(book.colab_cell_source(), metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell('claim("the gap shrinks", a < b, a=a, b=b)', metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell('glue("a", 1, display=False)', metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("%%capture\nx = 1", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("y = 2"),
    ])
    cells = cn.convert_notebook(nb, DOC, small_site()).cells
    assert cells[0].source == book.colab_cell_source()  # the install cell as it was
    assert cells[1].source == '#@title Checks of this page\'s claims { display-mode: "form" }\n' + nb.cells[1].source
    assert cells[2].source.startswith("#@title Numbers the text quotes")
    assert cells[3].source.startswith("%%capture\n#@title Set-up")  # a cell magic stays first
    assert all(c.metadata["cellView"] == "form" for c in cells[1:4]) and "cellView" not in cells[4].metadata
    assert cn.reading_problems(cn.convert_notebook(nb, DOC, small_site())) == []
    assert cn.reading_problems(nb) == [
        f"hidden cell unfolded: cell {i} (hidden in the book) is plain code in Colab" for i in (1, 2, 3)]


def test_citations_become_author_year_text_with_links():
    assert md("as {cite:t}`liang` show") == "as [Liang et al. (2022)](https://arxiv.org/abs/2203.02053) show"
    assert md("a gap {cite:p}`liang`.") == "a gap ([Liang et al., 2022](https://arxiv.org/abs/2203.02053))."
    # no identifier in the entry: the link goes to the book's bibliography page
    assert md("{cite:p}`liang, wang`") == (
        "([Liang et al., 2022](https://arxiv.org/abs/2203.02053); "
        f"[Wang and Isola, 2020]({SITE}chapters/bib.html))")


def test_references_inside_the_chapter_are_text_and_across_pages_are_links():
    assert md("see {ref}`ex-b`") == "see Exercise 2.2"
    assert md("(exercise {ref}`ex-a`)") == "(Exercise 2.1)"  # not "exercise Exercise 2.1"
    assert md("{ref}`ex-far`") == f"[Exercise 1.3 of Chapter one]({SITE}chapters/01_one.html#ex-far)"
    assert md("{ref}`one`") == f"[Chapter one]({SITE}chapters/01_one.html)"
    assert md("{ref}`this part <sec-x>`") == f"[this part]({SITE}chapters/01_one.html#sec-x)"
    assert md("{numref}`Exercise %s <ex-a>`") == "Exercise 2.1"
    assert md("{eq}`eq-one`") == "(1)"
    assert md("{doc}`01_one` and {doc}`the first </chapters/01_one>`") == (
        f"[Chapter one]({SITE}chapters/01_one.html) and [the first]({SITE}chapters/01_one.html)")
    assert md("{math}`x^2`") == "$x^2$"


def test_inline_code_that_shows_a_role_is_left_alone():
    assert md("write `{glue:text}` roles") == "write `{glue:text}` roles"


@pytest.mark.parametrize(("text", "named"), [
    ("{term}`gap`", "{term}"),
    ("{ref}`nowhere`", "'nowhere'"),
    ("{cite:p}`nobody2020`", "'nobody2020'"),
    ("{doc}`03_three`", "'chapters/03_three'"),
])
def test_unknown_roles_labels_and_citations_fail_naming_them(text, named):
    with pytest.raises(cn.PublishError, match=re.escape(named)) as err:
        md(text)
    assert DOC in str(err.value)


# --------------------------------------------------------------------------- directives
def test_admonitions_become_blockquotes_with_a_bold_title():
    assert md("""
        ```{admonition} Overview
        :class: tip
        **Goals.** You can

        - do $x$ ({cite:t}`liang`).
        ```
        """) == ("> **Overview**\n>\n> **Goals.** You can\n>\n"
                 "> - do $x$ ([Liang et al. (2022)](https://arxiv.org/abs/2203.02053)).")
    assert md(":::{note}\nBody.\n:::") == "> **Note**\n>\n> Body."


def test_a_dropdown_admonition_folds():
    assert md("```{admonition} More\n:class: dropdown\nHidden.\n```") == (
        "<details>\n<summary><b>More</b></summary>\n\nHidden.\n\n</details>")


def test_exercise_and_prose_solution():
    assert md("""
        ```{exercise} Derive it
        :label: ex-a

        Show that $a = b$.
        ```

        ```{solution} ex-a
        :class: dropdown

        Because $a = b$.
        ```
        """) == ("**Exercise 2.1: Derive it**\n\nShow that $a = b$.\n\n"
                 "<details>\n<summary><b>Solution to Exercise 2.1</b></summary>\n\n"
                 "Because $a = b$.\n\n</details>")


def test_a_gated_solution_folds_its_prose_and_marks_its_code_cells():
    cells = convert(
        "```{exercise} Code it\n:label: ex-b\nWrite it.\n```\n\n```{solution-start} ex-b\n:class: dropdown\n```\n\nFirst idea.",
        ("code", "x = 6 * 7"),
        "Then this.",
        ("code", "%%time\ny = x"),
        "```{solution-end}\n```\n\nAfter the solution.",
        ("code", "z = 1"),
    )
    assert [c.cell_type for c in cells] == ["markdown", "code", "markdown", "code", "markdown", "code"]
    assert cells[0].source == ("**Exercise 2.2: Code it**\n\nWrite it.\n\n<details>\n<summary><b>Solution to "
                               "Exercise 2.2</b></summary>\n\nFirst idea.\n\n</details>")
    title = '#@title Solution to Exercise 2.2 (try the exercise first) { display-mode: "form" }'
    assert cells[1].source == f"{title}\nx = 6 * 7"
    assert cells[1].metadata["cellView"] == "form" and "solution" in cells[1].metadata["tags"]
    assert cells[2].source.startswith("<details>\n<summary><b>Solution to Exercise 2.2 (continued)</b>")
    assert cells[3].source == f"%%time\n{title}\ny = x"  # the cell magic stays first
    assert cells[4].source == "After the solution."
    assert cells[5].source == "z = 1" and "cellView" not in cells[5].metadata


def test_a_gated_solution_with_only_code_leaves_no_empty_markdown_cell():
    cells = convert("```{solution-start} ex-a\n```", ("code", "a = 1"), "```{solution-end}\n```")
    assert [c.cell_type for c in cells] == ["code"]


@pytest.mark.parametrize(("cells", "message"), [
    (["```{solution-start} ex-a\n```", ("code", "a = 1")], "never closed"),
    (["```{solution-end}\n```"], "without a {solution-start}"),
    (["```{solution} ex-zz\nx\n```"], "'ex-zz'"),
    (["```{figure} a.png\nA figure.\n```"], "{figure}"),
    (["```{admonition} Open\nno end"], "never closed"),
])
def test_bad_markup_fails_with_a_clear_message(cells, message):
    with pytest.raises(cn.PublishError, match=re.escape(message)):
        convert(*cells)


def test_labels_go_math_stays_and_labelled_equations_get_their_number():
    assert md("(sec-y)=\n## Part\n\n$a$ and\n\n$$\nx = 1\n$$ (eq-one)\n\n```python\n{glue}`inside`\n```") == (
        "## Part\n\n$a$ and\n\n$$\nx = 1\n\\tag{1}\n$$\n\n```python\n{glue}`inside`\n```")


def test_the_title_cell_gets_a_note_on_how_to_read_the_notebook():
    cells = convert("(two)=\n# Chapter two\n\nIt is {glue:text}`r:.2f`.",
                    "```{solution} ex-a\nYes.\n```")
    title = cells[0].source
    assert title.startswith("# Chapter two\n\n*Chapter 2 of [A book](https://owner.github.io/repo/) "
                            f"([this chapter online]({SITE}chapters/02_two.html)).")
    assert "a cell titled *Text with this run's numbers*, which shows it with the numbers your run computed" in title
    assert "Solutions are folded" in title
    # no solution, no "click Solution" (a student copy); a folded admonition is no solution
    cells = convert("# Chapter two\n\nText.", "```{admonition} Hint\n:class: dropdown\nThink.\n```")
    assert "Solution" not in cells[0].source


def test_exercise_numbers_are_chapter_dot_number_as_in_the_book():
    assert cn.exercise_number("chapters/03_measuring_the_gap", 2) == "3.2"
    assert cn.exercise_number("chapters/course", 2) == "2"
    index = cn.SiteIndex(url=SITE)
    cn._index_page("chapters/08_eight", "# Eight\n\n```{exercise} A\n:label: ex-x\nx\n```\n\n"
                   "```{exercise} B\n:label: ex-y\ny\n```\n", index)
    assert index.labels["ex-y"].text == "Exercise 8.2"
    sys.path.insert(0, str(ROOT / "_ext"))
    import chapter_numbers

    # the book's numbers: Sphinx numbers them 1..n across the book, the extension per chapter
    numbers = {"chapters/01_a": {"exercise": {"e1": (1,), "e2": (2,)}, "figure": {"f": (7,)}, "table": {"t": (2,)}},
               "chapters/08_b": {"exercise": {"e4": (4,), "e3": (3,)}}, "chapters/course": {"exercise": {"c": (5,)}}}
    assert chapter_numbers.renumber(numbers) == ["chapters/01_a", "chapters/08_b"]
    # exercises and figures per chapter (Exercise 1.2, Figure 1.1); other kinds keep Sphinx's numbers
    assert numbers["chapters/01_a"] == {"exercise": {"e1": (1, 1), "e2": (1, 2)}, "figure": {"f": (1, 1)},
                                        "table": {"t": (2,)}}
    assert numbers["chapters/08_b"]["exercise"] == {"e3": (8, 1), "e4": (8, 2)}
    assert numbers["chapters/course"]["exercise"] == {"c": (5,)}


def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


@pytest.mark.parametrize(("cell", "student", "kind"), [
    (nbformat.v4.new_markdown_cell("R is {{r:.2f}} here"), False, "glue name left in prose"),
    (nbformat.v4.new_markdown_cell("R is {glue:text}`r:.2f` here"), False, "glue name left in prose"),
    (nbformat.v4.new_markdown_cell("R is **`r`** here"), False, "glue name left in prose"),
    (nbformat.v4.new_code_cell('claim("x", True)', metadata={"tags": ["remove-cell"]}), False, "hidden cell unfolded"),
    (nbformat.v4.new_markdown_cell("**Exercise 4: Old numbers**"), False, "exercise number differs from the book"),
    (nbformat.v4.new_markdown_cell("<details>\n<summary><b>Short answer</b></summary>\n\nYes.\n\n</details>"), True,
     "answer in a student copy"),
    (nbformat.v4.new_markdown_cell("<details>\n<summary><b>Solution to Exercise 2.1</b></summary>\n\nx\n</details>"),
     True, "answer in a student copy"),
    (nbformat.v4.new_code_cell('#@title Solution to Exercise 2.1 { display-mode: "form" }\nx = 1',
                               metadata={"tags": ["solution"], "cellView": "form"}), True, "answer in a student copy"),
])
def test_reading_problems_are_named(cell, student, kind):
    glue_cell = nbformat.v4.new_code_cell('glue("r", 0.5, display=False)')
    exercise = nbformat.v4.new_markdown_cell("**Exercise 2.1: New numbers**")
    nb = _nb(glue_cell, exercise, cell)
    problems = cn.reading_problems(nb, student=student, exercises=["2.1"] if "Exercise 4" not in cell.source
                                   else ["2.1", "2.2"])
    assert problems and all(p.startswith(kind) for p in problems), problems
    assert cn.reading_problems(_nb(glue_cell, exercise), student=student, exercises=["2.1"]) == []


def test_an_executed_paragraph_must_show_every_value():
    cell = cn.glued_text_cell("R is {{r:.2f}}.")
    assert cn.reading_problems(_nb(cell), executed=True) == [
        "glue name left in prose: cell 0 ran but shows no text"]
    from gapkit.notebook import PENDING

    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": f"R is {PENDING}."})]
    assert cn.reading_problems(_nb(cell), executed=True) == [
        "glue name left in prose: cell 0 still shows a value no cell computed"]
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "R is 0.50."})]
    assert cn.reading_problems(_nb(cell), executed=True) == []


def test_markdown_with_double_braces_is_refused():
    with pytest.raises(cn.PublishError, match="reserves for glued values"):
        md("a {{b}} c")


def test_read_references_formats_authors_and_finds_links(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text(textwrap.dedent("""\
        @article{one, author = {Solo, Han}, title = {A}, year = {2001}, doi = {10.1/abc}}
        @article{two, author = {Wang, T. and Isola, P.}, title = {B}, year = {2020}, journal = {arXiv preprint arXiv:2005.10242}}
        @misc{three, author = {Ilharco, G. and Wortsman, M. and Wightman, R.}, title = {C}, year = {2021}, note = {Software, doi:10.5281/zenodo.5143773}}
        @misc{four, author = {Restrepo, David and others}, title = {D}, year = {2026}, url = {https://example.org/d}}
        @misc{five, author = {{van der Berg}, Ann}, title = {E}, year = {1999}}
        """))
    refs = cn.read_references(bib)
    assert refs["one"] == cn.Reference("Solo", "2001", "https://doi.org/10.1/abc")
    assert refs["two"] == cn.Reference("Wang and Isola", "2020", "https://arxiv.org/abs/2005.10242")
    assert refs["three"] == cn.Reference("Ilharco et al.", "2021", "https://doi.org/10.5281/zenodo.5143773")
    assert refs["four"] == cn.Reference("Restrepo et al.", "2026", "https://example.org/d")
    assert refs["five"] == cn.Reference("van der Berg", "1999", None)


def test_site_url_from_the_repository():
    assert cn.site_url({"repository": {"url": "https://github.com/gapbook/gapbook"}}) == "https://gapbook.github.io/gapbook/"
    assert cn.site_url({"repository": {"url": "https://github.com/me/me.github.io/"}}) == "https://me.github.io/"
    assert cn.site_url({"repository": {"url": "x", "site_url": "https://book.example"}}) == "https://book.example/"
    with pytest.raises(cn.PublishError, match="repository.site_url"):
        cn.site_url({"repository": {"url": "https://gitlab.com/a/b"}})


@pytest.mark.parametrize("markup", [
    "a {glue:text}`x` b", "```{note}\nx\n```", ":::{tip}\nx\n:::", "(my-label)=", "> ```{exercise}", ":class: tip",
])
def test_leftover_myst_finds_each_kind_of_markup(markup):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markup)])
    assert cn.leftover_myst(nb) != []


def test_leftover_myst_accepts_plain_markdown():
    plain = "**`x`** and `{glue}` in code, $\\{a\\}$, ```python\nx = {}\n```, (a) = b, <details>"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(plain),
                                         nbformat.v4.new_code_cell('glue("x", 1)  # {glue}`x`')])
    assert cn.leftover_myst(nb) == []


# --------------------------------------------------------------------------- every real chapter
CHAPTERS = book.notebook_chapters()
SITE_INDEX = cn.site_index()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_published_chapter_is_plain_markdown_and_keeps_its_code(chapter):
    source = chapter.read_text()
    nb = cn.publish_notebook(chapter, site=SITE_INDEX)
    nbformat.validate(nb)
    assert cn.leftover_myst(nb) == []
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    # the hidden Colab install cell stays the first code cell, exactly as the book renders it
    assert code[0].source == book.colab_cell_source()
    assert all(not c.get("outputs") for c in code)
    # every exercise numbered as the book numbers it (chapter.number), every solution folded (prose) or
    # marked (code)
    n = int(chapter.stem.split("_")[0])
    n_exercises = len(re.findall(r"^```\{exercise\}", source, re.M))
    texts = markdown + "\n".join(c.source for c in code if cn.GLUED_TAG in c.metadata.get("tags", []))
    assert re.findall(r"^\*\*Exercise ([\d.]+)", texts, re.M) == [f"{n}.{i}" for i in range(1, n_exercises + 1)]
    n_solutions = len(re.findall(r"^```\{solution(?:-start)?\}", source, re.M))
    folded = set(re.findall(r"<summary><b>Solution to Exercise ([\d.]+)", texts))
    marked = {x for c in code for x in re.findall(r"^#@title Solution to Exercise ([\d.]+)", c.source, re.M)}
    assert len(folded | marked) == n_solutions
    assert all(c.metadata.get("cellView") == "form" for c in code if re.search(r"^#@title", c.source, re.M))
    # nothing left that the reader should not meet: no glued name in prose, every hidden cell folded
    assert cn.reading_problems(nb, exercises=[f"{n}.{i}" for i in range(1, n_exercises + 1)]) == []
    # code cells are the source's code cells, form titles aside, plus the paragraphs with glued values
    own = [c for c in code if cn.GLUED_TAG not in c.metadata.get("tags", [])]
    stripped = [re.sub(r"^#@title[^\n]*\n", "", c.source, count=1, flags=re.M) for c in own]
    assert stripped == [c.source for c in book.to_notebook(chapter).cells if c.cell_type == "code"]
    # every value a paragraph quotes is glued by the code: a name in quotes, an f-string pattern,
    # or, where a cell glues computed names, any name
    glued = "\n".join(stripped)
    patterns = [re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(f)) for f in re.findall(r'f"([^"]*\{[^"]*)"', glued)]
    computed = re.search(r"\bglue\(\s*[A-Za-z_]\w*\s*[,+]", glued) is not None
    fields = "\n".join(c.source for c in code if cn.GLUED_TAG in c.metadata.get("tags", []))
    names = set(re.findall(r"\{\{([A-Za-z_][\w.-]*)", fields))
    assert len(names) == len(set(re.findall(r"\{glue(?::\w*)?\}`([^`:]+)", source))) > 0
    for name in names:
        found = f'"{name}"' in glued or any(re.fullmatch(p, name) for p in patterns) or computed
        assert found, f"{chapter.name}: the prose quotes {{{{{name}}}}}, which no code cell glues"


def test_publish_writes_the_notebooks_the_badges_open(tmp_path):
    assert book.main(["publish", "--dest", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{c.stem}.ipynb" for c in CHAPTERS] + ["student"])
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == sorted(f"{c.stem}.ipynb" for c in CHAPTERS)
    chapter = CHAPTERS[0]
    assert (tmp_path / f"{chapter.stem}.ipynb").read_text() == nbformat.writes(cn.publish_notebook(chapter))


def test_the_scripts_import_no_circle():
    code = ("import sys; sys.path.insert(0, 'scripts'); import student; assert 'book' not in sys.modules; "
            "import book; assert 'release' not in sys.modules and 'colab_notebook' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_student_copies_are_published_as_colab_notebooks(tmp_path):
    """notebooks/student/<chapter>.ipynb: the same conversion, no solutions, the stubs kept, links resolved
    as the chapter's; the course page lists a Colab link for each."""
    cfg = book.load_config()
    chapters = book.notebook_chapters()
    assert book.write_chapter_and_student_notebooks(chapters, cfg, tmp_path) == []
    for path in chapters:
        nb = nbformat.read(tmp_path / "student" / f"{path.stem}.ipynb", as_version=4)
        assert cn.leftover_myst(nb) == []
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert code[0].startswith(book.COLAB_MARKER)
        stubs = [c for c in code if 'raise NotImplementedError("Exercise' in c]
        assert stubs, f"{path.stem}: no exercise stub in the student notebook"
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "Solution to Exercise" not in text and "<summary>Solution" not in text
        # no answer of any kind (solutions, short answers of paper exercises), and no "click Solution"
        assert cn.reading_problems(nb, student=True) == []
        assert "Short answer" not in text and "click *Solution*" not in text
        chapter_nb = nbformat.read(tmp_path / f"{path.stem}.ipynb", as_version=4)
        assert "Solution to Exercise" in "\n".join(c.source for c in chapter_nb.cells)  # ... which the chapter has
    table = book.student_notebook_table(cfg)
    for path in chapters:
        assert book.colab_url(cfg, path, student=True) in table
        assert book.colab_url(cfg, path, student=True).endswith(f"/notebooks/student/{path.stem}.ipynb")
    assert book.STUDENT_MARKER in (ROOT / "chapters" / "course.md").read_text()
