"""One reveal.js deck per course session, generated from the executed chapters.

``python scripts/book.py html`` calls :func:`build_slides` before the Jupyter Book build: the decks
go to ``_build/site/_extra/slides/session-<N>.html`` and are published as ``slides/session-<N>.html``
beside the book, with reveal.js (the copy that the ``sphinx-revealjs`` wheel ships, so nothing is
fetched from a CDN), its speaker-notes plugin, and the book's own MathJax.

The sessions, their chapters, their timing and their exercises are read from the course page
(``chapters/course.md``: each ``### Session N: title`` heading, the ``{doc}`` links of the
paragraph under it, the rows of its plan table and its homework line), so the plan and the decks
cannot drift apart. A deck holds:

- the session's title, its chapters, and in the speaker notes the whole plan with its minutes;
- per chapter, its question (the first question its introduction asks) and objectives;
- one slide per section (``##`` heading) with the section's first paragraph, and the equation or
  list that paragraph introduces;
- one slide per figure with its *finding in one line*: the first of the chapter's own claims
  (``gapkit.notebook.claim``, checked by the build on the numbers it computed) that follows the
  figure; where none follows, the bold lead of the paragraph that states the result, else the
  sentence that says what to look at;
- every Markdown cell tagged ``slide`` (an author's explicit choice), whole;
- the exercise the plan works in class, with its number as in the book (``Exercise 1.3``);
- the chapter's summary, and at the end the homework.

Every slide carries speaker notes (reveal.js ``<aside class="notes">``, shown by the ``S`` key):
what to say (the sentences of the book the slide leaves out), the cells to run live and the time
each took in this build, the minutes the plan gives, and for an exercise its short answer.

Glued numbers are filled in from the executed notebook; citations, references and admonitions
become plain text by the same conversion as the Colab notebooks (:mod:`colab_notebook`).
"""

from __future__ import annotations

import ast
import base64
import html
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import ROOT, SITE, atomic_write_text, load_config

SLIDES_DIR = SITE / "_extra" / "slides"
SLIDE_TAG = "slide"
LIVE_TAG = "run-live"
COURSE = ROOT / "chapters" / "course.md"
_SESSION = re.compile(r"^### Session (\d+): (.+)$", re.M)
_DOC = re.compile(r"\{doc\}`([^`]+)`")
_REF = re.compile(r"\{ref\}`([^`<>]+)`")
_GLUE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")
# $$…$$ (any lines), or $…$ within one paragraph: a line break inside inline math is allowed (the
# chapters wrap their prose), a blank line is not
_MATH = re.compile(r"\$\$.+?\$\$|\$(?!\$)(?:\\.|[^$\\\n]|\n(?![ \t]*\n))+?\$", re.S)
_ROW = re.compile(r"^\|\s*(?P<minutes>\d+\s*[–-]\s*\d+)\s*\|\s*(?P<activity>.+?)\s*\|\s*$", re.M)


class SlidesError(RuntimeError):
    """The course page or an executed chapter cannot be made into slides."""


@dataclass
class Session:
    number: int
    title: str
    chapters: list[str]
    plan: list[tuple[str, str]] = field(default_factory=list)  # (minutes, activity) rows, MyST
    in_class: list[str] = field(default_factory=list)  # exercise labels worked in class
    homework: list[str] = field(default_factory=list)  # exercise labels given as homework


@dataclass
class Slide:
    title: str
    body: str = ""  # Markdown
    image: str | None = None  # base64 PNG
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # Markdown paragraphs: the speaker notes

    def text(self) -> str:
        """What the audience reads: title and body."""
        return f"{self.title}\n{self.body}".strip()


