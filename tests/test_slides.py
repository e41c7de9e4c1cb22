"""scripts/slides.py: the session decks follow the course page and show the chapter's own numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import re

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


def _tiny_chapter(tmp_path):
    """A tiny executed chapter 1: title, question, objectives, a section with a formula, a run-live
    figure followed by its result paragraph and a hidden claim, an exercise with a short answer."""
    import base64

    png = base64.b64encode(b"\x89PNG fake").decode()
    md = lambda s, **kw: nbformat.v4.new_markdown_cell(s, **kw)  # noqa: E731
    nb = nbformat.v4.new_notebook(cells=[
        md("# The cone effect"),
        md("```{admonition} Overview\n:class: tip\n**Objectives.** After this chapter you can\n\n- measure a cone;\n\n"
           "**Prerequisites.** none\n```"),
        md("Networks map inputs somewhere. Do random networks already build a cone? We find out."),
        md("## 1. Random MLPs\n\nA multilayer perceptron of depth $L$ with unit\nvectors $\\hat x = x / \\lVert x\n\\rVert$ "
           "computes\n\n$$\nz = W h\n$$\n\nwhere {glue:text}`r:.2f` is R.\n\nMore text."),
        md("The figure shows the cone: look at the right."),
        nbformat.v4.new_code_cell("plot()", metadata={"tags": ["run-live"]},
                                  outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})]),
        md("- **Depth 1 has no cone** (0.01).\n- **ReLU builds it.**"),
        nbformat.v4.new_code_cell('claim("depth 1 has no cone", a < 0.05, a=a)\nclaim(f"{x} is odd", True)',
                                  metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("glue('r', 0.5)", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/plain": "0.5"}, metadata={"scrapbook": {"name": "r", "mime_prefix": ""}})]),
        md("## Exercises\n\n```{exercise} Derive the identity\n:label: ex-cone-identity\n\nDerive $R$.\n```\n\n"
           "```{admonition} Short answer\n:class: dropdown\n\nExpand the square.\n```"),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": png})]),
        md("## Summary\n\n- cones are narrow."),
    ])
    (tmp_path / "chapters").mkdir()
    nbformat.write(nb, tmp_path / "chapters" / "01_cone_effect.ipynb")
    return png


def test_a_deck_has_the_question_a_figure_with_its_finding_the_exercise_and_notes(tmp_path):
    png = _tiny_chapter(tmp_path)
    session = slides.Session(1, "cones", ["01_cone_effect"], plan=[("0–10", "Chapter 1, section 1: MLPs. Run live."),
                                                                    ("10–20", "In class: {ref}`ex-cone-identity`.")],
                             in_class=["ex-cone-identity"])
    deck = slides.chapter_slides("01_cone_effect", tmp_path, session=session)
    assert [s.title for s in deck] == ["Chapter 1: The cone effect", "1. Random MLPs", "1. Random MLPs",
                                       "In class: Exercise 1.2: Derive the identity", "Summary"]  # the book's number for the label
    title, section, figure, exercise, summary = deck
    assert title.body.startswith("**The question.** Do random networks already build a cone?")
    assert "measure a cone" in title.body and "Prerequisites" not in title.body
    assert any(n.startswith("**Plan:** 0–10 min: Chapter 1, section 1") for n in title.notes)
    # the paragraph keeps its formula (it ends without a colon) and its inline math across a line break
    assert section.body.startswith("A multilayer perceptron") and "$$\nz = W h\n$$" in section.body
    assert any("Run live" not in n and "0.50 is R" in n for n in section.notes)  # glued numbers filled in
    # the figure: the chapter's own claim as its finding; the look-at sentence and the result in the notes
    assert figure.image == png and figure.body == "Depth 1 has no cone."
    assert "**Look at:** The figure shows the cone: look at the right." in figure.notes
    assert any(n.startswith("**Run live**") for n in figure.notes)
    assert any("**Depth 1 has no cone** (0.01)" in n for n in figure.notes)
    assert exercise.body == "Derive $R$." and any("Expand the square." in n for n in exercise.notes)
    assert all(s.notes for s in deck)
    html = slides.render_deck(session, deck, "gapbook")
    assert html.count("<section") == 1 + len(deck) and "revealjs/dist/reveal.js" in html
    assert html.count('<aside class="notes">') == 1 + len(deck) and "RevealNotes" in html
    assert "cdn" not in html.lower() and "../_static/mathjax/tex-mml-chtml.js" in html
    raw = re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]", "", html, flags=re.S)  # what MathJax typesets
    assert "$" not in raw and "lVert" not in raw


def test_a_figure_without_a_claim_keeps_the_bold_result_or_its_sentence():
    deck = [slides.Slide("A", "same words"), slides.Slide("A", "same words", image="x"),
            slides.Slide("B", "other"), slides.Slide("B", "other")]
    out = slides._dedupe(deck)
    assert [(s.title, s.body, s.image) for s in out] == [("A", "same words", "x"), ("B", "other", None),
                                                      ("B (2)", "other", None)]
    assert slides._bold_leads("- **Depth 1 has no cone here** (x)\n- **ReLU builds it layer by layer.**") == [
        "Depth 1 has no cone here", "ReLU builds it layer by layer"]
    # bold words that only name the subject: the item's first clause is the finding
    assert slides._bold_leads("- **Linear separability** on a few pairs is nearly uninformative: at n = 16 ...") == [
        "Linear separability on a few pairs is nearly uninformative"]
    assert slides.claims_in('%%time\nclaim("a holds", True)\nclaim(f"{b}", True)\nclaim("(solution) c", True)') == [
        "a holds"]


def test_sessions_read_the_plan_the_exercises_in_class_and_the_homework():
    s1, s2 = slides.sessions()[:2]
    assert s1.in_class == ["ex-cone-identity", "ex-why-tau"]
    assert "ex-cone-linear" in s1.homework and "ex-separable-close" in s2.in_class
    assert s1.plan[0][0] == "0–10" and all(re.fullmatch(r"\d+–\d+", m) for m, _ in s1.plan)


def test_math_is_kept_for_mathjax():
    out = slides._md_to_html("the identity $R^2 < 1$ and\n\n$$\\|\\Delta\\|_2$$\n\nwith *emphasis*")
    assert "\\(R^2 &lt; 1\\)" in out and "\\[\\|\\Delta\\|_2\\]" in out and "<em>emphasis</em>" in out
    # inline math that the prose wraps over a line break (session 2's broken slide), then more math
    out = slides._md_to_html("unit vectors $\\hat x = x / \\lVert x\n\\rVert$. Image $v_i$ and caption $t_i$.")
    assert "$" not in out and out.count("\\(") == 3 and "\\(\\hat x = x / \\lVert x\n\\rVert\\)" in out
