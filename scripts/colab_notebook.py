"""The published notebooks: each chapter as a plain notebook that reads well in Google Colab.

The *Open in Colab* badge of every chapter opens ``notebooks/<chapter>.ipynb`` from the published
site. :func:`publish_notebook` makes that notebook from the chapter's MyST source. Colab renders
plain Markdown, HTML and ``$``/``$$`` math but none of MyST's roles and directives, so each of them
becomes plain Markdown:

``{glue:text}`name:.3f``` (and every other ``{glue}`` role)
    The paragraph (a table, a list, a folded solution: one block of Markdown) that quotes glued
    values becomes a code cell titled ``#@title Text with this run's numbers`` with Colab's
    ``cellView: "form"``, so Colab shows its title and output and folds its code. The code calls
    ``gapkit.notebook.show_text`` on the paragraph, its values written ``{{name:.3f}}``, which shows
    the paragraph as Markdown with the values this run glued (without myst-nb,
    ``gapkit.notebook.glue`` keeps them and prints nothing). A value that a paragraph quotes before
    the cell that computes it has run shows as an ellipsis and is filled in when that cell runs.
    Such cells are tagged ``glued-text``.
``{cite:p}`a,b``` and ``{cite:t}`a```
    "([Liang et al., 2022](link))" and "[Liang et al. (2022)](link)", from ``references.bib``. The
    link is the entry's DOI, URL or arXiv identifier (a ``doi``, ``url`` or ``eprint`` field, or an
    ``arXiv:…`` / ``doi:…`` mention in another field) and otherwise the book's bibliography page.
``{ref}`label```, ``{ref}`text <label>```, ``{numref}``, ``{doc}`page```, ``{eq}``, ``{math}``
    A reference inside the same chapter becomes its text ("Exercise 2"); one to another page
    links to the published HTML page (and anchor). ``{math}`x``` becomes ``$x$``.
admonitions (``{admonition} Title``, ``{note}``, ``{tip}``, ...)
    A blockquote whose first line is the bold title; one with ``:class: dropdown`` folds into a
    ``<details>`` block instead.
``{exercise}``
    A bold line "**Exercise C.N: Title**" (C the chapter's number, from its file name, N the
    exercise's place in the chapter: the numbers the book shows, ``_ext/chapter_numbers.py``),
    then the text.
``{solution}`` (prose only)
    ``<details><summary>Solution to Exercise N</summary> … </details>``: folded, one click opens it.
``{solution-start}`` … ``{solution-end}`` (a gated solution, prose and code cells)
    A ``<details>`` element cannot span notebook cells, so the solution's prose folds into
    ``<details>`` blocks (one per stretch of Markdown, "(continued)" after the first), and each of
    its code cells starts with ``#@title Solution to Exercise N { display-mode: "form" }`` and
    carries Colab's ``cellView: "form"`` metadata. Colab shows such a cell as one title line with
    a *Show code* toggle, the code folded like the prose; in plain Jupyter the same line is a
    comment that names the solution. The cells still run with *Run all*, so later cells that use
    their results work.
``(label)=`` lines and ``$$ … $$ (label)``
    Label lines are removed; a labelled equation gets ``\\tag{N}``.

Code cells keep their source and tags. A cell the book hides (``remove-cell``: the hidden checks of
the page's claims, the values the prose quotes) gets a first line
``#@title Checks of this page's claims`` (or ``#@title Numbers the text quotes``, or
``#@title Set-up (hidden in the book)``) and ``cellView: "form"``: it still runs, and a claim
that this run's numbers do not support still warns, but Colab shows only its title. The hidden
Colab install cell stays the first code cell, unchanged. The notebook's metadata asks Colab
for a GPU runtime and an open table of contents.

A role or directive this module does not know raises :class:`PublishError` naming it and the
chapter, and :func:`leftover_myst` finds any markup a conversion left behind, so a new kind of markup
cannot reach students raw.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from _common import COLAB_MARKER, ROOT, load_config, to_notebook, toc_files, source_path

__all__ = [
    "PublishError", "Reference", "SiteIndex", "Target", "convert_markdown", "convert_notebook", "convert_text",
    "leftover_myst", "publish_notebook", "site_index", "site_url",
]


class PublishError(ValueError):
    """MyST markup that cannot be turned into plain Markdown (unknown role, label, citation, ...)."""


# --------------------------------------------------------------------------- the site: urls, labels, citations
def site_url(cfg: dict[str, Any]) -> str:
    """Base URL of the published HTML book, ending in ``/``.

    ``repository.site_url`` in ``_config.yml`` when set; otherwise the GitHub Pages address of
    ``repository.url`` (``https://github.com/<owner>/<name>`` -> ``https://<owner>.github.io/<name>/``).

    Raises
    ------
    PublishError
        When neither gives an address.
    """
    repo = cfg.get("repository", {})
    if repo.get("site_url"):
        return repo["site_url"].rstrip("/") + "/"
    m = re.match(r"https?://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?$", repo.get("url", ""))
    if not m:
        raise PublishError(f"cannot tell where the book is published from repository.url = {repo.get('url')!r}: "
                           "set repository.site_url in _config.yml")
    owner, name = m.groups()
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{name}/"
    return f"https://{owner}.github.io/{name}/"


@dataclass(frozen=True)
class Target:
    """What a label names: its page (docname, e.g. ``chapters/01_cone_effect``), text and anchor."""

    doc: str
    text: str
    anchor: str | None = None


@dataclass(frozen=True)
class Reference:
    """One ``references.bib`` entry, as the prose cites it."""

    authors: str  # "Liang et al.", "Wang and Isola"
    year: str
    link: str | None


@dataclass
class SiteIndex:
    """What conversions need to know about the whole book."""

    url: str  # base URL of the published site, ending in "/"
    titles: dict[str, str] = field(default_factory=dict)  # docname -> page title
    labels: dict[str, Target] = field(default_factory=dict)
    references: dict[str, Reference] = field(default_factory=dict)
    bibliography_doc: str | None = None  # the page with the {bibliography} directive
    book_title: str = ""

    def page_url(self, doc: str, anchor: str | None = None) -> str:
        """Published HTML address of a page (and anchor)."""
        return f"{self.url}{doc}.html" + (f"#{anchor}" if anchor else "")


_AUTHOR_BRACES = re.compile(r"[{}]")


def _author_text(persons: list[Any]) -> str:
    last = [_AUTHOR_BRACES.sub("", " ".join(p.prelast_names + p.last_names)) for p in persons]
    if len(last) == 1:
        return last[0]
    if len(last) == 2 and last[1] != "others":
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


def _reference_link(fields: dict[str, str]) -> str | None:
    if fields.get("doi"):
        return "https://doi.org/" + fields["doi"]
    if fields.get("url"):
        return fields["url"]
    if fields.get("eprint") and fields.get("archiveprefix", "arxiv").lower() == "arxiv":
        return "https://arxiv.org/abs/" + fields["eprint"]
    text = " ".join(fields.values())
    if m := re.search(r"arXiv:\s*(\d{4}\.\d{4,5})", text, re.I):
        return f"https://arxiv.org/abs/{m.group(1)}"
    if m := re.search(r"doi:\s*(10\.\d{4,9}/[^\s,;}]+)", text, re.I):
        return f"https://doi.org/{m.group(1)}"
    return None


def read_references(bib: Path) -> dict[str, Reference]:
    """Every entry of a BibTeX file as a :class:`Reference` (authors, year, link).

    Raises
    ------
    PublishError
        When an entry has no author or year.
    """
    from pybtex.database import parse_file

    out = {}
    for key, entry in parse_file(str(bib)).entries.items():
        fields = {k.lower(): str(v) for k, v in entry.fields.items()}
        persons = entry.persons.get("author") or entry.persons.get("editor")
        if not persons or not fields.get("year"):
            raise PublishError(f"{bib.name}: entry {key!r} needs an author and a year to be cited in a notebook")
        out[key] = Reference(_author_text(persons), fields["year"], _reference_link(fields))
    return out


def site_index(cfg: dict[str, Any] | None = None, root: Path = ROOT) -> SiteIndex:
    """Titles, labels (sections, exercises, equations) and citations of every page in ``_toc.yml``."""
    cfg = cfg or load_config(root)
    index = SiteIndex(url=site_url(cfg), book_title=cfg.get("title", ""))
    for bib in cfg.get("bibtex_bibfiles", []):
        index.references.update(read_references(root / bib))
    for entry in toc_files(root):
        path = source_path(entry, root)
        if path.suffix != ".md":
            continue
        doc = path.relative_to(root).with_suffix("").as_posix()
        _index_page(doc, _strip_front_matter(path.read_text()), index)
    return index


def _strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5:]
    return text


_LABEL_LINE = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
_EQ_LABEL = re.compile(r"^\s*\$\$\s*\((?P<label>[^()\s]+)\)\s*$")


def chapter_number(doc: str) -> int | None:
    """A chapter's number, from its file name (``chapters/03_measuring_the_gap`` -> 3); None for other pages."""
    m = re.match(r"(\d+)_", posixpath.basename(doc))
    return int(m.group(1)) if m else None


def exercise_number(doc: str, n: int) -> str:
    """The number the book gives the ``n``-th exercise of a page: ``3.2`` in chapter 3, ``2`` elsewhere."""
    chapter = chapter_number(doc)
    return f"{chapter}.{n}" if chapter is not None else str(n)


def _index_page(doc: str, text: str, index: SiteIndex) -> None:
    """Record a page's title and the targets of its labels."""
    pending: list[str] = []
    n_exercise = n_equation = 0
    for block in parse_blocks(text):
        if isinstance(block, Directive):
            if block.name == "exercise":
                n_exercise += 1
                if "label" in block.options:
                    index.labels[block.options["label"]] = Target(doc, f"Exercise {exercise_number(doc, n_exercise)}",
                                                         block.options["label"])
            elif block.name == "bibliography":
                index.bibliography_doc = doc
            elif block.name == "math" and "label" in block.options:
                n_equation += 1
                index.labels[block.options["label"]] = Target(doc, f"({n_equation})", block.options["label"])
            continue
        if isinstance(block, CodeFence):
            continue
        for line in block.split("\n"):
            if m := _LABEL_LINE.match(line):
                pending.append(m["label"])
            elif m := _HEADING.match(line):
                title = m["text"]
                if len(m["hashes"]) == 1 and doc not in index.titles:
                    index.titles[doc] = title
                for label in pending:
                    index.labels[label] = Target(doc, title, None if len(m["hashes"]) == 1 else label)
                pending = []
            elif m := _EQ_LABEL.match(line):
                n_equation += 1
                index.labels[m["label"]] = Target(doc, f"({n_equation})", m["label"])
            elif line.strip() and pending:
                for label in pending:  # a label on something other than a heading: its name is its text
                    index.labels[label] = Target(doc, label, label)
                pending = []


# --------------------------------------------------------------------------- blocks: text, code fences, directives
@dataclass
class Directive:
    """A fenced MyST directive: ```` ```{name} arg ```` (or ``:::{name}``), options and body."""

    name: str
    arg: str
    options: dict[str, str]
    body: str
    indent: str = ""


@dataclass
class CodeFence:
    """A plain fenced code block, passed through untouched."""

    text: str


_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s?(?P<value>.*)$")


def parse_blocks(text: str) -> list[str | Directive | CodeFence]:
    """Split Markdown into text, plain code fences and directives (bodies unparsed).

    Raises
    ------
    PublishError
        When a fence is never closed.
    """
    lines = text.split("\n")
    out: list[str | Directive | CodeFence] = []
    buf: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        info = m["info"].strip() if m else ""
        if not m or (m["fence"][0] == ":" and not info.startswith("{")):
            buf.append(lines[i])
            i += 1
            continue
        fence = m["fence"]
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise PublishError(f"the fence {lines[i].strip()!r} is never closed (add a line {fence!r})")
        if buf:
            out.append("\n".join(buf))
            buf = []
        if info.startswith("{") and "}" in info:
            out.append(_directive(info, lines[i + 1:j], m["indent"]))
        else:
            out.append(CodeFence("\n".join(lines[i:j + 1])))
        i = j + 1
    if buf:
        out.append("\n".join(buf))
    return out


def _directive(info: str, body_lines: list[str], indent: str) -> Directive:
    name, arg = info[1:info.index("}")], info[info.index("}") + 1:].strip()
    body_lines = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in body_lines]
    options: dict[str, str] = {}
    k = 0
    if body_lines and body_lines[0].strip() == "---":  # YAML option block
        import yaml

        end = next((n for n in range(1, len(body_lines)) if body_lines[n].strip() == "---"), None)
        if end is None:
            raise PublishError(f"directive {{{name}}}: its '---' option block is never closed")
        options = {str(a): str(b) for a, b in (yaml.safe_load("\n".join(body_lines[1:end])) or {}).items()}
        k = end + 1
    else:
        while k < len(body_lines) and (m := _OPTION.match(body_lines[k])):
            options[m["key"]] = m["value"].strip()
            k += 1
    body = "\n".join(body_lines[k:]).strip("\n")
    return Directive(name, arg, options, body, indent)


