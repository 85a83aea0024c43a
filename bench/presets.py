"""Each industry preset's full run on its stand-in data; writes bench/results/presets.json.

    python bench/presets.py [--presets finance-risk customer-service edge-qc] [--set FIELD=VALUE ...] [--smoke]

The same as `autoglm run --preset NAME` for each preset: the pipeline (distil, then the preset's stages), the
measurements its budget reads (risk recall at the fixed false-positive rate, p99 latency at batch 1, throughput at
batch 32 per core, peak memory of a fresh serving process, size), and whether the budget was met, with the
measured speed-up against the teacher beside the seed article's claim. edge-qc tries every student shape of its
search and keeps the one most accurate on the validation split within the budget (test figures are reported).
"""
import argparse
import shutil
import atexit
import json
import tempfile
import time
from pathlib import Path

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.recipe import parse_overrides, smoke_recipe, with_fields
from autoglm_workbench.presets import PRESETS, budget_lines, preset, preset_recipe, run_budgeted


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--runs", default=None, help="folder of the presets' run folders (default: runs/bench-presets)")
    p.add_argument("--smoke", action="store_true", help="the finance-risk preset on tiny splits, temporary folders: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/presets.json)")
    a = p.parse_args()
    if a.smoke and a.presets == list(PRESETS): a.presets = ["finance-risk"]
    runs, out_path = Path(a.runs or (tempfile.mkdtemp(prefix="smoke-runs-") if a.smoke else "runs/bench-presets")), results_path(__file__, a.out, a.smoke)
    if a.smoke and not a.runs: atexit.register(shutil.rmtree, runs, True)   # a smoke run's folders are scratch
    out = dict(benchmark="presets", smoke=a.smoke, presets={})
    if out_path.exists():      # a rerun of some presets keeps the others' results
        out["presets"] = {k: v for k, v in json.loads(out_path.read_text())["presets"].items() if k in PRESETS}
    for name in a.presets:
        base = smoke_recipe(preset_recipe(name)) if a.smoke else preset_recipe(name)
        recipe = with_fields(base, parse_overrides(a.set))
        t0 = time.time()
        result = run_budgeted(recipe, search=preset(name).search or None, run_dir=runs / name, label=f"preset-{name}")
        result["seconds"] = time.time() - t0
        result["recipe"] = recipe.to_dict()
        for c in result["candidates"]: c["run_dir"] = Path(c["run_dir"]).name      # no machine path in the results
        result["chosen"]["run_dir"] = Path(result["chosen"]["run_dir"]).name
        out["presets"][name] = result
        print(f"{name}:\n" + "\n".join(budget_lines(result)), flush=True)
        write_results(out_path, out, __file__)


if __name__ == "__main__":
    main()
