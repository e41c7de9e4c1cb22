#!/usr/bin/env python
"""Build tooling for gapbook: execute chapters, stage and build the HTML book.

Subcommands
-----------
execute --profile {offline,ci,full}
    For every notebook chapter in ``_toc.yml``: jupytext ``.md`` -> ``.ipynb``
    (the ``.md`` source is never written), papermill with ``PROFILE`` injected,
    executed notebook written to ``_build/site/``. Plain Markdown pages, the
    config, TOC and bibliography are copied there too, a cleared ``.ipynb`` of
    each chapter goes to ``_build/site/_extra/notebooks/``, published as
    ``notebooks/<chapter>.ipynb`` beside the HTML (what the Colab badge
    opens), and ``_build/site/status.md`` records time, result and profile per
    chapter. A cell that raises stops with the chapter and cell named; exit 1.
html
    ``jupyter-book build`` on ``_build/site`` with warnings as errors;
    output ``_build/html/index.html``.
colab-cell [--write]
    Check (or rewrite) every chapter's hidden Colab setup cell against the
    template rendered from ``_config.yml``.
student [--check]
    Write student copies of the chapters (solutions removed, code exercises
    stubbed) to ``student/``; ``--check`` executes them up to the stubs.
publish [--dest DIR]
    Write only the published notebooks (what the Colab badges open) to
    ``_build/site/_extra/notebooks/`` (or DIR), without executing anything:
    each chapter as a plain notebook, its MyST markup turned into Markdown
    that Colab renders (``scripts/colab_notebook.py``). ``execute`` does this too.
release --remote URL [--skip-build] [--dry-run] [--profile P]
    Check that the gapkit version, the tag ``v<version>`` and the Colab install
    cell agree and that the worktree is clean; build (``execute`` + ``html``,
    unless ``--skip-build``); tag HEAD; push the branch, the tag and
    ``_build/html`` (to ``repository.published_branch``) to the remote
    (``scripts/release.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from _common import (  # noqa: F401  (re-exported: tests and other scripts use book.<name>)
    BUILD, COLAB_MARKER, ROOT, SITE, atomic_write_text, colab_cell_problems, colab_cell_source, colab_cells,
    colab_url, gapkit_version,
    ipc_kernel_manager, is_notebook, load_config, notebook_chapters, published_branch, repo_slug,
    source_path, to_notebook, toc_files,
)

COPY_ALWAYS = ["_config.yml", "_toc.yml", "references.bib"]
STATIC_DIRS = ["_static", "_ext"]  # _ext: the book's own Sphinx extensions (_config.yml local_extensions)
CELL_TIMEOUT_S = 600  # a cell that runs longer fails the build instead of hanging it
PUBLISHED_NOTEBOOKS = SITE / "_extra" / "notebooks"  # published as notebooks/<chapter>.ipynb beside the HTML
STUDENT_MARKER = "<!-- gapbook: student-notebooks -->"  # where the course page lists the student notebooks
SLIDES_MARKER = "<!-- gapbook: slides -->"  # ... and the session slides (scripts/slides.py)
from live_timings import MARKER as LIVE_MARKER  # noqa: E402  (... and how long its run-live cells take)


def cmd_colab_cell(args: argparse.Namespace) -> int:
    """Check (``--write``: rewrite) every chapter's hidden Colab setup cell; 1 when one is out of date."""
    bad = colab_cell_problems(write=args.write)
    for line in bad:
        print(line, file=sys.stderr)
    if bad:
        print("Run: python scripts/book.py colab-cell --write", file=sys.stderr)
    return 1 if bad else 0


# --------------------------------------------------------------------------- execution
def badge_cell(cfg: dict[str, Any], path: Path):
    import nbformat

    url = colab_url(cfg, path)
    return nbformat.v4.new_markdown_cell(
        f"[![Open in Colab](../_static/colab-badge.svg)]({url})"
        " Run this chapter on a GPU in Colab (Runtime > Change runtime type > GPU).",
        metadata={"tags": ["colab-badge"]},
    )