# --------------------------------------------------------------------------- inline roles
_ROLE = re.compile(r"(?P<word>\b[Ee]xercise\s+)?(?<!`)\{(?P<name>[A-Za-z][\w:-]*)\}`(?P<content>[^`]*)`")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
GLUE_ROLES = {"glue", "glue:", "glue:text", "glue:any", "glue:md"}
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso"}
GLUE_DIRECTIVES = {"glue", "glue:", "glue:any", "glue:figure", "glue:math", "glue:md"}
_GLUE_NAME = re.compile(r"[A-Za-z_][\w.-]*")
#: a glued value in converted Markdown, as gapkit.notebook.show_text reads it
GLUE_FIELD = re.compile(r"\{\{[A-Za-z_][\w.-]*(?::[^{}]*)?\}\}")
GLUED_TAG = "glued-text"  # a code cell that shows a paragraph with this run's numbers
FOLDED_TAG = "hidden-in-book"  # a remove-cell cell, folded into a titled form cell
GLUED_TITLE = "Text with this run's numbers"
CLAIMS_TITLE = "Checks of this page's claims"


@dataclass
class _Page:
    """One chapter being converted: its docname, the site, and the state of a gated solution."""

    doc: str
    site: SiteIndex
    solution: str | None = None  # the exercise label of the open gated solution
    solution_parts: int = 0  # stretches of its prose already written
    glued: list[str] = field(default_factory=list)  # glue names in order of appearance

    def fail(self, what: str) -> PublishError:
        return PublishError(f"{self.doc}: {what}")

    def exercise(self, label: str) -> str:
        target = self.site.labels.get(label)
        if target is None or not target.text.startswith("Exercise"):
            raise self.fail(f"a solution names {label!r}, which is no exercise label of the book "
                            f"(the exercise needs ':label: {label}')")
        return target.text if target.doc == self.doc else f"{target.text} of {self.site.titles.get(target.doc, target.doc)}"


