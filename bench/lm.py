"""The decoder recipe against the baselines of the literature, each a variant of the same recipe run by `pipeline.run`
at one training budget. Writes bench/results/lm.json.

    python bench/lm.py [--recipe recipes/smollm2-headlines.yaml] [--methods recipe shrink-fine-tune ...] [--epochs E]
                       [--layers N] [--quantize token-int8 [--smooth-alpha A]] [--run-root runs/bench-lm] [--reuse RUN_DIR ...] [--smoke]

The methods (the student has the recipe's depth in every one):
- recipe: the recipe's distill stage as written: the teacher's most influential layers, KD over every position of
  prompt and target plus hidden-state alignment (Minitron's depth pruning + logit distillation);
- shrink-fine-tune: DistilBART's shrink-and-fine-tune (Shleifer & Rush 2020): layers spread over the stack, CE on the
  references only;
- word-kd: word-level KD (Kim & Rush 2016): spread layers, CE + T²·KL on the target's positions only;
- sequence-kd: sequence-level KD (Kim & Rush 2016): spread layers, CE on the teacher's greedy outputs;
- depth-pruned: the teacher's least influential layers removed by the prune stage, then healed by CE on the
  references (Gromov et al. 2024).
Every method trains for the same epochs (`--epochs`, default the recipe's) on the same pairs, in its own run folder
under --run-root: a folder of the same recipe is resumed, so a finished method is read back, not trained again, and the
teacher's stage is copied from a sibling folder (or a --reuse folder) that finished it from the same settings. Each
student is scored by the pipeline's own harness on the whole test split (ROUGE-L retention with a paired bootstrap 95%
interval, BLEU-4, Sentence-BERT, perplexity of the references, greedy agreement with the teacher) and timed in turns
with the teacher in PyTorch; choices (checkpoint, layers kept) read training and validation pairs only. Every method
records its recipe hash and the commit that computed it; `goals` holds issue 24's goals as {target, measured, met}:
quality and speed from this run, INT8 and the llama.cpp goals from the results files that measured them (file and
commit named). --quantize adds an INT8 stage after each method's training (SmoothQuant first with --smooth-alpha):
the INT8 student is scored, timed and chosen in the float student's place, whose figures are kept beside it ("float"),
and both get the perplexity of the validation references (`val_perplexity`), which chooses an INT8 policy.
--smoke runs every method on a tiny random Llama with SmolLM2's tokenizer (what the tests run).
"""
import argparse
import atexit
import dataclasses
import json
import math
import shutil
import tempfile
from pathlib import Path

from lm_recipe import figure, goal, load_recipe, run_environment, smoke_recipe
from transformers import AutoConfig

from autoglm_workbench.bench import results_path, write_results
from autoglm_workbench.core import ConfigError
from autoglm_workbench.files import recipes_folder
from autoglm_workbench.lm import perplexity
from autoglm_workbench.lm_run import decoder_data
from autoglm_workbench.models import load_pretrained, resolve_model_path
from autoglm_workbench.pipeline import run
from autoglm_workbench.recipe import QUANT_SCHEMES, Recipe, with_fields
from autoglm_workbench.store import recipe_hash

COLUMNS = ("val_rouge_l", "rouge_l", "rouge_l_retention", "rouge_l_retention_low", "rouge_l_retention_high", "bleu4", "sbert",
           "perplexity", "agreement", "parameters", "size_mb", "latency_b1_ms", "speedup_b1", "latency_b8_ms", "speedup_b8",
           "first_token_b1_ms", "test_examples", "seconds")
METHODS = ("recipe", "shrink-fine-tune", "word-kd", "sequence-kd", "depth-pruned")
SPREAD = {"student.pick": "spread"}
NO_KD = {"distill.alpha": 0.0, "distill.hidden_weight": 0.0}
OTHER_GOALS = {"lm_int8.json": ("int8_perplexity", "onnx_int8_agreement"),
               "lm_gguf.json": ("llamacpp_speedup_at_least_2_5x", "llamacpp_rouge_l_retention_at_least_90pct")}


