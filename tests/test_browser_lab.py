"""The tour notebook in JupyterLab, in Debian's Chromium with every request off loopback aborted: it runs with no
traceback, and every panel redraws its marks, as the maths says, when a person presses a key or clicks.

Each action is timed by bench/panels.py's own code, so this test is also that benchmark's smoke run (one action a
panel on the quick teacher): one JupyterLab and one tour for both, not two."""
import importlib.util
import json
import re

import pytest

from browser import ARTIFACTS, PANELS, ROOT, LabNotebook, browser_page, lab_server, needs_chromium, tour_root

pytestmark = needs_chromium
_spec = importlib.util.spec_from_file_location("bench_panels", ROOT / "bench" / "panels.py")
bench_panels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_panels)


def marks(page, chart, name, what="height"):
    "Size (or count) of the marks of a named layer: Vega gives each mark group the layer's name as a class."
    return page.evaluate("""([chart, name, what]) => [...document.querySelectorAll(`${chart} g.role-mark[class*="${name}"] > *`)]
        .map(m => { const box = m.getBBox(); return what === 'height' ? box.height : what === 'width' ? box.width : 1; })""",
                         [chart, name, what])


def labels(page, chart, name):
    "The marks' aria-labels: Vega writes each mark's data there ('field: value; ...')."
    return page.evaluate("([c, n]) => [...document.querySelectorAll(`${c} g.role-mark[class*=${n}] > *`)].map(m => m.getAttribute('aria-label'))",
                         [chart, name])


def field(label, name):
    return float(re.search(rf"{re.escape(name)}: ([-0-9.e]+)", label).group(1))


def title(page, chart, contains):
    return page.evaluate("([c, t]) => [...document.querySelectorAll(`${c} text`)].map(x => x.textContent).find(x => x.includes(t))",
                         [chart, contains])


def test_tour_panels_in_lab(tmp_path, monkeypatch):
    root = tour_root(tmp_path / "lab")
    monkeypatch.setenv("AUTOGLM_QUICK", "1")            # a teacher fine-tuned in seconds on a slice of BBC News
    ARTIFACTS.mkdir(exist_ok=True)
    times, sent = {}, {}

    def act(panel):
        ms, sent_bytes = bench_panels.timed_action(nb, report, panel, 0)
        times[panel], sent[panel] = [ms], [sent_bytes]

    with lab_server(root, tmp_path / "lab.log") as (base, token), browser_page() as (page, report):
        nb = LabNotebook(page, base, token, "nbs/tour.ipynb")
        nb.run_all()
        assert nb.errors() == []
        assert all(c["count"] is not None for c in nb.cells()), "every cell ran"

        # Distillation: T 2 -> 3 flattens the teacher's bars (the tallest bar gets shorter); the title follows.
        page.locator(".autoglm-kd").screenshot(path=ARTIFACTS / "lab-kd-before.png")
        tallest = lambda: max(marks(page, ".autoglm-chart-kd", "softened"))
        before = tallest()
        act("kd")
        assert tallest() < before
        assert title(page, ".autoglm-chart-kd", "T = ") == "teacher softmax(z / T), T = 3.00"
        page.locator(".autoglm-kd").screenshot(path=ARTIFACTS / "lab-kd-after.png")

        # Alignment: a typed map and Enter circle its pairs (uniform: 3 pairs; last-2: 2) and title its score.
        assert len(marks(page, ".autoglm-chart-cka", "mapped")) == 3
        act("alignment")
        assert len(marks(page, ".autoglm-chart-cka", "mapped")) == 2
        assert title(page, ".autoglm-chart-cka", "mean") is not None

        # MGAD: beta 1.00 -> 0.95 scales the sentence bar by 0.95; token's bar and the axis stay put.
        bars = lambda: marks(page, ".autoglm-chart-terms", "terms")          # token, sentence, paragraph, total
        before = bars()
        act("mgad")
        after = bars()
        assert after[1] == pytest.approx(0.95 * before[1], rel=0.02) and after[0] == pytest.approx(before[0], abs=0.01)

        # Pruning: heads 0.50 -> 0.55 crosses out more of the teacher's 72 heads (36 -> 40).
        crossed = lambda: len(marks(page, ".autoglm-chart-importance", "pruned_heads", "count"))
        assert crossed() == 36
        act("prune")
        assert crossed() == 40

        # Deployment: batch 8 -> 1: the runtimes are timed again and the chart says which batch it shows (which is faster
        # is a benchmark's question: bench/quant.py, not a test on a shared machine)
        lat = lambda: [field(l, "ms per batch (median; line to p90)") for l in labels(page, ".autoglm-chart-runtimes", "latency")
                       if l and "ms per batch" in l]
        before = lat()
        act("deployment")
        assert len(before) == len(lat()) == 4 and lat() != before, (before, lat())
        assert title(page, ".autoglm-chart-runtimes", "latency, batch") == "latency, batch 1"

        # Run store: one label keeps its runs' stages only (3 runs x 2 stages -> 1 run x 2 stages).
        points = lambda: len(marks(page, ".autoglm-chart-runs", "stages", "count"))
        assert points() == 6
        act("runs")
        assert points() == 2
        # Decoders: position 0 -> 1 moves the KL line's rule and the bars to the next token; the title follows.
        assert title(page, ".autoglm-chart-decoder", "target position") == "next token at target position 0"
        bars_before = labels(page, ".autoglm-chart-decoder", "next_token")
        act("decoder-kd")
        assert title(page, ".autoglm-chart-decoder", "target position") == "next token at target position 1"
        assert len(bars_before) == 20 and labels(page, ".autoglm-chart-decoder", "next_token") != bars_before   # 10 tokens x 2 models
        for name in ("alignment", "mgad", "prune", "deployment", "runs", "decoder-kd"):
            page.locator(f".autoglm-{name}").screenshot(path=ARTIFACTS / f"lab-{name}-after.png")
        assert nb.errors() == []
        assert report["offsite"] == [], report["offsite"]
        result = bench_panels.summary(times, sent, quick=True, smoke=True, offsite=report["offsite"])
    assert set(result["panels"]) == set(PANELS) and all(r["actions"] == 1 and r["median_ms"] > 0 for r in result["panels"].values())
    assert all(r["median_kb_to_page"] > 0 for r in result["panels"].values()), "every redraw came from the kernel"
    (ARTIFACTS / "lab-redraw-ms.json").write_text(json.dumps(result, indent=1))