def execute_one(path: Path, profile: str, out: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # The kernel inherits this environment: a non-inline MPLBACKEND (Agg, say) would make every
    # plt.show() draw nothing, and the book would lose its figures without any error.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # ... and gapkit's explorable figures write the web page's output (gapkit.explorable.SITE_ENV)
    os.environ["GAPBOOK_EXPLORABLE"] = "site"
    nb = to_notebook(path)
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and re.search(r"^# ", c.source, re.M)), -1)
    nb.cells.insert(title + 1, badge_cell(cfg, path))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{path.stem}.ipynb"
        nbformat.write(nb, src)
        t0 = time.perf_counter()
        record: dict[str, Any] = {"chapter": path.stem, "profile": profile}
        try:
            pm.execute_notebook(
                str(src),
                str(Path(tmp) / "executed.ipynb"),
                parameters={"PROFILE": profile},
                kernel_name="python3",
                cwd=str(path.parent),
                progress_bar=False,
                log_output=False,
                execution_timeout=CELL_TIMEOUT_S,
                kernel_manager_class=ipc_kernel_manager(),
            )
            record["result"] = "ok"
        except PapermillExecutionError as err:
            record["result"] = "error"
            record["error"] = f"cell {err.exec_count}: {err.ename}: {err.evalue}"
        except Exception as err:  # e.g. a cell past CELL_TIMEOUT_S, or a dead kernel
            record["result"] = "error"
            record["error"] = f"{type(err).__name__}: {err}"
        record["seconds"] = round(time.perf_counter() - t0, 1)
        executed = Path(tmp) / "executed.ipynb"
        if executed.exists():
            exe = nbformat.read(executed, as_version=4)
            for cell in exe.cells:  # the runner's own PROFILE override is not for readers
                tags = cell.metadata.get("tags", [])
                if "injected-parameters" in tags and "remove-cell" not in tags:
                    tags.append("remove-cell")
            record.update(exe.metadata.get("gapbook", {}))
            record.update(profile_from_outputs(exe))
            present_for_page(exe, path.stem)
            record["figures"] = count_figures(exe)
            audit = figure_audit_faults(exe)
            if record["result"] == "ok" and audit:
                record["result"] = "error"
                record["error"] = audit[0] + (f" (and {len(audit) - 1} more)" if len(audit) > 1 else "")
            if record["result"] == "ok" and record["figures"] == 0:
                record["result"] = "error"
                record["error"] = ("no figure in the executed chapter: every chapter shows at least one "
                                   "(is MPLBACKEND set to a non-inline backend?)")
            if record["result"] == "ok":
                atomic_write_text(out, nbformat.writes(exe))
    return record


def _is_glue(stmt) -> bool:
    """A statement that only glues values for the prose: ``glue(...)``, or a loop of nothing else."""
    import ast

    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "glue"
    if isinstance(stmt, (ast.For, ast.If)) and not getattr(stmt, "orelse", None):
        return all(_is_glue(s) for s in stmt.body)
    return False


def without_glue(source: str) -> str:
    """``source`` without its top-level statements that only glue values (what the page shows of a cell)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: shown as they are
        return source
    drop = set()
    for stmt in tree.body:
        if _is_glue(stmt):
            drop.update(range(stmt.lineno - 1, stmt.end_lineno))
    if not drop:
        return source
    lines = [line for i, line in enumerate(source.splitlines()) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


_SNAKE_HEADER = re.compile(r"(<th[^>]*>)([A-Za-z0-9]+(?:_[A-Za-z0-9]+)+)(</th>)")


def readable_headers(html_text):
    """A pandas table's snake_case headers (``<th>paired_cosine</th>``) as words (``paired cosine``)."""
    text = "".join(html_text) if isinstance(html_text, list) else html_text
    if "<table" not in text:
        return html_text
    return _SNAKE_HEADER.sub(lambda m: m.group(1) + m.group(2).replace("_", " ") + m.group(3), text)


FIGURE_MARKER = "[gapbook-figure] "  # gapkit._figure_audit.FIGURE_MARKER (not imported: book.py needs no gapkit)