def method_recipe(recipe: Recipe, method: str, epochs: float, teacher_layers: int, quantize: str | None = None,
                  smooth_alpha: float | None = None) -> Recipe:
    "The recipe of one method: its distill (or prune) stage only, trained for `epochs`, then INT8 by `quantize` where given."
    tail, int8 = (["quantize"], {"quantize.scheme": quantize, "quantize.smooth_alpha": smooth_alpha}) if quantize else ([], {})
    if method == "depth-pruned":
        n = recipe.student.num_layers
        return with_fields(recipe, NO_KD | int8 | {"stages": ["prune", *tail], "prune.layers": (teacher_layers - n) / teacher_layers,
                                                   "prune.heads": 0.0, "prune.ffn": 0.0, "prune.recovery_epochs": epochs})
    fields = {"recipe": {}, "shrink-fine-tune": SPREAD | NO_KD,
              "word-kd": SPREAD | {"distill.kd_positions": "target", "distill.hidden_weight": 0.0},
              "sequence-kd": SPREAD | NO_KD | {"distill.targets": "teacher"}}[method]
    train = dataclasses.asdict(recipe.distill.train) | dict(epochs=epochs)
    return with_fields(recipe, fields | int8 | {"stages": ["distill", *tail], "distill.train": train})


def validation_perplexity(row: dict, recipe: Recipe, folder: Path) -> None:
    "The float and INT8 students' perplexity of the validation references, added to `row`: how an INT8 policy is chosen (as in bench/lm_int8.py)."
    pairs = decoder_data(recipe).validation
    for target, position in ((row["float"], 1), (row, len(recipe.stages))):
        model, tok = load_pretrained(folder / "stages" / f"{position}-{recipe.stages[position - 1]}" / "model", task="causal-lm")
        target["val_perplexity"] = perplexity(model.eval(), tok, pairs, max_length=recipe.data.max_length)