def convert_inline(text: str, page: _Page) -> str:
    """Replace every MyST role in a stretch of Markdown text by plain Markdown.

    "exercise {ref}`label`" gives "Exercise 2", not "exercise Exercise 2".
    """

    def one(m: re.Match) -> str:
        text = _role(m["name"], m["content"], page)
        if m["word"] and not re.match(r"\[?Exercise\b", text):
            text = m["word"] + text
        return text

    return _ROLE.sub(one, text)


def _role(name: str, content: str, page: _Page) -> str:
    if name in GLUE_ROLES:
        key, _, fmt = (part.strip() for part in content.partition(":"))
        if not _GLUE_NAME.fullmatch(key) or "{" in fmt or "}" in fmt:
            raise page.fail(f"{{{name}}}`{content}`: a glued name is letters, digits, '_', '.' or '-' "
                            "and its format has no braces")
        if key not in page.glued:
            page.glued.append(key)
        return "{{" + key + (f":{fmt}" if fmt else "") + "}}"
    if name in ("cite", "cite:p", "cite:t"):
        refs = [_citation(k.strip(), page) for k in content.split(",") if k.strip()]
        if name == "cite:t":
            return ", ".join(f"[{r.authors} ({r.year})]({r.link})" if r.link else f"{r.authors} ({r.year})" for r in refs)
        return "(" + "; ".join(f"[{r.authors}, {r.year}]({r.link})" if r.link else f"{r.authors}, {r.year}"
                               for r in refs) + ")"
    if name == "math":
        return f"${content}$"
    if name in ("ref", "numref", "eq"):
        m = _EXPLICIT.match(content)
        text, label = (m["text"], m["target"]) if m else (None, content.strip())
        target = page.site.labels.get(label)
        if target is None:
            raise page.fail(f"{{{name}}}`{content}` names the label {label!r}, which no page of the book defines")
        text = text or target.text
        if name == "numref" and text and "%s" in text:
            text = text.replace("%s", target.text.removeprefix("Exercise ").strip("()"))
        if target.doc == page.doc:
            return text
        if not m and text.startswith("Exercise"):
            text += f" of {page.site.titles.get(target.doc, target.doc)}"
        return f"[{text}]({page.site.page_url(target.doc, target.anchor)})"
    if name == "doc":
        m = _EXPLICIT.match(content)
        text, ref = (m["text"], m["target"]) if m else (None, content.strip())
        base = "" if ref.startswith("/") else posixpath.dirname(page.doc)
        doc = posixpath.normpath(posixpath.join(base, ref.lstrip("/"))).removesuffix(".md").removesuffix(".ipynb")
        if doc not in page.site.titles:
            raise page.fail(f"{{doc}}`{content}` names {doc!r}, which is no page of _toc.yml")
        return f"[{text or page.site.titles[doc]}]({page.site.page_url(doc)})"
    raise page.fail(f"the MyST role {{{name}}} has no plain-Markdown form for Colab: add one to "
                    "scripts/colab_notebook.py (_role) or write the text without it")


