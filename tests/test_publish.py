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
            "ex-a": cn.Target(DOC, "Exercise 1", "ex-a"),
            "ex-b": cn.Target(DOC, "Exercise 2", "ex-b"),
            "ex-far": cn.Target("chapters/01_one", "Exercise 3", "ex-far"),
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
def test_glue_roles_become_bold_named_references():
    assert md("R = {glue:text}`r_image:.3f`, n = {glue}`n_pairs` and {glue:}`k`.") == (
        "R = **`r_image`**, n = **`n_pairs`** and **`k`**.")


def test_citations_become_author_year_text_with_links():
    assert md("as {cite:t}`liang` show") == "as [Liang et al. (2022)](https://arxiv.org/abs/2203.02053) show"
    assert md("a gap {cite:p}`liang`.") == "a gap ([Liang et al., 2022](https://arxiv.org/abs/2203.02053))."
    # no identifier in the entry: the link goes to the book's bibliography page
    assert md("{cite:p}`liang, wang`") == (
        "([Liang et al., 2022](https://arxiv.org/abs/2203.02053); "
        f"[Wang and Isola, 2020]({SITE}chapters/bib.html))")


def test_references_inside_the_chapter_are_text_and_across_pages_are_links():
    assert md("see {ref}`ex-b`") == "see Exercise 2"
    assert md("(exercise {ref}`ex-a`)") == "(Exercise 1)"  # not "exercise Exercise 1"
    assert md("{ref}`ex-far`") == f"[Exercise 3 of Chapter one]({SITE}chapters/01_one.html#ex-far)"
    assert md("{ref}`one`") == f"[Chapter one]({SITE}chapters/01_one.html)"
    assert md("{ref}`this part <sec-x>`") == f"[this part]({SITE}chapters/01_one.html#sec-x)"
    assert md("{numref}`Exercise %s <ex-a>`") == "Exercise 1"
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

        Because {glue:text}`a:.2f`.
        ```
        """) == ("**Exercise 1: Derive it**\n\nShow that $a = b$.\n\n"
                 "<details>\n<summary><b>Solution to Exercise 1</b></summary>\n\n"
                 "Because **`a`**.\n\n</details>")


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
    assert cells[0].source == ("**Exercise 2: Code it**\n\nWrite it.\n\n<details>\n<summary><b>Solution to "
                               "Exercise 2</b></summary>\n\nFirst idea.\n\n</details>")
    title = '#@title Solution to Exercise 2 (try the exercise first) { display-mode: "form" }'
    assert cells[1].source == f"{title}\nx = 6 * 7"
    assert cells[1].metadata["cellView"] == "form" and "solution" in cells[1].metadata["tags"]
    assert cells[2].source.startswith("<details>\n<summary><b>Solution to Exercise 2 (continued)</b>")
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
    assert "such as **`r`**, is printed by the code cell that computes it (`r = …`)" in title
    assert "Solutions are folded" in title


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
    # every exercise is numbered, every solution folded (prose) or marked (code)
    n_exercises = len(re.findall(r"^```\{exercise\}", source, re.M))
    assert re.findall(r"^\*\*Exercise (\d+)", markdown, re.M) == [str(i) for i in range(1, n_exercises + 1)]
    n_solutions = len(re.findall(r"^```\{solution(?:-start)?\}", source, re.M))
    folded = {int(n) for n in re.findall(r"<summary><b>Solution to Exercise (\d+)", markdown)}
    marked = {int(n) for c in code for n in re.findall(r"^#@title Solution to Exercise (\d+)", c.source)}
    assert len(folded | marked) == n_solutions
    assert all(c.metadata.get("cellView") == "form" for c in code if c.source.startswith("#@title"))
    # code cells are the source's code cells, solution titles aside
    stripped = [re.sub(r"^#@title[^\n]*\n", "", c.source) for c in code]
    assert stripped == [c.source for c in book.to_notebook(chapter).cells if c.cell_type == "code"]
    # every value the prose names is glued (gapkit.notebook.glue prints it under that name) by the code:
    # a name in quotes, an f-string pattern, or, where a cell glues computed names, any name
    glued = "\n".join(stripped)
    patterns = [re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(f)) for f in re.findall(r'f"([^"]*\{[^"]*)"', glued)]
    computed = re.search(r"\bglue\(\s*[A-Za-z_]\w*\s*[,+]", glued) is not None
    for name in set(re.findall(r"\*\*`([^`]+)`\*\*", markdown)):
        found = f'"{name}"' in glued or any(re.fullmatch(p, name) for p in patterns) or computed
        assert found, f"{chapter.name}: the prose names **`{name}`**, which no code cell glues"


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
        chapter_nb = nbformat.read(tmp_path / f"{path.stem}.ipynb", as_version=4)
        assert "Solution to Exercise" in "\n".join(c.source for c in chapter_nb.cells)  # ... which the chapter has
    table = book.student_notebook_table(cfg)
    for path in chapters:
        assert book.colab_url(cfg, path, student=True) in table
        assert book.colab_url(cfg, path, student=True).endswith(f"/notebooks/student/{path.stem}.ipynb")
    assert book.STUDENT_MARKER in (ROOT / "chapters" / "course.md").read_text()
