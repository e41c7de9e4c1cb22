"""One reveal.js deck per course session, generated from the executed chapters.

``python scripts/book.py html`` calls :func:`build_slides` before the Jupyter Book build: the decks
go to ``_build/site/_extra/slides/session-<N>.html`` and are published as ``slides/session-<N>.html``
beside the book, with reveal.js (the copy that the ``sphinx-revealjs`` wheel ships, so nothing is
fetched from a CDN) and the book's own MathJax.

The sessions and their chapters are read from the course page (``chapters/course.md``: each
``### Session N: title`` heading and the ``{doc}`` links of the paragraph under it), so the plan
and the decks cannot drift apart. A deck holds, per chapter:

- a title slide with the chapter's objectives;
- one slide per section (``##`` heading) with the section's first paragraph;
- one slide per figure, with the sentence that precedes its code cell (the book's "what to see");
- every Markdown cell tagged ``slide`` (an author's explicit choice), whole;
- the chapter's summary.

Glued numbers are filled in from the executed notebook; citations, references and admonitions
become plain text by the same conversion as the Colab notebooks (:mod:`colab_notebook`).
"""

from __future__ import annotations

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
_SESSION = re.compile(r"^### Session (\d+): (.+)$", re.M)
_DOC = re.compile(r"\{doc\}`([^`]+)`")
_GLUE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)


class SlidesError(RuntimeError):
    """The course page or an executed chapter cannot be made into slides."""


@dataclass
class Session:
    number: int
    title: str
    chapters: list[str]


@dataclass
class Slide:
    title: str
    body: str = ""  # Markdown
    image: str | None = None  # base64 PNG
    classes: list[str] = field(default_factory=list)


def sessions(course: Path = ROOT / "chapters" / "course.md") -> list[Session]:
    """The course plan's sessions, each with the chapters its first paragraph links to."""
    text = course.read_text()
    found = []
    heads = list(_SESSION.finditer(text))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        paragraph = text[m.end():end].strip().split("\n\n", 1)[0]
        chapters = [d.rsplit("/", 1)[-1] for d in _DOC.findall(paragraph)]
        if not chapters:
            raise SlidesError(f"course.md: session {m.group(1)} links to no chapter in its first paragraph")
        found.append(Session(int(m.group(1)), m.group(2).strip(), chapters))
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
    return [p.strip() for p in re.split(r"\n\s*\n", md) if p.strip()]


def _first_paragraph(md: str) -> str:
    """A section's first paragraph of prose, with the equation or list it introduces (``...:``)."""
    paras = _paragraphs(md)
    for i, p in enumerate(paras):
        if not p.startswith(("#", "```", "<", "|", ">")):
            if p.endswith(":") and i + 1 < len(paras):  # what the colon introduces: an equation, a list
                return p + "\n\n" + paras[i + 1]
            return p
    return ""


def _last_sentence_block(md: str) -> str:
    """The paragraph nearest before a figure: where the book says what to look at."""
    paras = [p for p in _paragraphs(md) if not p.startswith(("#", "```", "<", "|"))]
    return paras[-1] if paras else ""


