"""Browser test of the built book (run by `make test` after the HTML build).

Every page of ``$GAPBOOK_SITE`` (default ``_build/html``) is opened in headless Chromium; a page
with a traceback or error output, a broken image, unrendered math or a dead internal link fails.
The checker itself is tested on a deliberately broken site first, so it cannot pass vacuously.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import browser_check  # noqa: E402

SITE = Path(os.environ.get("GAPBOOK_SITE", ROOT / "_build" / "html"))

needs_browser = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="Chromium not installed (make test installs it)",
)


@pytest.fixture(scope="module")
def driver():
    d = browser_check.make_driver()
    yield d
    d.quit()


@needs_browser
def test_checker_catches_a_broken_page(tmp_path, driver):
    (tmp_path / "index.html").write_text(
        "<html><body><h1>ok</h1><a href='page.html'>page</a></body></html>"
    )
    (tmp_path / "page.html").write_text(
        "<html><body>"
        "<div class='cell_output'><div class='output traceback'>Traceback (most recent call last): ValueError</div></div>"
        "<img src='missing.png'>"
        "<a href='nowhere.html'>dead</a> <a href='index.html#nope'>bad anchor</a>"
        "<span class='math'>\\(x^2\\)</span>"
        "<article class='bd-article' style='width:300px'><table style='width:600px'><tr><td>wide</td></tr></table>"
        "</article></body></html>"
    )
    results = browser_check.check_site(tmp_path, tmp_path / "shots", driver=driver)
    assert results["index.html"] == []
    problems = " | ".join(results["page.html"])
    assert "error output" in problems
    assert "broken image 'missing.png'" in problems
    assert "dead link 'nowhere.html'" in problems
    assert "no anchor #nope" in problems
    assert "not rendered" in problems
    assert "1 table(s) wider than the 300 px text column (widest 600 px)" in problems
    assert (tmp_path / "shots" / "page.png").exists()


@needs_browser
def test_every_page_of_the_built_book_is_clean(driver):
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    shots = SITE.parent / "screenshots"
    results = browser_check.check_site(SITE, shots, driver=driver)
    bad = {page: probs for page, probs in results.items() if probs}
    assert len(results) >= 3
    assert not bad, "\n".join(f"{p}: {'; '.join(v)}" for p, v in bad.items())
    assert all((shots / (p.replace("/", "__").removesuffix(".html") + ".png")).exists()
               for p in results if p != "index.html")


def test_every_chapter_page_shows_figures():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    chapters = sorted((SITE / "chapters").glob("0*.html"))
    assert chapters, "no chapter pages in the built book"
    for page in chapters:
        figures = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.(?:png|svg)"', page.read_text())
        figures = [f for f in figures if "colab-badge" not in f]
        assert figures, f"{page.name} shows no figure"


_DOUBLED_REF = re.compile(r"\b(?:exercises?|sections?|chapters?)\s+(Exercise|Section|Chapter)\b", re.I)


def _page_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_cross_references_read_once():
    """'(exercise Exercise 7)': a reference's own text already says what it is; no page doubles it."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    assert _DOUBLED_REF.search(_page_text("see exercise <a href='#x'><span>Exercise 7</span></a>"))
    bad = [f"{page.relative_to(SITE)}: ...{m.group(0)}..." for page in sorted(SITE.rglob("*.html"))
           if "_static" not in page.parts for m in [_DOUBLED_REF.search(_page_text(page.read_text()))] if m]
    assert not bad, "\n".join(bad)


@needs_browser
def test_figures_are_readable_at_the_page_width(driver):
    """At a 1280 px window, every chapter figure is shown at >= 73 % of its size: its smallest font
    (gapkit.plotting.MIN_FONT_PT at the inline 110 dpi) stays above 8.5 screen pixels."""
    from gapkit import plotting

    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    driver.set_window_size(1280, 900)
    bad = []
    for page in sorted((SITE / "chapters").glob("0*.html")):
        driver.get(page.resolve().as_uri())
        sizes = driver.execute_script(
            "return Array.from(document.querySelectorAll('.cell_output img'))"
            ".filter(i => !i.src.includes('colab-badge') && !i.classList.contains('gapbook-explorable-still'))"
            ".map(i => [i.naturalWidth, i.clientWidth]);")  # an explorable's still is hidden once it draws
        assert sizes, f"{page.name}: no figure found"
        for natural, shown in sizes:
            font_px = plotting.MIN_FONT_PT * 110 / 72 * shown / natural
            if natural > plotting.MAX_WIDTH_IN * 110 * 1.05 or font_px < 8.5:
                bad.append(f"{page.name}: a figure {natural} px wide is shown at {shown} px "
                           f"(smallest font ≈ {font_px:.1f} px)")
    assert not bad, "\n".join(bad)