def _citation(key: str, page: _Page) -> Reference:
    ref = page.site.references.get(key)
    if ref is None:
        raise page.fail(f"cites {key!r}, which is not in references.bib")
    if ref.link is None and page.site.bibliography_doc:
        return Reference(ref.authors, ref.year, page.site.page_url(page.site.bibliography_doc))
    return ref


# --------------------------------------------------------------------------- directives and text
def _text(text: str, page: _Page) -> str:
    """A stretch of Markdown without fences: label lines removed, equation labels tagged, roles replaced."""
    out = []
    for line in text.split("\n"):
        if _LABEL_LINE.match(line):
            continue
        if m := _EQ_LABEL.match(line):
            target = page.site.labels.get(m["label"])
            number = target.text.strip("()") if target else m["label"]
            out.append(f"\\tag{{{number}}}")
            out.append("$$")
            continue
        out.append(line)
    return convert_inline("\n".join(out), page)


def _quote(text: str) -> str:
    return "\n".join(f"> {ln}" if ln.strip() else ">" for ln in text.split("\n"))


def _details(summary: str, body: str) -> str:
    # the blank lines let Colab render the body as Markdown inside the HTML element
    return f"<details>\n<summary><b>{summary}</b></summary>\n\n{body}\n\n</details>"


def _render_directive(d: Directive, page: _Page) -> str:
    body = convert_markdown(d.body, page) if d.body else ""
    name = d.name
    if name == "admonition" or name in ADMONITIONS:
        title = convert_inline(d.arg, page) if d.arg else name.capitalize().replace("Seealso", "See also")
        if "dropdown" in d.options.get("class", "").split():
            return _details(title, body)
        return _quote(f"**{title}**" + (f"\n\n{body}" if body else ""))
    if name == "exercise":
        label = d.options.get("label")
        target = page.site.labels.get(label) if label else None
        number = target.text if target else "Exercise"
        if "nonumber" in d.options:
            number = "Exercise"
        head = f"**{number}: {convert_inline(d.arg, page)}**" if d.arg else f"**{number}**"
        return head + (f"\n\n{body}" if body else "")
    if name == "solution":
        return _details(f"Solution to {page.exercise(d.arg.split()[0])}" if d.arg else "Solution", body)
    if name == "math":
        tag = ""
        if "label" in d.options and (target := page.site.labels.get(d.options["label"])):
            tag = f"\n\\tag{{{target.text.strip('()')}}}"
        return f"$$\n{d.body}{tag}\n$$"
    if name == "bibliography":
        if page.site.bibliography_doc:
            return f"The references are listed in the [bibliography]({page.site.page_url(page.site.bibliography_doc)})."
        return ""
    if name in GLUE_DIRECTIVES:
        return "*(Shown by the code cell that computes it.)*"
    if name == "toggle":
        return _details("Show", body)
    raise page.fail(f"the MyST directive {{{name}}} has no plain-Markdown form for Colab: add one to "
                    "scripts/colab_notebook.py (_render_directive) or write the text without it")


