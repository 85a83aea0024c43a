"""The docs site, built by `make docs` from the notebooks, opened in Debian's Chromium with every request off loopback
aborted: every page loads with no console error, every chart is drawn, every sidebar link resolves."""
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from browser import ARTIFACTS, ROOT, browser_page, needs_chromium, static_server

pytestmark = needs_chromium
# `make test` builds the site once (it is also how every chapter is executed); elsewhere this test builds it.
SITE = Path(os.environ.get("AUTOGLM_DOCS_SITE", ROOT / "_sphinx" / "html"))


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "docs.py"), "--out", str(SITE.parent)], check=True)
    return SITE


def test_every_page_offline(site, tmp_path):
    pages = sorted(p.relative_to(site).as_posix() for p in site.glob("*.html") if p.name not in ("genindex.html", "search.html"))
    chapters = sorted(p.stem for p in (ROOT / "nbs").glob("*.ipynb") if p.stem != "index")
    assert sorted(p[:-5] for p in pages if p != "index.html") == chapters          # a page for every chapter
    ARTIFACTS.mkdir(exist_ok=True)
    with static_server(site, tmp_path / "http.log") as base, browser_page() as (page, report):
        sidebar = set()
        for name in pages:
            errors_before = len(report["console_errors"]) + len(report["page_errors"])
            response = page.goto(f"{base}/{name}")
            assert response.status == 200, name
            page.wait_for_load_state("networkidle")
            assert len(report["console_errors"]) + len(report["page_errors"]) == errors_before, (name, report)
            sidebar |= set(page.eval_on_selector_all(".sidebar-tree a.reference.internal", "as => as.map(a => a.href)"))
            charts = page.locator(".cell_output svg, .cell_output canvas, .cell_output img")
            if name in ("10_kd_loss.html", "05_tour.html", "21_importance.html", "70_lm.html"):
                assert charts.count() > 0, f"{name}: no chart drawn"
            if name == "70_lm.html":
                assert page.locator(".autoglm-panel-still").count() == 1          # the decoder KD panel as a still
            if name == "05_tour.html":
                assert page.locator(".autoglm-panel-still").count() == 7        # every panel as a still, none blank
                assert page.get_by_text("run this notebook in JupyterLab").count() == 7
        for name, shot in (("10_kd_loss.html", "docs-kd.png"), ("05_tour.html", "docs-tour.png")):
            page.goto(f"{base}/{name}")
            page.screenshot(path=ARTIFACTS / shot)
        assert report["offsite"] == [], report["offsite"]
        for href in sorted(sidebar):
            with urllib.request.urlopen(href.split("#")[0], timeout=10) as r:
                assert r.status == 200, href
        assert len(sidebar) >= len(chapters)
        assert page.goto(f"{base}/index.html") and page.locator(".sidebar-tree a.reference.internal").first.inner_text() \
            .startswith("Start here")                                  # the tour first in the sidebar
        page.goto(f"{base}/10_kd_loss.html")
        assert page.locator("math").count() > 0                  # the loss's formula as MathML, drawn by the browser