@needs_browser
def test_every_session_has_slides_that_run_offline(driver):
    """slides/session-N.html for every session of the course page: reveal.js starts from the local
    copy, every figure loads, the math is typeset by the book's own MathJax."""
    import time

    sys.path.insert(0, str(ROOT / "scripts"))
    import slides

    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    sessions = slides.sessions()
    assert len(sessions) >= 3
    shots = SITE.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    course = (SITE / "chapters" / "course.html").read_text()
    for s in sessions:
        deck = SITE / "slides" / f"session-{s.number}.html"
        assert deck.exists(), f"no slides for session {s.number}"
        assert f"../slides/session-{s.number}.html" in course, f"the course page does not link session {s.number}"
        driver.get(deck.resolve().as_uri())
        deadline = time.time() + 30
        while time.time() < deadline and not driver.execute_script(
                "return typeof Reveal !== 'undefined' && Reveal.isReady()"):
            time.sleep(0.2)
        assert driver.execute_script("return Reveal.isReady()"), f"session {s.number}: reveal.js did not start"
        total = driver.execute_script("return Reveal.getTotalSlides()")
        assert total >= 5 * len(s.chapters), f"session {s.number}: only {total} slides"
        broken = driver.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
        assert broken == 0, f"session {s.number}: {broken} figures did not load"
        n_figures = driver.execute_script("return document.querySelectorAll('img.figure').length")
        assert n_figures >= len(s.chapters), f"session {s.number}: {n_figures} figures"
        if "\\(" in deck.read_text():
            while time.time() < deadline and not driver.execute_script(
                    "return document.querySelectorAll('mjx-container').length"):
                time.sleep(0.2)
            assert driver.execute_script("return document.querySelectorAll('mjx-container').length"), \
                f"session {s.number}: math was not typeset (MathJax missing?)"
        driver.save_screenshot(str(shots / f"slides-session-{s.number}.png"))


def test_the_course_plan_shows_a_time_for_every_cell_it_runs_live():
    """The course page's live-cell table: a row per run-live cell of every session, each with the time
    this build measured (the Colab column is filled when the simulation ran before the HTML build)."""
    import slides
    from live_timings import timing_table

    course = SITE / "chapters" / "course.html"
    if not course.exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    text = _page_text(course.read_text())
    expected = timing_table(slides.sessions(), executed=ROOT / "_build" / "site" / "chapters")
    rows = [line for line in expected.splitlines() if re.match(r"\| \d+ \|", line)]
    untimed = [row for row in rows if row.split("|")[-3].strip() == "—"]
    assert rows and not untimed, f"run-live cells without a time in this build: {untimed}"
    assert "gapbook: live-timings" not in course.read_text(), "the marker was not replaced"
    times = re.findall(r"\d+\.\d (?:s|min)", text)
    assert len(times) >= len(rows), f"the course page shows {len(times)} times for {len(rows)} run-live cells"
    for s in slides.sessions():
        assert f"session {s.number}:" in text, f"no total for session {s.number}"


def _deck_dir(tmp_path: Path) -> Path:
    """A folder laid out like the site's slides/ (reveal.js beside the decks, MathJax at ../_static)."""
    import slides

    out = tmp_path / "site" / "slides"
    dist = slides.revealjs_dist()
    for sub in ("dist", "plugin"):
        shutil.copytree(dist / sub, out / "revealjs" / sub)
    return out


@needs_browser
def test_deck_checker_catches_raw_tex_empty_and_repeated_slides(tmp_path, driver):
    import slides

    out = _deck_dir(tmp_path)
    session = slides.Session(9, "broken", ["x"])
    deck = [slides.Slide("A", "unit vectors \\hat x = x / \\lVert x \\rVert", notes=["say"]),  # TeX outside math
            slides.Slide("B", "", notes=["say"]),  # renders with its title only: fine
            slides.Slide("C", "same", notes=["say"]), slides.Slide("C", "same", notes=["say"]),
            slides.Slide("D", "no notes")]
    (out / "session-9.html").write_text(slides.render_deck(session, deck, "book").replace("<h3>B</h3>", ""))
    problems = browser_check.check_deck(out / "session-9.html", driver)
    assert any(p.startswith("session-9.html slide 2: raw TeX '\\\\hat'") for p in problems), problems
    assert "session-9.html slide 3: an empty slide" in problems
    assert any(p.startswith("session-9.html slide 5: the same text as slide 4") for p in problems)
    assert "session-9.html slide 6: no speaker notes" in problems
    assert len(problems) == 4, problems