def _indent(text: str, indent: str) -> str:
    return "\n".join(indent + ln if ln.strip() else ln for ln in text.split("\n")) if indent else text


def convert_markdown(text: str, page: _Page) -> str:
    """Plain Markdown for a piece of MyST with no gated solution in it (a directive body, say).

    Raises
    ------
    PublishError
        On a ``{solution-start}``/``{solution-end}`` inside it, an unknown role or directive, or an
        unknown label or citation.
    """
    parts = []
    for block in parse_blocks(text):
        if isinstance(block, CodeFence):
            parts.append(block.text)
        elif isinstance(block, Directive):
            if block.name in ("solution-start", "solution-end", "code-cell"):
                raise page.fail(f"{{{block.name}}} cannot be nested inside another directive")
            parts.append(_indent(_render_directive(block, page), block.indent))
        else:
            parts.append(_text(block, page))
    return "\n".join(parts)


def convert_text(text: str, doc: str, site: SiteIndex) -> str:
    """:func:`convert_markdown` of MyST text as it would read on page ``doc`` (the slides' notes, say)."""
    return convert_markdown(text, _Page(doc, site))


def _cell_segments(text: str, page: _Page) -> Iterator[tuple[str, str]]:
    """Split one markdown cell at gated-solution boundaries: ``("text" | "solution", markdown)``.

    Updates ``page.solution`` as ``{solution-start}`` opens and ``{solution-end}`` closes a solution.
    """
    pending: list[str] = []
    for block in parse_blocks(text):
        if isinstance(block, Directive) and block.name in ("solution-start", "solution-end"):
            if pending:
                yield ("solution" if page.solution else "text"), "\n".join(pending)
                pending = []
            if block.name == "solution-start":
                if page.solution:
                    raise page.fail(f"{{solution-start}} {block.arg} opens while the solution to "
                                    f"{page.solution!r} is still open (close it with {{solution-end}})")
                if not block.arg:
                    raise page.fail("{solution-start} needs the label of its exercise")
                page.exercise(block.arg.split()[0])  # fails clearly on an unknown label
                page.solution, page.solution_parts = block.arg.split()[0], 0
            else:
                if not page.solution:
                    raise page.fail("{solution-end} without a {solution-start} before it")
                page.solution = None
            continue
        pending.append(block if isinstance(block, str) else _raw(block))
    if pending:
        yield ("solution" if page.solution else "text"), "\n".join(pending)


def _raw(block: Directive | CodeFence) -> str:
    """A block back as MyST source (re-parsed by :func:`convert_markdown`)."""
    if isinstance(block, CodeFence):
        return block.text
    fence = "`" * max(3, max((len(r) + 1 for r in re.findall(r"`{3,}", block.body)), default=3))
    opts = "".join(f":{k}: {v}\n" for k, v in block.options.items())
    return _indent(f"{fence}{{{block.name}}} {block.arg}".rstrip() + f"\n{opts}\n{block.body}\n{fence}", block.indent)


def _solution_code(cell: Any, page: _Page) -> Any:
    return _form_title(cell, f"Solution to {page.exercise(page.solution)} (try the exercise first)", "solution")


