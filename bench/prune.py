"""Structured pruning of the teacher and the distilled student: heads and FFN neurons at several sparsities, with
and without recovery distillation, plus dynamic pruning during distillation. Writes bench/results/prune.json.

    python bench/prune.py [--models student teacher] [--settings h50+f30 ...] [--recovery-epochs 1]
                          [--recover-teacher h50+f30 ...] [--smoke]

Importance: mask gradients (Michel et al.) of the model's cross-entropy on 8 training batches of 16 articles.
Recovery: one distillation stage (the recipe's KD term) from the unpruned teacher. Accuracy on the whole test
split; FLOPs of one 128-token article; latency at batch 1 and 32 on real articles padded to 128 tokens, every
shape of a model timed in turns with the teacher (bench.interleaved_latency, fastest attention) so that drift in the
machine's speed cannot fake a speed-up; recovery changes weights, not shapes, so a setting is timed once. Speed-ups
are given against the unpruned model and against the teacher's FP32 (the baseline of every published speed-up).
Goal (issue 5): 50% heads + 30% FFN at >= 1.5x lower latency and <= 1.5 points accuracy drop after recovery.
"""
import argparse
import copy
import json
import time
from pathlib import Path


from autoglm_workbench.bench import count_flops, count_parameters, interleaved_latency, results_path, size_on_disk, write_results
from autoglm_workbench.recipe import Recipe, smoke_recipe
from autoglm_workbench.data import tokenize
from autoglm_workbench.models import accuracy
from autoglm_workbench.prune import shrink_to
from autoglm_workbench.importance import MaskGradient, prune_by_importance, PruningCallback, scoring_batches

from autoglm_workbench.pipeline import distill_student
from autoglm_workbench.demo import demo_models

SETTINGS = {"h25": dict(heads=0.25), "h50": dict(heads=0.5), "h75": dict(heads=0.75), "f30": dict(ffn=0.3),
            "f50": dict(ffn=0.5), "h50+f30": dict(heads=0.5, ffn=0.3)}


def measure(model, tok, data, max_length):
    "Accuracy, size and FLOPs of one model, with its per-layer shapes (latency is timed later, all models in turns)."
    model = model.eval()
    one = tokenize(tok, data.test.texts[:1], max_length, pad_to_max=True)
    return dict(accuracy=accuracy(model, tok, data.test, max_length=max_length), parameters=count_parameters(model),
                size_mb=size_on_disk(model) / 2**20, flops=count_flops(model, one),
                heads=sum(getattr(model.config, "autoglm_pruned", {}).get("attention_heads", [])) or None,
                shapes=getattr(model.config, "autoglm_pruned", None))


def shape_key(row) -> str:
    return row["setting"] + (" dynamic" if row["recovery"].startswith("dynamic") else "")


