"""Baselines against ours on one teacher, one split and one training budget; writes bench/results/compare.json.

    python bench/compare.py [--seeds 3] [--methods ours tinybert ...] [--eval FILE_OR_SET:label=teacher_label,...] [--smoke]

Every recipe of recipes/baselines/ is run by the pipeline (`autoglm run`, distill stage only, recorded in the run
store) with the settings of each data set below (same for every method), once per training seed. The split and
the teacher are fixed per data set (`data.split_seed`), so seeds vary only the student's training.
- main table: BBC News (5 topics) and TREC (50 fine labels): accuracy mean and 95% interval over the seeds, size,
  FLOPs, training time; latency at batch 1 and 32 of the seed-0 models, all timed in turns in this process;
- same-FLOPs table: the methods within 5% of ours in FLOPs;
- cross-dataset table: trained on Rotten Tomatoes (seed 0), evaluated in domain (its test split) and on CrowdFlower's
  tweets (positive/negative -> fresh/rotten) after removing texts the training corpus holds, with majority rates.
Run folders land in runs/compare/<dataset>/<method>/seed<k>: a rerun skips finished runs, so an interrupted
benchmark continues where it stopped. Results are rewritten after every run.
"""
import argparse
import shutil
import atexit
import tempfile
import time
from pathlib import Path

import pandas as pd

from autoglm_workbench.bench import interleaved_latency, results_path, write_results
from autoglm_workbench.compare import (baseline_recipes, cross_dataset_table, main_table, majority_rate, overlap,
                                       same_flops_table, stratified_sample)
from autoglm_workbench.recipe import Recipe, SMOKE_FIELDS, with_fields
from autoglm_workbench.data import load_eval_set, read_rotten_tomatoes
from autoglm_workbench.models import accuracy
from autoglm_workbench.pipeline import load_stage, recipe_data, recipe_teacher, run, StageState

# The budget every method gets on a data set (a 2-core CPU): examples per split, tokens, epochs are the recipes'.
DATASETS = {
    "bbc-news": {"data.max_length": 64, "data.limit": 600},
    "trec-fine": {"data.max_length": 32, "data.limit": 1200, "teacher.train": dict(epochs=4.0, lr=2e-4)},
}
CROSS = {"train": "rotten-tomatoes", "settings": {"data.max_length": 48, "data.limit": 1200},
         "eval": {"crowdflower-sentiment": {"positive": "fresh", "negative": "rotten"}}, "eval_examples": 2000}
COMMON = {"stages": ["distill"], "data.split_seed": 0, "distill.eval_steps": None,
          "bench": dict(batch_sizes=[1], warmup=1, rounds=1, repeats=1)}   # per-run timing is a glance; the table's is below
TIMING = dict(rounds=5, repeats=3, warmup=2)
# --smoke: two methods, one seed, tiny splits of TREC and Rotten Tomatoes, one timing round
SMOKE = dict(datasets={"trec": {"data.max_length": 16, "data.limit": 48}}, methods=["tinybert", "ours"],
             cross_settings={"data.max_length": 16, "data.limit": 48}, eval_examples=40, timing=dict(rounds=1, repeats=1, warmup=0))


def trained(recipe: Recipe, run_dir: Path, log) -> dict:
    "Run one method's pipeline run (a finished one is loaded: `run` resumes a folder only for the recipe that made it); its distill stage's metrics."
    report = run(recipe, run_dir=run_dir, label="bench-compare", log=log)
    row, teacher = report.table.loc["distill"], report.table.loc["teacher"]
    return dict(teacher={k: teacher[k] for k in ("accuracy", "parameters", "flops", "size_mb")},accuracy=row["accuracy"], agreement=row["agreement"], parameters=row["parameters"], flops=row["flops"],
                size_mb=row["size_mb"], train_seconds=row["seconds"], artifact=str(run_dir / "stages" / "1-distill"))


def load_model(stage_folder: str, tokenizer):
    return load_stage("distill", stage_folder, StageState(None, None, tokenizer)).model


