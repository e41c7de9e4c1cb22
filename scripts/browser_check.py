#!/usr/bin/env python
"""Open every page of the built book in headless Chromium and report what a reader would see broken.

A page fails on: a Python traceback or error output, a broken image, math left unrendered, an
internal link to a file or anchor that does not exist, or a table wider than the text column. One screenshot per page is saved.

    python scripts/browser_check.py [_build/html] [--screenshots _build/screenshots]

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them) and selenium.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import socket
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
_REDIRECT = re.compile(r'http-equiv="refresh"[^>]*url=([^"]+)"', re.I)
SKIP_PAGES = {"genindex.html", "search.html"}
ERROR_SELECTORS = [".output.traceback", ".output.error", ".cell_output .traceback", "div.output_error"]

# Runs in the page once MathJax has finished (or failed): counts math nodes and rendered ones.
_PAGE_JS = r"""
const done = arguments[arguments.length - 1];
const finish = () => {
  const imgs = Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  const mathNodes = document.querySelectorAll('.math, span.math, div.math').length;
  const rendered = document.querySelectorAll('mjx-container').length;
  const rawMath = Array.from(document.querySelectorAll('.math')).filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60));
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));
  const errs = [];
  for (const sel of arguments[0]) { document.querySelectorAll(sel).forEach(e => errs.push(e.textContent.slice(0, 200))); }
  const text = document.body ? document.body.innerText : '';
  const column = document.querySelector('article.bd-article');
  const columnWidth = column ? column.getBoundingClientRect().width : 0;
  const wide = column ? Array.from(column.querySelectorAll('table')).map(t => Math.round(t.getBoundingClientRect().width))
                          .filter(w => w > columnWidth + 1) : [];
  done({imgs, mathNodes, rendered, rawMath, links, errs, traceback: text.includes('Traceback (most recent call last)'),
        wide, columnWidth: Math.round(columnWidth),
        ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)});
};
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(finish, finish);
} else { setTimeout(finish, 500); }
"""


@contextmanager
def serve(directory: Path):
    """Serve ``directory`` on a free loopback port for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 - silence per-request logging
        pass


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        raise RuntimeError(
            "Chromium and chromedriver are needed for the browser check: "
            "apt-get install -y chromium chromium-driver (make test does this)."
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_script_timeout(30)
    driver.set_page_load_timeout(60)
    return driver


# folders of the site that are not book pages: the session slides are reveal.js apps (their "#/3"
# links are slide routes, not anchors) with a browser test of their own (tests/test_site.py)
SKIP_DIRS = {"_static", "_sources", "slides"}


def pages(html_dir: Path) -> list[Path]:
    return sorted(p for p in html_dir.rglob("*.html")
                  if p.name not in SKIP_PAGES and not SKIP_DIRS & set(p.relative_to(html_dir).parts))


def _ids_in(file: Path, cache: dict[Path, set[str]]) -> set[str]:
    if file not in cache:
        cache[file] = set(re.findall(r'\sid="([^"]+)"', file.read_text(errors="replace")))
    return cache[file]


def check_links(page: Path, html_dir: Path, base_url: str, links: list[str], own_ids: set[str],
                cache: dict[Path, set[str]]) -> list[str]:
    problems = []
    page_url = urljoin(base_url, page.relative_to(html_dir).as_posix())
    for href in links:
        if not href or href.startswith(("mailto:", "javascript:", "data:")):
            continue
        full = urljoin(page_url, href)
        if not full.startswith(base_url):
            continue  # external link: not checked offline
        url, frag = urldefrag(full)
        rel = unquote(urlparse(url).path).lstrip("/")
        target = html_dir / rel
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"dead link {href!r}")
            continue
        if frag and target.suffix == ".html":
            ids = own_ids if target == page else _ids_in(target, cache)
            if frag not in ids:
                problems.append(f"link {href!r}: no anchor #{frag} in {target.relative_to(html_dir)}")
    return problems