def sessions(course: Path = COURSE) -> list[Session]:
    """The course plan's sessions: the chapters its first paragraph links to, its plan table, the
    exercises it works in class (``In class: {ref}`label```) and its homework line."""
    text = course.read_text()
    found = []
    heads = list(_SESSION.finditer(text))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        block = text[m.end():end]
        block = re.split(r"^## ", block, maxsplit=1, flags=re.M)[0]  # the next part of the page
        paragraph = block.strip().split("\n\n", 1)[0]
        chapters = [d.rsplit("/", 1)[-1] for d in _DOC.findall(paragraph)]
        if not chapters:
            raise SlidesError(f"course.md: session {m.group(1)} links to no chapter in its first paragraph")
        plan = [(r["minutes"].replace("-", "–").replace(" ", ""), r["activity"]) for r in _ROW.finditer(block)]
        in_class = []
        for _, activity in plan:
            if "in class" in activity.lower():
                after = re.split(r"[Ii]n class", activity, maxsplit=1)[1]
                in_class += _REF.findall(after)
        homework = re.search(r"^Homework:(.*?)(?:\n\n|\Z)", block, re.M | re.S)
        found.append(Session(int(m.group(1)), m.group(2).strip(), chapters, plan, in_class,
                             _REF.findall(homework.group(1)) if homework else []))
    if not found:
        raise SlidesError("course.md has no '### Session N: title' headings to make slides from")
    return found