def _form_title(cell: Any, title: str, tag: str) -> Any:
    """``cell`` as a Colab form cell: ``#@title`` first (after a cell magic), ``cellView: "form"``, ``tag``."""
    cell = copy.deepcopy(cell)
    lines = cell.source.split("\n")
    at = 1 if lines and lines[0].startswith("%%") else 0  # a cell magic must stay the first line
    cell.source = "\n".join(lines[:at] + [f'#@title {title} {{ display-mode: "form" }}'] + lines[at:])
    cell.metadata["cellView"] = "form"
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)
    return cell


def _hidden_title(source: str) -> str:
    """The title of a cell the book hides: what it does, for a reader who sees only the title."""
    if re.search(r"\bclaim\(", source):
        return CLAIMS_TITLE
    if re.search(r"\bglue\(", source):
        return "Numbers the text quotes (hidden in the book)"
    return "Set-up (hidden in the book)"


def _fold_hidden(cell: Any) -> Any:
    """A ``remove-cell`` code cell folded into a titled form cell (the install cell stays as it is)."""
    if (cell.cell_type != "code" or "remove-cell" not in cell.metadata.get("tags", [])
            or cell.source.startswith(COLAB_MARKER)):
        return cell
    return _form_title(cell, _hidden_title(cell.source), FOLDED_TAG)


def markdown_blocks(md: str) -> list[str]:
    """Split converted Markdown into blocks at blank lines, keeping together what a blank line may
    sit inside of: a fenced code block, a ``$$`` display equation, a ``<details>`` element. A
    heading is a block of its own."""
    blocks: list[list[str]] = [[]]
    fence: str | None = None
    in_math = False
    depth = 0
    for line in md.split("\n"):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            blocks[-1].append(line)
            continue
        if m := re.match(r"^[ \t>]*(`{3,}|~{3,})", line):
            fence = m.group(1)
            blocks[-1].append(line)
            continue
        if stripped.count("$$") % 2 == 1:
            in_math = not in_math
        depth += len(re.findall(r"<details\b", line)) - len(re.findall(r"</details>", line))
        if not stripped and not in_math and depth <= 0:
            if blocks[-1]:
                blocks.append([])
            continue
        if _HEADING.match(line) and not in_math and depth <= 0:
            if blocks[-1]:
                blocks.append([])
            blocks[-1].append(line)
            blocks.append([])
            continue
        blocks[-1].append(line)
    return ["\n".join(b) for b in blocks if b]


def _python_text(text: str) -> str:
    """A Python literal for ``text``: a raw triple-quoted string where one can hold it, else ``repr``."""
    import ast

    literal = f'r"""\n{text}\n"""'
    try:
        if ast.literal_eval(literal) == f"\n{text}\n":
            return literal
    except (SyntaxError, ValueError):
        pass
    return repr(text)


def glued_text_cell(md: str) -> Any:
    """A code cell that shows the Markdown ``md`` (with ``{{name:fmt}}`` fields) with this run's values."""
    import nbformat

    source = (f'#@title {GLUED_TITLE} {{ display-mode: "form" }}\n'
              f"from gapkit.notebook import show_text\n\nshow_text({_python_text(md)})")
    return nbformat.v4.new_code_cell(source, metadata={"cellView": "form", "tags": [GLUED_TAG]})


def _split_glued(cell: Any) -> list[Any]:
    """A converted Markdown cell as Markdown cells and, for each run of blocks that quote glued
    values, one :func:`glued_text_cell`."""
    if not GLUE_FIELD.search(cell.source):
        return [cell]
    out: list[Any] = []
    run: list[str] = []
    glued: list[str] = []

    def flush_text() -> None:
        if run:
            new = copy.deepcopy(cell)
            new.source = "\n\n".join(run)
            out.append(new)
            run.clear()

    def flush_glued() -> None:
        if glued:
            out.append(glued_text_cell("\n\n".join(glued)))
            glued.clear()

    for block in markdown_blocks(cell.source):
        if GLUE_FIELD.search(block):
            flush_text()
            glued.append(block)
        else:
            flush_glued()
            run.append(block)
    flush_text()
    flush_glued()
    return out