def check_site(html_dir: Path, screenshots: Path | None = None, driver=None) -> dict[str, list[str]]:
    """Check every page; return ``{page: [problems]}`` (empty lists for clean pages)."""
    html_dir = Path(html_dir).resolve()
    if not (html_dir / "index.html").exists():
        raise FileNotFoundError(f"no built book at {html_dir}: run `make book` (or scripts/book.py html) first")
    own_driver = driver is None
    driver = driver or make_driver()
    results: dict[str, list[str]] = {}
    cache: dict[Path, set[str]] = {}
    try:
        with serve(html_dir) as base:
            for page in pages(html_dir):
                rel = page.relative_to(html_dir).as_posix()
                redirect = _REDIRECT.search(page.read_text(errors="replace"))
                if redirect:  # Jupyter Book's root index.html only redirects: check its target exists
                    target = (page.parent / redirect.group(1)).resolve()
                    results[rel] = [] if target.exists() else [f"redirects to missing {redirect.group(1)!r}"]
                    continue
                driver.get(urljoin(base, rel))
                info = driver.execute_async_script(_PAGE_JS, ERROR_SELECTORS)
                problems = []
                if info["traceback"] or info["errs"]:
                    problems.append(f"error output on the page: {(info['errs'] or ['Traceback'])[0][:120]!r}")
                problems += [f"broken image {src!r}" for src in info["imgs"]]
                if info["rawMath"]:
                    problems.append(f"{len(info['rawMath'])} math block(s) not rendered, e.g. {info['rawMath'][0]!r}")
                problems += check_links(page, html_dir, base, info["links"], set(info["ids"]), cache)
                if info["wide"]:
                    problems.append(f"{len(info['wide'])} table(s) wider than the {info['columnWidth']} px text column "
                                    f"(widest {max(info['wide'])} px)")
                if screenshots is not None:
                    shot = screenshots / (rel.replace("/", "__").removesuffix(".html") + ".png")
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    driver.save_screenshot(str(shot))
                results[rel] = problems
    finally:
        if own_driver:
            driver.quit()
    return results


# ----------------------------------------------------------------------------------------------
# the explorable figures (gapkit.explorable)

# Waits until every explorable figure on the page has drawn (or 10 s); returns each figure's state.
_EXPLORE_JS = r"""
const done = arguments[arguments.length - 1];
const started = Date.now();
const state = () => Array.from(document.querySelectorAll('.gapbook-explorable')).map(box => {
  const plot = box.querySelector('.gapbook-explorable-plot');
  const anns = Array.from(box.querySelectorAll('g.annotation'));
  const numbers = anns.length ? Array.from(anns[anns.length - 1].querySelectorAll('tspan.line')).map(t => t.textContent) : [];
  const current = box.querySelector('.slider-group > .slider-label');  // plotly's current-value label
  return {id: plot ? plot.id : '', ready: !!(plot && plot.getAttribute('data-gapbook-ready')),
          numbers, current: current ? current.textContent : '',
          expected: JSON.parse(box.getAttribute('data-numbers') || '{}'),
          glued: JSON.parse(box.getAttribute('data-glued') || '{}'),
          formats: JSON.parse(box.getAttribute('data-formats') || '{}'),
          frames: JSON.parse(box.getAttribute('data-frames') || '[]'),
          points: plot && plot.data ? plot.data.map(t => [(t.x || []).slice(0, 5), (t.y || []).slice(0, 5)].join(';')).join('|') : ''};
});
const wait = () => {
  const figs = state();
  if (figs.some(f => !f.ready) && Date.now() - started < 10000) { setTimeout(wait, 200); return; }
  done({figs, resources: performance.getEntriesByType('resource').map(r => r.name)});
};
wait();
"""


