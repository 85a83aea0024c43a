"""The whole pipeline on BBC News from the fine-tuned MiniLM-L6 teacher: distilled 3-layer student -> structured
pruning with recovery distillation -> INT8 -> ONNX Runtime. Writes bench/results/pipeline.json.

    python bench/pipeline.py [--variants h50+f30 f50 ...] [--set FIELD=VALUE ...] [--smoke]

One `pipeline.run` per pruning variant (`autoglm run` does the same); each stage is measured by the pipeline's own
harness: accuracy on the test split, top-1 agreement with the teacher, parameters, size of the weight files, FLOPs,
latency at batch 1 and 32 on real articles padded to 128 tokens, timed in turns against the teacher's FP32 with
SDPA attention (its fastest). Variants share the distill stage: its recipe section is identical, so the first
variant's finished stage folder is copied into the others before they run (a run loads finished stages).
Goal (issue 12): >= 8x lower latency than the teacher at batch 32 and >= 6x at batch 1, >= 97% of its accuracy,
size >= 4x smaller. The seed article claims 3.2x-4.1x per industry.
"""
import argparse
import atexit
import json
import shutil
import tempfile
from pathlib import Path

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.recipe import parse_overrides, Recipe, smoke_recipe, with_fields
from autoglm_workbench.pipeline import run

VARIANTS = {"h50+f30": dict(heads=0.5, ffn=0.3), "f50": dict(heads=0.0, ffn=0.5), "h25+f50": dict(heads=0.25, ffn=0.5),
            "l33+f30": dict(layers=0.34, heads=0.0, ffn=0.3)}


def goals(rows: list) -> dict:
    t, last = rows[0], rows[-1]
    return dict(speedup_b32_at_least_8=bool(last["speedup_b32"] >= 8), speedup_b1_at_least_6=bool(last["speedup_b1"] >= 6),
                accuracy_at_least_97pct_of_teacher=bool(last["accuracy"] >= 0.97 * t["accuracy"]),
                size_at_least_4x_smaller=bool(t["size_mb"] / last["size_mb"] >= 4))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", default=["h50+f30"], choices=list(VARIANTS))
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--runs", default=None, help="folder of the variants' run folders (default: runs/bench-pipeline)")
    p.add_argument("--smoke", action="store_true", help="a tiny recipe and temporary folders: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/pipeline.json)")
    a = p.parse_args()
    runs = Path(a.runs or (tempfile.mkdtemp(prefix="smoke-runs-") if a.smoke else "runs/bench-pipeline"))
    if a.smoke and not a.runs: atexit.register(shutil.rmtree, runs, True)   # a smoke run's folders are scratch
    base = with_fields(smoke_recipe() if a.smoke else Recipe(), parse_overrides(a.set))
    results, first = [], None
    for name in a.variants:
        recipe = with_fields(base, {f"prune.{k}": v for k, v in VARIANTS[name].items()})
        run_dir = runs / name
        if first is not None and not (run_dir / "stages" / "1-distill").exists():
            shutil.copytree(first / "stages" / "1-distill", run_dir / "stages" / "1-distill")
        report = run(recipe, run_dir=run_dir, label="bench-pipeline")
        first = first or run_dir
        rows = [dict(stage=s) | {k: v for k, v in r.items() if k not in ("artifact", "source")}
                for s, r in report.table.to_dict("index").items()]
        results.append(dict(variant=name, prune=recipe.prune.to_dict(), stages=rows, goals=goals(rows)))
        print(json.dumps(dict(variant=name, goals=results[-1]["goals"],
                              final={k: rows[-1][k] for k in ("accuracy", "speedup_b1", "speedup_b32", "size_mb")}), default=float))
    out = dict(benchmark="pipeline", smoke=a.smoke, recipe=base.to_dict(), variants=results)
    print("wrote", write_results(results_path(__file__, a.out, a.smoke), out, __file__))


if __name__ == "__main__":
    main()