def timings(dataset: str, recipe: Recipe, artifacts: dict, log) -> list[dict]:
    "Latency at batch 1 and 32 of the teacher and every method's seed-0 model, all timed in turns."
    data = recipe_data(recipe)
    teacher = recipe_teacher(recipe, data)
    models = {"teacher": teacher.model.eval()} | {m: load_model(a, teacher.tokenizer) for m, a in artifacts.items()}
    out = {m: dict(dataset=dataset, method=m) for m in models}
    for bs in (1, 32):
        log(f"{dataset}: timing {len(models)} models in turns at batch {bs}")
        lat = interleaved_latency(models, teacher.tokenizer, data.test.texts, batch_size=bs,
                                  max_length=recipe.data.max_length, **TIMING)
        for m in models:
            out[m] |= {f"latency_b{bs}_ms": lat.loc[m, "median_ms"], f"latency_b{bs}_p90_ms": lat.loc[m, "p90_ms"],
                       f"speedup_b{bs}": lat.loc[m, "speedup"]}
    return list(out.values())


def cross_dataset(recipe: Recipe, artifacts: dict, extra_evals: dict, log) -> dict:
    "In-domain and out-of-domain accuracy of the teacher and each method's model, with overlap and majority rates."
    data = recipe_data(recipe)
    teacher = recipe_teacher(recipe, data)
    tok, ml = teacher.tokenizer, recipe.data.max_length
    corpus, _ = read_rotten_tomatoes()        # every text of the training corpus, not only the split trained on
    sets, info = {}, {}
    for name, label_map in (CROSS["eval"] | extra_evals).items():
        full = load_eval_set(name)
        kept, counts = overlap(full, corpus)
        split = stratified_sample(kept, CROSS["eval_examples"], seed=0)
        mapped = [label_map.get(full.label_names[l], full.label_names[l]) for l in split.labels]
        info[name] = counts | dict(evaluated=len(split), label_map=label_map,
                                   majority_rate=majority_rate(split), majority_label=pd.Series(mapped).mode()[0])
        sets[name] = (split, label_map)
    info[recipe.data.name] = dict(evaluated=len(data.test), majority_rate=majority_rate(data.test), in_domain=True)
    models = {"teacher": teacher.model.eval()} | {m: load_model(a, tok) for m, a in artifacts.items()}
    records = []
    for m, model in models.items():
        records.append(dict(model=m, set=recipe.data.name, in_domain=True, accuracy=accuracy(model, tok, data.test, max_length=ml)))
        for name, (split, label_map) in sets.items():
            log(f"cross-dataset: {m} on {name}")
            records.append(dict(model=m, set=name, in_domain=False,
                                accuracy=accuracy(model, tok, split, label_map=label_map, max_length=ml)))
    return dict(train=recipe.data.name, sets=info, records=records,
                table=cross_dataset_table(records, {n: s["majority_rate"] for n, s in info.items()}).to_dict("records"))


