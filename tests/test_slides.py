"""scripts/slides.py: the session decks follow the course page and show the chapter's own numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import slides  # noqa: E402
from _common import notebook_chapters  # noqa: E402


def test_sessions_come_from_the_course_page():
    found = slides.sessions()
    assert [s.number for s in found] == list(range(1, len(found) + 1))
    chapters = [c for s in found for c in s.chapters]
    reading_order = [p.stem for p in notebook_chapters()]
    assert chapters == reading_order  # every chapter once, in the book's reading order (_toc.yml)
    assert all((ROOT / "chapters" / f"{c}.md").exists() for c in chapters)


def test_a_session_without_chapters_is_an_error(tmp_path):
    course = tmp_path / "course.md"
    course.write_text("### Session 1: one\n\nNo chapters here.\n")
    with pytest.raises(slides.SlidesError, match="session 1 links to no chapter"):
        slides.sessions(course)
    course.write_text("# Nothing\n")
    with pytest.raises(slides.SlidesError, match="no '### Session"):
        slides.sessions(course)


def test_glued_numbers_are_filled_in_with_the_prose_format():
    out = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "0.851234"},
                                 metadata={"scrapbook": {"name": "gap", "mime_prefix": "application/papermill.record/"}})
    cell = nbformat.v4.new_code_cell("glue('gap', 0.851234, display=False)", outputs=[out])
    values = slides.glued_values(nbformat.v4.new_notebook(cells=[cell]))
    assert values == {"gap": "0.851234"}
    assert slides.fill_glue("gap {glue:text}`gap:.2f` and {glue:text}`gap`", values, "x") == "gap 0.85 and 0.851234"
    with pytest.raises(slides.SlidesError, match="never glued"):
        slides.fill_glue("{glue:text}`other:.2f`", values, "ch.ipynb")


def test_a_deck_has_a_figure_slide_with_its_sentence(tmp_path):
    """A tiny executed chapter: title + objectives, a section, its figure with the sentence before it."""
    import base64

    png = base64.b64encode(b"\x89PNG fake").decode()
    md = lambda s, **kw: nbformat.v4.new_markdown_cell(s, **kw)  # noqa: E731
    nb = nbformat.v4.new_notebook(cells=[
        md("# The cone effect"),
        md("```{admonition} Overview\n:class: tip\n**Objectives.** After this chapter you can\n\n- measure a cone;\n\n"
           "**Prerequisites.** none\n```"),
        md("## 1. Random MLPs\n\nA first paragraph about {glue:text}`r:.2f`.\n\nMore text."),
        md("The figure shows the cone: look at the right."),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})]),
        nbformat.v4.new_code_cell("glue('r', 0.5)", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/plain": "0.5"}, metadata={"scrapbook": {"name": "r", "mime_prefix": ""}})]),
        md("## Exercises\n\nSomething."),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})]),
        md("## Summary\n\n- cones are narrow."),
    ])
    (tmp_path / "chapters").mkdir()
    nbformat.write(nb, tmp_path / "chapters" / "01_cone_effect.ipynb")
    deck = slides.chapter_slides("01_cone_effect", tmp_path)
    assert [s.title for s in deck] == ["The cone effect", "1. Random MLPs", "1. Random MLPs", "Summary"]
    assert "measure a cone" in deck[0].body and "Prerequisites" not in deck[0].body
    assert deck[1].body == "A first paragraph about 0.50." and deck[1].image is None
    assert deck[2].image == png and deck[2].body == "The figure shows the cone: look at the right."
    html = slides.render_deck(slides.Session(1, "cones", ["01_cone_effect"]), deck, "gapbook")
    assert html.count("<section") == 1 + len(deck) and "revealjs/dist/reveal.js" in html
    assert "cdn" not in html.lower() and "../_static/mathjax/tex-mml-chtml.js" in html


def test_math_is_kept_for_mathjax():
    out = slides._md_to_html("the identity $R^2 < 1$ and\n\n$$\\|\\Delta\\|_2$$\n\nwith *emphasis*")
    assert "\\(R^2 &lt; 1\\)" in out and "\\[\\|\\Delta\\|_2\\]" in out and "<em>emphasis</em>" in out