def time_in_turns(base, rows, tok, data, ml, teacher, rounds=6):
    "Latency at batch 1 and 32 of every distinct pruned shape of `base` and of the teacher, timed round-robin (recovery leaves shapes alone)."
    models = {} if teacher is base else {"teacher": teacher}    # the baseline of every published speed-up
    models["unpruned"] = base
    for r in rows:
        if r["shapes"] and shape_key(r) not in models:
            models[shape_key(r)] = shrink_to(copy.deepcopy(base), r["shapes"]).eval()
    lat = {1: interleaved_latency(models, tok, data.test.texts, batch_size=1, max_length=ml, rounds=rounds, repeats=10),
           32: interleaved_latency(models, tok, data.test.texts, batch_size=32, max_length=ml, rounds=rounds, repeats=2)}
    for r in rows:
        key = "unpruned" if r["setting"] == "unpruned" else shape_key(r)
        for b, t in lat.items():
            if key not in t.index:   # shapes not recorded: not timed
                r[f"latency_b{b}_ms"] = r[f"latency_b{b}_p90_ms"] = r[f"speedup_b{b}"] = r[f"vs_teacher_b{b}"] = None; continue
            r[f"latency_b{b}_ms"], r[f"latency_b{b}_p90_ms"] = t.loc[key, "median_ms"], t.loc[key, "p90_ms"]
            r[f"speedup_b{b}"] = t.loc["unpruned", "median_ms"] / t.loc[key, "median_ms"]
            r[f"vs_teacher_b{b}"] = t.speedup[key]     # against the first model timed: the teacher's FP32


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["student", "teacher"], choices=["student", "teacher"])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--recovery-epochs", type=float, default=1.0)
    p.add_argument("--recover-teacher", nargs="*", default=["h50+f30"], choices=list(SETTINGS),
                   help="settings whose pruned teacher gets recovery distillation (each ~4 min on 2 cores)")
    p.add_argument("--no-dynamic", action="store_true", help="skip dynamic pruning during distillation")
    p.add_argument("--latency-only", metavar="JSON", help="re-time the rows of an earlier results file, nothing else")
    p.add_argument("--rounds", type=int, default=6, help="timing rounds, every shape of a model in turns")
    p.add_argument("--smoke", action="store_true", help="a tiny recipe, one setting, one round, a temporary output: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/prune.json)")
    a = p.parse_args()
    if a.smoke: a.settings, a.recover_teacher, a.recovery_epochs, a.rounds = ["h50+f30"], [], 0.5, 1
    m = demo_models(smoke_recipe() if a.smoke else Recipe())
    recipe, data, teacher, student = m.recipe, m.data, m.teacher, m.distilled.model
    ml = recipe.data.max_length
    tok = teacher.tokenizer
    models = {"student": student, "teacher": teacher.model}

    batches = scoring_batches(data.train, tok, examples=min(128, len(data.train)), batch_size=16, max_length=ml)   # a prefix: every topic
    if a.latency_only:
        old_run = json.loads(Path(a.latency_only).read_text())
        rows = [r for r in old_run["rows"] if r["model"] in a.models]
        for name in a.models:
            importance = MaskGradient()(models[name], batches)
            for r in rows:   # runs written before shapes were recorded: rebuild the same (deterministic) selection
                if r["model"] == name and not r.get("shapes") and r["setting"] in SETTINGS and not r["recovery"].startswith("dynamic"):
                    m = copy.deepcopy(models[name]); prune_by_importance(m, importance, SETTINGS[r["setting"]])
                    r["shapes"] = m.config.autoglm_pruned
                r.setdefault("shapes", None)
        a.no_dynamic = True
    rows = rows if a.latency_only else []
    def emit(row):
        rows.append(row); print(json.dumps(row, default=float), flush=True)
    for name in a.models if not a.latency_only else []:
        base = models[name]
        ref = measure(base, tok, data, ml)
        emit(dict(model=name, setting="unpruned", recovery="none", **ref))
        t0 = time.time()
        importance = MaskGradient()(base, batches)
        importance_seconds = time.time() - t0
        for setting in a.settings:
            pruned = copy.deepcopy(base)
            prune_by_importance(pruned, importance, SETTINGS[setting])
            emit(dict(model=name, setting=setting, recovery="none", importance_seconds=importance_seconds,
                      **measure(pruned, tok, data, ml)))
            if name == "teacher" and setting not in a.recover_teacher: continue
            t0 = time.time()
            pruned = distill_student(teacher.model, pruned, tok, data, recipe, epochs=a.recovery_epochs, hidden=False)
            emit(dict(model=name, setting=setting, recovery=f"kd {a.recovery_epochs:g} epoch",
                      recovery_seconds=time.time() - t0, **measure(pruned, tok, data, ml)))
    if not a.no_dynamic and "student" in a.models:
        t0 = time.time()
        pruner = PruningCallback(SETTINGS["h50+f30"], start=0.0, end=0.6, every=5)
        dyn = distill_student(teacher.model, copy.deepcopy(student), tok, data, recipe, epochs=a.recovery_epochs,
                              hidden=False, callbacks=[pruner], evaluate=False)   # masks change: no best checkpoint
        emit(dict(model="student", setting="h50+f30", recovery=f"dynamic, kd {a.recovery_epochs:g} epoch",
                  recovery_seconds=time.time() - t0, schedule=pruner.history, **measure(dyn, tok, data, ml)))

    for name in a.models:
        time_in_turns(models[name], [r for r in rows if r["model"] == name], tok, data, ml, teacher.model, a.rounds)
    for r in rows:
        ref = next(x for x in rows if x["model"] == r["model"] and x["setting"] == "unpruned")
        r["accuracy_drop_points"] = 100 * (ref["accuracy"] - r["accuracy"])
        r["flops_ratio"] = ref["flops"] / r["flops"]
    goal = {}
    for r in rows:
        if r["setting"] == "h50+f30" and r["recovery"].startswith("kd") and r["speedup_b1"] is not None:
            goal[r["model"]] = dict(speedup_b1=r["speedup_b1"], speedup_b32=r["speedup_b32"],
                                    accuracy_drop_points=r["accuracy_drop_points"],
                                    met=bool(min(r["speedup_b1"], r["speedup_b32"]) >= 1.5 and r["accuracy_drop_points"] <= 1.5))
    out = dict(benchmark="prune", max_length=ml, test_examples=len(data.test), importance="mask-gradient, 8 x 16 train articles",
               goal_h50_f30=goal, rows=rows, smoke=a.smoke)
    if a.latency_only:   # accuracies, sizes and FLOPs come from the earlier run: say which
        out["rows_from"] = {k: old_run.get(k) for k in ("commit", "command", "dirty")}
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)
    print(json.dumps(goal, indent=2))


if __name__ == "__main__":
    main()
