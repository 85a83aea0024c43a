"""Redraw time of every panel as a person sees it: in JupyterLab in Debian's Chromium, from the key press (or click)
to the chart's new marks in the page, on the tour notebook. Writes bench/results/panels.json.

    python bench/panels.py [--actions 20] [--quick] [--smoke]

The tour runs on the demo's teacher (fine-tuned once by `make demo`, then cached); --quick uses the tests' teacher
fine-tuned in seconds on a slice. Each panel gets `--actions` alternating actions (one step forward, one back), each
timed in the page by a MutationObserver on the chart, with the bytes the kernel sent the page for it. Goal (issue 13): under 150 ms for every panel, no blank frame.
"""
import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM, PANELS, LabNotebook, browser_page, lab_server, tour_root  # noqa: E402

from autoglm_workbench.bench import results_path, write_results  # noqa: E402

GOAL_MS = 150


def timed_action(nb: LabNotebook, report: dict, panel: str, step: int) -> tuple[float, int]:
    "One action on `panel` (`step` even: forwards, odd: back): ms to the chart's new marks, bytes the kernel sent the page."
    before = report["ws_bytes_received"]
    ms = nb.redraw(panel, step)
    return ms, report["ws_bytes_received"] - before


def summary(times: dict[str, list[float]], sent: dict[str, list[int]], *, quick: bool, smoke: bool, offsite: list) -> dict:
    "The results of `timed_action`s on every panel: each panel's median, p90 and max against the goal."
    rows = {k: dict(median_ms=statistics.median(v), p90_ms=sorted(v)[int(0.9 * (len(v) - 1))], max_ms=max(v), actions=len(v),
                    median_kb_to_page=statistics.median(sent[k]) / 1024) for k, v in times.items()}
    return dict(goal_ms=GOAL_MS, met=all(r["p90_ms"] < GOAL_MS for r in rows.values()), panels=rows,
                teacher="quick" if quick else "demo", browser=Path(CHROMIUM).name, requests_off_loopback=len(offsite),
                measured="key press (or click) to the chart's new marks, in the page (MutationObserver)", smoke=smoke)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--actions", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="the tests' quick teacher instead of the demo's")
    p.add_argument("--smoke", action="store_true", help="the quick teacher, one action a panel, a temporary output: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/panels.json)")
    a = p.parse_args()
    if a.smoke: a.quick, a.actions = True, 1
    if CHROMIUM is None: sys.exit("Debian's chromium is needed (apt-get install chromium)")
    if a.quick: os.environ["AUTOGLM_QUICK"] = "1"
    times, sent = {k: [] for k in PANELS}, {k: [] for k in PANELS}
    with tempfile.TemporaryDirectory() as tmp:
        root = tour_root(Path(tmp) / "lab")
        with lab_server(root, Path(tmp) / "lab.log") as (base, token), browser_page() as (page, report):
            nb = LabNotebook(page, base, token, "nbs/tour.ipynb")
            nb.run_all(timeout_s=1800)
            if nb.errors(): sys.exit(f"the tour failed: {nb.errors()}")
            for panel in PANELS:
                for step in range(a.actions):
                    ms, sent_bytes = timed_action(nb, report, panel, step)
                    times[panel].append(ms)
                    sent[panel].append(sent_bytes)
                print(f"{panel}: median {statistics.median(times[panel]):.0f} ms", flush=True)
            offsite = report["offsite"]
    result = summary(times, sent, quick=a.quick, smoke=a.smoke, offsite=offsite)
    print("wrote", write_results(results_path(__file__, a.out, a.smoke), result, __file__))


if __name__ == "__main__":
    main()