def glued_values(nb: Any) -> dict[str, str]:
    """name → the text/plain of every value a chapter glued (``myst_nb.glue``)."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = out.get("data", {})
            plain = data.get(meta.get("mime_prefix", "") + "text/plain", data.get("text/plain"))
            if plain is not None:
                values[meta["name"]] = plain if isinstance(plain, str) else "".join(plain)
    return values


def fill_glue(text: str, values: dict[str, str], where: str) -> str:
    """Replace every ``{glue:text}`name:fmt``` by the glued value, formatted as the prose asks."""

    def one(m: re.Match) -> str:
        name, fmt = m.group(1).strip(), m.group(2)
        if name not in values:
            raise SlidesError(f"{where}: the prose shows {name!r}, which the executed chapter never glued")
        raw = values[name]
        if not fmt:
            return raw.strip("'\"")
        try:
            return format(float(raw), fmt)
        except ValueError:
            return raw.strip("'\"")

    return _GLUE.sub(one, text)


def _paragraphs(md: str) -> list[str]:
    """Blank-line separated blocks, a ``$$`` display equation kept whole."""
    out: list[str] = []
    for p in re.split(r"\n\s*\n", md):
        if not p.strip():
            continue
        if out and out[-1].count("$$") % 2 == 1:  # inside a display equation with a blank line in it
            out[-1] += "\n\n" + p.strip()
        else:
            out.append(p.strip())
    return out


def _prose(p: str) -> bool:
    return not p.startswith(("#", "```", "<", "|", ">", "$$"))


def _first_paragraph(md: str) -> str:
    """A section's first paragraph of prose, with what it introduces: the equation(s) right after it,
    or the list after a paragraph ending in ``:``."""
    paras = _paragraphs(md)
    for i, p in enumerate(paras):
        if not _prose(p):
            continue
        out = [p]
        j = i + 1
        while j < len(paras) and paras[j].startswith("$$"):  # the formula the sentence introduces
            out.append(paras[j])
            j += 1
        if len(out) == 1 and p.endswith(":") and j < len(paras):  # what the colon introduces: a list
            out.append(paras[j])
        return "\n\n".join(out)
    return ""


def _last_sentence_block(md: str) -> str:
    """The paragraph nearest before a figure: where the book says what to look at."""
    paras = [p for p in _paragraphs(md) if not p.startswith(("#", "```", "<", "|"))]
    return paras[-1] if paras else ""


def claims_in(source: str) -> list[str]:
    """The sentences of the ``claim("...", ...)`` calls of a code cell, in order (plain strings only;
    the checks of an exercise's solution, ``"(solution) ..."``, left out)."""
    code = "\n".join(line for line in source.split("\n") if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        first = node.args[0]
        if name == "claim" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            if not first.value.startswith("(solution)"):
                found.append((node.lineno, node.col_offset, first.value))
    return [s for _, _, s in sorted(found)]


def _sentence(claim: str) -> str:
    """A claim as a finding on a slide: capitalised, ending with a full stop."""
    s = claim.strip()
    s = s[:1].upper() + s[1:]
    return s if s.endswith((".", "!", "?")) else s + "."


def _bold_leads(md: str) -> list[str]:
    """The findings that lead the items of a result paragraph: a bold sentence
    (``- **Depth 1 has no cone** ...``), or, where the bold words only name what the item is about
    (``- **Linear separability** on a few pairs is nearly uninformative: ...``), the item's first
    clause, up to its first colon or full stop."""
    out = []
    for item in re.split(r"(?m)^(?=[-*]\s|\d+\.\s)", md):
        m = re.match(r"(?:[-*]\s+|\d+\.\s+)?(?:The |A )?\*\*([^*]+)\*\*", item.strip())
        if not m:
            continue
        lead = m.group(1).strip().rstrip(":.")
        if len(lead.split()) < 4:  # a label: the item's own sentence says the finding
            text = re.sub(r"\s+", " ", item.strip().lstrip("-* ").replace("**", ""))
            lead = re.split(r"(?<=[^.]{12})[:.](?:\s|$)", text, maxsplit=1)[0].strip()
            if len(lead) > 160 or "$" in lead:
                continue
        out.append(lead)
    return out


def _question(intro: str) -> tuple[str, str]:
    """What a chapter sets out to answer, from its introduction: ``("The question", <the first
    question it asks>)``, else ``("This chapter", <its sentence "This chapter ...">)``, else ``("", "")``."""
    # a link's text only (its URL has dots), without a question mark of its own (a chapter's title)
    prose = [re.sub(r"\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1).replace("?", ""), p)
             for p in _paragraphs(re.sub(r"(?m)^>.*$", "", intro)) if re.match(r"[A-Z]", p)]
    sentences = []
    for p in prose:
        p = re.sub(r"\b(al|e\.g|i\.e|cf|vs)\.", lambda m: m.group(1).replace(".", "\0") + "\0", re.sub(r"\s+", " ", p))
        sentences += [s.strip().replace("\0", ".") for s in re.split(r"(?<=[.?!])\s+(?=[A-Z])", p)]
    if question := next((s for s in sentences if s.endswith("?")), ""):
        return "The question", question
    if aim := next((s for s in sentences if s.startswith("This chapter")), ""):
        return "This chapter", aim
    return "", ""


def _section_number(title: str) -> int | None:
    m = re.match(r"(\d+)\.", title)
    return int(m.group(1)) if m else None


def _plan_rows(session: Session, chapter: int | None, section: int | None = None) -> list[str]:
    """The plan's rows for a chapter (and a section of it): ``"10–35 min: ..."`` (MyST)."""
    single = len(session.chapters) == 1
    rows = []
    for minutes, activity in session.plan:
        mentions = re.search(rf"\bChapter {chapter}\b", activity) is not None
        if not (mentions or (single and chapter is not None)):
            continue
        if section is not None:
            spans = re.findall(r"[Ss]ections? (\d+)(?:\s*[–-]\s*(\d+))?", activity)
            if not any(int(a) <= section <= int(b or a) for a, b in spans):
                continue
        rows.append(f"{minutes} min: {activity}")
    return rows


@dataclass
class _Exercise:
    number: str  # "1.3"
    title: str
    body: str
    short_answer: str = ""


def _exercises(plain: Any) -> dict[str, _Exercise]:
    """number → the exercises of a converted chapter notebook (head, text, folded short answer)."""
    out: dict[str, _Exercise] = {}
    text = "\n\n".join(c.source for c in plain.cells if c.cell_type == "markdown")
    heads = list(re.finditer(r"(?m)^\*\*Exercise (?P<n>[\d.]+)(?:: (?P<title>.+?))?\*\*\s*$", text))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        rest = text[m.end():end]
        body = re.split(r"\n\s*\n(?=<details>|> \*\*|#)", rest, maxsplit=1)[0].strip()
        short = re.search(r"<summary><b>Short answer</b></summary>\s*(.*?)\s*</details>", rest, re.S)
        out[m["n"]] = _Exercise(m["n"], m["title"] or "", body, short.group(1).strip() if short else "")
    return out


def _say(paragraphs: list[str]) -> list[str]:
    """Speaker notes of what to say: the book's own paragraphs, under one heading (a list stays a list)."""
    return ["**Say:**\n\n" + "\n\n".join(paragraphs)] if paragraphs else []


def _live_note(cell: Any) -> str:
    from live_timings import cell_seconds

    seconds = cell_seconds(cell)
    first = next((ln for ln in cell.source.split("\n") if ln.strip() and not ln.startswith("#")), "")
    took = f"{seconds:.1f} s in this build" if seconds is not None else "not timed in this build"
    return f"**Run live** (cell tagged `run-live`, {took}): `{first.strip()[:70]}`"


def chapter_slides(stem: str, site_dir: Path = SITE, cfg: dict[str, Any] | None = None,
                   session: Session | None = None) -> list[Slide]:
    """The slides of one executed chapter (``site_dir/chapters/<stem>.ipynb``) for ``session``."""
    import nbformat
    from colab_notebook import chapter_number, convert_notebook, convert_text, site_index

    path = site_dir / "chapters" / f"{stem}.ipynb"
    if not path.exists():
        raise SlidesError(f"no executed chapter {path}: run `python scripts/book.py execute` first")
    nb = nbformat.read(path, as_version=4)
    values = glued_values(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = fill_glue(cell.source, values, f"{stem}.ipynb")
    site = site_index(cfg or load_config(), ROOT)
    plain = convert_notebook(nb, f"chapters/{stem}", site)
    number = chapter_number(f"chapters/{stem}")
    session = session or Session(0, "", [stem])
    slides: list[Slide] = []
    title: Slide | None = None  # the chapter's title slide
    intro: list[str] = []  # the chapter's prose before its first section
    section_slide: Slide | None = None
    figure: Slide | None = None  # the last figure slide, while claims and findings may follow it
    figure_claims: list[str] = []
    figure_after: list[str] = []  # the prose right after the figure: its result, with numbers
    used: set[str] = set()
    section, last_md, done, exercises = "", "", False, False
    summary: Slide | None = None
    in_intro = False  # between the chapter's title and its first section
    def plan(rows: list[str]) -> list[str]:
        return [f"**Plan:** {convert_text(r, 'chapters/course', site)}" for r in rows]

    def close_figure() -> None:
        nonlocal figure
        if figure is None:
            return
        fresh = [c for c in figure_claims if c not in used]
        leads = [b for p in figure_after[:2] for b in _bold_leads(p)]
        look = figure.body
        if fresh:
            used.add(fresh[0])
            figure.body = _sentence(fresh[0])
        elif leads:
            figure.body = _sentence(leads[0])
        figure.notes[:0] = [f"**Look at:** {look}"] if look else []
        figure.notes += _say(figure_after[:2])
        if figure_claims:
            figure.notes.append("**Checked in this build** (the chapter's claims): "
                                + "; ".join(_sentence(c) for c in figure_claims))
        figure = None
        figure_claims.clear()
        figure_after.clear()

    for cell in plain.cells:
        if done:
            break
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            md = cell.source
            if "remove-cell" in tags:
                continue
            if SLIDE_TAG in tags:
                slides.append(Slide(section or stem, md, notes=["An author's slide: the chapter's own words."]))
            objectives = re.search(r"\*\*Objectives\.\*\*(.*?)(?:\n> \*\*|\Z)", md, re.S)
            if title is not None and objectives and "objectives" not in title.classes:
                title.classes.append("objectives")
                title.body += "\n\n**Objectives.**" + re.sub(r"(?m)^> ?", "", objectives.group(1)).rstrip()
            for block in re.split(r"(?m)^(?=#{1,2} )", md):
                head = re.match(r"^(#{1,2}) (.+)$", block, re.M)
                if head and head.group(1) == "#":
                    section = head.group(2).strip()
                    where = f"Chapter {number}: " if number is not None else ""
                    title = Slide(f"{where}{section}", classes=["chapter-title"])
                    title.notes += plan(_plan_rows(session, number))
                    slides.append(title)
                    intro.append(block[head.end():])
                    in_intro = True
                    continue
                if head:
                    close_figure()
                    in_intro = False
                    section = head.group(2).strip()
                    exercises = section.lower().startswith("exercises")
                    done = section.lower().startswith("what's next")
                    if exercises or done:
                        section_slide = None
                        continue
                    rest = block[head.end():]
                    if section.lower() == "summary":
                        summary = Slide("Summary", rest.strip(), notes=[
                            "Recap the findings in the chapter's words; ask which one surprised them."])
                        slides.append(summary)
                        section_slide = None
                    else:
                        first = _first_paragraph(rest)
                        section_slide = Slide(section, first)
                        others = [p for p in _paragraphs(rest) if _prose(p) and p not in first][:2]
                        section_slide.notes += _say(others)
                        rows = _plan_rows(session, number, _section_number(section))
                        section_slide.notes += plan(rows)
                        if not rows and _section_number(section) is not None:
                            section_slide.notes.append("**Plan:** no minutes of the session's plan name this "
                                                       "section: present it in a sentence and leave it as reading.")
                        slides.append(section_slide)
                    continue
                if figure is not None:
                    figure_after.extend(p for p in _paragraphs(block) if _prose(p) or p.startswith(("-", "*")))
                elif in_intro:
                    intro.append(block)
            last_md = md
            continue
        if exercises or cell.cell_type != "code":
            continue
        if "remove-cell" in tags:
            if figure is not None:
                figure_claims.extend(claims_in(cell.source))
            continue
        if "glued-text" in tags:
            continue
        if LIVE_TAG in tags and section_slide is not None:
            section_slide.notes.append(_live_note(cell))
        if "remove-output" in tags:
            continue
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                close_figure()
                figure = Slide(section, _last_sentence_block(last_md), image="".join(png))
                if LIVE_TAG in tags:
                    figure.notes.append(_live_note(cell))
                slides.append(figure)
    close_figure()
    if title is not None:
        kind, question = _question("\n\n".join(intro))
        title.body = (f"**{kind}.** {question}" if question else "") + title.body
        title.body = title.body.strip()
        first_intro = next((p for p in _paragraphs("\n\n".join(intro)) if re.match(r"[A-Z]", p)), "")
        if first_intro:
            title.notes[:0] = _say([first_intro])
    # the exercises the plan works in class, before the chapter's summary
    found = _exercises(plain)
    in_class = []
    for label in session.in_class:
        target = site.labels.get(label)
        n = target.text.removeprefix("Exercise ") if target else None
        if target is None or target.doc != f"chapters/{stem}" or n not in found:
            continue
        ex = found[n]
        s = Slide(f"In class: Exercise {n}" + (f": {ex.title}" if ex.title else ""), ex.body, classes=["exercise"])
        s.notes += plan([f"{minutes} min: {activity}" for minutes, activity in session.plan
                         if label in activity and "in class" in activity.lower()])
        if ex.short_answer:
            s.notes.append(f"**Short answer** (not in the student copies): {ex.short_answer}")
        s.notes.append(f"Label `{label}`: the same number in the book, the Colab notebooks and the student copies.")
        in_class.append(s)
    at = slides.index(summary) if summary in slides else len(slides)
    slides[at:at] = in_class
    return slides


def homework_slide(session: Session, site: Any, plains: dict[str, Any]) -> Slide | None:
    """The session's homework: each exercise with its number and title."""
    items = []
    for label in session.homework:
        target = site.labels.get(label)
        if target is None:
            raise SlidesError(f"course.md: session {session.number}'s homework names {label!r}, no exercise label")
        n = target.text.removeprefix("Exercise ")
        ex = _exercises(plains[target.doc]).get(n) if target.doc in plains else None
        items.append(f"- Exercise {n}" + (f": {ex.title}" if ex and ex.title else "") + f" (`{label}`)")
    if not items:
        return None
    return Slide("Homework", "\n".join(items), classes=["homework"], notes=[
        "Code exercises end in a stub in the student copies (NotImplementedError) and a check cell that "
        "says whether the answer is right; paper exercises are answered on paper."])


def _dedupe(slides: list[Slide]) -> list[Slide]:
    """No two slides read the same: a figure whose sentence repeats the slide before it joins that
    slide; a slide whose text repeats an earlier one is numbered."""
    out: list[Slide] = []
    for s in slides:
        prev = out[-1] if out else None
        if (s.image and prev is not None and not prev.image and prev.title == s.title
                and s.body and s.body in prev.body):
            prev.image, prev.notes = s.image, prev.notes + s.notes
            continue
        if s.image and s.body and any(s.body == o.body for o in out):
            s.notes.insert(0, f"**Look at:** {s.body}")
            s.body = ""
        if not s.body and not s.image:
            continue
        seen = {o.text() for o in out}
        k = 2
        base = s.title
        while s.text() in seen:
            s.title = f"{base} ({k})"
            k += 1
        out.append(s)
    return out


def _md_to_html(md: str) -> str:
    from markdown_it import MarkdownIt

    maths: list[str] = []

    def keep(m: re.Match) -> str:
        maths.append(m.group(0))
        return f"@@MATH{len(maths) - 1}@@"

    out = MarkdownIt("commonmark", {"html": True}).enable("table").render(_MATH.sub(keep, md))
    for i, tex in enumerate(maths):
        display = tex.startswith("$$")
        body = html.escape(tex[2:-2] if display else tex[1:-1])
        out = out.replace(f"@@MATH{i}@@", f"\\[{body}\\]" if display else f"\\({body}\\)")
    return out


def render_deck(session: Session, slides: list[Slide], book_title: str, plan_html: str = "") -> str:
    """One self-contained reveal.js page (figures embedded, assets beside it), speaker notes included."""
    opening = plan_html or "<p>The plan of the session is on the course page.</p>"
    parts = [f'<section class="session-title"><h1>Session {session.number}</h1>'
             f"<h2>{html.escape(session.title)}</h2><p>{html.escape(book_title)}</p>"
             f'<aside class="notes">{opening}</aside></section>']
    for s in slides:
        inner = [f"<h3>{html.escape(s.title)}</h3>"]
        if s.image:
            inner.append(f'<img class="figure" alt="{html.escape(s.title)}" src="data:image/png;base64,{s.image}">')
        if s.body:
            kind = "finding" if s.image else "body"
            inner.append(f'<div class="{kind}">{_md_to_html(s.body)}</div>')
        if s.notes:
            inner.append(f'<aside class="notes">{_md_to_html(chr(10).join(n + chr(10) for n in s.notes))}</aside>')
        parts.append(f'<section class="{" ".join(s.classes)}">{"".join(inner)}</section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Session {session.number}: {html.escape(session.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="revealjs/dist/reset.css">
<link rel="stylesheet" href="revealjs/dist/reveal.css">
<link rel="stylesheet" href="revealjs/dist/theme/white.css">
<style>
.reveal h1, .reveal h2, .reveal h3 {{ text-transform: none; }}
.reveal h3 {{ font-size: 1.1em; }}
.reveal .body {{ font-size: 0.55em; text-align: left; }}
.reveal .finding {{ font-size: 0.6em; font-weight: bold; text-align: center; }}
.reveal section.exercise .body {{ font-size: 0.6em; }}
.reveal img.figure {{ max-height: 58vh; margin: 0.2em auto; border: 0; box-shadow: none; }}
.reveal table {{ font-size: 0.5em; }}
</style></head>
<body><div class="reveal"><div class="slides">
{chr(10).join(parts)}
</div></div>
<script src="revealjs/dist/reveal.js"></script>
<script src="revealjs/plugin/math/math.js"></script>
<script src="revealjs/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({{hash: true, slideNumber: true, width: 1280, height: 800,
  mathjax3: {{mathjax: "../_static/mathjax/tex-mml-chtml.js", tex: {{inlineMath: [["\\\\(", "\\\\)"]]}}}},
  plugins: [RevealMath.MathJax3, RevealNotes]}});
</script></body></html>
"""


def revealjs_dist() -> Path:
    """reveal.js as the ``sphinx-revealjs`` wheel ships it (from PyPI: no CDN at build or view time)."""
    try:
        import sphinx_revealjs
    except ImportError as err:
        raise SlidesError("the slides need reveal.js from the sphinx-revealjs package: "
                          "pip install -r requirements-lock.txt (or pip install sphinx-revealjs)") from err
    root = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    if not (root / "dist" / "reveal.js").exists():
        raise SlidesError(f"sphinx-revealjs has no reveal.js at {root}: reinstall it")
    return root


def session_deck(session: Session, site_dir: Path = SITE, cfg: dict[str, Any] | None = None) -> str:
    """The HTML of one session's deck."""
    import nbformat
    from colab_notebook import convert_notebook, convert_text, site_index

    cfg = cfg or load_config()
    site = site_index(cfg, ROOT)
    slides = []
    for stem in session.chapters:
        slides += chapter_slides(stem, site_dir, cfg, session)
    plains = {}
    for label in session.homework:
        target = site.labels.get(label)
        path = site_dir / f"{target.doc}.ipynb" if target else None
        if target and target.doc not in plains and path.exists():
            plains[target.doc] = convert_notebook(nbformat.read(path, as_version=4), target.doc, site)
    if (hw := homework_slide(session, site, plains)) is not None:
        slides.append(hw)
    plan = "\n".join(f"- {minutes} min: {activity}" for minutes, activity in session.plan)
    plan_html = _md_to_html(f"**The plan** (90 minutes):\n\n{convert_text(plan, 'chapters/course', site)}") if plan else ""
    plan_html = re.sub(r"<a [^>]*>(.*?)</a>", r"\1", plan_html)  # the notes are read, not clicked
    return render_deck(session, _dedupe(slides), cfg.get("title", "gapbook"), plan_html)


def build_slides(site_dir: Path = SITE, out: Path = SLIDES_DIR) -> list[Path]:
    """Write every session's deck and reveal.js into ``out``; returns the decks written."""
    cfg = load_config()
    dist = revealjs_dist()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("dist", "plugin"):
        shutil.copytree(dist / sub, out / "revealjs" / sub, dirs_exist_ok=True)
    shutil.copy2(dist / "LICENSE", out / "revealjs" / "LICENSE")
    written = []
    for session in sessions():
        deck = out / f"session-{session.number}.html"
        atomic_write_text(deck, session_deck(session, site_dir, cfg))
        deck.chmod(0o644)  # a published page, readable by the web server
        written.append(deck)
    return written


def slide_links() -> str:
    """The course page's list of decks (raw HTML: the decks are files beside the book, not pages)."""
    items = "".join(f'<li><a href="../slides/session-{s.number}.html">Session {s.number}: '
                    f"{html.escape(s.title)}</a></li>" for s in sessions())
    return f"<ul class=\"session-slides\">{items}</ul>"


def png_bytes(slide: Slide) -> bytes:
    """The figure of a slide, decoded (tests)."""
    return base64.b64decode(slide.image or "")
