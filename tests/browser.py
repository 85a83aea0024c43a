"""A real browser and real servers for the tests: Debian's chromium driven by playwright, JupyterLab on 127.0.0.1
with a token. Every server is stopped in a `finally`; every request that leaves loopback is aborted and recorded."""
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from lab import free_port, lab_command  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking switches Chromium calls Google's services at start (refused here, and noise).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "tests" / "artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# A test's Lab asks no questions: no news prompt over the page being screenshotted.
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
                "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoScrollOutputs": False}}

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="BROWSER TESTS SKIPPED: Debian's chromium is not installed (apt-get install chromium)")


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    "Stop a server and everything it started (kernels), whatever state it is in."
    if proc.poll() is not None: return
    with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def lab_server(root: Path, log: Path, env: dict | None = None):
    "JupyterLab serving `root` on a free loopback port with a fresh token and its own settings; yields (base_url, token)."
    port, token = free_port(), secrets.token_urlsafe(16)
    settings = log.parent / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / plugin).write_text(json.dumps(values))
    env = {"JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(log.parent / "lab-workspaces"), **(env or {})}
    with open(log, "w") as out:
        proc = subprocess.Popen(lab_command(root, port, token, expose_app=True), stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, cwd=root, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/api/status?token={token}", proc, log)
        yield base, token
    finally:
        stop(proc)


@contextlib.contextmanager
def static_server(folder: Path, log: Path):
    "A plain HTTP server for a built site, on a free loopback port."
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", proc, log, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@contextlib.contextmanager
def browser_page(viewport=(1400, 1000)):
    """A fresh Chromium page that aborts every request off loopback; yields (page, report): `offsite` requests, console
    and page errors, bytes received over websockets."""
    from playwright.sync_api import sync_playwright
    report = dict(offsite=[], console_errors=[], page_errors=[], ws_bytes_received=0)

    def count(payload):   # what the kernel sends the page (widget updates), in bytes
        report["ws_bytes_received"] += len(payload)

    def guard(route):
        url = urlparse(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOOPBACK:
            report["offsite"].append(route.request.url)
            return route.abort()
        return route.continue_()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport=dict(width=viewport[0], height=viewport[1]))
            page.route("**/*", guard)
            page.on("console", lambda m: m.type == "error" and report["console_errors"].append(m.text))
            page.on("pageerror", lambda e: report["page_errors"].append(str(e)))
            page.on("websocket", lambda ws: ws.on("framereceived", count))
            yield page, report
        finally:
            browser.close()


# JupyterLab, driven as a person would: open a notebook in a fresh workspace, run it, move a control, watch the marks.
_WATCH_JS = """([sel, event]) => {
    const el = document.querySelector(sel);
    const state = {start: null, drawn: null, before: Number(el.dataset.drawn || 0)};
    document.addEventListener(event, () => { if (state.start === null) state.start = performance.now(); }, {capture: true, once: true});
    const obs = new MutationObserver(() => {
        if (state.start !== null && state.drawn === null && Number(el.dataset.drawn || 0) > state.before) {
            state.drawn = performance.now(); obs.disconnect();
        }
    });
    obs.observe(el, {attributes: true, attributeFilter: ["data-drawn"]});
    window.__redraw = state;
}"""


class LabNotebook:
    "A notebook open in JupyterLab in a playwright page."
    def __init__(self, page, base: str, token: str, path: str):
        self.page = page
        page.goto(f"{base}/lab/workspaces/{secrets.token_hex(6)}/tree/{path}?reset&token={token}")
        page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel", timeout=120_000)
        self.wait_idle()

    _CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets.filter(c => c.model.type === 'code')
        .map(c => ({count: c.model.executionCount, outputs: c.model.outputs.toJSON()}))"""

    def cells(self) -> list[dict]:
        "The notebook's code cells as Lab's model holds them (every cell, whether or not it is scrolled into view)."
        return self.page.evaluate(self._CELLS)

    def wait_idle(self, timeout_s: float = 120) -> None:
        "Until the status bar says Idle and the kernel is idle (the toolbar's indicator turns idle too early)."
        self.page.wait_for_function("""() => /Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')
            && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'""",
                                    timeout=timeout_s * 1000, polling=500)

    def run_all(self, timeout_s: float = 600) -> None:
        "Run every cell, and wait until each has run or one has failed (Lab stops there)."
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function("""() => { const cells = window.jupyterapp.shell.currentWidget.content.widgets
                                                   .filter(c => c.model.type === 'code');
            const failed = cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
            return failed || cells.every(c => c.model.executionCount !== null); }""", timeout=timeout_s * 1000, polling=500)
        self.wait_idle(timeout_s)

    def errors(self) -> list[str]:
        "Tracebacks in any output, and charts that failed to draw."
        found = [f"{o['ename']}: {o['evalue']}" for c in self.cells() for o in c["outputs"] if o["output_type"] == "error"]
        return found + self.page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText)"
                                          ".filter(t => t.includes('chart error') || t.includes('Traceback'))")

    def redraw(self, panel: str, step: int = 0, timeout_s: float = 30) -> float:
        "Milliseconds from a person's key press (or click) on `panel` (`panel_action`) to the chart's new marks drawn."
        chart, event, act = panel_action(self.page, panel, step)
        self.page.evaluate(_WATCH_JS, [chart, event])
        act()
        self.page.wait_for_function("() => window.__redraw.drawn !== null", timeout=timeout_s * 1000)
        return self.page.evaluate("() => window.__redraw.drawn - window.__redraw.start")