def chapter_slides(stem: str, site_dir: Path = SITE, cfg: dict[str, Any] | None = None) -> list[Slide]:
    """The slides of one executed chapter (``site_dir/chapters/<stem>.ipynb``)."""
    import nbformat
    from colab_notebook import convert_notebook, site_index

    path = site_dir / "chapters" / f"{stem}.ipynb"
    if not path.exists():
        raise SlidesError(f"no executed chapter {path}: run `python scripts/book.py execute` first")
    nb = nbformat.read(path, as_version=4)
    values = glued_values(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = fill_glue(cell.source, values, f"{stem}.ipynb")
    plain = convert_notebook(nb, f"chapters/{stem}", site_index(cfg or load_config(), ROOT))
    slides: list[Slide] = []
    title: Slide | None = None  # the chapter's title slide, until its objectives are found
    section, last_md, done, exercises = "", "", False, False
    for cell in plain.cells:
        if done:
            break
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            md = cell.source
            if "remove-cell" in tags:
                continue
            if SLIDE_TAG in tags:
                slides.append(Slide(section or stem, md))
            objectives = re.search(r"\*\*Objectives\.\*\*(.*?)(?:\n> \*\*|\Z)", md, re.S)
            if title is not None and objectives and not title.body:
                title.body = re.sub(r"(?m)^> ?", "", objectives.group(1)).strip()
            for block in re.split(r"(?m)^(?=#{1,2} )", md):
                head = re.match(r"^(#{1,2}) (.+)$", block, re.M)
                if head and head.group(1) == "#":
                    section = head.group(2).strip()
                    title = Slide(section, classes=["chapter-title"])
                    slides.append(title)
                elif head:
                    section = head.group(2).strip()
                    exercises = section.lower().startswith("exercises")
                    done = section.lower().startswith("what's next")
                    if exercises or done:
                        continue
                    rest = block[head.end():]
                    if section.lower() == "summary":
                        slides.append(Slide("Summary", rest.strip()))
                    else:
                        slides.append(Slide(section, _first_paragraph(rest)))
            last_md = md
        elif exercises:
            continue
        elif cell.cell_type == "code" and "remove-cell" not in tags and "remove-output" not in tags:
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if png:
                    slides.append(Slide(section, _last_sentence_block(last_md), image="".join(png)))
    return slides


def _md_to_html(md: str) -> str:
    from markdown_it import MarkdownIt

    maths: list[str] = []

    def keep(m: re.Match) -> str:
        maths.append(m.group(0))
        return f"@@MATH{len(maths) - 1}@@"

    out = MarkdownIt("commonmark", {"html": True}).enable("table").render(_MATH.sub(keep, md))
    for i, tex in enumerate(maths):
        body = html.escape(tex.strip("$"))
        out = out.replace(f"@@MATH{i}@@", f"\\[{body}\\]" if tex.startswith("$$") else f"\\({body}\\)")
    return out


def render_deck(session: Session, slides: list[Slide], book_title: str) -> str:
    """One self-contained reveal.js page (figures embedded, assets beside it)."""
    parts = [f'<section class="session-title"><h1>Session {session.number}</h1>'
             f"<h2>{html.escape(session.title)}</h2><p>{html.escape(book_title)}</p></section>"]
    for s in slides:
        inner = [f"<h3>{html.escape(s.title)}</h3>"]
        if s.image:
            inner.append(f'<img class="figure" alt="{html.escape(s.title)}" src="data:image/png;base64,{s.image}">')
        if s.body:
            inner.append(f'<div class="{"caption" if s.image else "body"}">{_md_to_html(s.body)}</div>')
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
.reveal .body, .reveal .caption {{ font-size: 0.55em; text-align: left; }}
.reveal img.figure {{ max-height: 62vh; margin: 0.2em auto; border: 0; box-shadow: none; }}
.reveal table {{ font-size: 0.5em; }}
</style></head>
<body><div class="reveal"><div class="slides">
{chr(10).join(parts)}
</div></div>
<script src="revealjs/dist/reveal.js"></script>
<script src="revealjs/plugin/math/math.js"></script>
<script>
Reveal.initialize({{hash: true, slideNumber: true, width: 1280, height: 800,
  mathjax3: {{mathjax: "../_static/mathjax/tex-mml-chtml.js", tex: {{inlineMath: [["\\\\(", "\\\\)"]]}}}},
  plugins: [RevealMath.MathJax3]}});
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
        slides = [s for stem in session.chapters for s in chapter_slides(stem, site_dir, cfg)]
        deck = out / f"session-{session.number}.html"
        atomic_write_text(deck, render_deck(session, slides, cfg.get("title", "gapbook")))
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
