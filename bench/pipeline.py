"""The whole pipeline on BBC News from the fine-tuned MiniLM-L6 teacher: distilled 3-layer student -> structured
pruning with recovery distillation -> INT8 -> the fastest validated CPU runtime. Writes bench/results/pipeline.json.

    python bench/pipeline.py [--variants h50+f30 f50 ...] [--trials 16] [--set FIELD=VALUE ...] [--smoke]

Hand-picked points: one `pipeline.run` per pruning variant (`autoglm run` does the same); each stage is measured by
the pipeline's own harness: accuracy on the validation and test splits, top-1 agreement with the teacher,
parameters, size of the weight files, FLOPs, latency at batch 1 and 32 on real articles padded to 128 tokens, timed
in turns against the teacher's FP32 with SDPA attention (its fastest). The export stage is `runtime: auto`: every
CPU candidate built, validated and timed on this machine, the fastest kept.

Searched front: an Optuna search (`autoglm search` does the same) over depth, heads and FFN share pruned and the
export precision (the runtime chosen by measurement within it), two objectives: validation accuracy and latency at
batch 32. Trials share the stages their settings share (`run(..., reuse=...)`). Test accuracy is reported for the
front's points only; nothing is chosen on it.
Goals (issue 26): the front holds a point >= 12x faster than the teacher at batch 32 with >= 97% of its test
accuracy, and one >= 15x at >= 95%. The seed article claims 3.2x-4.1x per industry.
"""
import argparse
import atexit
import json
import shutil
import tempfile
from pathlib import Path

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.files import cpu_features
from autoglm_workbench.openvino_export import has_bf16, openvino_missing
from autoglm_workbench.recipe import parse_overrides, Recipe, smoke_recipe, with_fields
from autoglm_workbench.pipeline import run
from autoglm_workbench.runs import load_search, run_search

VARIANTS = {"h50+f30": dict(heads=0.5, ffn=0.3), "f50": dict(heads=0.0, ffn=0.5), "h25+f50": dict(heads=0.25, ffn=0.5),
            "l33+f30": dict(layers=0.34, heads=0.0, ffn=0.3)}
FRONT_GOALS = ((12, 0.97), (15, 0.95))   # (speed-up over the teacher at batch 32, share of its test accuracy)


def goals(rows: list) -> dict:
    t, last = rows[0], rows[-1]
    return dict(speedup_b32_at_least_8=bool(last["speedup_b32"] >= 8), speedup_b1_at_least_6=bool(last["speedup_b1"] >= 6),
                accuracy_at_least_97pct_of_teacher=bool(last["accuracy"] >= 0.97 * t["accuracy"]),
                size_at_least_4x_smaller=bool(t["size_mb"] / last["size_mb"] >= 4))


def search_space(smoke: bool) -> dict:
    "Depth, heads and FFN share pruned, and the export precisions this machine can run (the runtime is measured within each)."
    precisions = ["int8", "int8-static"] + (["bf16"] if has_bf16(cpu_features()) and not openvino_missing() else ["fp32"])
    if smoke: return {"prune.ffn": {"choices": [0.0, 0.5]}, "export.precision": {"choices": ["int8"]}}
    return {"prune.layers": {"choices": [0.0, 0.34, 0.67]}, "prune.heads": {"choices": [0.0, 0.25, 0.5]},
            "prune.ffn": {"choices": [0.0, 0.3, 0.5, 0.7]}, "export.precision": {"choices": precisions}}


def front_goals(front: list, teacher_accuracy: float) -> dict:
    "Each goal: met or not, and the fastest front point that keeps the accuracy share (how far from the speed-up)."
    out = {}
    for speedup, share in FRONT_GOALS:
        keep = [p for p in front if p["accuracy"] >= share * teacher_accuracy]
        best = max((p["speedup_b32"] for p in keep), default=None)
        out[f"{speedup}x_at_{round(share * 100)}pct"] = dict(met=bool(best is not None and best >= speedup),
                                                              fastest_speedup_b32=best, goal_speedup_b32=speedup)
    return out