def example_store(folder: Path) -> None:
    "A run store with two labels (2 + 1 finished runs, two stages each) for the run-store panel."
    from autoglm_workbench.recipe import Recipe
    from autoglm_workbench.store import RunStore
    store = RunStore(folder / "runs.db")
    for i, label in enumerate(["baseline", "baseline", "sweep-t"]):
        rid = store.start(Recipe(seed=i), folder / f"run-{i}", label=label)
        for pos, (stage, acc, lat) in enumerate([("teacher", 0.98, 17.0), ("distill", 0.96 - i / 100, 9.0 + i)]):
            store.record_stage(rid, pos, stage, dict(accuracy=acc, latency_b1_ms=lat, size_mb=80.0 - 20 * pos))
        store.finish(rid)


def tour_root(folder: Path) -> Path:
    "A folder holding a copy of the tour notebook (nbs/tour.ipynb) and, beside it, a run store with example runs."
    (folder / "nbs").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbs" / "05_tour.ipynb", folder / "nbs" / "tour.ipynb")
    example_store(folder / "runs")
    return folder


# One person's action on each panel of the tour, forwards (step even) or back (odd): (chart to watch, action).
def panel_action(page, panel: str, step: int):
    forward = step % 2 == 0
    if panel in ("kd", "mgad", "prune", "decoder-kd"):   # a slider: focus its handle, press an arrow key
        handle = {"kd": (".autoglm-kd", 1), "mgad": (".autoglm-mgad", 1), "prune": (".autoglm-prune", 0),
                  "decoder-kd": (".autoglm-decoder-kd", 0)}[panel]
        chart = {"kd": ".autoglm-chart-kd", "mgad": ".autoglm-chart-terms", "prune": ".autoglm-chart-importance",
                 "decoder-kd": ".autoglm-chart-decoder"}[panel]
        key = {"kd": "ArrowRight", "mgad": "ArrowLeft", "prune": "ArrowRight", "decoder-kd": "ArrowRight"}[panel]
        if not forward: key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
        page.locator(f"{handle[0]} .noUi-handle").nth(handle[1]).focus()
        return chart, "keydown", lambda: page.keyboard.press(key)
    if panel == "alignment":                # type a map, press Enter
        box = page.locator(".autoglm-alignment input")
        box.fill("last-2" if forward else "uniform")
        return ".autoglm-chart-cka", "keydown", lambda: box.press("Enter")
    if panel == "deployment":               # a batch-size button
        button = page.locator(".autoglm-deployment .widget-toggle-buttons button", has_text="1" if forward else "8").first
        return ".autoglm-chart-runtimes", "click", button.click
    if panel == "runs":                     # a label from the drop-down
        select = page.locator(".autoglm-runs select").first
        return ".autoglm-chart-runs", "change", lambda: select.select_option("sweep-t" if forward else "(all)")
    raise ValueError(f"panel {panel!r}: the tour has {PANELS}")


PANELS = ("kd", "alignment", "mgad", "prune", "deployment", "runs", "decoder-kd")