def caption_figures(nb, chapter: str) -> int:
    """Give each cell's figure its caption, number and alt text from the line gapkit printed for it.

    In a book build gapkit prints ``[gapbook-figure] {"caption": ..., "alt": ...}`` after a cell for
    every figure it drew (``gapkit._figure_audit.describe_figure``: the figure's titles and axis
    labels). The lines are removed from the page; a cell with one figure becomes a numbered figure
    with that caption (myst-nb's ``figure`` option; ``_ext/chapter_numbers.py`` numbers it
    Figure C.k), and every image gets the alt text. Returns the number of figures captioned.
    """
    import json

    count = 0
    for cell in nb.cells:
        found, kept = [], []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and FIGURE_MARKER in output.get("text", ""):
                lines = output["text"].splitlines(keepends=True)
                found += [json.loads(line.split(FIGURE_MARKER, 1)[1]) for line in lines if FIGURE_MARKER in line]
                output["text"] = "".join(line for line in lines if FIGURE_MARKER not in line)
                if not output["text"]:
                    continue
            kept.append(output)
        if not found:
            continue
        cell["outputs"] = kept
        images = sum(1 for o in kept if {"image/png", "image/svg+xml"} & set(o.get("data", {})))
        # the cell's displayed outputs, glued values aside: myst-nb's figure option wraps each of them
        # (two would share one figure name), so a caption goes only to a cell whose one display is its figure
        shown = [o for o in kept if o.get("output_type") in ("display_data", "execute_result")
                 and not o.get("metadata", {}).get("scrapbook")]
        options = cell.metadata.setdefault("mystnb", {})
        options["image"] = {"alt": " | ".join(f["alt"] for f in found)}
        if len(found) == 1 and images == 1 and len(shown) == 1 and found[0]["caption"]:
            count += 1
            options["figure"] = {"caption": found[0]["caption"], "name": f"fig-{chapter}-{count}"}
    return count


def present_for_page(nb, chapter: str = "page") -> None:
    """Fold what a reader of the web page does not need first; the published notebooks keep it all.

    - The ``parameters`` cell, the setup cell (the first code cell after it: imports, profile, data)
      and the setup's provenance print-out are folded behind *Show code cell source* / *outputs* toggles
      (``hide-input``, ``hide-output``), as QuantEcon's lectures fold theirs.
    - Lines that only glue values for the prose are left out of the code the page shows; a cell
      with nothing else is shown by its outputs alone (``remove-input``).
    - Table headers in snake_case (``paired_cosine``) read as words (``paired cosine``).
    - Each figure is numbered, with a caption and alt text from its own titles and axes
      (:func:`caption_figures`).
    - Saved ipywidgets state is dropped (the widgets' outputs are not on the page; myst-nb would load
      their JavaScript from a CDN).
    """
    # a widget's output is left out of the page, and its saved state would make myst-nb load the
    # widget manager from a CDN: the page must work with the network off
    nb.metadata.pop("widgets", None)
    caption_figures(nb, chapter)
    cells = nb.cells
    params = next((i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])), None)
    if params is not None:
        tags = cells[params].metadata.setdefault("tags", [])
        tags += [] if "hide-input" in tags else ["hide-input"]
        setup = next((c for c in cells[params + 1:] if c.cell_type == "code"
                      and "injected-parameters" not in c.metadata.get("tags", [])), None)
        if setup is not None:
            tags = setup.metadata.setdefault("tags", [])
            tags += [t for t in ("hide-input", "hide-output") if t not in tags]
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                data["text/html"] = readable_headers(data["text/html"])
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or {"remove-cell", "remove-input"} & set(tags):
            continue
        shown = without_glue(cell.source)
        if shown == cell.source:
            continue
        if not re.sub(r"#[^\n]*", "", shown).strip():
            cell.metadata.setdefault("tags", []).append("remove-input")
        else:
            cell.metadata.setdefault("gapbook", {})["source"] = cell.source  # what ran (live_timings)
            cell.source = shown


def figure_audit_faults(nb) -> list[str]:
    """The ``FigureAuditWarning`` lines of an executed notebook (``gapkit.plotting.use_style``), as
    ``cell N: FigureAuditWarning: ...``: a figure with a hidden line, fractional ticks on an integer
    axis or blended bands fails the build like a cell that raises."""
    found = []
    for cell, text in stream_texts(nb):
        for line in text.splitlines():
            if "FigureAuditWarning:" in line:
                msg = line[line.index("FigureAuditWarning:"):].strip()
                found.append(f"cell {cell.get('execution_count')}: {msg}")
    return found