def searched_front(base: Recipe, trials: int, smoke: bool, reuse: list) -> dict:
    space = search_space(smoke)
    search = load_search(dict(study="bench-pipeline-front", recipe=base.to_dict(), space=space,
                              objectives=["val_accuracy", "latency_b32_ms"], trials=trials, pruner="none"))
    table = run_search(search, reuse=reuse)     # the variants' teacher and distill stages are copied, not run again
    rows = []
    for _, t in table[table.state == "COMPLETE"].iterrows():
        stages = json.loads((Path(t.run_dir) / "report.json").read_text())["stages"]
        teacher, export = stages[0], stages[-1]
        row = dict(trial=int(t.trial), front=bool(t.best), **{k: t[k] for k in space},
                   runtime=export["runtime"], precision=export["precision"],
                   **{k: export[k] for k in ("val_accuracy", "latency_b1_ms", "latency_b32_ms", "speedup_b1", "speedup_b32",
                                             "teacher_latency_b32_ms", "size_mb", "parameters")})
        if t.best: row |= dict(accuracy=export["accuracy"], teacher_accuracy=teacher["accuracy"])   # test: the front only
        rows.append(row)
    front = sorted((r for r in rows if r["front"]), key=lambda r: r["latency_b32_ms"])
    teacher_accuracy = front[0]["teacher_accuracy"] if front else None
    return dict(space=space, objectives=search.objectives, trials=rows, states=table.state.value_counts().to_dict(),
                front=front, goals=front_goals(front, teacher_accuracy) if front else {})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", default=["h50+f30", "f50", "l33+f30"], choices=list(VARIANTS))
    p.add_argument("--trials", type=int, default=16, help="trials of the searched front (0: none)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--runs", default=None, help="folder of the variants' run folders (default: runs/bench-pipeline)")
    p.add_argument("--smoke", action="store_true", help="a tiny recipe and temporary folders: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/pipeline.json)")
    a = p.parse_args()
    runs = Path(a.runs or (tempfile.mkdtemp(prefix="smoke-runs-") if a.smoke else "runs/bench-pipeline"))
    if a.smoke and not a.runs: atexit.register(shutil.rmtree, runs, True)   # a smoke run's folders are scratch
    if a.smoke: a.variants, a.trials = a.variants[:1], min(a.trials, 2)
    base = with_fields(smoke_recipe() if a.smoke else Recipe(), {"export.runtime": "auto", "output_dir": str(runs)} | parse_overrides(a.set))
    results, done = [], []
    for name in a.variants:
        recipe = with_fields(base, {f"prune.{k}": v for k, v in VARIANTS[name].items()})
        report = run(recipe, run_dir=runs / name, label="bench-pipeline", reuse=done)   # the distill stage is shared
        done.append(runs / name)
        rows = [dict(stage=s) | {k: v for k, v in r.items() if k not in ("artifact", "source")}
                for s, r in report.table.to_dict("index").items()]
        results.append(dict(variant=name, prune=recipe.prune.to_dict(), stages=rows, goals=goals(rows)))
        print(json.dumps(dict(variant=name, goals=results[-1]["goals"],
                              final={k: rows[-1][k] for k in ("accuracy", "speedup_b1", "speedup_b32", "size_mb")}), default=float))
    out = dict(benchmark="pipeline", smoke=a.smoke, recipe=base.to_dict(), variants=results)
    if a.trials:   # the search's trials skip the torch INT8 stage: the export starts from the float model either way
        out["search"] = searched_front(with_fields(base, {"stages": ["distill", "prune", "export"]}), a.trials, a.smoke, done)
        print(json.dumps(dict(front=out["search"]["front"], goals=out["search"]["goals"]), indent=1, default=float))
    print("wrote", write_results(results_path(__file__, a.out, a.smoke), out, __file__))


if __name__ == "__main__":
    main()
