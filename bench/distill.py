"""Teacher vs CE-only student vs distilled student on the bundled task; writes bench/results/distill.json.

    python bench/distill.py [--set FIELD=VALUE ...] [--smoke]

Goal (issue 3): the distilled 3-layer student keeps >= 98% of the teacher's accuracy at >= 1.9x lower latency.
Everything is measured in one run, on the same test split and inputs, latency timed in turns.
"""
import argparse
import json

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.demo import run_demo
from autoglm_workbench.recipe import parse_overrides, Recipe, smoke_recipe, with_fields


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--smoke", action="store_true", help="a tiny recipe and a temporary output: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/distill.json)")
    args = p.parse_args()
    recipe = with_fields(smoke_recipe() if args.smoke else Recipe(), parse_overrides(args.set))
    res = run_demo(recipe)
    table = res.table
    distilled = [i for i in table.index if "distilled" in i][0]
    row = table.loc[distilled]
    goals = dict(retention_at_least_0_98=bool(row["accuracy_retention"] >= 0.98),
                 latency_ratio_b32_at_least_1_9=bool(row["speedup_b32"] >= 1.9))
    out = dict(benchmark="distill", recipe=recipe.to_dict(), models=table.reset_index().to_dict("records"),
               distilled=dict(retention=row["accuracy_retention"], speedup_b1=row["speedup_b1"],
                              speedup_b32=row["speedup_b32"]),
               goals=goals, seconds=res.seconds,
               teacher={k: v for k, v in res.run.metrics()["teacher"].items() if k != "path"},   # no machine path
               validation={k: res.run.metrics()[f"{k}_student"]["val_accuracy"] for k in ("ce", "distilled")},
               test_examples=table.attrs["n_eval"], threads=table.attrs["threads"], run_folder=res.run.path.name,
               smoke=args.smoke)
    write_results(results_path(__file__, args.out, args.smoke), out, __file__)
    print(json.dumps(dict(distilled=out["distilled"], goals=goals), indent=2, default=float))


if __name__ == "__main__":
    main()