def stream_texts(nb):
    """``(cell, text)`` for every text output (stdout, stderr) of an executed notebook."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            yield cell, text if isinstance(text, str) else "".join(text)


def count_figures(nb) -> int:
    """Number of image outputs (PNG or SVG) in an executed notebook."""
    return sum(1 for cell in nb.cells for out in cell.get("outputs", [])
               if {"image/png", "image/svg+xml"} & set(out.get("data", {})))


_PROFILE_RE = re.compile(r"Profile '(\w+)' \((.*?)\) on (\w+)")


def profile_from_outputs(nb) -> dict[str, Any]:
    """Read back what every chapter prints: the profile line (``gapkit.resolve_profile``) and the
    ``Models:`` / ``Data:`` lines (``Profile.provenance``)."""
    found: dict[str, Any] = {}
    for _, text in stream_texts(nb):
        m = _PROFILE_RE.search(text)
        if m and "profile_description" not in found:
            found.update(profile=m.group(1), device=m.group(3), profile_description=m.group(2))
        for key in ("Models", "Data"):
            m = re.search(rf"^{key}: (.+)$", text, re.M)
            if m and key.lower() not in found:
                found[key.lower()] = m.group(1).strip()
    return found


def stage_static_dirs() -> None:
    """Copy ``_static`` (CSS, badge) into the staged book; ``html`` repeats it, so style edits need no re-run."""
    for name in STATIC_DIRS:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, SITE / name, dirs_exist_ok=True)


def stage_static(cfg: dict[str, Any]) -> None:
    SITE.mkdir(parents=True, exist_ok=True)
    for name in COPY_ALWAYS:
        shutil.copy2(ROOT / name, SITE / name)
    stage_static_dirs()
    for entry in toc_files():
        path = source_path(entry)
        if not is_notebook(path) and path.stem != "status":
            dest = SITE / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_text()
            if STUDENT_MARKER in text:
                text = text.replace(STUDENT_MARKER, student_notebook_table(cfg))
            if SLIDES_MARKER in text:
                from slides import slide_links

                text = text.replace(SLIDES_MARKER, slide_links())
            if LIVE_MARKER in text:
                text = text.replace(LIVE_MARKER, live_timing_table())
            atomic_write_text(dest, text)


def live_timing_table() -> str:
    """The course page's table of ``run-live`` cells and their times (``scripts/live_timings.py``)."""
    from live_timings import timing_table
    from slides import sessions

    status = BUILD / "status.json"
    profile = json.loads(status.read_text()).get("profile") if status.exists() else None
    return timing_table(sessions(), profile=profile)


def student_notebook_table(cfg: dict[str, Any]) -> str:
    """The course page's table of student notebooks: one Colab link per chapter's student copy."""
    rows = ["| chapter | student notebook |", "|---|---|"]
    for path in notebook_chapters():
        rows.append(f"| {{doc}}`{path.relative_to(ROOT).with_suffix('').as_posix().removeprefix('chapters/')}` "
                    f"| [Open the student copy in Colab]({colab_url(cfg, path, student=True)}) |")
    return "\n".join(rows)


def write_status(records: list[dict[str, Any]], profile: str) -> None:
    from gapkit.profile import package_versions

    vers = package_versions(("gapkit", "torch", "open_clip_torch", "transformers", "jupyter-book", "papermill"))
    lines = [
        "# Build status",
        "",
        "Every chapter of this build, executed by `scripts/book.py execute` with papermill. "
        "The profile says which models and data produced the page: `offline` and `ci` use offline "
        "stand-ins (randomly initialised towers, gapkit's small CLIP-style model, generated data); "
        "`full` uses the real models and data.",
        "",
        f"Built with profile **{profile}** on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| chapter | result | seconds | figures | profile | device |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {{doc}}`{r['chapter']}` | {r['result']} | {r['seconds']} | {r.get('figures', 0)} | "
            f"{r.get('profile', profile)} | {r.get('device', '?')} |"
        )
    lines += ["", "## What produced each page", ""]
    for r in records:
        lines += [f"{{doc}}`{r['chapter']}`", f": **Models:** {r.get('models', 'not stated')}", "",
                  f"  **Data:** {r.get('data', 'not stated')}", ""]
    lines += ["## Versions"]
    lines += ["", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in vers.items()]
    atomic_write_text(SITE / "chapters" / "status.md", "\n".join(lines) + "\n")
    atomic_write_text(BUILD / "status.json", json.dumps({"profile": profile, "chapters": records, "versions": vers}, indent=2))