def parse_eval(items) -> dict:
    "--eval NAME_OR_FILE:their_label=teacher_label,... -> {name: label map}"
    out = {}
    for item in items:
        name, _, mapping = item.partition(":")
        pairs = [pair for pair in mapping.split(",") if pair]
        bad = [pair for pair in pairs if "=" not in pair]
        if not name or bad:
            raise SystemExit(f"--eval {item!r}: expected SET_OR_FILE:their_label=teacher_label,... "
                             f"(e.g. tweets.csv:pos=fresh,neg=rotten); {bad[0]!r} has no '='" if bad else
                             f"--eval {item!r}: name a registered data set or a file before ':'")
        out[name] = dict(pair.split("=", 1) for pair in pairs)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=None, help="baseline recipe names (default: all)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--eval", action="append", default=[], metavar="SET:label=teacher_label,...",
                   help="another out-of-domain evaluation set for the cross-dataset table (a registered set or a file)")
    p.add_argument("--runs", default=None, help="folder of the run folders (default: runs/compare)")
    p.add_argument("--smoke", action="store_true", help="tiny splits, two methods, one seed, temporary folders: checks the script runs")
    p.add_argument("--out", default=None, help="results file (default: bench/results/compare.json)")
    a = p.parse_args()
    if a.smoke:
        DATASETS.clear(); DATASETS.update(SMOKE["datasets"])
        CROSS.update(settings=SMOKE["cross_settings"], eval_examples=SMOKE["eval_examples"]); TIMING.update(SMOKE["timing"])
        a.datasets, a.seeds, a.methods = list(DATASETS), 1, a.methods or SMOKE["methods"]
    runs_root = Path(a.runs or (tempfile.mkdtemp(prefix="smoke-runs-") if a.smoke else "runs/compare"))
    if a.smoke and not a.runs: atexit.register(shutil.rmtree, runs_root, True)   # a smoke run's folders are scratch
    recipes = baseline_recipes(names=a.methods)
    out_path, t_start = results_path(__file__, a.out, a.smoke), time.time()
    summary = {ds: dict(limit=x["data.limit"], max_length=x["data.max_length"]) for ds, x in
               (DATASETS | {CROSS["train"]: CROSS["settings"]}).items()}
    res = dict(benchmark="compare", budget=dict(datasets=DATASETS, cross=CROSS, common=COMMON, timing=TIMING, summary=summary,
                                                seeds=a.seeds, eval_examples=CROSS["eval_examples"]),
               methods={n: r.to_dict() for n, r in recipes.items()}, runs=[], timings=[], teachers={}, smoke=a.smoke)
    log = lambda msg: print(f"[{time.time() - t_start:7.0f} s] {msg}", flush=True)

    def save():
        res["seconds"] = time.time() - t_start
        if res["runs"]:
            table = main_table(res["runs"], res["timings"] or None)
            res["main"] = table.to_dict("records")
            complete = table.groupby("dataset")["method"].agg(lambda m: "ours" in set(m))
            if complete.any(): res["same_flops"] = same_flops_table(table[table["dataset"].map(complete)]).to_dict("records")
        write_results(out_path, res, __file__)

    def settings(dataset, extra, seed):
        return (SMOKE_FIELDS if a.smoke else {}) | {"data.name": dataset, "seed": seed} | COMMON | extra

    # seed 0 of every data set first: a benchmark stopped early still has every row once
    plan = [(ds, DATASETS[ds], seed) for seed in range(a.seeds) for ds in a.datasets]
    seed0 = {ds: {} for ds in a.datasets}
    for ds, extra, seed in plan:
        for name, recipe in recipes.items():
            r = with_fields(recipe, settings(ds, extra, seed))
            log(f"{ds} seed {seed}: {name}")
            m = trained(r, runs_root / ds / name / f"seed{seed}", log=lambda *_: None)
            res["teachers"][ds] = m.pop("teacher")
            res["runs"].append(dict(dataset=ds, method=name, seed=seed) | m)
            if seed == 0: seed0[ds][name] = m["artifact"]
            log(f"  accuracy {m['accuracy']:.4f} in {m['train_seconds']:.0f} s")
            save()
        if seed == 0:
            res["timings"] += timings(ds, with_fields(next(iter(recipes.values())), settings(ds, extra, 0)), seed0[ds], log)
            save()
    cross_artifacts = {}
    for name, recipe in recipes.items():
        r = with_fields(recipe, settings(CROSS["train"], CROSS["settings"], 0))
        log(f"{CROSS['train']}: {name}")
        cross_artifacts[name] = trained(r, runs_root / CROSS["train"] / name / "seed0", log=lambda *_: None)["artifact"]
    res["cross_dataset"] = cross_dataset(with_fields(next(iter(recipes.values())), settings(CROSS["train"], CROSS["settings"], 0)),
                                         cross_artifacts, parse_eval(a.eval), log)
    save()
    log(f"done: {out_path}")


if __name__ == "__main__":
    main()