def _shown_numbers(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        label, sep, value = line.rpartition(": ")
        if sep:
            out[label] = value.strip()
    return out


def check_explorables(html_dir: Path, glued: dict[str, dict[str, float]], driver, screenshots: Path | None = None
                      ) -> dict[str, list[str]]:
    """Move every explorable figure's slider to its last step, as a reader would; return problems per page.

    Each page with a figure is served on loopback and opened in Chromium; any resource it loads
    from elsewhere fails it (the book works with the network off). A figure fails when plotly.js
    never draws it (blank), when dragging the slider's handle to the end changes neither the
    numbers nor the points (frozen), when the numbers at the last step differ from that step's
    precomputed numbers, or from the chapter's glued values named by the figure
    (``Explorable.expect_glued``): ``glued`` maps a page's path to its glued values.
    ``screenshots`` gets ``<page>__<figure>__first.png`` and ``__last.png``.
    """
    import time

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    html_dir = Path(html_dir).resolve()
    results: dict[str, list[str]] = {}
    with serve(html_dir) as base:
        for page in pages(html_dir):
            if "gapbook-explorable" not in page.read_text(errors="replace"):
                continue
            rel = page.relative_to(html_dir).as_posix()
            problems: list[str] = []
            driver.get(urljoin(base, rel))
            info = driver.execute_async_script(_EXPLORE_JS)
            problems += [f"loads {url} from the network" for url in info["resources"]
                         if not (url.startswith(base) or url.startswith("data:"))]
            boxes = driver.find_elements(By.CSS_SELECTOR, ".gapbook-explorable")
            for fig, box in zip(info["figs"], boxes):
                name = fig["id"] or "an explorable figure"
                if not fig["ready"]:
                    problems.append(f"{name}: blank, plotly.js never drew it")
                    continue
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
                stem = f"{rel.replace('/', '__').removesuffix('.html')}__{name}"
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    box.screenshot(str(screenshots / f"{stem}__first.png"))
                grip = box.find_element(By.CSS_SELECTOR, ".slider-grip-rect")
                rail = box.find_element(By.CSS_SELECTOR, ".slider-rail-rect")
                ActionChains(driver).click_and_hold(grip).move_to_element_with_offset(
                    rail, rail.size["width"] // 2 - 1, 0).release().perform()
                last = fig["frames"][-1]
                after = fig
                for _ in range(50):
                    time.sleep(0.1)
                    after = next(f for f in driver.execute_async_script(_EXPLORE_JS)["figs"] if f["id"] == fig["id"])
                    if after["current"].endswith(f"= {last}") and after["numbers"] != fig["numbers"]:
                        break
                if screenshots is not None:
                    box.screenshot(str(screenshots / f"{stem}__last.png"))
                if not after["current"].endswith(f"= {last}"):
                    problems.append(f"{name}: the slider did not reach its last step {last!r} ({after['current']!r})")
                    continue
                if after["numbers"] == fig["numbers"] or after["points"] == fig["points"]:
                    problems.append(f"{name}: frozen, moving the slider to {last!r} changed "
                                    f"{'nothing' if after['numbers'] == fig['numbers'] else 'the numbers but not the points'}")
                shown = _shown_numbers(after["numbers"])
                for label, text in fig["expected"][last].items():
                    if shown.get(label) != text:
                        problems.append(f"{name}: at {last} it shows {label} = {shown.get(label)!r}, its frame has {text!r}")
                for label, glue_name in fig["glued"].get(last, {}).items():
                    value = glued.get(rel, {}).get(glue_name)
                    if value is None:
                        problems.append(f"{name}: the page glued no value {glue_name!r}")
                        continue
                    want = format(float(value), fig["formats"].get(label, ".3f"))
                    if shown.get(label) != want:
                        problems.append(f"{name}: at {last} it shows {label} = {shown.get(label)!r}, the chapter's "
                                        f"{glue_name} is {want!r}")
            results[rel] = problems
    return results


def glued_values(notebook: Path) -> dict[str, float]:
    """The numbers an executed chapter glued (myst-nb's ``glue``), by name."""
    import json

    out = {}
    for cell in json.loads(Path(notebook).read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook", {})
            data = output.get("data", {})
            text = data.get(meta.get("mime_prefix", "") + "text/plain", data.get("text/plain"))
            if meta.get("name") and text is not None:
                text = "".join(text) if isinstance(text, list) else text
                try:
                    out[meta["name"]] = float(text)
                except ValueError:
                    pass
    return out


# ----------------------------------------------------------------------------------------------
# the session decks (scripts/slides.py)

#: TeX a reader must never see on a slide: a dollar, a MathJax delimiter, a macro
RAW_TEX = re.compile(r"\$|\\[()\[\]]|\\[A-Za-z]+")

# Steps a reveal.js deck through every slide; returns, per slide, its visible text (speaker notes
# are display:none, so innerText leaves them out), its figures, and its notes' text.
_DECK_JS = r"""
const done = arguments[arguments.length - 1];
const started = Date.now();
const typeset = () => !document.querySelector('.reveal .slides').innerText.includes('\\(') &&
                      !document.querySelector('.reveal .slides').innerText.includes('\\[');
const wait = () => {
  const ready = typeof Reveal !== 'undefined' && Reveal.isReady();
  if (!(ready && typeset()) && Date.now() - started < 25000) { setTimeout(wait, 200); return; }
  if (!ready) { done({error: 'reveal.js did not start'}); return; }
  const out = [];
  const total = Reveal.getTotalSlides();
  for (let i = 0; i < total; i++) {
    Reveal.slide(i);
    const s = Reveal.getCurrentSlide();
    const notes = s.querySelector('aside.notes');
    out.push({text: s.innerText.trim(), images: s.querySelectorAll('img').length,
              broken: Array.from(s.querySelectorAll('img')).filter(im => !(im.complete && im.naturalWidth > 0)).length,
              notes: notes ? notes.textContent.trim() : ''});
  }
  Reveal.slide(0);
  done({slides: out, math: document.querySelectorAll('mjx-container').length});
};
wait();
"""


def check_deck(deck: Path, driver, screenshots: dict[int, Path] | None = None) -> list[str]:
    """Open a session deck, step through every slide; return its problems, each naming the slide.

    A slide fails on raw TeX left in its text (``$``, ``\\(``, ``\\lVert`` ...: math that MathJax did not
    typeset, or a formula cut in half), on having no text and no figure, on a figure that does not
    load, on having no speaker notes, and on reading the same as another slide.
    ``screenshots`` maps slide indices (0 is the title) to the PNG files to write.
    """
    import time

    driver.get(Path(deck).resolve().as_uri())
    info = driver.execute_async_script(_DECK_JS)
    if "error" in info:
        return [f"{deck.name}: {info['error']}"]
    problems = []
    seen: dict[str, int] = {}
    for i, s in enumerate(info["slides"], start=1):
        where = f"{deck.name} slide {i}"
        if m := RAW_TEX.search(s["text"]):
            at = max(0, m.start() - 30)
            problems.append(f"{where}: raw TeX {m.group(0)!r} in {s['text'][at:m.end() + 30]!r}")
        if not s["text"] and not s["images"]:
            problems.append(f"{where}: an empty slide")
        if s["broken"]:
            problems.append(f"{where}: {s['broken']} figure(s) did not load")
        if not s["notes"]:
            problems.append(f"{where}: no speaker notes")
        key = " ".join(s["text"].split())
        if key in seen:
            problems.append(f"{where}: the same text as slide {seen[key]} ({key[:60]!r})")
        else:
            seen[key] = i
    for index, path in (screenshots or {}).items():
        driver.execute_script("Reveal.slide(arguments[0]);", index)
        time.sleep(0.6)  # the slide transition
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("html", nargs="?", default=str(ROOT / "_build" / "html"))
    ap.add_argument("--screenshots", default=str(ROOT / "_build" / "screenshots"))
    args = ap.parse_args(argv)
    results = check_site(Path(args.html), Path(args.screenshots))
    bad = {p: probs for p, probs in results.items() if probs}
    for page, probs in results.items():
        print(f"[browser] {page}: {'ok' if not probs else '; '.join(probs)}")
    print(f"[browser] {len(results) - len(bad)} of {len(results)} pages clean; screenshots in {args.screenshots}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