def write_published_notebooks(chapters: list[Path], cfg: dict[str, Any], dest: Path = PUBLISHED_NOTEBOOKS,
                              student: bool = False) -> list[str]:
    """Write what the Colab badges open: ``dest/<chapter>.ipynb``, each chapter as a plain notebook.

    The notebooks carry no outputs (jupytext reads none) and no MyST markup
    (:func:`colab_notebook.publish_notebook`). ``student=True``: ``chapters`` are student copies
    (``student/<chapter>.md``), whose links resolve as their chapter's. Returns the problems, one
    line per chapter that could not be converted; the other chapters are written.
    """
    import nbformat
    from colab_notebook import PublishError, publish_notebook, site_index

    site = site_index(cfg, ROOT)
    problems = []
    for path in chapters:
        try:
            nb = publish_notebook(path, cfg, ROOT, site=site, doc=f"chapters/{path.stem}" if student else None)
        except PublishError as err:
            problems.append(f"{path.relative_to(ROOT)}: {err}")
            continue
        atomic_write_text(dest / f"{path.stem}.ipynb", nbformat.writes(nb))
    return problems


def write_chapter_and_student_notebooks(chapters: list[Path], cfg: dict[str, Any],
                                        dest: Path = PUBLISHED_NOTEBOOKS) -> list[str]:
    """:func:`write_published_notebooks` for ``chapters`` into ``dest`` and for their student copies
    (``student/<chapter>.md``, where one exists) into ``dest/student``."""
    students = [ROOT / "student" / p.name for p in chapters if (ROOT / "student" / p.name).exists()]
    return (write_published_notebooks(chapters, cfg, dest)
            + write_published_notebooks(students, cfg, dest / "student", student=True))


def cmd_execute(args: argparse.Namespace) -> int:
    cfg = load_config()
    if cmd_colab_cell(argparse.Namespace(write=False)):
        return 1

    stage_static(cfg)
    chapters = notebook_chapters()
    if args.only:
        chapters = [c for c in chapters if any(o in c.stem for o in args.only)]
    # first, in seconds: the notebooks the Colab badges open (markup without a plain form fails here)
    problems = write_chapter_and_student_notebooks(chapters, cfg)
    if problems:
        print("\n".join(f"[publish] {p}" for p in problems), file=sys.stderr)
        return 1
    records = []
    for path in chapters:
        rel = path.relative_to(ROOT)
        print(f"[execute] {rel} (profile {args.profile}) ...", flush=True)
        out = SITE / rel.with_suffix(".ipynb")
        rec = execute_one(path, args.profile, out, cfg)
        records.append(rec)
        if rec["result"] == "ok":
            print(f"[execute] {rel}: ok in {rec['seconds']} s", flush=True)
        else:
            print(f"[execute] {rel}: FAILED in {rec['seconds']} s at {rec['error']}", file=sys.stderr, flush=True)
    write_status(records, args.profile)
    failed = [r for r in records if r["result"] != "ok"]
    total = sum(r["seconds"] for r in records)
    print(f"[execute] {len(records) - len(failed)} of {len(records)} chapters ok in {total:.1f} s")
    if failed:
        for r in failed:
            print(f"[execute] FAILED {r['chapter']}: {r['error']}", file=sys.stderr)
        return 1
    return 0


