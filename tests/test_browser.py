"""The notebooks in a real JupyterLab, in a real (headless) browser.

A JupyterLab server is started on 127.0.0.1 with a token over a temporary copy of ``notebooks/`` (so nothing in
the repository gets outputs; ``DISPKIT_FAST=1`` in its environment runs the notebooks fast), and headless
Chromium opens the notebooks (all ten by default; see ``DEFAULT_NOTEBOOKS``),
runs all their cells and checks what a student sees:

* no cell has an error output;
* every code cell ran;
* every widget output renders as a widget (a slider, a progress bar), not as its text repr or "Error displaying
  widget" (a progress bar the kernel closed when done, tqdm's ``leave=False``, leaves an empty output), and every
  interactive figure of the notebook (``dispkit.viz.interactive_figure``) is on the page;
* every plotly figure is drawn (its element's pixels are not all one colour: the WebGL canvas of a 3D figure
  draws through SwiftShader);
* moving one slider of notebooks 00, 03, 04, 05, 06 and 07 (a real drag of the handle) redraws its figure.

The server and the browser are stopped by the fixtures' finalizers, also when a test fails. Needs Debian's
``chromium`` and ``chromium-driver`` and selenium; without them the module is skipped with the reason, except
under ``CI=true``, where a missing browser is a failure. ``DISPKIT_BROWSER_SCREENSHOTS=DIR`` saves screenshots of
every notebook after its run (and of each slider before and after the move).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dispkit.notebooks import list_notebooks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1600,1200", "--enable-unsafe-swiftshader",
                "--use-angle=swiftshader", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")
# Which notebooks: all ten -- sliders (00, 03, 04, 05, 06, 07), a plotly figure (00), progress bars (05, 07, 08),
# and the static 01, 02 and 09. 05 trains 12 steps and evaluates four networks on 3 scenes of each split in fast
# mode (about 40 s once the suite's earlier tests have filled the numba and texture-pool caches).
# DISPKIT_BROWSER_NOTEBOOKS picks others by number prefix ("00 05").
DEFAULT_NOTEBOOKS = "all"
_selection = os.environ.get("DISPKIT_BROWSER_NOTEBOOKS", DEFAULT_NOTEBOOKS).split()
NOTEBOOKS = list_notebooks() if _selection == ["all"] else list_notebooks(only=_selection)
# the slider each of these notebooks' test drags (a word of its label) and the figure it must redraw
SLIDERS = {"00_quickstart": "β₀", "03_textures": "strength", "04_gt_displacements": "angle",
           "05_network_training": "strength", "06_pixel_to_vertex": "noise", "07_smplify_priors": "weight"}
RUN_TIMEOUT = 500      # seconds for one notebook's run-all (notebook 07 is the longest on a busy machine)
SHOTS = os.environ.get("DISPKIT_BROWSER_SCREENSHOTS")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _missing() -> list[str]:
    missing = [what for what, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if not (Path(path).is_file() and os.access(path, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install selenium)")
    return missing


def _require_browser():
    missing = _missing()
    if not missing:
        return
    msg = (f"no browser to test the notebooks in: {', '.join(missing)} missing (apt-get install chromium "
           "chromium-driver; pip install selenium)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + " -- under CI=true the browser test must run")
    pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_notebooks(dst: Path, results: Path) -> None:
    """The notebooks, their ``out_path`` pointed at ``results`` (the JSON, and any file written next to it)."""
    for nb in list_notebooks():
        data = json.loads(nb.read_text())
        for cell in data["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                src = "".join(cell["source"]).splitlines(True)
                cell["source"] = [f"out_path = {str(results / (nb.stem + '.json'))!r}\n" if line.startswith("out_path")
                                  else line for line in src]
        (dst / nb.name).write_text(json.dumps(data, indent=1))


class Lab:
    def __init__(self, url: str, token: str, root: Path, log: Path):
        self.url, self.token, self.root, self.log = url, token, root, log


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a copy of the notebooks; stopped (its whole process group) at the end."""
    _require_browser()
    base = tmp_path_factory.mktemp("lab")
    root, results, settings = base / "notebooks", base / "results", base / "settings"
    for d in (root, results):
        d.mkdir()
    _copy_notebooks(root, results)
    # no news pop-up; every cell attached to the page (no windowing), so the DOM holds every output
    for ext, name, value in (("@jupyterlab/apputils-extension", "notification", {"fetchNews": "false"}),
                             ("@jupyterlab/notebook-extension", "tracker", {"windowingMode": "none"})):
        (settings / ext).mkdir(parents=True, exist_ok=True)
        (settings / ext / f"{name}.jupyterlab-settings").write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, DISPKIT_FAST="1", JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTER_DATA_DIR=str(base / "data"), JUPYTER_CONFIG_DIR=str(base / "config"))
    env.pop("MPLBACKEND", None)  # the kernels must use the inline backend, not the Agg of the test run
    env.pop("DISPKIT_HEADLESS", None)  # a real front end: the interactive figures must be live widgets
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)

    def stop():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started (one process group)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                req = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
                urllib.request.urlopen(req, timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in 120 s:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield Lab(url, token, root, log)
    finally:
        stop()


@pytest.fixture(scope="module")
def browser(lab):
    """Headless Chromium (a fresh profile) driven by chromedriver; quit at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={lab.root.parent / 'chromium-profile'}")
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    try:
        driver.set_script_timeout(60)
        yield driver
    finally:
        driver.quit()


# --------------------------------------------------------------------------------------------- page helpers

_STATE = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!w || !w.content || !w.content.model || !w.sessionContext) return null;
const k = w.sessionContext.session && w.sessionContext.session.kernel;
const cells = w.content.model.cells; let running = 0, unrun = 0, code = 0;
for (let i = 0; i < cells.length; i++) {
  const c = cells.get(i); if (c.type !== 'code') continue; code++;
  if (c.executionState === 'running') running++;
  else if (c.executionCount === null) unrun++;
}
return {path: w.context.path, kernel: k ? k.status : 'none', running: running, unrun: unrun, code: code};
"""

_OUTPUTS = """
const w = window.jupyterapp.shell.currentWidget; const cells = w.content.model.cells; const r = [];
for (let i = 0; i < cells.length; i++) {
  const c = cells.get(i); if (c.type !== 'code') continue;
  for (const o of c.outputs.toJSON()) {
    r.push({cell: i, type: o.output_type, mimes: Object.keys(o.data || {}), ename: o.ename || null,
            evalue: o.evalue || null,
            text: (o.data && o.data['text/plain']) ? String(o.data['text/plain']).slice(0, 200) : null});
  }
}
return r;
"""

_DOM = """
const panel = window.jupyterapp.shell.currentWidget.node;
// the cells' own outputs (an Output widget holds output areas too: those are not counted)
const outs = Array.from(panel.querySelectorAll('.jp-OutputArea-output'))
  .filter(e => !e.parentElement.closest('.jupyter-widgets'));
const panels = outs.filter(e => e.classList.contains('lm-Panel'));   // how a widget output is drawn
return {
  widget_views: outs.filter(e => e.querySelector('.jupyter-widgets')).length,
  // a widget closed by the kernel (tqdm's leave=False bars when done) leaves its output empty
  widget_closed: panels.filter(e => !e.querySelector('.jupyter-widgets') && !(e.textContent || '').trim()).length,
  interactive: panel.querySelectorAll('.dispkit-interactive').length,
  widget_errors: outs.filter(e => (e.textContent || '').includes('Error displaying widget')).length,
  widget_reprs: outs.filter(e => e.getAttribute('data-mime-type') === 'text/plain'
                && /^(VBox|HBox|Box|interactive|FloatSlider|IntSlider|Dropdown|Output|FloatProgress)\\(/.test(
                   (e.textContent || '').trim())).length,
  plotly: panel.querySelectorAll('.js-plotly-plot').length,
};
"""


def _wait(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def _open(driver, lab: Lab, name: str) -> None:
    """Open a notebook in the running JupyterLab page (the page itself is loaded once) and wait for its kernel."""
    if not driver.execute_script("return !!window.jupyterapp"):
        driver.get(f"{lab.url}/lab?token={lab.token}")
        _wait(lambda: driver.execute_script("return !!(window.jupyterapp && window.jupyterapp.shell)"), 120,
              "JupyterLab to load")
        driver.execute_async_script("window.jupyterapp.restored.then(() => arguments[arguments.length - 1](true))")
    driver.execute_script("window.jupyterapp.commands.execute('docmanager:open', {path: arguments[0]})", name)
    _wait(lambda: (s := driver.execute_script(_STATE)) and s["path"].endswith(name) and s["kernel"] == "idle",
          180, f"{name} to open with an idle kernel")


def _run_all(driver, name: str) -> dict:
    """Run all cells; return when no cell is running or queued any more (all ran, or one failed and run-all
    stopped there). The cells' own execution state decides: the kernel's status also turns idle while a cell
    runs, whenever the kernel answers a widget's message in between."""
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    t0 = time.time()
    _wait(lambda: (s := driver.execute_script(_STATE))["running"] > 0 or s["unrun"] < s["code"], 30,
          f"{name}: run-all to start")
    while True:
        s = driver.execute_script(_STATE)
        if s["running"] == 0:
            return s
        if time.time() - t0 > RUN_TIMEOUT:
            raise AssertionError(f"{name}: run-all did not finish in {RUN_TIMEOUT} s ({s})")
        time.sleep(0.5)


def _png(element_or_driver):
    from PIL import Image

    data = element_or_driver.screenshot_as_png if hasattr(element_or_driver, "screenshot_as_png") \
        else element_or_driver.get_screenshot_as_png()
    return Image.open(io.BytesIO(data)).convert("RGB")


def _drawn_fraction(img) -> float:
    """The share of pixels that differ from the image's most common colour (its background)."""
    import numpy as np

    a = np.asarray(img).reshape(-1, 3).astype(np.int32)
    colors, counts = np.unique(a, axis=0, return_counts=True)
    bg = colors[counts.argmax()]
    return float((np.abs(a - bg).sum(1) > 30).mean())


def _scroller(driver):
    return driver.execute_script("""
      const n = window.jupyterapp.shell.currentWidget.content.node;
      let e = n; for (const c of [n, ...n.querySelectorAll('*')]) { if (c.scrollHeight > c.clientHeight + 10 &&
        getComputedStyle(c).overflowY !== 'visible') { e = c; break; } } return e;""")


def _screenshots(driver, name: str, tag: str = "") -> None:
    if not SHOTS:
        return
    out = Path(SHOTS)
    out.mkdir(parents=True, exist_ok=True)
    scroller = _scroller(driver)
    total, step = driver.execute_script("return [arguments[0].scrollHeight, arguments[0].clientHeight]", scroller)
    for k, y in enumerate(range(0, max(total, 1), max(step - 80, 200))):
        driver.execute_script("arguments[0].scrollTop = arguments[1]", scroller, y)
        time.sleep(0.4)
        driver.save_screenshot(str(out / f"{name}{tag}_{k:02d}.png"))


def _figure_hash(box) -> str | None:
    """Hash of the interactive figure's images, read in one script: the images are replaced while the figure
    redraws, so reading them one WebDriver call at a time races the redraw (a stale element)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        srcs = box.parent.execute_script(
            "return Array.from(arguments[0].querySelectorAll('.dispkit-interactive-output img'))"
            ".map(i => i.getAttribute('src') || '')", box)
    except StaleElementReferenceException:  # the whole box was redrawn: not drawn yet
        return None
    return hashlib.sha1("".join(srcs).encode()).hexdigest() if srcs else None


def _drag_slider(driver, name: str, label: str) -> tuple[str, str]:
    """Drag the handle of the slider labelled ``label`` (inside an interactive figure) and wait for the figure to
    change; returns the slider's readout before and after."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    boxes = driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .dispkit-interactive")
    assert boxes, f"{name}: no interactive figure (.dispkit-interactive) on the page"
    for box in boxes:
        for s in box.find_elements(By.CSS_SELECTOR, ".widget-slider"):
            if label in s.find_element(By.CSS_SELECTOR, ".widget-label").text:
                slider_el, fig_box = s, box
                break
        else:
            continue
        break
    else:
        raise AssertionError(f"{name}: no slider labelled {label!r} in its interactive figures")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", fig_box)
    time.sleep(0.5)
    before_fig = _wait(lambda: _figure_hash(fig_box), 60, f"{name}: the interactive figure's first drawing")
    readout = slider_el.find_element(By.CSS_SELECTOR, ".widget-readout")
    before = readout.text
    if SHOTS:
        fig_box.screenshot(str(Path(SHOTS) / f"{name}_slider_before.png"))
    handle = slider_el.find_element(By.CSS_SELECTOR, ".noUi-handle")
    ActionChains(driver).move_to_element(handle).click_and_hold().move_by_offset(70, 0).release().perform()
    _wait(lambda: readout.text != before, 10, f"{name}: the slider {label!r} to move")
    _wait(lambda: _figure_hash(fig_box) not in (None, before_fig), 90, f"{name}: the figure to redraw after the "
          f"slider {label!r} moved from {before} to {readout.text}")
    time.sleep(0.5)
    if SHOTS:
        fig_box.screenshot(str(Path(SHOTS) / f"{name}_slider_after.png"))
    return before, readout.text


def _close(driver) -> None:
    """Shut the notebook's kernel down and close its tab without a save dialog."""
    driver.execute_async_script("""
      const done = arguments[arguments.length - 1]; const w = window.jupyterapp.shell.currentWidget;
      if (!w || !w.sessionContext) { done(); return; }
      w.sessionContext.shutdown().catch(() => null).then(() => { w.context.model.dirty = false; w.dispose(); done(); });
    """)


# --------------------------------------------------------------------------------------------- the test

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_in_jupyterlab(nb, lab, browser):
    """Open the notebook in JupyterLab, run all cells, check errors, widgets, plotly figures (and a slider)."""
    from selenium.webdriver.common.by import By

    t0 = time.time()
    phases = {}
    _open(browser, lab, nb.name)
    phases["open"] = time.time() - t0
    try:
        state = _run_all(browser, nb.name)
        phases["run"] = time.time() - t0 - sum(phases.values())
        outputs = browser.execute_script(_OUTPUTS)
        errors = [f"cell {o['cell']}: {o['ename']}: {o['evalue']}" for o in outputs if o["type"] == "error"]
        assert not errors, f"{nb.name} has error outputs in JupyterLab:\n" + "\n".join(errors)
        assert state["unrun"] == 0, f"{nb.name}: {state['unrun']} of {state['code']} code cells did not run"
        n_widgets = sum(WIDGET_MIME in o["mimes"] for o in outputs)
        n_plotly = sum(PLOTLY_MIME in o["mimes"] for o in outputs)
        # widgets and plotly render asynchronously after the kernel is idle
        seen = []

        def rendered():  # widgets and plotly figures render asynchronously; wait for all, then for a stable count
            d = browser.execute_script(_DOM, WIDGET_MIME)
            seen.append(d)
            done = d["widget_views"] + d["widget_errors"] + d["widget_closed"] >= n_widgets and d["plotly"] >= n_plotly
            return d if done and len(seen) > 2 and seen[-2] == d else None

        dom = _wait(rendered, 60, f"{nb.name}: {n_widgets} widgets and {n_plotly} plotly figures to render", poll=1.0)
        assert dom["widget_errors"] == 0, f"{nb.name}: {dom['widget_errors']} outputs say 'Error displaying widget'"
        assert dom["widget_reprs"] == 0, f"{nb.name}: {dom['widget_reprs']} widgets shown as their text repr"
        assert dom["widget_views"] + dom["widget_closed"] == n_widgets, \
            f"{nb.name}: {n_widgets} widget outputs, {dom['widget_views']} rendered as widgets ({dom})"
        n_interactive = nb.read_text().count("interactive_figure(")
        assert dom["interactive"] == n_interactive, \
            f"{nb.name}: {n_interactive} interactive figures in the notebook, {dom['interactive']} on the page"
        for k, plot in enumerate(browser.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) "
                                                                        ".js-plotly-plot")):
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", plot)
            _wait(lambda el=plot: _drawn_fraction(_png(el)) > 0.02, 30,
                  f"{nb.name}: plotly figure {k} to draw (it stays blank)")
        phases["check"] = time.time() - t0 - sum(phases.values())
        _screenshots(browser, nb.stem)
        if nb.stem in SLIDERS:
            before, after = _drag_slider(browser, nb.stem, SLIDERS[nb.stem])
            assert before != after
    finally:
        phases["rest"] = time.time() - t0 - sum(phases.values())
        print(f"{nb.name}: {time.time() - t0:.1f} s in JupyterLab (" + ", ".join(f"{k} {v:.1f} s" for k, v in
                                                                        phases.items()) + ")")
        _close(browser)
