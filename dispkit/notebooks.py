"""Run the notebooks with papermill: the README's main job and the test harness share this.

    python -m dispkit.notebooks                 # all notebooks, fast mode, into outputs/
    python -m dispkit.notebooks --full          # full-size parameters
    python -m dispkit.notebooks --only 00 03    # a subset, by number prefix

Every notebook has a cell tagged ``parameters`` (at least ``seed``, ``fast`` and
``out_path``) and writes a small JSON of what it computed to ``out_path``. Each
run writes ``<out>/<name>.ipynb`` (executed), ``<out>/<name>.html`` and
``<out>/<name>.json``; ``<out>/index.html`` links them all, and ``<out>/report.html``
collects every table (the notebooks' Markdown outputs) and figure of the run in one
page, followed by the committed full-size benchmark tables.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"

RESULTS_DIR = REPO / "benchmarks" / "results"

__all__ = ["RESULTS_DIR", "embed_plotly", "execute", "fast_mode", "list_notebooks", "load_result", "main", "report",
           "run_all", "save_result", "to_html", "unsourced_figures", "unsourced_figures_in_markdown"]


_ILLUSTRATION = re.compile(r'<span class="illustration">.*?</span>', re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_DIMENSION = re.compile(r"\d+(?:\.\d+)?\s*[×x]\s*\d+(?:\.\d+)?")
_FIGURE = re.compile(r"(?<![\w.])[−-]?(\d+(?:\.\d+)?)\s?-?\s?(mm|cm|px|pixels?|%|×|x)(?![A-Za-z])")


def _published_numbers() -> set[float]:
    from dispkit import paper
    values = set()
    for table in (paper.TABLE1, paper.TABLE1_RICH, paper.TABLE2):
        values |= {round(v, 6) for rows in table.values() for m in rows.values() for v in m.values()}
    values |= {round(v, 6) for m in paper.TABLE3.values() for v in m.values() if v is not None}
    return values


def unsourced_figures(notebook: Path) -> list[tuple[int, str, str]]:
    """Figures with a unit (mm, cm, px, pixels, %, ×/x) in a notebook's markdown cells that are neither one of the
    paper's published numbers (:mod:`dispkit.paper`) nor inside an illustration, ``<span class="illustration">a
    vertex 50 px off</span>``: ``[(cell index, figure, context)]``. Results belong in cell outputs, read from
    ``benchmarks/results/`` when the notebook runs (:func:`load_result`); image and crop sizes written as
    ``W × H`` are not figures."""
    published = _published_numbers()
    found = []
    for i, cell in enumerate(json.loads(Path(notebook).read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = _COMMENT.sub(" ", _ILLUSTRATION.sub(" ", "".join(cell["source"])))
        text = _DIMENSION.sub(" ", text)
        for m in _FIGURE.finditer(text):
            if round(float(m.group(1)), 6) in published:
                continue
            found.append((i, m.group(0), text[max(0, m.start() - 50):m.end() + 30].replace("\n", " ")))
    return found


def _blank(m: re.Match) -> str:
    return re.sub(r"[^\n]", " ", m.group(0))      # same length and lines: positions in the text stay valid


def unsourced_figures_in_markdown(text: str) -> list[tuple[int, str, str]]:
    """:func:`unsourced_figures` for a markdown text (README.md, docs/*.md): ``[(line number, figure, context)]``,
    with the same exceptions (the paper's numbers, illustrations, HTML comments, ``W × H`` sizes). Generated
    regions are the caller's to blank out first (:func:`dispkit.docs.blank_regions`)."""
    published = _published_numbers()
    for pattern in (_COMMENT, _ILLUSTRATION, _DIMENSION):
        text = pattern.sub(_blank, text)
    found = []
    for m in _FIGURE.finditer(text):
        if round(float(m.group(1)), 6) not in published:
            context = text[max(0, m.start() - 50):m.end() + 30].replace("\n", " ")
            found.append((text.count("\n", 0, m.start()) + 1, m.group(0), " ".join(context.split())))
    return found


def load_result(name: str) -> dict | None:
    """A committed benchmark result, ``benchmarks/results/<name>.json`` (e.g. ``"net"``, ``"tables"``), or None when
    this installation has none (a wheel without the benchmarks folder). Notebooks read every benchmark number
    through this, so the numbers they show are the committed ones, never copied into their text."""
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def fast_mode(fast: bool) -> bool:
    """The opening of every notebook: its ``fast`` parameter, or True when ``DISPKIT_FAST=1`` (nbval in CI runs the
    stored notebooks that way)."""
    return bool(fast) or os.environ.get("DISPKIT_FAST") == "1"


def save_result(result: dict, out_path) -> None:
    """The closing of every notebook: write what it computed as JSON to ``out_path`` (relative paths are taken from
    the repository, so a notebook opened from any folder writes to the same place) and print one line saying
    where. Returns nothing, so the cell shows that line only."""
    path = Path(out_path)
    path = path if path.is_absolute() else REPO / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"results of this notebook: {path} ({len(result)} entries)")


def list_notebooks(directory: Path = NOTEBOOK_DIR, only=None) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in order, optionally only those whose prefix is in ``only``."""
    nbs = sorted(Path(directory).glob("[0-9][0-9]_*.ipynb"))
    if only:
        nbs = [p for p in nbs if p.name[:2] in {str(o).zfill(2)[:2] for o in only}]
    return nbs


def execute(notebook: Path, out_dir: Path, parameters: dict | None = None, timeout: int = 3600,
            kernel_name: str = "python3") -> tuple[Path, dict]:
    """Execute one notebook with papermill; returns (executed notebook path, the JSON it wrote).

    ``out_path`` is set to ``<out_dir>/<name>.json`` unless given. Raises
    ``papermill.PapermillExecutionError`` (with the failing cell) when a cell fails;
    the partially executed notebook is still written, so nothing is lost.
    """
    import papermill

    notebook, out_dir = Path(notebook), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = dict(parameters or {})
    params.setdefault("out_path", str((out_dir / notebook.with_suffix(".json").name).resolve()))
    out_nb = out_dir / notebook.name
    # the kernel inherits the environment: a non-interactive MPLBACKEND (e.g. Agg, set for headless tests)
    # would replace the notebook's inline backend and drop every figure from the executed notebook
    backend = os.environ.pop("MPLBACKEND", None)
    headless = os.environ.get("DISPKIT_HEADLESS")
    os.environ["DISPKIT_HEADLESS"] = "1"  # no front end: interactive figures draw once (dispkit.viz.interactive_figure)
    try:
        papermill.execute_notebook(str(notebook), str(out_nb), parameters=params, kernel_name=kernel_name,
                                   cwd=str(REPO), progress_bar=False, execution_timeout=timeout,
                                   start_timeout=120, log_output=False)
    finally:
        if backend is not None:
            os.environ["MPLBACKEND"] = backend
        if headless is None:
            os.environ.pop("DISPKIT_HEADLESS", None)
        else:
            os.environ["DISPKIT_HEADLESS"] = headless
    result_path = Path(params["out_path"])
    if not result_path.is_file():
        raise RuntimeError(f"{notebook.name} ran but wrote no JSON to {result_path}")
    return out_nb, json.loads(result_path.read_text())


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


def _plotly_head() -> str:
    """plotly.js inline, once, as ``window.Plotly``; also as the AMD module "plotly" that the figures of plotly's
    notebook renderers ``require``, whether require.js loaded (online) or not (offline: a minimal stand-in)."""
    from plotly.offline import get_plotlyjs

    return ("<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};"
            "window.__dispkit_define = window.define; window.define = undefined;</script>\n"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script>\n"
            "<script type=\"text/javascript\">window.define = window.__dispkit_define; delete window.__dispkit_define;"
            "if (typeof window.define === 'function' && window.define.amd) {"
            " window.define('plotly', [], function () { return window.Plotly; }); }"
            " else if (typeof window.require === 'undefined') {"
            " window.require = function (deps, cb) { cb.apply(null, deps.map(function (d) {"
            " return d === 'plotly' ? window.Plotly : undefined; })); }; }</script>\n")


def embed_plotly(page: str) -> str:
    """An HTML page that shows its plotly figures offline: every script that loads plotly.js from plotly's CDN
    (``cdn.plot.ly``, what nbconvert keeps of ``notebook_connected`` outputs) is dropped, and plotly.js itself is
    put inline once at the end of ``<head>`` when the page has a figure."""
    page = _SCRIPT.sub(lambda m: "" if "cdn.plot.ly" in m.group(0) else m.group(0), page)
    if "plotly-graph-div" not in page and "Plotly.newPlot" not in page:
        return page
    head = _plotly_head()
    i = page.lower().find("</head>")
    return page[:i] + head + page[i:] if i >= 0 else head + page


def to_html(executed: Path) -> Path:
    """Convert an executed notebook to a standalone HTML page next to it (plotly.js inline: works offline)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    out = Path(executed).with_suffix(".html")
    out.write_text(embed_plotly(body), encoding="utf-8")
    return out


def _index(out_dir: Path, rows: list[dict]) -> Path:
    items = []
    for r in rows:
        status = "ok" if r["ok"] else f"FAILED: {html.escape(r.get('error', ''))[:300]}"
        items.append(f"<li><a href='{r['name']}.html'>{r['name']}</a> ({r['seconds']:.0f} s) — {status}"
                     f" · <a href='{r['name']}.json'>json</a></li>")
    page = ("<html><head><meta charset='utf-8'><title>dispkit notebooks</title></head><body>"
            f"<h1>dispkit notebooks</h1><p>{time.strftime('%Y-%m-%d %H:%M')}</p><ul>{''.join(items)}</ul>"
            "</body></html>")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _outputs(executed: Path) -> tuple[str, list[tuple[str, str]]]:
    """(title, [(kind, payload)]) of an executed notebook: Markdown tables, PNG figures and plotly figures, in
    order."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    title = executed.stem
    items = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and title == executed.stem:
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            title = first.lstrip("# ").strip() or title
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data:
                items.append(("markdown", data["text/markdown"]))
            elif "application/vnd.plotly.v1+json" in data:
                items.append(("plotly", data["application/vnd.plotly.v1+json"]))
            elif "image/png" in data:
                items.append(("png", data["image/png"]))
    return title, items


def report(out_dir: Path, rows: list[dict], full: bool = False) -> Path:
    """``<out>/report.html``: every table and figure of the executed notebooks in one self-contained page
    (images inline; plotly figures interactive, with plotly.js inline once, so the page works offline), with the
    run's timings, then the committed full-size benchmark tables."""
    import platform

    import mistune

    out_dir = Path(out_dir)
    total = sum(r["seconds"] for r in rows)
    head = [f"<h1>dispkit report ({'full size' if full else 'fast mode'})</h1>",
            f"<p>{time.strftime('%Y-%m-%d %H:%M')} · {platform.platform()} · {os.cpu_count()} CPU "
            f"cores · notebooks {total / 60:.1f} min</p>", "<table><tr><th>notebook</th><th>status</th>"
            "<th>seconds</th></tr>"]
    sections = []
    for r in rows:
        status = "ok" if r["ok"] else "FAILED: " + html.escape(r.get("error", ""))[:300]
        head.append(f"<tr><td><a href='#{r['name']}'>{r['name']}</a> (<a href='{r['name']}.html'>page</a>)</td>"
                    f"<td>{status}</td><td>{r['seconds']:.0f}</td></tr>")
        executed = out_dir / f"{r['name']}.ipynb"
        if not executed.is_file():
            continue
        title, items = _outputs(executed)
        body = [f"<h2 id='{r['name']}'>{html.escape(title)}</h2>"]
        if not r["ok"]:
            body.append(f"<p class='fail'>{status}</p>")
        for kind, payload in items:
            if kind == "markdown":
                body.append(f"<div class='table'>{mistune.html(payload)}</div>")
            elif kind == "plotly":
                import plotly.io

                body.append(plotly.io.to_html(payload, include_plotlyjs=False, full_html=False))
            else:
                body.append(f"<img src='data:image/png;base64,{payload.strip()}'>")
        sections.append("\n".join(body))
    head.append("</table>")
    committed = sorted((REPO / "benchmarks" / "results").glob("*.md"))
    if committed:
        sections.append("<h2 id='benchmarks'>Committed full-size benchmark tables (benchmarks/results)</h2>"
                        + "".join(f"<h3>{p.name}</h3><div class='table'>{mistune.html(p.read_text())}</div>"
                                  for p in committed))
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em} img{max-width:100%} "
             "table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:2px 6px;"
             "text-align:right} .fail{color:#b00}")
    page = (f"<html><head><meta charset='utf-8'><title>dispkit report</title><style>{style}</style></head><body>"
            + "\n".join(head + sections) + "</body></html>")
    page = embed_plotly(page)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_all(out_dir: Path = REPO / "outputs", full: bool = False, only=None, seed: int = 0,
            html_pages: bool = True) -> list[dict]:
    """Execute the notebooks in order; keep going after a failure and report it at the end."""
    rows = []
    for nb in list_notebooks(only=only):
        t0 = time.time()
        row = {"name": nb.stem, "ok": True}
        print(f"[dispkit] running {nb.name} ({'full' if full else 'fast'}) ...", flush=True)
        try:
            executed, result = execute(nb, out_dir, {"fast": not full, "seed": seed})
            row["result"] = result
        except Exception as exc:
            row.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            executed = out_dir / nb.name
        row["seconds"] = time.time() - t0
        if html_pages and executed.is_file():
            to_html(executed)
        print(f"[dispkit]   {'ok' if row['ok'] else 'FAILED'} in {row['seconds']:.0f} s", flush=True)
        rows.append(row)
    _index(out_dir, rows)
    report(out_dir, rows, full)
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return rows


def main(argv=None) -> int:
    from dispkit.inputs import one_line_errors  # a bad argument: one line saying what to do, no usage block

    ap = one_line_errors(argparse.ArgumentParser(prog="python -m dispkit.notebooks",
                                                 description="Execute dispkit's notebooks with papermill (+ HTML)."))
    ap.add_argument("--out", type=Path, default=REPO / "outputs")
    ap.add_argument("--full", action="store_true", help="full-size parameters instead of fast mode")
    ap.add_argument("--only", nargs="*", help="notebook number prefixes, e.g. 00 03")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-html", action="store_true")
    args = ap.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        ap.error(f"--out {args.out} is a file: give a folder for the executed notebooks")
    if args.only and not list_notebooks(only=args.only):
        ap.error(f"--only {' '.join(args.only)}: no notebook has that number prefix; choose from "
                 f"{' '.join(p.name[:2] for p in list_notebooks())}")
    rows = run_all(args.out, args.full, args.only, args.seed, not args.no_html)
    failed = [r["name"] for r in rows if not r["ok"]]
    minutes = sum(r["seconds"] for r in rows) / 60
    print(f"[dispkit] {len(rows) - len(failed)}/{len(rows)} notebooks ran in {minutes:.1f} min; the report: "
          f"{args.out.resolve() / 'report.html'}")
    if failed:
        print(f"[dispkit] failed: {', '.join(failed)} (executed notebooks with the error are in {args.out})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