@needs_browser
def test_every_deck_steps_through_clean_slides(driver):
    """Every slide of every session's deck, in headless Chromium: no raw TeX, no empty slide, no two
    slides alike, every figure loaded, speaker notes on every slide."""
    import slides

    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    problems = []
    for s in slides.sessions():
        problems += browser_check.check_deck(SITE / "slides" / f"session-{s.number}.html", driver)
    assert not problems, "\n".join(problems)


def _explorable_page(folder: Path, name: str, explorer, *, content_root: str = "./") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"<html data-content_root='{content_root}'><head><meta charset='utf-8'></head>"
                               f"<body style='width:760px'>{explorer.html()}</body></html>")


@needs_browser
def test_explorable_checker_catches_blank_frozen_and_wrong_figures(tmp_path, driver):
    import plotly

    from gapkit.explorable import Explorable, Frame, Layer

    def explorer(moving: bool, numbers=(0.25, 0.75)):
        frames = [Frame(v, [[Layer("points", [0.0, v if moving else 0.0], [0.0, 1.0], "#0072B2")]],
                        {"v": n if moving else numbers[0]}) for v, n in zip((0.0, 1.0), numbers)]
        return Explorable(frames, parameter="v", titles=["test"], xlabel="x", ylabel="y", xrange=(-1, 2),
                          yrange=(-1, 2), alt="two points")

    (tmp_path / "_static").mkdir()
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", tmp_path / "_static")
    (tmp_path / "index.html").write_text("<html><body>index</body></html>")
    _explorable_page(tmp_path, "good.html", explorer(True).expect_glued("1", {"v": "v_last"}))
    _explorable_page(tmp_path, "wrong.html", explorer(True).expect_glued("1", {"v": "v_last"}))
    _explorable_page(tmp_path, "frozen.html", explorer(False))
    _explorable_page(tmp_path, "blank.html", explorer(True), content_root="nowhere/")
    glued = {"good.html": {"v_last": 0.75}, "wrong.html": {"v_last": 0.5}}
    results = browser_check.check_explorables(tmp_path, glued, driver, tmp_path / "shots")
    assert results["good.html"] == []
    assert "the chapter's v_last is '0.500'" in " ".join(results["wrong.html"])
    assert "frozen" in " ".join(results["frozen.html"])
    assert "blank" in " ".join(results["blank.html"])
    assert (tmp_path / "shots" / "good__gapbook-explorable-test__last.png").exists()


@needs_browser
def test_explorable_figures_move_and_show_the_chapters_numbers(driver):
    """Every explorable figure of the built book, moved to its last step with the network off."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    executed = SITE.parent / "site" / "chapters"
    glued = {f"chapters/{nb.stem}.html": browser_check.glued_values(nb) for nb in executed.glob("*.ipynb")}
    shots = SITE.parent / "screenshots" / "explorable"
    results = browser_check.check_explorables(SITE, glued, driver, shots)
    for page in sorted(results):
        size = (SITE / page).stat().st_size
        print(f"{page}: {size / 1e6:.2f} MB, {len(list(shots.glob(page.replace('/', '__').removesuffix('.html') + '__*__last.png')))} explorable figure(s)")
    assert {"chapters/01_cone_effect.html", "chapters/04_lambda_shift.html"} <= set(results)
    bad = {page: probs for page, probs in results.items() if probs}
    assert not bad, "\n".join(f"{p}: {'; '.join(v)}" for p, v in bad.items())


def test_the_notebooks_number_the_exercises_as_the_built_book_does():
    """Exercise 3.2 in the book is Exercise 3.2 in its Colab notebook and its student copy (issue 28)."""
    import nbformat

    import colab_notebook

    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` or `make test` (which builds it first)")
    notebooks = ROOT / "_build" / "site" / "_extra" / "notebooks"
    pages = sorted((SITE / "chapters").glob("0*.html"))
    assert pages
    for page in pages:
        book = re.findall(r'<span class="caption-number">Exercise ([\d.]+) </span>', page.read_text())
        n = int(page.stem.split("_")[0])
        assert book and all(x.startswith(f"{n}.") for x in book), f"{page.name}: the book numbers {book}"
        for nb_path in (notebooks / f"{page.stem}.ipynb", notebooks / "student" / f"{page.stem}.ipynb"):
            nb = nbformat.read(nb_path, as_version=4)
            problems = colab_notebook.reading_problems(nb, student=nb_path.parent.name == "student", exercises=book)
            assert problems == [], f"{nb_path.relative_to(ROOT)}: {problems}"
