"""The published notebooks: each chapter as a plain notebook that reads well in Google Colab.

The *Open in Colab* badge of every chapter opens ``notebooks/<chapter>.ipynb`` from the published
site. :func:`publish_notebook` makes that notebook from the chapter's MyST source. Colab renders
plain Markdown, HTML and ``$``/``$$`` math but none of MyST's roles and directives, so each of them
becomes plain Markdown:

``{glue:text}`name:.3f``` (and every other ``{glue}`` role)
    **`name`** in bold code. Without myst-nb, ``gapkit.notebook.glue(name, value, display=False)``
    prints ``name = value``, so the code cell that computes the value shows it under that name; a
    note under the chapter title says so once. (The value may be computed after the sentence that
    quotes it, so the prose says nothing like "printed above".)
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
    A bold line "**Exercise N: Title**" (N counts the chapter's exercises, as the references to
    them do), then the text.
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

Code cells keep their source and tags (``remove-cell`` and the like mean nothing to Colab); the
hidden Colab install cell stays the first code cell, unchanged. The notebook's metadata asks Colab
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

from _common import ROOT, load_config, to_notebook, toc_files, source_path

__all__ = [
    "PublishError", "Reference", "SiteIndex", "Target", "convert_markdown", "convert_notebook",
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


def _index_page(doc: str, text: str, index: SiteIndex) -> None:
    """Record a page's title and the targets of its labels."""
    pending: list[str] = []
    n_exercise = n_equation = 0
    for block in parse_blocks(text):
        if isinstance(block, Directive):
            if block.name == "exercise":
                n_exercise += 1
                if "label" in block.options:
                    index.labels[block.options["label"]] = Target(doc, f"Exercise {n_exercise}", block.options["label"])
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
        key = content.split(":", 1)[0].strip()
        if key not in page.glued:
            page.glued.append(key)
        return f"**`{key}`**"
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
        key = d.arg.split(":", 1)[0].strip()
        return f"*Shown by the code cell that computes **`{key}`**.*"
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
    title = f"#@title Solution to {page.exercise(page.solution)} (try the exercise first) {{ display-mode: \"form\" }}"
    cell = copy.deepcopy(cell)
    lines = cell.source.split("\n")
    at = 1 if lines and lines[0].startswith("%%") else 0  # a cell magic must stay the first line
    cell.source = "\n".join(lines[:at] + [title] + lines[at:])
    cell.metadata["cellView"] = "form"
    tags = cell.metadata.setdefault("tags", [])
    if "solution" not in tags:
        tags.append("solution")
    return cell


def convert_notebook(nb: Any, doc: str, site: SiteIndex) -> Any:
    """The Colab form of a chapter notebook (a new notebook; ``nb`` is left unchanged).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The chapter as jupytext reads it from its MyST source.
    doc : str
        Its docname, e.g. ``chapters/06_robustness``.
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
            cells.append(_solution_code(cell, page) if page.solution and cell.cell_type == "code" else copy.deepcopy(cell))
            continue
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
            cells.append(new)
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
    number = re.match(r"(\d+)_", posixpath.basename(doc))
    where = f"Chapter {int(number.group(1))} of" if number else "Part of"
    note = (f"*{where} [{site.book_title or 'the book'}]({site.url}) "
            f"([this chapter online]({site.page_url(doc)})).")
    if page.glued:
        name = page.glued[0]
        note += (f" Run the cells from the top: a number that the text shows in bold code, such as "
                 f"**`{name}`**, is printed by the code cell that computes it (`{name} = …`).")
    if any(c.cell_type == "markdown" and "<details>" in c.source for c in nb.cells):
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
        Plain Markdown and code cells, no outputs, no MyST markup (checked: :func:`leftover_myst`).

    Raises
    ------
    PublishError
        On markup without a plain form, or markup left in the result.
    """
    path = Path(path).resolve()
    site = site or site_index(cfg, root)
    doc = doc or path.relative_to(Path(root).resolve()).with_suffix("").as_posix()
    nb = convert_notebook(to_notebook(path), doc, site)
    left = leftover_myst(nb)
    if left:
        raise PublishError(f"{doc}: MyST markup left in the published notebook: " + "; ".join(left[:5]))
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