def convert_notebook(nb: Any, doc: str, site: SiteIndex) -> Any:
    """The Colab form of a chapter notebook (a new notebook; ``nb`` is left unchanged).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The chapter as jupytext reads it from its MyST source.
    doc : str
        Its docname, e.g. ``chapters/07_robustness``.
    site : SiteIndex
        The book's titles, labels and citations (:func:`site_index`).

    Raises
    ------
    PublishError
        On markup without a plain form, an unknown label or citation, or a gated solution left open.
    """
    import nbformat

    page = _Page(doc, site)
    out = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            cells.append(_solution_code(cell, page) if page.solution and cell.cell_type == "code"
                         else _fold_hidden(copy.deepcopy(cell)))
            continue
        if "{{" in cell.source:
            raise page.fail("Markdown holds '{{', which the published notebook reserves for glued values: "
                            "write '{ {' (or use a glue role)")
        pieces = []
        for kind, md in _cell_segments(cell.source, page):
            md = convert_markdown(md, page).strip("\n")
            if kind == "solution" and md.strip():
                suffix = " (continued)" if page.solution_parts else ""
                md = _details(f"Solution to {page.exercise(page.solution)}{suffix}", md)
                page.solution_parts += 1
            if md.strip():
                pieces.append(md)
        if pieces:
            new = copy.deepcopy(cell)
            new.source = "\n\n".join(pieces)
            cells.extend(_split_glued(new))
    if page.solution:
        raise page.fail(f"the solution to {page.solution!r} is never closed: add {{solution-end}}")
    for i, cell in enumerate(cells):  # stable ids: the same source gives the same notebook, byte for byte
        cell["id"] = f"cell-{i:03d}"
    out.cells = cells
    _add_reading_note(out, doc, page)
    out.metadata.pop("jupytext", None)  # no longer the MyST pairing's text form
    out.metadata["accelerator"] = "GPU"  # Colab opens it on a GPU runtime
    out.metadata["colab"] = {"provenance": [], "toc_visible": True, "gpuType": "T4"}
    nbformat.validate(out)
    return out


def _add_reading_note(nb: Any, doc: str, page: _Page) -> None:
    """Under the chapter title (the first ``# `` heading): where the chapter is, how to read its numbers."""
    site = page.site
    number = chapter_number(doc)
    where = f"Chapter {number} of" if number is not None else "Part of"
    note = (f"*{where} [{site.book_title or 'the book'}]({site.url}) "
            f"([this chapter online]({site.page_url(doc)})).")
    if page.glued:
        note += (f" Run the cells from the top (*Runtime > Run all*): a paragraph that quotes numbers "
                 f"is a cell titled *{GLUED_TITLE}*, which shows it with the numbers your run computed; "
                 f"the cells the book hides are folded under their titles (*{CLAIMS_TITLE}*).")
    if any("Solution to" in c.source for c in nb.cells):
        note += " Solutions are folded: try each exercise first, then click *Solution* to open it."
    note += "*"
    for cell in nb.cells:  # a notebook without a title gets no note
        if cell.cell_type == "markdown" and re.search(r"^# ", cell.source, re.M):
            cell.source = re.sub(r"^(# [^\n]*)", lambda m: f"{m.group(1)}\n\n{note}", cell.source, count=1, flags=re.M)
            return


def publish_notebook(path: Path, cfg: dict[str, Any] | None = None, root: Path = ROOT,
                     site: SiteIndex | None = None, doc: str | None = None) -> Any:
    """The notebook a chapter's Colab badge opens, converted from its MyST source.

    Parameters
    ----------
    path : Path
        The chapter's source (``chapters/<chapter>.md``).
    cfg : dict, optional
        The book's ``_config.yml``; read from ``root`` when omitted.
    root : Path
        The checkout the chapter belongs to.
    site : SiteIndex, optional
        :func:`site_index` of the book, to reuse across chapters.
    doc : str, optional
        The book page whose links the notebook resolves (default: ``path`` itself). A student copy
        (``student/<chapter>.md``) passes its chapter's page, ``chapters/<chapter>``.

    Returns
    -------
    nbformat.NotebookNode
        Plain Markdown and code cells, no outputs, no MyST markup (checked: :func:`leftover_myst`),
        no problem for a reader (checked: :func:`reading_problems`).

    Raises
    ------
    PublishError
        On markup without a plain form, markup left in the result, or a reading problem: a glued
        value left in prose, a hidden cell unfolded, an exercise numbered otherwise than in the
        book, an answer in a student copy.
    """
    path = Path(path).resolve()
    site = site or site_index(cfg, root)
    doc = doc or path.relative_to(Path(root).resolve()).with_suffix("").as_posix()
    nb = convert_notebook(to_notebook(path), doc, site)
    left = leftover_myst(nb)
    if left:
        raise PublishError(f"{doc}: MyST markup left in the published notebook: " + "; ".join(left[:5]))
    student = path.parent.name == "student"
    source = (Path(root) / f"{doc}.md") if student else path
    problems = reading_problems(nb, student=student,
                                exercises=book_exercise_numbers(source.read_text(), doc) if source.exists() else None)
    if problems:
        raise PublishError(f"{'student copy of ' if student else ''}{doc}: " + "; ".join(problems[:5]))
    return nb


# --------------------------------------------------------------------------- the check
_LEFT_ROLE = re.compile(r"(?<!`)\{[A-Za-z][\w:-]*\}`")
_LEFT_FENCE = re.compile(r"^[ \t>]*(?:`{3,}|~{3,}|:{3,})\{", re.M)
_LEFT_LABEL = re.compile(r"^[ \t>]*\([^()\s]+\)=[ \t]*$", re.M)
_LEFT_OPTION = re.compile(r"^[ \t>]*:(?:class|label|tags|name|nonumber):", re.M)