def vendor_mathjax() -> bool:
    """Copy MathJax 3 (from the ``django-static-mathjax`` wheel) into the site's ``_static``.

    The published pages then render math without a CDN, and the offline browser check can
    tell rendered from unrendered math. Returns False (CDN MathJax is used) if not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        print("[html] django-static-mathjax not installed: pages load MathJax from its CDN", file=sys.stderr)
        return False
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    dest = SITE / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(es5 / "tex-mml-chtml.js", dest / "tex-mml-chtml.js")
    shutil.copytree(es5 / "output" / "chtml" / "fonts" / "woff-v2", dest / "output" / "chtml" / "fonts" / "woff-v2",
                    dirs_exist_ok=True)
    return True


def vendor_plotly() -> None:
    """Copy plotly.js from the installed plotly package to the site's ``_static`` (served once per site).

    gapkit's explorable figures load it from there (``gapkit.explorable.PLOTLY_STATIC``), never
    from the network, and no figure embeds its own copy (:func:`offline_problems` checks both).
    """
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("[html] plotly is not installed: the explorable figures need it (pip install -e '.[book]')")
    src = Path(list(spec.submodule_search_locations)[0]) / "package_data" / "plotly.min.js"
    dest = SITE / "_static" / "plotly.min.js"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


_NETWORK_SCRIPT = re.compile(r"""<script[^>]*\bsrc=["']?(?:https?:)?//[^"'\s>]*(?:plotly|mathjax)[^"'\s>]*""", re.I)
_PLOTLY_BUNDLE = re.compile(r"plotly\.js v\d+\.\d+\.\d+")


def offline_problems(html_dir: Path) -> list[str]:
    """Pages that would load plotly.js or MathJax from the network, or that embed a copy of plotly.js."""
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        text = page.read_text(errors="replace")
        rel = page.relative_to(html_dir)
        for m in _NETWORK_SCRIPT.finditer(text):
            problems.append(f"{rel}: loads a script from the network ({m.group(0)[:120]}...)")
        if "cdn.plot.ly" in text:
            problems.append(f"{rel}: refers to cdn.plot.ly")
        if _PLOTLY_BUNDLE.search(text):
            problems.append(f"{rel}: embeds its own copy of plotly.js (serve it from _static)")
    return problems


def cmd_html(args: argparse.Namespace) -> int:
    import subprocess

    if not (SITE / "_config.yml").exists():
        print("No staged book: run `python scripts/book.py execute` first.", file=sys.stderr)
        return 1
    stage_static(load_config())  # plain pages too: the course page lists the slides and student notebooks
    from slides import SlidesError, build_slides

    try:
        decks = build_slides()
    except SlidesError as err:
        print(f"[html] slides: {err}", file=sys.stderr)
        return 1
    print(f"[html] wrote {len(decks)} slide decks to {decks[0].parent if decks else '?'}")
    cfg = yaml.safe_load((SITE / "_config.yml").read_text())
    sphinx_cfg = cfg.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_cfg["html_extra_path"] = ["_extra"]
    if vendor_mathjax():
        sphinx_cfg["mathjax_path"] = "mathjax/tex-mml-chtml.js"
    vendor_plotly()
    atomic_write_text(SITE / "_config.yml", yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    html = BUILD / "html"
    if html.exists():
        shutil.rmtree(html)
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(SITE),
        "--path-output", str(ROOT), "-W", "-n", "--keep-going", "--all",
    ]
    print("[html] jupyter-book", " ".join(cmd[1:]), flush=True)
    rc = subprocess.call(cmd, cwd=ROOT)
    if rc == 0 and (html / "index.html").exists():
        offline = offline_problems(html)
        for line in offline:
            print(f"[html] {line}", file=sys.stderr)
        if offline:
            return 1
        print(f"[html] built {html / 'index.html'}")
    return rc


def cmd_student(args: argparse.Namespace) -> int:
    """``student [--check]``: see ``scripts/student.py``."""
    import student

    return student.main(args)


def cmd_publish(args: argparse.Namespace) -> int:
    """``publish``: write the published notebooks only (no execution); 1 when a chapter cannot be converted."""
    problems = write_chapter_and_student_notebooks(notebook_chapters(), load_config(), args.dest)
    for line in problems:
        print(f"[publish] {line}", file=sys.stderr)
    if not problems:
        print(f"[publish] wrote {len(notebook_chapters())} notebooks to {args.dest}")
    return 1 if problems else 0


def cmd_release(args: argparse.Namespace) -> int:
    """``release``: check, build, tag and publish (``scripts/release.py``)."""
    import release

    def build() -> int:
        return (cmd_execute(argparse.Namespace(profile=args.profile, only=None))
                or cmd_html(argparse.Namespace()))

    return release.main_release(args.remote, args.skip_build, args.dry_run, build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("execute")
    p.add_argument("--profile", default="offline", choices=["offline", "ci", "full", "auto"])
    p.add_argument("--only", nargs="*", help="substrings of chapter names to run (default: all)")
    p.set_defaults(func=cmd_execute)
    p = sub.add_parser("html")
    p.set_defaults(func=cmd_html)
    p = sub.add_parser("colab-cell")
    p.add_argument("--write", action="store_true")
    p.set_defaults(func=cmd_colab_cell)
    p = sub.add_parser("student")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_student)
    p = sub.add_parser("publish")
    p.add_argument("--dest", type=Path, default=PUBLISHED_NOTEBOOKS,
                   help="folder for <chapter>.ipynb (default: _build/site/_extra/notebooks)")
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("release")
    p.add_argument("--remote", required=True, help="git URL, path or remote name to push to")
    p.add_argument("--skip-build", action="store_true",
                   help="publish the existing _build/html (its notebooks must match HEAD)")
    p.add_argument("--dry-run", action="store_true", help="check and prepare; neither tag nor push")
    p.add_argument("--profile", default="offline", choices=["offline", "ci", "full"],
                   help="profile of the build (default: offline, as make book)")
    p.set_defaults(func=cmd_release)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