def other_goals(smoke: bool) -> dict:
    "Goals measured by the other decoder benchmarks, each with the results file and commit it comes from."
    if smoke: return {}
    out = {}
    for file, names in OTHER_GOALS.items():
        path = Path(__file__).parent / "results" / file
        if not path.exists(): continue
        given = json.loads(path.read_text())
        for name in names:
            if name in given.get("goals", {}):
                out[name] = given["goals"][name] | dict(source=dict(file=f"bench/results/{file}", commit=given.get("commit"),
                                                                    command=given.get("command")))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(recipes_folder() / "smollm2-headlines.yaml"), help="the decoder recipe")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="the methods run, in this order")
    p.add_argument("--layers", type=int, default=None, help="the students' depth (default: the recipe's student.num_layers)")
    p.add_argument("--epochs", type=float, default=None, help="training epochs of every method (default: the recipe's distill epochs)")
    p.add_argument("--run-root", default="runs/bench-lm", help="one run folder per method under it, resumed when it holds the same recipe")
    p.add_argument("--reuse", nargs="*", default=[], help="other run folders whose finished teacher stage (same settings) is copied")
    p.add_argument("--quantize", default=None, choices=QUANT_SCHEMES, help="an INT8 stage after each method's training, "
                   "scored and timed in its place (the float student's figures are kept beside it)")
    p.add_argument("--smooth-alpha", type=float, default=None, help="SmoothQuant before --quantize's INT8, at this strength")
    p.add_argument("--smoke", action="store_true", help="a tiny random decoder, a few pairs, temporary folders")
    p.add_argument("--out", default=None, help="results file (default: bench/results/lm.json)")
    a = p.parse_args()
    recipe, root = load_recipe(p, a.recipe), Path(a.run_root)
    if recipe.task != "causal-lm": p.error(f"--recipe {a.recipe}: task is {recipe.task!r}; this benchmark compares decoder methods (task: causal-lm)")
    epochs = recipe.distill.train.epochs if a.epochs is None else a.epochs
    if not (math.isfinite(epochs) and epochs > 0): p.error(f"--epochs {a.epochs}: must be a number above 0")
    if a.smooth_alpha is not None and not a.quantize:
        p.error(f"--smooth-alpha {a.smooth_alpha}: SmoothQuant prepares an INT8 stage; give --quantize token-int8 (or dynamic-int8)")
    if a.smoke:
        scratch = Path(tempfile.mkdtemp(prefix="smoke-lm-"))
        atexit.register(shutil.rmtree, scratch, True)
        recipe, root = smoke_recipe(recipe, scratch), scratch
    teacher_layers = AutoConfig.from_pretrained(resolve_model_path(recipe.teacher.model)).num_hidden_layers
    if a.layers is not None:
        if not 1 <= a.layers < teacher_layers: p.error(f"--layers {a.layers}: a student keeps 1 to {teacher_layers - 1} of the teacher's {teacher_layers} layers")
        recipe = with_fields(recipe, {"student.num_layers": a.layers})
    folders = {m: root / m for m in a.methods}
    rows, teacher = [], None
    for method in a.methods:
        try: r = method_recipe(recipe, method, epochs, teacher_layers, a.quantize, a.smooth_alpha)
        except ConfigError as e: p.error(f"--quantize {a.quantize} --smooth-alpha {a.smooth_alpha}: {e}")
        folder = folders[method]
        others = [f for f in folders.values() if f != folder] + [Path(f) for f in a.reuse]
        try: report = run(r, run_dir=folder, store=False, reuse=others)
        except ConfigError as e: p.error(f"--methods {method} (recipe {a.recipe}): {e}")
        stages = {stage: row.to_dict() for stage, row in report.table.iterrows()}
        student, trained = stages[r.stages[-1]], r.stages[0]
        env = run_environment(folder)
        teacher = teacher or {k: figure(stages["teacher"].get(k)) for k in COLUMNS}
        rows.append(dict(method=method, recipe_hash=recipe_hash(r), run_dir=None if a.smoke else str(folder),
                         computed_by=env.get("workbench_commit"), cpu_features=env.get("cpu_features"),
                         layers=AutoConfig.from_pretrained(folder / "stages" / f"1-{trained}" / "model").num_hidden_layers)
                    | {k: figure(student.get(k)) for k in COLUMNS}
                    | ({"float": {k: figure(stages[trained].get(k)) for k in COLUMNS}} if a.quantize else {}))
        if a.quantize: validation_perplexity(rows[-1], r, folder)
        print(f"{method}: " + ", ".join(f"{k} {rows[-1][k]:.3g}" for k in ("rouge_l", "rouge_l_retention", "speedup_b1", "speedup_b8")
                                          if rows[-1][k] is not None), flush=True)
    best = max(rows, key=lambda row: row["val_rouge_l"] if row["val_rouge_l"] is not None else -math.inf)   # chosen on validation
    goals = dict(rouge_l_retention_at_least_90pct=goal(0.90, best["rouge_l_retention"]) | dict(
                     method=best["method"], interval=[best["rouge_l_retention_low"], best["rouge_l_retention_high"]]),
                 speedup_b1_at_least_2_5x=goal(2.5, best["speedup_b1"]) | dict(method=best["method"]),
                 speedup_b8_at_least_2_5x=goal(2.5, best["speedup_b8"]) | dict(method=best["method"])) | other_goals(a.smoke)
    out = dict(benchmark="lm", smoke=a.smoke, recipe=recipe.to_dict(), budget=dict(epochs=epochs, train_pairs=len(decoder_data(recipe).train.prompts)),
               quantize=dict(scheme=a.quantize, smooth_alpha=a.smooth_alpha) if a.quantize else None,
               teacher_layers=teacher_layers, teacher=teacher, methods=rows, best_on_validation=best["method"], goals=goals,
               runtime="pytorch (student and teacher, KV cache, timed in turns)")
    write_results(results_path(__file__, a.out, a.smoke), out, __file__)


if __name__ == "__main__":
    main()
