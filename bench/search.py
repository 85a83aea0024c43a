"""A small search on TREC under a latency budget: Optuna over the KD weight and temperature and the student's depth and
width, against the hand-tuned default recipe. Writes bench/results/search.json.

    python bench/search.py [--trials 20] [--budget-ratio 0.75] [--smoke]

The default recipe (alpha 0.5, T 2, a 3-layer full-width student; distill then INT8) runs first; the budget is
`--budget-ratio` times its batch-1 latency, so the search must find a student at least that much faster. Each trial
is a `pipeline.run` of its recipe (`autoglm search` does the same), recorded in the run store. Pruning is off by
default (`--pruner median` to turn it on): under a budget the median pruner stops the small students the budget asks
for. Latency of each trial is timed in turns against the teacher in that trial's run.
"""
import argparse
import shutil
import atexit
import json
import tempfile
from pathlib import Path

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.recipe import Recipe, smoke_recipe
from autoglm_workbench.pipeline import run
from autoglm_workbench.runs import load_search, run_search

BASE = dict(data=dict(name="trec", max_length=32), stages=["distill", "quantize"],
            distill=dict(train=dict(epochs=1.0, batch_size=32, lr=2e-4), eval_steps=27),
            bench=dict(batch_sizes=[1, 32], rounds=4, repeats=5, warmup=2))
SPACE = {"distill.alpha": {"low": 0.0, "high": 1.0}, "distill.temperature": {"low": 1.0, "high": 8.0, "log": True},
         "student.num_layers": {"choices": [1, 2, 3, 4]}, "student.hidden_size": {"choices": [192, 384]}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--budget-ratio", type=float, default=0.75)
    p.add_argument("--pruner", choices=["none", "median"], default="none")
    p.add_argument("--runs", default=None, help="folder of the runs and the study (default: runs/bench-search)")
    p.add_argument("--smoke", action="store_true", help="tiny splits, two trials, temporary folders: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/search.json)")
    a = p.parse_args()
    runs = a.runs or (tempfile.mkdtemp(prefix="smoke-runs-") if a.smoke else "runs/bench-search")
    if a.smoke and not a.runs: atexit.register(shutil.rmtree, runs, True)   # a smoke run's folders are scratch
    base = Recipe.from_dict(BASE | dict(output_dir=runs))
    if a.smoke: base, a.trials = smoke_recipe(base), 2
    default = run(base, run_dir=Path(runs) / "default", label="bench-search-default").table
    budget = a.budget_ratio * default.iloc[-1]["latency_b1_ms"]
    search = load_search(dict(study=f"bench-search-{a.pruner}", recipe=base.to_dict(), space=SPACE, objective="val_accuracy",
                              budget={"latency_b1_ms": budget}, trials=a.trials, pruner=a.pruner))
    table = run_search(search)
    keep = ["val_accuracy", "accuracy", "agreement", "size_mb", "latency_b1_ms", "latency_b32_ms", "speedup_b1", "speedup_b32"]
    out = dict(benchmark="search", pruner=a.pruner, recipe=base.to_dict(), space=SPACE, budget=dict(latency_b1_ms=budget, ratio=a.budget_ratio),
               default={s: {k: r[k] for k in keep if k in r} for s, r in default.to_dict("index").items()},
               trials=json.loads(table.drop(columns=["run_dir"]).to_json(orient="records")),
               states=table.state.value_counts().to_dict(), smoke=a.smoke)
    best = table[table.get("best", False) == True]
    out["best"] = json.loads(best.drop(columns=["run_dir"]).to_json(orient="records"))[0] if len(best) else None
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)
    print(json.dumps(dict(budget_ms=budget, default=out["default"]["quantize"], best=out["best"], states=out["states"]), indent=1, default=float))


if __name__ == "__main__":
    main()
