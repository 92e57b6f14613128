"""README.md and docs/*.md: every number from benchmarks/results/ through `make docs`, a README read in one sitting,
links to files that exist and names the package has.

A result typed into a page drifts from the committed one; so a page's numbers live in generated regions
(``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->``, :mod:`dispkit.docs`), and these tests fail when a
region is not what the results say now (run ``make docs``) or when a figure with a unit stands outside them.
"""
import json
import re
import shutil
from pathlib import Path

import pytest

from dispkit import docs
from dispkit.notebooks import REPO, RESULTS_DIR, unsourced_figures_in_markdown

README = REPO / "README.md"
PAGES = docs.doc_files()


def _id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (a link in code is not a link)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def test_there_are_docs_pages():
    assert README in PAGES and len(PAGES) > 5, PAGES


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_generated_regions_are_what_the_results_say_now(page):
    stale = docs.stale_regions(page.read_text())
    assert not stale, f"{_id(page)}: the regions {stale} differ from benchmarks/results/: run `make docs`"


def test_every_renderer_has_one_region():
    used = [name for page in PAGES for name in docs.region_names(page.read_text())]
    assert sorted(used) == sorted(docs.RENDERERS), "a renderer without a region, or a region twice"


def test_a_changed_result_changes_the_pages_until_make_docs(tmp_path):
    for path in RESULTS_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    net = json.loads((tmp_path / "net.json").read_text())
    net["checkpoints"]["cpu_full"]["id"]["epe_px"] = 1.23456
    (tmp_path / "net.json").write_text(json.dumps(net))
    results = docs.Results(tmp_path)
    text = README.read_text()
    new = docs.render_text(text, results)
    assert new != text and "1.23 px" in new and "1.23 px" not in text
    assert docs.render_text(new, results) == new               # rendering is idempotent
    assert docs.blank_regions(new) == docs.blank_regions(text)  # only the regions changed


def test_regions_must_be_closed_and_known():
    with pytest.raises(ValueError, match="unclosed"):
        docs.region_names("<!-- results:net -->\nsome text\n")
    with pytest.raises(KeyError, match="no renderer"):
        docs.render_text("<!-- results:nothing-like-this -->\n<!-- /results:nothing-like-this -->\n")
    with pytest.raises(FileNotFoundError, match="make docs"):
        docs.Results(Path("/nonexistent"))("net")


def test_the_readme_is_read_in_one_sitting():
    text = README.read_text()
    assert len(text.splitlines()) <= 200, f"README.md has {len(text.splitlines())} lines; move detail to docs/"
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_the_makefile_has_the_docs_target():
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^docs:.*\n\t\$\(PY\) -m dispkit\.docs$", make, re.M)


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img [^>]*src=\"([^\"]+)\"")


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_relative_links_point_to_files(page):
    missing = []
    for m in _LINK.finditer(_prose(page.read_text())):
        target = m.group(1) or m.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue                                      # https:, mailto:, an anchor on the same page
        path = (page.parent / target.split("#")[0].split("?")[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{_id(page)} links to files that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_no_figure_outside_the_generated_regions(page):
    found = unsourced_figures_in_markdown(docs.blank_regions(page.read_text()))
    assert not found, (f"{_id(page)}: figures that are neither generated nor the paper's (put them in a region of "
                       "dispkit.docs, or mark an illustration):\n"
                       + "\n".join(f"  line {line}: {fig!r} in '...{ctx}...'" for line, fig, ctx in found))


def test_the_markdown_scan_finds_typed_results_and_spares_the_rest():
    text = ("the shipped network reaches 0.46× of the zero field (2.96 vs 6.50 px)\n"        # typed: flagged
            "PARE's 74.5 mm on 3DPW drop to 65.5 mm (Table 1)\n"                             # the paper's
            'a <span class="illustration">3-pixel miss on a 75-pixel-tall person</span>\n'
            "<!-- 12 mm in a comment -->\n"
            "a 1920 × 1080 frame, a 64 × 64 crop, 12%\n")
    found = unsourced_figures_in_markdown(text)
    assert [(line, fig) for line, fig, _ in found] == [(1, "0.46×"), (1, "6.50 px"), (5, "12%")]
    region = "<!-- results:net -->\n0.41 × and 2.58 px\n<!-- /results:net -->\nafter"
    assert unsourced_figures_in_markdown(region) and not unsourced_figures_in_markdown(docs.blank_regions(region))
    assert docs.blank_regions(region).count("\n") == region.count("\n")


_NAME = re.compile(r"(?<![\w./-])dispkit(?:\.\w+)+")


def _defines(source: str, name: str) -> bool:
    n = re.escape(name)
    return bool(re.search(rf"^\s*(?:def|class)\s+{n}\b|^\s*{n}\s*[:=]|^\s*(?:from\s+\S+\s+)?import\s+[^\n]*\b{n}\b"
                          rf"|import\s*\([^)]*\b{n}\b|[\"']{n}[\"']", source, re.M))


def _missing(dotted: str) -> str | None:
    """What of ``dispkit.a.b.c`` does not exist: modules by file, then names defined in the last module's source."""
    parts, path = dotted.split(".")[1:], REPO / "dispkit"
    while parts and (path / parts[0]).is_dir():
        path = path / parts.pop(0)
    if parts and (path / f"{parts[0]}.py").is_file():
        path = path / f"{parts.pop(0)}.py"
    source = (path if path.suffix == ".py" else path / "__init__.py").read_text()
    for name in parts:
        if not _defines(source, name):
            return name
    return None


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_dispkit_name_exists(page):
    names = sorted(set(_NAME.findall(page.read_text())))
    bad = {n: _missing(n) for n in names}
    bad = {n: m for n, m in bad.items() if m}
    assert not bad, f"{_id(page)} names what the package does not have (name: the part not found): {bad}"
