"""Structured pruning of the teacher and the distilled student: heads and FFN neurons at several sparsities, with
and without recovery distillation, plus dynamic pruning during distillation. Writes bench/results/prune.json.

    python bench/prune.py [--models student teacher] [--settings h50+f30 ...] [--recovery-epochs 1]

Importance: mask gradients (Michel et al.) of the model's cross-entropy on 8 training batches of 16 articles.
Recovery: one distillation stage (the recipe's KD term) from the unpruned teacher. Accuracy on the whole test
split; FLOPs of one 128-token article; latency at batch 1 and 32 on real articles padded to 128 tokens.
Goal (issue 5): 50% heads + 30% FFN at >= 1.5x lower latency and <= 1.5 points accuracy drop after recovery.
"""
import argparse
import copy
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from autoglm_workbench.bench import count_flops, count_parameters, model_latency, size_on_disk
from autoglm_workbench.core import Recipe, cache_dir, environment_info, seed_everything
from autoglm_workbench.data import load_dataset, tokenize
from autoglm_workbench.distill import Distiller, Stage, Term
from autoglm_workbench.models import accuracy, cache_key, cached_classifier, make_student, teacher_classifier
from autoglm_workbench.prune import MaskGradient, PruningCallback, prune_by_importance

SETTINGS = {"h25": dict(heads=0.25), "h50": dict(heads=0.5), "h75": dict(heads=0.75), "f30": dict(ffn=0.3),
            "f50": dict(ffn=0.5), "h50+f30": dict(heads=0.5, ffn=0.3)}


def distill(teacher, student, tok, data, recipe, epochs, callbacks=(), hidden=False):
    kd = recipe.distill
    terms = [Term("kd", params=dict(alpha=kd.alpha, temperature=kd.temperature))]
    if hidden: terms.append(Term("hidden", weight=kd.hidden_weight, params=dict(kind=kd.hidden_kind)))
    stage = Stage("all", terms=terms, epochs=epochs,
                  lr=kd.train.lr, batch_size=kd.train.batch_size, warmup_ratio=kd.train.warmup_ratio)
    with tempfile.TemporaryDirectory() as d:
        return Distiller(teacher, student, tok, [stage], d, max_length=recipe.data.max_length, seed=recipe.seed,
                         save_steps=10_000, callbacks=list(callbacks)).train(data)


def measure(model, tok, data, max_length):
    model = model.eval()
    one = tokenize(tok, data.test.texts[:1], max_length, pad_to_max=True)
    row = dict(accuracy=accuracy(model, tok, data.test, max_length=max_length), parameters=count_parameters(model),
               size_mb=size_on_disk(model) / 2**20, flops=count_flops(model, one),
               heads=sum(getattr(model.config, "autoglm_pruned", {}).get("attention_heads", [])) or None)
    for b, kw in ((1, dict(repeats=30, min_seconds=3.0)), (32, dict(repeats=7))):
        row[f"latency_b{b}_ms"] = model_latency(model, tok, data.test.texts, batch_size=b, max_length=max_length, **kw)["median_ms"]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["student", "teacher"], choices=["student", "teacher"])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--recovery-epochs", type=float, default=1.0)
    p.add_argument("--no-dynamic", action="store_true", help="skip dynamic pruning during distillation")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "prune.json"))
    a = p.parse_args()
    recipe = Recipe()
    seed_everything(recipe.seed)
    ml = recipe.data.max_length
    data = load_dataset(recipe.data.name, seed=recipe.seed)
    teacher = teacher_classifier(data, recipe.teacher.model, max_length=ml, seed=recipe.seed,
                                 **dataclasses.asdict(recipe.teacher.train))
    tok = teacher.tokenizer
    shape = dict(num_layers=recipe.student.num_layers)

    def build_student():
        # the demo's distilled student: KD + hidden-state alignment
        s = distill(teacher.model, make_student(teacher.model, **shape), tok, data, recipe, recipe.distill.train.epochs,
                    hidden=recipe.distill.hidden_weight > 0)
        return s, tok, dict(val_accuracy=accuracy(s, tok, data.validation, max_length=ml))
    key = cache_key(teacher=teacher.path.name, shape=shape, distill=dataclasses.asdict(recipe.distill), seed=recipe.seed)
    student = cached_classifier(cache_dir() / "students" / f"{data.name}-kd-{key}", build_student).model
    models = {"student": student, "teacher": teacher.model}

    batches = []
    for i in range(8):
        b = tokenize(tok, data.train.texts[i * 16:(i + 1) * 16], ml)
        b["labels"] = torch.tensor(data.train.labels[i * 16:(i + 1) * 16])
        batches.append(b)
    rows = []
    def emit(row):
        rows.append(row); print(json.dumps(row, default=float), flush=True)
    for name in a.models:
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
            t0 = time.time()
            pruned = distill(teacher.model, pruned, tok, data, recipe, a.recovery_epochs)
            emit(dict(model=name, setting=setting, recovery=f"kd {a.recovery_epochs:g} epoch",
                      recovery_seconds=time.time() - t0, **measure(pruned, tok, data, ml)))
    if not a.no_dynamic and "student" in a.models:
        t0 = time.time()
        pruner = PruningCallback(SETTINGS["h50+f30"], start=0.0, end=0.6, every=5)
        dyn = distill(teacher.model, copy.deepcopy(student), tok, data, recipe, a.recovery_epochs, callbacks=[pruner])
        emit(dict(model="student", setting="h50+f30", recovery=f"dynamic, kd {a.recovery_epochs:g} epoch",
                  recovery_seconds=time.time() - t0, schedule=pruner.history, **measure(dyn, tok, data, ml)))

    for r in rows:
        ref = next(x for x in rows if x["model"] == r["model"] and x["setting"] == "unpruned")
        r["accuracy_drop_points"] = 100 * (ref["accuracy"] - r["accuracy"])
        for b in (1, 32): r[f"speedup_b{b}"] = ref[f"latency_b{b}_ms"] / r[f"latency_b{b}_ms"]
        r["flops_ratio"] = ref["flops"] / r["flops"]
    goal = {}
    for r in rows:
        if r["setting"] == "h50+f30" and r["recovery"].startswith("kd"):
            goal[r["model"]] = dict(speedup_b1=r["speedup_b1"], speedup_b32=r["speedup_b32"],
                                    accuracy_drop_points=r["accuracy_drop_points"],
                                    met=bool(min(r["speedup_b1"], r["speedup_b32"]) >= 1.5 and r["accuracy_drop_points"] <= 1.5))
    out = dict(benchmark="prune", max_length=ml, test_examples=len(data.test), importance="mask-gradient, 8 x 16 train articles",
               goal_h50_f30=goal, rows=rows, environment=environment_info())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2, default=float))
    print(json.dumps(goal, indent=2))


if __name__ == "__main__":
    main()