def leftover_myst(nb: Any) -> list[str]:
    """Every MyST role, directive fence, label line or directive option left in a notebook's Markdown.

    Returns
    -------
    list of str
        ``"cell N: <markup>"`` for each find; empty when the Markdown is plain.
    """
    found = []
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for rx in (_LEFT_ROLE, _LEFT_FENCE, _LEFT_LABEL, _LEFT_OPTION):
            found += [f"cell {idx}: {m.group(0).strip()!r}" for m in rx.finditer(cell.source)]
    return found


# --------------------------------------------------------------------------- what a reader must not meet
_EXERCISE_HEAD = re.compile(r"^\*\*Exercise (?P<number>[\d.]+)\b", re.M)
_GLUE_CALL = re.compile(r"""\bglue\(\s*["']([^"']+)["']""")
_BOLD_CODE = re.compile(r"\*\*`([^`]+)`\*\*")
_ANSWER_TEXT = re.compile(r"Short answer|Solution to Exercise|<summary>(?:<b>)?\s*(?:Solution|Answer)", re.I)


def book_exercise_numbers(source: str, doc: str) -> list[str]:
    """The numbers the book gives the numbered exercises of a chapter's MyST source, in order
    (``_ext/chapter_numbers.py``: ``3.1``, ``3.2``, ... in chapter 3)."""
    numbered = [d for d in parse_blocks(_strip_front_matter(source))
                if isinstance(d, Directive) and d.name == "exercise" and "nonumber" not in d.options]
    return [exercise_number(doc, i) for i in range(1, len(numbered) + 1)]


def _shown_markdown(cell: Any) -> str:
    """The Markdown a cell's outputs show (``show_text``'s ``text/markdown``)."""
    texts = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        md = data.get("text/markdown")
        if md is not None:
            texts.append(md if isinstance(md, str) else "".join(md))
    return "\n".join(texts)


def reading_problems(nb: Any, *, student: bool = False, exercises: list[str] | None = None,
                     executed: bool = False) -> list[str]:
    """What a Colab reader of a published notebook must not meet, each named.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A published notebook (:func:`publish_notebook`), executed or not.
    student : bool
        A student copy: it must hold no answer (no solution, no short answer).
    exercises : list of str, optional
        The numbers the book gives the chapter's exercises (:func:`book_exercise_numbers`); the
        notebook's exercise headings must carry the same, in order.
    executed : bool
        The notebook has run to its end (the Colab simulation): every paragraph that quotes glued
        values must show them (no ``{{name}}`` field, no ellipsis for a value never computed).

    Returns
    -------
    list of str
        One line per problem, starting with its kind: ``glue name left in prose``, ``hidden cell
        unfolded``, ``exercise number differs from the book``, ``answer in a student copy``.
    """
    from gapkit.notebook import PENDING

    problems: list[str] = []
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    glued = set(_GLUE_CALL.findall(code))
    heads: list[str] = []
    for idx, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            text = cell.source
            for m in GLUE_FIELD.finditer(text):
                problems.append(f"glue name left in prose: cell {idx} shows {m.group(0)}")
            for m in _LEFT_ROLE.finditer(text):
                if m.group(0).startswith("{glue"):
                    problems.append(f"glue name left in prose: cell {idx} shows the role {m.group(0)}")
            for name in _BOLD_CODE.findall(text):
                if name in glued:
                    problems.append(f"glue name left in prose: cell {idx} names **`{name}`** instead of its value")
            heads += _EXERCISE_HEAD.findall(text)
            if student and (m := _ANSWER_TEXT.search(text)):
                problems.append(f"answer in a student copy: cell {idx} holds {m.group(0)!r}")
            continue
        if cell.cell_type != "code":
            continue
        if "remove-cell" in tags and not cell.source.startswith(COLAB_MARKER):
            if cell.metadata.get("cellView") != "form" or not re.search(r"^#@title ", cell.source, re.M):
                problems.append(f"hidden cell unfolded: cell {idx} (hidden in the book) is plain code in Colab")
        if student and ("solution" in tags or re.search(r"^#@title Solution", cell.source, re.M)):
            problems.append(f"answer in a student copy: cell {idx} is a solution's code")
        if GLUED_TAG in tags:
            shown = _shown_markdown(cell)
            if student and _ANSWER_TEXT.search(cell.source):
                problems.append(f"answer in a student copy: cell {idx} shows an answer")
            heads += _EXERCISE_HEAD.findall(cell.source)
            if executed:
                if not shown:
                    problems.append(f"glue name left in prose: cell {idx} ran but shows no text")
                elif GLUE_FIELD.search(shown) or PENDING in shown:
                    problems.append(f"glue name left in prose: cell {idx} still shows a value no cell computed")
    if exercises is not None and heads != exercises:
        problems.append(f"exercise number differs from the book: the notebook numbers its exercises "
                        f"{', '.join(heads) or 'not at all'}, the book {', '.join(exercises) or 'has none'}")
    return problems
