"""Each industry preset's full run on its stand-in data; writes bench/results/presets.json.

    python bench/presets.py [--presets finance-risk customer-service edge-qc] [--set FIELD=VALUE ...]

The same as `autoglm run --preset NAME` for each preset: the pipeline (distil, then the preset's stages), the
measurements its budget reads (risk recall at the fixed false-positive rate, p99 latency at batch 1, throughput at
batch 32 per core, peak memory of a fresh serving process, size), and whether the budget was met, with the
measured speed-up against the teacher beside the seed article's claim. edge-qc tries every student shape of its
search and keeps the most accurate one within the budget.
"""
import argparse
import json
import time
from pathlib import Path

from autoglm_workbench.cli import apply_overrides
from autoglm_workbench.core import Recipe, atomic_write_text, environment_info
from autoglm_workbench.presets import PRESETS, budget_lines, preset, preset_recipe, run_budgeted


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--runs", default="runs/bench-presets")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "presets.json"))
    a = p.parse_args()
    out = dict(benchmark="presets", presets={}, environment=environment_info())
    if Path(a.out).exists():      # a rerun of some presets keeps the others' results
        out["presets"] = {k: v for k, v in json.loads(Path(a.out).read_text())["presets"].items() if k in PRESETS}
    for name in a.presets:
        recipe = Recipe.from_dict(apply_overrides(preset_recipe(name).to_dict(), a.set))
        t0 = time.time()
        result = run_budgeted(recipe, search=preset(name).search or None, run_dir=Path(a.runs) / name, label=f"preset-{name}")
        result["seconds"] = time.time() - t0
        result["recipe"] = recipe.to_dict()
        for c in result["candidates"]: c["run_dir"] = Path(c["run_dir"]).name      # no machine path in the results
        result["chosen"]["run_dir"] = Path(result["chosen"]["run_dir"]).name
        out["presets"][name] = result
        print(f"{name}:\n" + "\n".join(budget_lines(result)), flush=True)
        atomic_write_text(Path(a.out), json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
